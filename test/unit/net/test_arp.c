/*
 * test_arp.c — ARP on the host harness: requests for our address are
 * answered and teach us the sender; a miss drops the packet (counted)
 * and asks, at most once a second per address; replies to our request
 * are learned; ARP for other hosts is neither answered nor learned from;
 * malformed ARP is counted; a gratuitous ARP goes out at start; entries
 * expire and the sweep drops them; an entry in use is refreshed before
 * it expires, so a busy flow never misses. Sender checks: bad senders
 * (broadcast, multicast, loopback, off the subnet unasked, group MACs)
 * are neither learned nor answered, a probe is answered, a sender with
 * our address is a conflict we defend once per 10 s, a resolved gateway
 * is pinned while it lives; entries belong to their interface (two
 * devices on two networks that share a subnet); learning is
 * rate-limited and never evicts the gateway. And 802.1Q (suite vlan): on
 * an interface with "vlan": 42, frames tagged 42 are taken and untagged,
 * all we send is tagged 42, other tags and untagged frames are counted
 * and dropped.
 */
#include <string.h>
#include "check.h"
#include "net/net_priv.h"

TestSuite(arp, .init = h_setup, .fini = h_teardown);

static const uint8_t OTHER_MAC[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x07 };

/* an echo request from src: did a reply go out, to which MAC? */
static int ping_from(uint32_t src, uint8_t mac_out[6])
{
	uint8_t m[16] = { ICMP_ECHO_REQUEST, 0, 0, 0, 0, 1, 0, 1, 'p', 'i', 'n', 'g', 0, 0, 0, 0 };
	uint32_t sum = 0;
	for (int i = 0; i < 16; i += 2)
		sum += (uint32_t)(m[i] << 8 | m[i + 1]);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	m[2] = (uint8_t)(~sum >> 8);
	m[3] = (uint8_t)~sum;
	h_rx_ip(src, IP_PROTO_ICMP, m, sizeof m);
	struct h_pkt k;
	while (h_next(&k))
		if (k.ip && k.proto == IP_PROTO_ICMP) {
			memcpy(mac_out, k.eth->dst, 6);
			return 1;
		}
	return 0;
}

Test(arp, request_for_us_is_answered)
{
	struct net_stats s0 = h_stats();
	h_rx_arp(ARP_REQUEST, OTHER_MAC, H_OTHER_IP, NULL, H_OUR_IP);
	struct h_pkt k;
	cr_assert(h_next(&k), "no ARP reply");
	cr_assert_not_null(k.arp);
	cr_assert_eq(k.len, 60, "padded to the minimum frame");
	cr_assert_eq(memcmp(k.eth->dst, OTHER_MAC, 6), 0);
	cr_assert_eq(memcmp(k.eth->src, H_OUR_MAC, 6), 0);
	cr_assert_eq(ntohs(k.arp->op), ARP_REPLY);
	cr_assert_eq(ntohs(k.arp->htype), 1);
	cr_assert_eq(ntohs(k.arp->ptype), ETHERTYPE_IPV4);
	cr_assert_eq(memcmp(k.arp->sha, H_OUR_MAC, 6), 0);
	cr_assert_eq(ntohl(k.arp->spa), H_OUR_IP);
	cr_assert_eq(memcmp(k.arp->tha, OTHER_MAC, 6), 0);
	cr_assert_eq(ntohl(k.arp->tpa), H_OTHER_IP);
	cr_assert_not(h_next(&k), "one reply only");
	struct net_stats s = h_stats();
	cr_assert_eq(s.rx_arp - s0.rx_arp, 1);
	cr_assert_eq(s.tx_arp - s0.tx_arp, 1);
}

Test(arp, requester_is_learned)
{
	uint8_t mac[6];
	h_rx_arp(ARP_REQUEST, OTHER_MAC, H_OTHER_IP, NULL, H_OUR_IP);
	h_tx_drop_all();
	cr_assert(ping_from(H_OTHER_IP, mac), "no echo reply: the requester was not learned");
	cr_assert_eq(memcmp(mac, OTHER_MAC, 6), 0);
	cr_assert_eq(H_STAT(arp_miss_drop), 0);
}

