/*
 * test_timer.c — the hierarchical timer wheel (src/sched/timer.c).
 *
 * Directed cases first (tick rounding, cancel, re-arm, periodic timers,
 * callbacks that arm and cancel, timer_wheel_next_ns, deadlines beyond
 * the wheel's reach), then a fixed-seed random sequence checked against a
 * reference model, then a scale test.
 *
 * The bounds checked, for a timer armed at deadline d:
 *   - it fires once per arming, never in a run(now_ns) with now_ns < d;
 *   - it fires no later than the first run whose tick (now_ns >> 16)
 *     reaches its due tick: d rounded up to a tick, or, when that tick
 *     has already been run when it is armed between runs, the first tick
 *     not yet run (a callback's arm in the past fires in the same run);
 *   - timer_wheel_next_ns() is never later than the earliest due tick.
 */
#include <signal.h>
#include <criterion/criterion.h>
#include "sched/timer.h"
#include "stubs.h"

#define TICK (1ull << TIMER_TICK_SHIFT)
#define US 1000ull
#define MS 1000000ull
#define SEC 1000000000ull
#define MIN (60 * SEC)
#define HOUR (60 * MIN)

static uint64_t tick_of(uint64_t ns) { return ns >> TIMER_TICK_SHIFT; }
static uint64_t tick_up(uint64_t ns) { return tick_of(ns) + ((ns & (TICK - 1)) != 0); }

/* ---------------------------------------------------------------- directed */

static struct timer_wheel w;
static uint64_t run_now;                 /* the now_ns of the run in progress */

struct rec {
	uint32_t fires;
	uint64_t last_now;                   /* run_now at the last fire */
	uint64_t last_tick;                  /* w.now (the tick run) at the last fire */
	uint64_t deadline_at_fire;           /* t->deadline_ns seen by the callback */
	uint64_t early;                      /* fires with run_now < the armed deadline */
	uint64_t armed_deadline;             /* what the test armed it for */
};

static void rec_fire(struct timer *t, void *arg)
{
	struct rec *r = arg;
	if (run_now < r->armed_deadline)
		r->early++;
	r->fires++;
	r->last_now = run_now;
	r->last_tick = w.now;
	r->deadline_at_fire = t->deadline_ns;
}

static size_t run(uint64_t now_ns)
{
	run_now = now_ns;
	return timer_wheel_run(&w, now_ns);
}

static void arm(struct timer *t, struct rec *r, uint64_t d, uint64_t period)
{
	r->armed_deadline = d;
	timer_arm(&w, t, d, period);
}

Test(timer, fires_at_the_rounded_up_tick_never_before)
{
	static const uint64_t base[] = { 0, 12345 * TICK + 17, 0xFFFFFull * TICK, 1ull << 40 };
	for (size_t b = 0; b < sizeof base / sizeof base[0]; b++) {
		uint64_t t0 = base[b];
		timer_wheel_init(&w, t0);
		cr_assert_eq(timer_wheel_next_ns(&w), UINT64_MAX);
		uint64_t first = (tick_of(t0) + 1) * TICK;
		/* an exact tick boundary, one ns past it, one ns before the next */
		uint64_t ds[] = { first + 10 * TICK, first + 20 * TICK + 1, first + 31 * TICK - 1,
				  first + 700 * TICK + 5, first + 70000 * TICK, first + 17000000 * TICK + 3 };
		struct timer t[6];
		struct rec r[6] = { 0 };
		for (int i = 0; i < 6; i++) {
			timer_init(&t[i], rec_fire, &r[i]);
			cr_assert_not(timer_armed(&t[i]));
			arm(&t[i], &r[i], ds[i], 0);
			cr_assert(timer_armed(&t[i]));
		}
		cr_assert_eq(w.armed, 6);
		for (int i = 0; i < 6; i++) {
			uint64_t due = tick_up(ds[i]) * TICK;
			cr_assert_eq(run(due - 1), 0, "base %zu timer %d fired a ns early", b, i);
			cr_assert_eq(r[i].fires, 0);
			cr_assert_eq(run(due), 1, "base %zu timer %d not fired at its tick", b, i);
			cr_assert_eq(r[i].fires, 1);
			cr_assert_eq(r[i].early, 0);
			cr_assert_not(timer_armed(&t[i]));
			cr_assert_eq(w.armed, 5 - i);
		}
		cr_assert_eq(w.fired, 6);
		cr_assert_eq(run(first + 20000000 * TICK), 0);
		cr_assert_eq(timer_wheel_next_ns(&w), UINT64_MAX);
	}
}

Test(timer, one_run_over_many_ticks_fires_all_due)
{
	timer_wheel_init(&w, 0);
	enum { N = 1000 };
	static struct timer t[N];
	static struct rec r[N];
	uint64_t seed = 42;
	size_t due_by_1h = 0;
	for (int i = 0; i < N; i++) {
		timer_init(&t[i], rec_fire, &r[i]);
		arm(&t[i], &r[i], stub_rand_range(&seed, 0, 2 * HOUR), 0);
		due_by_1h += tick_up(r[i].armed_deadline) <= tick_of(HOUR);
	}
	cr_assert_gt(due_by_1h, N / 4);
	cr_assert_eq(run(HOUR), due_by_1h);
	for (int i = 0; i < N; i++) {
		cr_assert_eq(r[i].early, 0);
		cr_assert_eq(r[i].fires, tick_up(r[i].armed_deadline) <= tick_of(HOUR), "timer %d", i);
	}
	cr_assert_eq(w.armed, N - due_by_1h);
	cr_assert_eq(run(3 * HOUR), N - due_by_1h);
	for (int i = 0; i < N; i++)
		cr_assert_eq(r[i].fires, 1, "timer %d", i);
	cr_assert_eq(w.armed, 0);
	cr_assert_eq(w.fired, N);
}

