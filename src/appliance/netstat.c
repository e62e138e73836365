/*
 * netstat.c — the console's view of the counters (`netstat=MS` on the
 * command line): every queue's counters, each core's loop and stack
 * counters and the packet-buffer accounting, every period from core 0's
 * timer wheel. It prints a telemetry snapshot (telemetry.c), the same
 * one the API serves; the lines are read by tests (test/vm/, test/hosted/):
 * their words stay as they are.
 */
#include <stdio.h>
#include <stdlib.h>
#include "core/core.h"
#include "sched/sched.h"
#include "net/net.h"
#include "appliance/appliance.h"

static struct timer netstat_timer;
static struct api_stats *snap;          /* core 0's, made once at start */

static void queue_print(const struct api_iface_stats *f, uint16_t q)
{
	const struct api_queue_stats *s = &f->q[q];
	klog("netstat %s q%u: rx %llu tx %llu drop nobuf %llu runt %llu too_long %llu "
	     "tx_too_long %llu tx_full %llu kicks %llu%s",
	     f->name, q, (unsigned long long)s->rx_packets, (unsigned long long)s->tx_packets,
	     (unsigned long long)s->rx_drop_nobuf, (unsigned long long)s->rx_drop_runt,
	     (unsigned long long)s->rx_drop_too_long, (unsigned long long)s->tx_drop_too_long,
	     (unsigned long long)s->tx_ring_full, (unsigned long long)s->tx_kicks,
	     s->broken ? " BROKEN" : "");
	if (s->tx_tso || s->tx_csum || s->tx_drop_bad_offload)
		klog("netstat %s q%u offloads: tx tso %llu csum %llu dropped %llu", f->name, q,
		     (unsigned long long)s->tx_tso, (unsigned long long)s->tx_csum,
		     (unsigned long long)s->tx_drop_bad_offload);
}

/* The stack's counters that are not zero, a few per line. */
static void net_print(uint32_t c, const struct net_stats *ns)
{
	char line[120];
	size_t off = 0;
#define NONZERO(f) if (ns->f) { \
		if (off > 80) { klog("netstat net core %u counters:%s", c, line); off = 0; } \
		off += (size_t)snprintf(line + off, sizeof line - off, " %s %llu", #f, (unsigned long long)ns->f); }
	NET_STATS_FIELDS(NONZERO)
#undef NONZERO
	if (off)
		klog("netstat net core %u counters:%s", c, line);
}

/* Connections that have heard nothing for QUIET_MS, a few per core: what
 * a test that waits for every slot to come back shows when one stays. */
#define QUIET_MS 5000
#define QUIET_SHOWN 4
static void quiet_print(uint32_t c)
{
	struct net_tcp_conn_info q[QUIET_SHOWN];
	int n = net_tcp_quiet_conns(c, QUIET_MS, q, QUIET_SHOWN);
	for (int i = 0; i < n; i++)
		klog("netstat tcp core %u quiet: %s %u.%u.%u.%u:%u -> %u, quiet %u ms, unacked %u queued %u "
		     "snd_wnd %u rcv_wnd %u fin queued %u sent %u app_gone %u timers rtx %u tw %u keep %u",
		     c, q[i].state, q[i].raddr >> 24, (q[i].raddr >> 16) & 255, (q[i].raddr >> 8) & 255,
		     q[i].raddr & 255, q[i].rport, q[i].lport, q[i].quiet_ms, q[i].unacked, q[i].queued,
		     q[i].snd_wnd, q[i].rcv_space, q[i].fin_queued, q[i].fin_sent, q[i].app_gone,
		     q[i].rtx_armed, q[i].tw_armed, q[i].keep_armed);
}

static void netstat_print(struct timer *t, void *arg)
{
	struct api_stats *st = snap;
	uint64_t posted = 0, held = 0;
	appliance_telemetry_snapshot(st);
	for (uint32_t i = 0; i < st->nifs; i++)
		for (uint16_t q = 0; q < st->ifs[i].nqueues; q++) {
			posted += st->ifs[i].q[q].rx_posted;
			held += st->ifs[i].q[q].tx_held;
			queue_print(&st->ifs[i], q);
		}
	for (uint32_t c = 0; c < st->ncores; c++) {
		const struct api_core_stats *cs = &st->core[c];
		klog("netstat core %u: turns %llu busy %llu sleeps %llu (timed %llu) msgs in %llu timers %llu",
		     c, (unsigned long long)cs->turns, (unsigned long long)cs->busy_turns,
		     (unsigned long long)cs->sleeps, (unsigned long long)cs->sleeps_timed,
		     (unsigned long long)cs->msgs_in,
		     (unsigned long long)cs->timers_fired);
	}
	if (net_if_count()) {
		klog("netstat tcp: bytes per idle connection %zu", net_tcp_idle_conn_bytes());
		for (uint32_t c = 0; c < st->ncores; c++) {
			klog("netstat net core %u: tcp conns %u", c, st->core[c].tcp_conns);
			net_print(c, &st->core[c].net);
			if (st->core[c].tcp_conns)
				quiet_print(c);
		}
	}
	klog("netstat buffers: free %llu + rx posted %llu + tx held %llu = %llu of %llu",
	     (unsigned long long)st->pool_free, (unsigned long long)posted, (unsigned long long)held,
	     (unsigned long long)(st->pool_free + posted + held), (unsigned long long)st->pool_total);
}

void appliance_netstat_start(uint64_t period_ms)
{
	snap = malloc(sizeof *snap);
	if (!snap) {
		klog("netstat: no memory for a snapshot (%zu bytes): not started", sizeof *snap);
		return;
	}
	timer_init(&netstat_timer, netstat_print, NULL);
	sched_timer_arm(&netstat_timer, time_ns() + period_ms * 1000000ull, period_ms * 1000000ull);
}