Test(arp, miss_drops_and_asks_then_reply_is_learned)
{
	uint8_t mac[6];
	cr_assert_not(ping_from(H_OTHER_IP, mac), "answered an unknown host");
	cr_assert_eq(H_STAT(arp_miss_drop), 1);
	/* ping_from consumed the frames; look again for the request (a
	 * second later: a core asks for one address once a second at most) */
	h_tx_drop_all();
	h_advance_ms(1100);
	uint8_t m[8] = { ICMP_ECHO_REQUEST, 0, 0xf7, 0xff, 0, 0, 0, 0 };   /* valid csum */
	h_rx_ip(H_OTHER_IP, IP_PROTO_ICMP, m, sizeof m);
	struct h_pkt k;
	cr_assert(h_next(&k), "no ARP request on a miss");
	cr_assert_not_null(k.arp);
	cr_assert_eq(ntohs(k.arp->op), ARP_REQUEST);
	cr_assert_eq(memcmp(k.eth->dst, "\xff\xff\xff\xff\xff\xff", 6), 0);
	cr_assert_eq(ntohl(k.arp->tpa), H_OTHER_IP);
	cr_assert_eq(ntohl(k.arp->spa), H_OUR_IP);
	cr_assert_eq(memcmp(k.arp->sha, H_OUR_MAC, 6), 0);
	cr_assert_not(h_next(&k));
	h_rx_arp(ARP_REPLY, OTHER_MAC, H_OTHER_IP, H_OUR_MAC, H_OUR_IP);
	cr_assert_not(h_next(&k), "a reply is not answered");
	cr_assert(ping_from(H_OTHER_IP, mac), "the reply was not learned");
	cr_assert_eq(memcmp(mac, OTHER_MAC, 6), 0);
}

Test(arp, request_for_another_host_is_ignored)
{
	uint8_t mac[6];
	h_rx_arp(ARP_REQUEST, OTHER_MAC, H_OTHER_IP, NULL, 0xc6120009u);
	struct h_pkt k;
	cr_assert_not(h_next(&k), "answered for 198.18.0.9");
	cr_assert_not(ping_from(H_OTHER_IP, mac), "learned from a request not for us");
}

static const uint8_t NEW_MAC[6] = { 0x02, 0, 0, 0, 0, 0x99 };

Test(arp, known_host_is_refreshed_by_gratuitous_arp)
{
	uint8_t mac[6];
	/* a host we know (not a gateway: see the next test) moves to a new MAC */
	h_rx_arp(ARP_REQUEST, OTHER_MAC, H_OTHER_IP, NULL, H_OUR_IP);
	h_tx_drop_all();
	h_rx_arp(ARP_REQUEST, NEW_MAC, H_OTHER_IP, NULL, H_OTHER_IP);
	h_tx_drop_all();
	cr_assert(ping_from(H_OTHER_IP, mac));
	cr_assert_eq(memcmp(mac, NEW_MAC, 6), 0);
}

Test(arp, the_gateway_is_pinned_while_it_lives)
{
	uint8_t mac[6];
	/* the gateway (the peer, known since h_init): another MAC claims it
	 * by gratuitous ARP, by request and by an unasked reply */
	h_rx_arp(ARP_REQUEST, NEW_MAC, H_PEER_IP, NULL, H_PEER_IP);
	h_rx_arp(ARP_REQUEST, NEW_MAC, H_PEER_IP, NULL, H_OUR_IP);
	h_rx_arp(ARP_REPLY, NEW_MAC, H_PEER_IP, H_OUR_MAC, H_OUR_IP);
	h_tx_drop_all();
	cr_assert(ping_from(H_PEER_IP, mac));
	cr_assert_eq(memcmp(mac, H_PEER_MAC, 6), 0, "the gateway's MAC was taken over");
	cr_assert_eq(H_STAT(arp_gw_kept), 3);
	/* its own MAC refreshes it: 200 s on, a gratuitous ARP from it, and
	 * at 400 s (past the first lifetime) it is still there */
	h_advance_ms(200 * 1000);
	h_rx_arp(ARP_REQUEST, H_PEER_MAC, H_PEER_IP, NULL, H_PEER_IP);
	h_advance_ms(200 * 1000);
	h_tx_drop_all();
	h_peer_answers_arp = 0;
	cr_assert(ping_from(H_PEER_IP, mac), "the refresh from its own MAC was not taken");
	cr_assert_eq(memcmp(mac, H_PEER_MAC, 6), 0);
	/* a real change of MAC is learned once the pinned entry expires: a
	 * miss asks, the new MAC answers */
	h_advance_ms(301 * 1000);
	h_tx_drop_all();
	cr_assert_not(ping_from(H_PEER_IP, mac));
	h_rx_arp(ARP_REPLY, NEW_MAC, H_PEER_IP, H_OUR_MAC, H_OUR_IP);
	h_tx_drop_all();
	cr_assert(ping_from(H_PEER_IP, mac));
	cr_assert_eq(memcmp(mac, NEW_MAC, 6), 0);
}

