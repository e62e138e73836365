/*
 * fuzz_tcp_conns.c — libFuzzer target: TCP's per-core resources under
 * many hostile connections, on the host harness (test/unit/net/
 * harness.c). The input is a program over up to 512 peers (198.18.0.1,
 * ports 20000 + k) against up to 300 connection slots: open (or leave
 * half-open), fill every slot, complete pending handshakes (SYN cookies
 * included, refused ones too), out-of-order segments (one-byte ones pin a
 * whole buffer each), in-order data, zero windows, FIN, RST, an app that
 * sends, closes, aborts or stops reading, and time in fuzzed steps. The
 * peer never answers on its own: whatever the program does not do, it
 * is idle.
 *
 * Checked after every operation (the per-core bounds, tcp_priv.h): slots
 * open <= max and counted right (the free list and the open count add
 * up), half-open == the slots in SYN_RCVD; the out-of-order queues
 * within their budgets (the core's at most its pool / OOO_CORE_DIV
 * buffers, a connection's at most min(OOO_MAX, half that)) and counted
 * right; send buffers lent == the slots holding one; the zero-copy
 * memory's references == the extents queued + the external fragments
 * out; no timer armed on
 * a free slot, and every live slot holds a timer that can end it
 * (retransmission, keepalive or TIME_WAIT: nothing a peer opens may stay
 * for ever); with what was sent drained, every packet buffer is in the
 * pool, on an out-of-order queue or in the TX batch.
 *
 * After the program the peer goes silent and time runs (16 min at most,
 * in steps of 1 s or to the next deadline, the device sending what is
 * queued after each): every connection
 * must end by its own timeout (keepalive, retries, zero-window bound,
 * FIN_WAIT_2, TIME_WAIT), with no app abort; then no slot may be open,
 * every send buffer and packet buffer must be home, no timer armed.
 *
 * Input: one set-up byte, then records until the input ends (192 at
 * most; 30 min of simulated time and 1024 opens at most).
 *   set-up: bits 0-1 slots (8, 32, 128, 300), bit 2 a slow app (takes
 *           4 KiB per connection until it reads), bit 3 keepalive 10 s
 *           (else the default 120 s), bit 4 the device's CSUM and TSO.
 *   record: op = byte & 7, arg = byte >> 3, k16 (the peer) for ops 0-3
 *           and 7, then:
 *     0 open:     a SYN (MSS 1460; arg bit 0: window scale), the ACK of
 *                 what answers it unless arg bit 1 (left half-open)
 *     1 ooo:      off16, len8: 1 + arg segments of 1 + len8 % 64 bytes,
 *                 from off16 + 1 past the peer's next seq, a gap apart
 *     2 data:     len16 bytes in order (1460 at most)
 *     3 window:   win16 ACK of all we sent (arg bit 0: window 0; arg
 *                 bit 1: the app sends 3000 bytes first)
 *     4 time:     ms16 x (arg + 1), in steps (run_time)
 *     5 fill:     8 x (arg + 1) peers in turn open anew, each ACKing
 *                 what answers unless arg bit 0 (left half-open)
 *     6 complete: every peer with a SYN-ACK and no ACK yet sends it
 *                 (cookie ACKs among them, refused when the slots are full)
 *     7 app/peer: arg % 8: 0 app sends 3000 (odd peers: 301 copied, the
 *                 rest by reference, tcp_send_ref), 1 app closes, 2 app aborts,
 *                 3 peer FIN, 4 peer RST, 5 peer ACKs all (window 65535),
 *                 6 app reads (slow app), 7 tcp_recv_update
 */
#include "net_fuzz.h"
#include "net/tcp_priv.h"

#define FUZZ_TIME_MS (30 * 60 * 1000ull)
#define FINAL_MS (16 * 60 * 1000ull)
#define NPEERS 512
#define PORT0 20000
#define LPORT 6000                      /* this target's listener */
#define SLOW_ROOM 4096

static int slow_app;
/* the memory zero-copy sends reference (tcp_send_ref): one block, one
 * reference, the fuzzer's own count of 1 */
static uint8_t ref_mem[3000];
static struct pktbuf_ref ref;

/* ---- the peers: one flow each, 198.18.0.1:PORT0+k -> LPORT */
struct peer {
	uint32_t iss;                   /* its ISS (a new one per open) */
	uint32_t seq;                   /* its next */
	uint32_t ack;                   /* ours next, as it has it */
	int synack;                     /* it has our SYN-ACK (iss/ack valid) */
	int acked;                      /* it sent the handshake's ACK */
};
static struct peer P[NPEERS];
static uint32_t next_open;              /* fill: the next peer to open */
/* opens per input, at most: a SYN through the sanitized stack costs tens
 * of microseconds, and 192 fills of 256 made inputs of seconds */
