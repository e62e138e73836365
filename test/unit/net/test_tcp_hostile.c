/*
 * test_tcp_hostile.c — TCP against a peer that means harm (issue 10), on
 * the host harness, segment by segment: an MSS option below any sane
 * size, on passive and active opens, with and without timestamps. Every
 * test ends with every buffer home (check.h's teardown).
 */
#include <errno.h>
#include <string.h>
#include "check.h"

TestSuite(tcp_hostile, .init = h_setup, .fini = h_teardown);

static struct h_pkt K;
static uint8_t D[4000];

/* ---- an app of its own for active opens */
static struct {
	struct tcp_conn *c;
	int connected, gone, reason;
} A;

static void a_connected(struct tcp_conn *c, void *ctx) { A.connected++; }
static void a_gone(struct tcp_conn *c, void *ctx, int reason) { A.gone++; A.reason = reason; A.c = NULL; }
static const struct tcp_ops aops = { .connected = a_connected, .gone = a_gone };

/* tcp_connect to the peer's port 80, and the peer's SYN-ACK with MSS
 * `mss` (timestamps if ts); p is the peer, connected. */
static void active_open(struct h_peer *p, uint16_t mss, int ts)
{
	memset(&A, 0, sizeof A);
	h_tx_drop_all();
	int err = 0;
	A.c = tcp_connect(H_PEER_IP, 80, &aops, NULL, &err);
	cr_assert_not_null(A.c, "tcp_connect: %d", err);
	h_turn();
	cr_assert(h_next_ip(&K), "no SYN");
	cr_assert_eq(K.flags, TCP_SYN);
	h_peer_init(p, 80, K.sport, 1, 7, ts);
	p->offer_mss = mss;
	p->iss = K.seq;
	p->ack = K.seq + 1;
	p->tsecr = K.tsval;
	h_peer_send(p, TCP_SYN | TCP_ACK, NULL, 0);
	cr_assert(h_peer_recv(p, &K), "no ACK of the SYN-ACK");
	cr_assert_eq(K.flags, TCP_ACK);
	cr_assert_eq(A.connected, 1);
}

/* the peer's SYN to H_PORT with MSS `mss`; p connected, its app side
 * returned */
static struct h_app_conn *passive_open(struct h_peer *p, uint16_t mss, int ts)
{
	static uint16_t port = 40000;
	h_tx_drop_all();
	h_peer_init(p, port++, H_PORT, 1, 7, ts);
	p->offer_mss = mss;
	cr_assert_eq(h_peer_connect(p), 0, "handshake failed");
	return p->app;
}

/* The segments that carry n bytes from us, acknowledged one by one: each
 * has at most `want` payload bytes, all but the last exactly that many.
 * Returns their count. */
static int segments_of(struct h_peer *p, size_t n, uint32_t want)
{
	int segs = 0;
	size_t got = 0;
	for (int turns = 0; got < n && turns < 200; turns++) {
		int any = 0;
		while (h_peer_recv(p, &K)) {
			if (!K.plen)
				continue;
			cr_assert(K.l4_csum_ok, "bad TCP checksum");
			cr_assert(K.plen <= want, "a segment of %u bytes past the MSS's %u", K.plen, want);
			cr_assert_eq(K.seq, p->ack, "out of order");
			if (got + K.plen < n)
				cr_assert_eq(K.plen, want, "a short segment in the middle");
			got += K.plen;
			segs++;
			any = 1;
			h_peer_take(p, &K);
		}
		h_peer_send(p, TCP_ACK, NULL, 0);
		if (!any)
			h_advance_ms(250);
	}
	cr_assert_eq(got, n, "only %zu of %zu bytes came", got, n);
	return segs;
}

/* a peer's MSS of 1, 11, 12 or 88 (with timestamps or without) gives
 * segments of 88 bytes less our options: no wrap below 12, no 1-byte
 * segments; 88 itself is taken as it is (not counted) */
static void mss_case(int active, uint16_t mss, int ts)
{
	struct h_peer p;
	struct tcp_conn *c;
	struct h_app_conn *a = NULL;
	uint64_t clamped0 = H_STAT(tcp_mss_clamped);
	if (active) {
		active_open(&p, mss, ts);
		c = A.c;
	} else {
		a = passive_open(&p, mss, ts);
		c = a->c;
	}
	cr_assert_eq(H_STAT(tcp_mss_clamped) - clamped0, mss < 88 ? 1u : 0u, "clamps counted");
	for (size_t i = 0; i < sizeof D; i++)
		D[i] = (uint8_t)(i * 7);
	cr_assert_eq(tcp_send(c, D, 2000), 2000);
	h_turn();
	uint32_t want = 88 - (ts ? 12 : 0);
	int segs = segments_of(&p, 2000, want);
	cr_assert_eq(segs, (int)((2000 + want - 1) / want), "MSS %u ts %d: %d segments", mss, ts, segs);
	if (active)
		tcp_abort(A.c);
	else
		h_app_abort(a);
	h_turn();
}

Test(tcp_hostile, tiny_mss_is_clamped_passive)
{
	static const uint16_t m[] = { 1, 11, 12, 88 };
	for (int ts = 0; ts < 2; ts++)
		for (unsigned i = 0; i < sizeof m / sizeof m[0]; i++)
			mss_case(0, m[i], ts);
	cr_assert_eq(H_STAT(tcp_mss_clamped), 6);
}

Test(tcp_hostile, tiny_mss_is_clamped_active)
{
	static const uint16_t m[] = { 1, 11, 12, 88 };
	for (int ts = 0; ts < 2; ts++)
		for (unsigned i = 0; i < sizeof m / sizeof m[0]; i++)
			mss_case(1, m[i], ts);
	cr_assert_eq(H_STAT(tcp_mss_clamped), 6);
}