Test(arp, bad_senders_are_neither_learned_nor_answered)
{
	static const uint32_t bad[] = {
		0xffffffffu, 0xe0000005u, 0xf0000001u, 0x7f000001u, 0x00000001u,
		0xc61200ffu,                    /* our subnet's broadcast */
		0xc6120000u,                    /* its network address */
		0x0a010203u,                    /* off the subnet, unasked */
	};
	const int n = sizeof bad / sizeof bad[0];
	for (int i = 0; i < n; i++)
		h_rx_arp(ARP_REQUEST, OTHER_MAC, bad[i], NULL, H_OUR_IP);
	static const uint8_t GROUP_MAC[6] = { 0x01, 0, 0x5e, 0, 0, 1 }, ZERO_MAC[6] = { 0 };
	h_rx_arp(ARP_REQUEST, GROUP_MAC, H_OTHER_IP, NULL, H_OUR_IP);
	h_rx_arp(ARP_REQUEST, ZERO_MAC, H_OTHER_IP, NULL, H_OUR_IP);
	struct h_pkt k;
	cr_assert_not(h_next(&k), "answered a bad sender");
	cr_assert_eq(H_STAT(drop_arp_bad), n + 2);
	cr_assert_eq(net_arp_entries(), 1, "learned a bad sender");
	/* a probe (sender 0.0.0.0, RFC 5227) for our address is answered,
	 * not learned */
	h_rx_arp(ARP_REQUEST, OTHER_MAC, 0, NULL, H_OUR_IP);
	cr_assert(h_next(&k), "a probe for our address went unanswered");
	cr_assert_not_null(k.arp);
	cr_assert_eq(ntohs(k.arp->op), ARP_REPLY);
	cr_assert_eq(memcmp(k.eth->dst, OTHER_MAC, 6), 0);
	cr_assert_eq(ntohl(k.arp->spa), H_OUR_IP);
	cr_assert_eq(net_arp_entries(), 1);
}

Test(arp, a_sender_with_our_address_is_a_conflict)
{
	struct h_pkt k;
	h_rx_arp(ARP_REQUEST, OTHER_MAC, H_OUR_IP, NULL, H_OTHER_IP);
	cr_assert(h_next(&k), "we did not defend our address");
	cr_assert_not_null(k.arp);
	cr_assert_eq(ntohs(k.arp->op), ARP_REQUEST);
	cr_assert_eq(memcmp(k.eth->dst, "\xff\xff\xff\xff\xff\xff", 6), 0);
	cr_assert_eq(ntohl(k.arp->spa), H_OUR_IP);
	cr_assert_eq(ntohl(k.arp->tpa), H_OUR_IP);
	cr_assert_not(h_next(&k));
	/* again within 10 s: counted, not defended (no ARP storm) */
	h_rx_arp(ARP_REPLY, OTHER_MAC, H_OUR_IP, H_OUR_MAC, H_OUR_IP);
	h_rx_arp(ARP_REQUEST, OTHER_MAC, H_OUR_IP, NULL, H_OUR_IP);
	cr_assert_not(h_next(&k));
	cr_assert_eq(H_STAT(arp_conflict), 3);
	cr_assert_eq(net_arp_entries(), 1);
	h_advance_ms(10 * 1000);
	h_tx_drop_all();
	h_rx_arp(ARP_REQUEST, OTHER_MAC, H_OUR_IP, NULL, H_OTHER_IP);
	cr_assert(h_next(&k), "not defended again after 10 s");
	cr_assert_eq(ntohl(k.arp->spa), H_OUR_IP);
	/* our own announcement coming back is no conflict */
	h_rx_arp(ARP_REQUEST, H_OUR_MAC, H_OUR_IP, NULL, H_OUR_IP);
	cr_assert_eq(H_STAT(arp_conflict), 4);
}

Test(arp, an_on_link_host_off_the_subnet_is_learned_only_when_asked)
{
	uint8_t mac[6];
	h_fini();
	cr_assert_eq(h_init("{\"interfaces\": [{\"address\": \"198.18.0.2/24\"}]}"), 0);
	/* no gateway: 192.168.1.1 is on-link (net_next_hop) */
	h_rx_arp(ARP_REQUEST, OTHER_MAC, 0xc0a80102u, NULL, H_OUR_IP);
	struct h_pkt k;
	cr_assert_not(h_next(&k), "answered an unasked sender off the subnet");
	cr_assert_not(ping_from(0xc0a80101u, mac));
	cr_assert_eq(H_STAT(arp_miss_drop), 1);
	h_rx_arp(ARP_REPLY, OTHER_MAC, 0xc0a80101u, H_OUR_MAC, H_OUR_IP);
	h_tx_drop_all();
	cr_assert(ping_from(0xc0a80101u, mac), "the reply to our request was not learned");
	cr_assert_eq(memcmp(mac, OTHER_MAC, 6), 0);
	cr_assert_eq(H_STAT(drop_arp_bad), 1);
}

