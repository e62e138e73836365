/*
 * test_ip_src.c — the source and destination checks of IPv4 input on the
 * host harness: a packet from a source no host sends from (0/8, loopback,
 * multicast, class E, the limited broadcast), from our own address or
 * from the directed broadcast of our subnet is dropped and counted
 * (drop_bad_src) before TCP, UDP or ICMP see it, so nothing answers it;
 * pings and TCP segments sent to a broadcast address are dropped
 * (drop_bcast_dst); UDP to a broadcast still reaches its port, and the
 * echo (udp_may_answer) answers neither it nor a datagram from a port
 * whose service answers everything too (drop_udp_loop). A /31 has no
 * directed broadcast: its other address is a host.
 */
#include <string.h>
#include "check.h"
#include "net/net_priv.h"

TestSuite(ipsrc, .init = h_setup, .fini = h_teardown);

#define BCAST 0xffffffffu
#define SUBNET_BCAST 0xc61200ffu        /* 198.18.0.255 */

static void ping(uint32_t src, uint32_t dst)
{
	uint8_t m[12] = { ICMP_ECHO_REQUEST, 0, 0, 0, 0, 1, 0, 1, 'p', 'i', 'n', 'g' };
	uint16_t c = net_csum(m, sizeof m, 0);
	memcpy(m + 2, &c, 2);
	h_rx_ip_to(src, dst, IP_PROTO_ICMP, m, sizeof m);
}

/* a TCP segment (flags) to H_PORT with a right checksum */
static void tcp_to(uint32_t src, uint32_t dst, uint8_t flags)
{
	uint8_t m[20] = { 0 };
	struct tcp_hdr *t = (void *)m;
	t->sport = htons(40000);
	t->dport = htons(H_PORT);
	t->seq = htonl(1000);
	t->ack = htonl((flags & TCP_ACK) ? 5000 : 0);
	t->off = 5 << 4;
	t->flags = flags;
	t->win = htons(65535);
	t->csum = net_csum(m, sizeof m, net_pseudo_sum(htonl(src), htonl(dst), IP_PROTO_TCP, sizeof m));
	h_rx_ip_to(src, dst, IP_PROTO_TCP, m, sizeof m);
}

static void udp_to(uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport)
{
	uint8_t m[12] = { 0 };
	struct udp_hdr *u = (void *)m;
	u->sport = htons(sport);
	u->dport = htons(dport);
	u->len = htons(sizeof m);
	memcpy(m + 8, "loop", 4);
	u->csum = net_csum(m, sizeof m, net_pseudo_sum(htonl(src), htonl(dst), IP_PROTO_UDP, sizeof m));
	if (!u->csum)
		u->csum = 0xffff;
	h_rx_ip_to(src, dst, IP_PROTO_UDP, m, sizeof m);
}

Test(ipsrc, bogus_sources_get_no_answer)
{
	static const uint32_t bad[] = {
		0x00000000u,            /* 0.0.0.0 */
		0x00010203u,            /* 0.1.2.3 */
		0xffffffffu,            /* the limited broadcast */
		0xe0000001u,            /* 224.0.0.1 */
		0xefffff01u,            /* 239.255.255.1 */
		0xf0000001u,            /* 240.0.0.1: class E */
		0x7f000001u,            /* 127.0.0.1 */
		0x7f123456u,            /* 127.18.52.86 */
		H_OUR_IP,               /* ourselves */
		SUBNET_BCAST,           /* our subnet's directed broadcast */
	};
	const int n = sizeof bad / sizeof bad[0];
	for (int i = 0; i < n; i++) {
		ping(bad[i], H_OUR_IP);
		tcp_to(bad[i], H_OUR_IP, TCP_SYN);
		tcp_to(bad[i], H_OUR_IP, TCP_ACK);      /* would earn a RST */
		udp_to(bad[i], H_OUR_IP, 40000, H_UDP_PORT);
	}
	struct h_pkt k;
	cr_assert_not(h_next(&k), "answered a bogus source");
	cr_assert_eq(H_STAT(drop_bad_src), 4 * n);
	cr_assert_eq(H_STAT(icmp_echo), 0);
	cr_assert_eq(H_STAT(tcp_in), 0, "TCP saw it");
	cr_assert_eq(H_STAT(tcp_rst_out), 0);
	cr_assert_eq(H_STAT(udp_in), 0);
	cr_assert_eq(h_udp_seen, 0);
	/* and the same from a good source is answered */
	ping(H_PEER_IP, H_OUR_IP);
	cr_assert(h_next(&k));
	cr_assert_not_null(k.ip);
	cr_assert_eq(ntohl(k.ip->dst), H_PEER_IP);
	cr_assert_eq(memcmp(k.eth->dst, H_PEER_MAC, 6), 0);
	ping(0x08080808u, H_OUR_IP);            /* off-subnet: through the gateway */
	cr_assert(h_next(&k));
	cr_assert_eq(ntohl(k.ip->dst), 0x08080808u);
	cr_assert_eq(H_STAT(drop_bad_src), 4 * n);
}