/* ---- every slot taken: TIME_WAIT recycling without a scan */

/* our app closes first and the peer's FIN follows: TIME_WAIT */
static void into_timewait(struct h_peer *p)
{
	h_app_close(p->app);
	cr_assert(h_peer_recv(p, &K), "no FIN");
	cr_assert(K.flags & TCP_FIN);
	h_peer_take(p, &K);
	h_peer_send(p, TCP_ACK | TCP_FIN, NULL, 0);
	cr_assert(h_peer_recv(p, &K), "no ACK of the FIN");
	cr_assert_eq(K.flags, TCP_ACK);
}

Test(tcp_hostile, full_table_recycles_the_oldest_timewait)
{
	struct h_peer p[8], q;
	for (int i = 0; i < 8; i++) {
		h_peer_init(&p[i], (uint16_t)(41000 + i), H_PORT, 1, 7, 1);
		cr_assert_eq(h_peer_connect(&p[i]), 0);
	}
	cr_assert_eq(net_tcp_conns(0), 8);
	into_timewait(&p[5]);
	h_advance_ms(10);
	into_timewait(&p[2]);
	h_advance_ms(10);
	into_timewait(&p[6]);
	/* the first in TIME_WAIT (p[5]) gives its slot to a new SYN */
	h_peer_init(&q, 42000, H_PORT, 1, 7, 1);
	cr_assert_eq(h_peer_connect(&q), 0, "no slot recycled");
	cr_assert_eq(H_STAT(tcp_timewait_recycled), 1);
	cr_assert_eq(net_tcp_conns(0), 8);
	h_peer_send_at(&p[5], p[5].seq - 1, TCP_ACK | TCP_FIN, NULL, 0);
	cr_assert(h_peer_recv(&p[5], &K));
	cr_assert(K.flags & TCP_RST, "p[5] still has its slot");
	h_peer_send_at(&p[2], p[2].seq - 1, TCP_ACK | TCP_FIN, NULL, 0);
	cr_assert(h_peer_recv(&p[2], &K));
	cr_assert_eq(K.flags, TCP_ACK, "p[2] was recycled before p[5]");
	/* TIME_WAIT ends for the other two: no recycling then, and the list
	 * holds none of them (the next SYN finds a free slot) */
	h_advance_ms(2100);
	cr_assert_eq(net_tcp_conns(0), 6);
	struct h_peer r;
	h_peer_init(&r, 42001, H_PORT, 1, 7, 1);
	cr_assert_eq(h_peer_connect(&r), 0);
	cr_assert_eq(H_STAT(tcp_timewait_recycled), 1);
	h_app_abort_all();
	h_turn();
}

/* A SYN with every slot taken (none in TIME_WAIT) costs no scan of the
 * slots: with 2^17 of them, 2000 SYNs (answered with cookies) take
 * milliseconds (a scan per SYN: 1.4 s); CPU time, so a busy machine
 * doesn't fail it. */
#include <time.h>
static double cpu_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const struct tcp_ops nops = { 0 };

Test(tcp_hostile, full_table_syn_is_o1)
{
	enum { MAX = 1 << 17, SYNS = 2000 };
	h_fini();
	cr_assert_eq(h_init("{\"interfaces\": [{\"address\": \"198.18.0.2/24\", \"gateway\": \"198.18.0.1\"}],"
			    " \"tcp\": {\"max_conns_per_core\": 131072, \"send_buffer\": 4096, \"send_buffers\": 1}}"), 0);
	/* every slot an active open in SYN_SENT, to the peer's ports 1.. */
	uint16_t dport = 1;
	for (uint32_t n = 0; n < MAX; n++) {
		int err = 0;
		struct tcp_conn *c = tcp_connect(H_PEER_IP, dport, &nops, NULL, &err);
		if (!c && err == -EADDRNOTAVAIL) {
			dport++;
			c = tcp_connect(H_PEER_IP, dport, &nops, NULL, &err);
		}
		cr_assert_not_null(c, "tcp_connect %u: %d", n, err);
		if (n % 64 == 63) {
			h_turn();
			h_tx_drop_all();
		}
	}
	h_turn();
	h_tx_drop_all();
	cr_assert_eq(net_tcp_conns(0), MAX);
	double t0 = cpu_s();
	for (int i = 0; i < SYNS; i++) {
		struct h_peer p;
		h_peer_init(&p, (uint16_t)(20000 + i), H_PORT, 1, 7, 1);
		h_peer_syn(&p);
		if (i % 64 == 63)
			h_tx_drop_all();
	}
	double dt = cpu_s() - t0;
	h_tx_drop_all();
	cr_assert_eq(H_STAT(tcp_syncookies), SYNS, "every SYN answered with a cookie");
	cr_assert_eq(net_tcp_conns(0), MAX);
	cr_assert(dt < 0.25, "%d SYNs on a full table took %.2f s of CPU", SYNS, dt);
	cr_log_info("%d SYNs on a full table of %d: %.3f s", SYNS, MAX, dt);
}

/* ---- out-of-order segments: bounded in buffers, per core and per
 * connection, and reclaimed */

/* the harness's pool is 256 buffers: the core's budget is 1/8 of it,
 * a connection's half of that */
#define OOO_CORE_BUFS (H_POOL / 8)
#define OOO_CONN_BUFS (OOO_CORE_BUFS / 2)

