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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "harness.h"

#define FUZZ_CONFIG \
	"{\"interfaces\": [{\"address\": \"dhcp\"}]," \
	" \"tcp\": {\"max_conns_per_core\": 8, \"send_buffer\": 16384}}"
#define FUZZ_TIME_MS (2 * 24 * 3600 * 1000ull)
#define SERVER_IP H_PEER_IP

struct in {
	const uint8_t *p;
	size_t n;
};

static size_t take(struct in *in, void *out, size_t k)
{
	size_t have = in->n < k ? in->n : k;
	memset(out, 0, k);
	memcpy(out, in->p, have);
	in->p += have;
	in->n -= have;
	return have;
}

static uint8_t u8(struct in *in) { uint8_t v; take(in, &v, 1); return v; }
static uint16_t u16(struct in *in) { uint8_t v[2]; take(in, v, 2); return (uint16_t)(v[0] | v[1] << 8); }
static uint32_t u32(struct in *in) { return (uint32_t)u16(in) | (uint32_t)u16(in) << 16; }

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

static uint16_t csum(const uint8_t *p, size_t len, uint32_t sum)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void put32(uint8_t *p, uint32_t v) { put16(p, (uint16_t)(v >> 16)); put16(p + 2, (uint16_t)v); }

#define BOOTP_MAX (PKTBUF_DATA - ETH_HLEN - 20 - 8)

/* bootp (blen bytes) in Ethernet, IPv4 and UDP 67 -> 68, then net_input */
static void send_reply(const uint8_t *bootp, size_t blen, uint32_t src, uint32_t dst, int bad_csum)
{
	static uint8_t f[PKTBUF_DATA];
	memset(f, 0, ETH_HLEN + 28);
	memcpy(f, dst == 0xffffffffu ? (const uint8_t *)"\xff\xff\xff\xff\xff\xff" : H_OUR_MAC, 6);
	memcpy(f + 6, H_PEER_MAC, 6);
	put16(f + 12, ETHERTYPE_IPV4);
	uint8_t *ip = f + ETH_HLEN, *u = ip + 20;
	ip[0] = 0x45;
	put16(ip + 2, (uint16_t)(28 + blen));
	ip[8] = 64;
	ip[9] = IP_PROTO_UDP;
	put32(ip + 12, src);
	put32(ip + 16, dst);
	put16(ip + 10, csum(ip, 20, 0));
	put16(u, 67);
	put16(u + 2, 68);
	put16(u + 4, (uint16_t)(8 + blen));
	memcpy(u + 8, bootp, blen);
	uint32_t ps = (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff) + IP_PROTO_UDP +
		      (uint32_t)(8 + blen);
	put16(u + 6, csum(u, 8 + blen, ps) ^ (bad_csum ? 0x1234 : 0));
	size_t len = ETH_HLEN + 28 + blen;
	h_rx_raw(f, len < 60 ? 60 : len);
}

/* xid and chaddr of a BOOTP message, as flags bits 0-1 say */
static void patch(uint8_t *b, uint8_t flags, struct in *in)
{
	put32(b + 4, (flags & 1) ? u32(in) : client_xid);
	memcpy(b + 28, H_OUR_MAC, 6);
	if (flags & 2)
		b[33] ^= 1;
}

static void op_reply(struct in *in, uint8_t arg)
{
	static uint8_t b[BOOTP_MAX];
	uint8_t flags = u8(in);
	uint32_t yiaddr = u32(in);
	uint8_t optlen = u8(in);
	static const uint8_t types[] = { 2, 5, 6 };
	uint8_t type = (arg & 7) < 3 ? types[arg & 7] : (uint8_t)(arg & 7);
	memset(b, 0, 240);
	b[0] = 2;
	b[1] = 1;
	b[2] = 6;
	put32(b + 16, yiaddr);
	put32(b + 236, 0x63825363u);
	patch(b, flags, in);
	uint8_t *o = b + 240;
	*o++ = 53;
	*o++ = 1;
	*o++ = type;
	o += take(in, o, optlen);
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

static void op_bootp(struct in *in, uint8_t arg)
{
	static uint8_t b[BOOTP_MAX];
	size_t len = u16(in) % (BOOTP_MAX + 1);
	len = take(in, b, len);
	if (len >= 240 && !(arg & 4))
		patch(b, arg & 3, in);
	send_reply(b, len, SERVER_IP, 0xffffffffu, 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *buf, size_t size)
{
	if (h_init(FUZZ_CONFIG))
		abort();
	struct in in = { buf, size };
	uint64_t waited = 0;
	client_xid = 0;
	h_advance_ms(200);                      /* the first DISCOVER */
	client_reads();
	for (int records = 0; in.n && records < 64; records++) {
		uint8_t op = u8(&in), arg = op >> 2;
		switch (op & 3) {
		case 0:
			op_reply(&in, arg);
			break;
		case 1:
			op_bootp(&in, arg);
			break;
		case 2: {
			uint64_t ms = u32(&in);
			if (ms > FUZZ_TIME_MS - waited)
				ms = FUZZ_TIME_MS - waited;
			waited += ms;
			h_advance_ms(ms);
			break;
		}
		default: {
			static uint8_t f[PKTBUF_DATA];
			size_t len = take(&in, f, u16(&in) % (PKTBUF_DATA + 1));
			h_rx_raw(f, len);
		}
		}
		client_reads();
	}
	if (getenv("FUZZ_NET_STATS")) {         /* to check what a seed reaches */
		struct net_stats st = h_stats();
		struct net_dhcp_info di;
		net_dhcp_info(0, &di);
#define PRINT(f) if (st.f) fprintf(stderr, " " #f "=%llu", (unsigned long long)st.f);
		NET_STATS_FIELDS(PRINT)
#undef PRINT
		fprintf(stderr, " state=%s\n", di.state);
	}
	h_tx_drop_all();
	if (!h_pool_full()) {
		fprintf(stderr, "fuzz_dhcp: pktbuf leak: %u of %u buffers home (or a double free)\n",
			h_pool_avail(), H_POOL);
		abort();
	}
	h_fini();
	return 0;
}
