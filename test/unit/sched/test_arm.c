/*
 * test_arm.c — a halting core arms its pollers before it sleeps
 * (sched_poller_set_arm, loop.c): every poller armed -> a sleep with no
 * halt_max_us cap (only timers); one that cannot be woken (SCHED_ARM_TIMED
 * or no arm hook) -> the cap; one with work -> no sleep at all; every arm
 * is followed by its disarm. Core 1 runs its real loop on a thread for
 * the whole binary (sched_loop_run never returns), so this file holds one
 * test that walks through the cases.
 */
#include <errno.h>
#include <sched.h>
#include <criterion/criterion.h>
#include "sched/sched_priv.h"
#include "stubs.h"

#define HALT_MAX_US 1000000u
#define LIMIT_NS (10ull * 1000000000ull)

static _Atomic int mode = SCHED_ARM_SLEEP;
static _Atomic uint64_t arms, disarms, polls;

static unsigned poll_a(void *arg) { (void)arg; atomic_fetch_add(&polls, 1); return 0; }
static unsigned poll_b(void *arg) { (void)arg; return 0; }

static int arm_a(void *arg)
{
	(void)arg;
	atomic_fetch_add(&arms, 1);
	return atomic_load(&mode);
}

static void disarm_a(void *arg)
{
	(void)arg;
	atomic_fetch_add(&disarms, 1);
}

static void *core1_main(void *arg)
{
	(void)arg;
	sched_loop_run(core_self());
}

/* The next sleep core 1 starts after now: its deadline (0: none in time). */
static uint64_t next_sleep_deadline(void)
{
	uint64_t w0 = atomic_load_explicit(&stub_idle_waits[1], memory_order_acquire);
	uint64_t end = time_ns() + LIMIT_NS;
	/* two more: the first may have begun under the previous mode */
	while (atomic_load_explicit(&stub_idle_waits[1], memory_order_acquire) < w0 + 2 && time_ns() < end)
		sched_yield();
	return atomic_load_explicit(&stub_idle_waits[1], memory_order_acquire) >= w0 + 2
		? atomic_load_explicit(&stub_idle_deadline[1], memory_order_relaxed) : 0;
}

Test(arm, sleeps_follow_what_the_pollers_arm)
{
	stub_cores_init(2);
	struct sched_config cfg;
	memset(&cfg, 0, sizeof cfg);
	cfg.chan_slots = 16;
	cfg.halt_after = 4;
	cfg.halt_max_us = HALT_MAX_US;
	cfg.idle[0] = SCHED_IDLE_POLL;
	cfg.idle[1] = SCHED_IDLE_HALT;
	cr_assert_eq(sched_init(&cfg), 0);
	cr_assert_eq(sched_poller_add(1, "a", poll_a, NULL, NULL), 0);
	cr_assert_eq(sched_poller_add(1, "b", poll_b, NULL, NULL), 0);
	cr_expect_eq(sched_poller_set_arm(1, poll_a, (void *)1, arm_a, disarm_a), -ENOENT, "no such poller");
	cr_expect_eq(sched_poller_set_arm(7, poll_a, NULL, arm_a, disarm_a), -EINVAL, "no such core");
	cr_assert_eq(sched_poller_set_arm(1, poll_a, NULL, arm_a, disarm_a), 0);
	/* b has no arm hook yet: it can't be woken */
	pthread_t th;
	stub_thread_start(&th, 1, core1_main, NULL);

	uint64_t t = time_ns(), d = next_sleep_deadline();
	cr_assert_neq(d, 0, "core 1 never slept");
	cr_expect(d != UINT64_MAX && d <= time_ns() + HALT_MAX_US * 1000ull && d > t,
		  "a poller without arm: the sleep is capped (deadline %llu)", (unsigned long long)d);

	cr_assert_eq(sched_poller_set_arm(1, poll_b, NULL, sched_arm_always, NULL), 0);
	d = next_sleep_deadline();
	cr_expect_eq(d, UINT64_MAX, "every poller armed, no timer: no cap");

	atomic_store(&mode, SCHED_ARM_TIMED);
	t = time_ns();
	d = next_sleep_deadline();
	cr_expect(d != UINT64_MAX && d > t && d <= time_ns() + HALT_MAX_US * 1000ull,
		  "a poller that can't be woken: capped (deadline %llu)", (unsigned long long)d);

	struct sched_stats st;
	sched_stats(1, &st);
	uint64_t aborted = st.sleeps_aborted, p0 = atomic_load(&polls);
	atomic_store(&mode, SCHED_ARM_WORK);
	uint64_t w0 = atomic_load(&stub_idle_waits[1]);
	uint64_t end = time_ns() + LIMIT_NS;
	while (atomic_load(&polls) < p0 + 1000 && time_ns() < end)
		sched_yield();
	sched_stats(1, &st);
	cr_expect_gt(st.sleeps_aborted, aborted, "work at arm time: the sleep is called off");
	cr_expect_leq(atomic_load(&stub_idle_waits[1]), w0 + 1, "and the core does not sleep (one may have begun)");
	cr_expect_gt(st.sleeps_timed, 0);

	atomic_store(&mode, SCHED_ARM_SLEEP);
	cr_expect_eq(next_sleep_deadline(), UINT64_MAX);
	/* every arm is undone once the sleep (or the aborted one) is over: at
	 * most the sleep in progress is still armed */
	uint64_t a, da, a2;
	int tries = 0;
	do {                                    /* a steady reading: no arm between */
		a = atomic_load(&arms);
		da = atomic_load(&disarms);
		a2 = atomic_load(&arms);
	} while (a != a2 && ++tries < 1000000);
	cr_expect(a == da || a == da + 1, "arms %llu, disarms %llu", (unsigned long long)a, (unsigned long long)da);
	cr_expect_gt(a, 100);
}
