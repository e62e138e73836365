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
 * to resolve. Entries live ARP_TTL_NS; one in use in its last
 * ARP_REFRESH_NS is re-requested (unicast) so a busy flow never misses,
 * and a sweep on core 0 drops the expired ones.
 *
 * Addresses: each interface's address, mask, gateway and MTU are one
 * immutable object published the same way (net_if_set_addr, core 0):
 * DHCP (dhcp.c) changes them at run time. UDP 67 -> 68 on a DHCP
 * interface goes to core 0's client whatever its destination address;
 * other IP traffic for an interface without an address is dropped
 * (drop_unbound).
 *
 * 802.1Q: an interface with "vlan": VID accepts only frames tagged with
 * that VID (the tag is stripped on receipt) and tags all it sends; other
 * tags and untagged frames are counted and dropped. Without "vlan",
 * tagged frames are counted and dropped.
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

/* Inserts the interface's 802.1Q tag after the MAC addresses, in the
 * buffer's headroom (the frame was padded to 60 bytes untagged, so it is
 * at least 64 now, as a tagged frame must be). */
static int vlan_tag(struct net_if *ifc, struct pktbuf *b)
{
	if (b->off < PKTBUF_HEADROOM / 2) {     /* leave room for the device's header */
		NSTAT(tx_drop);
		pktbuf_free(b);
		return -ENOBUFS;
	}
	uint8_t *p = pktbuf_data(b);
	memmove(p - 4, p, 2 * ETH_ALEN);
	uint16_t tag[2] = { htons(ETHERTYPE_VLAN), htons(ifc->vlan) };
	memcpy(p - 4 + 2 * ETH_ALEN, tag, sizeof tag);
	b->off -= 4;
	b->len += 4;
	return 0;
}

/* Queues a complete frame (Ethernet header included, untagged) on this
 * core. Consumes b. -ENOBUFS when the batch is still full after a flush
 * (the frame is dropped and counted; TCP takes it as a cue to wait). */
static int eth_tx(struct net_if *ifc, struct pktbuf *b)
{
	if (ifc->vlan && vlan_tag(ifc, b))
		return -ENOBUFS;
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
#define ARP_REFRESH_NS (60ull * 1000000000ull)  /* re-request an entry in use this long before it expires */
#define ARP_SWEEP_NS (60ull * 1000000000ull)    /* how often core 0 drops expired entries */
#define ARP_ASK_NS 1000000000ull                /* a core asks for one address at most this often */
struct arp_entry { uint32_t ip; uint8_t mac[ETH_ALEN]; uint8_t ifindex; uint64_t expires; };
struct arp_table { uint32_t n; struct arp_entry e[ARP_MAX]; };
static void *_Atomic arp_published;
static struct arp_table arp_bufs[2];           /* core 0 flips between them */
static int arp_cur;
static struct timer arp_sweep_timer;           /* core 0 */

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

uint32_t net_arp_entries(void)
{
	const struct arp_table *t = sched_deref(&arp_published);
	return t ? t->n : 0;
}

/* An ARP frame from ifc: a request goes to dst (NULL: broadcast) asking
 * for tpa; a reply goes to dst, about us. */
static void arp_send(struct net_if *ifc, uint16_t op, const uint8_t *dst, uint32_t tpa)
{
	struct pktbuf *b = net_alloc();
	if (!b)
		return;
	struct eth_hdr *e = (void *)pktbuf_data(b);
	struct arp_hdr *a = (void *)(e + 1);
	memcpy(e->dst, dst ? dst : (const uint8_t *)"\xff\xff\xff\xff\xff\xff", ETH_ALEN);
	memcpy(e->src, ifc->mac, ETH_ALEN);
	e->type = htons(ETHERTYPE_ARP);
	a->htype = htons(1);
	a->ptype = htons(ETHERTYPE_IPV4);
	a->hlen = 6;
	a->plen = 4;
	a->op = htons(op);
	memcpy(a->sha, ifc->mac, ETH_ALEN);
	a->spa = net_ifa(ifc)->addr;
	memset(a->tha, 0, ETH_ALEN);
	if (op == ARP_REPLY)
		memcpy(a->tha, dst, ETH_ALEN);
	a->tpa = tpa;
	b->len = 60;                            /* minimum frame, padded */
	memset((uint8_t *)(a + 1), 0, 60 - ETH_HLEN - sizeof *a);
	NSTAT(tx_arp);
	eth_tx(ifc, b);
}

/* core 0: the spare table, filled with the live entries of the current
 * one (expired entries are left behind and counted) */
static struct arp_table *arp_spare_live(uint64_t now, uint32_t *expired)
{
	const struct arp_table *old = &arp_bufs[arp_cur];
	struct arp_table *nw = &arp_bufs[!arp_cur];
	nw->n = 0;
	*expired = 0;
	for (uint32_t i = 0; i < old->n; i++) {
		if (old->e[i].expires > now)
			nw->e[nw->n++] = old->e[i];
		else
			(*expired)++;
	}
	return nw;
}

/* core 0: publish the spare table; the old copy is rewritten next time,
 * so wait until nobody reads it */
static void arp_publish(struct arp_table *nw, uint32_t expired)
{
	counter_add(&net_me()->ctr.arp_expired, expired);
	sched_publish(&arp_published, nw);
	if (sched_quiesce_wait(1000000000ull))
		klog("net: arp: a core did not pass a quiescent point within 1 s");
	arp_cur = !arp_cur;
}

/* core 0: learn (or refresh) ip -> mac and republish */
static void arp_learn(struct net_if *ifc, uint32_t ip, const uint8_t *mac)
{
	const struct arp_table *old = &arp_bufs[arp_cur];
	uint64_t now = time_ns();
	for (uint32_t i = 0; i < old->n; i++)
		if (old->e[i].ip == ip && !memcmp(old->e[i].mac, mac, ETH_ALEN) &&
		    old->e[i].expires > now + ARP_TTL_NS / 2)
			return;                 /* fresh already: no republish */
	uint32_t expired;
	struct arp_table *nw = arp_spare_live(now, &expired);
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
	}
	nw->e[k].ip = ip;
	memcpy(nw->e[k].mac, mac, ETH_ALEN);
	nw->e[k].ifindex = (uint8_t)ifc->index;
	nw->e[k].expires = now + ARP_TTL_NS;
	arp_publish(nw, expired);
}

