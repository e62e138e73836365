/*
 * chan.c — the channel mesh, cross-core calls, publish and quiesce.
 *
 * The mesh: one SPSC ring for every ordered pair of cores (i -> j, i == j
 * included), made by sched_init. A message is two slots, (fn, arg),
 * enqueued as one bulk by the sending core and dequeued in pairs by the
 * receiving core's loop, so calls from one sender run in order. Nothing
 * waits: a full ring is counted (chan_full) and reported to the caller.
 *
 * Waking a sleeping core: see sleep_until_work() in loop.c (Dekker with
 * the `sleeping` flag; both sides fence seq_cst).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "sched/sched_priv.h"

_Atomic uint64_t sched_epoch = 1;

int sched_init(const struct sched_config *cfg)
{
	uint32_t n = cores_count();
	uint64_t now = time_ns();
	for (uint32_t i = 0; i < n; i++) {
		struct sched_core *s = &sched_cores[i];
		s->idle = cfg->idle[i];
		s->halt_after = cfg->halt_after;
		s->halt_max_ns = (uint64_t)(cfg->halt_max_us ? cfg->halt_max_us : 1000) * 1000ull;
		timer_wheel_init(&s->wheel, now);
		s->in = calloc(n, sizeof *s->in);
		s->out = calloc(n, sizeof *s->out);
		if (!s->in || !s->out)
			return -ENOMEM;
	}
	for (uint32_t i = 0; i < n; i++)
		for (uint32_t j = 0; j < n; j++) {
			struct ring *r = aligned_alloc(RING_ALIGN, ring_memsize(cfg->chan_slots));
			if (!r || ring_init(r, cfg->chan_slots))
				return -ENOMEM;
			sched_cores[i].out[j] = r;
			sched_cores[j].in[i] = r;
		}
	return 0;
}

unsigned sched_chan_drain(struct sched_core *s)
{
	uint32_t n = cores_count();
	unsigned done = 0;
	void *m[SCHED_BURST * 2];
	for (uint32_t i = 0; i < n; i++) {
		uint32_t k = ring_sc_dequeue_burst(s->in[i], m, SCHED_BURST * 2);
		/* producers enqueue whole pairs, we dequeue even counts: k is even */
		for (uint32_t j = 0; j + 1 < k; j += 2) {
			void (*fn)(void *) = (void (*)(void *))m[j];
			fn(m[j + 1]);
		}
		done += k / 2;
	}
	if (done)
		counter_add(&s->msgs_in, done);
	return done;
}

int sched_chan_pending(struct sched_core *s)
{
	uint32_t n = cores_count();
	for (uint32_t i = 0; i < n; i++)
		if (!ring_sc_empty(s->in[i]))
			return 1;
	return 0;
}

int call_on(uint32_t core, void (*fn)(void *), void *arg)
{
	struct core *me = core_self();
	if (core >= cores_count() || !fn)
		return -EINVAL;
	struct sched_core *s = &sched_cores[me->id];
	void *m[2] = { (void *)fn, arg };
	if (ring_sp_enqueue_bulk(s->out[core], m, 2) != 2) {
		counter_add(&s->chan_full, 1);
		return -ENOBUFS;
	}
	counter_add(&s->msgs_out, 1);
	/* Dekker with sleep_until_work(): enqueue, fence, check the flag */
	atomic_thread_fence(memory_order_seq_cst);
	if (atomic_load_explicit(&sched_cores[core].sleeping, memory_order_relaxed))
		core_kick(core);
	return 0;
}

struct sync_call {
	void (*fn)(void *);
	void *arg;
	_Atomic int done;
};

static void sync_trampoline(void *p)
{
	struct sync_call *c = p;
	c->fn(c->arg);
	/* release: fn's effects are visible to the waiter's acquire */
	atomic_store_explicit(&c->done, 1, memory_order_release);
}

int sched_call_sync(uint32_t core, void (*fn)(void *), void *arg, uint64_t timeout_ns)
{
	if (core == core_self()->id) {
		fn(arg);
		return 0;
	}
	static struct sync_call calls[POLLUX_MAX_CORES];   /* one in flight per target */
	struct sync_call *c = &calls[core];
	c->fn = fn;
	c->arg = arg;
	atomic_store_explicit(&c->done, 0, memory_order_relaxed);
	int rc = call_on(core, sync_trampoline, c);
	if (rc)
		return rc;
	uint64_t end = time_ns() + timeout_ns;
	while (!atomic_load_explicit(&c->done, memory_order_acquire)) {
		if (time_ns() > end)
			return -ETIMEDOUT;
		if (!sched_turn())
			__builtin_ia32_pause();
	}
	return 0;
}

void *sched_publish(void *_Atomic *slot, void *obj)
{
	return atomic_exchange_explicit(slot, obj, memory_order_acq_rel);
}

int sched_quiesce_wait(uint64_t timeout_ns)
{
	/* seq_cst: ordered after the publish's exchange */
	uint64_t target = atomic_fetch_add_explicit(&sched_epoch, 1, memory_order_seq_cst) + 1;
	uint32_t me = core_self()->id;
	uint64_t end = time_ns() + timeout_ns;
	for (uint32_t i = 0; i < cores_count(); i++) {
		if (i == me)
			continue;
		struct sched_core *s = &sched_cores[i];
		while (atomic_load_explicit(&core_get(i)->state, memory_order_seq_cst) == CORE_IN_LOOP &&
		       atomic_load_explicit(&s->quiescent, memory_order_acquire) < target) {
			if (atomic_load_explicit(&s->sleeping, memory_order_relaxed))
				core_kick(i);
			if (time_ns() > end)
				return -ETIMEDOUT;
			__builtin_ia32_pause();
		}
	}
	return 0;
}
