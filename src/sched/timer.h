/*
 * timer.h — a per-core hierarchical timer wheel over monotonic nanoseconds.
 *
 * Four levels of 256 slots; a tick is 2^16 ns (65.536 us), so level 0
 * spans 16.8 ms, level 1 4.3 s, level 2 18.3 min, level 3 78 h (later
 * deadlines are clamped to the wheel's reach and re-armed on expiry).
 * Arm and cancel are O(1) (intrusive doubly-linked slot lists); a timer
 * fires on the first timer_wheel_run() whose tick reaches its deadline's
 * tick, so never early and at most one tick late (plus however late the
 * loop calls run). Timers cascade down a level when their slot comes up.
 *
 * Owner only: a wheel and its timers belong to one core; no locking, no
 * allocation (the caller owns struct timer). A callback may arm or cancel
 * any timer, itself included. An armed timer remembers its wheel: arming
 * or cancelling it through another wheel (another core's) is our own bug
 * and an assertion stops it, before two cores' lists are tangled. Pure
 * logic: unit-tested on the host.
 */
#ifndef POLLUX_TIMER_H
#define POLLUX_TIMER_H
#include <stdint.h>
#include <stddef.h>
#include "core/core.h"

#define TIMER_TICK_SHIFT 16
#define TIMER_LEVELS 4
#define TIMER_SLOTS 256

struct timer;
typedef void (*timer_fn)(struct timer *t, void *arg);

struct timer {
	struct timer *next, **pprev;     /* slot list; pprev == NULL: not armed */
	struct timer_wheel *wheel;       /* armed on it; NULL: not armed */
	uint64_t deadline_ns;
	uint64_t period_ns;              /* 0: one-shot */
	timer_fn fn;
	void *arg;
};

struct timer_wheel {
	uint64_t now;                    /* current tick: slots before it have run */
	size_t armed;
	uint64_t fired;                  /* counters, owner writes */
	struct timer *slot[TIMER_LEVELS][TIMER_SLOTS];
};

void timer_wheel_init(struct timer_wheel *w, uint64_t now_ns);
void timer_init(struct timer *t, timer_fn fn, void *arg);
/* Arms (or re-arms) t for deadline_ns; period_ns > 0 makes it periodic:
 * next deadline = previous deadline + period (no drift while the loop
 * keeps up; a timer that fell more than two periods behind restarts its
 * phase from now rather than firing a backlog). */
void timer_arm(struct timer_wheel *w, struct timer *t, uint64_t deadline_ns, uint64_t period_ns);
void timer_cancel(struct timer_wheel *w, struct timer *t);
static inline int timer_armed(const struct timer *t) { return t->pprev != NULL; }
/* Fires every timer due at now_ns. Returns how many fired. */
size_t timer_wheel_run(struct timer_wheel *w, uint64_t now_ns);
/* The earliest tick boundary at which something may fire (ns), or
 * UINT64_MAX when nothing is armed. Cheap upper bound for idle sleep:
 * never later than the earliest deadline. */
uint64_t timer_wheel_next_ns(const struct timer_wheel *w);
#endif
