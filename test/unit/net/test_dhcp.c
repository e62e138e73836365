/*
 * test_dhcp.c — the DHCPv4 client on the host harness, packet by packet:
 * a scripted server (the peer, 198.18.0.1) answers the client's frames.
 * The full exchange and what it configures, retransmission of DISCOVER
 * and REQUEST with backoff, NAK, renewing at T1 (unicast), rebinding at
 * T2 (broadcast), expiry, the options honoured (mask, router, DNS, lease,
 * T1/T2, MTU), malformed and stray replies counted and ignored, IP
 * traffic dropped while unbound, and the config's errors. Then what a
 * server may not make us do: take an MTU too small for renewals, an
 * unusable address, mask, server identifier or router, or an answer
 * from a server we did not ask.
 */
#include <errno.h>
#include <string.h>
#include <jansson.h>
#include "check.h"
#include "net/net_priv.h"

#define DHCP_CONFIG \
	"{\"interfaces\": [{\"address\": \"dhcp\"}]," \
	" \"tcp\": {\"max_conns_per_core\": 8, \"send_buffer\": 65536}}"

static void dhcp_setup(void)
{
	cr_assert_eq(h_init(DHCP_CONFIG), 0, "h_init failed");
}

TestSuite(dhcp, .init = dhcp_setup, .fini = h_teardown);

#define S_IP   H_PEER_IP                /* the server, and the router */
#define DNS_IP 0xc6120035u              /* 198.18.0.53 */
#define SEC    1000ull                  /* in h_advance_ms units */
#define LEASE  3600u                    /* T1 1800 s, T2 3150 s */

/* ---------------------------------------------------------------- checksums */
static uint16_t csum(const void *data, size_t len, uint32_t sum)
{
	const uint8_t *p = data;
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons((uint16_t)~sum);
}

/* ---------------------------------------------------------------- the server */
struct reply {
	uint8_t type;                   /* 2 OFFER, 5 ACK, 6 NAK; 0: no type option */
	uint32_t xid;
	uint32_t yiaddr;                /* host order */
	uint32_t ip_dst;                /* host order; 0: 255.255.255.255 */
	int no_server, no_lease, no_mask, no_end;
	uint32_t lease, t1, t2;         /* 0: LEASE, absent, absent */
	uint16_t mtu;
	uint8_t op;                     /* 0: BOOTREPLY */
	uint32_t magic;                 /* 0: the right one */
	int wrong_chaddr, bad_csum, bad_optlen;
	size_t cut;                     /* send only this many BOOTP bytes (0: all) */
	uint32_t mask;                  /* host order; 0: 255.255.255.0 (no_mask: none) */
	int zero_mask;                  /* the mask option says 0.0.0.0 */
	uint32_t server_id;             /* host order; 0: S_IP (no_server: none) */
	uint32_t ip_src;                /* host order; 0: S_IP */
	uint32_t routers[4];            /* host order */
	int nrouters;                   /* 0: one, S_IP */
};

static uint8_t *put_opt(uint8_t *o, uint8_t code, uint8_t len, uint32_t v_host)
{
	*o++ = code;
	*o++ = len;
	for (int i = len - 1; i >= 0; i--)
		*o++ = (uint8_t)(v_host >> (8 * i));
	return o;
}

static void server_send(const struct reply *r)
{
	uint8_t f[1024] = { 0 };
	struct eth_hdr *e = (void *)f;
	struct ipv4_hdr *ip = (void *)(e + 1);
	struct udp_hdr *u = (void *)(ip + 1);
	uint8_t *bp = (uint8_t *)(u + 1);
	uint32_t dst = r->ip_dst ? r->ip_dst : 0xffffffffu;
	uint32_t src = r->ip_src ? r->ip_src : S_IP;
	/* BOOTP */
	bp[0] = r->op ? r->op : 2;
	bp[1] = 1;
	bp[2] = 6;
	uint32_t v = htonl(r->xid);
	memcpy(bp + 4, &v, 4);
	v = htonl(r->yiaddr);
	memcpy(bp + 16, &v, 4);
	memcpy(bp + 28, H_OUR_MAC, 6);
	if (r->wrong_chaddr)
		bp[33] ^= 1;
	v = htonl(r->magic ? r->magic : 0x63825363u);
	memcpy(bp + 236, &v, 4);
	uint8_t *o = bp + 240;
	if (r->type)
		o = put_opt(o, 53, 1, r->type);
	if (!r->no_server)
		o = put_opt(o, 54, 4, r->server_id ? r->server_id : S_IP);
	if (r->type != 6) {
		if (!r->no_mask)
			o = put_opt(o, 1, 4, r->zero_mask ? 0 : r->mask ? r->mask : 0xffffff00u);
		if (!r->nrouters) {
			o = put_opt(o, 3, 4, S_IP);
		} else {
			*o++ = 3;
			*o++ = (uint8_t)(4 * r->nrouters);
			for (int i = 0; i < r->nrouters; i++) {
				uint32_t v = htonl(r->routers[i]);
				memcpy(o, &v, 4);
				o += 4;
			}
		}
		o = put_opt(o, 6, 4, DNS_IP);
		if (!r->no_lease)
			o = put_opt(o, 51, 4, r->lease ? r->lease : LEASE);
		if (r->t1)
			o = put_opt(o, 58, 4, r->t1);
		if (r->t2)
			o = put_opt(o, 59, 4, r->t2);
		if (r->mtu)
			o = put_opt(o, 26, 2, r->mtu);
	}
	if (r->bad_optlen) {
		*o++ = 12;                      /* a host name running past the end */
		*o++ = 200;
		*o++ = 'x';
	} else if (!r->no_end) {
		*o++ = 255;
	}
	size_t blen = (size_t)(o - bp);
	if (blen < 300)
		blen = 300;                     /* BOOTP's minimum, zero-padded */
	if (r->no_end || r->bad_optlen)
		blen = (size_t)(o - bp);
	if (r->cut)
		blen = r->cut;
	/* UDP, IP, Ethernet */
	u->sport = htons(67);
	u->dport = htons(68);
	u->len = htons((uint16_t)(8 + blen));
	memcpy(e->dst, dst == 0xffffffffu ? (const uint8_t *)"\xff\xff\xff\xff\xff\xff" : H_OUR_MAC, 6);
	memcpy(e->src, H_PEER_MAC, 6);
	e->type = htons(ETHERTYPE_IPV4);
	ip->ver_ihl = 0x45;
	ip->len = htons((uint16_t)(20 + 8 + blen));
	ip->ttl = 64;
	ip->proto = IP_PROTO_UDP;
	ip->src = htonl(src);
	ip->dst = htonl(dst);
	ip->csum = csum(ip, 20, 0);
	uint32_t ps = (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff) + 17 + 8 + (uint32_t)blen;
	u->csum = csum(u, 8 + blen, ps);
	if (r->bad_csum)
		u->csum ^= 0x1234;
	size_t flen = ETH_HLEN + 20 + 8 + blen;
	h_rx_raw(f, flen < 60 ? 60 : flen);
}

