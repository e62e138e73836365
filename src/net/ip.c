/*
 * ip.c — IPv4: checksums, flow steering, routes, output, input and ICMP
 * echo.
 *
 * Flow ownership: net_flow_core() hashes (remote address, remote port,
 * local port) over an interface's queue pairs; the core owning that pair
 * owns the flow. The hash is the device's RSS (Toeplitz, with the random
 * key the driver gave it) where the device does RSS, else SipHash-2-4
 * with a key drawn at net_init (net_flow_init): a peer that doesn't know
 * the key can't aim its flows at one core. A packet received on another core goes to the owner by
 * call_on (the buffer travels with it). ICMP echo is answered where it
 * arrives.
 *
 * Input (ip_input, from eth.c): the header is checked against the frame;
 * UDP 67 -> 68 on a DHCP interface goes to core 0's client whatever its
 * destination address; other traffic for an interface without an address
 * (drop_unbound) or for another address is dropped; so is a packet whose
 * source no host can send from or that is ours (drop_bad_src: see
 * ip_src_bad), and anything but UDP sent to a broadcast address
 * (drop_bcast_dst: no echo reply, SYN-ACK or RST to a broadcast); the rest
 * goes to its owner and then by protocol to tcp_input, udp_input or the
 * ICMP echo here. No reassembly: fragments are counted and dropped.
 *
 * Output (net_ip_output): the next hop from the routes, its MAC from the
 * ARP table (a miss drops the packet, counted, and asks core 0), then the
 * frame joins this core's transmit batch. It consumes the buffer.
 *
 * Bad input is counted by reason and dropped; nothing here trusts a
 * length it read from a header without checking it against the frame.
 */
#include <errno.h>
#include <string.h>
#include "net/net_priv.h"
#include "core/siphash.h"
#include "sched/sched.h"

/* ---- checksums */
uint16_t net_csum(const void *data, size_t len, uint32_t sum)
{
	const uint8_t *p = data;
	uint64_t s = sum;
	while (len >= 8) {
		uint64_t w;
		memcpy(&w, p, 8);
		s += (w & 0xffffffff) + (w >> 32);
		p += 8;
		len -= 8;
	}
	while (len >= 2) {
		uint16_t w;
		memcpy(&w, p, 2);
		s += w;
		p += 2;
		len -= 2;
	}
	if (len)
		s += *p;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

uint32_t net_pseudo_sum(uint32_t src, uint32_t dst, uint8_t proto, uint16_t len)
{
	uint64_t s = (src & 0xffff) + (src >> 16) + (dst & 0xffff) + (dst >> 16) +
		     htons(proto) + htons(len);
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint32_t)s;
}

/* ---- flows */
static struct siphash_key flow_key;    /* core 0 draws it (net_flow_init); immutable after */

void net_flow_init(void)
{
	int rc = siphash_key_random(&flow_key);
	if (rc) {
		/* no entropy: the boot goes on, with a key an outsider can't
		 * read off the wire but might guess; said on the console */
		flow_key.k0 = time_ns() ^ 0x736f6d6570736575ull;
		flow_key.k1 = (uint64_t)(uintptr_t)&flow_key ^ 0x646f72616e646f6dull;
		klog("net: no entropy for the flow-steering key (%d): steering is keyed by the clock", rc);
	}
}

uint32_t net_flow_core(const struct net_if *ifc, uint32_t raddr, uint16_t rport, uint16_t lport)
{
	/* Device RSS: the pair the device itself picks, from the same key and
	 * table (what we receive comes from the remote end: it is the hash's
	 * source), so packets land on their owner and are not steered. */
	const struct rss_conf *rss = netdev_rss(ifc->dev);
	if (rss)
		return netdev_queue_core(ifc->dev, rss_flow_queue(rss, raddr, ifc->addr, rport, lport));
	/* software steering: keyed, so the owner of a flow can't be chosen
	 * by whoever picks the addresses and ports */
	uint64_t h = siphash24_2u64(&flow_key, raddr, (uint64_t)rport << 16 | lport);
	/* multiply-shift instead of %: no division per packet */
	return netdev_queue_core(ifc->dev, (uint16_t)(((h & 0xffffffffu) * ifc->nq) >> 32));
}