#define OPENS_MAX 1024
static uint32_t opens;

/* ---- the app: accepts everything, closes when the peer does */
struct app_conn {
	struct tcp_conn *c;             /* NULL: free */
	size_t unread;
};
static struct app_conn A[NPEERS];

static void *app_accept(struct tcp_conn *c, void *arg)
{
	(void)arg;
	uint32_t a;
	uint16_t p;
	tcp_conn_peer(c, &a, &p);
	if (p < PORT0 || p >= PORT0 + NPEERS || A[p - PORT0].c)
		nf_fail("tcp_conns", "accept for port %u, unknown or held", p);
	A[p - PORT0].c = c;
	A[p - PORT0].unread = 0;
	return &A[p - PORT0];
}

static void app_recv(struct tcp_conn *c, void *ctx, const uint8_t *d, size_t len)
{
	struct app_conn *a = ctx;
	if (!a || a->c != c || !len)
		nf_fail("tcp_conns", "recv on a connection the app does not hold");
	if (slow_app && len > SLOW_ROOM - a->unread)
		nf_fail("tcp_conns", "recv of %zu bytes past recv_space", len);
	volatile uint8_t s = 0;
	for (size_t i = 0; i < len; i++)        /* ASan checks the whole view */
		s = (uint8_t)(s + d[i]);
	if (slow_app)
		a->unread += len;
}

static void app_peer_closed(struct tcp_conn *c, void *ctx)
{
	struct app_conn *a = ctx;
	if (!a || a->c != c)
		nf_fail("tcp_conns", "peer_closed on a connection the app does not hold");
	tcp_close(c);                           /* as an appliance does */
}

static void app_gone(struct tcp_conn *c, void *ctx, int reason)
{
	struct app_conn *a = ctx;
	(void)reason;
	if (!a || a->c != c)
		nf_fail("tcp_conns", "gone for a connection the app does not hold");
	a->c = NULL;
}

static void app_writable(struct tcp_conn *c, void *ctx)
{
	struct app_conn *a = ctx;
	if (!a || a->c != c)
		nf_fail("tcp_conns", "writable on a connection the app does not hold");
}

static size_t app_recv_space(struct tcp_conn *c, void *ctx)
{
	struct app_conn *a = ctx;
	(void)c;
	if (!slow_app)
		return SIZE_MAX;
	return a->unread < SLOW_ROOM ? SLOW_ROOM - a->unread : 0;
}

static const struct tcp_ops app_ops = {
	.recv = app_recv, .peer_closed = app_peer_closed, .gone = app_gone, .writable = app_writable,
	.recv_space = app_recv_space,
};

/* ---- the wire */
static void peer_send(uint32_t k, uint8_t flags, uint32_t seq, uint16_t win, const uint8_t *opts,
		      uint8_t optlen, const void *data, size_t len)
{
	struct h_tcp s = {
		.sport = (uint16_t)(PORT0 + k), .dport = LPORT, .seq = seq, .ack = P[k].ack, .flags = flags,
		.win = win, .opts = opts, .optlen = optlen, .data = data, .len = len,
	};
	h_rx_tcp(&s);
}

/* what we sent, read by the peers: SYN-ACKs give our ISS, in-order data
 * moves their ACK, a RST ends their flow */
static void peers_read(void)
{
	struct h_pkt k;
	while (h_next(&k)) {
		if (!k.ip || k.proto != IP_PROTO_TCP || k.sport != LPORT || k.dport < PORT0 ||
		    k.dport >= PORT0 + NPEERS)
			continue;
		struct peer *p = &P[k.dport - PORT0];
		if (k.flags & TCP_RST) {
			p->synack = p->acked = 0;
		} else if ((k.flags & (TCP_SYN | TCP_ACK)) == (TCP_SYN | TCP_ACK)) {
			p->synack = 1;
			p->ack = k.seq + 1;
		} else if (k.seq == p->ack) {
			p->ack += k.plen + ((k.flags & TCP_FIN) ? 1u : 0u);
		}
	}
}

