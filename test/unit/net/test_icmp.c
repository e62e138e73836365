/*
 * test_icmp.c — IPv4 input checks and ICMP echo on the host harness:
 * echo requests are answered with the same id, sequence and data and
 * valid checksums; off-subnet senders are answered through the gateway;
 * every malformed or foreign packet is dropped and counted by reason.
 */
#include <string.h>
#include "check.h"

TestSuite(icmp, .init = h_setup, .fini = h_teardown);

static void check_reply(const struct h_pkt *k, uint32_t to, uint16_t id, uint16_t seq,
			const uint8_t *data, size_t len)
{
	cr_assert_not_null(k->ip, "not IPv4");
	cr_assert(k->ip_csum_ok, "bad IP checksum");
	cr_assert_eq(k->proto, IP_PROTO_ICMP);
	cr_assert_eq(ntohl(k->ip->src), H_OUR_IP);
	cr_assert_eq(ntohl(k->ip->dst), to);
	cr_assert_eq(k->ip->ttl, 64);
	cr_assert(k->l4_csum_ok, "bad ICMP checksum");
	const struct icmp_hdr *h = (const void *)k->l4;
	cr_assert_eq(h->type, ICMP_ECHO_REPLY);
	cr_assert_eq(h->code, 0);
	cr_assert_eq(ntohs(h->id), id);
	cr_assert_eq(ntohs(h->seq), seq);
	cr_assert_eq(k->plen, len);
	cr_assert_eq(memcmp(k->payload, data, len), 0, "data changed");
	cr_assert_eq(memcmp(k->eth->src, H_OUR_MAC, 6), 0);
	cr_assert_eq(memcmp(k->eth->dst, H_PEER_MAC, 6), 0);
}

Test(icmp, echo_is_answered)
{
	uint8_t d[56];
	for (int i = 0; i < 56; i++)
		d[i] = (uint8_t)(i * 3);
	uint64_t tx0 = H_STAT(tx_frames);
	h_rx_icmp_echo(0x1234, 1, d, sizeof d);
	struct h_pkt k;
	cr_assert(h_next(&k), "no reply");
	check_reply(&k, H_PEER_IP, 0x1234, 1, d, sizeof d);
	cr_assert_not(h_next(&k));
	cr_assert_eq(H_STAT(icmp_echo), 1);
	cr_assert_eq(H_STAT(tx_frames) - tx0, 1);
}

Test(icmp, odd_length_and_full_mtu)
{
	static uint8_t d[1472];
	for (size_t i = 0; i < sizeof d; i++)
		d[i] = (uint8_t)(i * 7 + 1);
	struct h_pkt k;
	h_rx_icmp_echo(7, 2, d, 33);
	cr_assert(h_next(&k));
	check_reply(&k, H_PEER_IP, 7, 2, d, 33);
	h_rx_icmp_echo(7, 3, d, sizeof d);      /* a 1500-byte IP packet */
	cr_assert(h_next(&k));
	check_reply(&k, H_PEER_IP, 7, 3, d, sizeof d);
	cr_assert_eq(ntohs(k.ip->len), 1500);
	h_rx_icmp_echo(7, 4, d, 0);
	cr_assert(h_next(&k));
	check_reply(&k, H_PEER_IP, 7, 4, d, 0);
}

Test(icmp, off_subnet_goes_through_the_gateway)
{
	uint8_t m[8] = { ICMP_ECHO_REQUEST, 0, 0, 0, 0, 9, 0, 1 };
	uint16_t c = (uint16_t)~(0x0800 + 0x0009 + 0x0001);
	m[2] = (uint8_t)(c >> 8);
	m[3] = (uint8_t)c;
	h_rx_ip(0x0a000005u, IP_PROTO_ICMP, m, sizeof m);  /* 10.0.0.5 */
	struct h_pkt k;
	cr_assert(h_next(&k), "no reply");
	check_reply(&k, 0x0a000005u, 9, 1, m, 0);
}

Test(icmp, bad_icmp_checksum_is_dropped)
{
	uint8_t m[8] = { ICMP_ECHO_REQUEST, 0, 0x12, 0x34, 0, 1, 0, 1 };
	h_rx_ip(H_PEER_IP, IP_PROTO_ICMP, m, sizeof m);
	struct h_pkt k;
	cr_assert_not(h_next(&k));
	cr_assert_eq(H_STAT(drop_bad_icmp), 1);
	cr_assert_eq(H_STAT(icmp_echo), 0);
	h_rx_ip(H_PEER_IP, IP_PROTO_ICMP, m, 4);          /* shorter than a header */
	cr_assert_not(h_next(&k));
	cr_assert_eq(H_STAT(drop_bad_icmp), 2);
}

Test(icmp, other_icmp_types_are_ignored)
{
	uint8_t m[8] = { ICMP_ECHO_REPLY, 0, 0xff, 0xfe, 0, 0, 0, 1 };
	h_rx_ip(H_PEER_IP, IP_PROTO_ICMP, m, sizeof m);
	struct h_pkt k;
	cr_assert_not(h_next(&k));
	cr_assert_eq(H_STAT(icmp_echo), 0);
}

