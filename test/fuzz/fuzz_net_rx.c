/*
 * fuzz_net_rx.c — libFuzzer target: the network stack's receive path on
 * the host harness (test/unit/net/harness.c), fed frames and events
 * decoded from the input. Nothing may crash (ASan, UBSan, the stack's
 * ASSERTs, the harness's API checks: no app callback before accept or
 * after gone, recv within recv_space), and after every input, once the
 * app has aborted what it holds and TIME_WAIT has run out, every packet
 * buffer must be back in its pool.
 *
 * The reader, clock and end-of-input checks are test/fuzz/net_fuzz.h's.
 * Each input gets a fresh world (h_fini/h_init; net_init empties the ARP
 * table; listeners and binds are static in the stack and carry over,
 * harmlessly). ISS and
 * the SYN-cookie secret are random per process, so the scripted peer
 * works in offsets from what the stack actually sent.
 *
 * Input: one set-up byte, then records until the input ends.
 *   set-up: bit 0 connect first (peer 198.18.0.1:40000 to H_PORT),
 *           bit 1 to H_PORT_SMALL instead (the app with recv_space),
 *           bit 2 no window scale/timestamps in the SYN,
 *           bit 3 the app sends 3000 bytes once connected,
 *           bit 4 the app closes from peer_closed,
 *           bit 5 the app calls tcp_recv_update from recv,
 *           bits 6-7 the app aborts from its n-th recv (0: never).
 *   record: op = byte & 7, arg = byte >> 3, then op's bytes:
 *     0 raw frame:  len16, bytes                     -> net_input
 *     1 TCP on the connection: flags, dseq16, dack16, win16, optlen8,
 *           opts, len16, data (the peer's seq/ack plus the signed deltas;
 *           data past the input is a pattern; arg bit 0: bad checksum)
 *     2 time:       ms16 -> h_advance_ms (15 min per input at most)
 *     3 app:        arg 0 send len16 bytes, 1 close, 2 abort, 3 read,
 *                   4 tcp_recv_update
 *     4 IPv4:       proto8, len16, bytes; arg bit 0: from 198.18.0.7;
 *                   arg bit 1: leave the L4 checksum as it is (else fixed)
 *     5 ARP:        op8, sender last octet, target last octet
 *     6 SYN from another port (41000 + arg), arg bit 4 set: complete the
 *       handshake
 *     7 TCP from the peer to any port: sport16, dport16, seq32, ack32,
 *       flags, win16, len16, data (checksum right)
 * After each record the peer reads what the stack sent (in-order data
 * advances its ACK) and the buffers go back to the pool.
 */
#include "net_fuzz.h"

#define FUZZ_CONFIG \
	"{\"interfaces\": [{\"address\": \"198.18.0.2/24\", \"gateway\": \"198.18.0.1\"}]," \
	" \"tcp\": {\"max_conns_per_core\": 8, \"send_buffer\": 16384}}"

/* Simulated time per input, at most: enough for every timeout (12 RTOs
 * backing off to 60 s: about 8 min). The timer wheel walks every 65 us
 * tick of it, which is most of the fuzzer's time. */
#define FUZZ_TIME_MS (15 * 60 * 1000ull)

static struct h_peer P;                 /* 198.18.0.1:40000, connected or not */

/* the peer reads the stack's frames: in-order data moves its ACK */
static void peer_reads(void)
{
	struct h_pkt k;
	while (h_next(&k)) {
		if (!k.ip || k.proto != IP_PROTO_TCP || k.sport != P.lport || k.dport != P.port)
			continue;
		if (k.ts)
			P.tsecr = k.tsval;
		if (k.flags & TCP_SYN)          /* a handshake the input made itself */
			P.ack = k.seq + 1;
		else
			h_peer_take(&P, &k);
	}
}

static void op_ip(struct nf_in *in, uint8_t arg)
{
	static uint8_t b[PKTBUF_DATA];
	uint8_t proto = nf_u8(in);
	size_t len = nf_data(in, b, nf_u16(in), PKTBUF_DATA - ETH_HLEN - 20);
	uint32_t src = (arg & 1) ? H_OTHER_IP : H_PEER_IP;
	if (!(arg & 2)) {
		uint32_t ph = (src >> 16) + (src & 0xffff) + (H_OUR_IP >> 16) + (H_OUR_IP & 0xffff) +
			      proto + (uint32_t)len;
		if (proto == IP_PROTO_TCP && len >= 20) {
			nf_put16(b + 16, 0);
			nf_put16(b + 16, nf_csum(b, len, ph));
		} else if (proto == IP_PROTO_UDP && len >= 8) {
			nf_put16(b + 6, 0);
			nf_put16(b + 6, nf_csum(b, len, ph));
		} else if (proto == IP_PROTO_ICMP && len >= 4) {
			nf_put16(b + 2, 0);
			nf_put16(b + 2, nf_csum(b, len, 0));
		}
	}
	h_rx_ip(src, proto, b, len);
}

