/*
 * stack.c — the stack's frame: interfaces from the config, the receive
 * poller on every queue, flow steering, Ethernet, ARP, IPv4, ICMP echo,
 * UDP, and the per-core transmit batch. TCP is in tcp.c.
 *
 * Flow ownership: net_flow_core() hashes (remote address, remote port,
 * local port) over an interface's queue pairs; the core owning that pair
 * owns the flow. A packet received on another core goes to the owner by
 * call_on (the buffer travels with it). ICMP echo is answered where it
 * arrives. ARP belongs to core 0: frames are handed to it, and it
 * publishes an immutable table that every core reads (sched_publish /
 * sched_quiesce_wait); a miss drops the packet (counted) and asks core 0
 * to resolve.
 *
 * Transmit: each core batches frames per interface and flushes them with
 * one tx_burst at the end of its loop turn. Core 0 owns no queue when
 * there are data cores: it hands its frames to the core owning pair 0.
 *
 * Bad input is counted by reason and dropped; nothing here trusts a
 * length it read from a header without checking it against the frame.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "net/net_priv.h"
#include "sched/sched.h"

struct net_if net_ifs[NET_MAX_IFS];
int net_nifs;
struct net_core net_cores[POLLUX_MAX_CORES];

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
uint32_t net_flow_core(const struct net_if *ifc, uint32_t raddr, uint16_t rport, uint16_t lport)
{
	/* Device RSS: the pair the device itself picks, from the same key and
	 * table (what we receive comes from the remote end: it is the hash's
	 * source), so packets land on their owner and are not steered. */
	const struct rss_conf *rss = netdev_rss(ifc->dev);
	if (rss)
		return netdev_queue_core(ifc->dev, rss_flow_queue(rss, raddr, ifc->addr, rport, lport));
	/* software steering */
	uint64_t h = ((uint64_t)raddr << 32) ^ ((uint64_t)rport << 16) ^ lport;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	/* multiply-shift instead of %: no division per packet */
	return netdev_queue_core(ifc->dev, (uint16_t)(((h & 0xffffffffu) * ifc->nq) >> 32));
}

struct pktbuf *net_alloc(void)
{
	struct pktbuf *b = pktbuf_alloc(pktbuf_pool_of((uint16_t)core_self()->id));
	if (!b)
		NSTAT(drop_no_buffer);
	return b;
}

/* ---- transmit batching */
/* Hands the batch to the device. Frames the ring can't take yet stay at
 * the front of the batch for the next turn (the device drains its ring
 * meanwhile): a full ring is back-pressure, not loss. */
static void tx_flush_if(struct net_core *nc, int i)
{
	struct net_txq *t = &nc->txq[i];
	if (!t->n)
		return;
	uint32_t me = core_self()->id;
	struct net_if *ifc = &net_ifs[i];
	uint16_t q = 0;
	for (q = 0; q < ifc->nq; q++)
		if (netdev_queue_core(ifc->dev, q) == me)
			break;
	if (q == ifc->nq) {                     /* no queue here: nothing can go */
		for (uint16_t k = 0; k < t->n; k++) {
			NSTAT(tx_drop);
			pktbuf_free(t->pkts[k]);
		}
		t->n = 0;
		return;
	}
	uint16_t sent = netdev_tx_burst(ifc->dev, q, t->pkts, t->n);
	counter_add(&nc->ctr.tx_frames, sent);
	memmove(t->pkts, t->pkts + sent, (size_t)(t->n - sent) * sizeof t->pkts[0]);
	t->n = (uint16_t)(t->n - sent);
}

static void tx_flush(void *arg)
{
	struct net_core *nc = net_me();
	for (int i = 0; i < net_nifs; i++)
		tx_flush_if(nc, i);
}

static void tx_remote(void *arg)
{
	struct pktbuf *b = arg;
	struct net_txq *t = &net_me()->txq[b->port];
	if (t->n == NET_TX_BATCH)
		tx_flush_if(net_me(), b->port);
	if (t->n == NET_TX_BATCH) {
		NSTAT(tx_drop);
		pktbuf_free(b);
		return;
	}
	t->pkts[t->n++] = b;
}

/* Queues a complete frame (Ethernet header included) on this core.
 * Consumes b. -ENOBUFS when the batch is still full after a flush (the
 * frame is dropped and counted; TCP takes it as a cue to wait). */
