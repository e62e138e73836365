/*
 * test_rss.c — receive-side scaling (src/pkt/rss.c): the Toeplitz hash
 * against the published verification vectors (Microsoft's RSS suite, the
 * 40-byte default key; IPv4 with and without ports), the fast lookup path
 * against the bit-by-bit reference, the indirection table, and the
 * agreement that matters: the queue the stack computes for a flow from
 * its own view (remote, local) is the queue the device picks for the
 * packets it receives (source = remote, destination = local), modelled
 * here straight from the packet's bytes.
 */
#include <errno.h>
#include <string.h>
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include "pkt/rss.h"

/* The verification suite: destination, source, and the expected hashes
 * of the addresses alone and with the ports. */
static const struct {
	const char *dst;
	uint16_t dport;
	const char *src;
	uint16_t sport;
	uint32_t ipv4, tcpv4;
} vectors[] = {
	{ "161.142.100.80", 1766, "66.9.149.187", 2794, 0x323e8fc2, 0x51ccc178 },
	{ "65.69.140.83", 4739, "199.92.111.2", 14230, 0xd718262a, 0xc626b0ea },
	{ "12.22.207.184", 38024, "24.19.198.95", 12898, 0xd2d0a5de, 0x5c2b394a },
	{ "209.142.163.6", 2217, "38.27.205.30", 48228, 0x82989176, 0xafc7327f },
	{ "202.188.127.2", 1303, "153.39.163.191", 44251, 0x5d1809c5, 0x10e828a2 },
};
#define NVEC (sizeof vectors / sizeof vectors[0])

static uint32_t addr(const char *s)
{
	struct in_addr a;
	cr_assert_eq(inet_pton(AF_INET, s, &a), 1, "%s", s);
	return a.s_addr;                        /* network order */
}

/* The hash input in wire order: source, destination, ports. */
static size_t tuple(uint8_t *in, uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport, int ports)
{
	memcpy(in, &src, 4);
	memcpy(in + 4, &dst, 4);
	if (!ports)
		return 8;
	uint16_t sp = htons(sport), dp = htons(dport);
	memcpy(in + 8, &sp, 2);
	memcpy(in + 10, &dp, 2);
	return 12;
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 16);
}

Test(rss, verification_vectors_ipv4)
{
	for (size_t i = 0; i < NVEC; i++) {
		uint8_t in[12];
		uint32_t s = addr(vectors[i].src), d = addr(vectors[i].dst);
		size_t n = tuple(in, s, d, 0, 0, 0);
		cr_expect_eq(rss_toeplitz(rss_default_key, in, n), vectors[i].ipv4,
			     "vector %zu, addresses only: 0x%08x", i, rss_toeplitz(rss_default_key, in, n));
		n = tuple(in, s, d, vectors[i].sport, vectors[i].dport, 1);
		cr_expect_eq(rss_toeplitz(rss_default_key, in, n), vectors[i].tcpv4,
			     "vector %zu, with ports: 0x%08x", i, rss_toeplitz(rss_default_key, in, n));
	}
}

Test(rss, fast_path_matches_vectors)
{
	static struct rss_conf c;
	cr_assert_eq(rss_conf_init(&c, rss_default_key, 128, 4, RSS_TYPE_IPV4 | RSS_TYPE_TCPV4 | RSS_TYPE_UDPV4), 0);
	for (size_t i = 0; i < NVEC; i++) {
		uint32_t h = rss_hash_v4(&c, addr(vectors[i].src), addr(vectors[i].dst),
					 vectors[i].sport, vectors[i].dport);
		cr_expect_eq(h, vectors[i].tcpv4, "vector %zu: 0x%08x", i, h);
	}
}

Test(rss, fast_path_matches_reference_under_any_key)
{
	static struct rss_conf c;
	uint8_t key[RSS_KEY_LEN];
	for (int round = 0; round < 4; round++) {
		for (int i = 0; i < RSS_KEY_LEN; i++)
			key[i] = (uint8_t)rnd();
		cr_assert_eq(rss_conf_init(&c, key, 64, 3, RSS_TYPE_TCPV4), 0);
		for (int k = 0; k < 2000; k++) {
			uint32_t s = rnd(), d = rnd();
			uint16_t sp = (uint16_t)rnd(), dp = (uint16_t)rnd();
			uint8_t in[12];
			tuple(in, s, d, sp, dp, 1);
			cr_assert_eq(rss_hash_v4(&c, s, d, sp, dp), rss_toeplitz(key, in, 12),
				     "round %d flow %d", round, k);
		}
	}
}