Test(timer, past_deadlines_fire_on_the_next_run)
{
	uint64_t t0 = 10 * SEC;
	cr_assert_eq(tick_of(t0 + 1), tick_of(t0));
	timer_wheel_init(&w, t0);
	struct timer t;
	struct rec r = { 0 };
	timer_init(&t, rec_fire, &r);
	arm(&t, &r, 0, 0);
	cr_assert_eq(run(t0), 1, "a deadline of 0 fires on the first run");
	/* armed in the past after the tick of t0 was run: the next tick */
	arm(&t, &r, 5 * SEC, 0);
	cr_assert_eq(run(t0 + 1), 0);
	cr_assert_eq(run(t0 + TICK), 1);
	cr_assert_eq(r.fires, 2);
	cr_assert_eq(r.early, 0);
	/* time going backwards runs nothing and breaks nothing */
	arm(&t, &r, 11 * SEC, 0);
	cr_assert_eq(run(SEC), 0);
	cr_assert_eq(run(11 * SEC - 1), 0);
	cr_assert_eq(run(11 * SEC + TICK), 1);
	cr_assert_eq(r.fires, 3);
	cr_assert_eq(r.early, 0);
}

Test(timer, cancel_and_rearm)
{
	timer_wheel_init(&w, 0);
	struct timer a, b, c;
	struct rec ra = { 0 }, rb = { 0 }, rc = { 0 };
	timer_init(&a, rec_fire, &ra);
	timer_init(&b, rec_fire, &rb);
	timer_init(&c, rec_fire, &rc);
	timer_cancel(&w, &a);                       /* never armed: a no-op */
	cr_assert_eq(w.armed, 0);
	arm(&a, &ra, 5 * MS, 0);
	arm(&b, &rb, 5 * MS, 0);                    /* same slot as a */
	arm(&c, &rc, 2 * SEC, 0);
	cr_assert_eq(w.armed, 3);
	timer_cancel(&w, &a);
	timer_cancel(&w, &a);
	cr_assert_not(timer_armed(&a));
	cr_assert_eq(w.armed, 2);
	/* re-arm moves, it doesn't duplicate: earlier, then later */
	arm(&c, &rc, 1 * MS, 0);
	arm(&c, &rc, 7 * SEC, 0);
	cr_assert_eq(w.armed, 2);
	cr_assert_eq(run(10 * MS), 1);
	cr_assert_eq(rb.fires, 1);
	cr_assert_eq(ra.fires, 0);
	cr_assert_eq(rc.fires, 0);
	cr_assert_eq(run(6 * SEC), 0);
	/* cancel from a higher level, then re-arm after cancel */
	timer_cancel(&w, &c);
	cr_assert_eq(w.armed, 0);
	cr_assert_eq(run(8 * SEC), 0);
	arm(&a, &ra, 9 * SEC, 0);
	cr_assert_eq(run(9 * SEC), 0, "9 s is not on a tick boundary");
	cr_assert_eq(run(9 * SEC + TICK), 1);
	cr_assert_eq(ra.fires, 1);
	cr_assert_eq(rc.fires, 0);
	cr_assert_eq(w.armed, 0);
	cr_assert_eq(w.fired, 2);
}

Test(timer, deadline_near_uint64_max_never_fires_early)
{
	timer_wheel_init(&w, 0);
	struct timer t;
	struct rec r = { 0 };
	timer_init(&t, rec_fire, &r);
	arm(&t, &r, UINT64_MAX, 0);                 /* "never" */
	cr_assert_eq(run(0), 0, "a deadline of UINT64_MAX fired at 0");
	cr_assert_eq(run(HOUR), 0);
	arm(&t, &r, UINT64_MAX - TICK / 2, 0);
	cr_assert_eq(run(HOUR + SEC), 0);
	cr_assert_eq(r.fires, 0);
	cr_assert(timer_armed(&t));
	cr_assert_neq(timer_wheel_next_ns(&w), UINT64_MAX, "an armed timer, however far, is something to wake for");
}

/* ---- periodic */

