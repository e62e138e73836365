/*
 * arp.c — ARP: the table every core reads and core 0 alone writes.
 *
 * ARP belongs to core 0: frames are handed to it (arp_input), and it
 * publishes an immutable table that every core reads (arp_lookup;
 * sched_publish / sched_quiesce_wait); a miss drops the packet (counted,
 * in net_ip_output) and asks core 0 to resolve (arp_ask). Entries are
 * keyed by (interface, address): what one NIC learned is never used on
 * another. They live ARP_TTL_NS; one in use in its last ARP_REFRESH_NS
 * is re-requested (unicast) so a busy flow never misses, and a sweep on
 * core 0 (arp_sweep, every ARP_SWEEP_NS from net_init) drops the expired
 * ones.
 *
 * What is learned (the wire is hostile):
 *  - only from ARP aimed at us (tpa is the interface's address) or about
 *    a host we already know, with a unicast sender MAC, and a sender
 *    address on the interface's subnet (not its network or broadcast
 *    address), or one we just asked for (a reply to our request: an
 *    on-link host off the subnet); never 0.0.0.0 (a probe: answered,
 *    not learned), broadcast, multicast or loopback (drop_arp_bad);
 *  - a sender claiming one of our addresses is an address conflict
 *    (arp_conflict): not learned, not answered, and we defend our
 *    address with one gratuitous ARP at most every ARP_DEFEND_NS
 *    (RFC 5227 2.4 (b));
 *  - a resolved gateway (the interface's gateway or a route's via) is
 *    pinned while it lives: ARP from its own MAC refreshes it, ARP from
 *    any other MAC does not change it (arp_gw_kept), and learning never
 *    evicts it (a full table evicts the oldest other entry). A gateway
 *    that really changes its MAC is learned anew once the pinned entry
 *    expires (the refresh in its last minute asks the old MAC; no answer,
 *    it expires, the next miss broadcasts): at worst ARP_TTL_NS of loss,
 *    against an outsider who could otherwise take all our off-subnet
 *    traffic with one gratuitous ARP;
 *  - changes to the table (each one a republish that waits for every
 *    core) are rate-limited on core 0, the only core that makes them:
 *    ARP_LEARN_PER_S a second, bursts of ARP_LEARN_BURST; the last
 *    ARP_LEARN_RESERVE tokens are kept for replies to our requests and
 *    refreshes of entries we hold, so a flood of new senders can't starve
 *    them (arp_learn_limited counts the learns refused).
 *
 * Callers: arp_lookup, arp_ask and arp_input on any core (arp_ask asks at
 * most once per address per ARP_ASK_NS from each core); whatever writes
 * the table runs on core 0 (arp_init: net_init, before anything else).
 */
#include <string.h>
#include "net/net_priv.h"
#include "sched/sched.h"

/* ---- ARP: core 0 writes, everyone reads the published table */
#define ARP_MAX 256
#define ARP_TTL_NS (300ull * 1000000000ull)
#define ARP_ASK_NS 1000000000ull                /* a core asks for one address at most this often */
#define ARP_LEARN_PER_S 64                      /* table changes a second, at most */
#define ARP_LEARN_BURST 64
#define ARP_LEARN_RESERVE 16                    /* of the burst: for solicited replies and refreshes */
#define ARP_PENDING 16                          /* requests core 0 sent lately */
#define ARP_PENDING_NS (3ull * 1000000000ull)   /* how long a reply to one counts as solicited */
#define ARP_DEFEND_NS (10ull * 1000000000ull)   /* RFC 5227 DEFEND_INTERVAL */
#define ARP_QUIESCE_NS 1000000000ull            /* a publish waits this long for every core */
#define ARP_REQUIESCE_NS ARP_QUIESCE_NS         /* ... and a change after one that timed out as long */
struct arp_table { uint32_t n; struct arp_entry e[ARP_MAX]; };
static void *_Atomic arp_published;
static struct arp_table arp_bufs[2];           /* core 0 flips between them */
static int arp_cur;
/* core 0 only */
static uint32_t arp_tokens;                     /* the learning bucket */
static uint64_t arp_tokens_ns;                  /* when it was last filled */
static struct { uint32_t ip; uint8_t ifindex; uint64_t ns; } arp_pending[ARP_PENDING];
static uint32_t arp_pending_next;
static uint64_t arp_defended_ns[NET_MAX_IFS];
static int arp_owed;                            /* the last publish's wait timed out */

