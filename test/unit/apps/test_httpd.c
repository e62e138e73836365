/*
 * test_httpd.c — the httpd appliance (src/apps/httpd.c) on the host
 * harness (test/unit/net/harness.h: one core, a scripted peer through the
 * real stack) serving a site built in memory (test/unit/core/tar_build.h).
 *
 * What it pins down: each answer a static server gives (200, HEAD, 304,
 * 206, multipart, 416, 404, 301, 405, 400, 414, 431, 505) with its
 * headers; pipelining (several requests in one segment answered in
 * order) and a request split across segments; a large file streamed to a
 * reader that does not ACK (the stack holds at most its send buffer) and
 * then read whole, byte for byte; every connection slot and buffer back
 * afterwards; a site replaced while a response still sends from the old
 * one (freed only after its last byte); file bytes sent by reference
 * (tcp_ref_bytes, only heads copied), copied and counted when the memory
 * is not device-visible, and a replaced site freed only once the stack
 * lets go of it (the ACK of its bytes, or the reset).
 */
#include <stdio.h>
#include <string.h>
#include "../net/check.h"
#include "../core/tar_build.h"
#include "apps/apps.h"
#include "apps/httpd.h"

TestSuite(httpd, .init = h_setup, .fini = h_teardown);

#define PORT 80
#define BIG (300 * 1024)
static struct h_pkt K;
static struct tb site;
static char big[BIG];

static void site_build(struct tb *t, const char *index)
{
	memset(t, 0, sizeof *t);
	tb_file(t, "./index.html", index);
	tb_dir(t, "./docs/");
	tb_file(t, "./docs/index.html", "<p>docs</p>\n");
	tb_dir(t, "./empty/");
	tb_file(t, "./a.txt", "0123456789abcdefghij");
	for (size_t i = 0; i < BIG; i++)
		big[i] = (char)('a' + (i * 7 + i / 1000) % 26);
	tb_header(t, "./big.bin", '0', BIG, NULL, 1700000000);
	tb_data(t, big, BIG);
	tb_end(t);
}

static void start_full(uint32_t max_conns, uint32_t idle_s, uint32_t keepalive_requests)
{
	struct apps_config cfg;
	char err[256];
	memset(&cfg, 0, sizeof cfg);
	site_build(&site, "<h1>hello</h1>\n");
	cfg.httpd.port = PORT;
	cfg.httpd.max_conns = max_conns;
	cfg.httpd.idle_timeout_s = idle_s;
	cfg.httpd.keepalive_requests = keepalive_requests;
	cfg.httpd.archive = site.buf;
	cfg.httpd.archive_len = site.len;
	cr_assert_eq(httpd_init(&cfg, err, sizeof err), 0, "httpd_init: %s", err);
}

static void start_conns(uint32_t max_conns) { start_full(max_conns, 0, 1000); }
static void start(void) { start_conns(8); }

static void hconnect(struct h_peer *p, uint16_t port)
{
	h_peer_init(p, port, PORT, 1, 7, 1);
	cr_assert_eq(h_peer_handshake(p), 0, "no SYN-ACK");
}

static uint32_t edge;                   /* the right edge of the window we were offered */
static uint32_t acked;                  /* what the appliance acknowledged of ours */

/* reads (and acknowledges) what comes until nothing more for a while;
 * *fin set when the appliance's FIN came */
static size_t peer_read(struct h_peer *p, char *out, size_t max, int *fin)
{
	size_t n = 0;
	if (fin)
		*fin = 0;
	for (int idle = 0; idle < 20; idle++) {
		int got = 0;
		while (h_peer_recv(p, &K)) {
			if (K.flags & TCP_ACK) {
				edge = K.ack + ((uint32_t)K.win << (p->our_wscale > 0 ? p->our_wscale : 0));
				acked = K.ack;
			}
			if (K.seq == p->ack && K.plen) {
				cr_assert(n + K.plen <= max, "more than %zu bytes", max);
				memcpy(out + n, K.payload, K.plen);
				n += K.plen;
				got = 1;
			}
			if (K.seq == p->ack && (K.flags & TCP_FIN) && fin)
				*fin = 1;
			h_peer_take(p, &K);
			got |= (K.flags & TCP_FIN) != 0;
		}
		if (got) {
			idle = 0;
			h_peer_send(p, TCP_ACK, NULL, 0);
		}
		h_turn();
		h_advance_ms(10);
	}
	return n;
}