/* ---------------------------------------------------------------- what the client sent */
struct sent {
	uint8_t type;
	uint32_t xid, ciaddr;           /* host order */
	uint16_t secs;
	uint32_t req_addr, server_id;   /* host order; 0: absent */
	int client_id, params, max_size;
	uint32_t ip_src, ip_dst;        /* host order */
	int eth_bcast;                  /* sent to ff:ff:ff:ff:ff:ff */
	uint16_t blen;                  /* BOOTP bytes */
};

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Pops frames until the next DHCP message from the client; other frames
 * (ARP) are dropped. 1: found, *s filled and checked for form. */
static int next_dhcp(struct sent *s)
{
	struct h_pkt k;
	while (h_next(&k)) {
		if (!k.ip || k.proto != IP_PROTO_UDP || k.sport != 68 || k.dport != 67)
			continue;
		memset(s, 0, sizeof *s);
		cr_assert(k.ip_csum_ok, "bad IP checksum");
		cr_assert(k.l4_csum_ok, "bad UDP checksum");
		cr_assert_eq(memcmp(k.eth->src, H_OUR_MAC, 6), 0);
		const uint8_t *b = k.payload;
		cr_assert_geq(k.plen, 300, "shorter than BOOTP's 300 bytes");
		cr_assert_eq(b[0], 1, "not a BOOTREQUEST");
		cr_assert_eq(b[1], 1);
		cr_assert_eq(b[2], 6);
		cr_assert_eq(memcmp(b + 28, H_OUR_MAC, 6), 0, "chaddr");
		cr_assert_eq(be32(b + 236), 0x63825363u, "magic cookie");
		s->xid = be32(b + 4);
		s->secs = (uint16_t)(b[8] << 8 | b[9]);
		s->ciaddr = be32(b + 12);
		s->ip_src = ntohl(k.ip->src);
		s->ip_dst = ntohl(k.ip->dst);
		s->eth_bcast = !memcmp(k.eth->dst, "\xff\xff\xff\xff\xff\xff", 6);
		s->blen = k.plen;
		for (size_t i = 240; i < k.plen;) {
			uint8_t c = b[i++];
			if (c == 0)
				continue;
			if (c == 255)
				break;
			cr_assert_lt(i, k.plen);
			uint8_t l = b[i++];
			cr_assert_leq(i + l, k.plen, "option %u runs past the end", c);
			if (c == 53)
				s->type = b[i];
			else if (c == 50)
				s->req_addr = be32(b + i);
			else if (c == 54)
				s->server_id = be32(b + i);
			else if (c == 61)
				s->client_id = l == 7 && b[i] == 1 && !memcmp(b + i + 1, H_OUR_MAC, 6);
			else if (c == 55)
				s->params = memchr(b + i, 1, l) && memchr(b + i, 3, l) && memchr(b + i, 6, l) &&
					    memchr(b + i, 51, l);
			else if (c == 57)
				s->max_size = b[i] << 8 | b[i + 1];
			i += l;
		}
		return 1;
	}
	return 0;
}

/* moves the clock by ms in steps of 100 ms until a DHCP message goes
 * out; returns the ms it took, or -1 */
static long wait_dhcp(struct sent *s, uint64_t max_ms)
{
	for (uint64_t t = 0; t <= max_ms; t += 100) {
		if (next_dhcp(s))
			return (long)t;
		h_advance_ms(100);
	}
	return -1;
}

static uint32_t our_addr(void)
{
	uint32_t a, gw;
	uint8_t p;
	uint16_t mtu;
	cr_assert_eq(net_if_info(0, &a, &p, &gw, &mtu), 0);
	return a;
}

/* DISCOVER, OFFER, REQUEST, ACK with the given ACK; returns the xid */
static uint32_t acquire(const struct reply *ack_opts)
{
	struct sent s;
	cr_assert_geq(wait_dhcp(&s, 500), 0, "no DISCOVER");
	cr_assert_eq(s.type, 1);
	struct reply r = { .type = 2, .xid = s.xid, .yiaddr = H_OUR_IP };
	server_send(&r);
	cr_assert(next_dhcp(&s), "no REQUEST after the OFFER");
	cr_assert_eq(s.type, 3);
	struct reply a = ack_opts ? *ack_opts : (struct reply){ 0 };
	a.type = 5;
	a.xid = s.xid;
	a.yiaddr = H_OUR_IP;
	server_send(&a);
	cr_assert_eq(our_addr(), H_OUR_IP, "not bound after the ACK");
	return s.xid;
}

