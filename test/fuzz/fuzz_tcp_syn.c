/*
 * fuzz_tcp_syn.c — libFuzzer target: TCP's SYN options, both ways, on the
 * host harness (test/unit/net/harness.c). Passive open: a listener gets
 * SYNs whose options (MSS, window scale, timestamps, SACK-permitted, any
 * kind, any length, EOL/NOP layouts) come from the input, then the
 * handshake's ACK and data, with options again. Active open: we connect
 * and the input is the peer's SYN-ACK (options, window, ACK), then data.
 * The app sends, so that what we send is shaped by what was negotiated.
 *
 * Checked on every segment we send: the IP datagram fits our MTU; our
 * SYN and SYN-ACK offer MSS = MTU - 40 and a window scale of at most 14;
 * data never exceeds the MSS the peer gave (raised to TCP_MIN_MSS, 536
 * when it gave none; a SYN-cookie connection may use the cookie table's
 * 536 as Linux does) nor our MTU. Checked on every connection after each
 * record: its MSS within [min(TCP_MIN_MSS, MTU - 40), MTU - 40], both
 * window shifts at most 14, a payload per segment of at least one byte
 * and at most MTU - 40. At the end the app aborts what it holds, the
 * half-open connections time out (SYN-ACK retries: about 63 s), no slot
 * may be left and every packet buffer must be home.
 *
 * Each input gets a fresh world; the peer is 198.18.0.1 (flows by
 * index: passive from port 42000 + i to H_PORT, active from our
 * ephemeral port to 7000 + i); ISS and cookie keys are random per
 * process, so the peer works from what the stack sent.
 *
 * Input: one set-up byte, then records until the input ends (128 at most).
 *   set-up: bits 0-1 the device's offloads (0 none, 1 CSUM, 2-3 CSUM and
 *           TSO), bits 2-3 our MTU (1500, 1280, 576, 68).
 *   record: op = byte & 7, i = (byte >> 3) & 7 the flow, x = byte >> 6:
 *     0 SYN to H_PORT:   win16, optlen8, opts (x bit 0: the same SYN again)
 *     1 segment:         flags8, win16, optlen8, opts, len16, data: at the
 *                        flow's seq and ACK (x bit 0: dseq8 and dack8
 *                        signed deltas from the input first)
 *     2 connect:         tcp_connect to 198.18.0.1:7000+i (our SYN)
 *     3 SYN-ACK:         win16, optlen8, opts, dack8 (signed, from our
 *                        ISS + 1); x bit 0: a SYN without ACK (a
 *                        simultaneous open)
 *     4 app send:        len16 bytes on the flow (the pattern)
 *     5 time:            ms16 (10 min per input at most)
 *     6 the peer ACKs all it has from us, win16 (its timestamp if it
 *                        negotiated one)
 *     7 app:             x 0 close, 1 abort, 2 tcp_recv_update, 3 nothing
 * Options are raw bytes (at most 40), zero-padded to a multiple of 4.
 */
#include "net_fuzz.h"
#include "net/tcp_priv.h"

#define FUZZ_TIME_MS (10 * 60 * 1000ull)
#define NFLOWS 8
#define PASSIVE_PORT0 42000
#define ACTIVE_PORT0 7000
#define SEQ0 0x20000000u

static uint16_t mtu;

/* the peer's side of one flow */
struct flow {
	int active;                     /* we connected */
	uint16_t pport, lport;          /* the peer's port, ours (0: not yet) */
	uint32_t seq;                   /* the peer's next */
	uint32_t ack;                   /* ours next, as the peer has it */
	uint32_t iss;                   /* ours, from our SYN or SYN-ACK */
	int have_iss;
	uint32_t piss;                  /* the peer's ISS */
	int syn_sent;                   /* the peer sent its SYN */
	uint32_t tsecr;                 /* our last TSval */
	uint32_t mss_bound;             /* payload we may send it, at most */
	int ts;                         /* a TS option in its SYN or SYN-ACK */
	struct tcp_conn *c;             /* active: the app's, until gone */
};
static struct flow F[NFLOWS];