/* a ping from src to dst on device dev: did a reply go out, on which
 * device, to which MAC? */
static int ping_on(int dev, uint32_t src, uint32_t dst, uint8_t mac_out[6], int *dev_out)
{
	uint8_t m[12] = { ICMP_ECHO_REQUEST, 0, 0, 0, 0, 1, 0, 2, 't', 'w', 'o', '!' };
	uint16_t c = net_csum(m, sizeof m, 0);
	memcpy(m + 2, &c, 2);
	h_rx_dev = dev;
	h_rx_ip_to(src, dst, IP_PROTO_ICMP, m, sizeof m);
	h_rx_dev = 0;
	struct h_pkt k;
	while (h_next(&k))
		if (k.ip && k.proto == IP_PROTO_ICMP) {
			memcpy(mac_out, k.eth->dst, 6);
			*dev_out = k.ifindex;
			return 1;
		}
	return 0;
}

/* Two isolated networks that both use 198.18.0.0/24 (two customers'
 * LANs, say): 198.18.0.7 is a different host on each. */
#define TWO_NICS \
	"{\"interfaces\": [{\"address\": \"198.18.0.2/24\", \"gateway\": \"198.18.0.1\"}," \
	" {\"address\": \"198.18.0.3/24\"}]}"
#define ETH1_IP 0xc6120003u

Test(arp, entries_belong_to_their_interface)
{
	uint8_t mac[6];
	int dev;
	static const uint8_t MAC_B[6] = { 0x02, 0, 0, 0, 0, 0xbb };
	h_fini();
	h_ndevs = 2;
	cr_assert_eq(h_init(TWO_NICS), 0);
	/* 198.18.0.7 on eth1 asks for eth1's address: answered there */
	h_rx_arp_on(1, ARP_REQUEST, MAC_B, H_OTHER_IP, NULL, ETH1_IP);
	struct h_pkt k;
	cr_assert(h_next(&k));
	cr_assert_eq(k.ifindex, 1, "answered on the wrong device");
	cr_assert_not_null(k.arp);
	cr_assert_eq(memcmp(k.arp->sha, H_OUR_MAC1, 6), 0);
	cr_assert_eq(ntohl(k.arp->spa), ETH1_IP);
	cr_assert_eq(memcmp(k.eth->dst, MAC_B, 6), 0);
	cr_assert_not(h_next(&k));
	/* eth0's 198.18.0.7 is another host: eth1's entry must not serve it */
	h_peer_answers_arp = 0;
	cr_assert_not(ping_on(0, H_OTHER_IP, H_OUR_IP, mac, &dev), "used eth1's entry on eth0");
	cr_assert_eq(H_STAT(arp_miss_drop), 1);
	h_tx_drop_all();
	h_rx_arp_on(0, ARP_REQUEST, OTHER_MAC, H_OTHER_IP, NULL, H_OUR_IP);
	h_tx_drop_all();
	cr_assert_eq(net_arp_entries(), 3, "the peer, and 198.18.0.7 once per interface");
	cr_assert(ping_on(0, H_OTHER_IP, H_OUR_IP, mac, &dev));
	cr_assert_eq(dev, 0);
	cr_assert_eq(memcmp(mac, OTHER_MAC, 6), 0);
	cr_assert(ping_on(1, H_OTHER_IP, ETH1_IP, mac, &dev));
	cr_assert_eq(dev, 1);
	cr_assert_eq(memcmp(mac, MAC_B, 6), 0);
	/* a gratuitous ARP on eth1 moves eth1's host only */
	h_rx_arp_on(1, ARP_REQUEST, NEW_MAC, H_OTHER_IP, NULL, H_OTHER_IP);
	cr_assert(ping_on(0, H_OTHER_IP, H_OUR_IP, mac, &dev));
	cr_assert_eq(memcmp(mac, OTHER_MAC, 6), 0);
	cr_assert(ping_on(1, H_OTHER_IP, ETH1_IP, mac, &dev));
	cr_assert_eq(memcmp(mac, NEW_MAC, 6), 0);
	/* eth0's address claimed on eth1 is a conflict too */
	h_rx_arp_on(1, ARP_REQUEST, MAC_B, H_OUR_IP, NULL, ETH1_IP);
	cr_assert_not(h_next(&k));
	cr_assert_eq(H_STAT(arp_conflict), 1);
}