static int eth_tx(struct net_if *ifc, struct pktbuf *b)
{
	b->port = (uint16_t)ifc->index;
	uint32_t me = core_self()->id, owner = netdev_queue_core(ifc->dev, 0);
	int mine = 0;
	for (uint16_t q = 0; q < ifc->nq; q++)
		mine |= netdev_queue_core(ifc->dev, q) == me;
	if (!mine) {                    /* core 0 with data cores: hand it over */
		if (call_on(owner, tx_remote, b)) {
			NSTAT(tx_drop);
			pktbuf_free(b);
			return -ENOBUFS;
		}
		return 0;
	}
	struct net_txq *t = &net_me()->txq[ifc->index];
	if (t->n == NET_TX_BATCH)
		tx_flush_if(net_me(), ifc->index);
	if (t->n == NET_TX_BATCH) {
		NSTAT(tx_drop);
		pktbuf_free(b);
		return -ENOBUFS;
	}
	t->pkts[t->n++] = b;
	return 0;
}

/* would a frame queued now wait behind a full batch? (TCP asks first) */
int net_tx_busy(const struct net_if *ifc)
{
	return net_me()->txq[ifc->index].n >= NET_TX_BATCH - 8;
}

/* ---- ARP: core 0 writes, everyone reads the published table */
#define ARP_MAX 256
#define ARP_TTL_NS (300ull * 1000000000ull)
struct arp_entry { uint32_t ip; uint8_t mac[ETH_ALEN]; uint8_t ifindex; uint64_t expires; };
struct arp_table { uint32_t n; struct arp_entry e[ARP_MAX]; };
static void *_Atomic arp_published;
static struct arp_table arp_bufs[2];           /* core 0 flips between them */
static int arp_cur;

static const struct arp_entry *arp_lookup(uint32_t ip)
{
	const struct arp_table *t = sched_deref(&arp_published);
	if (!t)
		return NULL;
	uint64_t now = time_ns();
	for (uint32_t i = 0; i < t->n; i++)
		if (t->e[i].ip == ip && t->e[i].expires > now)
			return &t->e[i];
	return NULL;
}

static void arp_send(struct net_if *ifc, uint16_t op, const uint8_t *tha, uint32_t tpa)
{
	struct pktbuf *b = net_alloc();
	if (!b)
		return;
	struct eth_hdr *e = (void *)pktbuf_data(b);
	struct arp_hdr *a = (void *)(e + 1);
	memcpy(e->dst, op == ARP_REQUEST ? (const uint8_t *)"\xff\xff\xff\xff\xff\xff" : tha, ETH_ALEN);
	memcpy(e->src, ifc->mac, ETH_ALEN);
	e->type = htons(ETHERTYPE_ARP);
	a->htype = htons(1);
	a->ptype = htons(ETHERTYPE_IPV4);
	a->hlen = 6;
	a->plen = 4;
	a->op = htons(op);
	memcpy(a->sha, ifc->mac, ETH_ALEN);
	a->spa = ifc->addr;
	memset(a->tha, 0, ETH_ALEN);
	if (op == ARP_REPLY)
		memcpy(a->tha, tha, ETH_ALEN);
	a->tpa = tpa;
	b->len = 60;                            /* minimum frame, padded */
	memset((uint8_t *)(a + 1), 0, 60 - ETH_HLEN - sizeof *a);
	NSTAT(tx_arp);
	eth_tx(ifc, b);
}

/* core 0: learn (or refresh) ip -> mac and republish */
static void arp_learn(struct net_if *ifc, uint32_t ip, const uint8_t *mac)
{
	struct arp_table *old = &arp_bufs[arp_cur], *nw = &arp_bufs[!arp_cur];
	uint64_t now = time_ns();
	*nw = *old;
	uint32_t k, oldest = 0;
	for (k = 0; k < nw->n; k++)
		if (nw->e[k].ip == ip)
			break;
	if (k == nw->n) {
		if (nw->n < ARP_MAX) {
			nw->n++;
		} else {
			for (uint32_t i = 1; i < nw->n; i++)
				if (nw->e[i].expires < nw->e[oldest].expires)
					oldest = i;
			k = oldest;
		}
	} else if (!memcmp(nw->e[k].mac, mac, ETH_ALEN) && nw->e[k].expires > now + ARP_TTL_NS / 2) {
		return;                         /* fresh already: no republish */
	}
	nw->e[k].ip = ip;
	memcpy(nw->e[k].mac, mac, ETH_ALEN);
	nw->e[k].ifindex = (uint8_t)ifc->index;
	nw->e[k].expires = now + ARP_TTL_NS;
	sched_publish(&arp_published, nw);
	/* the old copy is rewritten next time: wait until nobody reads it */
	sched_quiesce_wait(1000000000ull);
	arp_cur = !arp_cur;
}