static void peer_open(uint32_t k, int ws, int half)
{
	static const uint8_t o_ws[8] = { TCPOPT_MSS, 4, 0x05, 0xb4, TCPOPT_NOP, TCPOPT_WSCALE, 3, 7 };
	struct peer *p = &P[k];
	if (opens >= OPENS_MAX)
		return;
	opens++;
	p->iss += 1000000u;             /* a new incarnation, past the old one's sequence space */
	p->seq = p->iss + 1;
	p->synack = p->acked = 0;
	peer_send(k, TCP_SYN, p->iss, 65535, o_ws, ws ? 8 : 4, NULL, 0);
	peers_read();
	if (!half && p->synack) {
		p->acked = 1;
		peer_send(k, TCP_ACK, p->seq, 65535, NULL, 0, NULL, 0);
	}
}

/* ---- the bounds, after every operation */
static int conn_can_end(const struct tcp_conn *c)
{
	return timer_armed(&c->rtx) || timer_armed(&c->keep) || timer_armed(&c->tw);
}

/* not traced for coverage: a scan of every slot after every step, whose
 * comparisons tell the fuzzer nothing (it took a tenth of the time) */
__attribute__((no_sanitize("coverage"))) static void check_bounds(const char *when)
{
	struct tcp_core *t = net_cores[0].tcp;
	const struct pktbuf_pool *pool = pktbuf_pool_of(0);
	uint32_t open = 0, half = 0, ooo = 0, sbs = 0, nfree = 0;
	uint32_t core_max = pktbuf_pool_size(pool) / OOO_CORE_DIV;
	uint32_t conn_max = OOO_MAX < core_max / 2 ? OOO_MAX : core_max / 2;
	for (uint32_t i = 0; i < t->max; i++) {
		const struct tcp_conn *c = &t->conns[i];
		if (c->state == TCP_CLOSED) {
			if (timer_armed(&c->rtx) || timer_armed(&c->delack) || timer_armed(&c->tw) ||
			    timer_armed(&c->keep) || timer_armed(&c->ooo_t) || c->sb || c->ooo)
				nf_fail("tcp_conns", "%s: a free slot holds a timer, a send buffer or a queue", when);
			continue;
		}
		open++;
		half += c->state == TCP_SYN_RCVD;
		sbs += c->sb != NULL;
		uint32_t n = 0;
		for (const struct pktbuf *b = c->ooo; b && n <= c->nooo; b = b->next)
			n++;
		if (n != c->nooo || n > conn_max || c->ooo_mem != n * OOO_TRUESIZE)
			nf_fail("tcp_conns", "%s: an out-of-order queue of %u buffers, counted %u (at most %u)",
				when, n, c->nooo, conn_max);
		ooo += n;
		if (!conn_can_end(c))
			nf_fail("tcp_conns", "%s: a connection in state %d with no timer that can end it", when,
				c->state);
	}
	for (const struct tcp_conn *c = t->free; c && nfree <= t->max; c = c->hnext)
		nfree++;
	if (open != t->open || open + nfree != t->max)
		nf_fail("tcp_conns", "%s: %u slots live, open says %u, %u free of %u", when, open, t->open, nfree,
			t->max);
	if (half != t->half_open || half > t->max / 2)
		nf_fail("tcp_conns", "%s: %u half-open, counted %u (budget %u)", when, half, t->half_open, t->max / 2);
	if (ooo != (uint32_t)(t->ooo_mem / OOO_TRUESIZE) || ooo > core_max)
		nf_fail("tcp_conns", "%s: %u buffers out of order, counted %u (budget %u)", when, ooo, (uint32_t)(t->ooo_mem / OOO_TRUESIZE),
			core_max);
	if (sbs + t->sb_avail != t->sb_count)
		nf_fail("tcp_conns", "%s: %u send buffers lent, %u free of %u", when, sbs, t->sb_avail, t->sb_count);
	/* every reference the stack holds is a queued extent or an external
	 * fragment of a frame not yet reclaimed */
	uint32_t exts = 0, frags = pool->ext_count - pool->ext_top;
	for (uint32_t i = 0; i < t->max; i++)
		exts += t->conns[i].state == TCP_CLOSED ? 0 : t->conns[i].sref_n;
	if (pktbuf_ref_count(&ref) != 1 + exts + frags)
		nf_fail("tcp_conns", "%s: %u references held, %u extents queued, %u fragments out", when,
			pktbuf_ref_count(&ref) - 1, exts, frags);
	/* a frame tcp_poll let out after the turn's flush waits in the
	 * interface's TX batch for the next one (by design): held, not lost */
	uint32_t batched = 0;
	for (int i = 0; i < net_nifs; i++)
		for (uint32_t j = 0; j < net_cores[0].txq[i].n; j++)
			for (const struct pktbuf *b = net_cores[0].txq[i].pkts[j]; b; b = b->frag)
				batched += !(b->flags & PKTBUF_F_EXT);
	if (h_tx_count() == 0 && h_pool_avail() + ooo + batched != H_POOL)
		nf_fail("tcp_conns", "%s: %u buffers in the pool, %u queued out of order, %u in the TX batch, of %u",
			when, h_pool_avail(), ooo, batched, H_POOL);
}

