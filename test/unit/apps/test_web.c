/*
 * test_web.c — the web appliance (src/apps/web.c) on the host harness
 * (test/unit/net/harness.h): a scripted peer talks HTTP to it on port 80
 * through the real stack, segment by segment.
 *
 * What it pins down: a connection the appliance closes (a request that
 * does not parse, "Connection: close") keeps its receive window open, so
 * the peer's FIN can come and the slot comes back after TIME_WAIT. With
 * a shut window a Linux peer holds its FIN back (a FIN needs a byte of
 * window) and probes instead, and the connection sat in FIN_WAIT_2 long
 * after the answer: the flake of test/vm/test_tcp.py's curl test.
 *
 * And web.idle_timeout_s: a client that goes quiet (a keep-alive client
 * that never asks again, one that never asks at all) is reset after it,
 * counted; one that keeps asking is not.
 */
#include <string.h>
#include "../net/check.h"
#include "apps/apps.h"

TestSuite(web, .init = h_setup, .fini = h_teardown);

#define WEB_PORT 80
static struct h_pkt K;

static void web_start_idle(uint32_t idle_s)
{
	struct apps_config cfg;
	char err[128];
	memset(&cfg, 0, sizeof cfg);
	cfg.web.port = WEB_PORT;
	cfg.web.idle_timeout_s = idle_s;
	cr_assert_eq(web_init(&cfg, err, sizeof err), 0, "web_init: %s", err);
}

static void web_start(void) { web_start_idle(0); }

/* the handshake with the web appliance (h_peer_connect wants the
 * harness's own app) */
static void web_connect(struct h_peer *p, uint16_t port)
{
	h_peer_init(p, port, WEB_PORT, 1, 7, 1);
	cr_assert_eq(h_peer_handshake(p), 0, "no SYN-ACK");
	cr_assert_eq(net_tcp_conns(0), 1);
}

/* Takes what the appliance sends until its FIN (the answer, then the
 * FIN, in order), every segment checked for an open window; the delayed
 * ACK gets its chance first. Returns the answer's bytes. */
static size_t take_answer_and_fin(struct h_peer *p, char *out, size_t max)
{
	size_t n = 0;
	int fin = 0;
	h_advance_ms(100);                      /* the delayed ACK, if one is owed */
	while (h_peer_recv(p, &K)) {
		cr_assert(K.win > 0, "a shut window (seq %u flags %#x): the peer's FIN could not come",
			  K.seq, K.flags);
		if (K.seq == p->ack && K.plen) {
			cr_assert(n + K.plen <= max);
			memcpy(out + n, K.payload, K.plen);
			n += K.plen;
		}
		h_peer_take(p, &K);
		fin |= (K.flags & TCP_FIN) != 0;
	}
	cr_assert(fin, "the appliance did not close");
	return n;
}

/* the peer closes too: our ACK of its FIN, TIME_WAIT, and the slot back */
static void peer_closes(struct h_peer *p)
{
	h_peer_send(p, TCP_FIN | TCP_ACK, NULL, 0);
	cr_assert(h_peer_recv(p, &K), "the peer's FIN was not acknowledged");
	cr_assert_eq(K.ack, p->seq, "the peer's FIN was not taken");
	h_advance_ms(2100);                     /* TIME_WAIT */
	cr_assert_eq(net_tcp_conns(0), 0, "the slot did not come back");
}

Test(web, bad_request_closes_with_the_window_open)
{
	struct h_peer p;
	char got[512];
	web_start();
	web_connect(&p, 40000);
	static const char req[] = "NONSENSE\r\n\r\n";
	h_peer_send(&p, TCP_ACK | TCP_PSH, req, sizeof req - 1);
	size_t n = take_answer_and_fin(&p, got, sizeof got);
	cr_assert(n > 26 && !memcmp(got, "HTTP/1.1 400 Bad Request\r\n", 26), "%.*s", (int)n, got);
	/* more bytes from the peer after our FIN are taken (and dropped) */
	h_peer_send(&p, TCP_ACK | TCP_PSH, "junk", 4);
	h_advance_ms(100);                      /* a delayed ACK */
	cr_assert(h_peer_recv(&p, &K) && K.ack == p.seq && K.win > 0, "late bytes not taken");
	peer_closes(&p);
}

Test(web, connection_close_keeps_the_window_open)
{
	struct h_peer p;
	char got[512];
	web_start();
	web_connect(&p, 40001);
	/* a close request with another one behind it: the second is dropped */
	static const char req[] = "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
				  "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
	h_peer_send(&p, TCP_ACK | TCP_PSH, req, sizeof req - 1);
	size_t n = take_answer_and_fin(&p, got, sizeof got);
	cr_assert(n > 17 && !memcmp(got, "HTTP/1.1 200 OK\r\n", 17), "%.*s", (int)n, got);
	cr_assert(memmem(got, n, "HTTP/1.1", 8) == got && !memmem(got + 8, n - 8, "HTTP/1.1", 8),
		  "answered after the close: %.*s", (int)n, got);
	peer_closes(&p);
}

/* ---------------------------------------------------------------- idle */
Test(web, a_quiet_client_is_reset_after_the_idle_timeout)
{
	struct h_peer p;
	web_start_idle(60);
	web_connect(&p, 40002);
	h_advance_ms(59000);
	cr_assert_not(h_peer_recv(&p, &K), "a segment before the timeout (flags %#x)", K.flags);
	h_advance_ms(1100);
	cr_assert(h_peer_recv(&p, &K), "no reset after the idle timeout");
	cr_assert_eq(K.flags & TCP_RST, TCP_RST);
	cr_assert_eq(net_tcp_conns(0), 0, "the slot did not come back");
	cr_assert_eq(H_STAT(tcp_idle_aborts), 1);
}

Test(web, a_client_that_keeps_asking_stays)
{
	struct h_peer p;
	static const char req[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
	web_start_idle(60);
	web_connect(&p, 40003);
	for (int i = 0; i < 4; i++) {           /* 4 x 40 s: past the timeout, never quiet that long */
		h_advance_ms(40000);
		h_tx_drop_all();                /* the delayed ACK of the last request */
		h_peer_send(&p, TCP_ACK | TCP_PSH, req, sizeof req - 1);
		cr_assert(h_peer_recv(&p, &K) && K.plen > 17 && !memcmp(K.payload, "HTTP/1.1 200 OK\r\n", 17),
			  "request %d not answered (flags %#x len %u)", i, K.flags, K.plen);
		h_peer_take(&p, &K);
		h_peer_send(&p, TCP_ACK, NULL, 0);
	}
	cr_assert_eq(net_tcp_conns(0), 1);
	cr_assert_eq(H_STAT(tcp_idle_aborts), 0);
	/* then quiet: 60 s after the last byte */
	h_advance_ms(100);
	h_tx_drop_all();
	h_advance_ms(61000);
	cr_assert(h_peer_recv(&p, &K) && (K.flags & TCP_RST), "no reset when it went quiet");
	cr_assert_eq(net_tcp_conns(0), 0);
	cr_assert_eq(H_STAT(tcp_idle_aborts), 1);
}