/* an echo request from the peer: answered? (the peer answers our ARP) */
static int pingable(void)
{
	h_tx_drop_all();
	for (int tries = 0; tries < 2; tries++) {
		h_rx_icmp_echo(1, (uint16_t)tries, "x", 1);
		struct h_pkt k;
		while (h_next(&k))
			if (k.ip && k.proto == IP_PROTO_ICMP && ntohl(k.ip->src) == H_OUR_IP)
				return 1;
		h_advance_ms(1100);             /* the first may go to ARP */
	}
	return 0;
}

/* ---------------------------------------------------------------- tests */
Test(dhcp, full_exchange_configures_the_interface)
{
	struct sent s;
	cr_assert_eq(our_addr(), 0, "an address before DHCP");
	cr_assert(wait_dhcp(&s, 500) >= 0, "no DISCOVER within 500 ms of start");
	cr_assert_eq(s.type, 1, "DISCOVER");
	cr_assert_eq(s.ip_src, 0, "from 0.0.0.0");
	cr_assert_eq(s.ip_dst, 0xffffffffu, "to 255.255.255.255");
	cr_assert(s.eth_bcast);
	cr_assert_eq(s.ciaddr, 0);
	cr_assert(s.client_id && s.params);
	cr_assert_eq(s.max_size, 576);
	cr_assert_eq(s.blen, 548, "a 576-byte datagram");
	uint32_t xid = s.xid;

	struct reply r = { .type = 2, .xid = xid, .yiaddr = H_OUR_IP };
	server_send(&r);
	cr_assert(next_dhcp(&s), "no REQUEST after the OFFER");
	cr_assert_eq(s.type, 3, "REQUEST");
	cr_assert_eq(s.xid, xid, "the OFFER's xid");
	cr_assert_eq(s.req_addr, H_OUR_IP, "requested address");
	cr_assert_eq(s.server_id, S_IP, "server id");
	cr_assert_eq(s.ip_src, 0);
	cr_assert_eq(s.ip_dst, 0xffffffffu);
	cr_assert_eq(s.ciaddr, 0);
	cr_assert_eq(our_addr(), 0, "bound on an OFFER");

	r.type = 5;
	server_send(&r);
	uint32_t a, gw;
	uint8_t p;
	uint16_t mtu;
	net_if_info(0, &a, &p, &gw, &mtu);
	cr_assert_eq(a, H_OUR_IP);
	cr_assert_eq(p, 24);
	cr_assert_eq(gw, S_IP);
	cr_assert_eq(mtu, 1500);
	/* the gratuitous ARP after the bind */
	struct h_pkt k;
	cr_assert(h_next(&k), "no gratuitous ARP after the bind");
	cr_assert_not_null(k.arp);
	cr_assert_eq(ntohs(k.arp->op), ARP_REQUEST);
	cr_assert_eq(ntohl(k.arp->spa), H_OUR_IP);
	cr_assert_eq(ntohl(k.arp->tpa), H_OUR_IP);
	cr_assert_not(h_next(&k), "nothing else");

	struct net_dhcp_info di;
	cr_assert_eq(net_dhcp_info(0, &di), 0);
	cr_assert_str_eq(di.state, "bound");
	cr_assert_eq(di.server, S_IP);
	cr_assert_eq(di.ndns, 1);
	cr_assert_eq(di.dns[0], DNS_IP);
	cr_assert_eq(di.lease_s, LEASE);
	cr_assert(di.lease_left_s >= LEASE - 1 && di.lease_left_s <= LEASE, "%u", di.lease_left_s);
	struct net_stats st = h_stats();
	cr_assert_eq(st.dhcp_discover, 1);
	cr_assert_eq(st.dhcp_offer, 1);
	cr_assert_eq(st.dhcp_request, 1);
	cr_assert_eq(st.dhcp_ack, 1);
	cr_assert_eq(st.drop_bad_dhcp + st.drop_dhcp_stray + st.dhcp_nak, 0);
	/* the address works */
	cr_assert(pingable(), "no echo reply from the bound address");
}

Test(dhcp, ip_traffic_is_dropped_until_bound)
{
	h_rx_icmp_echo(1, 1, "x", 1);
	h_rx_udp(40000, H_UDP_PORT, "x", 1);
	struct h_pkt k;
	while (h_next(&k))
		cr_assert_null(k.ip, "sent IP while unbound");
	cr_assert_eq(H_STAT(drop_unbound), 2);
	cr_assert_eq(h_udp_seen, 0);
	struct udp_meta to = { .dst = htonl(H_PEER_IP), .sport = 7, .dport = 7, .ifindex = 0 };
	cr_assert_lt(udp_send(&to, "x", 1), 0, "sent from no address");
	acquire(NULL);
	cr_assert(pingable());
}

Test(dhcp, a_unicast_offer_to_the_offered_address_is_taken)
{
	struct sent s;
	cr_assert_geq(wait_dhcp(&s, 500), 0);
	struct reply r = { .type = 2, .xid = s.xid, .yiaddr = H_OUR_IP, .ip_dst = H_OUR_IP };
	server_send(&r);
	cr_assert(next_dhcp(&s));
	cr_assert_eq(s.type, 3);
	r.type = 5;
	server_send(&r);
	cr_assert_eq(our_addr(), H_OUR_IP);
}