Test(rss, table_spreads_round_robin_and_masks_the_hash)
{
	static struct rss_conf c;
	cr_assert_eq(rss_conf_init(&c, rss_default_key, 128, 3, RSS_TYPE_TCPV4), 0);
	int per[3] = { 0 };
	for (int i = 0; i < 128; i++) {
		cr_assert_lt(c.table[i], 3);
		cr_expect_eq(c.table[i], i % 3);
		per[c.table[i]]++;
	}
	for (int q = 0; q < 3; q++)
		cr_expect(per[q] == 42 || per[q] == 43, "queue %d has %d entries", q, per[q]);
	/* only the low bits index the table, as the device does */
	cr_expect_eq(rss_queue(&c, 0x12345605u), c.table[5]);
	cr_expect_eq(rss_queue(&c, 0xffffff85u), c.table[5]);
	cr_expect_eq(rss_queue(&c, 0x0000007fu), c.table[127]);
}

Test(rss, bad_tables_are_refused)
{
	static struct rss_conf c;
	cr_expect_eq(rss_conf_init(&c, rss_default_key, 0, 2, 0), -EINVAL);
	cr_expect_eq(rss_conf_init(&c, rss_default_key, 100, 2, 0), -EINVAL, "not a power of two");
	cr_expect_eq(rss_conf_init(&c, rss_default_key, 256, 2, 0), -EINVAL, "over RSS_TABLE_MAX");
	cr_expect_eq(rss_conf_init(&c, rss_default_key, 128, 0, 0), -EINVAL, "no queue");
	cr_expect_eq(rss_conf_init(&c, rss_default_key, 1, 1, 0), 0, "one entry is a table");
	cr_expect_eq(rss_queue(&c, 0xdeadbeef), 0);
}

/* A TCP or UDP packet as the device receives it: Ethernet, IPv4 (no
 * options), then the ports. */
static void frame(uint8_t *f, uint8_t proto, uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport)
{
	memset(f, 0, 64);
	f[12] = 0x08;                           /* IPv4 */
	f[14] = 0x45;
	f[14 + 9] = proto;
	memcpy(f + 14 + 12, &src, 4);
	memcpy(f + 14 + 16, &dst, 4);
	uint16_t sp = htons(sport), dp = htons(dport);
	memcpy(f + 34, &sp, 2);
	memcpy(f + 36, &dp, 2);
}

/* The device: the hash of the packet's own bytes (addresses at IP
 * offset 12, ports right after the header), then the table. */
static uint16_t device_queue(const struct rss_conf *c, const uint8_t *f)
{
	uint8_t in[12];
	memcpy(in, f + 14 + 12, 8);
	memcpy(in + 8, f + 34, 4);
	return rss_queue(c, rss_toeplitz(c->key, in, sizeof in));
}

Test(rss, stack_and_device_agree_on_every_flow)
{
	static struct rss_conf c;
	uint8_t key[RSS_KEY_LEN];
	for (int i = 0; i < RSS_KEY_LEN; i++)
		key[i] = (uint8_t)rnd();
	for (uint16_t nq = 2; nq <= 4; nq++) {
		cr_assert_eq(rss_conf_init(&c, key, 128, nq, RSS_TYPE_IPV4 | RSS_TYPE_TCPV4 | RSS_TYPE_UDPV4), 0);
		uint32_t local = addr("198.18.0.2");
		int reversed_differs = 0, per[4] = { 0 };
		for (int k = 0; k < 4000; k++) {
			uint32_t remote = htonl(0xc6120000u | (rnd() & 0xffff));     /* 198.18.x.y */
			uint16_t rport = (uint16_t)(1024 + rnd() % 60000), lport = k & 1 ? 7 : (uint16_t)rnd();
			uint8_t f[64];
			frame(f, k & 2 ? 6 : 17, remote, local, rport, lport);
			/* the stack's view, as ip_input reads it: raddr = ip->src,
			 * rport = the first port, lport = the second */
			uint32_t ip_src;
			uint16_t p0, p1;
			memcpy(&ip_src, f + 14 + 12, 4);
			memcpy(&p0, f + 34, 2);
			memcpy(&p1, f + 36, 2);
			uint16_t q = rss_flow_queue(&c, ip_src, local, ntohs(p0), ntohs(p1));
			cr_assert_eq(q, device_queue(&c, f), "nq %u flow %d: stack %u, device %u", nq, k, q,
				     device_queue(&c, f));
			cr_assert_lt(q, nq);
			per[q]++;
			/* the test would see a mix-up of the two ends */
			reversed_differs += rss_flow_queue(&c, local, ip_src, ntohs(p1), ntohs(p0)) != q;
		}
		cr_expect_gt(reversed_differs, 4000 / 4, "nq %u: swapping the ends moves flows", nq);
		for (uint16_t q = 0; q < nq; q++)
			cr_expect(per[q] > 4000 / nq / 2, "nq %u: queue %u got %d of 4000 flows", nq, q, per[q]);
	}
}