/* ---- the app of active opens (passive ones are the harness's) */
static void a_recv(struct tcp_conn *c, void *ctx, const uint8_t *d, size_t len)
{
	struct flow *f = ctx;
	if (f->c != c || !len)
		nf_fail("tcp_syn", "recv on a connection the app does not hold");
	volatile uint8_t s = 0;
	for (size_t i = 0; i < len; i++)        /* ASan checks the whole view */
		s = (uint8_t)(s + d[i]);
}
static void a_gone(struct tcp_conn *c, void *ctx, int reason)
{
	struct flow *f = ctx;
	(void)reason;
	if (f->c != c)
		nf_fail("tcp_syn", "gone for a connection the app does not hold");
	f->c = NULL;
}
static void a_peer_closed(struct tcp_conn *c, void *ctx) { (void)ctx; tcp_close(c); }
static const struct tcp_ops a_ops = { .recv = a_recv, .gone = a_gone, .peer_closed = a_peer_closed };

/* The bound on our payload that the peer's options give: the largest
 * well-formed MSS option in the list (the stack may take any of several),
 * raised to TCP_MIN_MSS, 536 without one; never past our MTU. */
static uint32_t opts_mss_bound(const uint8_t *o, size_t n)
{
	uint32_t best = 0;
	for (size_t i = 0; i < n && o[i] != TCPOPT_EOL; ) {
		if (o[i] == TCPOPT_NOP) {
			i++;
			continue;
		}
		if (i + 2 > n || o[i + 1] < 2 || i + o[i + 1] > n)
			break;
		if (o[i] == TCPOPT_MSS && o[i + 1] == 4 && (uint32_t)(o[i + 2] << 8 | o[i + 3]) > best)
			best = (uint32_t)(o[i + 2] << 8 | o[i + 3]);
		i += o[i + 1];
	}
	if (!best)
		best = DEFAULT_MSS;
	if (best < TCP_MIN_MSS)
		best = TCP_MIN_MSS;
	return best;
}

static int opts_have_ts(const uint8_t *o, size_t n)
{
	for (size_t i = 0; i + 1 < n && o[i] != TCPOPT_EOL; )
		if (o[i] == TCPOPT_NOP)
			i++;
		else if (o[i] == TCPOPT_TS && o[i + 1] == 10)
			return 1;
		else if (o[i + 1] < 2)
			break;
		else
			i += o[i + 1];
	return 0;
}

static struct flow *flow_of(uint16_t lport, uint16_t pport)
{
	for (int i = 0; i < NFLOWS; i++)
		if (F[i].pport == pport && (F[i].lport == lport || !F[i].lport))
			return &F[i];
	return NULL;
}

/* Every frame we sent, checked, then read by the peer: SYNs give our
 * ISS, in-order data moves its ACK. */
static void peer_reads(void)
{
	struct h_pkt k;
	while (h_next(&k)) {
		if (!k.ip)
			continue;
		if (ntohs(k.ip->len) > mtu)
			nf_fail("tcp_syn", "an IP datagram of %u bytes, over our MTU %u", ntohs(k.ip->len), mtu);
		if (k.proto != IP_PROTO_TCP || k.l4len < 20)
			continue;
		if (!k.l4_csum_ok)
			nf_fail("tcp_syn", "a TCP segment with a bad checksum");
		if (k.flags & TCP_SYN) {
			if (k.mss != (int)mtu - 40)
				nf_fail("tcp_syn", "our SYN offers MSS %d, MTU %u", k.mss, mtu);
			if (k.wscale > 14)
				nf_fail("tcp_syn", "our SYN offers window scale %d", k.wscale);
		}
		struct flow *f = flow_of(k.sport, k.dport);
		if (!f)
			continue;
		if (k.plen > f->mss_bound || k.plen > (uint32_t)mtu - 40)
			nf_fail("tcp_syn", "a segment of %u bytes to a peer that takes %u (MTU %u)", k.plen,
				f->mss_bound, mtu);
		if (k.ts)
			f->tsecr = k.tsval;
		if (k.flags & TCP_RST)
			continue;
		if (k.flags & TCP_SYN) {
			f->lport = k.sport;
			f->iss = k.seq;
			f->have_iss = 1;
			f->ack = k.seq + 1;
		} else if (k.seq == f->ack) {
			f->ack += k.plen + ((k.flags & TCP_FIN) ? 1u : 0u);
		}
	}
}

/* Every connection's negotiated state within the clamps. */
static void check_conns(void)
{
	struct tcp_core *t = net_cores[0].tcp;
	uint32_t lo = TCP_MIN_MSS < mtu - 40u ? TCP_MIN_MSS : mtu - 40u;
	for (uint32_t i = 0; i < t->max; i++) {
		struct tcp_conn *c = &t->conns[i];
		if (c->state == TCP_CLOSED)
			continue;
		if (c->mss < lo || c->mss > mtu - 40u)
			nf_fail("tcp_syn", "a connection with MSS %u (MTU %u)", c->mss, mtu);
		if (c->snd_wscale > 14 || c->rcv_wscale > 14)
			nf_fail("tcp_syn", "window shifts %u/%u", c->snd_wscale, c->rcv_wscale);
		uint32_t p = tcp_seg_payload_max(c);
		if (p < 1 || p > mtu - 40u)
			nf_fail("tcp_syn", "a payload per segment of %u (MSS %u, MTU %u)", p, c->mss, mtu);
	}
}

