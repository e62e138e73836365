/*
 * test_steer.c — software flow steering (net_flow_core without device
 * RSS) on the host harness: the owner queue of a flow comes from SipHash
 * keyed at net_init, so flows spread evenly over the queues, the mapping
 * changes with the key (every boot draws one), and flows an attacker
 * chose to collide under the unkeyed hash used before land everywhere.
 * The device-RSS side (the stack and the device agree) is test_rss.c's.
 */
#include <string.h>
#include "check.h"
#include "net/net_priv.h"

TestSuite(steer, .init = h_setup, .fini = h_teardown);

#define NQ 4

/* eth0 as net_flow_core sees it, with NQ queue pairs owned by cores 0..3 */
static struct net_if four_queues(void)
{
	struct net_if f;
	memset(&f, 0, sizeof f);
	f.dev = net_ifs[0].dev;
	f.nq = NQ;
	f.addr = htonl(H_OUR_IP);
	h_queue_core_is_q = 1;
	return f;
}

/* the unkeyed hash software steering used before: anyone could compute it */
static uint32_t old_core(uint32_t raddr, uint16_t rport, uint16_t lport)
{
	uint64_t h = ((uint64_t)raddr << 32) ^ ((uint64_t)rport << 16) ^ lport;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	return (uint32_t)(((h & 0xffffffffu) * NQ) >> 32);
}

Test(steer, flows_spread_evenly)
{
	struct net_if f = four_queues();
	uint32_t per[NQ] = { 0 };
	const uint32_t n = 40000;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t c = net_flow_core(&f, htonl(0xc6120001u + (i >> 12)), (uint16_t)(32768 + (i & 4095)), 80);
		cr_assert_lt(c, NQ);
		per[c]++;
	}
	for (int q = 0; q < NQ; q++)
		cr_expect(per[q] > n / NQ * 9 / 10 && per[q] < n / NQ * 11 / 10, "queue %d: %u of %u flows", q, per[q], n);
}

Test(steer, the_key_decides_and_each_init_draws_one)
{
	struct net_if f = four_queues();
	uint32_t a[64], same = 0;
	for (uint32_t i = 0; i < 64; i++) {
		a[i] = net_flow_core(&f, htonl(H_PEER_IP), (uint16_t)(40000 + i), 5001);
		cr_assert_eq(net_flow_core(&f, htonl(H_PEER_IP), (uint16_t)(40000 + i), 5001), a[i], "not a function of the flow");
	}
	net_flow_init();                        /* what the next boot does */
	for (uint32_t i = 0; i < 64; i++)
		same += net_flow_core(&f, htonl(H_PEER_IP), (uint16_t)(40000 + i), 5001) == a[i];
	/* with a new key each flow lands anywhere: all 64 the same would
	 * happen once in 4^64 */
	cr_assert_lt(same, 40, "%u of 64 flows kept their queue under a new key", same);
}

Test(steer, flows_aimed_at_one_core_under_the_old_hash_spread)
{
	struct net_if f = four_queues();
	uint32_t per[NQ] = { 0 }, n = 0;
	/* an attacker's pick: source ports that all hash to queue 0 */
	for (uint32_t p = 1024; p < 65535 && n < 4000; p++) {
		if (old_core(htonl(H_PEER_IP), (uint16_t)p, 80) != 0)
			continue;
		per[net_flow_core(&f, htonl(H_PEER_IP), (uint16_t)p, 80)]++;
		n++;
	}
	cr_assert_eq(n, 4000);
	for (int q = 0; q < NQ; q++)
		cr_expect(per[q] > 800 && per[q] < 1200, "queue %d got %u of the %u aimed flows", q, per[q], n);
}

Test(steer, ip_input_steers_by_the_same_hash)
{
	/* the harness has one queue: every flow is core 0's, and a SYN is
	 * answered where it arrived (no steering) */
	struct h_peer p;
	h_peer_init(&p, 40000, H_PORT, 0, 0, 0);
	cr_assert_eq(h_peer_connect(&p), 0);
	cr_assert_eq(H_STAT(steered_out), 0);
	cr_assert_eq(net_flow_core(&net_ifs[0], htonl(H_PEER_IP), 40000, H_PORT), 0);
}