/* the earliest deadline of a live connection's timers (ns), or
 * UINT64_MAX */
__attribute__((no_sanitize("coverage"))) static uint64_t tcp_next_deadline(void)
{
	struct tcp_core *t = net_cores[0].tcp;
	uint64_t next = UINT64_MAX;
	for (uint32_t i = 0; i < t->max; i++) {
		const struct tcp_conn *c = &t->conns[i];
		const struct timer *ts[5] = { &c->rtx, &c->delack, &c->tw, &c->keep, &c->ooo_t };
		if (c->state != TCP_CLOSED)
			for (int j = 0; j < 5; j++)
				if (timer_armed(ts[j]) && ts[j]->deadline_ns < next)
					next = ts[j]->deadline_ns;
	}
	return next;
}

/* Time in steps of at least 1 s, each to just past the next deadline of
 * a connection's timer when that is later (idle time costs nothing);
 * after each the peers read what was sent (a device that transmits) and
 * the bounds are checked. */
static void run_time(struct nf_clock *clock, uint64_t ms)
{
	while (ms) {
		uint64_t next = tcp_next_deadline(), now = h_now(), step = 1000;
		if (next != UINT64_MAX && next > now && (next - now) / H_MS + 1 > step)
			step = (next - now) / H_MS + 1;
		if (next == UINT64_MAX)
			step = ms;
		if (step > ms)
			step = ms;
		ms -= step;
		if (!nf_clock_advance(clock, step))
			break;
		peers_read();
		check_bounds("time");
	}
}

static void op_ooo(struct nf_in *in, uint32_t k, uint8_t arg)
{
	static uint8_t d[64];
	uint32_t off = (uint32_t)nf_u16(in) + 1, len = 1 + nf_u8(in) % 64;
	memset(d, 'o', sizeof d);
	if (!P[k].acked)
		return;
	for (uint32_t i = 0; i <= arg; i++) {
		peer_send(k, TCP_ACK, P[k].seq + off + i * (len + 1), 65535, NULL, 0, d, len);
		peers_read();
	}
}

static void op_data(struct nf_in *in, uint32_t k)
{
	static uint8_t d[1460];
	size_t len = nf_data(in, d, nf_u16(in), sizeof d);
	if (!P[k].acked)
		return;
	peer_send(k, TCP_ACK | TCP_PSH, P[k].seq, 65535, NULL, 0, d, len);
	P[k].seq += (uint32_t)len;
}

/* odd peers' apps send as the httpd does: a copied header (of an odd
 * length), then the body by reference */
static void app_send(uint32_t k)
{
	static uint8_t d[3000];
	if (A[k].c) {
		if (k & 1) {
			size_t n = tcp_send(A[k].c, d, 301);
			if (n == 301 && A[k].c)
				tcp_send_ref(A[k].c, ref_mem + 301, sizeof ref_mem - 301, &ref);
		} else {
			tcp_send(A[k].c, d, sizeof d);
		}
		h_turn();
	}
}

static void op_window(struct nf_in *in, uint32_t k, uint8_t arg)
{
	uint16_t win = nf_u16(in);
	if (arg & 2)
		app_send(k);
	peers_read();
	if (P[k].acked)
		peer_send(k, TCP_ACK, P[k].seq, (arg & 1) ? 0 : win, NULL, 0, NULL, 0);
}

static void op_fill(uint8_t arg)
{
	for (uint32_t i = 0; i < 8u * (arg + 1u); i++) {
		peer_open(next_open, 0, arg & 1);
		next_open = (next_open + 1) % NPEERS;
		peers_read();
		check_bounds("fill");
	}
}

static void op_complete(void)
{
	for (uint32_t k = 0; k < NPEERS; k++)
		if (P[k].synack && !P[k].acked) {
			P[k].acked = 1;
			peer_send(k, TCP_ACK, P[k].seq, 65535, NULL, 0, NULL, 0);
			peers_read();
		}
}