/* ---- routes */
static const struct net_route *route_match(const struct net_if *ifc, const struct net_ifaddr *ifa, uint32_t dst)
{
	const struct net_route *best = NULL;
	for (int i = 0; i < ifc->nroutes; i++) {
		const struct net_route *r = &ifc->routes[i];
		if ((dst & r->mask) == r->net && (!best || r->prefix > best->prefix) &&
		    ((r->via ^ ifa->addr) & ifa->mask) == 0)        /* its gateway is on-link now */
			best = r;
	}
	return best;
}

uint32_t net_next_hop(const struct net_if *ifc, const struct net_ifaddr *ifa, uint32_t dst)
{
	if (dst == 0xffffffffu || ((dst ^ ifa->addr) & ifa->mask) == 0)
		return dst;
	const struct net_route *r = route_match(ifc, ifa, dst);
	if (r)
		return r->via;
	return ifa->gw ? ifa->gw : dst;
}

struct net_if *net_route_if(uint32_t dst)
{
	struct net_if *best = NULL, *gw = NULL;
	int best_prefix = -1;
	for (int i = 0; i < net_nifs; i++) {
		struct net_if *f = &net_ifs[i];
		const struct net_ifaddr *fa = net_ifa(f);
		if (!fa || !fa->addr)
			continue;
		if (((dst ^ fa->addr) & fa->mask) == 0)
			return f;
		const struct net_route *r = route_match(f, fa, dst);
		if (r && r->prefix > best_prefix) {
			best = f;
			best_prefix = r->prefix;
		}
		if (fa->gw && !gw)
			gw = f;
	}
	return best ? best : gw;
}

/* ---- IPv4 output */
int net_ip_output(struct net_if *ifc, struct pktbuf *b, uint32_t dst, uint8_t proto, uint8_t tos)
{
	const struct net_ifaddr *ifa = net_ifa(ifc);
	if (!ifa->addr && dst != 0xffffffffu) { /* no address yet: only DHCP's broadcasts */
		NSTAT(tx_drop);
		pktbuf_free(b);
		return -EADDRNOTAVAIL;
	}
	uint32_t hop = net_next_hop(ifc, ifa, dst);
	const struct arp_entry *ae = dst == 0xffffffffu ? NULL : arp_lookup(ifc, hop);
	if (!ae && dst != 0xffffffffu) {
		NSTAT(arp_miss_drop);
		arp_ask(ifc, hop);
		pktbuf_free(b);
		return -EHOSTUNREACH;
	}
	if (ae && ae->expires - time_ns() < ARP_REFRESH_NS)
		arp_ask(ifc, hop);              /* in use and about to expire: refresh */
	/* a TSO frame (the device cuts it to the MTU) may be what IPv4 allows */
	uint32_t ip_max = (b->flags & PKTBUF_F_TX_TSO) ? 65535u : ifa->mtu;
	if (b->off < ETH_HLEN + sizeof(struct ipv4_hdr) || pktbuf_frame_len(b) + sizeof(struct ipv4_hdr) > ip_max) {
		NSTAT(tx_drop);
		pktbuf_free(b);
		return -EMSGSIZE;
	}
	b->off -= sizeof(struct ipv4_hdr);
	b->len += sizeof(struct ipv4_hdr);
	struct ipv4_hdr *ip = (void *)pktbuf_data(b);
	static _Atomic uint16_t ip_id;
	ip->ver_ihl = 0x45;
	ip->tos = tos;
	ip->len = htons((uint16_t)pktbuf_frame_len(b));
	ip->id = htons(atomic_fetch_add_explicit(&ip_id, 1, memory_order_relaxed));
	ip->frag = htons(0x4000);               /* DF */
	ip->ttl = 64;
	ip->proto = proto;
	ip->csum = 0;
	ip->src = ifa->addr;
	ip->dst = dst;
	ip->csum = net_csum(ip, sizeof *ip, 0);
	b->off -= ETH_HLEN;
	b->len += ETH_HLEN;
	struct eth_hdr *e = (void *)pktbuf_data(b);
	memcpy(e->dst, ae ? ae->mac : (const uint8_t *)"\xff\xff\xff\xff\xff\xff", ETH_ALEN);
	memcpy(e->src, ifc->mac, ETH_ALEN);
	e->type = htons(ETHERTYPE_IPV4);
	if (!b->frag && b->len < 60) {          /* pad to the minimum frame */
		memset(pktbuf_data(b) + b->len, 0, 60 - b->len);
		b->len = 60;
	}
	return eth_tx(ifc, b);
}