static void mac_of(uint8_t mac[6], uint32_t i)
{
	mac[0] = 0x02;
	mac[1] = 0x42;
	mac[2] = (uint8_t)(i >> 24);
	mac[3] = (uint8_t)(i >> 16);
	mac[4] = (uint8_t)(i >> 8);
	mac[5] = (uint8_t)i;
}

Test(arp, learning_is_rate_limited_and_the_gateway_survives_a_flood)
{
	uint8_t mac[6];
	h_fini();
	cr_assert_eq(h_init("{\"interfaces\": [{\"address\": \"198.18.0.2/16\", \"gateway\": \"198.18.0.1\"}]}"), 0);
	/* 1000 new senders at one instant: each a republish that waits for
	 * every core, were it not for the limit */
	uint32_t q0 = h_quiesces;
	for (uint32_t i = 0; i < 1000; i++) {
		mac_of(mac, i);
		h_rx_arp(ARP_REQUEST, mac, 0xc6120100u + i, NULL, H_OUR_IP);
		h_tx_drop_all();                /* each is answered all the same */
	}
	uint32_t learned = net_arp_entries() - 1;
	/* the burst (64) less the reserve (16) less the peer h_init taught */
	cr_assert_eq(learned, 47, "%u learned at once", learned);
	cr_assert_eq(h_quiesces - q0, 47, "%u republishes", h_quiesces - q0);
	cr_assert_eq(H_STAT(arp_learn_limited), 1000 - 47);
	cr_assert_eq(H_STAT(tx_arp), 2 + 1000, "the requests were still answered");
	/* the reserve: the gateway's refresh is taken at once */
	h_advance_ms(200 * 1000);               /* past half its life; the bucket is full again */
	for (uint32_t i = 1000; i < 1100; i++) {
		mac_of(mac, i);
		h_rx_arp(ARP_REQUEST, mac, 0xc6120100u + i, NULL, H_OUR_IP);
		h_tx_drop_all();
	}
	uint64_t limited = H_STAT(arp_learn_limited);
	h_rx_arp(ARP_REQUEST, H_PEER_MAC, H_PEER_IP, NULL, H_OUR_IP);
	h_tx_drop_all();
	cr_assert_eq(H_STAT(arp_learn_limited), limited, "the gateway's refresh was refused");
	h_advance_ms(150 * 1000);               /* 350 s after h_init taught it */
	h_tx_drop_all();
	h_peer_answers_arp = 0;
	cr_assert(ping_from(H_PEER_IP, mac));
	cr_assert_eq(memcmp(mac, H_PEER_MAC, 6), 0);
}

Test(arp, a_full_table_never_evicts_the_gateway)
{
	uint8_t mac[6];
	h_fini();
	cr_assert_eq(h_init("{\"interfaces\": [{\"address\": \"198.18.0.2/16\", \"gateway\": \"198.18.0.1\"}]}"), 0);
	/* the gateway, taught by h_init, is the oldest entry: fill the
	 * table over a few seconds (the limit lets 64 a second through) */
	for (uint32_t i = 2000; i < 2400; i++) {
		if (i % 40 == 0)
			h_advance_ms(1000);
		mac_of(mac, i);
		h_rx_arp(ARP_REQUEST, mac, 0xc6120100u + i, NULL, H_OUR_IP);
		h_tx_drop_all();
	}
	cr_assert_eq(net_arp_entries(), 256);
	const struct arp_entry *gw = arp_lookup(&net_ifs[0], htonl(H_PEER_IP));
	cr_assert_not_null(gw, "the gateway was evicted");
	cr_assert_eq(memcmp(gw->mac, H_PEER_MAC, 6), 0);
}

Test(arp, entries_expire)
{
	uint8_t mac[6];
	h_advance_ms(301 * 1000);               /* past the 300 s lifetime */
	h_tx_drop_all();
	cr_assert_not(ping_from(H_PEER_IP, mac), "used an expired entry");
	cr_assert_eq(H_STAT(arp_miss_drop), 1);
}