Test(tcp_hostile, ooo_flood_is_bounded_and_reclaimed)
{
	static const uint8_t x[1] = { 'x' };
	struct h_peer p[8];
	for (int i = 0; i < 8; i++) {
		h_peer_init(&p[i], (uint16_t)(43000 + i), H_PORT, 1, 7, 1);
		cr_assert_eq(h_peer_connect(&p[i]), 0);
	}
	uint32_t avail0 = h_pool_avail();
	/* each connection: 64 one-byte segments behind a one-byte hole */
	for (int i = 0; i < 8; i++) {
		for (uint32_t k = 0; k < 64; k++) {
			h_peer_send_at(&p[i], p[i].seq + 1 + 2 * k, TCP_ACK, x, 1);
			h_tx_drop_all();
			cr_assert(h_pool_avail() + OOO_CORE_BUFS >= avail0,
				  "out-of-order segments hold %u buffers", avail0 - h_pool_avail());
		}
	}
	cr_assert_eq(H_STAT(tcp_ooo), OOO_CORE_BUFS, "the core's budget");
	cr_assert_eq(H_STAT(drop_tcp_ooo_full) + H_STAT(drop_tcp_ooo_budget), 8 * 64 - OOO_CORE_BUFS);
	cr_assert_eq(H_STAT(drop_tcp_ooo_full), 2 * (64 - OOO_CONN_BUFS), "the connection's budget");
	/* the first connection fills its hole: two bytes in order, its queue
	 * moves on */
	h_peer_send_at(&p[0], p[0].seq, TCP_ACK, x, 1);
	cr_assert_eq(h_app[0].c ? h_app[0].rxlen : 0, 2);
	h_tx_drop_all();
	cr_assert_eq(h_pool_avail() + OOO_CORE_BUFS - 1, avail0);
	/* 10 s without progress: the other queues go; the first, which
	 * moved, after 10 s more */
	h_advance_ms(10001);
	cr_assert_eq(H_STAT(tcp_ooo_timeout), 1);
	h_advance_ms(10001);
	cr_assert_eq(H_STAT(tcp_ooo_timeout), 2);
	h_tx_drop_all();
	cr_assert(h_pool_full(), "out-of-order buffers not reclaimed: %u of %u home", h_pool_avail(), H_POOL);
	cr_assert_eq(net_tcp_conns(0), 8, "the connections themselves live on");
	h_app_abort_all();
	h_turn();
}

/* with the pool short (here: RSTs the device has not sent yet), a
 * connection's whole queue goes with the segment that would grow it */
Test(tcp_hostile, ooo_queue_dropped_under_pressure)
{
	static const uint8_t x[1] = { 'x' };
	struct h_peer p;
	h_peer_init(&p, 43100, H_PORT, 1, 7, 1);
	cr_assert_eq(h_peer_connect(&p), 0);
	for (uint32_t k = 0; k < 4; k++)
		h_peer_send_at(&p, p.seq + 1 + 2 * k, TCP_ACK, x, 1);
	h_tx_drop_all();
	cr_assert_eq(H_STAT(tcp_ooo), 4);
	/* SYNs to a closed port: each RST waits captured, holding a buffer */
	for (int i = 0; i < 1000 && h_pool_avail() >= H_POOL / 32; i++) {
		struct h_tcp s = { .sport = (uint16_t)(30000 + i), .dport = 9, .seq = 1, .flags = TCP_SYN, .win = 1000 };
		h_rx_tcp(&s);
	}
	cr_assert(h_pool_avail() < H_POOL / 32, "the pool would not run short");
	h_peer_send_at(&p, p.seq + 11, TCP_ACK, x, 1);
	cr_assert_eq(H_STAT(tcp_ooo_pruned), 1);
	cr_assert_eq(H_STAT(tcp_ooo), 4);
	h_tx_drop_all();
	cr_assert(h_pool_full(), "the pruned queue's buffers are not home");
	h_peer_send_at(&p, p.seq, TCP_ACK, x, 1);       /* the hole: only it is delivered */
	cr_assert_eq(p.app->rxlen, 1);
	h_app_abort_all();
	h_turn();
}

/* ---- a peer that keeps its window shut */
/* one send buffer; keepalive off: the other connection stays silent for
 * the 20 minutes of a zero-window test and must outlive it */
#define ONE_BUFFER \
	"{\"interfaces\": [{\"address\": \"198.18.0.2/24\", \"gateway\": \"198.18.0.1\"}]," \
	" \"tcp\": {\"max_conns_per_core\": 8, \"send_buffer\": 65536, \"send_buffers\": 1," \
	" \"keepalive_s\": 0}}"

/* the peer answers every probe with window 0 until we reset; returns
 * the ms that took (bounded at 40 minutes) */
static uint64_t shut_until_reset(struct h_peer *p)
{
	uint64_t t0 = h_now();
	int probes = 0;
	for (int s = 0; s < 40 * 60; s++) {
		h_advance_ms(1000);
		while (h_peer_recv(p, &K)) {
			if (K.flags & TCP_RST)
				return (h_now() - t0) / H_MS;
			if (K.plen == 1 && K.seq == p->ack) {
				probes++;
				h_peer_send(p, TCP_ACK, NULL, 0);       /* still 0 */
			}
		}
	}
	cr_assert_fail("no reset after 40 minutes (%d probes answered)", probes);
	return 0;
}

Test(tcp_hostile, zero_window_forever_is_reset)
{
	h_fini();
	cr_assert_eq(h_init(ONE_BUFFER), 0);
	static uint8_t d[1000];
	struct h_peer p, q;
	h_peer_init(&p, 44000, H_PORT, 1, 7, 1);
	cr_assert_eq(h_peer_connect(&p), 0);
	h_peer_init(&q, 44001, H_PORT, 1, 7, 1);
	cr_assert_eq(h_peer_connect(&q), 0);
	struct h_app_conn *a = p.app, *b = q.app;
	p.win = 0;
	h_peer_send(&p, TCP_ACK, NULL, 0);
	cr_assert_eq(h_app_send(a, d, sizeof d), sizeof d);
	cr_assert_eq(tcp_send_space(b->c), 0, "the only send buffer is p's");
	uint64_t ms = shut_until_reset(&p);
	cr_assert(ms >= 20 * 60 * 1000 && ms <= 21 * 60 * 1000 + 61000, "reset after %lu ms", (unsigned long)ms);
	cr_assert(a->gone);
	cr_assert_eq(a->gone_reason, ETIMEDOUT);
	cr_assert_eq(H_STAT(tcp_zero_window_timeouts), 1);
	cr_assert_eq(net_tcp_conns(0), 1);
	cr_assert_eq(tcp_send_space(b->c), 65536, "the send buffer is back");
	h_app_abort_all();
	h_turn();
}