/* ---- ICMP */
static void icmp_input(struct net_if *ifc, struct pktbuf *b, const struct ipv4_hdr *ip, uint16_t l4len)
{
	struct icmp_hdr *h = (void *)pktbuf_data(b);
	if (l4len < sizeof *h || net_csum(h, l4len, 0) != 0) {
		NSTAT(drop_bad_icmp);
		pktbuf_free(b);
		return;
	}
	if (h->type != ICMP_ECHO_REQUEST) {
		pktbuf_free(b);
		return;
	}
	NSTAT(icmp_echo);
	uint32_t src = ip->src;
	h->type = ICMP_ECHO_REPLY;
	h->csum = 0;
	h->csum = net_csum(h, l4len, 0);
	b->len = l4len;
	net_ip_output(ifc, b, src, IP_PROTO_ICMP, 0);
}

/* ---- IPv4 input: validate, steer, dispatch */
static void ip_deliver(struct net_if *ifc, struct pktbuf *b);

static void steered_in(void *arg)
{
	struct pktbuf *b = arg;
	NSTAT(steered_in);
	ip_deliver(&net_ifs[b->port], b);
}

/* b: at the IP header, validated. Runs on the flow's owner. */
static void ip_deliver(struct net_if *ifc, struct pktbuf *b)
{
	const struct ipv4_hdr *ip = (const void *)pktbuf_data(b);
	uint16_t hl = (uint16_t)((ip->ver_ihl & 15) * 4), tot = ntohs(ip->len);
	/* keep a copy of the IP header: L4 code may reuse the buffer */
	struct ipv4_hdr h = *ip;
	b->off += hl;
	b->len = (uint16_t)(tot - hl);
	switch (h.proto) {
	case IP_PROTO_TCP: tcp_input(ifc, b, &h); break;
	case IP_PROTO_UDP: udp_input(ifc, b, &h, b->len); break;
	case IP_PROTO_ICMP: icmp_input(ifc, b, &h, b->len); break;
	default:
		NSTAT(drop_proto);
		pktbuf_free(b);
	}
}

/* A source address no host sends from, or one of ours: 0.0.0.0/8 (a host
 * without an address speaks only to DHCP, whose replies came in before
 * this check), loopback (127/8), multicast (224/4), class E and the
 * limited broadcast (240/4), our own addresses, and the directed
 * broadcast of an attached subnet (prefixes up to /30; /31 and /32 have
 * none). Whatever we answered to these would go to a broadcast or a
 * group (an L2 broadcast: an amplifier for a spoofed packet), to
 * ourselves, or nowhere. Any core: a few loads per interface. */
static int ip_src_bad(uint32_t src)
{
	uint32_t s = ntohl(src);
	if ((s >> 24) == 0 || (s >> 24) == 127 || (s >> 28) >= 14)
		return 1;
	for (int i = 0; i < net_nifs; i++) {
		const struct net_ifaddr *fa = net_ifa(&net_ifs[i]);
		if (!fa || !fa->addr)
			continue;
		if (src == fa->addr || (fa->prefix <= 30 && src == (fa->addr | ~fa->mask)))
			return 1;
	}
	return 0;
}