Test(timer, periodic_fires_once_per_period_without_drift)
{
	/* periods that are, and aren't, multiples of the tick */
	static const uint64_t periods[] = { 1 * MS, 100 * TICK, 3 * MS + 7, 250 * US, TICK };
	for (size_t p = 0; p < sizeof periods / sizeof periods[0]; p++) {
		uint64_t P = periods[p], start = 1 * SEC + 3;
		timer_wheel_init(&w, SEC);
		struct timer t;
		struct rec r = { 0 };
		timer_init(&t, rec_fire, &r);
		arm(&t, &r, start, P);
		/* run every 10 us of simulated time for 2000 periods' worth (bounded) */
		uint64_t end = start + 2000 * P;
		for (uint64_t now = SEC; now <= end; now += 10 * US) {
			uint32_t before = r.fires;
			run(now);
			/* every deadline start + kP whose tick was reached fired, once */
			uint64_t reached = tick_of(now) * TICK;
			uint32_t expect = reached >= start ? (uint32_t)((reached - start) / P + 1) : 0;
			cr_assert_eq(r.fires, expect, "period %llu: %u fires by %llu ns, expected %u",
				     (unsigned long long)P, r.fires, (unsigned long long)now, expect);
			if (r.fires != before) {
				cr_assert_eq(r.fires - before, 1);
				/* the callback sees the next deadline: previous + P, exactly */
				cr_assert_eq(r.deadline_at_fire, start + (uint64_t)r.fires * P,
					     "period %llu drifted at fire %u", (unsigned long long)P, r.fires);
				cr_assert_geq(r.last_now, start + (uint64_t)(r.fires - 1) * P, "early");
			}
		}
		cr_assert_geq(r.fires, 2000);
		cr_assert(timer_armed(&t));
		cr_assert_eq(w.armed, 1);
		timer_cancel(&w, &t);
		cr_assert_eq(w.armed, 0);
	}
}

Test(timer, periodic_shorter_than_a_tick_fires_at_most_once_per_tick)
{
	timer_wheel_init(&w, 0);
	struct timer t;
	struct rec r = { 0 };
	timer_init(&t, rec_fire, &r);
	arm(&t, &r, 5 * US, 10 * US);               /* ~6.5 periods per tick */
	uint64_t last_tick = UINT64_MAX;
	for (uint64_t now = 0; now < 100 * TICK; now += 3 * US) {
		uint32_t before = r.fires;
		size_t n = run(now);
		cr_assert_leq(n, 1, "fired %zu times in one run at %llu", n, (unsigned long long)now);
		if (r.fires != before) {
			cr_assert_neq(r.last_tick, last_tick, "twice in tick %llu", (unsigned long long)last_tick);
			last_tick = r.last_tick;
			/* never before the deadline it fired for */
			cr_assert_geq(now, r.armed_deadline);
			r.armed_deadline = r.deadline_at_fire;
		}
	}
	/* roughly once per tick: not starved */
	cr_assert_geq(r.fires, 95);
	cr_assert_leq(r.fires, 100);
	/* one run over many ticks: at most once per tick it covers */
	uint64_t from = r.fires;
	size_t n = run(200 * TICK);
	cr_assert_leq(n, 100);
	cr_assert_eq(r.fires - from, n);
}

Test(timer, periodic_far_behind_does_not_replay_the_backlog)
{
	timer_wheel_init(&w, 0);
	struct timer t;
	struct rec r = { 0 };
	timer_init(&t, rec_fire, &r);
	arm(&t, &r, 1 * MS, 1 * MS);
	cr_assert_eq(run(2 * MS), 1);
	/* a 10 s stall: 10000 periods missed */
	size_t n = run(10 * SEC + 1 * MS);
	cr_assert_geq(n, 1);
	cr_assert_leq(n, 3, "replayed %zu periods", n);
	cr_assert(timer_armed(&t));
	cr_assert_gt(t.deadline_ns, 10 * SEC, "next deadline %llu still in the past",
		     (unsigned long long)t.deadline_ns);
	cr_assert_leq(t.deadline_ns, 10 * SEC + 3 * MS);
	/* and it keeps its period afterwards */
	uint32_t f = r.fires;
	for (uint64_t now = 10 * SEC + 2 * MS; now <= 10 * SEC + 102 * MS; now += 20 * US)
		run(now);
	cr_assert_geq(r.fires - f, 99);
	cr_assert_leq(r.fires - f, 101);
}

/* ---- callbacks that arm and cancel */

static struct timer cb_t[4];
static struct rec cb_r[4];
static int cb_budget;                       /* self re-arms left */

static void cb_rearm_self_in_past(struct timer *t, void *arg)
{
	rec_fire(t, arg);
	if (cb_budget-- > 0)
		timer_arm(&w, t, run_now - 5 * SEC, 0);   /* long past: due now */
}

static void cb_cancel_other(struct timer *t, void *arg)
{
	rec_fire(t, arg);
	timer_cancel(&w, &cb_t[1]);
}

static void cb_arm_other(struct timer *t, void *arg)
{
	rec_fire(t, arg);
	cb_r[2].armed_deadline = run_now - MS;
	timer_arm(&w, &cb_t[2], run_now - MS, 0);   /* due in this run */
	cb_r[3].armed_deadline = run_now + 50 * MS;
	timer_arm(&w, &cb_t[3], run_now + 50 * MS, 0);
}

static void cb_periodic_stop_after_3(struct timer *t, void *arg)
{
	rec_fire(t, arg);
	if (((struct rec *)arg)->fires == 3)
		timer_cancel(&w, t);
}

static void cb_periodic_rearm_one_shot(struct timer *t, void *arg)
{
	rec_fire(t, arg);
	/* turn itself into a one-shot 1 s later */
	((struct rec *)arg)->armed_deadline = run_now + SEC;
	timer_arm(&w, t, run_now + SEC, 0);
}