static char R[BIG + 8192];

/* one request, the answer read whole */
static size_t ask(struct h_peer *p, const char *req, int *fin)
{
	h_peer_send(p, TCP_ACK | TCP_PSH, req, strlen(req));
	size_t n = peer_read(p, R, sizeof R - 1, fin);
	R[n] = 0;
	return n;
}

static int status_of(const char *r) { return strncmp(r, "HTTP/1.", 7) ? -1 : atoi(r + 9); }

/* a header's value in the head at r (case as sent), or NULL */
static const char *header(const char *r, const char *name, char *val, size_t cap)
{
	const char *end = strstr(r, "\r\n\r\n");
	size_t nl = strlen(name);
	for (const char *l = strstr(r, "\r\n"); l && l < end; l = strstr(l + 2, "\r\n")) {
		if (!strncasecmp(l + 2, name, nl) && l[2 + nl] == ':') {
			const char *v = l + 2 + nl + 1;
			while (*v == ' ')
				v++;
			size_t n = (size_t)(strstr(v, "\r\n") - v);
			snprintf(val, cap, "%.*s", (int)(n < cap ? n : cap - 1), v);
			return val;
		}
	}
	return NULL;
}

static const char *body_of(const char *r) { return strstr(r, "\r\n\r\n") + 4; }

/* the peer closes; TIME_WAIT passes; every slot but `left` back */
static void finish_left(struct h_peer *p, uint32_t left)
{
	h_peer_send(p, TCP_FIN | TCP_ACK, NULL, 0);
	peer_read(p, R, sizeof R, NULL);
	h_advance_ms(3000);
	h_tx_drop_all();
	cr_assert_eq(net_tcp_conns(0), left, "%u connections left", net_tcp_conns(0));
	struct httpd_core_stats s;
	httpd_core_stats(0, &s);
	cr_assert_eq(s.conn_slots_free + left, s.conn_slots, "httpd slots: %u of %u free", s.conn_slots_free,
		     s.conn_slots);
	cr_assert_eq(s.sites_pinned, 0);
}

static void finish(struct h_peer *p) { finish_left(p, 0); }