Test(dhcp, discover_is_retransmitted_with_bounded_backoff)
{
	struct sent s;
	cr_assert_geq(wait_dhcp(&s, 500), 0);
	uint32_t xid = s.xid;
	/* RFC 2131 4.1: 4, 8, 16, 32, 64 s, then 64 s on, each +-1 s */
	static const long want[] = { 4, 8, 16, 32, 64, 64, 64 };
	for (int i = 0; i < 7; i++) {
		long t = wait_dhcp(&s, 70 * SEC);
		cr_assert_geq(t, 0, "no retransmission %d", i + 1);
		cr_assert(t >= (want[i] - 1) * 1000 - 100 && t <= (want[i] + 1) * 1000 + 100,
			  "retransmission %d after %ld ms, want %ld s +-1", i + 1, t, want[i]);
		cr_assert_eq(s.type, 1);
		cr_assert_eq(s.xid, xid, "a retransmission keeps its xid");
	}
	cr_assert_geq(s.secs, 240, "secs counts from the first DISCOVER: %u", s.secs);
	cr_assert_eq(H_STAT(dhcp_discover), 8);
	/* and an OFFER still ends it */
	struct reply r = { .type = 2, .xid = xid, .yiaddr = H_OUR_IP };
	server_send(&r);
	cr_assert(next_dhcp(&s));
	cr_assert_eq(s.type, 3);
}

Test(dhcp, request_is_retransmitted_then_discovery_starts_over)
{
	struct sent s;
	cr_assert_geq(wait_dhcp(&s, 500), 0);
	uint32_t xid = s.xid;
	struct reply r = { .type = 2, .xid = xid, .yiaddr = H_OUR_IP };
	server_send(&r);
	cr_assert(next_dhcp(&s));
	cr_assert_eq(s.type, 3);
	static const long want[] = { 4, 8, 16 };
	for (int i = 0; i < 3; i++) {
		long t = wait_dhcp(&s, 20 * SEC);
		cr_assert(t >= (want[i] - 1) * 1000 - 100 && t <= (want[i] + 1) * 1000 + 100,
			  "REQUEST retransmission %d after %ld ms", i + 1, t);
		cr_assert_eq(s.type, 3);
		cr_assert_eq(s.xid, xid);
		cr_assert_eq(s.req_addr, H_OUR_IP);
	}
	long t = wait_dhcp(&s, 40 * SEC);
	cr_assert(t >= 31 * 1000 - 100 && t <= 33 * 1000 + 100, "%ld", t);
	cr_assert_eq(s.type, 1, "DISCOVER again after 4 unanswered REQUESTs");
	cr_assert_neq(s.xid, xid, "a new exchange, a new xid");
	cr_assert_eq(our_addr(), 0);
}

Test(dhcp, nak_restarts_discovery)
{
	struct sent s;
	cr_assert_geq(wait_dhcp(&s, 500), 0);
	uint32_t xid = s.xid;
	struct reply r = { .type = 2, .xid = xid, .yiaddr = H_OUR_IP };
	server_send(&r);
	cr_assert(next_dhcp(&s));
	struct reply nak = { .type = 6, .xid = xid };
	server_send(&nak);
	cr_assert_eq(H_STAT(dhcp_nak), 1);
	cr_assert_eq(our_addr(), 0);
	long t = wait_dhcp(&s, 5 * SEC);
	cr_assert(t >= 900 && t <= 1200, "DISCOVER %ld ms after the NAK", t);
	cr_assert_eq(s.type, 1);
	cr_assert_neq(s.xid, xid);
	/* the new exchange binds */
	r.xid = s.xid;
	server_send(&r);
	cr_assert(next_dhcp(&s));
	r.type = 5;
	server_send(&r);
	cr_assert_eq(our_addr(), H_OUR_IP);
}

Test(dhcp, a_nak_while_renewing_withdraws_the_address)
{
	acquire(NULL);
	h_advance_ms(1800 * SEC + 2 * SEC);     /* T1, and the ARP for the server */
	struct sent s;
	cr_assert(next_dhcp(&s), "no renewal REQUEST");
	struct reply nak = { .type = 6, .xid = s.xid, .ip_dst = H_OUR_IP };
	server_send(&nak);
	cr_assert_eq(our_addr(), 0, "still bound after a NAK");
	cr_assert_not(pingable());
}

Test(dhcp, renews_at_t1_by_unicast)
{
	uint32_t xid = acquire(NULL);
	h_tx_drop_all();
	h_advance_ms(1799 * SEC);
	struct sent s;
	cr_assert_not(next_dhcp(&s), "a REQUEST before T1");
	/* T1: the server's MAC is not known yet (nothing asked for it while
	 * bound): the first REQUEST waits for ARP, the next goes 1 s later */
	h_advance_ms(3 * SEC);
	cr_assert(next_dhcp(&s), "no REQUEST at T1");
	cr_assert_eq(s.type, 3);
	cr_assert_neq(s.xid, xid, "a new exchange");
	cr_assert_eq(s.ciaddr, H_OUR_IP, "ciaddr: our address");
	cr_assert_eq(s.ip_src, H_OUR_IP);
	cr_assert_eq(s.ip_dst, S_IP, "unicast to the server");
	cr_assert_not(s.eth_bcast);
	cr_assert_eq(s.req_addr, 0, "no requested-address option when renewing");
	cr_assert_eq(s.server_id, 0, "no server id when renewing");
	/* a longer lease this time: T1 3600 s, T2 6300 s, from the renewal */
	struct reply ack = { .type = 5, .xid = s.xid, .yiaddr = H_OUR_IP, .ip_dst = H_OUR_IP, .lease = 7200 };
	server_send(&ack);
	cr_assert_eq(H_STAT(dhcp_ack), 2);
	struct net_dhcp_info di;
	net_dhcp_info(0, &di);
	cr_assert_str_eq(di.state, "bound");
	cr_assert_eq(di.lease_s, 7200);
	/* nothing at the old T2 (3150 s) or the old end (3600 s) */
	h_tx_drop_all();
	h_advance_ms(1900 * SEC);               /* ~3702 s */
	cr_assert_not(next_dhcp(&s), "a REQUEST before the new T1");
	cr_assert_eq(our_addr(), H_OUR_IP, "the renewed lease ran out at the old end");
	h_advance_ms(1697 * SEC);               /* ~5399 s */
	cr_assert_not(next_dhcp(&s), "a REQUEST before the new T1");
	h_advance_ms(4 * SEC);
	cr_assert(next_dhcp(&s), "no renewal at the new T1 (~5400 s)");
	cr_assert_eq(s.ip_dst, S_IP);
}

