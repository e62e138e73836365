/*
 * test_udp.c — UDP on the host harness: the test's handler, bound with
 * udp_bind on port 7, echoes with udp_send; datagrams to unbound ports,
 * with bad checksums or bad lengths are dropped and counted; udp_send's
 * errors.
 */
#include <errno.h>
#include <string.h>
#include "check.h"

TestSuite(udp, .init = h_setup, .fini = h_teardown);

static void check_udp(const struct h_pkt *k, uint16_t sport, uint16_t dport, const void *data, size_t len)
{
	cr_assert_not_null(k->ip);
	cr_assert(k->ip_csum_ok);
	cr_assert_eq(k->proto, IP_PROTO_UDP);
	cr_assert(k->l4_csum_ok, "bad UDP checksum");
	cr_assert_eq(ntohl(k->ip->src), H_OUR_IP);
	cr_assert_eq(ntohl(k->ip->dst), H_PEER_IP);
	cr_assert_eq(k->sport, sport);
	cr_assert_eq(k->dport, dport);
	cr_assert_eq(ntohs(((const struct udp_hdr *)k->l4)->len), 8 + len);
	cr_assert_eq(k->plen, len);
	cr_assert_eq(memcmp(k->payload, data, len), 0);
	cr_assert_eq(memcmp(k->eth->dst, H_PEER_MAC, 6), 0);
}

Test(udp, echo_through_udp_bind_and_udp_send)
{
	const char msg[] = "hello, pollux";
	h_rx_udp(40000, H_UDP_PORT, msg, sizeof msg);
	cr_assert_eq(h_udp_seen, 1);
	struct h_pkt k;
	cr_assert(h_next(&k), "no echo");
	check_udp(&k, H_UDP_PORT, 40000, msg, sizeof msg);
	cr_assert_not(h_next(&k));
	cr_assert_eq(H_STAT(udp_in), 1);
	cr_assert_eq(H_STAT(udp_out), 1);
}

Test(udp, sizes)
{
	static uint8_t d[1472];
	for (size_t i = 0; i < sizeof d; i++)
		d[i] = (uint8_t)(i ^ 0x5a);
	size_t sizes[] = { 0, 1, 17, 18, 1471, 1472 };
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		h_rx_udp(40001, H_UDP_PORT, d, sizes[i]);
		struct h_pkt k;
		cr_assert(h_next(&k), "no echo of %zu bytes", sizes[i]);
		check_udp(&k, H_UDP_PORT, 40001, d, sizes[i]);
	}
}

Test(udp, unbound_port_is_counted)
{
	h_rx_udp(40000, 9999, "x", 1);
	struct h_pkt k;
	cr_assert_not(h_next(&k));
	cr_assert_eq(H_STAT(drop_udp_no_port), 1);
	cr_assert_eq(h_udp_seen, 0);
}

/* a UDP datagram with header fields the test sets (the checksum right
 * for what it says unless csum is given) */
static void raw_udp(uint16_t ulen, uint16_t l4len, int csum, uint16_t csum_val)
{
	uint8_t m[64] = { 0 };
	struct udp_hdr *u = (void *)m;
	u->sport = htons(40000);
	u->dport = htons(H_UDP_PORT);
	u->len = htons(ulen);
	memcpy(m + 8, "abcdefgh", 8);
	u->csum = csum ? htons(csum_val) : 0;
	h_rx_ip(H_PEER_IP, IP_PROTO_UDP, m, l4len);
}

Test(udp, bad_datagrams_are_counted)
{
	raw_udp(16, 16, 1, 0x1234);             /* a wrong checksum */
	raw_udp(30, 16, 0, 0);                  /* length past the packet */
	raw_udp(7, 16, 0, 0);                   /* length under the header */
	raw_udp(8, 6, 0, 0);                    /* packet under the header */
	struct h_pkt k;
	cr_assert_not(h_next(&k));
	cr_assert_eq(H_STAT(drop_bad_udp), 4);
	cr_assert_eq(h_udp_seen, 0);
}

Test(udp, no_checksum_is_accepted_and_padding_is_not_data)
{
	raw_udp(12, 16, 0, 0);                  /* 4 bytes of data, 4 of padding */
	cr_assert_eq(h_udp_seen, 1);
	struct h_pkt k;
	cr_assert(h_next(&k));
	check_udp(&k, H_UDP_PORT, 40000, "abcd", 4);
}

Test(udp, send_from_the_app)
{
	struct udp_meta to = { .dst = htonl(H_PEER_IP), .sport = 5353, .dport = 53, .ifindex = 0 };
	cr_assert_eq(udp_send(&to, "query", 5), 0);
	h_turn();
	struct h_pkt k;
	cr_assert(h_next(&k));
	check_udp(&k, 5353, 53, "query", 5);

	static uint8_t big[1473];
	cr_assert_eq(udp_send(&to, big, sizeof big), -EMSGSIZE);
	to.ifindex = 1;
	cr_assert_eq(udp_send(&to, "x", 1), -EINVAL);
	to.ifindex = -1;
	cr_assert_eq(udp_send(&to, "x", 1), -EINVAL);

	to.ifindex = 0;                         /* unresolved: dropped, ARP asks */
	to.dst = htonl(H_OTHER_IP);
	cr_assert_eq(udp_send(&to, "x", 1), -EHOSTUNREACH);
	h_turn();
	cr_assert(h_next(&k));
	cr_assert_not_null(k.arp, "no ARP request");
	cr_assert_eq(ntohl(k.arp->tpa), H_OTHER_IP);
	cr_assert_eq(H_STAT(arp_miss_drop), 1);

	to.dst = htonl(0x08080808u);            /* off-subnet: the gateway's MAC */
	cr_assert_eq(udp_send(&to, "y", 1), 0);
	h_turn();
	cr_assert(h_next(&k));
	cr_assert_not_null(k.ip);
	cr_assert_eq(ntohl(k.ip->dst), 0x08080808u);
	cr_assert_eq(memcmp(k.eth->dst, H_PEER_MAC, 6), 0);
}

Test(udp, bind_twice_is_refused)
{
	cr_assert_eq(udp_bind(H_UDP_PORT, NULL, NULL), -EADDRINUSE);
}