static void op_tcp_conn(struct nf_in *in, uint8_t arg)
{
	static uint8_t b[PKTBUF_DATA];
	uint8_t opts[40];
	uint8_t flags = nf_u8(in);
	int16_t dseq = (int16_t)nf_u16(in), dack = (int16_t)nf_u16(in);
	uint16_t win = nf_u16(in);
	uint8_t ol = nf_u8(in) % 41;
	nf_take(in, opts, ol);
	size_t len = nf_data(in, b, nf_u16(in), 1460);
	struct h_tcp s = {
		.sport = P.port, .dport = P.lport, .seq = P.seq + (uint32_t)(int32_t)dseq,
		.ack = P.ack + (uint32_t)(int32_t)dack, .flags = flags, .win = win,
		.opts = opts, .optlen = (uint8_t)(ol & ~3), .data = b, .len = len, .bad_csum = arg & 1,
	};
	if (!dseq)                      /* in order: the peer's stream moves on */
		P.seq += (uint32_t)len + !!(flags & TCP_SYN) + !!(flags & TCP_FIN);
	h_rx_tcp(&s);
}

static void op_tcp_any(struct nf_in *in)
{
	static uint8_t b[PKTBUF_DATA];
	struct h_tcp s = { 0 };
	s.sport = nf_u16(in);
	s.dport = nf_u16(in);
	s.seq = nf_u32(in);
	s.ack = nf_u32(in);
	s.flags = nf_u8(in);
	s.win = nf_u16(in);
	s.len = nf_data(in, b, nf_u16(in), 1460);
	s.data = b;
	h_rx_tcp(&s);
}

static void op_app(struct nf_in *in, uint8_t arg)
{
	static uint8_t b[20000];
	struct h_app_conn *a = h_app_last();   /* the latest accepted, or NULL */
	switch (arg % 5) {
	case 0: {
		size_t len = nf_data(in, b, nf_u16(in), sizeof b);
		if (a)
			h_app_send(a, b, len);
		break;
	}
	case 1:
		if (a)
			h_app_close(a);
		break;
	case 2:
		if (a)
			h_app_abort(a);
		break;
	case 3:
		if (a)
			h_app_read(a);
		break;
	default:
		if (a && a->c) {
			tcp_recv_update(a->c);
			h_turn();
		}
	}
}

static void op_syn(uint8_t arg)
{
	struct h_peer q;
	h_peer_init(&q, (uint16_t)(41000 + (arg & 15)), H_PORT, 1, 7, 1);
	if (arg & 16)
		h_peer_connect(&q);
	else
		h_peer_syn(&q);
}

int LLVMFuzzerTestOneInput(const uint8_t *buf, size_t size)
{
	nf_world_init("net_rx", FUZZ_CONFIG);
	struct nf_in in = { buf, size };
	struct nf_clock clock = { 0, FUZZ_TIME_MS };
	uint8_t setup = nf_u8(&in);
	h_peer_init(&P, 40000, (setup & 2) ? H_PORT_SMALL : H_PORT, !(setup & 4), 7, !(setup & 4));
	if (setup & 1 && h_peer_connect(&P) == 0) {
		{
			P.app->close_on_peer_close = !!(setup & 16);
			P.app->update_on_recv = !!(setup & 32);
			P.app->abort_on_recv = setup >> 6;
			if (setup & 8) {
				static uint8_t d[3000];
				h_app_send(P.app, d, sizeof d);
			}
		}
	}
	peer_reads();
	for (int records = 0; in.n && records < 256; records++) {
		uint8_t op = nf_u8(&in), arg = op >> 3;
		switch (op & 7) {
		case 0: {
			static uint8_t f[PKTBUF_DATA];
			h_rx_raw(f, nf_take(&in, f, nf_u16(&in) % (PKTBUF_DATA + 1)));
			break;
		}
		case 1:
			op_tcp_conn(&in, arg);
			break;
		case 2:
			nf_clock_advance(&clock, nf_u16(&in));
			break;
		case 3:
			op_app(&in, arg);
			break;
		case 4:
			op_ip(&in, arg);
			break;
		case 5: {
			uint8_t aop = nf_u8(&in), s = nf_u8(&in), t = nf_u8(&in);
			static const uint8_t mac[6] = { 2, 0, 0, 0, 0, 0x42 };
			h_rx_arp(aop, mac, (H_OUR_IP & ~0xffu) | s, NULL, (H_OUR_IP & ~0xffu) | t);
			break;
		}
		case 6:
			op_syn(arg);
			break;
		default:
			op_tcp_any(&in);
		}
		peer_reads();
	}
	if (nf_stats_print())                   /* to check what a seed reaches */
		fprintf(stderr, " conns=%u\n", net_tcp_conns(0));
	/* teardown: the app lets go, TIME_WAIT runs out; then every buffer
	 * must be home */
	h_app_abort_all();
	h_advance_ms(2100);
	nf_world_end("net_rx");
	return 0;
}