Test(timer, callback_rearms_itself_in_the_past)
{
	timer_wheel_init(&w, 10 * SEC);
	memset(cb_r, 0, sizeof cb_r);
	timer_init(&cb_t[0], cb_rearm_self_in_past, &cb_r[0]);
	arm(&cb_t[0], &cb_r[0], 10 * SEC + 3 * MS, 0);
	cb_budget = 5;
	cr_assert_eq(run(10 * SEC + 4 * MS), 6, "the re-arms are due in the same run");
	cr_assert_eq(cb_r[0].early, 0);
	cr_assert_eq(cb_r[0].fires, 6);
	cr_assert_not(timer_armed(&cb_t[0]));
	cr_assert_eq(w.armed, 0);
	cr_assert_eq(w.fired, 6);
}

Test(timer, callback_cancels_a_timer_due_in_the_same_run)
{
	timer_wheel_init(&w, 0);
	memset(cb_r, 0, sizeof cb_r);
	timer_init(&cb_t[0], cb_cancel_other, &cb_r[0]);
	timer_init(&cb_t[1], rec_fire, &cb_r[1]);
	arm(&cb_t[0], &cb_r[0], 10 * TICK, 0);
	arm(&cb_t[1], &cb_r[1], 11 * TICK, 0);     /* a tick later, same run */
	cr_assert_eq(w.armed, 2);
	cr_assert_eq(run(300 * TICK), 1);
	cr_assert_eq(cb_r[0].fires, 1);
	cr_assert_eq(cb_r[1].fires, 0, "a cancelled timer fired");
	cr_assert_eq(w.armed, 0);
	/* and a cancel of one in a higher level, from a callback */
	arm(&cb_t[0], &cb_r[0], 400 * TICK, 0);
	arm(&cb_t[1], &cb_r[1], 100000 * TICK, 0);
	cr_assert_eq(run(400 * TICK), 1);
	cr_assert_eq(w.armed, 0);
	cr_assert_eq(run(200000 * TICK), 0);
	cr_assert_eq(cb_r[1].fires, 0);
}

Test(timer, callback_arms_others)
{
	timer_wheel_init(&w, 0);
	memset(cb_r, 0, sizeof cb_r);
	timer_init(&cb_t[0], cb_arm_other, &cb_r[0]);
	timer_init(&cb_t[2], rec_fire, &cb_r[2]);
	timer_init(&cb_t[3], rec_fire, &cb_r[3]);
	arm(&cb_t[0], &cb_r[0], 20 * MS, 0);
	cr_assert_eq(run(30 * MS), 2, "a timer armed due-now in a callback fires in the same run");
	cr_assert_eq(cb_r[2].fires, 1);
	cr_assert_eq(cb_r[2].early, 0);
	cr_assert_eq(w.armed, 1);
	cr_assert_eq(run(79 * MS), 0);
	cr_assert_eq(run(80 * MS + TICK), 1);
	cr_assert_eq(cb_r[3].fires, 1);
	cr_assert_eq(cb_r[3].early, 0);
}

Test(timer, periodic_callbacks_cancel_or_rearm_themselves)
{
	timer_wheel_init(&w, 0);
	memset(cb_r, 0, sizeof cb_r);
	timer_init(&cb_t[0], cb_periodic_stop_after_3, &cb_r[0]);
	timer_init(&cb_t[1], cb_periodic_rearm_one_shot, &cb_r[1]);
	arm(&cb_t[0], &cb_r[0], 1 * MS, 1 * MS);
	arm(&cb_t[1], &cb_r[1], 2 * MS, 1 * MS);
	for (uint64_t now = 0; now <= 20 * MS; now += 100 * US)
		run(now);
	cr_assert_eq(cb_r[0].fires, 3);
	cr_assert_not(timer_armed(&cb_t[0]));
	cr_assert_eq(cb_r[1].fires, 1, "a periodic re-armed as one-shot kept its period");
	cr_assert(timer_armed(&cb_t[1]));
	cr_assert_eq(w.armed, 1);
	for (uint64_t now = 20 * MS; now <= 2 * SEC; now += 1 * MS)
		run(now);
	cr_assert_eq(cb_r[1].fires, 2);
	cr_assert_eq(cb_r[1].early, 0);
	cr_assert_eq(w.armed, 1, "the callback re-armed it once more");
}

/* ---- timer_wheel_next_ns */

Test(timer, next_ns_is_never_later_than_the_earliest_deadline)
{
	timer_wheel_init(&w, 0);
	struct timer t;
	struct rec r = { 0 };
	timer_init(&t, rec_fire, &r);
	cr_assert_eq(timer_wheel_next_ns(&w), UINT64_MAX);
	/* level 0, level 1, level 2 and level 3 deadlines */
	static const uint64_t ticks[] = { 5, 300, 70000, 20000000, 255, 256, 257, 65536, 1u << 24 };
	for (size_t i = 0; i < sizeof ticks / sizeof ticks[0]; i++) {
		timer_wheel_init(&w, 0);
		arm(&t, &r, ticks[i] * TICK, 0);
		cr_assert_leq(timer_wheel_next_ns(&w), ticks[i] * TICK, "deadline tick %llu",
			      (unsigned long long)ticks[i]);
		timer_cancel(&w, &t);
		cr_assert_eq(timer_wheel_next_ns(&w), UINT64_MAX);
	}
	/* after runs that stop just before a level boundary, with the timer
	 * still in a higher level */
	static const struct { uint64_t deadline, ran; } cases[] = {
		{ 300, 255 }, { 257, 255 }, { 511, 255 }, { 70000, 65535 },
		{ 65536 + 5, 65535 }, { (1u << 24) + 9, (1u << 24) - 1 }, { 1000, 767 },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		timer_wheel_init(&w, 0);
		arm(&t, &r, cases[i].deadline * TICK, 0);
		run(cases[i].ran * TICK);
		cr_assert_eq(r.fires, 0);
		uint64_t next = timer_wheel_next_ns(&w);
		cr_assert_leq(next, cases[i].deadline * TICK,
			      "deadline tick %llu, ran to tick %llu: next_ns is tick %llu",
			      (unsigned long long)cases[i].deadline, (unsigned long long)cases[i].ran,
			      (unsigned long long)(next / TICK));
		timer_cancel(&w, &t);
	}
}