Test(dhcp, rebinds_at_t2_by_broadcast)
{
	acquire(NULL);
	/* the server is gone: renewals go unanswered until T2 */
	h_peer_answers_arp = 1;
	int renewals = 0;
	struct sent s;
	for (uint64_t t = 0; t < 3149; t += 10) {
		h_advance_ms(10 * SEC);
		while (next_dhcp(&s)) {
			cr_assert_eq(s.ip_dst, S_IP, "broadcast before T2");
			renewals++;
		}
	}
	cr_assert(renewals >= 3 && renewals <= 10, "%d renewal REQUESTs between T1 and T2", renewals);
	h_advance_ms(2 * SEC);                  /* past T2 = 3150 s */
	cr_assert(next_dhcp(&s), "no REQUEST at T2");
	cr_assert_eq(s.type, 3);
	cr_assert_eq(s.ip_dst, 0xffffffffu, "rebinding broadcasts");
	cr_assert(s.eth_bcast);
	cr_assert_eq(s.ip_src, H_OUR_IP);
	cr_assert_eq(s.ciaddr, H_OUR_IP);
	cr_assert_eq(s.server_id, 0);
	struct net_dhcp_info di;
	net_dhcp_info(0, &di);
	cr_assert_str_eq(di.state, "rebinding");
	/* any server may answer */
	struct reply ack = { .type = 5, .xid = s.xid, .yiaddr = H_OUR_IP, .ip_dst = H_OUR_IP };
	server_send(&ack);
	net_dhcp_info(0, &di);
	cr_assert_str_eq(di.state, "bound");
	cr_assert_eq(our_addr(), H_OUR_IP);
}

Test(dhcp, an_expired_lease_unconfigures_and_starts_over)
{
	acquire(NULL);
	h_peer_answers_arp = 1;
	h_advance_ms(3599 * SEC);
	cr_assert_eq(our_addr(), H_OUR_IP, "lost the address before the lease ended");
	h_tx_drop_all();
	h_advance_ms(2 * SEC);
	cr_assert_eq(our_addr(), 0, "still configured after the lease ended");
	struct sent s;
	cr_assert(next_dhcp(&s), "no DISCOVER after expiry");
	cr_assert_eq(s.type, 1);
	cr_assert_eq(s.ip_src, 0);
	uint64_t d0 = H_STAT(drop_unbound);
	h_rx_icmp_echo(1, 1, "x", 1);
	cr_assert_eq(H_STAT(drop_unbound), d0 + 1);
}

Test(dhcp, options_t1_t2_and_mtu_are_honoured)
{
	struct reply opts = { .t1 = 100, .t2 = 200, .lease = 300, .mtu = 1400 };
	acquire(&opts);
	uint32_t a, gw;
	uint8_t p;
	uint16_t mtu;
	net_if_info(0, &a, &p, &gw, &mtu);
	cr_assert_eq(mtu, 1400, "interface MTU option");
	h_tx_drop_all();
	struct sent s;
	h_advance_ms(99 * SEC);
	cr_assert_not(next_dhcp(&s), "renewed before T1 = 100 s");
	h_advance_ms(3 * SEC);
	cr_assert(next_dhcp(&s), "no renewal at T1 = 100 s");
	cr_assert_eq(s.ip_dst, S_IP);
	h_advance_ms(97 * SEC);                 /* 199 s */
	while (next_dhcp(&s))
		cr_assert_eq(s.ip_dst, S_IP, "rebinding before T2 = 200 s");
	h_advance_ms(2 * SEC);
	int bcast = 0;
	while (next_dhcp(&s))
		bcast |= s.ip_dst == 0xffffffffu;
	cr_assert(bcast, "no rebinding at T2 = 200 s");
	h_advance_ms(101 * SEC);
	cr_assert_eq(our_addr(), 0, "lease = 300 s not honoured");
}

Test(dhcp, without_a_mask_option_the_class_decides)
{
	struct reply opts = { .no_mask = 1 };
	acquire(&opts);
	uint32_t a, gw;
	uint8_t p;
	uint16_t mtu;
	net_if_info(0, &a, &p, &gw, &mtu);
	cr_assert_eq(p, 24, "198.18.0.2 is class C");
}

