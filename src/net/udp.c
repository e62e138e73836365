/*
 * udp.c — UDP: binds (core 0, start-up), datagrams sent from the calling
 * core (which must own a queue of the interface), and datagrams received
 * on the flow's owner (udp_input, from ip.c), handed to the bound
 * callback as a view valid during the call. A datagram for an unbound
 * port is counted (drop_udp_no_port) and dropped. udp_may_answer tells a
 * service that answers anything (echo) what not to answer.
 */
#include <errno.h>
#include <string.h>
#include "net/net_priv.h"

/* ---- UDP */
#define UDP_BINDS 32
static struct { uint16_t port; udp_recv_fn fn; void *arg; } udp_binds[UDP_BINDS];
static int nudp;

int udp_bind(uint16_t port, udp_recv_fn fn, void *arg)
{
	for (int i = 0; i < nudp; i++)
		if (udp_binds[i].port == port)
			return -EADDRINUSE;
	if (nudp == UDP_BINDS)
		return -ENOSPC;
	udp_binds[nudp].port = port;
	udp_binds[nudp].fn = fn;
	udp_binds[nudp].arg = arg;
	nudp++;
	return 0;
}

int udp_send(const struct udp_meta *to, const void *data, size_t len)
{
	if (to->ifindex < 0 || to->ifindex >= net_nifs)
		return -EINVAL;
	struct net_if *ifc = &net_ifs[to->ifindex];
	const struct net_ifaddr *ifa = net_ifa(ifc);
	if (len + sizeof(struct udp_hdr) + sizeof(struct ipv4_hdr) > ifa->mtu)
		return -EMSGSIZE;
	struct pktbuf *b = net_alloc();
	if (!b)
		return -ENOBUFS;
	b->off = PKTBUF_HEADROOM;
	struct udp_hdr *u = (void *)pktbuf_data(b);
	memcpy(u + 1, data, len);
	u->sport = htons(to->sport);
	u->dport = htons(to->dport);
	u->len = htons((uint16_t)(len + sizeof *u));
	u->csum = 0;
	u->csum = net_csum(u, len + sizeof *u, net_pseudo_sum(ifa->addr, to->dst, IP_PROTO_UDP,
							  (uint16_t)(len + sizeof *u)));
	if (!u->csum)
		u->csum = 0xffff;
	b->len = (uint16_t)(len + sizeof *u);
	NSTAT(udp_out);
	return net_ip_output(ifc, b, to->dst, IP_PROTO_UDP, 0);
}

int udp_may_answer(const struct udp_meta *m)
{
	switch (m->sport) {
	case 0: case 7: case 13: case 17: case 19: case 37:
		NSTAT(drop_udp_loop);
		return 0;
	}
	if (m->ifindex < 0 || m->ifindex >= net_nifs || m->dst != net_ifa(&net_ifs[m->ifindex])->addr) {
		NSTAT(drop_udp_loop);
		return 0;
	}
	return 1;
}

void udp_input(struct net_if *ifc, struct pktbuf *b, const struct ipv4_hdr *ip, uint16_t l4len)
{
	const struct udp_hdr *u = (const void *)pktbuf_data(b);
	uint16_t ulen = l4len >= sizeof *u ? ntohs(u->len) : 0;
	if (l4len < sizeof *u || ulen < sizeof *u || ulen > l4len ||
	    (u->csum && !(b->flags & (PKTBUF_F_CSUM_VALID | PKTBUF_F_CSUM_NEEDED)) && net_csum(u, ulen, net_pseudo_sum(ip->src, ip->dst, IP_PROTO_UDP, ulen)) != 0)) {
		NSTAT(drop_bad_udp);
		pktbuf_free(b);
		return;
	}
	NSTAT(udp_in);
	for (int i = 0; i < nudp; i++)
		if (udp_binds[i].port == ntohs(u->dport)) {
			struct udp_meta m = { ip->src, ip->dst, ntohs(u->sport), ntohs(u->dport), ifc->index };
			udp_binds[i].fn(udp_binds[i].arg, &m, (const uint8_t *)(u + 1), ulen - sizeof *u);
			pktbuf_free(b);
			return;
		}
	NSTAT(drop_udp_no_port);
	pktbuf_free(b);
}