/* UDP from the server port to the client port: for the DHCP client,
 * whatever the destination address (before a lease, a server may send
 * to the address it offers, or to 255.255.255.255) */
static int is_dhcp_reply(const struct ipv4_hdr *ip, uint16_t hl, uint16_t tot)
{
	if (ip->proto != IP_PROTO_UDP || tot < hl + sizeof(struct udp_hdr))
		return 0;
	const struct udp_hdr *u = (const void *)((const uint8_t *)ip + hl);
	return u->sport == htons(DHCP_SERVER_PORT) && u->dport == htons(DHCP_CLIENT_PORT);
}

static void dhcp_input_core0(void *arg)
{
	struct pktbuf *b = arg;
	dhcp_input(&net_ifs[b->port], b);
}

/* b at the IP header: to the DHCP client on core 0 */
static void dhcp_steer(struct net_if *ifc, struct pktbuf *b)
{
	b->port = (uint16_t)ifc->index;
	if (core_self()->id == 0) {
		dhcp_input(ifc, b);
	} else if (call_on(0, dhcp_input_core0, b)) {
		NSTAT(tx_drop);
		pktbuf_free(b);
	}
}

void ip_input(struct net_if *ifc, struct pktbuf *b)
{
	b->off += ETH_HLEN;
	b->len -= ETH_HLEN;
	const struct ipv4_hdr *ip = (const void *)pktbuf_data(b);
	if (b->len < sizeof *ip) {
		NSTAT(drop_short);
		goto drop;
	}
	uint16_t hl = (uint16_t)((ip->ver_ihl & 15) * 4), tot = ntohs(ip->len);
	if ((ip->ver_ihl >> 4) != 4 || hl < 20 || tot < hl || tot > b->len) {
		NSTAT(drop_bad_ip_hdr);
		goto drop;
	}
	if (!(b->flags & PKTBUF_F_CSUM_VALID) && net_csum(ip, hl, 0) != 0) {
		NSTAT(drop_bad_ip_csum);
		goto drop;
	}
	if (ntohs(ip->frag) & (IP_FRAG_MF | IP_FRAG_OFFSET)) {
		NSTAT(drop_ip_frag);                /* no reassembly: counted */
		goto drop;
	}
	b->len = tot;
	if (ifc->dhcp && is_dhcp_reply(ip, hl, tot)) {
		dhcp_steer(ifc, b);
		return;
	}
	const struct net_ifaddr *ifa = net_ifa(ifc);
	if (!ifa->addr) {
		NSTAT(drop_unbound);                /* no lease yet (or any more) */
		goto drop;
	}
	if (ip->dst != ifa->addr && ip->dst != 0xffffffffu && ip->dst != (ifa->addr | ~ifa->mask)) {
		NSTAT(drop_not_ours);
		goto drop;
	}
	if (ip_src_bad(ip->src)) {
		NSTAT(drop_bad_src);
		goto drop;
	}
	/* to a broadcast: UDP only (DHCP, apps that want it). TCP must not
	 * answer (RFC 1122 4.2.3.10) and an echo reply from every host of the
	 * subnet is the smurf amplifier. */
	if (ip->dst != ifa->addr && ip->proto != IP_PROTO_UDP) {
		NSTAT(drop_bcast_dst);
		goto drop;
	}
	/* the flow's owner: TCP and UDP by their ports, the rest here */
	uint32_t owner = core_self()->id;
	if ((ip->proto == IP_PROTO_TCP || ip->proto == IP_PROTO_UDP) && tot >= hl + 4) {
		const uint16_t *ports = (const uint16_t *)((const uint8_t *)ip + hl);
		owner = net_flow_core(ifc, ip->src, ntohs(ports[0]), ntohs(ports[1]));
	}
	if (owner != core_self()->id) {
		b->port = (uint16_t)ifc->index;
		if (call_on(owner, steered_in, b)) {
			NSTAT(tx_drop);
			goto drop;
		}
		NSTAT(steered_out);
		return;
	}
	ip_deliver(ifc, b);
	return;
drop:
	pktbuf_free(b);
}