Test(arp, malformed_is_counted)
{
	uint8_t f[60] = { 0 };
	struct eth_hdr *e = (void *)f;
	memcpy(e->dst, H_OUR_MAC, 6);
	memcpy(e->src, OTHER_MAC, 6);
	e->type = htons(ETHERTYPE_ARP);
	h_rx_raw(f, ETH_HLEN + 20);             /* shorter than an ARP header */
	struct arp_hdr *a = (void *)(e + 1);
	a->htype = htons(1);
	a->ptype = htons(ETHERTYPE_IPV4);
	a->hlen = 8;                            /* not Ethernet */
	a->plen = 4;
	a->op = htons(ARP_REQUEST);
	a->tpa = htonl(H_OUR_IP);
	h_rx_raw(f, sizeof f);
	struct h_pkt k;
	cr_assert_not(h_next(&k));
	cr_assert_eq(H_STAT(drop_short), 2);
}

Test(arp, a_miss_asks_once_a_second_however_busy)
{
	uint8_t mac[6];
	h_peer_answers_arp = 0;
	uint64_t tx0 = H_STAT(tx_arp);
	for (int i = 0; i < 50; i++)            /* 50 packets within 10 ms */
		ping_from(H_OTHER_IP, mac);
	cr_assert_eq(H_STAT(arp_miss_drop), 50);
	cr_assert_eq(H_STAT(tx_arp) - tx0, 1, "one request, not one per packet");
	h_advance_ms(1100);
	ping_from(H_OTHER_IP, mac);
	cr_assert_eq(H_STAT(tx_arp) - tx0, 2, "asks again after a second");
}

Test(arp, gratuitous_arp_at_start)
{
	/* h_init drops what the stack sent; its counters remain: the
	 * announcement at start, then the reply to the peer's request */
	cr_assert_eq(H_STAT(tx_arp), 2);
}

Test(arp, gratuitous_arp_frame)
{
	/* a fresh world whose h_init keeps what the stack sent at start is
	 * not available: make the announcement again as net_init does */
	net_arp_announce(&net_ifs[0]);
	h_turn();
	struct h_pkt k;
	cr_assert(h_next(&k), "no gratuitous ARP");
	cr_assert_not_null(k.arp);
	cr_assert_eq(ntohs(k.arp->op), ARP_REQUEST);
	cr_assert_eq(memcmp(k.eth->dst, "\xff\xff\xff\xff\xff\xff", 6), 0);
	cr_assert_eq(ntohl(k.arp->spa), H_OUR_IP);
	cr_assert_eq(ntohl(k.arp->tpa), H_OUR_IP, "sender and target: our own address");
}

Test(arp, a_core_that_misses_the_quiescent_point_keeps_the_old_copy_safe)
{
	/* a publish whose wait times out (a vCPU the host did not run): the
	 * copy it replaced may still be read, so the next change waits again
	 * first; while that wait times out too the change is refused (counted
	 * with the rate limit's) and the table stays as it is */
	uint8_t mac[6];
	uint32_t n0 = net_arp_entries();
	h_quiesce_timeouts = 1;
	mac_of(mac, 1);
	h_rx_arp(ARP_REQUEST, mac, H_OTHER_IP, NULL, H_OUR_IP);
	h_tx_drop_all();
	cr_assert_eq(net_arp_entries(), n0 + 1, "learned; its publish's wait timed out");
	uint64_t limited = H_STAT(arp_learn_limited);
	uint32_t q = h_quiesces;
	h_quiesce_timeouts = 1;
	mac_of(mac, 2);
	h_rx_arp(ARP_REQUEST, mac, H_OTHER_IP + 1, NULL, H_OUR_IP);
	h_tx_drop_all();
	cr_assert_eq(net_arp_entries(), n0 + 1, "the old copy was rewritten while owed");
	cr_assert_eq(H_STAT(arp_learn_limited), limited + 1);
	cr_assert_eq(h_quiesces - q, 1, "only the owed wait");
	q = h_quiesces;
	mac_of(mac, 3);
	h_rx_arp(ARP_REQUEST, mac, H_OTHER_IP + 2, NULL, H_OUR_IP);
	h_tx_drop_all();
	cr_assert_eq(net_arp_entries(), n0 + 2, "every core passed: learned");
	cr_assert_eq(h_quiesces - q, 2, "the owed wait, then the publish's");
	q = h_quiesces;
	mac_of(mac, 4);
	h_rx_arp(ARP_REQUEST, mac, H_OTHER_IP + 3, NULL, H_OUR_IP);
	h_tx_drop_all();
	cr_assert_eq(net_arp_entries(), n0 + 3);
	cr_assert_eq(h_quiesces - q, 1, "owed no more: one wait a change");
	cr_assert_eq(H_STAT(arp_learn_limited), limited + 1);
}