/* once the app has closed it, the bound is 2 minutes */
Test(tcp_hostile, zero_window_orphan_is_reset_sooner)
{
	static uint8_t d[1000];
	struct h_peer p;
	h_peer_init(&p, 44002, H_PORT, 1, 7, 1);
	cr_assert_eq(h_peer_connect(&p), 0);
	struct h_app_conn *a = p.app;
	p.win = 0;
	h_peer_send(&p, TCP_ACK, NULL, 0);
	cr_assert_eq(h_app_send(a, d, sizeof d), sizeof d);
	h_app_close(a);
	uint64_t ms = shut_until_reset(&p);
	cr_assert(ms >= 2 * 60 * 1000 && ms <= 3 * 60 * 1000 + 1000, "reset after %lu ms", (unsigned long)ms);
	cr_assert_eq(H_STAT(tcp_zero_window_timeouts), 1);
	cr_assert_eq(net_tcp_conns(0), 0);
}

/* ---- the ISS (RFC 6528): the 4 us clock plus a keyed hash of the flow */
static uint32_t syn_iss(uint16_t port)
{
	struct h_peer p;
	h_tx_drop_all();
	h_peer_init(&p, port, H_PORT, 1, 7, 1);
	h_peer_syn(&p);
	cr_assert(h_peer_recv(&p, &K), "no SYN-ACK");
	cr_assert_eq(K.flags, TCP_SYN | TCP_ACK);
	uint32_t iss = K.seq;
	h_peer_send_at(&p, p.seq, TCP_RST, NULL, 0);     /* the slot goes */
	cr_assert_eq(net_tcp_conns(0), 0);
	return iss;
}

Test(tcp_hostile, iss_is_clock_plus_keyed_hash)
{
	uint32_t a1 = syn_iss(45000);
	h_advance_ms(1000);
	uint32_t a2 = syn_iss(45000);
	uint32_t b2 = syn_iss(45001);
	cr_assert_eq(a2 - a1, 250000u, "the same flow 1 s later: +250000 (4 us ticks), got %u", a2 - a1);
	int32_t d = (int32_t)(b2 - a2);
	cr_assert(d > 1000 || d < -1000, "two flows' ISS differ only by the clock (%d)", d);
}

/* ---- the acceptance window (RFC 9293 3.10.7.4): what we advertised,
 * not a fixed 256 KiB */

/* the next segment of p's flow, which must be there */
static struct h_pkt *next_seg(struct h_peer *p)
{
	cr_assert(h_peer_recv(p, &K), "no segment from us");
	return &K;
}

static void no_more(struct h_peer *p)
{
	cr_assert_not(h_peer_recv(p, &K), "an unexpected segment: flags %#x seq %u ack %u", K.flags, K.seq, K.ack);
}

/* D filled with a pattern, so that misplaced bytes show */
static void d_fill(void)
{
	for (size_t i = 0; i < sizeof D; i++)
		D[i] = (uint8_t)(i * 13 + i / 251);
}

Test(tcp_hostile, acceptance_is_the_advertised_window)
{
	static uint8_t big[270000];
	for (size_t i = 0; i < sizeof big; i++)
		big[i] = (uint8_t)(i * 31 + i / 257);
	struct h_peer p;
	struct h_app_conn *a = passive_open(&p, 1460, 1);
	uint32_t s = p.seq;
	/* after the handshake the window is the SYN-ACK's: 65535 bytes from s */
	h_peer_send_at(&p, s + 65535, TCP_ACK, big, 10);            /* at the edge: out */
	struct h_pkt *k = next_seg(&p);
	cr_assert_eq(k->flags, TCP_ACK);
	cr_assert_eq(k->ack, s, "the ACK RFC 9293 asks for: rcv_nxt");
	cr_assert_eq(H_STAT(drop_tcp_out_of_window), 1);
	/* that ACK offered our scaled window: the edge is now 256 KiB on */
	uint32_t edge = k->ack + ((uint32_t)k->win << 3);
	cr_assert_eq(edge - s, 256u * 1024);
	h_peer_send_at(&p, edge, TCP_ACK, big, 10);
	cr_assert_eq(next_seg(&p)->ack, s);
	h_peer_send_at(&p, s + 1000000, TCP_ACK, big, 10);          /* far past it */
	cr_assert_eq(next_seg(&p)->ack, s);
	cr_assert_eq(H_STAT(drop_tcp_out_of_window), 3);
	cr_assert_eq(H_STAT(tcp_ooo), 0, "nothing out of window was queued");
	/* a keepalive (one below rcv_nxt, no data) is answered, not counted */
	h_peer_send_at(&p, s - 1, TCP_ACK, NULL, 0);
	cr_assert_eq(next_seg(&p)->ack, s);
	cr_assert_eq(H_STAT(drop_tcp_out_of_window), 3);
	/* a segment across the edge is queued up to it only */
	h_peer_send_at(&p, edge - 5, TCP_ACK, big + (edge - 5 - s), 10);
	cr_assert_eq(H_STAT(tcp_ooo), 1);
	cr_assert_eq(H_STAT(drop_tcp_out_of_window), 4, "the trimmed tail is counted");
	h_tx_drop_all();
	/* the hole fills: delivery stops at that edge, whatever our ACKs
	 * offered meanwhile */
	for (uint32_t off = 0; off < edge - 5 - s; off += 1000) {
		uint32_t n = edge - 5 - s - off < 1000 ? edge - 5 - s - off : 1000;
		h_peer_send_at(&p, s + off, TCP_ACK, big + off, n);
		h_tx_drop_all();
	}
	cr_assert_eq(a->rxlen, edge - s, "delivered %zu bytes", a->rxlen);
	cr_assert_eq(memcmp(a->rx, big, edge - s), 0);
	h_advance_ms(500);                      /* after the keepalive's OOW_ACK_MS */
	h_peer_send_at(&p, edge - 1, TCP_ACK, NULL, 0);            /* a probe: rcv_nxt? */
	uint32_t acked = next_seg(&p)->ack;
	cr_assert_eq(acked, edge, "acked %u past s", acked - s);
	cr_assert_eq(H_STAT(drop_tcp_out_of_window), 4, "the hole's segments were all in the window");
	/* and data wholly old is out of the window too */
	h_peer_send_at(&p, s, TCP_ACK, big, 100);
	cr_assert_eq(next_seg(&p)->ack, edge);
	cr_assert_eq(H_STAT(drop_tcp_out_of_window), 5);
	h_app_abort(a);
}

