/*
 * backend.c — the API's view of the running appliance: a struct
 * api_backend filled from the runtime, shared by both platforms (src/api/
 * never reads another subsystem itself; its unit tests use
 * test/unit/api/fake.h instead).
 *
 * Everything here runs on the control core. Counters that other cores
 * own are read with relaxed loads (sched_stats, net_stats,
 * netdev_queue_stats, the pools' `top`), so a scrape never stops a data
 * core. config_apply applies the fields that may change at run time (the
 * schema's SF_RUNTIME rows) and refuses any other difference with 409
 * naming the field (docs/api.md).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "api/api.h"
#include "appliance/appliance.h"
#include "apps/apps.h"
#include "core/config.h"
#include "core/core.h"
#include "core/schema.h"
#include "drivers/netdev.h"
#include "net/net.h"
#include "pkt/pktbuf.h"
#include "sched/sched.h"

#ifndef POLLUX_VERSION
#define POLLUX_VERSION "unknown"
#endif

static _Atomic int shutdown_asked;

static void rt_system(void *arg, struct api_system *s)
{
	struct timespec now;
	s->version = POLLUX_VERSION;
	s->uptime_ns = time_ns();
	s->ncores = cores_count();
	s->mem_bytes = mem_total_bytes();
	s->tsc_hz = time_tsc_hz();
	s->boot_time_unix = 0;
	/* a wall clock from before 2020 is no wall clock (a VM may have none) */
	if (!clock_gettime(CLOCK_REALTIME, &now) && now.tv_sec > 1577836800)
		s->boot_time_unix = (uint64_t)now.tv_sec - s->uptime_ns / 1000000000ull;
}

static void core_stats(uint32_t c, struct api_core_stats *o)
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
	if (net_if_count()) {
		net_stats(c, &o->net);
		o->tcp_conns = net_tcp_conns(c);
	}
}

static void iface_stats(int i, struct api_iface_stats *f)
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
		o->rx_packets = s.rx_packets;
		o->rx_bytes = s.rx_bytes;
		o->rx_drop_nobuf = s.rx_drop_nobuf;
		o->rx_drop_runt = s.rx_drop_runt;
		o->rx_drop_too_long = s.rx_drop_too_long;
		o->tx_packets = s.tx_packets;
		o->tx_bytes = s.tx_bytes;
		o->tx_drop_too_long = s.tx_drop_too_long;
		o->tx_ring_full = s.tx_ring_full;
		o->tx_kicks = s.tx_kicks;
		o->rx_posted = s.rx_posted;
		o->tx_held = s.tx_held;
		o->broken = s.broken;
	}
}

static void rt_stats(void *arg, struct api_stats *st)
{
	st->ncores = cores_count() < API_MAX_CORES ? cores_count() : API_MAX_CORES;
	for (uint32_t c = 0; c < st->ncores; c++) {
		struct pktbuf_pool *p = pktbuf_pool_of((uint16_t)c);
		core_stats(c, &st->core[c]);
		if (p) {
			st->pool_free += __atomic_load_n(&p->top, __ATOMIC_RELAXED);
			st->pool_total += p->count;
		}
	}
	int n = netdev_count();
	st->nifs = n < API_MAX_IFS ? (uint32_t)n : API_MAX_IFS;
	for (uint32_t i = 0; i < st->nifs; i++)
		iface_stats((int)i, &st->ifs[i]);
}

static json_t *rt_config_get(void *arg)
{
	json_t *root = config_root();
	return root ? json_incref(root) : json_object();
}

/* What can change at run time: the rows of the schema flagged SF_RUNTIME
 * (their paths, from the table, at appliance_backend_init); every other
 * field must equal the running config's, or the document is refused
 * naming the first that differs (nothing applied). The running config is
 * then the new one, and the appliance takes its run-time settings. */
#define RT_MAX_RUNTIME 16
static char runtime_paths[RT_MAX_RUNTIME][SCHEMA_PATH_MAX];
static const char *runtime_list[RT_MAX_RUNTIME + 1];
static char runtime_words[RT_MAX_RUNTIME * (SCHEMA_PATH_MAX + 2)];

void appliance_backend_init(const struct appliance_config *running)
{
	size_t n = schema_runtime_paths(&appliance_schema, runtime_paths, RT_MAX_RUNTIME), off = 0;
	for (size_t i = 0; i < n; i++) {
		runtime_list[i] = runtime_paths[i];
		off += (size_t)snprintf(runtime_words + off, sizeof runtime_words - off, "%s%s",
					i ? ", " : "", runtime_paths[i]);
	}
	runtime_list[n] = NULL;
	(void)running;
}

static int rt_config_apply(void *arg, const json_t *doc, char *err, size_t errlen)
{
	char path[200];
	int changed = 0;
	json_t *running = config_root();
	if (api_config_diff(running, doc, runtime_list, path, sizeof path, &changed)) {
		snprintf(err, errlen, "%s: can't change at run time (restart the appliance with the new config); "
			 "what can: %s", path, runtime_words);
		return -EBUSY;
	}
	if (!changed)
		return 0;
	json_t *copy = json_deep_copy(doc);
	static struct appliance_config next;    /* its strings point into the running document */
	if (!copy) {
		snprintf(err, errlen, "no memory for the new config");
		return -ENOMEM;
	}
	int rc = appliance_config_read(copy, &next, err, errlen);
	if (!rc)
		rc = apps_apply(&next.apps, err, errlen);
	if (rc) {
		json_decref(copy);
		return rc;
	}
	config_set_root(copy);
	klog("config: applied at run time");
	return 0;
}

static size_t rt_log_lines(void *arg, const char **lines, size_t max)
{
	static char ring[256][160];
	if (max > 256)
		max = 256;
	size_t n = klog_recent(ring, max);
	for (size_t i = 0; i < n; i++)
		lines[i] = ring[i];
	return n;
}

static void rt_shutdown(void *arg)
{
	atomic_store(&shutdown_asked, 1);
}

int api_runtime_shutdown_asked(void)
{
	return atomic_load(&shutdown_asked);
}

const struct api_backend api_runtime_backend = {
	.system = rt_system, .stats = rt_stats, .config_get = rt_config_get,
	.config_apply = rt_config_apply, .log_lines = rt_log_lines, .shutdown = rt_shutdown,
};