/* The peer's segment on f, its options raw. A SYN tells the model what
 * the peer allows: the MSS bound may only grow (the stack may have kept
 * an earlier SYN's), and a SYN answered with a cookie allows the
 * cookie table's 536. */
static void peer_send(struct flow *f, uint8_t flags, uint32_t seq, uint32_t ack, uint16_t win,
		      const uint8_t *opts, uint8_t optlen, const uint8_t *data, size_t len)
{
	struct h_tcp s = {
		.sport = f->pport, .dport = f->lport, .seq = seq, .ack = ack, .flags = flags, .win = win,
		.opts = opts, .optlen = optlen, .data = data, .len = len,
	};
	uint64_t cookies = h_stats().tcp_syncookies;
	if (flags & TCP_SYN) {
		uint32_t b = opts_mss_bound(opts, optlen);
		if (b > f->mss_bound)
			f->mss_bound = b;
		f->ts |= opts_have_ts(opts, optlen);
	}
	h_rx_tcp(&s);
	if ((flags & TCP_SYN) && h_stats().tcp_syncookies != cookies && f->mss_bound < DEFAULT_MSS)
		f->mss_bound = DEFAULT_MSS;
}

/* raw options from the input, zero-padded (EOL) to a multiple of 4;
 * returns their length */
static uint8_t read_opts(struct nf_in *in, uint8_t o[40])
{
	uint8_t n = nf_u8(in) % 41;
	memset(o, 0, 40);
	nf_take(in, o, n);
	return (uint8_t)((n + 3u) & ~3u);
}

/* the peer's SYN (and ISS) for f: a new one, or the same again */
static uint32_t peer_syn_seq(struct flow *f, int again)
{
	if (!f->syn_sent || !again) {
		if (f->syn_sent)
			f->piss += 100000;      /* a new incarnation, further on */
		f->syn_sent = 1;
		f->seq = f->piss + 1;
	}
	return f->piss;
}

static void op_syn(struct nf_in *in, struct flow *f, int again)
{
	uint8_t o[40];
	uint16_t win = nf_u16(in);
	uint8_t ol = read_opts(in, o);
	if (f->active)
		return;
	f->lport = H_PORT;
	peer_send(f, TCP_SYN, peer_syn_seq(f, again), 0, win, o, ol, NULL, 0);
}

static void op_segment(struct nf_in *in, struct flow *f, int deltas)
{
	static uint8_t d[PKTBUF_DATA];
	uint8_t o[40];
	int8_t dseq = 0, dack = 0;
	if (deltas) {
		dseq = (int8_t)nf_u8(in);
		dack = (int8_t)nf_u8(in);
	}
	uint8_t flags = nf_u8(in);
	uint16_t win = nf_u16(in);
	uint8_t ol = read_opts(in, o);
	size_t len = nf_data(in, d, nf_u16(in), 1460);
	if (!f->lport)
		return;
	peer_send(f, flags, f->seq + (uint32_t)(int32_t)dseq, f->ack + (uint32_t)(int32_t)dack, win, o, ol, d, len);
	if (!dseq && !(flags & TCP_RST))
		f->seq += (uint32_t)len + !!(flags & TCP_SYN) + !!(flags & TCP_FIN);
}

static void op_connect(struct flow *f)
{
	if (f->lport || f->c)
		return;
	int err = 0;
	f->active = 1;
	f->c = tcp_connect(H_PEER_IP, f->pport, &a_ops, f, &err);
	h_turn();
}

static void op_synack(struct nf_in *in, struct flow *f, int no_ack)
{
	uint8_t o[40];
	uint16_t win = nf_u16(in);
	uint8_t ol = read_opts(in, o);
	int8_t dack = (int8_t)nf_u8(in);
	if (!f->active || !f->have_iss)
		return;
	peer_send(f, no_ack ? TCP_SYN : TCP_SYN | TCP_ACK, peer_syn_seq(f, 1),
		  f->iss + 1 + (uint32_t)(int32_t)dack, win, o, ol, NULL, 0);
}