/* core 0, every ARP_SWEEP_NS: drop expired entries (lookups already skip
 * them; this keeps the table, and every lookup's walk, short) */
static void arp_sweep(struct timer *t, void *arg)
{
	const struct arp_table *old = &arp_bufs[arp_cur];
	uint64_t now = time_ns();
	uint32_t i;
	for (i = 0; i < old->n && old->e[i].expires > now; i++)
		;
	if (i == old->n)
		return;
	uint32_t expired;
	struct arp_table *nw = arp_spare_live(now, &expired);
	arp_publish(nw, expired);
}

static void arp_input_core0(void *arg)
{
	struct pktbuf *b = arg;
	struct net_if *ifc = &net_ifs[b->port];
	uint32_t me = net_ifa(ifc)->addr;
	const struct arp_hdr *a = (const void *)(pktbuf_data(b) + ETH_HLEN);
	if (me && (a->tpa == me || arp_lookup(a->spa)))
		arp_learn(ifc, a->spa, a->sha);
	if (ntohs(a->op) == ARP_REQUEST && me && a->tpa == me)
		arp_send(ifc, ARP_REPLY, a->sha, a->spa);
	pktbuf_free(b);
}

/* core 0: ask for an address: broadcast when unknown, unicast to the
 * known MAC when refreshing an entry that is about to expire */
static void arp_resolve_core0(void *arg)
{
	uintptr_t v = (uintptr_t)arg;
	struct net_if *ifc = &net_ifs[v >> 32];
	const struct arp_entry *ae = arp_lookup((uint32_t)v);
	if (ae)
		NSTAT(arp_refresh);
	arp_send(ifc, ARP_REQUEST, ae ? ae->mac : NULL, (uint32_t)v);
}

/* any core: have core 0 ask for ip, unless this core asked within
 * ARP_ASK_NS (a busy flow would otherwise send a request per packet) */