/* An out-of-window segment without data is answered at most once per
 * OOW_ACK_MS (500 ms) per connection, as Linux's tcp_invalid_ratelimit:
 * a storm of them (an ACK loop, a spoofer) gets one ACK, the rest counted
 * in tcp_oow_ack_limited; one with data is always answered; another
 * connection has its own allowance. */
Test(tcp_hostile, out_of_window_acks_are_rate_limited_per_connection)
{
	static uint8_t d[10];
	struct h_peer p, q;
	struct h_app_conn *a = passive_open(&p, 1460, 1);
	struct h_app_conn *b = passive_open(&q, 1460, 1);
	uint32_t s = p.seq;
	h_tx_drop_all();
	int answered = 0;
	for (int i = 0; i < 100; i++) {
		h_peer_send_at(&p, s + 1000000, TCP_ACK, NULL, 0);
		while (h_next_ip(&K))
			answered += K.flags == TCP_ACK && K.ack == s;
	}
	cr_assert_eq(answered, 1, "%d ACKs for 100 out-of-window pure ACKs", answered);
	cr_assert_eq(H_STAT(tcp_oow_ack_limited), 99);
	cr_assert_eq(H_STAT(drop_tcp_out_of_window), 100);
	/* with data: always answered */
	for (int i = 0; i < 3; i++) {
		h_peer_send_at(&p, s + 1000000, TCP_ACK, d, sizeof d);
		cr_assert_eq(next_seg(&p)->ack, s);
	}
	/* the other connection's first one is answered */
	h_peer_send_at(&q, q.seq - 1, TCP_ACK, NULL, 0);
	cr_assert_eq(next_seg(&q)->ack, q.seq);
	/* and after OOW_ACK_MS this one's again */
	h_advance_ms(499);
	h_peer_send_at(&p, s - 1, TCP_ACK, NULL, 0);
	no_more(&p);
	h_advance_ms(1);
	h_peer_send_at(&p, s - 1, TCP_ACK, NULL, 0);
	cr_assert_eq(next_seg(&p)->ack, s);
	cr_assert_eq(H_STAT(tcp_oow_ack_limited), 100);
	cr_assert_not(a->gone);
	cr_assert_not(b->gone);
	h_app_abort(a);
	h_app_abort(b);
}

/* The window shut (the peer filled all we offered; the app, with
 * recv_space, has read nothing since): a data segment at rcv_nxt is not
 * acceptable by RFC 9293's table, but is taken for its ACK (the
 * "special allowance"), its data dropped and counted. Without it an ACK
 * riding on the peer's probe would be lost, and with it the send buffer
 * whose release opens the app's room. Past rcv_nxt it is only
 * answered. */
Test(tcp_hostile, zero_window_data_at_rcv_nxt_gives_its_ack)
{
	static uint8_t d[1024], out[100];
	memset(d, 'z', sizeof d);
	struct h_peer p;
	h_peer_init(&p, 40000, H_PORT_SMALL, 1, 7, 1);
	cr_assert_eq(h_peer_connect(&p), 0);
	struct h_app_conn *a = p.app;
	uint32_t s = p.seq;
	/* the SYN-ACK offered 65535 bytes, the app reads 4096 at a time:
	 * 16 rounds reach the furthest edge offered, s + 65536 */
	for (int r = 0; r < 16; r++) {
		if (r)
			h_app_read(a);
		for (int i = 0; i < 4; i++)
			h_peer_send(&p, TCP_ACK, d, sizeof d);
		h_tx_drop_all();
	}
	cr_assert_eq(p.seq - s, 65536u);
	cr_assert_eq(a->rxlen, 65536, "delivered %zu", a->rxlen);
	cr_assert_eq(H_STAT(drop_tcp_out_of_window), 0, "a peer within the window is never counted");
	/* we send the peer 100 bytes; it acknowledges them on a probe */
	cr_assert_eq(h_app_send(a, out, sizeof out), sizeof out);
	struct h_pkt *k = next_seg(&p);
	cr_assert_eq(k->plen, 100);
	cr_assert_eq(k->win, 0, "our window is shut");
	h_peer_take(&p, k);
	h_tx_drop_all();
	h_peer_send_at(&p, p.seq, TCP_ACK, d, 1);
	k = next_seg(&p);
	cr_assert_eq(k->flags, TCP_ACK);
	cr_assert_eq(k->ack, p.seq, "the probe's byte is not taken");
	cr_assert_eq(k->win, 0);
	cr_assert_eq(tcp_send_space(a->c), 65536, "the probe's ACK was not processed");
	cr_assert_eq(a->rxlen, 65536);
	cr_assert_eq(H_STAT(drop_tcp_out_of_window), 1);
	/* past rcv_nxt: out of a shut window, answered */
	h_peer_send_at(&p, p.seq + 10, TCP_ACK, d, 1);
	cr_assert_eq(next_seg(&p)->ack, p.seq);
	cr_assert_eq(H_STAT(drop_tcp_out_of_window), 2);
	cr_assert_eq(H_STAT(tcp_ooo), 0);
	/* the app reads: the window opens and the byte goes in */
	h_app_read(a);
	h_tx_drop_all();
	h_peer_send(&p, TCP_ACK, d, 1);
	cr_assert_eq(a->rxlen, 65537);
	h_app_abort(a);
}

