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
#include <jansson.h>
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
	net_arp_announce(arg);
}

/* interfaces[i] of the config into ifc (vlan, dhcp, base_mtu) and *ifa
 * (a static address); errors name the field */
static int parse_if(const json_t *e, size_t i, struct net_if *ifc, struct net_ifaddr *ifa,
		    char *err, size_t errlen)
{
	if ((int)i >= netdev_count() || i >= NET_MAX_IFS) {
		snprintf(err, errlen, "interfaces[%zu]: no network device for it (have %d)", i, netdev_count());
		return -EINVAL;
	}
	if (!json_is_object(e)) {
		snprintf(err, errlen, "interfaces[%zu]: must be an object", i);
		return -EINVAL;
	}
	const char *addr = json_string_value(json_object_get(e, "address"));
	const json_t *gw = json_object_get(e, "gateway");
	if (addr && !strcmp(addr, "dhcp")) {
		ifc->dhcp = 1;
		if (gw) {
			snprintf(err, errlen, "interfaces[%zu].gateway: not with \"address\": \"dhcp\" "
				 "(the server names the router)", i);
			return -EINVAL;
		}
	} else if (!addr || parse_cidr(addr, &ifa->addr, &ifa->prefix) || ifa->prefix < 1 || !ifa->addr) {
		snprintf(err, errlen, "interfaces[%zu].address: must be \"a.b.c.d/prefix\" or \"dhcp\"", i);
		return -EINVAL;
	}
	ifa->mask = ifa->prefix ? htonl(~0u << (32 - ifa->prefix)) : 0;
	if (gw) {
		uint8_t p;
		if (!json_is_string(gw) || parse_cidr(json_string_value(gw), &ifa->gw, &p) || p != 32 ||
		    (ifa->gw & ifa->mask) != (ifa->addr & ifa->mask)) {
			snprintf(err, errlen, "interfaces[%zu].gateway: must be an address on the interface's subnet", i);
			return -EINVAL;
		}
	}
	const json_t *mtu = json_object_get(e, "mtu");
	ifc->base_mtu = netdev_mtu(netdev_get((int)i));
	if (mtu) {
		if (!json_is_integer(mtu) || json_integer_value(mtu) < 68 || json_integer_value(mtu) > 9000) {
			snprintf(err, errlen, "interfaces[%zu].mtu: must be 68..9000", i);
			return -EINVAL;
		}
		if (json_integer_value(mtu) < ifc->base_mtu)
			ifc->base_mtu = (uint16_t)json_integer_value(mtu);
	}
	const json_t *routes = json_object_get(e, "routes"), *r;
	size_t ri;
	if (routes && (!json_is_array(routes) || json_array_size(routes) > NET_MAX_ROUTES)) {
		snprintf(err, errlen, "interfaces[%zu].routes: must be a list of at most %d routes", i, NET_MAX_ROUTES);
		return -EINVAL;
	}
	json_array_foreach(routes, ri, r) {
		struct net_route *rt = &ifc->routes[ri];
		const char *to = json_string_value(json_object_get(r, "to"));
		const char *via = json_string_value(json_object_get(r, "via"));
		uint8_t p;
		if (!json_is_object(r) || !to || parse_cidr(to, &rt->net, &rt->prefix)) {
			snprintf(err, errlen, "interfaces[%zu].routes[%zu].to: must be \"a.b.c.d/prefix\"", i, ri);
			return -EINVAL;
		}
		rt->mask = rt->prefix ? htonl(~0u << (32 - rt->prefix)) : 0;
		if (rt->net & ~rt->mask) {
			snprintf(err, errlen, "interfaces[%zu].routes[%zu].to: host bits set (the network is %u.%u.%u.%u/%u)",
				 i, ri, ntohl(rt->net & rt->mask) >> 24, (ntohl(rt->net & rt->mask) >> 16) & 255,
				 (ntohl(rt->net & rt->mask) >> 8) & 255, ntohl(rt->net & rt->mask) & 255, rt->prefix);
			return -EINVAL;
		}
		if (!via || parse_cidr(via, &rt->via, &p) || p != 32 ||
		    (!ifc->dhcp && (rt->via & ifa->mask) != (ifa->addr & ifa->mask))) {
			snprintf(err, errlen, "interfaces[%zu].routes[%zu].via: must be an address on the interface's subnet",
				 i, ri);
			return -EINVAL;
		}
		ifc->nroutes = (uint8_t)(ri + 1);
	}
	const json_t *vlan = json_object_get(e, "vlan");
	if (vlan) {
		if (!json_is_integer(vlan) || json_integer_value(vlan) < 1 || json_integer_value(vlan) > 4094) {
			snprintf(err, errlen, "interfaces[%zu].vlan: must be a VLAN id, 1..4094", i);
			return -EINVAL;
		}
		ifc->vlan = (uint16_t)json_integer_value(vlan);
	}
	return 0;
}

int net_init(const void *cfg, char *err, size_t errlen)
{
	const json_t *ifs = json_object_get(cfg, "interfaces");
	const json_t *tcpc = json_object_get(cfg, "tcp");
	long max_conns = 1024, sndbuf = 65536, nbufs = -1, tso_max = 65536;
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
		if ((v = json_object_get(tcpc, "send_buffers"))) {
			if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 1000000) {
				snprintf(err, errlen, "tcp.send_buffers: must be 1..1000000");
				return -EINVAL;
			}
			nbufs = (long)json_integer_value(v);
		}
		if ((v = json_object_get(tcpc, "tso_max"))) {
			if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 65536) {
				snprintf(err, errlen, "tcp.tso_max: must be 0..65536");
				return -EINVAL;
			}
			tso_max = (long)json_integer_value(v);
		}
	}
	tcp_set_tso_max((uint32_t)tso_max);
	if (nbufs < 0)                          /* shared by the connections of a core */
		nbufs = max_conns < 256 ? max_conns : 256;
	size_t i;
	const json_t *e;
	struct net_ifaddr ifa[NET_MAX_IFS] = { { 0 } };
	json_array_foreach(ifs, i, e) {
		int rc = parse_if(e, i, &net_ifs[i], &ifa[i], err, errlen);
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
		if (tcp_core_init(c, (uint32_t)max_conns, (uint32_t)sndbuf, (uint32_t)nbufs)) {
			snprintf(err, errlen, "tcp: no memory for %ld connections and %ld send buffers of %ld bytes on core %u",
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
