/*
 * fuzz_dhcp.c — libFuzzer target: the DHCP client (src/net/dhcp.c) on the
 * host harness (test/unit/net/harness.c), fed server replies decoded from
 * the input at every stage of the exchange: OFFER while selecting, ACK or
 * NAK while requesting, and, once time has run to T1 and T2, while
 * renewing and rebinding. fuzz_net_rx cannot reach the client (its
 * interface has a static address). Nothing may crash (ASan, UBSan, the
 * stack's ASSERTs), and after every input, with what was sent dropped,
 * every packet buffer must be back in its pool.
 *
 * The reader, clock and end-of-input checks are test/fuzz/net_fuzz.h's.
 * Each input gets a fresh world (h_fini/h_init) whose eth0 is
 * "address": "dhcp". The client's xid is random per process, so replies
 * carry the xid of the client's latest message unless the record asks for
 * its own.
 *
 * Input: records until the input ends (64 at most).
 *   record: op = byte & 3, arg = byte >> 2, then op's bytes:
 *     0 reply:  flags8, yiaddr32, optlen8, opts -> a BOOTREPLY with the
 *               message type (arg & 7: 0 OFFER, 1 ACK, 2 NAK, else arg)
 *               first, then the option bytes as given, then END (flags
 *               bit 5: no END). A well-formed frame around it: UDP with
 *               a right checksum (bit 4: wrong), from 198.18.0.1 (bit 3:
 *               from 198.18.0.7), to 255.255.255.255 (bit 2: to yiaddr);
 *               bit 0: xid u32 from the input, bit 1: another chaddr.
 *     1 raw BOOTP: len16, bytes, in the same frame (xid and chaddr
 *               patched as for 0 by arg's bits 0-1 unless arg bit 2).
 *     2 time:   ms32 -> h_advance_ms (two days per input at most: T1,
 *               T2 and expiry of any lease the input grants; the harness
 *               jumps over idle time, so this is cheap)
 *     3 raw frame: len16, bytes -> net_input
 */
#include "net_fuzz.h"

#define FUZZ_CONFIG \
	"{\"interfaces\": [{\"address\": \"dhcp\"}]," \
	" \"tcp\": {\"max_conns_per_core\": 8, \"send_buffer\": 16384}}"
#define FUZZ_TIME_MS (2 * 24 * 3600 * 1000ull)
#define SERVER_IP H_PEER_IP

static uint32_t client_xid;             /* of the client's latest message */

/* the client's frames: remember its xid, free the rest */
static void client_reads(void)
{
	struct h_pkt k;
	while (h_next(&k))
		if (k.ip && k.proto == IP_PROTO_UDP && k.sport == 68 && k.dport == 67 && k.plen >= 8)
			client_xid = (uint32_t)k.payload[4] << 24 | (uint32_t)k.payload[5] << 16 |
				     (uint32_t)k.payload[6] << 8 | k.payload[7];
}

#define BOOTP_MAX (PKTBUF_DATA - ETH_HLEN - 20 - 8)

/* bootp (blen bytes) in Ethernet, IPv4 and UDP 67 -> 68, then net_input */
static void send_reply(const uint8_t *bootp, size_t blen, uint32_t src, uint32_t dst, int bad_csum)
{
	static uint8_t f[PKTBUF_DATA];
	memset(f, 0, ETH_HLEN + 28);
	memcpy(f, dst == 0xffffffffu ? (const uint8_t *)"\xff\xff\xff\xff\xff\xff" : H_OUR_MAC, 6);
	memcpy(f + 6, H_PEER_MAC, 6);
	nf_put16(f + 12, ETHERTYPE_IPV4);
	uint8_t *ip = f + ETH_HLEN, *u = ip + 20;
	ip[0] = 0x45;
	nf_put16(ip + 2, (uint16_t)(28 + blen));
	ip[8] = 64;
	ip[9] = IP_PROTO_UDP;
	nf_put32(ip + 12, src);
	nf_put32(ip + 16, dst);
	nf_put16(ip + 10, nf_csum(ip, 20, 0));
	nf_put16(u, 67);
	nf_put16(u + 2, 68);
	nf_put16(u + 4, (uint16_t)(8 + blen));
	memcpy(u + 8, bootp, blen);
	uint32_t ps = (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff) + IP_PROTO_UDP +
		      (uint32_t)(8 + blen);
	nf_put16(u + 6, nf_csum(u, 8 + blen, ps) ^ (bad_csum ? 0x1234 : 0));
	size_t len = ETH_HLEN + 28 + blen;
	h_rx_raw(f, len < 60 ? 60 : len);
}