/* the connection of f: the app's (active) or the harness app's (passive) */
static struct tcp_conn *conn_of(struct flow *f)
{
	if (f->active)
		return f->c;
	for (int i = 0; i < H_APP_CONNS; i++)
		if (h_app[i].used && h_app[i].c) {
			uint32_t a;
			uint16_t p;
			tcp_conn_peer(h_app[i].c, &a, &p);
			if (p == f->pport)
				return h_app[i].c;
		}
	return NULL;
}

static void op_send(struct nf_in *in, struct flow *f)
{
	static uint8_t d[20000];
	size_t len = nf_data(in, d, nf_u16(in), sizeof d);
	struct tcp_conn *c = conn_of(f);
	if (c && len)
		tcp_send(c, d, len);
	h_turn();
}

static void op_ack(struct nf_in *in, struct flow *f)
{
	uint16_t win = nf_u16(in);
	if (!f->lport || !f->have_iss)
		return;
	uint8_t o[12] = { TCPOPT_NOP, TCPOPT_NOP, TCPOPT_TS, 10 };
	uint32_t v = htonl((uint32_t)(h_now() / H_MS)), e = htonl(f->tsecr);
	memcpy(o + 4, &v, 4);
	memcpy(o + 8, &e, 4);
	peer_send(f, TCP_ACK, f->seq, f->ack, win, o, f->ts ? 12 : 0, NULL, 0);
}

static void op_app(struct flow *f, int what)
{
	struct tcp_conn *c = conn_of(f);
	if (!c)
		return;
	if (what == 0)
		tcp_close(c);
	else if (what == 1)
		tcp_abort(c);
	else if (what == 2)
		tcp_recv_update(c);
	h_turn();
}

int LLVMFuzzerTestOneInput(const uint8_t *buf, size_t size)
{
	static const uint16_t mtus[4] = { 1500, 1280, 576, 68 };
	static const uint32_t offl[4] = { 0, NETDEV_TX_CSUM, NETDEV_TX_CSUM | NETDEV_TX_TSO4,
					  NETDEV_TX_CSUM | NETDEV_TX_TSO4 };
	struct nf_in in = { buf, size };
	uint8_t setup = nf_u8(&in);
	char config[256];
	mtu = mtus[(setup >> 2) & 3];
	snprintf(config, sizeof config,
		 "{\"interfaces\": [{\"address\": \"198.18.0.2/24\", \"gateway\": \"198.18.0.1\", \"mtu\": %u}],"
		 " \"tcp\": {\"max_conns_per_core\": 8, \"send_buffer\": 16384}}", mtu);
	h_dev_offloads = offl[setup & 3];
	nf_world_init("tcp_syn", config);
	struct nf_clock clock = { 0, FUZZ_TIME_MS };
	memset(F, 0, sizeof F);
	for (int i = 0; i < NFLOWS; i++) {
		F[i].piss = F[i].seq = SEQ0 + (uint32_t)i * 1000003u;
	}
	for (int records = 0; in.n && records < 128; records++) {
		uint8_t op = nf_u8(&in);
		int i = (op >> 3) & 7, x = op >> 6;
		struct flow *f = &F[i];
		if (!f->pport)
			f->pport = (uint16_t)(PASSIVE_PORT0 + i);
		switch (op & 7) {
		case 0:
			op_syn(&in, f, x & 1);
			break;
		case 1:
			op_segment(&in, f, x & 1);
			break;
		case 2:
			if (!f->lport) {
				f->pport = (uint16_t)(ACTIVE_PORT0 + i);
				op_connect(f);
			}
			break;
		case 3:
			op_synack(&in, f, x & 1);
			break;
		case 4:
			op_send(&in, f);
			break;
		case 5:
			nf_clock_advance(&clock, nf_u16(&in));
			break;
		case 6:
			op_ack(&in, f);
			break;
		default:
			op_app(f, x);
		}
		peer_reads();
		check_conns();
	}
	if (nf_stats_print())                   /* to check what a seed reaches */
		fprintf(stderr, " conns=%u\n", net_tcp_conns(0));
	/* teardown: the apps let go, TIME_WAIT and the half-open time out */
	h_app_abort_all();
	for (int i = 0; i < NFLOWS; i++)
		if (F[i].c)
			tcp_abort(F[i].c);
	for (int s = 0; s < 90; s++) {
		h_advance_ms(1000);
		peer_reads();
	}
	if (net_tcp_conns(0))
		nf_fail("tcp_syn", "%u connections left after the app let go and 90 s", net_tcp_conns(0));
	nf_world_end("tcp_syn");
	return 0;
}
