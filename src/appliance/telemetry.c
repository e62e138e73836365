/*
 * telemetry.c — the one walk over the running appliance's counters: the
 * packet pools, every NIC queue pair, each core's loop and stack. It
 * fills a struct api_stats (api/api.h), which the API renders as
 * /metrics, /v1/cores and /v1/interfaces (backend.c) and the console
 * prints as netstat (netstat.c).
 *
 * Control core only. Every counter belongs to the core that writes it;
 * this file reads them through each subsystem's own interface
 * (pktbuf_pool_usage, netdev_queue_stats, sched_stats, net_stats), all
 * relaxed loads, so a snapshot never stops or slows a data core. The
 * result is not one instant: the counters move while it is taken. The
 * pools are read first and the queues right after them, so the buffer
 * accounting (free + posted + held = total) holds whenever traffic is
 * still.
 */
#include <stdio.h>
#include <string.h>
#include "api/api.h"
#include "appliance/appliance.h"
#include "core/core.h"
#include "drivers/netdev.h"
#include "net/net.h"
#include "pkt/pktbuf.h"
#include "sched/sched.h"

/* the snapshot holds everything there can be: netstat shows it all */
_Static_assert(API_MAX_CORES >= POLLUX_MAX_CORES, "a core the snapshot can't hold");
_Static_assert(API_MAX_IFS >= NETDEV_MAX, "a device the snapshot can't hold");
_Static_assert(API_MAX_QUEUES >= NETDEV_MAX_QUEUES, "a queue pair the snapshot can't hold");

static void iface_snapshot(int i, struct api_iface_stats *f)
{
	struct netdev *d = netdev_get(i);
	snprintf(f->name, sizeof f->name, "%s", netdev_name(d));
	netdev_mac(d, f->mac);
	f->mtu = netdev_mtu(d);
	f->link_up = netdev_link_up(d);
	f->nqueues = netdev_queues(d);
	if (f->nqueues > API_MAX_QUEUES)
		f->nqueues = API_MAX_QUEUES;
	if (i < net_if_count()) {
		uint16_t mtu;
		net_if_info(i, &f->addr, &f->prefix, &f->gw, &mtu);
	}
	for (uint16_t q = 0; q < f->nqueues; q++) {
		struct netdev_queue_stats s;
		struct api_queue_stats *o = &f->q[q];
		netdev_queue_stats(d, q, &s);
		o->core = netdev_queue_core(d, q);
#define COPY_QUEUE(field, ...) o->field = s.field;
		NETDEV_QUEUE_STATS_FIELDS(COPY_QUEUE)
#undef COPY_QUEUE
		o->broken = s.broken;
	}
}

static void core_snapshot(uint32_t c, struct api_core_stats *o)
{
	struct sched_stats ss;
	sched_stats(c, &ss);
	o->role = c == 0 ? "control" : "data";
	o->turns = ss.turns;
	o->busy_turns = ss.busy_turns;
	o->busy_cycles = ss.busy_cycles;
	o->idle_cycles = ss.idle_cycles;
	o->sleeps = ss.sleeps;
	o->msgs_in = ss.msgs_in;
	o->msgs_out = ss.msgs_out;
	o->chan_full = ss.chan_full;
	o->timers_fired = ss.timers_fired;
	o->chan_depth_in = ss.chan_depth_in;
	o->timers_armed = (uint32_t)ss.timers_armed;
	if (net_if_count()) {
		net_stats(c, &o->net);
		o->tcp_conns = net_tcp_conns(c);
	}
}

void appliance_telemetry_snapshot(struct api_stats *st)
{
	memset(st, 0, sizeof *st);
	st->ncores = cores_count() < API_MAX_CORES ? cores_count() : API_MAX_CORES;
	for (uint32_t c = 0; c < st->ncores; c++) {
		struct pktbuf_pool_usage u;
		pktbuf_pool_usage((uint16_t)c, &u);
		st->pool_free += u.free;
		st->pool_total += u.total;
	}
	int n = netdev_count();
	st->nifs = n < API_MAX_IFS ? (uint32_t)n : API_MAX_IFS;
	for (uint32_t i = 0; i < st->nifs; i++)
		iface_snapshot((int)i, &st->ifs[i]);
	for (uint32_t c = 0; c < st->ncores; c++)
		core_snapshot(c, &st->core[c]);
}
