/*
 * fuzz_api_slots.c — libFuzzer target: the API listeners' slot handling
 * (src/appliance/listener_slots.c, which stack_listener.c and
 * hosted_listener.c share) and the request deadlines of the connection
 * inside each slot (api_conn_overdue, src/api/http.c), driven by a
 * program of events over many connections, with a fake clock.
 *
 * The target plays the listener: it admits, touches on every byte,
 * sweeps after every move of the clock (listener_slots_expired, then the
 * connection's overdue) and releases on a close, a failed handshake, a
 * closing connection or a deadline, as both listeners do. Beside it runs
 * an independent model (per-source counts, when each connection was
 * admitted and last moved a byte, where its request started and whether
 * its headers are in), and after every event:
 *  - slots in use == live connections <= the cap, and per source ==
 *    the model's count <= the per-source limit;
 *  - an admission is refused exactly when the model says so, with the
 *    right reason (-EDQUOT before -ENOSPC);
 *  - no live slot is past a deadline (handshake, silence, headers 10 s,
 *    whole request 30 s), and none was reclaimed before its deadline;
 * and at the end, after 61 s of silence and a sweep, every slot is free.
 *
 * Input: one set-up byte (bit 0: the image's table, 64 slots, 56 per
 * source, 20 s handshakes; else the hosted one, 256, 64, 10 s), then
 * events of three bytes: op, a, b.
 *   0 connect from source a          4 handshake of connection a done
 *   1 connection a sends b%64+1 bytes 5 handshake of connection a fails
 *   2 advance a*250 ms + b ms, sweep  6 b%64+1 connects from source a
 *   3 connection a closes            7 every connection sends a byte
 * Sources: a < 192 picks one of 4 addresses (so the per-source limit is
 * reached), else one of 64 others. Bytes are the next ones of a stream
 * of PUT requests with a body, so headers and bodies both wait.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "appliance/listener_slots.h"
#include "../unit/api/fake.h"

#define NS 1000000ull
#define S_NS 1000000000ull
#define T0 (1000 * S_NS)

static const char req[] =
	"PUT /v1/config HTTP/1.1\r\nHost: x\r\nContent-Length: 16\r\n\r\n"
	"{\"name\": \"abc\"}\n";
#define REQ_LEN (sizeof req - 1)

struct fconn {
	int live;
	uint32_t peer;
	int handshaking;
	struct api_conn *http;
	uint64_t since, last;           /* the model's own record */
	size_t sent;                    /* bytes of the request stream sent */
	int in_req, headers_in;
	uint64_t req_start;
};

static struct api_server srv;
static struct listener_slots T;
static struct fconn F[LISTENER_SLOTS_MAX];
static uint64_t now;
static size_t hdr_end;                  /* offset of the last byte of the headers */

static void fail(const char *why) __attribute__((noreturn));
static void fail(const char *why)
{
	fprintf(stderr, "fuzz_api_slots: %s\n", why);
	abort();
}

/* 68 sources: 4 hot ones, 64 others; src_of maps an address back */
#define NSRC 68
static uint32_t live, from_src[NSRC];

static uint32_t source(uint8_t a)
{
	return a < 192 ? 0x0a000200u + (a & 3) : 0x0a000100u + (a & 63);
}

static uint32_t src_of(uint32_t peer)
{
	return peer >= 0x0a000200u ? peer - 0x0a000200u : 4 + (peer - 0x0a000100u);
}

static uint32_t nlive(void) { return live; }
static uint32_t model_from(uint32_t peer) { return from_src[src_of(peer)]; }

/* the a-th live connection (wrapping), or -1 when there is none */
static int pick(uint8_t a)
{
	uint32_t n = nlive();
	if (!n)
		return -1;
	uint32_t k = a % n;
	for (uint32_t i = 0; i < T.cap; i++)
		if (F[i].live && !k--)
			return (int)i;
	return -1;
}

static void release(uint32_t i)
{
	api_conn_free(F[i].http);
	F[i].http = NULL;
	F[i].live = 0;
	live--;
	from_src[src_of(F[i].peer)]--;
	listener_slots_release(&T, i);
}

/* the model: is connection i past a deadline at now? 0 no, 1 the slot's
 * (handshake, silence), 2 its request's */
static int model_due(const struct fconn *f)
{
	if ((f->handshaking && now - f->since > T.handshake_ns) || now - f->last > T.idle_ns)
		return 1;
	if (!f->handshaking && f->in_req &&
	    (now - f->req_start > API_REQUEST_TIMEOUT_NS ||
	     (!f->headers_in && now - f->req_start > API_HEADER_TIMEOUT_NS)))
		return 2;
	return 0;
}

static void connect_from(uint32_t peer)
{
	uint32_t from = model_from(peer);
	int i = listener_slots_admit(&T, peer, now);
	if (from >= T.per_source) {
		if (i != -EDQUOT)
			fail("a source over its share was not refused with -EDQUOT");
		return;
	}
	if (live >= T.cap) {
		if (i != -ENOSPC)
			fail("a full table did not refuse with -ENOSPC");
		return;
	}
	if (i < 0 || (uint32_t)i >= T.cap || F[i].live)
		fail("admission refused with room, or gave a slot in use");
	F[i] = (struct fconn){ .live = 1, .peer = peer, .handshaking = 1, .since = now, .last = now,
			       .http = api_conn_new(&srv) };
	if (!F[i].http)
		fail("out of memory");
	live++;
	from_src[src_of(peer)]++;
	if (listener_slots_from(&T, peer) != from_src[src_of(peer)])
		fail("listener_slots_from disagrees with the model");
}