static void arp_input_core0(void *arg)
{
	struct pktbuf *b = arg;
	struct net_if *ifc = &net_ifs[b->port];
	const struct arp_hdr *a = (const void *)(pktbuf_data(b) + ETH_HLEN);
	if (ifc->addr && (a->tpa == ifc->addr || arp_lookup(a->spa)))
		arp_learn(ifc, a->spa, a->sha);
	if (ntohs(a->op) == ARP_REQUEST && ifc->addr && a->tpa == ifc->addr)
		arp_send(ifc, ARP_REPLY, a->sha, a->spa);
	pktbuf_free(b);
}

static void arp_resolve_core0(void *arg)
{
	uintptr_t v = (uintptr_t)arg;
	struct net_if *ifc = &net_ifs[v >> 32];
	arp_send(ifc, ARP_REQUEST, NULL, (uint32_t)v);
}

static void arp_input(struct net_if *ifc, struct pktbuf *b)
{
	NSTAT(rx_arp);
	const struct arp_hdr *a = (const void *)(pktbuf_data(b) + ETH_HLEN);
	if (b->len < ETH_HLEN + sizeof *a || ntohs(a->htype) != 1 || ntohs(a->ptype) != ETHERTYPE_IPV4 ||
	    a->hlen != 6 || a->plen != 4) {
		NSTAT(drop_short);
		pktbuf_free(b);
		return;
	}
	b->port = (uint16_t)ifc->index;
	if (core_self()->id == 0)
		arp_input_core0(b);
	else if (call_on(0, arp_input_core0, b)) {
		NSTAT(tx_drop);
		pktbuf_free(b);
	}
}

