/*
 * sched_priv.h — state shared by the files of src/sched/ only.
 */
#ifndef POLLUX_SCHED_PRIV_H
#define POLLUX_SCHED_PRIV_H
#include "sched/sched.h"


struct poller {
	const char *name;
	sched_poll_fn fn;
	sched_flush_fn flush;
	sched_arm_fn arm;               /* NULL: can't be woken (timed sleeps) */
	sched_flush_fn disarm;
	void *arg;
	counter_t calls, busy_calls, busy_cycles, work;
};

struct sched_core {
	/* owner writes; others read relaxed */
	counter_t turns, busy_turns, busy_cycles, idle_cycles, sleeps;
	counter_t sleeps_timed;            /* sleeps capped at halt_max_us */
	counter_t sleeps_aborted;          /* a poller's arm found work */
	counter_t msgs_in, msgs_out, chan_full, timers_fired, timers_armed;
	_Atomic uint32_t npollers;
	_Atomic uint64_t quiescent;        /* the epoch seen at the top of the last turn */
	_Atomic int sleeping;              /* Dekker flag with call_on's kick */
	/* immutable after sched_init */
	enum sched_idle idle;
	uint32_t halt_after;
	uint64_t halt_max_ns;
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