/* xid and chaddr of a BOOTP message, as flags bits 0-1 say */
static void patch(uint8_t *b, uint8_t flags, struct nf_in *in)
{
	nf_put32(b + 4, (flags & 1) ? nf_u32(in) : client_xid);
	memcpy(b + 28, H_OUR_MAC, 6);
	if (flags & 2)
		b[33] ^= 1;
}

static void op_reply(struct nf_in *in, uint8_t arg)
{
	static uint8_t b[BOOTP_MAX];
	uint8_t flags = nf_u8(in);
	uint32_t yiaddr = nf_u32(in);
	uint8_t optlen = nf_u8(in);
	static const uint8_t types[] = { 2, 5, 6 };
	uint8_t type = (arg & 7) < 3 ? types[arg & 7] : (uint8_t)(arg & 7);
	memset(b, 0, 240);
	b[0] = 2;
	b[1] = 1;
	b[2] = 6;
	nf_put32(b + 16, yiaddr);
	nf_put32(b + 236, 0x63825363u);
	patch(b, flags, in);
	uint8_t *o = b + 240;
	*o++ = 53;
	*o++ = 1;
	*o++ = type;
	o += nf_take(in, o, optlen);
	if (!(flags & 32))
		*o++ = 255;
	size_t blen = (size_t)(o - b);
	if (blen < 300) {                       /* BOOTP's minimum, zero-padded */
		memset(o, 0, 300 - blen);
		blen = 300;
	}
	send_reply(b, blen, (flags & 8) ? H_OTHER_IP : SERVER_IP, (flags & 4) ? yiaddr : 0xffffffffu,
		   flags & 16);
}

static void op_bootp(struct nf_in *in, uint8_t arg)
{
	static uint8_t b[BOOTP_MAX];
	size_t len = nf_u16(in) % (BOOTP_MAX + 1);
	len = nf_take(in, b, len);
	if (len >= 240 && !(arg & 4))
		patch(b, arg & 3, in);
	send_reply(b, len, SERVER_IP, 0xffffffffu, 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *buf, size_t size)
{
	nf_world_init("dhcp", FUZZ_CONFIG);
	struct nf_in in = { buf, size };
	struct nf_clock clock = { 0, FUZZ_TIME_MS };
	client_xid = 0;
	h_advance_ms(200);                      /* the first DISCOVER */
	client_reads();
	for (int records = 0; in.n && records < 64; records++) {
		uint8_t op = nf_u8(&in), arg = op >> 2;
		switch (op & 3) {
		case 0:
			op_reply(&in, arg);
			break;
		case 1:
			op_bootp(&in, arg);
			break;
		case 2:
			nf_clock_advance(&clock, nf_u32(&in));
			break;
		default: {
			static uint8_t f[PKTBUF_DATA];
			size_t len = nf_take(&in, f, nf_u16(&in) % (PKTBUF_DATA + 1));
			h_rx_raw(f, len);
		}
		}
		client_reads();
	}
	if (nf_stats_print()) {                 /* to check what a seed reaches */
		struct net_dhcp_info di;
		net_dhcp_info(0, &di);
		fprintf(stderr, " state=%s\n", di.state);
	}
	nf_world_end("dhcp");
	return 0;
}
