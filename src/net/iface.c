/*
 * iface.c — the interfaces: net_init builds them from the config (the
 * "interfaces" list, and the "tcp" settings it passes on to tcp.c),
 * starts a receive poller on every queue, the DHCP client where asked and
 * the ARP sweep; net_if_set_addr changes an interface's addresses; the
 * getters (net_if_info, net_stats) serve telemetry.
 *
 * Addresses: each interface's address, mask, gateway and MTU are one
 * immutable object, published as the ARP table is (net_if_set_addr, core
 * 0): DHCP (dhcp.c) changes them at run time. See struct net_if.
 *
 * Callers: net_init on core 0 at start-up (after netdev_init_all);
 * net_if_set_addr on core 0; the getters on any core.
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
static struct timer arp_sweep_timer;           /* core 0: arp_sweep (arp.c), armed by net_init */

/* ---- the pollers of the interfaces' queues */
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

/* the end of every loop turn: this core's batches go to the devices */
static void tx_flush(void *arg)
{
	struct net_core *nc = net_me();
	for (int i = 0; i < net_nifs; i++)
		eth_tx_flush(nc, i);
}

/* Before a halting core sleeps: frames still in a TX batch wait for
 * ring room, which completions (they raise no interrupt) make: poll on a
 * timer. Else nothing this core sends needs waking. */
static int tx_arm(void)
{
	struct net_core *nc = net_me();
	for (int i = 0; i < net_nifs; i++)
		if (nc->txq[i].n)
			return SCHED_ARM_TIMED;
	return SCHED_ARM_SLEEP;
}

/* ...and the queue's device interrupts the core at the next frame */
static int rx_arm(void *arg)
{
	struct rxq_poller *p = arg;
	int rc = netdev_rx_arm(p->ifc->dev, p->q);
	if (rc > 0)
		return SCHED_ARM_WORK;
	if (rc < 0)
		return SCHED_ARM_TIMED;
	return tx_arm();
}

static void rx_disarm(void *arg)
{
	struct rxq_poller *p = arg;
	netdev_rx_disarm(p->ifc->dev, p->q);
}

/* ---- configuration */
static unsigned idle_poll(void *arg) { return 0; }
static int idle_arm(void *arg) { return tx_arm(); }

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
	arp_init();
	net_flow_init();
	tcp_set_keepalive_ms(cfg->tcp.keepalive_s * 1000u);
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
			if (!rc)
				rc = sched_poller_set_arm(netdev_queue_core(ifc->dev, q), rx_poll, p, rx_arm, rx_disarm);
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
	if (cores_count() > 1 && sched_poller_add(0, "net core0", idle_poll, tx_flush, NULL) == 0)
		sched_poller_set_arm(0, idle_poll, NULL, idle_arm, NULL);
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

/* ---- addresses and telemetry */
/* Core 0 (net_init, DHCP). See struct net_if for the ordering. */
#define IFA_QUIESCE_NS 1000000000ull     /* a publish waits this long for every core */

void net_if_set_addr(struct net_if *ifc, uint32_t addr, uint8_t prefix, uint32_t gw, uint16_t mtu)
{
	/* the spare was published before the current one: after a wait that
	 * timed out, a late core may still read it (see struct net_if) */
	if (ifc->ifa_owed && sched_quiesce_wait(IFA_QUIESCE_NS))
		klog("net: eth%d: a core still has not passed a quiescent point: changing its addresses anyway",
		     ifc->index);
	ifc->ifa_owed = 0;
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
	if (sched_quiesce_wait(IFA_QUIESCE_NS)) {
		klog("net: eth%d: a core did not pass a quiescent point within 1 s", ifc->index);
		ifc->ifa_owed = 1;
	}
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