static void arp_ask(struct net_if *ifc, uint32_t ip)
{
	struct net_core *nc = net_me();
	uint64_t now = time_ns();
	uint32_t h = (ip * 0x9e3779b1u) >> 29;
	_Static_assert(NET_ARP_ASKED == 8, "the hash above gives 3 bits");
	if (nc->arp_asked[h].ip == ip && now - nc->arp_asked[h].ns < ARP_ASK_NS)
		return;
	nc->arp_asked[h].ip = ip;
	nc->arp_asked[h].ns = now;
	uintptr_t v = ((uintptr_t)ifc->index << 32) | ip;
	if (core_self()->id == 0)
		arp_resolve_core0((void *)v);
	else
		call_on(0, arp_resolve_core0, (void *)v);
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

void net_arp_announce(struct net_if *ifc)
{
	uint32_t me = net_ifa(ifc)->addr;
	if (me)
		arp_send(ifc, ARP_REQUEST, NULL, me);
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
	const struct arp_entry *ae = dst == 0xffffffffu ? NULL : arp_lookup(hop);
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

/* Strips the 802.1Q tag of a frame for ifc's VLAN, in place (the MAC
 * addresses move up over it). Anything else on a VLAN interface, and any
 * tagged frame elsewhere, is counted and dropped (b consumed): -1. */
static int vlan_untag(struct net_if *ifc, struct pktbuf *b)
{
	uint8_t *p = pktbuf_data(b);
	uint16_t type, tci;
	memcpy(&type, p + 2 * ETH_ALEN, 2);
	if (!ifc->vlan) {
		NSTAT(drop_vlan);               /* tagged, and no VLAN configured */
		goto drop;
	}
	if (ntohs(type) != ETHERTYPE_VLAN) {
		NSTAT(drop_vlan_untagged);
		goto drop;
	}
	if (b->len < ETH_HLEN + 4) {
		NSTAT(drop_short);
		goto drop;
	}
	memcpy(&tci, p + ETH_HLEN, 2);
	if ((ntohs(tci) & 0xfff) != ifc->vlan) {
		NSTAT(drop_vlan);               /* another VLAN */
		goto drop;
	}
	memmove(p + 4, p, 2 * ETH_ALEN);
	b->off += 4;
	b->len -= 4;
	return 0;
drop:
	pktbuf_free(b);
	return -1;
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
	if (type == ETHERTYPE_VLAN || ifc->vlan) {
		if (vlan_untag(ifc, b))
			return;
		e = (const void *)pktbuf_data(b);
		type = ntohs(e->type);
	}
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
static unsigned idle_poll(void *arg) { return 0; }

static void gratuitous(void *arg)
{
	net_arp_announce(arg);
}

/* interfaces[i] of the config (validated and filled by the schema engine:
 * src/net/config.c) into ifc (vlan, dhcp, base_mtu, routes) and *ifa (a
 * static address), in network byte order. What is left to refuse depends
 * on the machine: a device for the interface. */
static int if_setup(const struct net_if_config *e, size_t i, struct net_if *ifc, struct net_ifaddr *ifa,
		    char *err, size_t errlen)
{
	if ((int)i >= netdev_count() || i >= NET_MAX_IFS) {
		snprintf(err, errlen, "interfaces[%zu]: no network device for it (have %d)", i, netdev_count());
		return -EINVAL;
	}
	ifc->dhcp = e->address.dhcp;
	if (!ifc->dhcp) {
		ifa->addr = htonl(e->address.addr);
		ifa->prefix = e->address.prefix;
	}
	ifa->mask = ifa->prefix ? htonl(~0u << (32 - ifa->prefix)) : 0;
	ifa->gw = htonl(e->gateway);
	ifc->base_mtu = netdev_mtu(netdev_get((int)i));
	if (e->mtu && e->mtu < ifc->base_mtu)
		ifc->base_mtu = e->mtu;
	for (uint32_t r = 0; r < e->nroutes && r < NET_MAX_ROUTES; r++) {
		struct net_route *rt = &ifc->routes[r];
		rt->net = htonl(e->routes[r].to.addr);
		rt->prefix = e->routes[r].to.prefix;
		rt->mask = rt->prefix ? htonl(~0u << (32 - rt->prefix)) : 0;
		rt->via = htonl(e->routes[r].via);
		ifc->nroutes = (uint8_t)(r + 1);
	}
	ifc->vlan = e->vlan;
	return 0;
}

int net_init(const struct net_config *cfg, char *err, size_t errlen)
{
	uint32_t max_conns = cfg->tcp.max_conns_per_core, sndbuf = cfg->tcp.send_buffer;
	uint32_t nbufs = cfg->tcp.send_buffers;
	tcp_set_tso_max(cfg->tcp.tso_max);
	if (!nbufs)                             /* shared by the connections of a core */
		nbufs = max_conns < 256 ? max_conns : 256;
	struct net_ifaddr ifa[NET_MAX_IFS] = { { 0 } };
	for (uint32_t i = 0; i < cfg->nifs; i++) {
		int rc = if_setup(&cfg->ifs[i], i, &net_ifs[i], &ifa[i], err, errlen);
		if (rc)
			return rc;
	}
	net_nifs = netdev_count() < NET_MAX_IFS ? netdev_count() : NET_MAX_IFS;
	for (int k = 0; k < net_nifs; k++) {
		struct net_if *ifc = &net_ifs[k];
		ifc->index = k;
		ifc->dev = netdev_get(k);
		netdev_mac(ifc->dev, ifc->mac);
		if (!ifc->base_mtu)
			ifc->base_mtu = netdev_mtu(ifc->dev);
		ifc->nq = netdev_queues(ifc->dev);
		ifc->ifa_cur = 1;                       /* the first publish fills [0] */
		net_if_set_addr(ifc, ifa[k].addr, ifa[k].prefix, ifa[k].gw, 0);
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
		char vlan[16] = "";
		if (ifc->vlan)
			snprintf(vlan, sizeof vlan, ", vlan %u", ifc->vlan);
		if (ifa[k].addr) {
			uint32_t a = ntohl(ifa[k].addr);
			klog("net: eth%d %u.%u.%u.%u/%u mtu %u%s, %u queue%s", k, a >> 24, (a >> 16) & 255,
			     (a >> 8) & 255, a & 255, ifa[k].prefix, ifc->base_mtu, vlan, ifc->nq, ifc->nq == 1 ? "" : "s");
		} else if (ifc->dhcp) {
			klog("net: eth%d dhcp mtu %u%s, %u queue%s", k, ifc->base_mtu, vlan, ifc->nq,
			     ifc->nq == 1 ? "" : "s");
		}
	}
	/* core 0 flushes what it sends, too (alone, it owns the queues) */
	if (cores_count() > 1)
		sched_poller_add(0, "net core0", idle_poll, tx_flush, NULL);
	for (uint32_t c = 0; c < cores_count(); c++)
		if (tcp_core_init(c, max_conns, sndbuf, nbufs)) {
			snprintf(err, errlen, "tcp: no memory for %u connections and %u send buffers of %u bytes on core %u",
				 max_conns, nbufs, sndbuf, c);
			return -ENOMEM;
		}
	for (int k = 0; k < net_nifs; k++) {
		if (net_ifs[k].addr)
			call_on(netdev_queue_core(net_ifs[k].dev, 0), gratuitous, &net_ifs[k]);
		if (net_ifs[k].dhcp)
			dhcp_start(&net_ifs[k]);
	}
	timer_init(&arp_sweep_timer, arp_sweep, NULL);
	sched_timer_arm(&arp_sweep_timer, time_ns() + ARP_SWEEP_NS, ARP_SWEEP_NS);
	return 0;
}

/* Core 0 (net_init, DHCP). See struct net_if for the ordering. */
void net_if_set_addr(struct net_if *ifc, uint32_t addr, uint8_t prefix, uint32_t gw, uint16_t mtu)
{
	struct net_ifaddr *nw = &ifc->ifa_bufs[!ifc->ifa_cur];
	nw->addr = addr;
	nw->prefix = prefix;
	nw->mask = prefix ? htonl(~0u << (32 - prefix)) : 0;
	nw->gw = gw;
	nw->mtu = mtu && mtu < ifc->base_mtu ? mtu : ifc->base_mtu;
	sched_publish(&ifc->ifa, nw);           /* release: pairs with net_ifa() */
	atomic_store(&ifc->addr, addr);
	atomic_store(&ifc->mtu, nw->mtu);
	/* the copy published before is rewritten by the next call: wait
	 * until no core can still hold it */
	if (sched_quiesce_wait(1000000000ull))
		klog("net: eth%d: a core did not pass a quiescent point within 1 s", ifc->index);
	ifc->ifa_cur = !ifc->ifa_cur;
}

int net_if_count(void) { return net_nifs; }

int net_if_info(int i, uint32_t *addr, uint8_t *prefix, uint32_t *gw, uint16_t *mtu)
{
	if (i < 0 || i >= net_nifs)
		return -EINVAL;
	const struct net_ifaddr *ifa = net_ifa(&net_ifs[i]);
	*addr = ntohl(ifa->addr);
	*prefix = ifa->prefix;
	*gw = ntohl(ifa->gw);
	*mtu = ifa->mtu;
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