Test(dhcp, malformed_and_stray_replies_are_counted_and_ignored)
{
	struct sent s;
	cr_assert_geq(wait_dhcp(&s, 500), 0);
	uint32_t xid = s.xid;
	const struct reply bad[] = {
		{ .type = 2, .xid = xid, .yiaddr = H_OUR_IP, .magic = 0x63825364u },  /* wrong magic */
		{ .type = 2, .xid = xid, .yiaddr = H_OUR_IP, .cut = 200 },            /* shorter than BOOTP */
		{ .type = 2, .xid = xid, .yiaddr = H_OUR_IP, .no_end = 1 },           /* options cut off */
		{ .type = 2, .xid = xid, .yiaddr = H_OUR_IP, .bad_optlen = 1 },       /* option past the end */
		{ .type = 2, .xid = xid, .yiaddr = H_OUR_IP, .bad_csum = 1 },         /* UDP checksum */
		{ .type = 2, .xid = xid, .yiaddr = H_OUR_IP, .op = 1 },               /* a BOOTREQUEST */
		{ .type = 0, .xid = xid, .yiaddr = H_OUR_IP },                        /* no message type */
		{ .type = 2, .xid = xid, .yiaddr = H_OUR_IP, .no_server = 1 },        /* OFFER without server id */
		{ .type = 2, .xid = xid, .yiaddr = 0 },                               /* no address */
		{ .type = 2, .xid = xid, .yiaddr = 0xe0000001u },                     /* multicast address */
	};
	const struct reply stray[] = {
		{ .type = 2, .xid = xid + 1, .yiaddr = H_OUR_IP },                    /* wrong xid */
		{ .type = 2, .xid = xid, .yiaddr = H_OUR_IP, .wrong_chaddr = 1 },     /* another client's */
		{ .type = 5, .xid = xid, .yiaddr = H_OUR_IP },                        /* ACK while selecting */
		{ .type = 6, .xid = xid },                                            /* NAK while selecting */
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		server_send(&bad[i]);
	for (size_t i = 0; i < sizeof stray / sizeof stray[0]; i++)
		server_send(&stray[i]);
	struct net_stats st = h_stats();
	cr_assert_eq(st.drop_bad_dhcp, sizeof bad / sizeof bad[0], "%lu", (unsigned long)st.drop_bad_dhcp);
	cr_assert_eq(st.drop_dhcp_stray, sizeof stray / sizeof stray[0], "%lu", (unsigned long)st.drop_dhcp_stray);
	cr_assert_eq(st.dhcp_offer + st.dhcp_ack + st.dhcp_nak, 0);
	cr_assert_not(next_dhcp(&s), "answered a bad reply");
	cr_assert_eq(our_addr(), 0);
	struct net_dhcp_info di;
	net_dhcp_info(0, &di);
	cr_assert_str_eq(di.state, "selecting");
	/* an ACK without a lease time, once requesting, is bad too */
	struct reply r = { .type = 2, .xid = xid, .yiaddr = H_OUR_IP };
	server_send(&r);
	cr_assert(next_dhcp(&s));
	struct reply ack = { .type = 5, .xid = xid, .yiaddr = H_OUR_IP, .no_lease = 1 };
	server_send(&ack);
	cr_assert_eq(H_STAT(drop_bad_dhcp), sizeof bad / sizeof bad[0] + 1);
	cr_assert_eq(our_addr(), 0);
	/* and a good one still binds */
	ack.no_lease = 0;
	server_send(&ack);
	cr_assert_eq(our_addr(), H_OUR_IP);
}

Test(dhcp, replies_to_port_68_on_a_static_interface_are_plain_udp)
{
	/* a static world: the client is off, 67 -> 68 is just UDP to an
	 * unbound port */
	h_fini();
	cr_assert_eq(h_init(NULL), 0);
	struct reply r = { .type = 2, .xid = 1, .yiaddr = H_OUR_IP, .ip_dst = H_OUR_IP };
	server_send(&r);
	cr_assert_eq(H_STAT(drop_udp_no_port), 1);
	cr_assert_eq(H_STAT(drop_bad_dhcp) + H_STAT(drop_dhcp_stray), 0);
	struct net_dhcp_info di;
	cr_assert_eq(net_dhcp_info(0, &di), -ENOENT);
}

/* ---------------------------------------------------------------- config */
static const char *init_error(const char *json)
{
	static char err[200];
	static struct net_config cfg;
	err[0] = 0;
	int rc = h_net_config(json, &cfg, err, sizeof err);
	if (!rc)
		rc = net_init(&cfg, err, sizeof err);
	cr_assert_lt(rc, 0, "accepted %s", json);
	return err;
}

Test(dhcp, config_errors_name_the_field)
{
	cr_assert_str_eq(init_error("{\"interfaces\": [{\"address\": \"dhcp\", \"gateway\": \"10.0.0.1\"}]}"),
			 "interfaces[0].gateway: not with \"address\": \"dhcp\" (the server names the router)");
	cr_assert_str_eq(init_error("{\"interfaces\": [{\"address\": \"dhcpx\"}]}"),
			 "interfaces[0].address: must be \"a.b.c.d/prefix\" (prefix 1..32) or \"dhcp\"");
	cr_assert_str_eq(init_error("{\"interfaces\": [{}]}"),
			 "interfaces[0].address: required");
	cr_assert_str_eq(init_error("{\"interfaces\": [{\"address\": \"0.0.0.0/8\"}]}"),
			 "interfaces[0].address: must be \"a.b.c.d/prefix\" (prefix 1..32) or \"dhcp\"");
	cr_assert_str_eq(init_error("{\"interfaces\": [{\"address\": \"dhcp\", \"vlan\": 4095}]}"),
			 "interfaces[0].vlan: must be a VLAN id, 1..4094");
	cr_assert_str_eq(init_error("{\"interfaces\": [{\"address\": \"dhcp\", \"vlan\": \"7\"}]}"),
			 "interfaces[0].vlan: must be a VLAN id, 1..4094");
}

/* ---------------------------------------------------------------- what a server may not do */
static uint16_t our_mtu(void)
{
	uint32_t a, gw;
	uint8_t p;
	uint16_t mtu;
	net_if_info(0, &a, &p, &gw, &mtu);
	return mtu;
}

static uint32_t our_gw(void)
{
	uint32_t a, gw;
	uint8_t p;
	uint16_t mtu;
	net_if_info(0, &a, &p, &gw, &mtu);
	return gw;
}

/* to REQUESTING: DISCOVER, OFFER; returns the xid */
static uint32_t to_requesting(void)
{
	struct sent s;
	cr_assert_geq(wait_dhcp(&s, 500), 0, "no DISCOVER");
	struct reply r = { .type = 2, .xid = s.xid, .yiaddr = H_OUR_IP };
	server_send(&r);
	cr_assert(next_dhcp(&s), "no REQUEST after the OFFER");
	cr_assert_eq(s.type, 3);
	return s.xid;
}

/* bound, then T1: the renewing REQUEST; returns its xid */
static uint32_t to_renewing(const struct reply *ack_opts)
{
	acquire(ack_opts);
	h_tx_drop_all();
	h_advance_ms(1800 * SEC + 2 * SEC);     /* T1, and the ARP for the server */
	struct sent s;
	cr_assert(next_dhcp(&s), "no renewal REQUEST");
	cr_assert_eq(s.ip_dst, S_IP);
	return s.xid;
}

Test(dhcp, an_mtu_below_576_is_ignored_and_renewals_still_go_out)
{
	/* 300 would have left no room for a 328-byte renewal */
	struct reply opts = { .mtu = 300 };
	to_renewing(&opts);                     /* the renewal went out */
	cr_assert_eq(our_mtu(), 1500, "an MTU of 300 was taken");
	cr_assert_eq(H_STAT(dhcp_small_mtu), 1);
}

Test(dhcp, an_mtu_of_576_is_taken_and_renewals_fit_it)
{
	struct reply opts = { .mtu = 576 };
	acquire(&opts);
	cr_assert_eq(our_mtu(), 576);
	cr_assert_eq(H_STAT(dhcp_small_mtu), 0);
	h_tx_drop_all();
	h_advance_ms(1800 * SEC + 2 * SEC);
	struct sent s;
	cr_assert(next_dhcp(&s), "no renewal REQUEST within an MTU of 576");
	cr_assert_eq(s.blen, 548, "a whole 576-byte datagram");
}

Test(dhcp, unusable_offered_addresses_are_counted_and_ignored)
{
	struct sent s;
	cr_assert_geq(wait_dhcp(&s, 500), 0);
	static const uint32_t bad[] = {
		0xc6120000u,                    /* 198.18.0.0: the /24's network address */
		0xc61200ffu,                    /* 198.18.0.255: its broadcast address */
		0x7f000001u,                    /* loopback */
		0xffffffffu,                    /* limited broadcast */
		0xf0000001u,                    /* class E */
		0x00000005u,                    /* 0/8 */
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct reply r = { .type = 2, .xid = s.xid, .yiaddr = bad[i] };
		server_send(&r);
	}
	/* a /16's network and broadcast addresses, by its own mask */
	struct reply r16 = { .type = 2, .xid = s.xid, .yiaddr = 0xc612ffffu, .mask = 0xffff0000u };
	server_send(&r16);
	cr_assert_eq(H_STAT(dhcp_bad_addr), sizeof bad / sizeof bad[0] + 1);
	cr_assert_eq(H_STAT(drop_bad_dhcp), sizeof bad / sizeof bad[0] + 1);
	cr_assert_eq(H_STAT(dhcp_offer), 0);
	cr_assert_not(next_dhcp(&s), "answered an unusable offer");
	/* on a /31 (RFC 3021) both addresses are hosts */
	struct reply r31 = { .type = 2, .xid = s.xid, .yiaddr = 0xc6120002u, .mask = 0xfffffffeu };
	server_send(&r31);
	cr_assert(next_dhcp(&s), "refused a /31 offer");
	cr_assert_eq(s.type, 3);
}

Test(dhcp, bad_masks_are_counted_and_ignored_in_offer_and_ack)
{
	struct sent s;
	cr_assert_geq(wait_dhcp(&s, 500), 0);
	struct reply holes = { .type = 2, .xid = s.xid, .yiaddr = H_OUR_IP, .mask = 0xff00ff00u };
	server_send(&holes);
	struct reply zero = { .type = 2, .xid = s.xid, .yiaddr = H_OUR_IP, .zero_mask = 1 };
	server_send(&zero);
	cr_assert_eq(H_STAT(dhcp_bad_mask), 2);
	cr_assert_not(next_dhcp(&s));
	struct reply ok = { .type = 2, .xid = s.xid, .yiaddr = H_OUR_IP };
	server_send(&ok);
	cr_assert(next_dhcp(&s));
	struct reply ack = { .type = 5, .xid = s.xid, .yiaddr = H_OUR_IP, .mask = 0xfffffeffu };
	server_send(&ack);
	cr_assert_eq(H_STAT(dhcp_bad_mask), 3);
	cr_assert_eq(H_STAT(drop_bad_dhcp), 3);
	cr_assert_eq(our_addr(), 0, "bound with a mask that has a hole");
	ack.mask = 0;
	server_send(&ack);
	cr_assert_eq(our_addr(), H_OUR_IP);
}

Test(dhcp, server_identifiers_that_are_not_unicast_are_refused)
{
	struct sent s;
	cr_assert_geq(wait_dhcp(&s, 500), 0);
	static const uint32_t bad[] = { 0xffffffffu, 0xe0000001u, 0x7f000001u };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct reply r = { .type = 2, .xid = s.xid, .yiaddr = H_OUR_IP, .server_id = bad[i] };
		server_send(&r);
	}
	struct reply none = { .type = 2, .xid = s.xid, .yiaddr = H_OUR_IP, .no_server = 1 };
	server_send(&none);
	cr_assert_eq(H_STAT(dhcp_bad_server), 4);
	cr_assert_eq(H_STAT(drop_bad_dhcp), 4);
	cr_assert_not(next_dhcp(&s), "requested from a server that is not unicast");
	/* a NAK naming a broadcast server is bad too: still requesting */
	uint32_t xid = s.xid;
	struct reply ok = { .type = 2, .xid = xid, .yiaddr = H_OUR_IP };
	server_send(&ok);
	cr_assert(next_dhcp(&s));
	struct reply nak = { .type = 6, .xid = xid, .server_id = 0xffffffffu };
	server_send(&nak);
	cr_assert_eq(H_STAT(dhcp_bad_server), 5);
	cr_assert_eq(H_STAT(dhcp_nak), 0);
	struct net_dhcp_info di;
	net_dhcp_info(0, &di);
	cr_assert_str_eq(di.state, "requesting");
}