Test(arp, the_sweep_drops_expired_entries)
{
	cr_assert_eq(net_arp_entries(), 1, "the peer, learned in h_init");
	h_advance_ms(301 * 1000);               /* expired, and a sweep (every 60 s) ran */
	cr_assert_eq(net_arp_entries(), 0);
	cr_assert_eq(H_STAT(arp_expired), 1);
}

Test(arp, an_entry_in_use_is_refreshed_before_it_expires)
{
	uint8_t mac[6];
	/* a flow to the peer, one packet every 5 s for 20 minutes: four
	 * lifetimes of the entry */
	for (int i = 0; i < 240; i++) {
		h_advance_ms(5000);
		cr_assert(ping_from(H_PEER_IP, mac), "no echo reply at %d s", 5 * (i + 1));
		cr_assert_eq(memcmp(mac, H_PEER_MAC, 6), 0);
	}
	cr_assert_eq(H_STAT(arp_miss_drop), 0, "the busy flow saw a miss");
	uint64_t r = H_STAT(arp_refresh);
	cr_assert(r >= 4 && r <= 8, "%lu refreshes in 4 lifetimes", (unsigned long)r);
}

Test(arp, a_refresh_is_unicast_to_the_known_mac)
{
	uint8_t mac[6];
	h_peer_answers_arp = 0;
	h_advance_ms(250 * 1000);               /* 50 s left: within the refresh window */
	h_tx_drop_all();
	uint8_t m[8] = { ICMP_ECHO_REQUEST, 0, 0xf7, 0xff, 0, 0, 0, 0 };   /* valid csum */
	h_rx_ip(H_PEER_IP, IP_PROTO_ICMP, m, sizeof m);
	struct h_pkt k;
	int saw_reply = 0, saw_req = 0;
	while (h_next(&k)) {
		if (k.ip && k.proto == IP_PROTO_ICMP)
			saw_reply = 1;              /* still sent: the entry is valid */
		if (k.arp) {
			saw_req = 1;
			cr_assert_eq(ntohs(k.arp->op), ARP_REQUEST);
			cr_assert_eq(memcmp(k.eth->dst, H_PEER_MAC, 6), 0, "a refresh asks the known MAC");
			cr_assert_eq(ntohl(k.arp->tpa), H_PEER_IP);
		}
	}
	cr_assert(saw_reply && saw_req);
	cr_assert_eq(H_STAT(arp_refresh), 1);
	/* unanswered: the entry still expires at its time */
	h_advance_ms(51 * 1000);
	h_tx_drop_all();
	cr_assert_not(ping_from(H_PEER_IP, mac), "used an expired entry");
}

/* ---- 802.1Q: eth0 on VLAN 42 */
#define VID 42
static void vlan_setup(void)
{
	cr_assert_eq(h_init("{\"interfaces\": [{\"address\": \"198.18.0.2/24\", \"gateway\": \"198.18.0.1\","
			    " \"vlan\": 42}]}"), 0);
}

TestSuite(vlan, .init = vlan_setup, .fini = h_teardown);