/* Simulates an idle core: sleep until next_ns, run, repeat. The timer
 * must fire at its tick, not a wheel revolution later. */
Test(timer, sleeping_until_next_ns_wakes_in_time)
{
	uint64_t seed = 7;
	for (int round = 0; round < 200; round++) {
		uint64_t t0 = stub_rand_range(&seed, 0, 1ull << 40);
		timer_wheel_init(&w, t0);
		struct timer t;
		struct rec r = { 0 };
		timer_init(&t, rec_fire, &r);
		uint64_t d = t0 + stub_rand_range(&seed, 0, 30 * SEC);
		arm(&t, &r, d, 0);
		run(t0);
		uint64_t now = t0;
		for (int wakes = 0; r.fires == 0 && wakes < 1000000; wakes++) {
			uint64_t next = timer_wheel_next_ns(&w);
			cr_assert_neq(next, UINT64_MAX);
			cr_assert_leq(next, tick_up(d) * TICK, "round %d: next_ns %llu past the deadline %llu",
				      round, (unsigned long long)next, (unsigned long long)d);
			if (next > now)
				now = next;
			run(now);
		}
		cr_assert_eq(r.fires, 1);
		cr_assert_eq(r.early, 0);
		cr_assert_eq(tick_of(r.last_now), tick_up(d) > tick_of(t0) ? tick_up(d) : tick_of(t0),
			     "round %d: fired at tick %llu for deadline tick %llu", round,
			     (unsigned long long)tick_of(r.last_now), (unsigned long long)tick_up(d));
	}
}

/* ---- beyond the wheel's reach: more than 2^32 ticks (78 h) ahead */

Test(timer, deadlines_beyond_the_wheel_reach_fire_on_time, .timeout = 120)
{
	uint64_t t0 = 123 * SEC;
	timer_wheel_init(&w, t0);
	struct timer a, b, c;
	struct rec ra = { 0 }, rb = { 0 }, rc = { 0 };
	timer_init(&a, rec_fire, &ra);
	timer_init(&b, rec_fire, &rb);
	timer_init(&c, rec_fire, &rc);
	uint64_t reach = (1ull << 32) * TICK;
	uint64_t da = t0 + reach + 12345 * TICK + 7;        /* just past the reach */
	uint64_t db = t0 + reach + (1ull << 26) * TICK;     /* past it by 4 level-3 slots */
	uint64_t dc = t0 + reach - TICK;                    /* just inside */
	arm(&a, &ra, da, 0);
	arm(&b, &rb, db, 0);
	arm(&c, &rc, dc, 0);
	/* advance as an idle core would, but in big steps: at most 2^22 ticks */
	uint64_t now = t0, step = (1ull << 22) * TICK;
	for (int i = 0; i < 4000 && now < db + TICK; i++) {
		uint64_t next = now + step;
		uint64_t first = UINT64_MAX;
		if (!rc.fires && tick_up(dc) * TICK < first) first = tick_up(dc) * TICK;
		if (!ra.fires && tick_up(da) * TICK < first) first = tick_up(da) * TICK;
		if (!rb.fires && tick_up(db) * TICK < first) first = tick_up(db) * TICK;
		/* land exactly on the due ticks, and one ns before them */
		if (first != UINT64_MAX && next >= first)
			next = (first - 1 > now) ? first - 1 : first;
		cr_assert_leq(timer_wheel_next_ns(&w), first);
		now = next;
		run(now);
		cr_assert_eq(ra.early + rb.early + rc.early, 0, "fired early at %llu", (unsigned long long)now);
		cr_assert_eq(rc.fires, now >= tick_up(dc) * TICK);
		cr_assert_eq(ra.fires, now >= tick_up(da) * TICK);
		cr_assert_eq(rb.fires, now >= tick_up(db) * TICK, "b at %llu", (unsigned long long)now);
	}
	cr_assert_eq(ra.fires + rb.fires + rc.fires, 3);
	cr_assert_eq(w.armed, 0);
}

/* ---------------------------------------------------------------- model */

#define NT 256
#define NT_FAR 64                        /* timers 0..63: mostly far deadlines */
#define RUN_FIRE_LIMIT 100000

struct mt {
	int armed;
	uint64_t deadline, period;
	uint64_t due;                    /* the tick by which it must have fired */
	uint64_t fires;
	int far;                         /* armed in level 3: 2^24 ticks or more ahead */
};

