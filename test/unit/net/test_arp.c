/*
 * test_arp.c — ARP on the host harness: requests for our address are
 * answered and teach us the sender; a miss drops the packet (counted)
 * and asks, at most once a second per address; replies to our request
 * are learned; ARP for other hosts is neither answered nor learned from;
 * malformed ARP is counted; a gratuitous ARP goes out at start; entries
 * expire and the sweep drops them; an entry in use is refreshed before
 * it expires, so a busy flow never misses. And 802.1Q (suite vlan): on
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

Test(arp, known_host_is_refreshed_by_gratuitous_arp)
{
	uint8_t mac[6];
	static const uint8_t NEW_MAC[6] = { 0x02, 0, 0, 0, 0, 0x99 };
	/* the peer (known since h_init) moves to a new MAC */
	h_rx_arp(ARP_REQUEST, NEW_MAC, H_PEER_IP, NULL, H_PEER_IP);
	h_tx_drop_all();
	cr_assert(ping_from(H_PEER_IP, mac));
	cr_assert_eq(memcmp(mac, NEW_MAC, 6), 0);
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