/* ---- RFC 5961: blind RST, SYN and data injection */

/* RFC 5961 5.2: SND.UNA - MAX.SND.WND <= SEG.ACK <= SND.NXT, MAX.SND.WND
 * the largest window the peer ever offered; outside it the segment
 * (its data too) is dropped, counted, and a challenge ACK answers */
Test(tcp_hostile, ack_below_max_snd_wnd_is_challenged)
{
	d_fill();
	struct h_peer p;
	h_peer_init(&p, 40000, H_PORT, 0, 0, 1);    /* no window scaling */
	p.win = 1000;                               /* MAX.SND.WND: 1000 */
	cr_assert_eq(h_peer_connect(&p), 0);
	struct h_app_conn *a = p.app;
	uint32_t una = p.ack;                       /* our SND.UNA: nothing sent */
	p.ack = una - 1001;
	h_peer_send(&p, TCP_ACK, D, 10);
	struct h_pkt *k = next_seg(&p);
	cr_assert_eq(k->flags, TCP_ACK, "a challenge ACK");
	cr_assert_eq(k->seq, una);
	cr_assert_eq(k->ack, p.seq - 10, "the data of a bad ACK is not taken");
	cr_assert_eq(a->rxlen, 0);
	cr_assert_eq(H_STAT(drop_tcp_bad_ack), 1);
	cr_assert_eq(H_STAT(tcp_challenge_acks), 1);
	p.seq -= 10;
	/* at the bound it is acceptable (an old duplicate) */
	p.ack = una - 1000;
	h_peer_send(&p, TCP_ACK, D, 10);
	cr_assert_eq(a->rxlen, 10);
	cr_assert_eq(memcmp(a->rx, D, 10), 0);
	/* the peer offers more: the bound moves with MAX.SND.WND */
	p.ack = una;
	p.win = 5000;
	h_peer_send(&p, TCP_ACK, NULL, 0);
	p.win = 100;                                /* a smaller one later: the max stays */
	h_peer_send(&p, TCP_ACK, NULL, 0);
	p.ack = una - 5000;
	h_peer_send(&p, TCP_ACK, D + 10, 10);
	cr_assert_eq(a->rxlen, 20);
	p.ack = una - 5001;
	h_peer_send(&p, TCP_ACK, D + 20, 10);
	cr_assert_eq(a->rxlen, 20);
	cr_assert_eq(H_STAT(drop_tcp_bad_ack), 2);
	p.seq -= 10;
	/* an ACK of what we never sent: the same */
	p.ack = una + 1;
	h_peer_send(&p, TCP_ACK, D + 20, 10);
	cr_assert_eq(a->rxlen, 20);
	cr_assert_eq(H_STAT(drop_tcp_bad_ack), 3);
	cr_assert_eq(H_STAT(tcp_challenge_acks), 3);
	cr_assert_not(a->gone);
	h_tx_drop_all();
	h_app_abort(a);
}

/* RFC 5961 3.2 and 4.2: a RST in the window but not at rcv_nxt, and a
 * SYN anywhere, get a challenge ACK (counted), never a reset */
Test(tcp_hostile, rst_and_syn_get_counted_challenge_acks)
{
	struct h_peer p;
	struct h_app_conn *a = passive_open(&p, 1460, 1);
	h_peer_send_at(&p, p.seq + 1, TCP_RST, NULL, 0);
	struct h_pkt *k = next_seg(&p);
	cr_assert_eq(k->flags, TCP_ACK);
	cr_assert_eq(k->ack, p.seq);
	cr_assert_eq(H_STAT(tcp_challenge_acks), 1);
	h_peer_send_at(&p, p.seq + 100, TCP_SYN, NULL, 0);         /* in the window */
	cr_assert_eq(next_seg(&p)->flags, TCP_ACK);
	h_peer_send_at(&p, p.seq + 100000000, TCP_SYN, NULL, 0);   /* far outside it */
	k = next_seg(&p);
	cr_assert_eq(k->flags, TCP_ACK, "RFC 5961 4.2: whatever its seq");
	cr_assert_eq(k->ack, p.seq);
	h_peer_send_at(&p, p.seq - 100000000, TCP_SYN | TCP_ACK, NULL, 0);
	cr_assert_eq(next_seg(&p)->flags, TCP_ACK);
	cr_assert_eq(H_STAT(tcp_challenge_acks), 4);
	cr_assert_eq(H_STAT(drop_tcp_out_of_window), 0, "a SYN is challenged, not counted out of window");
	h_peer_send_at(&p, p.seq + 100000000, TCP_RST, NULL, 0);   /* out of it: silence */
	no_more(&p);
	cr_assert_eq(H_STAT(tcp_challenge_acks), 4);
	cr_assert_not(a->gone);
	cr_assert_eq(net_tcp_conns(0), 1);
	h_app_abort(a);
}