static struct timer mt_t[NT];
static struct mt m[NT];
static size_t m_armed;
static uint64_t m_next_tick;             /* the first tick not yet run */
static int m_in_run;
static int m_quiet;                      /* callbacks arm and cancel nothing */
static size_t m_run_fires;
static uint64_t m_cb_seed = 99;
static uint64_t m_total_fires, m_cb_arms, m_cb_cancels, m_periodic_fires, m_far_fires;

static void m_arm(uint32_t i, uint64_t d, uint64_t p)
{
	timer_arm(&w, &mt_t[i], d, p);
	if (!m[i].armed)
		m_armed++;
	m[i].armed = 1;
	m[i].deadline = d;
	m[i].period = p;
	/* between runs, a tick already run is not visited again; inside a run
	 * the run is still going, so anything due by its end fires in it */
	m[i].due = tick_up(d);
	if (!m_in_run && m[i].due < m_next_tick)
		m[i].due = m_next_tick;
	m[i].far = m[i].due >= m_next_tick + (1ull << 24);
}

static void m_cancel(uint32_t i)
{
	timer_cancel(&w, &mt_t[i]);
	if (m[i].armed)
		m_armed--;
	m[i].armed = 0;
}

static void m_fire(struct timer *t, void *arg)
{
	uint32_t i = (uint32_t)(uintptr_t)arg;
	cr_assert(m_in_run, "timer %u fired outside a run", i);
	cr_assert(m[i].armed, "timer %u fired but is not armed (cancelled or fired already)", i);
	cr_assert_geq(run_now, m[i].deadline, "timer %u fired at %llu before its deadline %llu", i,
		      (unsigned long long)run_now, (unsigned long long)m[i].deadline);
	cr_assert_leq(++m_run_fires, RUN_FIRE_LIMIT, "a run that never ends");
	m[i].fires++;
	m_total_fires++;
	m_far_fires += m[i].far;
	if (m[i].period) {
		/* re-armed before the callback: next = previous + period, unless
		 * that is already due (then no earlier than the next tick) or far
		 * behind (then no backlog) */
		uint64_t prev = m[i].deadline, P = m[i].period, d = t->deadline_ns;
		cr_assert(timer_armed(t), "periodic timer %u not re-armed", i);
		cr_assert_geq(d, prev + P, "timer %u: period shortened", i);
		cr_assert_gt(tick_up(d), w.now, "timer %u due again in the tick just run", i);
		if (prev + 2 * P >= run_now && tick_up(prev + P) > w.now)
			cr_assert_eq(d, prev + P, "timer %u drifted", i);
		else
			cr_assert_leq(d, (prev + P > run_now ? prev + P : run_now) + TICK,
				      "timer %u skipped too far", i);
		m[i].deadline = d;
		m[i].due = tick_up(d);
		m_periodic_fires++;
	} else {
		cr_assert_not(timer_armed(t), "one-shot %u still armed in its callback", i);
		m[i].armed = 0;
		m_armed--;
	}
	/* some callbacks arm or cancel timers, themselves included */
	uint64_t x = m_quiet ? 100 : stub_rand(&m_cb_seed) % 100;
	if (x < 8) {
		uint32_t j = (uint32_t)stub_rand_range(&m_cb_seed, NT_FAR, NT - 1);
		/* from long past to 50 ms ahead */
		uint64_t d = run_now - 3 * TICK + stub_rand_range(&m_cb_seed, 0, 50 * MS);
		m_arm(j, d, 0);
		m_cb_arms++;
	} else if (x < 12) {
		m_arm(i, run_now + stub_rand_range(&m_cb_seed, 0, 2 * SEC), 0);
		m_cb_arms++;
	} else if (x < 18) {
		int far = x == 12 && stub_rand(&m_cb_seed) % 16 == 0;
		m_cancel((uint32_t)stub_rand_range(&m_cb_seed, far ? 0 : NT_FAR, NT - 1));
		m_cb_cancels++;
	} else if (x < 20 && m[i].period) {
		m_cancel(i);
		m_cb_cancels++;
	}
}

static void m_check(void)
{
	cr_assert_eq(w.armed, m_armed);
	for (uint32_t i = 0; i < NT; i++)
		cr_assert_eq(timer_armed(&mt_t[i]), m[i].armed, "timer %u", i);
}

static void m_run(uint64_t now)
{
	uint64_t fired0 = w.fired;
	m_in_run = 1;
	m_run_fires = 0;
	run_now = now;
	size_t n = timer_wheel_run(&w, now);
	m_in_run = 0;
	cr_assert_eq(n, m_run_fires);
	cr_assert_eq(w.fired - fired0, n);
	if (tick_of(now) + 1 > m_next_tick)
		m_next_tick = tick_of(now) + 1;
	for (uint32_t i = 0; i < NT; i++)
		if (m[i].armed)
			cr_assert_geq(m[i].due, m_next_tick,
				      "timer %u (deadline %llu, due tick %llu) still armed after a run to tick %llu",
				      i, (unsigned long long)m[i].deadline, (unsigned long long)m[i].due,
				      (unsigned long long)tick_of(now));
	m_check();
}

