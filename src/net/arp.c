/*
 * arp.c — ARP: the table every core reads and core 0 alone writes.
 *
 * ARP belongs to core 0: frames are handed to it (arp_input), and it
 * publishes an immutable table that every core reads (arp_lookup;
 * sched_publish / sched_quiesce_wait); a miss drops the packet (counted,
 * in net_ip_output) and asks core 0 to resolve (arp_ask). Entries live
 * ARP_TTL_NS; one in use in its last ARP_REFRESH_NS is re-requested
 * (unicast) so a busy flow never misses, and a sweep on core 0
 * (arp_sweep, every ARP_SWEEP_NS from net_init) drops the expired ones.
 *
 * Callers: arp_lookup, arp_ask and arp_input on any core (arp_ask asks at
 * most once per address per ARP_ASK_NS from each core); whatever writes
 * the table runs on core 0.
 */
#include <string.h>
#include "net/net_priv.h"
#include "sched/sched.h"

/* ---- ARP: core 0 writes, everyone reads the published table */
#define ARP_MAX 256
#define ARP_TTL_NS (300ull * 1000000000ull)
#define ARP_ASK_NS 1000000000ull                /* a core asks for one address at most this often */
struct arp_table { uint32_t n; struct arp_entry e[ARP_MAX]; };
static void *_Atomic arp_published;
static struct arp_table arp_bufs[2];           /* core 0 flips between them */
static int arp_cur;

const struct arp_entry *arp_lookup(uint32_t ip)
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
void arp_sweep(struct timer *t, void *arg)
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
void arp_ask(struct net_if *ifc, uint32_t ip)
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

void arp_input(struct net_if *ifc, struct pktbuf *b)
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
