/*
 * sched.h — the per-core loop and the only ways cores talk.
 *
 * Every core ends in sched_loop_run() and never leaves it. Each turn:
 *
 *   quiescent mark -> poll pollers (one burst each) -> run due timers
 *   -> drain inbound channels -> flush -> account (busy or idle)
 *
 * then, on an idle turn, either `pause` (policy "poll") or, after
 * halt_after idle turns, sleep until a kick, an interrupt or the next
 * timer (policy "halt"); a core with pollers (NIC queues, which raise no
 * interrupts) sleeps at most halt_max_us.
 *
 * Ownership: a core's pollers, timer wheel and counters belong to it.
 * Pollers are added before the core starts its loop or by the owner.
 * Timers are armed and cancelled by the owner only (sched_timer_*).
 * call_on() may be called by any core on any core; it runs fn(arg) on
 * the target's loop, in order per sender, never blocking: a full channel
 * returns -ENOBUFS. Counters are read by any core with relaxed loads
 * (sched_stats).
 */
#ifndef POLLUX_SCHED_H
#define POLLUX_SCHED_H
#include <stdint.h>
#include "core/core.h"
#include "sched/timer.h"
#include "sched/ring.h"
#include "core/schema.h"

#define SCHED_MAX_POLLERS 16
#define SCHED_BURST 32                  /* messages per channel per turn */

enum sched_idle { SCHED_IDLE_POLL = 0, SCHED_IDLE_HALT = 1 };

/* The "cores" section of the config, filled by the schema engine from
 * sched_schema (src/sched/config.c, core/schema.h). */
struct sched_config {
	uint32_t chan_slots;            /* per ordered pair, power of two */
	enum sched_idle idle[POLLUX_MAX_CORES];
	uint32_t halt_after;            /* idle turns before sleeping */
	uint32_t halt_max_us;           /* longest sleep of a core with pollers */
	uint32_t arena_kib;             /* each core's start-up arena (main.c sets them up) */
};
/* The fields of "cores" (their keys, bounds, defaults and docs). */
extern const struct schema_node sched_schema[];

/* Core 0, before any core runs its loop: allocates the channel mesh and
 * per-core state. Returns 0 or -ENOMEM. */
int sched_init(const struct sched_config *cfg);

_Noreturn void sched_loop_run(struct core *c);

/* ---- pollers: fn returns the work it did (0 = nothing); flush, if any,
 * runs at the end of every turn (e.g. a TX batch). */
typedef unsigned (*sched_poll_fn)(void *arg);
typedef void (*sched_flush_fn)(void *arg);
int sched_poller_add(uint32_t core, const char *name, sched_poll_fn fn,
		     sched_flush_fn flush, void *arg);
/* Owner only (e.g. from a call_on handler): removes the poller (fn, arg). */
int sched_poller_remove(sched_poll_fn fn, void *arg);
/* Runs one turn of the calling core's loop (boot and test code on core 0
 * that waits for other cores keeps its own channels moving with it). */
unsigned sched_turn(void);

/* ---- timers on this core's wheel (owner only) */
void sched_timer_arm(struct timer *t, uint64_t deadline_ns, uint64_t period_ns);
void sched_timer_cancel(struct timer *t);

/* ---- cross-core calls */
int call_on(uint32_t core, void (*fn)(void *), void *arg);
/* Core 0, boot and tests: call_on, then wait up to timeout_ns for fn to
 * finish, running core 0's own turns meanwhile. Returns 0, -ENOBUFS or
 * -ETIMEDOUT. */
int sched_call_sync(uint32_t core, void (*fn)(void *), void *arg, uint64_t timeout_ns);

/* ---- publish and quiesce
 * A reader (any core, inside one loop turn) takes sched_deref(slot) and
 * may use the object until the end of that turn. The writer (the control
 * core) swaps in a new object with sched_publish(), then
 * sched_quiesce_wait() returns once every core in its loop has started a
 * new turn, after which nobody holds the old object and it may be freed.
 * Ordering: publish is an acq_rel exchange followed by a seq_cst epoch
 * increment; each core's turn starts with load-acquire(epoch) then
 * store-release(own quiescent epoch); the writer load-acquires each
 * core's quiescent epoch. */
static inline void *sched_deref(void *_Atomic *slot)
{
	return atomic_load_explicit(slot, memory_order_acquire);
}
void *sched_publish(void *_Atomic *slot, void *obj);      /* returns the old one */
int sched_quiesce_wait(uint64_t timeout_ns);              /* 0 or -ETIMEDOUT */

/* ---- telemetry (any core, relaxed reads of the owner's counters) */
struct sched_poller_stats {
	const char *name;
	uint64_t calls, busy_calls, busy_cycles, work;
};
struct sched_stats {
	uint64_t turns, busy_turns, busy_cycles, idle_cycles, sleeps;
	uint64_t msgs_in, msgs_out, chan_full, timers_fired, timers_armed;
	uint32_t npollers;
	uint32_t chan_depth_in;                 /* messages waiting for this core */
	enum sched_idle idle;
	struct sched_poller_stats pollers[SCHED_MAX_POLLERS];
};
void sched_stats(uint32_t core, struct sched_stats *out);

/* ---- shared self-tests (both platforms): mesh, callon, timers, counters,
 * quiesce. Returns 0 passed, -1 failed, -ENOENT unknown name. */
int sched_selftest(const char *name);
#endif