static void m_check_next_ns(void)
{
	uint64_t next = timer_wheel_next_ns(&w), due = UINT64_MAX;
	for (uint32_t i = 0; i < NT; i++)
		if (m[i].armed && m[i].due < due)
			due = m[i].due;
	if (due == UINT64_MAX)
		cr_assert_eq(next, UINT64_MAX);
	else
		cr_assert_leq(next, due * TICK, "next_ns at tick %llu, earliest due tick %llu",
			      (unsigned long long)(next / TICK), (unsigned long long)due);
}

Test(timer, random_sequence_against_a_model, .timeout = 120)
{
	uint64_t seed = 0x5eed, now = 7 * SEC + 12345;
	timer_wheel_init(&w, now);
	m_next_tick = tick_of(now);
	for (uint32_t i = 0; i < NT; i++)
		timer_init(&mt_t[i], m_fire, (void *)(uintptr_t)i);
	uint64_t ops = 0, arms = 0, cancels = 0, runs = 0;
	uint64_t t_start = time_ns();
	for (; ops < 300000 && now < 16 * HOUR; ops++) {
		uint64_t x = stub_rand(&seed) % 1000;
		uint32_t i = (uint32_t)stub_rand_range(&seed, NT_FAR, NT - 1);
		if (x == 330 && stub_rand(&seed) % 4 == 0)
			i = (uint32_t)stub_rand_range(&seed, 0, NT_FAR - 1);          /* cancel a far one */
		if (x < 300) {
			uint64_t d, y = stub_rand(&seed) % 100;
			if (y < 10)
				d = now - stub_rand_range(&seed, 0, now < SEC ? now : SEC);   /* past */
			else if (y < 40)
				d = now + stub_rand_range(&seed, 0, 20 * MS);                 /* level 0/1 */
			else if (y < 70)
				d = now + stub_rand_range(&seed, 0, 5 * SEC);                 /* level 1/2 */
			else if (y < 90) {
				/* level 2/3, on the timers kept for far deadlines: most of
				 * them are left alone until they fire */
				i = (uint32_t)stub_rand_range(&seed, 0, NT_FAR - 1);
				if (m[i].armed && stub_rand(&seed) % 256)
					continue;
				d = now + stub_rand_range(&seed, 0, 3 * HOUR);
			} else
				d = (tick_of(now) + stub_rand_range(&seed, 0, 600)) * TICK;   /* on a tick */
			m_arm(i, d, 0);
			arms++;
		} else if (x < 330) {
			uint64_t p = stub_rand(&seed) & 1 ? stub_rand_range(&seed, 1 * US, 300 * US)
							  : stub_rand_range(&seed, 1 * MS, 2 * SEC);
			m_arm(i, now + stub_rand_range(&seed, 0, 100 * MS), p);
			arms++;
		} else if (x < 480) {
			m_cancel(i);
			cancels++;
		} else {
			m_check_next_ns();
			uint64_t y = stub_rand(&seed) % 10000, step;
			if (y < 4000)
				step = stub_rand_range(&seed, 0, 100 * US);
			else if (y < 7000)
				step = stub_rand_range(&seed, 0, 5 * MS);
			else if (y < 9000)
				step = stub_rand_range(&seed, 0, 200 * MS);
			else if (y < 9998)
				step = stub_rand_range(&seed, 0, 2 * SEC);
			else
				step = stub_rand_range(&seed, 10 * MIN, 30 * MIN);      /* a long stall */
			uint64_t next = timer_wheel_next_ns(&w);
			if (y % 3 == 0 && next != UINT64_MAX && next > now)
				now = next;                     /* an idle core waking up */
			else
				now += step;
			m_run(now);
			runs++;
		}
		if ((ops & 255) == 0)
			m_check();
	}
	double dt = (time_ns() - t_start) / 1e9;
	uint64_t far_fires = m_far_fires;
	fprintf(stderr, "timer model: %llu ops (%llu arms, %llu cancels, %llu runs), %llu fires "
		"(%llu periodic, %llu armed 2^24+ ticks ahead), %llu arms and %llu cancels from callbacks, "
		"%.1f h simulated in %.2f s\n",
		(unsigned long long)ops, (unsigned long long)arms, (unsigned long long)cancels,
		(unsigned long long)runs, (unsigned long long)m_total_fires,
		(unsigned long long)m_periodic_fires, (unsigned long long)m_far_fires, (unsigned long long)m_cb_arms,
		(unsigned long long)m_cb_cancels, now / (double)HOUR, dt);
	/* drain: everything one-shot fires by its due tick, then nothing is left */
	m_quiet = 1;
	for (uint32_t i = 0; i < NT; i++)
		if (m[i].period)
			m_cancel(i);
	m_run(now + 4 * HOUR);
	cr_assert_eq(m_armed, 0);
	cr_assert_eq(w.armed, 0);
	cr_assert_eq(timer_wheel_next_ns(&w), UINT64_MAX);
	cr_assert_eq(w.fired, m_total_fires);
	/* the sequence really exercised what it is meant to */
	cr_assert_gt(m_total_fires, 20000);
	cr_assert_gt(m_periodic_fires, 1000);
	cr_assert_gt(m_cb_arms, 500);
	cr_assert_gt(far_fires, 200, "too few level-3 timers fired before the drain");
	cr_assert_gt(now, 5 * HOUR, "too little time simulated for the level-3 cascades");
}

