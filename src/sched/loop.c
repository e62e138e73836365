/*
 * loop.c — the per-core loop: look for work, run it, else sleep until
 * kicked. Each turn is counted in struct core.loop_turns (owner writes,
 * others read relaxed).
 *
 * Mailbox ordering: the caller stores mail_arg, then mail_fn with release;
 * the owner loads mail_fn with acquire (so it sees mail_arg), runs it,
 * clears mail_fn and bumps mail_done with release; the caller waits on
 * mail_done with acquire (so it sees fn's effects).
 */
#include <errno.h>
#include "sched/sched.h"

static int run_mail(struct core *c)
{
	void (*fn)(void *) = atomic_load_explicit(&c->mail_fn, memory_order_acquire);
	if (!fn)
		return 0;
	fn(atomic_load_explicit(&c->mail_arg, memory_order_relaxed));
	atomic_store_explicit(&c->mail_fn, NULL, memory_order_relaxed);
	atomic_fetch_add_explicit(&c->mail_done, 1, memory_order_release);
	return 1;
}

_Noreturn void sched_loop_run(struct core *c)
{
	atomic_store_explicit(&c->state, CORE_IN_LOOP, memory_order_release);
	for (;;) {
		atomic_store_explicit(&c->loop_turns,
			atomic_load_explicit(&c->loop_turns, memory_order_relaxed) + 1,
			memory_order_relaxed);
		if (run_mail(c))
			continue;
		core_idle_prepare();
		if (atomic_load_explicit(&c->mail_fn, memory_order_acquire))
			continue;
		core_idle_wait();
	}
}

int sched_call_sync(uint32_t id, void (*fn)(void *), void *arg, uint64_t timeout_ns)
{
	struct core *c = core_get(id);
	if (!c)
		return -EINVAL;
	if (c == core_self()) {
		fn(arg);
		return 0;
	}
	if (atomic_load_explicit(&c->mail_fn, memory_order_acquire))
		return -EBUSY;
	uint32_t done = atomic_load_explicit(&c->mail_done, memory_order_acquire);
	atomic_store_explicit(&c->mail_arg, arg, memory_order_relaxed);
	atomic_store_explicit(&c->mail_fn, fn, memory_order_release);
	core_kick(id);
	uint64_t end = time_ns() + timeout_ns;
	while (atomic_load_explicit(&c->mail_done, memory_order_acquire) == done) {
		if (time_ns() > end)
			return -ETIMEDOUT;
		__builtin_ia32_pause();
	}
	return 0;
}
