/*
 * bench/pps/offsets.c — prints, as one JSON object, where the per-core loop
 * keeps its accounting (struct sched_core / struct poller, from the current
 * src/sched/sched_priv.h), so that bench/pps/pps.py can read a running
 * build/pollux-hosted's own busy-cycle counters from /proc/PID/mem without
 * stopping it. Built by bench/pps/run against the same headers and flags as
 * the hosted binary; nothing here runs inside Pollux.
 */
#include <stddef.h>
#include <stdio.h>
#include "sched/sched_priv.h"

int main(void)
{
	printf("{\"sched_core_size\": %zu, \"npollers\": %zu, \"turns\": %zu, \"busy_turns\": %zu, "
	       "\"busy_cycles\": %zu, \"idle_cycles\": %zu, \"pollers\": %zu, \"poller_size\": %zu, "
	       "\"p_name\": %zu, \"p_calls\": %zu, \"p_busy_calls\": %zu, \"p_busy_cycles\": %zu, "
	       "\"p_work\": %zu, \"max_pollers\": %d, \"max_cores\": %d}\n",
	       sizeof(struct sched_core), offsetof(struct sched_core, npollers),
	       offsetof(struct sched_core, turns), offsetof(struct sched_core, busy_turns),
	       offsetof(struct sched_core, busy_cycles), offsetof(struct sched_core, idle_cycles),
	       offsetof(struct sched_core, pollers), sizeof(struct poller), offsetof(struct poller, name),
	       offsetof(struct poller, calls), offsetof(struct poller, busy_calls),
	       offsetof(struct poller, busy_cycles), offsetof(struct poller, work), SCHED_MAX_POLLERS,
	       POLLUX_MAX_CORES);
	return 0;
}