/* ---------------------------------------------------------------- scale */

#define SCALE_N 300000

static uint64_t scale_fires, scale_early;
static uint64_t *scale_deadline;
static uint8_t *scale_count;             /* fires per timer; 0xff: cancelled */

static void scale_fire(struct timer *t, void *arg)
{
	size_t i = (size_t)(uintptr_t)arg;
	if (run_now < scale_deadline[i])
		scale_early++;
	if (scale_count[i] < 0xfe)
		scale_count[i]++;
	scale_fires++;
}

Test(timer, scale_300000_timers, .timeout = 120)
{
	struct timer *t = calloc(SCALE_N, sizeof *t);
	scale_count = calloc(SCALE_N, 1);
	scale_deadline = calloc(SCALE_N, sizeof *scale_deadline);
	cr_assert(t && scale_count && scale_deadline);
	uint64_t seed = 3, t0 = time_ns(), now = SEC;
	timer_wheel_init(&w, now);
	for (size_t i = 0; i < SCALE_N; i++) {
		timer_init(&t[i], scale_fire, (void *)(uintptr_t)i);
		/* most within 10 s, some up to 2 h: every level holds many */
		scale_deadline[i] = now + (i % 16 ? stub_rand_range(&seed, 0, 10 * SEC)
						  : stub_rand_range(&seed, 0, 2 * HOUR));
		timer_arm(&w, &t[i], scale_deadline[i], 0);
	}
	cr_assert_eq(w.armed, SCALE_N);
	uint64_t t_armed = time_ns();
	size_t ncancel = 0;
	for (size_t i = 0; i < SCALE_N; i += 3) {
		timer_cancel(&w, &t[i]);
		scale_count[i] = 0xff;
		ncancel++;
	}
	cr_assert_eq(w.armed, SCALE_N - ncancel);
	uint64_t t_cancelled = time_ns();
	/* 1 ms steps for 12 s, then one jump past the last deadline */
	size_t fired = 0;
	for (uint64_t end = now + 12 * SEC; now < end; now += MS) {
		run_now = now;
		fired += timer_wheel_run(&w, now);
	}
	run_now = now + 3 * HOUR;
	fired += timer_wheel_run(&w, run_now);
	uint64_t t_fired = time_ns();
	cr_assert_eq(fired, SCALE_N - ncancel);
	cr_assert_eq(scale_fires, SCALE_N - ncancel);
	cr_assert_eq(scale_early, 0);
	cr_assert_eq(w.armed, 0);
	cr_assert_eq(w.fired, SCALE_N - ncancel);
	for (size_t i = 0; i < SCALE_N; i++) {
		cr_assert_not(timer_armed(&t[i]));
		cr_assert_eq(scale_count[i], i % 3 ? 1 : 0xff, "timer %zu fired %u times", i, scale_count[i]);
	}
	double total = (t_fired - t0) / 1e9;
	fprintf(stderr, "timer scale: %d timers: arm %.1f ms, cancel %zu %.1f ms, fire %.1f ms "
		"(12000 runs + one 3 h jump), total %.3f s\n", SCALE_N,
		(t_armed - t0) / 1e6, ncancel, (t_cancelled - t_armed) / 1e6,
		(t_fired - t_cancelled) / 1e6, total);
	cr_assert_lt(total, 30.0, "the scale test took %.1f s", total);
	free(t);
	free(scale_count);
	free(scale_deadline);
}

/* An armed timer belongs to its wheel (its core): cancelling or re-arming
 * it through another wheel is our own bug and stops the core. */
static void boom(struct timer *t, void *arg) { }

Test(timer, cancel_through_another_wheel_stops_the_core, .signal = SIGABRT)
{
	static struct timer_wheel a, b;
	struct timer t;
	timer_wheel_init(&a, 0);
	timer_wheel_init(&b, 0);
	timer_init(&t, boom, NULL);
	timer_arm(&a, &t, 10 * MS, 0);
	stub_on_worker = 1;                     /* panic aborts, as on a core */
	timer_cancel(&b, &t);
	cr_assert_fail("the cancel came back");
}

Test(timer, rearm_through_another_wheel_stops_the_core, .signal = SIGABRT)
{
	static struct timer_wheel a, b;
	struct timer t;
	timer_wheel_init(&a, 0);
	timer_wheel_init(&b, 0);
	timer_init(&t, boom, NULL);
	timer_arm(&a, &t, 10 * MS, 0);
	stub_on_worker = 1;
	timer_arm(&b, &t, 20 * MS, 0);
	cr_assert_fail("the arm came back");
}

Test(timer, a_fired_or_cancelled_timer_may_move_to_another_wheel)
{
	static struct timer_wheel a, b;
	struct timer t;
	timer_wheel_init(&a, 0);
	timer_wheel_init(&b, 0);
	timer_init(&t, boom, NULL);
	timer_arm(&a, &t, 1 * MS, 0);
	cr_assert_eq(timer_wheel_run(&a, 2 * MS), 1);
	timer_arm(&b, &t, 3 * MS, 0);           /* not armed any more: any wheel */
	timer_cancel(&b, &t);
	timer_arm(&a, &t, 4 * MS, 0);
	cr_assert_eq(timer_wheel_run(&a, 5 * MS), 1);
}