Test(dhcp, routers_off_the_subnet_or_not_unicast_are_skipped)
{
	/* every entry unusable: bound, without a gateway */
	struct reply opts = { .nrouters = 4, .routers = {
		0xc61200ffu,                    /* the subnet's broadcast address */
		H_OUR_IP,                       /* the offered address itself */
		0x0a000001u,                    /* 10.0.0.1: off the subnet */
		0xe0000001u,                    /* multicast */
	} };
	acquire(&opts);
	cr_assert_eq(our_gw(), 0, "took an unusable router");
	cr_assert_eq(H_STAT(dhcp_bad_router), 1, "counted once per ACK");
}

Test(dhcp, the_first_usable_router_is_taken)
{
	struct reply opts = { .nrouters = 3, .routers = { 0, 0xc6120000u, 0xc6120009u } };
	acquire(&opts);
	cr_assert_eq(our_gw(), 0xc6120009u);
	cr_assert_eq(H_STAT(dhcp_bad_router), 1);
	h_fini();
	cr_assert_eq(h_init(DHCP_CONFIG), 0);
	acquire(NULL);
	cr_assert_eq(our_gw(), S_IP);
	cr_assert_eq(H_STAT(dhcp_bad_router), 0);
}

Test(dhcp, while_renewing_only_the_leases_server_may_answer)
{
	uint32_t xid = to_renewing(NULL);
	/* another server's NAK and ACK, by identifier or (without one) by source */
	struct reply nak = { .type = 6, .xid = xid, .ip_dst = H_OUR_IP, .server_id = H_OTHER_IP };
	server_send(&nak);
	struct reply nak_src = { .type = 6, .xid = xid, .ip_dst = H_OUR_IP, .no_server = 1,
				 .ip_src = H_OTHER_IP };
	server_send(&nak_src);
	struct reply ack = { .type = 5, .xid = xid, .yiaddr = 0xc6120042u, .ip_dst = H_OUR_IP,
			     .server_id = H_OTHER_IP };
	server_send(&ack);
	cr_assert_eq(H_STAT(dhcp_wrong_server), 3);
	cr_assert_eq(H_STAT(drop_dhcp_stray), 3);
	cr_assert_eq(H_STAT(dhcp_nak), 0);
	cr_assert_eq(our_addr(), H_OUR_IP, "another server changed the lease");
	struct net_dhcp_info di;
	net_dhcp_info(0, &di);
	cr_assert_str_eq(di.state, "renewing");
	/* ours still renews */
	struct reply good = { .type = 5, .xid = xid, .yiaddr = H_OUR_IP, .ip_dst = H_OUR_IP };
	server_send(&good);
	net_dhcp_info(0, &di);
	cr_assert_str_eq(di.state, "bound");
	cr_assert_eq(H_STAT(dhcp_ack), 2);
}