/* a frame around an echo request that the test then breaks */
static size_t echo_frame(uint8_t *f)
{
	memset(f, 0, 60);
	struct eth_hdr *e = (void *)f;
	struct ipv4_hdr *ip = (void *)(e + 1);
	uint8_t *icmp = (uint8_t *)(ip + 1);
	memcpy(e->dst, H_OUR_MAC, 6);
	memcpy(e->src, H_PEER_MAC, 6);
	e->type = htons(ETHERTYPE_IPV4);
	ip->ver_ihl = 0x45;
	ip->len = htons(28);
	ip->ttl = 64;
	ip->proto = IP_PROTO_ICMP;
	ip->src = htonl(H_PEER_IP);
	ip->dst = htonl(H_OUR_IP);
	icmp[0] = ICMP_ECHO_REQUEST;
	icmp[2] = 0xf7;
	icmp[3] = 0xff;
	return 60;
}

static void fix_ip_csum(uint8_t *f)
{
	struct ipv4_hdr *ip = (void *)(f + ETH_HLEN);
	unsigned hl = (ip->ver_ihl & 15) * 4u;
	ip->csum = 0;
	uint32_t s = 0;
	for (unsigned i = 0; i < hl; i += 2)
		s += (uint32_t)(((uint8_t *)ip)[i] << 8 | ((uint8_t *)ip)[i + 1]);
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	ip->csum = htons((uint16_t)~s);
}

Test(icmp, the_frame_builder_is_right)
{
	uint8_t f[60];
	size_t n = echo_frame(f);
	fix_ip_csum(f);
	h_rx_raw(f, n);
	struct h_pkt k;
	cr_assert(h_next(&k), "the unbroken frame is not answered");
}

Test(icmp, bad_ip_is_dropped_by_reason)
{
	uint8_t f[60];
	struct ipv4_hdr *ip = (void *)(f + ETH_HLEN);
	struct h_pkt k;

	echo_frame(f);                          /* bad header checksum */
	fix_ip_csum(f);
	ip->csum ^= 1;
	h_rx_raw(f, 60);
	cr_assert_eq(H_STAT(drop_bad_ip_csum), 1);

	echo_frame(f);                          /* version 6 */
	ip->ver_ihl = 0x65;
	fix_ip_csum(f);
	h_rx_raw(f, 60);
	echo_frame(f);                          /* header length 16 */
	ip->ver_ihl = 0x44;
	fix_ip_csum(f);
	h_rx_raw(f, 60);
	echo_frame(f);                          /* total length past the frame */
	ip->len = htons(100);
	fix_ip_csum(f);
	h_rx_raw(f, 60);
	echo_frame(f);                          /* total length under the header */
	ip->len = htons(10);
	fix_ip_csum(f);
	h_rx_raw(f, 60);
	cr_assert_eq(H_STAT(drop_bad_ip_hdr), 4);

	echo_frame(f);                          /* a first fragment */
	ip->frag = htons(IP_FRAG_MF);
	fix_ip_csum(f);
	h_rx_raw(f, 60);
	echo_frame(f);                          /* a later fragment */
	ip->frag = htons(3);
	fix_ip_csum(f);
	h_rx_raw(f, 60);
	cr_assert_eq(H_STAT(drop_ip_frag), 2);

	echo_frame(f);                          /* not for us */
	ip->dst = htonl(0xc6120009u);
	fix_ip_csum(f);
	h_rx_raw(f, 60);
	cr_assert_eq(H_STAT(drop_not_ours), 1);

	echo_frame(f);                          /* an unknown protocol */
	ip->proto = 47;
	fix_ip_csum(f);
	h_rx_raw(f, 60);
	cr_assert_eq(H_STAT(drop_proto), 1);

	h_rx_raw(f, ETH_HLEN + 10);             /* shorter than an IP header */
	cr_assert_eq(H_STAT(drop_short), 1);

	cr_assert_not(h_next(&k), "answered a bad packet");
	cr_assert_eq(H_STAT(icmp_echo), 0);
}

Test(icmp, ip_options_are_skipped)
{
	uint8_t f[64];
	memset(f, 0, sizeof f);
	echo_frame(f);
	struct ipv4_hdr *ip = (void *)(f + ETH_HLEN);
	/* move the ICMP header 4 bytes on, behind a NOP option word */
	memmove(f + ETH_HLEN + 24, f + ETH_HLEN + 20, 8);
	memset(f + ETH_HLEN + 20, 1, 4);
	ip->ver_ihl = 0x46;
	ip->len = htons(32);
	fix_ip_csum(f);
	h_rx_raw(f, sizeof f);
	struct h_pkt k;
	cr_assert(h_next(&k), "no reply");
	cr_assert(k.ip_csum_ok);
	cr_assert(k.l4_csum_ok);
	cr_assert_eq(((const struct icmp_hdr *)k.l4)->type, ICMP_ECHO_REPLY);
}

Test(icmp, non_ip_frames_are_counted)
{
	uint8_t f[60] = { 0 };
	struct eth_hdr *e = (void *)f;
	memcpy(e->dst, H_OUR_MAC, 6);
	e->type = htons(ETHERTYPE_VLAN);
	h_rx_raw(f, 60);
	e->type = htons(0x86dd);                /* IPv6 */
	h_rx_raw(f, 60);
	h_rx_raw(f, 10);                        /* a runt */
	cr_assert_eq(H_STAT(drop_vlan), 1);
	cr_assert_eq(H_STAT(drop_not_ipv4), 1);
	cr_assert_eq(H_STAT(drop_short), 1);
	cr_assert_eq(H_STAT(rx_frames), 3 + 1, "3 here and the ARP of h_init");
}
