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
 * timer (policy "halt"). Before it sleeps the core arms every poller
 * (sched_poller_set_arm): a NIC queue asks its device for an interrupt
 * and re-checks its ring. A poller that has work aborts the sleep; one
 * that cannot be woken (no arm hook, or no interrupt to arm) caps the
 * sleep at halt_max_us, so it is polled at least that often. After the
 * sleep every armed poller is disarmed (polling costs no interrupts).
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
	uint32_t halt_max_us;           /* longest sleep of a core with a poller that can't be woken */
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
/* ---- arming, for halting cores: arm(arg) runs on the owner core just
 * before it sleeps, with that core's interrupts held off until the sleep
 * itself, and returns
 *   SCHED_ARM_SLEEP  nothing to do, and whatever brings this poller work
 *                    wakes the core (an interrupt it just enabled, a
 *                    call_on kick, this core's own timers or other pollers);
 *   SCHED_ARM_WORK   work is already waiting: the core does not sleep;
 *   SCHED_ARM_TIMED  it cannot be woken: sleep at most halt_max_us.
 * disarm(arg), if given, runs after the sleep (or an aborted one) for every
 * poller whose arm ran. A poller without arm counts as SCHED_ARM_TIMED.
 * Same rules as sched_poller_add (before the core runs its loop, or by the
 * owner). Returns 0, -EINVAL (core) or -ENOENT (no poller (fn, arg)). */
#define SCHED_ARM_SLEEP 0
#define SCHED_ARM_WORK 1
#define SCHED_ARM_TIMED (-1)
typedef int (*sched_arm_fn)(void *arg);
int sched_poller_set_arm(uint32_t core, sched_poll_fn fn, void *arg, sched_arm_fn arm,
			 sched_flush_fn disarm);
/* An arm hook for a poller whose work only ever comes from this core's
 * own events (its other pollers, timers, channels): always SCHED_ARM_SLEEP. */
int sched_arm_always(void *arg);
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
	uint64_t sleeps_timed;                  /* of sleeps: capped at halt_max_us */
	uint64_t sleeps_aborted;                /* a poller's arm found work: no sleep */
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