/* What the listener does after a read or a sweep found nothing due: send
 * the answers, close a connection that is done. */
static void flush(uint32_t i)
{
	size_t len;
	api_conn_output(F[i].http, &len);
	if (len) {
		api_conn_output_done(F[i].http, len);
		F[i].last = now;
		listener_slots_touch(&T, i, now);
	}
	if (api_conn_closing(F[i].http))
		release(i);
}

static void send_bytes(uint32_t i, size_t n)
{
	struct fconn *f = &F[i];
	f->last = now;
	listener_slots_touch(&T, i, now);
	if (f->handshaking)
		return;                 /* handshake records: no request yet */
	char buf[64];
	for (size_t k = 0; k < n; k++) {
		size_t o = (f->sent + k) % REQ_LEN;
		buf[k] = req[o];
		if (o == 0) {
			f->in_req = 1;
			f->headers_in = 0;
			f->req_start = now;
		}
		if (o == hdr_end)
			f->headers_in = 1;
		if (o == REQ_LEN - 1)
			f->in_req = 0;
	}
	f->sent += n;
	size_t took = api_conn_feed(f->http, buf, n);
	if (took != n && !api_conn_closing(f->http))
		fail("a drained connection refused input");
	if (api_conn_closing(f->http)) {
		release(i);             /* the answer said close: the listener closes after it */
		return;
	}
	int over = api_conn_overdue(f->http, now);
	if (over != (model_due(f) == 2))
		fail(over ? "a request was cut off before its deadline" : "a late request was not seen after a read");
	if (over) {
		release(i);
		return;
	}
	flush(i);
}

static void sweep(void)
{
	for (uint32_t i = 0; i < T.cap; i++) {
		if (!F[i].live)
			continue;
		int due = model_due(&F[i]);
		if (listener_slots_expired(&T, i, now, F[i].handshaking)) {
			if (due != 1)
				fail("a slot expired before its handshake or silence deadline");
			release(i);
		} else if (!F[i].handshaking && api_conn_overdue(F[i].http, now)) {
			if (due != 2)
				fail("a request was reclaimed before its deadline");
			release(i);
		} else if (due) {
			fail("a slot past its deadline was not reclaimed");
		}
	}
}

static void check(void)
{
	uint32_t used = 0, from[NSRC] = { 0 };
	if (T.used != live || live > T.cap)
		fail("slots in use differ from the live connections, or exceed the cap");
	for (uint32_t i = 0; i < T.cap; i++) {
		if (T.slot[i].used != F[i].live)
			fail("a slot's state differs from its connection's");
		if (!F[i].live)
			continue;
		if (T.slot[i].peer != F[i].peer)
			fail("a slot holds another source than its connection's");
		used++;
		from[src_of(T.slot[i].peer)]++;
	}
	if (used != T.used)
		fail("the table's count of slots in use is wrong");
	for (uint32_t k = 0; k < NSRC; k++)
		if (from[k] != from_src[k] || from[k] > T.per_source)
			fail("per-source count wrong or over the limit");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!hdr_end) {
		fake_reset();
		api_server_init(&srv, FAKE_TOKEN, &fake_backend);
		hdr_end = (size_t)(strstr(req, "\r\n\r\n") - req) + 3;
	}
	if (size < 1)
		return 0;
	if (data[0] & 1)
		listener_slots_init(&T, 64, 56, 20 * S_NS, 60 * S_NS);
	else
		listener_slots_init(&T, 256, 64, 10 * S_NS, 60 * S_NS);
	memset(F, 0, sizeof F);
	memset(from_src, 0, sizeof from_src);
	live = 0;
	now = T0;
	for (size_t off = 1; off + 3 <= size; off += 3) {
		uint8_t op = data[off] & 7, a = data[off + 1], b = data[off + 2];
		int i;
		switch (op) {
		case 0:
			connect_from(source(a));
			break;
		case 1:
			if ((i = pick(a)) >= 0)
				send_bytes((uint32_t)i, (size_t)(b % 64) + 1);
			break;
		case 2:
			now += (uint64_t)a * 250 * NS + (uint64_t)b * NS;
			sweep();
			break;
		case 3:
			if ((i = pick(a)) >= 0)
				release((uint32_t)i);   /* the peer closed: a cut request gets no answer */
			break;
		case 4:
			if ((i = pick(a)) >= 0)
				F[i].handshaking = 0;
			break;
		case 5:
			if ((i = pick(a)) >= 0 && F[i].handshaking)
				release((uint32_t)i);   /* the alert went out: closed */
			break;
		case 6:
			for (int k = 0; k <= b % 64; k++)
				connect_from(source(a));
			break;
		case 7:
			for (uint32_t k = 0; k < T.cap; k++)
				if (F[k].live)
					send_bytes(k, 1);
			break;
		}
		check();
	}
	/* a minute of silence: every slot comes back by its deadlines */
	now += 61 * S_NS;
	sweep();
	check();
	if (T.used)
		fail("a slot still in use after a minute of silence");
	for (uint32_t i = 0; i < T.cap; i++)
		if (T.slot[i].used)
			fail("a slot left in use");
	return 0;
}