Test(ipsrc, pings_and_tcp_to_a_broadcast_are_not_answered)
{
	ping(H_PEER_IP, BCAST);
	ping(H_PEER_IP, SUBNET_BCAST);
	tcp_to(H_PEER_IP, BCAST, TCP_SYN);
	tcp_to(H_PEER_IP, SUBNET_BCAST, TCP_SYN);
	tcp_to(H_PEER_IP, SUBNET_BCAST, TCP_ACK);
	struct h_pkt k;
	cr_assert_not(h_next(&k), "answered a broadcast");
	cr_assert_eq(H_STAT(drop_bcast_dst), 5);
	cr_assert_eq(H_STAT(icmp_echo), 0);
	cr_assert_eq(H_STAT(tcp_in), 0);
	cr_assert_eq(H_STAT(tcp_rst_out), 0);
}

Test(ipsrc, udp_to_a_broadcast_arrives_and_the_echo_keeps_quiet)
{
	udp_to(H_PEER_IP, BCAST, 40000, H_UDP_PORT);
	udp_to(H_PEER_IP, SUBNET_BCAST, 40000, H_UDP_PORT);
	cr_assert_eq(h_udp_seen, 2, "UDP to a broadcast is delivered");
	struct h_pkt k;
	cr_assert_not(h_next(&k), "the echo answered a broadcast");
	cr_assert_eq(H_STAT(drop_udp_loop), 2);
	cr_assert_eq(H_STAT(drop_bcast_dst), 0);
}

Test(ipsrc, the_echo_does_not_answer_ports_that_answer_back)
{
	static const uint16_t ports[] = { 0, 7, 13, 17, 19, 37 };
	for (size_t i = 0; i < sizeof ports / sizeof ports[0]; i++)
		udp_to(H_PEER_IP, H_OUR_IP, ports[i], H_UDP_PORT);
	struct h_pkt k;
	cr_assert_not(h_next(&k), "echoed to a port that answers back: a loop");
	cr_assert_eq(h_udp_seen, 6);
	cr_assert_eq(H_STAT(drop_udp_loop), 6);
	/* neighbours of those ports are ordinary clients */
	udp_to(H_PEER_IP, H_OUR_IP, 8, H_UDP_PORT);
	udp_to(H_PEER_IP, H_OUR_IP, 1024, H_UDP_PORT);
	cr_assert(h_next(&k));
	cr_assert_eq(k.dport, 8);
	cr_assert(h_next(&k));
	cr_assert_eq(k.dport, 1024);
	cr_assert_eq(H_STAT(drop_udp_loop), 6);
}

Test(ipsrc, a_slash_31_has_no_directed_broadcast)
{
	h_fini();
	cr_assert_eq(h_init("{\"interfaces\": [{\"address\": \"198.18.0.2/31\"}]}"), 0);
	h_rx_arp(ARP_REQUEST, H_PEER_MAC, 0xc6120003u, NULL, H_OUR_IP);
	h_tx_drop_all();
	ping(0xc6120003u, H_OUR_IP);            /* the other end of the /31 */
	struct h_pkt k;
	cr_assert(h_next_ip(&k), "the /31's other address was taken for a broadcast");
	cr_assert_eq(ntohl(k.ip->dst), 0xc6120003u);
	cr_assert_eq(H_STAT(drop_bad_src), 0);
}

Test(ipsrc, another_interfaces_address_is_ours_too)
{
	/* a second device: eth1 198.19.0.2/24; a packet on eth0 that claims
	 * eth1's address or its subnet's broadcast is spoofed */
	h_fini();
	h_ndevs = 2;
	cr_assert_eq(h_init("{\"interfaces\": [{\"address\": \"198.18.0.2/24\", \"gateway\": \"198.18.0.1\"},"
			    " {\"address\": \"198.19.0.2/24\"}]}"), 0);
	ping(0xc6130002u, H_OUR_IP);
	ping(0xc61300ffu, H_OUR_IP);
	struct h_pkt k;
	cr_assert_not(h_next(&k));
	cr_assert_eq(H_STAT(drop_bad_src), 2);
	ping(0xc6130003u, H_OUR_IP);            /* a host there is fine (via the gateway) */
	cr_assert(h_next_ip(&k));
	cr_assert_eq(ntohl(k.ip->dst), 0xc6130003u);
}