Test(httpd, get_and_head)
{
	struct h_peer p;
	char v[128];
	start();
	hconnect(&p, 40000);
	size_t n = ask(&p, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", NULL);
	cr_assert_eq(status_of(R), 200, "%s", R);
	cr_assert_str_eq(header(R, "Content-Type", v, sizeof v), "text/html; charset=utf-8");
	cr_assert_str_eq(header(R, "Content-Length", v, sizeof v), "15");
	cr_assert_str_eq(header(R, "Server", v, sizeof v), "pollux");
	cr_assert_str_eq(header(R, "Last-Modified", v, sizeof v), "Tue, 14 Nov 2023 22:13:20 GMT");
	cr_assert_not_null(header(R, "ETag", v, sizeof v));
	cr_assert_not_null(header(R, "Date", v, sizeof v));
	cr_assert_str_eq(body_of(R), "<h1>hello</h1>\n");
	cr_assert_eq(n, (size_t)(body_of(R) - R) + 15);
	/* HEAD: the same head, no body */
	char head_get[1024];
	snprintf(head_get, sizeof head_get, "%.*s", (int)(body_of(R) - R), R);
	n = ask(&p, "HEAD /index.html HTTP/1.1\r\nHost: x\r\n\r\n", NULL);
	cr_assert_eq(status_of(R), 200);
	cr_assert_eq(n, (size_t)(body_of(R) - R), "HEAD has a body: %s", R);
	cr_assert_str_eq(header(R, "Content-Length", v, sizeof v), "15");
	/* a directory's index, and a plain-text file */
	ask(&p, "GET /docs/ HTTP/1.1\r\nHost: x\r\n\r\n", NULL);
	cr_assert_eq(status_of(R), 200);
	cr_assert_str_eq(body_of(R), "<p>docs</p>\n");
	ask(&p, "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n", NULL);
	cr_assert_str_eq(header(R, "Content-Type", v, sizeof v), "text/plain; charset=utf-8");
	cr_assert_str_eq(body_of(R), "0123456789abcdefghij");
	struct httpd_core_stats s;
	httpd_core_stats(0, &s);
	cr_assert_eq(s.requests, 4);
	cr_assert_eq(s.status[2], 4);
	char log[4096];
	httpd_access_log(0, log, sizeof log);
	cr_assert(strstr(log, "198.18.0.1 - - ["), "%s", log);
	cr_assert(strstr(log, "\"GET / HTTP/1.1\" 200 15 \"-\" \"-\"\n"), "%s", log);
	cr_assert(strstr(log, "\"HEAD /index.html HTTP/1.1\" 200 - \"-\" \"-\"\n"), "%s", log);
	finish(&p);
}

Test(httpd, conditional_304_and_412)
{
	struct h_peer p;
	char v[128], etag[64], req[512];
	start();
	hconnect(&p, 40001);
	ask(&p, "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n", NULL);
	cr_assert_not_null(header(R, "ETag", etag, sizeof etag));
	snprintf(req, sizeof req, "GET /a.txt HTTP/1.1\r\nHost: x\r\nIf-None-Match: %s\r\n\r\n", etag);
	size_t n = ask(&p, req, NULL);
	cr_assert_eq(status_of(R), 304, "%s", R);
	cr_assert_eq(n, (size_t)(body_of(R) - R), "a 304 with a body");
	cr_assert_str_eq(header(R, "ETag", v, sizeof v), etag);
	ask(&p, "GET /a.txt HTTP/1.1\r\nHost: x\r\nIf-Modified-Since: Tue, 14 Nov 2023 22:13:20 GMT\r\n\r\n",
	    NULL);
	cr_assert_eq(status_of(R), 304);
	ask(&p, "GET /a.txt HTTP/1.1\r\nHost: x\r\nIf-Match: \"nope\"\r\n\r\n", NULL);
	cr_assert_eq(status_of(R), 412);
	finish(&p);
}

Test(httpd, ranges_206_multipart_416)
{
	struct h_peer p;
	char v[128];
	start();
	hconnect(&p, 40002);
	ask(&p, "GET /a.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=2-5\r\n\r\n", NULL);
	cr_assert_eq(status_of(R), 206, "%s", R);
	cr_assert_str_eq(header(R, "Content-Range", v, sizeof v), "bytes 2-5/20");
	cr_assert_str_eq(header(R, "Content-Length", v, sizeof v), "4");
	cr_assert_str_eq(body_of(R), "2345");
	/* two ranges: multipart/byteranges, parts in order */
	ask(&p, "GET /a.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=0-1,-3\r\n\r\n", NULL);
	cr_assert_eq(status_of(R), 206);
	cr_assert_not_null(header(R, "Content-Type", v, sizeof v));
	cr_assert(!strncmp(v, "multipart/byteranges; boundary=", 31), "%s", v);
	char boundary[128];
	snprintf(boundary, sizeof boundary, "%s", v + 31);
	const char *b = body_of(R);
	size_t blen = strlen(b);
	cr_assert_str_eq(header(R, "Content-Length", v, sizeof v), (snprintf(v, sizeof v, "%zu", blen), v));
	char want[1024];
	snprintf(want, sizeof want,
		 "\r\n--%s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Range: bytes 0-1/20\r\n\r\n01"
		 "\r\n--%s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Range: bytes 17-19/20\r\n\r\nhij"
		 "\r\n--%s--\r\n", boundary, boundary, boundary);
	cr_assert_str_eq(b, want);
	/* unsatisfiable */
	ask(&p, "GET /a.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=50-60\r\n\r\n", NULL);
	cr_assert_eq(status_of(R), 416);
	cr_assert_str_eq(header(R, "Content-Range", v, sizeof v), "bytes */20");
	/* a range of the large file: only those bytes */
	ask(&p, "GET /big.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=100000-100099\r\n\r\n", NULL);
	cr_assert_eq(status_of(R), 206);
	cr_assert(!memcmp(body_of(R), big + 100000, 100));
	cr_assert_eq(strlen(body_of(R)), 100);
	finish(&p);
}

Test(httpd, not_found_redirect_and_methods)
{
	struct h_peer p;
	char v[256];
	start();
	hconnect(&p, 40003);
	ask(&p, "GET /nope.html HTTP/1.1\r\nHost: x\r\n\r\n", NULL);
	cr_assert_eq(status_of(R), 404, "%s", R);
	cr_assert(strlen(body_of(R)) > 0);
	ask(&p, "GET /empty/ HTTP/1.1\r\nHost: x\r\n\r\n", NULL);
	cr_assert_eq(status_of(R), 404);
	ask(&p, "GET /a.txt/ HTTP/1.1\r\nHost: x\r\n\r\n", NULL);
	cr_assert_eq(status_of(R), 404);
	ask(&p, "GET /docs?x=1 HTTP/1.1\r\nHost: x\r\n\r\n", NULL);
	cr_assert_eq(status_of(R), 301, "%s", R);
	cr_assert_str_eq(header(R, "Location", v, sizeof v), "/docs/?x=1");
	ask(&p, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nab", NULL);
	cr_assert_eq(status_of(R), 405);
	cr_assert_str_eq(header(R, "Allow", v, sizeof v), "GET, HEAD");
	/* and the connection still serves */
	ask(&p, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", NULL);
	cr_assert_eq(status_of(R), 200);
	struct httpd_core_stats s;
	httpd_core_stats(0, &s);
	cr_assert_eq(s.status[4], 4);
	cr_assert_eq(s.status[3], 1);
	finish(&p);
}

/* a refused request: the answer, then the appliance's FIN */
static void refused(uint16_t port, const char *req, int want)
{
	struct h_peer p;
	int fin;
	hconnect(&p, port);
	ask(&p, req, &fin);
	cr_assert_eq(status_of(R), want, "want %d: %.80s", want, R);
	char v[64];
	cr_assert_str_eq(header(R, "Connection", v, sizeof v), "close");
	cr_assert(fin, "no FIN after %d", want);
	finish(&p);
}

Test(httpd, bad_requests_close)
{
	static char req[16384];
	start();
	refused(40010, "NONSENSE\r\n\r\n", 400);
	refused(40011, "GET /../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n", 400);
	refused(40012, "GET /%2e%2e/x HTTP/1.1\r\nHost: x\r\n\r\n", 400);
	refused(40013, "GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505);
	/* a target over 2048 bytes: 414 */
	int n = snprintf(req, sizeof req, "GET /");
	memset(req + n, 'a', 3000);
	snprintf(req + n + 3000, sizeof req - (size_t)n - 3000, " HTTP/1.1\r\nHost: x\r\n\r\n");
	struct h_peer p;
	hconnect(&p, 40014);
	/* in segments of 1000 bytes */
	for (size_t o = 0; o < strlen(req); o += 1000) {
		size_t len = strlen(req) - o < 1000 ? strlen(req) - o : 1000;
		h_peer_send(&p, TCP_ACK | TCP_PSH, req + o, len);
	}
	int fin;
	size_t got = peer_read(&p, R, sizeof R - 1, &fin);
	R[got] = 0;
	cr_assert_eq(status_of(R), 414, "%.80s", R);
	cr_assert(fin);
	finish(&p);
	/* headers over 8 KiB: 431 */
	n = snprintf(req, sizeof req, "GET / HTTP/1.1\r\nHost: x\r\n");
	for (int i = 0; i < 10; i++) {
		n += snprintf(req + n, sizeof req - (size_t)n, "X-Pad-%d: ", i);
		memset(req + n, 'b', 1000);
		n += 1000;
		n += snprintf(req + n, sizeof req - (size_t)n, "\r\n");
	}
	snprintf(req + n, sizeof req - (size_t)n, "\r\n");
	hconnect(&p, 40015);
	for (size_t o = 0; o < strlen(req); o += 1400) {
		size_t len = strlen(req) - o < 1400 ? strlen(req) - o : 1400;
		h_peer_send(&p, TCP_ACK | TCP_PSH, req + o, len);
	}
	got = peer_read(&p, R, sizeof R - 1, &fin);
	R[got] = 0;
	cr_assert_eq(status_of(R), 431, "%.80s", R);
	cr_assert(fin);
	finish(&p);
}

Test(httpd, pipelined_and_split)
{
	struct h_peer p;
	start();
	hconnect(&p, 40020);
	/* three requests in one segment: three answers, in order */
	static const char three[] = "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n"
				    "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n"
				    "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n";
	ask(&p, three, NULL);
	const char *a = strstr(R, "HTTP/1.1 200"), *b = a ? strstr(a + 1, "HTTP/1.1 200") : NULL;
	const char *c = b ? strstr(b + 1, "HTTP/1.1 404") : NULL;
	cr_assert(a == R && b && c, "%s", R);
	cr_assert(strstr(R, "0123456789abcdefghijHTTP/1.1 200"), "%s", R);
	/* one request in four pieces */
	static const char req[] = "GET /docs/index.html HTTP/1.1\r\nHost: x\r\nUser-Agent: t\r\n\r\n";
	size_t cuts[] = { 0, 3, 17, 40, sizeof req - 1 };
	for (int i = 0; i < 4; i++) {
		h_peer_send(&p, TCP_ACK | TCP_PSH, req + cuts[i], cuts[i + 1] - cuts[i]);
		h_turn();
	}
	size_t n = peer_read(&p, R, sizeof R - 1, NULL);
	R[n] = 0;
	cr_assert_eq(status_of(R), 200, "%s", R);
	cr_assert_str_eq(body_of(R), "<p>docs</p>\n");
	/* a request then "Connection: close": answered, then FIN */
	int fin;
	ask(&p, "GET /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\nGET / HTTP/1.1\r\n\r\n", &fin);
	cr_assert_eq(status_of(R), 200);
	cr_assert(fin);
	cr_assert_null(strstr(R + 1, "HTTP/1.1"), "answered after the close");
	finish(&p);
	/* HTTP/1.0 is answered as 1.0 and closes */
	hconnect(&p, 40021);
	ask(&p, "GET /a.txt HTTP/1.0\r\n\r\n", &fin);
	cr_assert(!strncmp(R, "HTTP/1.0 200", 12), "%s", R);
	cr_assert(fin);
	finish(&p);
}

Test(httpd, large_file_to_a_slow_reader)
{
	struct h_peer p;
	start();
	hconnect(&p, 40030);
	static const char req[] = "GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n";
	h_peer_send(&p, TCP_ACK | TCP_PSH, req, sizeof req - 1);
	/* the peer reads nothing for a while: the stack holds at most its
	 * 64 KiB send buffer (the rest stays in the site) */
	size_t sent = 0;
	for (int i = 0; i < 20; i++) {
		while (h_next_ip(&K))
			;
		h_advance_ms(50);
	}
	struct httpd_core_stats s;
	httpd_core_stats(0, &s);
	sent = s.bytes_out;
	cr_assert(sent <= 65536, "%zu bytes taken with nothing acknowledged", sent);
	cr_assert(sent > 0);
	cr_assert_eq(s.sites_pinned, 1);
	h_tx_drop_all();
	/* then it reads (retransmissions bring what it dropped) */
	size_t n = 0;
	for (int round = 0; round < 400 && n < BIG + 200; round++) {
		n += peer_read(&p, R + n, sizeof R - n, NULL);
		if (n < BIG + 200)
			h_advance_ms(300);      /* a retransmission timeout at most */
	}
	R[n] = 0;
	cr_assert_eq(status_of(R), 200);
	const char *b = body_of(R);
	cr_assert_eq(n - (size_t)(b - R), BIG, "%zu body bytes", n - (size_t)(b - R));
	cr_assert(!memcmp(b, big, BIG), "the body differs");
	httpd_core_stats(0, &s);
	cr_assert_eq(s.body_bytes, BIG);
	finish(&p);
}

Test(httpd, slots_full_refused_then_back)
{
	struct h_peer p[3];
	start_conns(2);
	hconnect(&p[0], 40040);
	hconnect(&p[1], 40041);
	h_peer_init(&p[2], 40042, PORT, 1, 7, 1);
	h_peer_handshake(&p[2]);
	h_advance_ms(10);
	struct httpd_core_stats s;
	httpd_core_stats(0, &s);
	cr_assert_eq(s.refused, 1);
	cr_assert_eq(s.conn_slots_free, 0);
	h_tx_drop_all();
	for (int i = 0; i < 2; i++) {
		ask(&p[i], "GET / HTTP/1.1\r\nHost: x\r\n\r\n", NULL);
		cr_assert_eq(status_of(R), 200);
		finish_left(&p[i], 1 - (uint32_t)i);
	}
}

static int freed_calls;
static void note_free(const void *a, void *ctx) { freed_calls++; }

Test(httpd, site_replaced_while_sending)
{
	struct h_peer p;
	char err[256];
	start();
	/* site 2 replaces the boot site; a response from site 2 is in flight
	 * when site 3 comes: site 2 lives until its last byte is taken */
	static struct tb s2, s3;
	site_build(&s2, "<h1>two</h1>\n");
	cr_assert_eq(httpd_site_replace(s2.buf, s2.len, note_free, NULL, err, sizeof err), 0, "%s", err);
	hconnect(&p, 40050);
	static const char req[] = "GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n";
	h_peer_send(&p, TCP_ACK | TCP_PSH, req, sizeof req - 1);
	h_advance_ms(10);
	site_build(&s3, "<h1>three</h1>\n");
	cr_assert_eq(httpd_site_replace(s3.buf, s3.len, NULL, NULL, err, sizeof err), 0, "%s", err);
	cr_assert_eq(freed_calls, 0, "site 2 freed while a response sends from it");
	h_tx_drop_all();
	size_t n = 0;
	for (int round = 0; round < 400 && n < BIG + 200; round++) {
		n += peer_read(&p, R + n, sizeof R - n, NULL);
		if (n < BIG + 200)
			h_advance_ms(300);
	}
	cr_assert_eq(n - (size_t)(body_of(R) - R), BIG);
	cr_assert(!memcmp(body_of(R), big, BIG));
	cr_assert_eq(freed_calls, 1, "site 2 not freed after its last response");
	/* new requests see site 3 */
	ask(&p, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", NULL);
	cr_assert_str_eq(body_of(R), "<h1>three</h1>\n");
	/* a refused archive changes nothing */
	static const uint8_t junk[1536] = { 'x' };
	cr_assert_neq(httpd_site_replace(junk, sizeof junk, NULL, NULL, err, sizeof err), 0);
	ask(&p, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", NULL);
	cr_assert_str_eq(body_of(R), "<h1>three</h1>\n");
	finish(&p);
}

/* File bytes go by reference (tcp_send_ref): the stack counts the body
 * in tcp_ref_bytes and copies only the heads (multipart part heads
 * included), none falling back to a copy (the harness's memory is all
 * device-visible unless h_mem_not_dma) */
Test(httpd, bodies_by_reference)
{
	struct h_peer p;
	start();
	hconnect(&p, 40080);
	struct net_stats a = h_stats();
	size_t n = ask(&p, "GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n", NULL);
	struct net_stats b = h_stats();
	cr_assert_eq(status_of(R), 200);
	size_t head = (size_t)(body_of(R) - R);
	cr_assert_eq(n - head, BIG, "%zu body bytes", n - head);
	cr_assert(!memcmp(body_of(R), big, BIG), "the body differs");
	cr_assert_geq(b.tcp_ref_bytes - a.tcp_ref_bytes, BIG, "%llu bytes by reference",
		      (unsigned long long)(b.tcp_ref_bytes - a.tcp_ref_bytes));
	cr_assert_eq(b.tcp_copy_bytes - a.tcp_copy_bytes, head, "%llu bytes copied for a %zu-byte head",
		     (unsigned long long)(b.tcp_copy_bytes - a.tcp_copy_bytes), head);
	cr_assert_eq(b.tcp_ref_copy_fallback, a.tcp_ref_copy_fallback);
	/* multipart: part heads copied, the ranges referenced, in order */
	a = h_stats();
	n = ask(&p, "GET /big.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=0-9,100000-199999\r\n\r\n", NULL);
	b = h_stats();
	cr_assert_eq(status_of(R), 206);
	cr_assert_eq(b.tcp_ref_bytes - a.tcp_ref_bytes, 100010);
	cr_assert_eq(b.tcp_copy_bytes - a.tcp_copy_bytes, n - 100010);
	const char *r1 = strstr(body_of(R), "\r\n\r\n") + 4;
	cr_assert(!memcmp(r1, big, 10));
	const char *r2 = strstr(r1 + 10, "\r\n\r\n") + 4;
	cr_assert(!memcmp(r2, big + 100000, 100000), "the second range differs");
	finish(&p);
}

/* with memory the device cannot see (hosted: the boot archive is not in
 * the DMA memfd) the stack copies the body, counted, and it arrives whole */
Test(httpd, bodies_copied_when_not_device_visible)
{
	struct h_peer p;
	h_mem_not_dma = 1;
	start();
	hconnect(&p, 40081);
	struct net_stats a = h_stats();
	size_t n = ask(&p, "GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n", NULL);
	struct net_stats b = h_stats();
	cr_assert_eq(status_of(R), 200);
	cr_assert_eq(n - (size_t)(body_of(R) - R), BIG);
	cr_assert(!memcmp(body_of(R), big, BIG), "the body differs");
	cr_assert_eq(b.tcp_ref_bytes, a.tcp_ref_bytes);
	cr_assert_geq(b.tcp_ref_copy_fallback - a.tcp_ref_copy_fallback, BIG);
	cr_assert_geq(b.tcp_copy_bytes - a.tcp_copy_bytes, n);
	finish(&p);
	h_mem_not_dma = 0;
}

static int freed_n[8];
static void note_free_n(const void *a, void *ctx) { freed_n[(uintptr_t)ctx]++; }

/* reads what came without acknowledging it; the payload bytes */
static size_t peer_take_noack(struct h_peer *p)
{
	size_t n = 0;
	while (h_peer_recv(p, &K)) {
		if (K.seq == p->ack)
			n += K.plen;
		h_peer_take(p, &K);
	}
	return n;
}

/* A whole answer queued (the response done, its own reference gone) but
 * not acknowledged: the stack still points into the site, so a
 * replacement frees it only after the ACK, or after the reset */
Test(httpd, site_freed_after_ack_or_reset)
{
	struct h_peer p;
	char err[256];
	static struct tb s[4];
	start();
	site_build(&s[1], "<h1>one</h1>\n");
	cr_assert_eq(httpd_site_replace(s[1].buf, s[1].len, note_free_n, (void *)1, err, sizeof err), 0, "%s", err);
	hconnect(&p, 40082);
	static const char req[] = "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n";
	h_peer_send(&p, TCP_ACK | TCP_PSH, req, sizeof req - 1);
	cr_assert_gt(peer_take_noack(&p), 20);
	struct httpd_core_stats st;
	httpd_core_stats(0, &st);
	cr_assert_eq(st.requests, 1);
	cr_assert_eq(st.sites_pinned, 0, "the response is done");
	site_build(&s[2], "<h1>two</h1>\n");
	cr_assert_eq(httpd_site_replace(s[2].buf, s[2].len, note_free_n, (void *)2, err, sizeof err), 0, "%s", err);
	for (int i = 0; i < 5; i++) {           /* retransmissions come; nothing acknowledged */
		h_turn();
		h_advance_ms(100);
		peer_take_noack(&p);
	}
	cr_assert_eq(freed_n[1], 0, "site 1 freed while the stack points into it");
	h_peer_send(&p, TCP_ACK, NULL, 0);
	h_turn();
	cr_assert_eq(freed_n[1], 1, "site 1 not freed after the ACK");
	/* the same with a reset: site 2 served, not acknowledged, replaced */
	h_peer_send(&p, TCP_ACK | TCP_PSH, req, sizeof req - 1);
	cr_assert_gt(peer_take_noack(&p), 20);
	site_build(&s[3], "<h1>three</h1>\n");
	cr_assert_eq(httpd_site_replace(s[3].buf, s[3].len, NULL, NULL, err, sizeof err), 0, "%s", err);
	h_turn();
	h_advance_ms(100);
	cr_assert_eq(freed_n[2], 0, "site 2 freed while the stack points into it");
	h_peer_send(&p, TCP_RST | TCP_ACK, NULL, 0);
	h_turn();
	cr_assert_eq(freed_n[2], 1, "site 2 not freed after the reset");
	cr_assert_eq(net_tcp_conns(0), 0);
	h_tx_drop_all();
	httpd_core_stats(0, &st);
	cr_assert_eq(st.sites_pinned, 0);
	cr_assert_eq(st.conn_slots_free, st.conn_slots);
}

Test(httpd, idle_reset_and_keepalive_requests)
{
	struct h_peer p;
	int fin;
	start_full(8, 60, 3);
	hconnect(&p, 40060);
	/* the third request on a connection is answered with Connection: close */
	for (int i = 0; i < 3; i++) {
		ask(&p, "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n", &fin);
		cr_assert_eq(status_of(R), 200);
		char v[32];
		if (i < 2)
			cr_assert(!fin && !header(R, "Connection", v, sizeof v), "request %d: %s", i, R);
		else
			cr_assert(fin && !strcmp(header(R, "Connection", v, sizeof v), "close"), "%s", R);
	}
	finish(&p);
	/* a client that goes quiet is reset after idle_timeout_s, counted */
	hconnect(&p, 40061);
	ask(&p, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", NULL);
	h_advance_ms(59000);
	cr_assert_not(h_peer_recv(&p, &K), "a segment before the timeout (flags %#x)", K.flags);
	h_advance_ms(1500);
	cr_assert(h_peer_recv(&p, &K) && (K.flags & TCP_RST), "no reset after the idle timeout");
	cr_assert_eq(net_tcp_conns(0), 0);
	struct httpd_core_stats s;
	httpd_core_stats(0, &s);
	cr_assert_eq(s.idle_resets, 1);
	cr_assert_eq(s.conn_slots_free, s.conn_slots);
}

/* A deep pipeline sent as fast as the window allows, each answer larger
 * than the send buffer (so each is in progress while more requests
 * come): every request answered, in order, none reset (the window never
 * lets more in during an answer than the input buffer holds) */
Test(httpd, deep_pipeline_within_the_window)
{
	struct h_peer p;
	static char reqs[24 * 512], out[24 * 66000];
	char pad[301];
	size_t len = 0;
	memset(pad, 'p', 300);
	pad[300] = 0;
	start();
	hconnect(&p, 40070);
	for (int i = 0; i < 24; i++)
		len += (size_t)snprintf(reqs + len, sizeof reqs - len,
					"GET /big.bin?%02d HTTP/1.1\r\nHost: x\r\nX-Pad: %s\r\nRange: bytes=%d-%d\r\n\r\n",
					i, pad, i * 1000, i * 1000 + 65599);
	cr_assert(len > 8192);
	edge = p.seq + 1400;
	acked = p.seq;
	size_t off = 0, n = 0;
	for (int round = 0; round < 2000 && (off < len || n < 24 * 65600); round++) {
		size_t k = 0;
		for (;;) {                      /* as much as the window allows, at once */
			uint32_t room = (int32_t)(edge - p.seq) > 0 ? edge - p.seq : 0;
			size_t c = len - off < 1400 ? len - off : 1400;
			if (c > room)
				c = room;
			if (!c)
				break;
			h_peer_send(&p, TCP_ACK | TCP_PSH, reqs + off, c);
			off += c;
			k += c;
		}
		size_t got = peer_read(&p, out + n, sizeof out - n - 1, NULL);
		n += got;
		/* nothing may stall: the stack keeps what came while the
		 * window was shut (an answer in progress) and says when it
		 * reopens, so no peer timer is needed */
		cr_assert(k || got, "stalled after %zu of %zu request bytes, %zu answer bytes", off, len, n);
	}
	out[n] = 0;
	struct httpd_core_stats s;
	httpd_core_stats(0, &s);
	cr_assert_eq(off, len, "%zu of %zu bytes sent, %zu read, edge %u seq %u; %llu answers, %llu resets, %llu conns, %llu idle",
		     off, len, n, edge, p.seq, (unsigned long long)s.requests, (unsigned long long)s.input_resets,
		     (unsigned long long)s.curr_conns, (unsigned long long)s.idle_resets);
	cr_assert_eq(s.input_resets, 0);
	cr_assert_eq(s.requests, 24);
	cr_assert_eq(s.status[2], 24);
	/* in order: answer i carries bytes i * 1000 ... */
	const char *a = out;
	for (int i = 0; i < 24; i++) {
		a = strstr(a, "HTTP/1.1 206 Partial Content\r\n");
		cr_assert_not_null(a, "answer %d missing", i);
		const char *b = strstr(a, "\r\n\r\n") + 4;
		cr_assert(!memcmp(b, big + i * 1000, 65600), "answer %d: wrong bytes", i);
		a = b + 65600;
	}
	finish(&p);
}