/* Challenge ACKs are limited per core: each second's allowance drawn
 * from [500, 1500) (CHALLENGE_ACK_LIMIT 1000, randomised as Linux does
 * since CVE-2016-5696); the rest counted, not sent. */
Test(tcp_hostile, challenge_acks_are_rate_limited_per_core)
{
	enum { PER_SECOND = 2000, SECONDS = 3 };
	struct h_peer p, q;
	struct h_app_conn *a = passive_open(&p, 1460, 1);
	struct h_app_conn *b = passive_open(&q, 1460, 1);
	uint32_t sent[SECONDS];
	uint64_t acks0 = H_STAT(tcp_challenge_acks), lim0 = H_STAT(tcp_challenge_ack_limited);
	/* in the middle of a second: the whole burst falls in it */
	h_advance_ms(1000 - (h_now() / H_MS) % 1000 + 100);
	for (int sec = 0; sec < SECONDS; sec++) {
		sent[sec] = 0;
		for (int i = 0; i < PER_SECOND; i++) {
			/* two connections share the core's allowance */
			struct h_peer *x = (i & 1) ? &q : &p;
			h_peer_send_at(x, x->seq + 1, TCP_RST, NULL, 0);
			while (h_next_ip(&K))
				if (K.flags == TCP_ACK)
					sent[sec]++;
		}
		cr_assert(sent[sec] >= 500 && sent[sec] < 1500, "second %d: %u challenge ACKs", sec, sent[sec]);
		cr_assert_eq(H_STAT(tcp_challenge_acks) - acks0, sent[sec]);
		cr_assert_eq(H_STAT(tcp_challenge_ack_limited) - lim0, PER_SECOND - sent[sec]);
		acks0 = H_STAT(tcp_challenge_acks);
		lim0 = H_STAT(tcp_challenge_ack_limited);
		h_advance_ms(1000);
	}
	cr_assert(sent[0] != sent[1] || sent[1] != sent[2], "the allowance is the same every second: %u",
		  sent[0]);
	cr_log_info("challenge ACKs a second: %u %u %u", sent[0], sent[1], sent[2]);
	cr_assert_not(a->gone);
	cr_assert_not(b->gone);
	h_app_abort(a);
	h_app_abort(b);
}

/* ---- small out-of-order segments: copied together, charged at the
 * buffers' true size */

/* one-byte segments [s + from, s + to) of p (D's bytes), ascending or
 * descending, each answered by a dup ACK that is dropped at once */
static void ooo_bytes(struct h_peer *p, uint32_t s, uint32_t from, uint32_t to, int down)
{
	for (uint32_t i = 0; i < to - from; i++) {
		uint32_t at = down ? to - 1 - i : from + i;
		h_peer_send_at(p, s + at, TCP_ACK, D + at, 1);
		h_tx_drop_all();
	}
}

Test(tcp_hostile, small_ooo_segments_share_a_buffer)
{
	d_fill();
	struct h_peer p;
	struct h_app_conn *a = passive_open(&p, 1460, 1);
	uint32_t s = p.seq;
	h_tx_drop_all();
	uint32_t avail0 = h_pool_avail();
	/* 1000 one-byte segments behind a one-byte hole: one buffer for all
	 * (each in its own, the connection's 16 buffers would have been
	 * full after 16) */
	ooo_bytes(&p, s, 1, 1001, 0);
	cr_assert_eq(avail0 - h_pool_avail(), 1, "%u buffers held", avail0 - h_pool_avail());
	cr_assert_eq(H_STAT(tcp_ooo), 1000);
	cr_assert_eq(H_STAT(tcp_ooo_coalesced), 999);
	cr_assert_eq(H_STAT(drop_tcp_ooo_full) + H_STAT(drop_tcp_ooo_budget), 0);
	/* and downwards, into the head room of the buffer that follows: a
	 * new buffer only when that is used up */
	ooo_bytes(&p, s, 1500, 1900, 1);
	cr_assert_leq(avail0 - h_pool_avail(), 4, "%u buffers held", avail0 - h_pool_avail());
	/* the gap between the two runs filled from both sides, then the hole */
	ooo_bytes(&p, s, 1001, 1200, 0);
	ooo_bytes(&p, s, 1200, 1500, 1);
	h_peer_send_at(&p, s, TCP_ACK, D, 1);
	cr_assert_eq(a->rxlen, 1900, "delivered %zu", a->rxlen);
	cr_assert_eq(memcmp(a->rx, D, 1900), 0, "reassembled wrong");
	h_tx_drop_all();
	cr_assert_eq(h_pool_avail(), avail0, "the queue's buffers are home");
	h_app_abort(a);
}

/* the same buffer-sharing with overlaps: repeats, a byte inside a
 * queued run, a segment reaching across the buffer it continues */
Test(tcp_hostile, small_ooo_overlaps_are_merged_right)
{
	d_fill();
	struct h_peer p;
	struct h_app_conn *a = passive_open(&p, 1460, 1);
	uint32_t s = p.seq;
	h_peer_send_at(&p, s + 10, TCP_ACK, D + 10, 20);      /* [10, 30) */
	h_peer_send_at(&p, s + 15, TCP_ACK, D + 15, 5);       /* inside it */
	h_peer_send_at(&p, s + 40, TCP_ACK, D + 40, 10);      /* [40, 50) */
	h_peer_send_at(&p, s + 25, TCP_ACK, D + 25, 20);      /* [25, 45): joins both */
	h_peer_send_at(&p, s + 10, TCP_ACK, D + 10, 20);      /* a repeat */
	h_peer_send_at(&p, s + 5, TCP_ACK, D + 5, 10);        /* [5, 15): in front */
	h_tx_drop_all();
	h_peer_send_at(&p, s, TCP_ACK, D, 5);
	cr_assert_eq(a->rxlen, 50, "delivered %zu", a->rxlen);
	cr_assert_eq(memcmp(a->rx, D, 50), 0, "reassembled wrong");
	h_app_abort(a);
}