static uint16_t sum16(const uint8_t *p, size_t len)
{
	uint32_t s = 0;
	for (size_t i = 0; i + 1 < len; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		s += (uint32_t)p[len - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/* sends an untagged frame tagged with vid (0: as it is) */
static void rx_tagged(const uint8_t *f, size_t len, uint16_t vid)
{
	uint8_t t[128];
	if (!vid) {
		h_rx_raw(f, len);
		return;
	}
	memcpy(t, f, 12);
	t[12] = 0x81;
	t[13] = 0x00;
	t[14] = (uint8_t)(vid >> 8);
	t[15] = (uint8_t)vid;
	memcpy(t + 16, f + 12, len - 12);
	h_rx_raw(t, len + 4);
}

static void rx_arp_request(uint16_t vid)
{
	uint8_t f[60] = { 0 };
	struct eth_hdr *e = (void *)f;
	struct arp_hdr *a = (void *)(e + 1);
	memset(e->dst, 0xff, 6);
	memcpy(e->src, H_PEER_MAC, 6);
	e->type = htons(ETHERTYPE_ARP);
	a->htype = htons(1);
	a->ptype = htons(ETHERTYPE_IPV4);
	a->hlen = 6;
	a->plen = 4;
	a->op = htons(ARP_REQUEST);
	memcpy(a->sha, H_PEER_MAC, 6);
	a->spa = htonl(H_PEER_IP);
	a->tpa = htonl(H_OUR_IP);
	rx_tagged(f, sizeof f, vid);
}

static void rx_ping(uint16_t vid)
{
	uint8_t f[60] = { 0 };
	struct eth_hdr *e = (void *)f;
	uint8_t *ip = f + ETH_HLEN, *ic = ip + 20;
	memcpy(e->dst, H_OUR_MAC, 6);
	memcpy(e->src, H_PEER_MAC, 6);
	e->type = htons(ETHERTYPE_IPV4);
	ip[0] = 0x45;
	ip[3] = 20 + 12;
	ip[8] = 64;
	ip[9] = IP_PROTO_ICMP;
	uint32_t s = htonl(H_PEER_IP), d = htonl(H_OUR_IP);
	memcpy(ip + 12, &s, 4);
	memcpy(ip + 16, &d, 4);
	uint16_t c = htons(sum16(ip, 20));
	memcpy(ip + 10, &c, 2);
	ic[0] = ICMP_ECHO_REQUEST;
	memcpy(ic + 8, "vlan", 4);
	c = htons(sum16(ic, 12));
	memcpy(ic + 2, &c, 2);
	rx_tagged(f, sizeof f, vid);
}

/* pops the next frame and checks its tag; returns the ethertype inside */
static uint16_t next_tagged(uint8_t inner[64])
{
	struct h_pkt k;
	cr_assert(h_next(&k), "nothing sent");
	cr_assert_eq(k.type, ETHERTYPE_VLAN, "sent untagged on a VLAN interface");
	cr_assert_geq(k.len, 64, "a tagged frame is 64 bytes at least");
	cr_assert_eq(memcmp(k.frame + 6, H_OUR_MAC, 6), 0, "the MACs stay in front of the tag");
	cr_assert_eq((k.frame[14] << 8 | k.frame[15]) & 0xfff, VID, "the wrong VID");
	memcpy(inner, k.frame + 18, 46);
	return (uint16_t)(k.frame[16] << 8 | k.frame[17]);
}

Test(vlan, untagged_arp_from_h_init_was_dropped)
{
	cr_assert_eq(H_STAT(drop_vlan_untagged), 1, "h_init's untagged ARP request");
	cr_assert_eq(net_arp_entries(), 0);
}

Test(vlan, tagged_arp_is_answered_tagged)
{
	uint8_t in[64];
	rx_arp_request(VID);
	cr_assert_eq(next_tagged(in), ETHERTYPE_ARP);
	const struct arp_hdr *a = (const void *)in;
	cr_assert_eq(ntohs(a->op), ARP_REPLY);
	cr_assert_eq(ntohl(a->spa), H_OUR_IP);
	cr_assert_eq(memcmp(a->tha, H_PEER_MAC, 6), 0);
	cr_assert_eq(net_arp_entries(), 1, "the tagged requester was learned");
}

Test(vlan, tagged_ping_is_answered_tagged)
{
	uint8_t in[64];
	rx_arp_request(VID);
	h_tx_drop_all();
	rx_ping(VID);
	cr_assert_eq(next_tagged(in), ETHERTYPE_IPV4);
	cr_assert_eq(in[9], IP_PROTO_ICMP);
	cr_assert_eq(in[20], ICMP_ECHO_REPLY);
	cr_assert_eq(memcmp(in + 28, "vlan", 4), 0);
	cr_assert_eq(sum16(in, 20), 0, "IP checksum");
	cr_assert_eq(H_STAT(icmp_echo), 1);
}

Test(vlan, other_tags_and_untagged_frames_are_dropped)
{
	rx_arp_request(VID);
	h_tx_drop_all();
	rx_ping(VID + 1);
	rx_ping(0);
	rx_arp_request(4094);
	rx_arp_request(0);
	uint8_t runt[16] = { 0 };
	runt[12] = 0x81;
	h_rx_raw(runt, sizeof runt);            /* a tag and nothing after it */
	struct h_pkt k;
	cr_assert_not(h_next(&k), "answered a frame not on VLAN 42");
	cr_assert_eq(H_STAT(drop_vlan), 2);
	cr_assert_eq(H_STAT(drop_vlan_untagged), 1 + 2);
	cr_assert_eq(H_STAT(drop_short), 1);
	cr_assert_eq(H_STAT(icmp_echo), 0);
}

Test(vlan, the_gratuitous_arp_is_tagged)
{
	uint8_t in[64];
	net_arp_announce(&net_ifs[0]);
	h_turn();
	cr_assert_eq(next_tagged(in), ETHERTYPE_ARP);
	const struct arp_hdr *a = (const void *)in;
	cr_assert_eq(ntohl(a->spa), H_OUR_IP);
	cr_assert_eq(ntohl(a->tpa), H_OUR_IP);
}
