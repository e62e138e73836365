/*
 * sched_priv.h — state shared by the files of src/sched/ only.
 */
#ifndef POLLUX_SCHED_PRIV_H
#define POLLUX_SCHED_PRIV_H
#include "sched/sched.h"

/* A counter: written by its owner only, read by anyone (relaxed). On
 * x86 both are plain movs; _Atomic keeps the reads race-free in C11. */
typedef _Atomic uint64_t counter_t;
static inline void counter_add(counter_t *c, uint64_t v)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + v, memory_order_relaxed);
}
static inline uint64_t counter_get(const counter_t *c)
{
	return atomic_load_explicit((counter_t *)c, memory_order_relaxed);
}

struct poller {
	const char *name;
	sched_poll_fn fn;
	sched_flush_fn flush;
	void *arg;
	counter_t calls, busy_calls, busy_cycles, work;
};

struct sched_core {
	/* owner writes; others read relaxed */
	counter_t turns, busy_turns, busy_cycles, idle_cycles, sleeps;
	counter_t msgs_in, msgs_out, chan_full, timers_fired, timers_armed;
	_Atomic uint32_t npollers;
	_Atomic uint64_t quiescent;        /* the epoch seen at the top of the last turn */
	_Atomic int sleeping;              /* Dekker flag with call_on's kick */
	/* immutable after sched_init */
	enum sched_idle idle;
	uint32_t halt_after;
	struct ring **in;                  /* in[from]: channel from core `from` */
	struct ring **out;                 /* out[to]: channel to core `to` */
	/* owner only */
	struct poller pollers[SCHED_MAX_POLLERS];
	struct timer_wheel wheel;
} __attribute__((aligned(CACHE_LINE)));

extern struct sched_core sched_cores[POLLUX_MAX_CORES];
extern _Atomic uint64_t sched_epoch;

unsigned sched_chan_drain(struct sched_core *s);
int sched_chan_pending(struct sched_core *s);
#endif
