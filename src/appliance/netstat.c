/*
 * netstat.c — the console's view of the counters (`netstat=MS` on the
 * command line): every queue's counters, each core's loop and stack
 * counters and the packet-buffer accounting, every period from core 0's
 * timer wheel.
 */
#include <stdio.h>
#include "core/core.h"
#include "sched/sched.h"
#include "pkt/pktbuf.h"
#include "drivers/netdev.h"
#include "net/net.h"
#include "appliance/appliance.h"

static struct timer netstat_timer;

static void netstat_print(struct timer *t, void *arg)
{
	uint64_t free_bufs = 0, total = 0, posted = 0, held = 0;
	for (uint32_t c = 0; c < cores_count(); c++) {
		struct pktbuf_pool *p = pktbuf_pool_of((uint16_t)c);
		free_bufs += __atomic_load_n(&p->top, __ATOMIC_RELAXED);
		total += p->count;
	}
	for (int i = 0; i < netdev_count(); i++) {
		struct netdev *d = netdev_get(i);
		for (uint16_t q = 0; q < netdev_queues(d); q++) {
			struct netdev_queue_stats s;
			netdev_queue_stats(d, q, &s);
			posted += s.rx_posted;
			held += s.tx_held;
			klog("netstat %s q%u: rx %llu tx %llu drop nobuf %llu runt %llu too_long %llu "
			     "tx_too_long %llu tx_full %llu kicks %llu%s",
			     netdev_name(d), q, (unsigned long long)s.rx_packets, (unsigned long long)s.tx_packets,
			     (unsigned long long)s.rx_drop_nobuf, (unsigned long long)s.rx_drop_runt,
			     (unsigned long long)s.rx_drop_too_long, (unsigned long long)s.tx_drop_too_long,
			     (unsigned long long)s.tx_ring_full, (unsigned long long)s.tx_kicks,
			     s.broken ? " BROKEN" : "");
			if (s.tx_tso || s.tx_csum || s.tx_drop_bad_offload)
				klog("netstat %s q%u offloads: tx tso %llu csum %llu dropped %llu", netdev_name(d), q,
				     (unsigned long long)s.tx_tso, (unsigned long long)s.tx_csum,
				     (unsigned long long)s.tx_drop_bad_offload);
		}
	}
	for (uint32_t c = 0; c < cores_count(); c++) {
		struct sched_stats ss;
		sched_stats(c, &ss);
		klog("netstat core %u: turns %llu busy %llu sleeps %llu msgs in %llu timers %llu",
		     c, (unsigned long long)ss.turns, (unsigned long long)ss.busy_turns,
		     (unsigned long long)ss.sleeps, (unsigned long long)ss.msgs_in,
		     (unsigned long long)ss.timers_fired);
	}
	if (net_if_count())
		klog("netstat tcp: bytes per idle connection %zu", net_tcp_idle_conn_bytes());
	if (net_if_count())
		for (uint32_t c = 0; c < cores_count(); c++) {
			struct net_stats ns;
			net_stats(c, &ns);
			klog("netstat net core %u: tcp conns %u", c, net_tcp_conns(c));
			/* the counters that are not zero, a few per line */
			char line[120];
			size_t off = 0;
#define NONZERO(f) if (ns.f) { \
		if (off > 80) { klog("netstat net core %u counters:%s", c, line); off = 0; } \
		off += (size_t)snprintf(line + off, sizeof line - off, " %s %llu", #f, (unsigned long long)ns.f); }
			NET_STATS_FIELDS(NONZERO)
#undef NONZERO
			if (off)
				klog("netstat net core %u counters:%s", c, line);
		}
	klog("netstat buffers: free %llu + rx posted %llu + tx held %llu = %llu of %llu",
	     (unsigned long long)free_bufs, (unsigned long long)posted, (unsigned long long)held,
	     (unsigned long long)(free_bufs + posted + held), (unsigned long long)total);
}

void appliance_netstat_start(uint64_t period_ms)
{
	timer_init(&netstat_timer, netstat_print, NULL);
	sched_timer_arm(&netstat_timer, time_ns() + period_ms * 1000000ull, period_ms * 1000000ull);
}