Test(dhcp, while_requesting_another_servers_nak_is_ignored)
{
	uint32_t xid = to_requesting();
	struct reply nak = { .type = 6, .xid = xid, .server_id = H_OTHER_IP };
	server_send(&nak);
	cr_assert_eq(H_STAT(dhcp_wrong_server), 1);
	cr_assert_eq(H_STAT(dhcp_nak), 0);
	struct reply ack = { .type = 5, .xid = xid, .yiaddr = H_OUR_IP };
	server_send(&ack);
	cr_assert_eq(our_addr(), H_OUR_IP);
}

Test(dhcp, while_rebinding_any_server_may_answer)
{
	acquire(NULL);
	h_peer_answers_arp = 1;
	h_advance_ms(3152 * SEC);               /* past T2 */
	struct sent s;
	int rebinding = 0;
	while (!rebinding && next_dhcp(&s))
		rebinding = s.ip_dst == 0xffffffffu;
	cr_assert(rebinding, "no rebinding REQUEST");
	struct reply ack = { .type = 5, .xid = s.xid, .yiaddr = H_OUR_IP, .ip_dst = H_OUR_IP,
			     .server_id = H_OTHER_IP, .ip_src = H_OTHER_IP };
	server_send(&ack);
	cr_assert_eq(H_STAT(dhcp_wrong_server), 0);
	struct net_dhcp_info di;
	net_dhcp_info(0, &di);
	cr_assert_str_eq(di.state, "bound");
	cr_assert_eq(di.server, H_OTHER_IP, "the new lease's server");
}
