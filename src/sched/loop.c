/*
 * loop.c — the per-core loop, pollers, timers, idle policy, accounting.
 * See sched.h for the turn and the ownership rules.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "sched/sched_priv.h"

struct sched_core sched_cores[POLLUX_MAX_CORES];

int sched_poller_remove(sched_poll_fn fn, void *arg)
{
	struct sched_core *s = &sched_cores[core_self()->id];
	uint32_t n = atomic_load_explicit(&s->npollers, memory_order_relaxed);
	for (uint32_t i = 0; i < n; i++)
		if (s->pollers[i].fn == fn && s->pollers[i].arg == arg) {
			for (uint32_t k = i; k + 1 < n; k++) {
				struct poller *d = &s->pollers[k], *e = &s->pollers[k + 1];
				d->name = e->name; d->fn = e->fn; d->flush = e->flush; d->arg = e->arg;
				d->arm = e->arm; d->disarm = e->disarm;
				atomic_store_explicit(&d->calls, counter_get(&e->calls), memory_order_relaxed);
				atomic_store_explicit(&d->busy_calls, counter_get(&e->busy_calls), memory_order_relaxed);
				atomic_store_explicit(&d->busy_cycles, counter_get(&e->busy_cycles), memory_order_relaxed);
				atomic_store_explicit(&d->work, counter_get(&e->work), memory_order_relaxed);
			}
			atomic_store_explicit(&s->npollers, n - 1, memory_order_release);
			return 0;
		}
	return -ENOENT;
}

int sched_poller_add(uint32_t core, const char *name, sched_poll_fn fn, sched_flush_fn flush, void *arg)
{
	if (core >= cores_count())
		return -EINVAL;
	struct sched_core *s = &sched_cores[core];
	uint32_t n = atomic_load_explicit(&s->npollers, memory_order_relaxed);
	if (n == SCHED_MAX_POLLERS)
		return -ENOSPC;
	struct poller *p = &s->pollers[n];
	p->name = name;
	p->fn = fn;
	p->flush = flush;
	p->arm = NULL;
	p->disarm = NULL;
	p->arg = arg;
	/* release: the poller is complete before the loop (acquire) sees it */
	atomic_store_explicit(&s->npollers, n + 1, memory_order_release);
	return 0;
}

void sched_timer_arm(struct timer *t, uint64_t deadline_ns, uint64_t period_ns)
{
	timer_arm(&sched_cores[core_self()->id].wheel, t, deadline_ns, period_ns);
}

void sched_timer_cancel(struct timer *t)
{
	timer_cancel(&sched_cores[core_self()->id].wheel, t);
}

int sched_poller_set_arm(uint32_t core, sched_poll_fn fn, void *arg, sched_arm_fn arm, sched_flush_fn disarm)
{
	if (core >= cores_count())
		return -EINVAL;
	struct sched_core *s = &sched_cores[core];
	uint32_t n = atomic_load_explicit(&s->npollers, memory_order_acquire);
	for (uint32_t i = 0; i < n; i++)
		if (s->pollers[i].fn == fn && s->pollers[i].arg == arg) {
			/* the owner reads these only when it sleeps: set before its
			 * loop starts (core 0 starts the others after set-up) or by
			 * the owner itself */
			s->pollers[i].arm = arm;
			s->pollers[i].disarm = disarm;
			return 0;
		}
	return -ENOENT;
}

int sched_arm_always(void *arg)
{
	(void)arg;
	return SCHED_ARM_SLEEP;
}

/* Disarms pollers [0, n) whose arm ran. */
static void disarm_pollers(struct sched_core *s, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		if (s->pollers[i].arm && s->pollers[i].disarm)
			s->pollers[i].disarm(s->pollers[i].arg);
}

/* Arms every poller: SCHED_ARM_WORK as soon as one has work (the ones
 * armed before it are disarmed again), else SCHED_ARM_TIMED if one can't
 * be woken, else SCHED_ARM_SLEEP. *armed: how many pollers to disarm. */
static int arm_pollers(struct sched_core *s, uint32_t np, uint32_t *armed)
{
	int r = SCHED_ARM_SLEEP;
	for (uint32_t i = 0; i < np; i++) {
		struct poller *p = &s->pollers[i];
		if (!p->arm) {
			r = SCHED_ARM_TIMED;
			continue;
		}
		int a = p->arm(p->arg);
		if (a == SCHED_ARM_WORK) {
			disarm_pollers(s, i + 1);
			*armed = 0;
			return SCHED_ARM_WORK;
		}
		if (a != SCHED_ARM_SLEEP)
			r = SCHED_ARM_TIMED;
	}
	*armed = np;
	return r;
}