/* ---- IPv4 output */
int net_ip_output(struct net_if *ifc, struct pktbuf *b, uint32_t dst, uint8_t proto, uint8_t tos)
{
	uint32_t hop = (dst & ifc->mask) == (ifc->addr & ifc->mask) || !ifc->gw ? dst : ifc->gw;
	const struct arp_entry *ae = dst == 0xffffffffu ? NULL : arp_lookup(hop);
	if (!ae && dst != 0xffffffffu) {
		NSTAT(arp_miss_drop);
		uintptr_t v = ((uintptr_t)ifc->index << 32) | hop;
		if (core_self()->id == 0)
			arp_resolve_core0((void *)v);
		else
			call_on(0, arp_resolve_core0, (void *)v);
		pktbuf_free(b);
		return -EHOSTUNREACH;
	}
	if (b->off < ETH_HLEN + sizeof(struct ipv4_hdr) || b->len + sizeof(struct ipv4_hdr) > ifc->mtu) {
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
	ip->len = htons(b->len);
	ip->id = htons(atomic_fetch_add_explicit(&ip_id, 1, memory_order_relaxed));
	ip->frag = htons(0x4000);               /* DF */
	ip->ttl = 64;
	ip->proto = proto;
	ip->csum = 0;
	ip->src = ifc->addr;
	ip->dst = dst;
	ip->csum = net_csum(ip, sizeof *ip, 0);
	b->off -= ETH_HLEN;
	b->len += ETH_HLEN;
	struct eth_hdr *e = (void *)pktbuf_data(b);
	memcpy(e->dst, ae ? ae->mac : (const uint8_t *)"\xff\xff\xff\xff\xff\xff", ETH_ALEN);
	memcpy(e->src, ifc->mac, ETH_ALEN);
	e->type = htons(ETHERTYPE_IPV4);
	if (b->len < 60) {                      /* pad to the minimum frame */
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
	if (len + sizeof(struct udp_hdr) + sizeof(struct ipv4_hdr) > ifc->mtu)
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
	u->csum = net_csum(u, len + sizeof *u, net_pseudo_sum(ifc->addr, to->dst, IP_PROTO_UDP,
							  (uint16_t)(len + sizeof *u)));
	if (!u->csum)
		u->csum = 0xffff;
	b->len = (uint16_t)(len + sizeof *u);
	NSTAT(udp_out);
	return net_ip_output(ifc, b, to->dst, IP_PROTO_UDP, 0);
}

static void udp_input(struct net_if *ifc, struct pktbuf *b, const struct ipv4_hdr *ip, uint16_t l4len)
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

static void ip_input(struct net_if *ifc, struct pktbuf *b)
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
	if (!ifc->addr || (ip->dst != ifc->addr && ip->dst != 0xffffffffu &&
			   ip->dst != (ifc->addr | ~ifc->mask))) {
		NSTAT(drop_not_ours);
		goto drop;
	}
	b->len = tot;
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

static void eth_input(struct net_if *ifc, struct pktbuf *b)
{
	NSTAT(rx_frames);
	if (b->len < ETH_HLEN) {
		NSTAT(drop_short);
		pktbuf_free(b);
		return;
	}
	const struct eth_hdr *e = (const void *)pktbuf_data(b);
	uint16_t type = ntohs(e->type);
	if (type == ETHERTYPE_IPV4)
		ip_input(ifc, b);
	else if (type == ETHERTYPE_ARP)
		arp_input(ifc, b);
	else {
		if (type == ETHERTYPE_VLAN)
			NSTAT(drop_vlan);
		else
			NSTAT(drop_not_ipv4);
		pktbuf_free(b);
	}
}

/* Feeds one received frame to the stack (tests call it directly). */
void net_input(int ifindex, struct pktbuf *b)
{
	eth_input(&net_ifs[ifindex], b);
}

struct rxq_poller {
	struct net_if *ifc;
	uint16_t q;
	char name[32];                          /* "net eth%d q%u" whatever gcc assumes of k, q */
};
static struct rxq_poller rxpollers[NET_MAX_IFS * NETDEV_MAX_QUEUES];

static unsigned rx_poll(void *arg)
{
	struct rxq_poller *p = arg;
	struct pktbuf *pkts[SCHED_BURST];
	uint16_t n = netdev_rx_burst(p->ifc->dev, p->q, pkts, SCHED_BURST);
	for (uint16_t i = 0; i < n; i++)
		eth_input(p->ifc, pkts[i]);
	return n;
}

/* ---- configuration */
static int parse_cidr(const char *s, uint32_t *addr, uint8_t *prefix)
{
	unsigned a, b, c, d, p = 32;
	char tail;
	int n = sscanf(s, "%u.%u.%u.%u/%u%c", &a, &b, &c, &d, &p, &tail);
	if ((n != 5 && n != 4) || a > 255 || b > 255 || c > 255 || d > 255 || p > 32)
		return -1;
	*addr = htonl(a << 24 | b << 16 | c << 8 | d);
	*prefix = (uint8_t)p;
	return 0;
}

static unsigned idle_poll(void *arg) { return 0; }

static void gratuitous(void *arg)
{
	struct net_if *ifc = arg;
	arp_send(ifc, ARP_REQUEST, NULL, ifc->addr);
}

int net_init(const void *cfg, char *err, size_t errlen)
{
	const json_t *ifs = json_object_get(cfg, "interfaces");
	const json_t *tcpc = json_object_get(cfg, "tcp");
	long max_conns = 1024, sndbuf = 65536;
	if (ifs && !json_is_array(ifs)) {
		snprintf(err, errlen, "interfaces: must be a list");
		return -EINVAL;
	}
	if (tcpc) {
		const json_t *v;
		if ((v = json_object_get(tcpc, "max_conns_per_core"))) {
			if (!json_is_integer(v) || json_integer_value(v) < 4 || json_integer_value(v) > 1000000) {
				snprintf(err, errlen, "tcp.max_conns_per_core: must be 4..1000000");
				return -EINVAL;
			}
			max_conns = (long)json_integer_value(v);
		}
		if ((v = json_object_get(tcpc, "send_buffer"))) {
			json_int_t x = json_is_integer(v) ? json_integer_value(v) : 0;
			if (x < 4096 || x > (16 << 20) || (x & (x - 1))) {
				snprintf(err, errlen, "tcp.send_buffer: must be a power of two, 4096..16777216");
				return -EINVAL;
			}
			sndbuf = (long)x;
		}
	}
	size_t i;
	const json_t *e;
	json_array_foreach(ifs, i, e) {
		if ((int)i >= netdev_count()) {
			snprintf(err, errlen, "interfaces[%zu]: no network device for it (have %d)", i, netdev_count());
			return -EINVAL;
		}
		if (!json_is_object(e)) {
			snprintf(err, errlen, "interfaces[%zu]: must be an object", i);
			return -EINVAL;
		}
		struct net_if *ifc = &net_ifs[i];
		const char *addr = json_string_value(json_object_get(e, "address"));
		if (!addr || parse_cidr(addr, &ifc->addr, &ifc->prefix) || ifc->prefix < 1) {
			snprintf(err, errlen, "interfaces[%zu].address: must be \"a.b.c.d/prefix\"", i);
			return -EINVAL;
		}
		ifc->mask = ifc->prefix ? htonl(~0u << (32 - ifc->prefix)) : 0;
		const json_t *gw = json_object_get(e, "gateway");
		if (gw) {
			uint8_t p;
			if (!json_is_string(gw) || parse_cidr(json_string_value(gw), &ifc->gw, &p) || p != 32 ||
			    (ifc->gw & ifc->mask) != (ifc->addr & ifc->mask)) {
				snprintf(err, errlen, "interfaces[%zu].gateway: must be an address on the interface's subnet", i);
				return -EINVAL;
			}
		}
		const json_t *mtu = json_object_get(e, "mtu");
		ifc->mtu = netdev_mtu(netdev_get((int)i));
		if (mtu) {
			if (!json_is_integer(mtu) || json_integer_value(mtu) < 68 || json_integer_value(mtu) > 9000) {
				snprintf(err, errlen, "interfaces[%zu].mtu: must be 68..9000", i);
				return -EINVAL;
			}
			if (json_integer_value(mtu) < ifc->mtu)
				ifc->mtu = (uint16_t)json_integer_value(mtu);
		}
	}
	net_nifs = netdev_count() < NET_MAX_IFS ? netdev_count() : NET_MAX_IFS;
	for (int k = 0; k < net_nifs; k++) {
		struct net_if *ifc = &net_ifs[k];
		ifc->index = k;
		ifc->dev = netdev_get(k);
		netdev_mac(ifc->dev, ifc->mac);
		if (!ifc->mtu)
			ifc->mtu = netdev_mtu(ifc->dev);
		ifc->nq = netdev_queues(ifc->dev);
		for (uint16_t q = 0; q < ifc->nq; q++) {
			struct rxq_poller *p = &rxpollers[k * NETDEV_MAX_QUEUES + q];
			p->ifc = ifc;
			p->q = q;
			snprintf(p->name, sizeof p->name, "net eth%d q%u", k, q);
			int rc = sched_poller_add(netdev_queue_core(ifc->dev, q), p->name, rx_poll, tx_flush, p);
			if (rc) {
				snprintf(err, errlen, "net: no room for a poller on core %u", netdev_queue_core(ifc->dev, q));
				return rc;
			}
		}
		if (ifc->addr) {
			uint32_t a = ntohl(ifc->addr);
			klog("net: eth%d %u.%u.%u.%u/%u mtu %u, %u queue%s", k, a >> 24, (a >> 16) & 255,
			     (a >> 8) & 255, a & 255, ifc->prefix, ifc->mtu, ifc->nq, ifc->nq == 1 ? "" : "s");
		}
	}
	/* core 0 flushes what it sends, too (alone, it owns the queues) */
	if (cores_count() > 1)
		sched_poller_add(0, "net core0", idle_poll, tx_flush, NULL);
	for (uint32_t c = 0; c < cores_count(); c++)
		if (tcp_core_init(c, (uint32_t)max_conns, (uint32_t)sndbuf)) {
			snprintf(err, errlen, "tcp: no memory for %ld connections of %ld bytes on core %u",
				 max_conns, sndbuf, c);
			return -ENOMEM;
		}
	for (int k = 0; k < net_nifs; k++)
		if (net_ifs[k].addr)
			call_on(netdev_queue_core(net_ifs[k].dev, 0), gratuitous, &net_ifs[k]);
	return 0;
}

int net_if_count(void) { return net_nifs; }

int net_if_info(int i, uint32_t *addr, uint8_t *prefix, uint32_t *gw, uint16_t *mtu)
{
	if (i < 0 || i >= net_nifs)
		return -EINVAL;
	*addr = ntohl(net_ifs[i].addr);
	*prefix = net_ifs[i].prefix;
	*gw = ntohl(net_ifs[i].gw);
	*mtu = net_ifs[i].mtu;
	return 0;
}

void net_stats(uint32_t core, struct net_stats *o)
{
	struct net_core *nc = &net_cores[core];
#define COPY(f) o->f = counter_get(&nc->ctr.f);
	NET_STATS_FIELDS(COPY)
#undef COPY
}

uint32_t net_tcp_conns(uint32_t core) { return tcp_conns_open(core); }