static void op_app(uint32_t k, uint8_t arg)
{
	struct tcp_conn *c = A[k].c;
	switch (arg % 8) {
	case 0:
		app_send(k);
		break;
	case 1:
		if (c)
			tcp_close(c);
		break;
	case 2:
		if (c)
			tcp_abort(c);
		break;
	case 3:
		if (P[k].acked) {
			peer_send(k, TCP_ACK | TCP_FIN, P[k].seq, 65535, NULL, 0, NULL, 0);
			P[k].seq++;
		}
		break;
	case 4:
		if (P[k].acked)
			peer_send(k, TCP_RST, P[k].seq, 0, NULL, 0, NULL, 0);
		break;
	case 5:
		if (P[k].acked)
			peer_send(k, TCP_ACK, P[k].seq, 65535, NULL, 0, NULL, 0);
		break;
	case 6:
		A[k].unread = 0;
		if (c)
			tcp_recv_update(c);
		break;
	default:
		if (c)
			tcp_recv_update(c);
	}
	h_turn();
}

int LLVMFuzzerTestOneInput(const uint8_t *buf, size_t size)
{
	static const uint32_t slots[4] = { 8, 32, 128, 300 };
	static int listening;
	struct nf_in in = { buf, size };
	uint8_t setup = nf_u8(&in);
	char config[256];
	snprintf(config, sizeof config,
		 "{\"interfaces\": [{\"address\": \"198.18.0.2/24\", \"gateway\": \"198.18.0.1\"}],"
		 " \"tcp\": {\"max_conns_per_core\": %u, \"send_buffer\": 4096, \"send_buffers\": 32,"
		 " \"keepalive_s\": %u}}", slots[setup & 3], (setup & 8) ? 10 : NET_KEEPALIVE_S_DEFAULT);
	slow_app = !!(setup & 4);
	h_dev_offloads = (setup & 16) ? NETDEV_TX_CSUM | NETDEV_TX_TSO4 : 0;
	nf_world_init("tcp_conns", config);
	if (!listening) {                       /* listeners outlive the world */
		if (tcp_listen(LPORT, &app_ops, app_accept, NULL))
			nf_fail("tcp_conns", "tcp_listen %u", LPORT);
		listening = 1;
	}
	struct nf_clock clock = { 0, FUZZ_TIME_MS };
	memset(P, 0, sizeof P);
	memset(A, 0, sizeof A);
	pktbuf_ref_init(&ref, NULL, NULL);
	for (uint32_t k = 0; k < NPEERS; k++)
		P[k].iss = 0x30000000u + k * 7919u;
	next_open = 0;
	opens = 0;
	for (int records = 0; in.n && records < 192; records++) {
		uint8_t op = nf_u8(&in), arg = op >> 3;
		uint32_t k = 0;
		if ((op & 7) <= 3 || (op & 7) == 7)
			k = nf_u16(&in) % NPEERS;
		switch (op & 7) {
		case 0:
			peer_open(k, arg & 1, arg & 2);
			break;
		case 1:
			op_ooo(&in, k, arg);
			break;
		case 2:
			op_data(&in, k);
			break;
		case 3:
			op_window(&in, k, arg);
			break;
		case 4:
			run_time(&clock, (uint64_t)nf_u16(&in) * (arg + 1u));
			break;
		case 5:
			op_fill(arg);
			break;
		case 6:
			op_complete();
			break;
		default:
			op_app(k, arg);
		}
		peers_read();
		check_bounds("program");
	}
	if (nf_stats_print())                   /* to check what a seed reaches */
		fprintf(stderr, " conns=%u ooo=%u\n", net_tcp_conns(0), (uint32_t)(net_cores[0].tcp->ooo_mem / OOO_TRUESIZE));
	/* the peers go silent: everything must end by its own timeouts */
	struct nf_clock final = { 0, FINAL_MS };
	while (final.waited_ms < FINAL_MS && net_tcp_conns(0))
		run_time(&final, 1000);
	if (net_tcp_conns(0))
		nf_fail("tcp_conns", "%u connections left after %llu min of silence", net_tcp_conns(0),
			FINAL_MS / 60000);
	struct tcp_core *t = net_cores[0].tcp;
	if (t->sb_avail != t->sb_count || (uint32_t)(t->ooo_mem / OOO_TRUESIZE) || t->half_open)
		nf_fail("tcp_conns", "after every connection ended: %u of %u send buffers home, %u out of order, "
			"%u half-open", t->sb_avail, t->sb_count, (uint32_t)(t->ooo_mem / OOO_TRUESIZE), t->half_open);
	for (uint32_t k = 0; k < NPEERS; k++)
		if (A[k].c)
			nf_fail("tcp_conns", "the app still holds a connection, never told it was gone");
	h_tx_drop_all();
	if (pktbuf_ref_count(&ref) != 1)
		nf_fail("tcp_conns", "after every connection ended: %u references left", pktbuf_ref_count(&ref) - 1);
	nf_world_end("tcp_conns");
	return 0;
}