static void sleep_until_work(struct sched_core *s)
{
	uint64_t token = core_idle_prepare();
	atomic_store_explicit(&s->sleeping, 1, memory_order_relaxed);
	/* Dekker with call_on: our flag store, then our check of the rings;
	 * the sender's enqueue, then its check of the flag. The fences make
	 * sure at least one side sees the other. */
	atomic_thread_fence(memory_order_seq_cst);
	uint32_t np = atomic_load_explicit(&s->npollers, memory_order_acquire), armed = 0;
	/* after core_idle_prepare: an interrupt a poller's arm enables ends
	 * the sleep even if it fires before the wait (metal: it stays pending
	 * with interrupts off and ends the `sti; hlt` at once) */
	int arm = sched_chan_pending(s) ? SCHED_ARM_WORK : arm_pollers(s, np, &armed);
	if (arm == SCHED_ARM_WORK) {
		counter_add(&s->sleeps_aborted, 1);
	} else {
		counter_add(&s->sleeps, 1);
		uint64_t until = timer_wheel_next_ns(&s->wheel);
		if (arm == SCHED_ARM_TIMED) {   /* someone must be polled: wake to poll */
			counter_add(&s->sleeps_timed, 1);
			uint64_t poll_at = time_ns() + s->halt_max_ns;
			if (poll_at < until)
				until = poll_at;
		}
		uint64_t c0 = cycles_now();
		core_idle_wait(token, until);
		counter_add(&s->idle_cycles, cycles_now() - c0);    /* asleep is idle */
		disarm_pollers(s, armed);
	}
	atomic_store_explicit(&s->sleeping, 0, memory_order_relaxed);
}

/* One turn on the calling core; returns the work done. */
static unsigned turn(struct sched_core *s)
{
	/* quiescent point: nothing read in an earlier turn is held. The
	 * epoch load is seq_cst (a plain mov on x86) to pair with the
	 * seq_cst store of CORE_IN_LOOP below and the writer's seq_cst
	 * epoch increment and state load: a core just entering its loop
	 * is either seen by the writer or sees the new epoch. */
	atomic_store_explicit(&s->quiescent,
		atomic_load_explicit(&sched_epoch, memory_order_seq_cst), memory_order_release);
	uint64_t t0 = cycles_now(), t = t0;
	unsigned work = 0;
	uint32_t np = atomic_load_explicit(&s->npollers, memory_order_acquire);
	for (uint32_t i = 0; i < np; i++) {
		struct poller *p = &s->pollers[i];
		unsigned w = p->fn(p->arg);
		uint64_t t1 = cycles_now();
		counter_add(&p->calls, 1);
		if (w) {
			counter_add(&p->busy_calls, 1);
			counter_add(&p->busy_cycles, t1 - t);
			counter_add(&p->work, w);
			work += w;
		}
		t = t1;
	}
	if (s->wheel.armed) {
		unsigned f = (unsigned)timer_wheel_run(&s->wheel, time_ns());
		counter_add(&s->timers_fired, f);
		work += f;
	}
	if (counter_get(&s->timers_armed) != s->wheel.armed)
		atomic_store_explicit(&s->timers_armed, s->wheel.armed, memory_order_relaxed);
	work += sched_chan_drain(s);
	np = atomic_load_explicit(&s->npollers, memory_order_acquire);
	for (uint32_t i = 0; i < np; i++)
		if (s->pollers[i].flush)
			s->pollers[i].flush(s->pollers[i].arg);
	uint64_t t2 = cycles_now();
	counter_add(&s->turns, 1);
	if (work) {
		counter_add(&s->busy_turns, 1);
		counter_add(&s->busy_cycles, t2 - t0);
	} else {
		counter_add(&s->idle_cycles, t2 - t0);
	}
	return work;
}

unsigned sched_turn(void)
{
	return turn(&sched_cores[core_self()->id]);
}

_Noreturn void sched_loop_run(struct core *c)
{
	struct sched_core *s = &sched_cores[c->id];
	uint32_t idle_run = 0;
	atomic_store_explicit(&c->state, CORE_IN_LOOP, memory_order_seq_cst);
	for (;;) {
		if (turn(s)) {
			idle_run = 0;
		} else if (s->idle == SCHED_IDLE_HALT && ++idle_run >= s->halt_after) {
			sleep_until_work(s);
			idle_run = 0;
		} else {
			__builtin_ia32_pause();
		}
	}
}

void sched_stats(uint32_t core, struct sched_stats *o)
{
	memset(o, 0, sizeof *o);
	if (core >= cores_count())
		return;
	struct sched_core *s = &sched_cores[core];
	o->turns = counter_get(&s->turns);
	o->busy_turns = counter_get(&s->busy_turns);
	o->busy_cycles = counter_get(&s->busy_cycles);
	o->idle_cycles = counter_get(&s->idle_cycles);
	o->sleeps = counter_get(&s->sleeps);
	o->sleeps_timed = counter_get(&s->sleeps_timed);
	o->sleeps_aborted = counter_get(&s->sleeps_aborted);
	o->msgs_in = counter_get(&s->msgs_in);
	o->msgs_out = counter_get(&s->msgs_out);
	o->chan_full = counter_get(&s->chan_full);
	o->timers_fired = counter_get(&s->timers_fired);
	o->timers_armed = counter_get(&s->timers_armed);
	o->idle = s->idle;
	o->npollers = atomic_load_explicit(&s->npollers, memory_order_acquire);
	for (uint32_t i = 0; i < o->npollers; i++) {
		struct poller *p = &s->pollers[i];
		o->pollers[i].name = p->name;
		o->pollers[i].calls = counter_get(&p->calls);
		o->pollers[i].busy_calls = counter_get(&p->busy_calls);
		o->pollers[i].busy_cycles = counter_get(&p->busy_cycles);
		o->pollers[i].work = counter_get(&p->work);
	}
	if (s->in)
		for (uint32_t i = 0; i < cores_count(); i++)
			o->chan_depth_in += ring_count(s->in[i]) / 2;
}