void arp_init(void)
{
	atomic_store_explicit(&arp_published, NULL, memory_order_release);
	arp_bufs[0].n = arp_bufs[1].n = 0;
	arp_cur = 0;
	arp_tokens = ARP_LEARN_BURST;
	arp_tokens_ns = time_ns();
	memset(arp_pending, 0, sizeof arp_pending);
	arp_pending_next = 0;
	memset(arp_defended_ns, 0, sizeof arp_defended_ns);
	arp_owed = 0;
}

const struct arp_entry *arp_lookup(const struct net_if *ifc, uint32_t ip)
{
	const struct arp_table *t = sched_deref(&arp_published);
	if (!t)
		return NULL;
	uint64_t now = time_ns();
	for (uint32_t i = 0; i < t->n; i++)
		if (t->e[i].ip == ip && t->e[i].ifindex == ifc->index && t->e[i].expires > now)
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
 * so wait until nobody reads it. A core that does not pass a quiescent
 * point within ARP_QUIESCE_NS (a vCPU the host did not run: seen under
 * the soak's load on a busy host) may still read the old copy: arp_owed
 * then keeps it from being rewritten until a later wait sees every core
 * pass one (arp_spare_free). */
static void arp_publish(struct arp_table *nw, uint32_t expired)
{
	counter_add(&net_me()->ctr.arp_expired, expired);
	sched_publish(&arp_published, nw);
	if (sched_quiesce_wait(ARP_QUIESCE_NS)) {
		klog("net: arp: a core did not pass a quiescent point within 1 s");
		arp_owed = 1;
	}
	arp_cur = !arp_cur;
}

/* core 0: may the spare table (the copy published before the current one)
 * be rewritten? After a publish whose wait timed out, only once a new
 * wait (ARP_REQUIESCE_NS) sees every core pass a quiescent point; until
 * then the table stays as it is and the change is refused. As long as a
 * publish's own wait: a shorter one (1 ms was tried) seldom sees every
 * vCPU of a starved TCG guest run, so learning would stop for as long as
 * the host is busy. */
static int arp_spare_free(void)
{
	if (arp_owed && sched_quiesce_wait(ARP_REQUIESCE_NS))
		return 0;
	arp_owed = 0;
	return 1;
}

/* core 0: a resolved gateway of ifc (its default or a route's via)? */
static int arp_is_gw(struct net_if *ifc, uint32_t ip)
{
	if (ip == net_ifa(ifc)->gw)
		return 1;
	for (int i = 0; i < ifc->nroutes; i++)
		if (ifc->routes[i].via == ip)
			return 1;
	return 0;
}

/* core 0: takes a token of the learning bucket; reserve: may use the
 * last ARP_LEARN_RESERVE. 0: none left (counted). */
static int arp_token(uint64_t now, int reserve)
{
	const uint64_t per = 1000000000ull / ARP_LEARN_PER_S;
	uint64_t add = (now - arp_tokens_ns) / per;
	if (add) {
		arp_tokens_ns += add * per;
		arp_tokens = add >= ARP_LEARN_BURST - arp_tokens ? ARP_LEARN_BURST : arp_tokens + (uint32_t)add;
	}
	if (arp_tokens > (reserve ? 0u : (uint32_t)ARP_LEARN_RESERVE)) {
		arp_tokens--;
		return 1;
	}
	NSTAT(arp_learn_limited);
	return 0;
}

/* core 0: learn (or refresh) (ifc, ip) -> mac and republish. solicited:
 * a reply to a request we sent. See the file's comment for the rules. */
static void arp_learn(struct net_if *ifc, uint32_t ip, const uint8_t *mac, int solicited)
{
	const struct arp_table *old = &arp_bufs[arp_cur];
	uint64_t now = time_ns();
	int known = 0;
	for (uint32_t i = 0; i < old->n; i++) {
		const struct arp_entry *o = &old->e[i];
		if (o->ip != ip || o->ifindex != ifc->index || o->expires <= now)
			continue;
		int same = !memcmp(o->mac, mac, ETH_ALEN);
		if (same && o->expires > now + ARP_TTL_NS / 2)
			return;                 /* fresh already: no republish */
		if (!same && arp_is_gw(ifc, ip)) {
			NSTAT(arp_gw_kept);     /* pinned while it lives */
			return;
		}
		known = same;
		break;
	}
	if (!arp_spare_free()) {
		NSTAT(arp_learn_limited);       /* refused like a learn over the rate */
		return;
	}
	if (!arp_token(now, solicited || known))
		return;
	uint32_t expired;
	struct arp_table *nw = arp_spare_live(now, &expired);
	uint32_t k;
	for (k = 0; k < nw->n; k++)
		if (nw->e[k].ip == ip && nw->e[k].ifindex == ifc->index)
			break;
	if (k == nw->n) {
		if (nw->n < ARP_MAX) {
			nw->n++;
		} else {                        /* full: the oldest entry that is no gateway */
			uint32_t victim = ARP_MAX;
			for (uint32_t i = 0; i < nw->n; i++)
				if ((victim == ARP_MAX || nw->e[i].expires < nw->e[victim].expires) &&
				    !arp_is_gw(&net_ifs[nw->e[i].ifindex], nw->e[i].ip))
					victim = i;
			if (victim == ARP_MAX) {       /* all gateways: keep them (the spare is unpublished) */
				NSTAT(arp_gw_kept);
				return;
			}
			k = victim;
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
	if (i == old->n || !arp_spare_free())
		return;                         /* nothing expired, or the next sweep */
	uint32_t expired;
	struct arp_table *nw = arp_spare_live(now, &expired);
	arp_publish(nw, expired);
}

/* core 0: one of our addresses, on any interface? */
static int arp_is_ours(uint32_t ip)
{
	for (int i = 0; i < net_nifs; i++) {
		const struct net_ifaddr *fa = net_ifa(&net_ifs[i]);
		if (fa && fa->addr == ip)
			return 1;
	}
	return 0;
}

/* core 0: a reply from (ifindex, ip) answers a request we sent lately:
 * takes it (one reply learned per request) */
static int arp_pending_take(int ifindex, uint32_t ip, uint64_t now)
{
	for (int i = 0; i < ARP_PENDING; i++)
		if (arp_pending[i].ip == ip && arp_pending[i].ifindex == ifindex &&
		    now - arp_pending[i].ns < ARP_PENDING_NS) {
			arp_pending[i].ip = 0;
			return 1;
		}
	return 0;
}

/* a sender we may learn and answer: see the file's comment */
static int arp_sender_ok(const struct net_ifaddr *ifa, uint32_t spa, const uint8_t *sha, int solicited)
{
	static const uint8_t zero[ETH_ALEN];
	uint32_t s = ntohl(spa);
	if ((sha[0] & 1) || !memcmp(sha, zero, ETH_ALEN))
		return 0;                       /* a group or no MAC */
	if ((s >> 24) == 0 || (s >> 24) == 127 || (s >> 28) >= 14)
		return 0;
	if (solicited)
		return 1;
	if ((spa ^ ifa->addr) & ifa->mask)
		return 0;                       /* off the subnet, unasked */
	if (ifa->prefix <= 30 && (spa == (ifa->addr & ifa->mask) || spa == (ifa->addr | ~ifa->mask)))
		return 0;
	return 1;
}

static void arp_input_core0(void *arg)
{
	struct pktbuf *b = arg;
	struct net_if *ifc = &net_ifs[b->port];
	const struct net_ifaddr *ifa = net_ifa(ifc);
	uint32_t me = ifa->addr;
	const struct arp_hdr *a = (const void *)(pktbuf_data(b) + ETH_HLEN);
	uint16_t op = ntohs(a->op);
	uint64_t now = time_ns();
	if (!me || !memcmp(a->sha, ifc->mac, ETH_ALEN))
		goto out;                       /* no address yet, or our own frame back */
	if (op != ARP_REQUEST && op != ARP_REPLY) {
		NSTAT(drop_arp_bad);
		goto out;
	}
	if (a->spa && arp_is_ours(a->spa)) {
		NSTAT(arp_conflict);            /* someone else uses our address */
		if (a->spa == me && (!arp_defended_ns[ifc->index] || now - arp_defended_ns[ifc->index] >= ARP_DEFEND_NS)) {
			arp_defended_ns[ifc->index] = now;
			net_arp_announce(ifc);
		}
		goto out;
	}
	int for_us = a->tpa == me;
	if (!a->spa) {                          /* a probe (RFC 5227): the owner answers */
		if (op == ARP_REQUEST && for_us && !(a->sha[0] & 1))
			arp_send(ifc, ARP_REPLY, a->sha, 0);
		goto out;
	}
	int solicited = op == ARP_REPLY && for_us && arp_pending_take(ifc->index, a->spa, now);
	if (!arp_sender_ok(ifa, a->spa, a->sha, solicited)) {
		NSTAT(drop_arp_bad);
		goto out;
	}
	if (for_us || arp_lookup(ifc, a->spa))
		arp_learn(ifc, a->spa, a->sha, solicited);
	if (op == ARP_REQUEST && for_us)
		arp_send(ifc, ARP_REPLY, a->sha, a->spa);
out:
	pktbuf_free(b);
}

/* core 0: ask for an address: broadcast when unknown, unicast to the
 * known MAC when refreshing an entry that is about to expire; the reply
 * counts as solicited for ARP_PENDING_NS */
static void arp_resolve_core0(void *arg)
{
	uintptr_t v = (uintptr_t)arg;
	struct net_if *ifc = &net_ifs[v >> 32];
	uint32_t ip = (uint32_t)v;
	const struct arp_entry *ae = arp_lookup(ifc, ip);
	if (ae)
		NSTAT(arp_refresh);
	uint32_t slot = arp_pending_next++ % ARP_PENDING;
	for (uint32_t i = 0; i < ARP_PENDING; i++)
		if (arp_pending[i].ip == ip && arp_pending[i].ifindex == ifc->index)
			slot = i;               /* asked again: one slot per address */
	arp_pending[slot].ip = ip;
	arp_pending[slot].ifindex = (uint8_t)ifc->index;
	arp_pending[slot].ns = time_ns();
	arp_send(ifc, ARP_REQUEST, ae ? ae->mac : NULL, ip);
}

/* any core: have core 0 ask for ip, unless this core asked within
 * ARP_ASK_NS (a busy flow would otherwise send a request per packet) */
void arp_ask(struct net_if *ifc, uint32_t ip)
{
	struct net_core *nc = net_me();
	uint64_t now = time_ns();
	uint32_t h = ((ip ^ (uint32_t)ifc->index) * 0x9e3779b1u) >> 29;
	_Static_assert(NET_ARP_ASKED == 8, "the hash above gives 3 bits");
	if (nc->arp_asked[h].ip == ip && nc->arp_asked[h].ifindex == ifc->index && now - nc->arp_asked[h].ns < ARP_ASK_NS)
		return;
	nc->arp_asked[h].ip = ip;
	nc->arp_asked[h].ifindex = (uint8_t)ifc->index;
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