/* ---- 64 connections flooding one-byte segments behind their holes
 * (issue 10 item 3): an app of its own, on a port of its own */
#define FLOOD_PORT 5003
#define FLOOD_CONNS 64
#define FLOOD_BYTES 300
static struct flood_conn {
	struct tcp_conn *c;
	uint8_t rx[FLOOD_BYTES + 1];
	size_t rxlen;
	int gone;
} F[FLOOD_CONNS];
static int f_next;

static void *f_accept(struct tcp_conn *c, void *arg)
{
	if (f_next == FLOOD_CONNS)
		return NULL;
	F[f_next].c = c;
	return &F[f_next++];
}
static void f_recv(struct tcp_conn *c, void *ctx, const uint8_t *data, size_t len)
{
	struct flood_conn *f = ctx;
	cr_assert_leq(f->rxlen + len, sizeof f->rx, "more than was sent");
	memcpy(f->rx + f->rxlen, data, len);
	f->rxlen += len;
}
static void f_gone(struct tcp_conn *c, void *ctx, int reason) { ((struct flood_conn *)ctx)->gone = 1; }
static const struct tcp_ops fops = { .recv = f_recv, .gone = f_gone };

Test(tcp_hostile, ooo_flood_of_64_connections_cannot_empty_the_pool)
{
	d_fill();
	h_fini();
	cr_assert_eq(h_init("{\"interfaces\": [{\"address\": \"198.18.0.2/24\", \"gateway\": \"198.18.0.1\"}],"
			    " \"tcp\": {\"max_conns_per_core\": 64, \"send_buffer\": 4096, \"send_buffers\": 1}}"), 0);
	cr_assert_eq(tcp_listen(FLOOD_PORT, &fops, f_accept, NULL), 0);
	static struct h_peer p[FLOOD_CONNS];
	static uint32_t s[FLOOD_CONNS];
	for (int i = 0; i < FLOOD_CONNS; i++) {
		h_peer_init(&p[i], (uint16_t)(46000 + i), FLOOD_PORT, 1, 7, 1);
		h_peer_syn(&p[i]);
		cr_assert(h_peer_recv(&p[i], &K) && K.flags == (TCP_SYN | TCP_ACK), "no SYN-ACK for %d", i);
		p[i].iss = K.seq;
		p[i].ack = K.seq + 1;
		h_peer_send(&p[i], TCP_ACK, NULL, 0);
		s[i] = p[i].seq;
	}
	cr_assert_eq(f_next, FLOOD_CONNS);
	h_tx_drop_all();
	uint32_t avail0 = h_pool_avail(), low = avail0;
	/* round-robin, each connection 300 one-byte segments behind a one-byte
	 * hole: upwards (one buffer), downwards (a buffer per ~190 bytes of
	 * head room) or with one-byte gaps (a buffer each, the budgets' case) */
	for (uint32_t k = 0; k < FLOOD_BYTES; k++) {
		for (int i = 0; i < FLOOD_CONNS; i++) {
			uint32_t at;
			switch (i % 3) {
			case 0: at = 1 + k; break;
			case 1: at = FLOOD_BYTES - k; break;
			default:
				if (k >= FLOOD_BYTES / 2)
					continue;
				at = 1 + 2 * k;
			}
			h_peer_send_at(&p[i], s[i] + at, TCP_ACK, D + at, 1);
			h_tx_drop_all();
			if (h_pool_avail() < low)
				low = h_pool_avail();
		}
	}
	cr_log_info("out-of-order flood: %u of %u buffers held at most; queued %lu, coalesced %lu, "
		    "dropped %lu (connection) %lu (core)", avail0 - low, H_POOL,
		    (unsigned long)H_STAT(tcp_ooo), (unsigned long)H_STAT(tcp_ooo_coalesced),
		    (unsigned long)H_STAT(drop_tcp_ooo_full), (unsigned long)H_STAT(drop_tcp_ooo_budget));
	cr_assert_leq(avail0 - low, OOO_CORE_BUFS, "the queues held %u buffers", avail0 - low);
	cr_assert_gt(H_STAT(tcp_ooo_coalesced), 0);
	cr_assert_gt(H_STAT(drop_tcp_ooo_budget), 0, "the core's budget never bit");
	cr_assert_eq(H_STAT(tcp_ooo_pruned), 0, "the pool never ran short");
	/* the holes fill: a queue that was kept gives all its bytes at once */
	int whole = 0;
	for (int i = 0; i < FLOOD_CONNS; i++) {
		h_peer_send_at(&p[i], s[i], TCP_ACK, D, 1);
		h_tx_drop_all();
		whole += F[i].rxlen == FLOOD_BYTES + 1;
	}
	cr_assert_geq(whole, 8, "only %d connections had their queue whole", whole);
	/* the peers send the rest again: every byte arrives, in order */
	for (int i = 0; i < FLOOD_CONNS; i++) {
		h_peer_send_at(&p[i], s[i] + 1, TCP_ACK, D + 1, FLOOD_BYTES);
		h_tx_drop_all();
		cr_assert_eq(F[i].rxlen, FLOOD_BYTES + 1, "connection %d: %zu bytes", i, F[i].rxlen);
		cr_assert_eq(memcmp(F[i].rx, D, FLOOD_BYTES + 1), 0, "connection %d: reassembled wrong", i);
		cr_assert_not(F[i].gone);
	}
	cr_log_info("queues whole when the holes filled: %d of %d", whole, FLOOD_CONNS);
	cr_assert_eq(h_pool_avail(), avail0, "out-of-order buffers not home");
	for (int i = 0; i < FLOOD_CONNS; i++)
		tcp_abort(F[i].c);
	h_turn();
}
