/*
 * test_quiesce.c — publish/quiesce and call_on (src/sched/chan.c) with
 * pthreads standing in for cores, each running sched_turn() (loop.c).
 *
 * The point is the ThreadSanitizer build: the objects' payload is plain
 * memory written by the writer and read by the readers, so a reader that
 * could still hold an object when the writer reuses it is a data race
 * TSan reports, as well as poison the reader may see.
 */
#include <errno.h>
#include <sched.h>
#include <criterion/criterion.h>
#include "sched/sched_priv.h"
#include "stubs.h"

#if defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer)
#define Q_SANITIZED 1
#endif
#endif
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define Q_SANITIZED 1
#endif

#ifdef Q_SANITIZED
#define MAX_PUBLISHES 3000
#define CALLS 50000
#else
#define MAX_PUBLISHES 10000
#define CALLS 500000
#endif
#define MIN_PUBLISHES 200              /* enough to reuse every pool object many times */
#define LIMIT_NS (20ull * 1000000000ull)         /* per threaded test */
#define QUIESCE_TIMEOUT_NS (2ull * 1000000000ull)

static void sched_setup(uint32_t ncores, uint32_t chan_slots)
{
	stub_cores_init(ncores);
	struct sched_config cfg;
	memset(&cfg, 0, sizeof cfg);
	cfg.chan_slots = chan_slots;
	cfg.halt_after = 64;
	for (uint32_t i = 0; i < POLLUX_MAX_CORES; i++)
		cfg.idle[i] = SCHED_IDLE_POLL;
	cr_assert_eq(sched_init(&cfg), 0);
}

/* ---------------------------------------------------------------- publish */

#define NREADERS 2
#define POOL 4
#define PAYLOAD 6
#define POISON 0xdeaddeaddeaddeadull

struct obj {
	_Atomic uint64_t stamp;             /* POISON once retired */
	uint64_t payload[PAYLOAD];          /* plain: stamp * 8 + k while live */
} __attribute__((aligned(CACHE_LINE)));

static struct obj pool[POOL];
static void *_Atomic slot;
static _Atomic int stop;

struct reader {
	uint64_t reads, stamps_seen, last_stamp;   /* owner (its core) only */
	uint64_t turns;
} __attribute__((aligned(CACHE_LINE)));
static struct reader readers[NREADERS + 1];

static unsigned reader_poll(void *arg)
{
	struct reader *rd = arg;
	struct obj *o = sched_deref(&slot);
	if (!o) {
		stub_fail("core %u: the slot was NULL", core_self()->id);
		return 0;
	}
	uint64_t s1 = atomic_load_explicit(&o->stamp, memory_order_relaxed);
	if (s1 == POISON) {
		stub_fail("core %u: read a poisoned object", core_self()->id);
		return 0;
	}
	if (s1 < rd->last_stamp)
		stub_fail("core %u: stamp went back from %llu to %llu", core_self()->id,
			  (unsigned long long)rd->last_stamp, (unsigned long long)s1);
	for (int k = 0; k < PAYLOAD; k++)
		if (o->payload[k] != s1 * 8 + k)
			stub_fail("core %u: object %llu payload[%d] is %#llx", core_self()->id,
				  (unsigned long long)s1, k, (unsigned long long)o->payload[k]);
	/* hold it a little while, as real work would */
	for (int spin = 0; spin < 64; spin++)
		__builtin_ia32_pause();
	uint64_t s2 = atomic_load_explicit(&o->stamp, memory_order_relaxed);
	if (s2 != s1)
		stub_fail("core %u: object %llu became %#llx within one turn", core_self()->id,
			  (unsigned long long)s1, (unsigned long long)s2);
	for (int k = 0; k < PAYLOAD; k++)
		if (o->payload[k] != s1 * 8 + k)
			stub_fail("core %u: object %llu rewritten within one turn", core_self()->id,
				  (unsigned long long)s1);
	if (s1 != rd->last_stamp)
		rd->stamps_seen++;
	rd->last_stamp = s1;
	rd->reads++;
	return 1;
}

static void *reader_main(void *arg)
{
	struct reader *rd = arg;
	uint64_t end = time_ns() + LIMIT_NS + 5000000000ull;   /* outlives the writer */
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		sched_turn();
		/* the host has 2 CPUs for 3 cores: a core spinning through its
		 * slice would hold the writer up for a whole scheduler tick */
		sched_yield();
		if ((++rd->turns & 1023) == 0 && time_ns() > end) {
			stub_fail("core %u: never told to stop", core_self()->id);
			break;
		}
	}
	/* leaving the loop: the writer no longer waits for this core */
	atomic_store_explicit(&core_self()->state, CORE_HALTED, memory_order_release);
	return NULL;
}

static void obj_fill(struct obj *o, uint64_t stamp)
{
	for (int k = 0; k < PAYLOAD; k++)
		o->payload[k] = stamp * 8 + k;
	atomic_store_explicit(&o->stamp, stamp, memory_order_relaxed);
}

static void obj_poison(struct obj *o)
{
	atomic_store_explicit(&o->stamp, POISON, memory_order_relaxed);
	memset(o->payload, 0xa5, sizeof o->payload);
}

Test(quiesce, readers_never_see_a_retired_object, .timeout = 120)
{
	sched_setup(NREADERS + 1, 256);
	for (int i = 0; i < POOL; i++)
		obj_poison(&pool[i]);
	obj_fill(&pool[1], 1);                      /* stamp s lives in pool[s % POOL] */
	atomic_store(&slot, &pool[1]);
	for (uint32_t c = 1; c <= NREADERS; c++) {
		cr_assert_eq(sched_poller_add(c, "reader", reader_poll, NULL, &readers[c]), 0);
		atomic_store(&core_get(c)->state, CORE_IN_LOOP);
	}
	pthread_t th[NREADERS + 1];
	for (uint32_t c = 1; c <= NREADERS; c++)
		stub_thread_start(&th[c], c, reader_main, &readers[c]);

	/* core 0 writes: publish the next object, wait, retire the old one */
	uint64_t t0 = time_ns(), pubs = 0, timeouts = 0, slowest = 0;
	for (uint64_t stamp = 2; stamp < 2 + MAX_PUBLISHES && time_ns() - t0 < LIMIT_NS; stamp++) {
		struct obj *n = &pool[stamp % POOL];
		cr_assert_eq(atomic_load_explicit(&n->stamp, memory_order_relaxed), POISON,
			     "reusing an object that was not retired");
		obj_fill(n, stamp);
		struct obj *old = sched_publish(&slot, n);
		cr_assert_eq(old, &pool[(stamp - 1) % POOL]);
		uint64_t q0 = time_ns();
		if (sched_quiesce_wait(QUIESCE_TIMEOUT_NS)) {
			timeouts++;
			break;                       /* old may still be held: leave it */
		}
		if (time_ns() - q0 > slowest)
			slowest = time_ns() - q0;
		obj_poison(old);
		pubs++;
	}
	atomic_store(&stop, 1);
	for (uint32_t c = 1; c <= NREADERS; c++)
		pthread_join(th[c], NULL);
	uint64_t dt = time_ns() - t0;

	stub_assert_no_failures();
	cr_assert_eq(timeouts, 0, "sched_quiesce_wait timed out");
	cr_assert_geq(pubs, MIN_PUBLISHES, "only %llu publishes in %.1f s", (unsigned long long)pubs, dt / 1e9);
	for (uint32_t c = 1; c <= NREADERS; c++) {
		cr_assert_geq(readers[c].reads, pubs, "core %u read %llu times", c,
			      (unsigned long long)readers[c].reads);
		cr_assert_gt(readers[c].stamps_seen, 10, "core %u saw %llu objects", c,
			     (unsigned long long)readers[c].stamps_seen);
		struct sched_stats st;
		sched_stats(c, &st);
		cr_assert_geq(st.turns, readers[c].reads);
		cr_assert_eq(st.npollers, 1);
		cr_assert_eq(st.pollers[0].work, readers[c].reads);
	}
	fprintf(stderr, "quiesce: %llu publishes in %.2f s (slowest wait %.2f ms), reads %llu + %llu\n",
		(unsigned long long)pubs, dt / 1e9, slowest / 1e6,
		(unsigned long long)readers[1].reads, (unsigned long long)readers[2].reads);
}

/* ---- cores not in their loop are not waited for */

static _Atomic int halt_after_ms;

static void *halt_later(void *arg)
{
	struct timespec ts = { 0, (long)atomic_load(&halt_after_ms) * 1000000L };
	nanosleep(&ts, NULL);
	atomic_store_explicit(&core_get(1)->state, CORE_HALTED, memory_order_release);
	return NULL;
}

Test(quiesce, cores_outside_their_loop_are_not_waited_for)
{
	sched_setup(4, 64);
	atomic_store(&core_get(1)->state, CORE_OFF);
	atomic_store(&core_get(2)->state, CORE_STARTED);
	atomic_store(&core_get(3)->state, CORE_CLAIMED);
	uint64_t t0 = time_ns();
	for (int i = 0; i < 100; i++)
		cr_assert_eq(sched_quiesce_wait(5000000000ull), 0);
	cr_assert_lt(time_ns() - t0, 100000000ull, "100 waits with no core in its loop took %llu ns",
		     (unsigned long long)(time_ns() - t0));

	/* a core in its loop that never turns: a timeout, after the timeout */
	atomic_store(&core_get(1)->state, CORE_IN_LOOP);
	t0 = time_ns();
	cr_assert_eq(sched_quiesce_wait(20000000ull), -ETIMEDOUT);
	uint64_t dt = time_ns() - t0;
	cr_assert_geq(dt, 20000000ull);
	cr_assert_lt(dt, 2000000000ull);

	/* ... which is kicked while it sleeps */
	atomic_store(&sched_cores[1].sleeping, 1);
	cr_assert_eq(sched_quiesce_wait(1000000ull), -ETIMEDOUT);
	cr_assert_gt(atomic_load(&stub_kicks[1]), 0, "a sleeping core was not kicked");
	cr_assert_eq(atomic_load(&stub_kicks[2]), 0);
	atomic_store(&sched_cores[1].sleeping, 0);

	/* a core that leaves its loop while we wait ends the wait */
	atomic_store(&halt_after_ms, 20);
	pthread_t th;
	stub_thread_start(&th, 2, halt_later, NULL);
	t0 = time_ns();
	cr_assert_eq(sched_quiesce_wait(5000000000ull), 0);
	dt = time_ns() - t0;
	pthread_join(th, NULL);
	cr_assert_lt(dt, 2000000000ull, "the wait took %llu ns", (unsigned long long)dt);
	cr_assert_geq(dt, 10000000ull);
}

Test(quiesce, each_turn_records_the_epoch)
{
	sched_setup(3, 64);
	atomic_store(&core_get(1)->state, CORE_IN_LOOP);
	uint64_t e = atomic_load(&sched_epoch);
	stub_set_self(1);
	sched_turn();
	cr_assert_eq(atomic_load(&sched_cores[1].quiescent), e);
	/* a turn taken before the wait began does not end it */
	stub_set_self(0);
	cr_assert_eq(sched_quiesce_wait(2000000ull), -ETIMEDOUT);
	cr_assert_eq(atomic_load(&sched_epoch), e + 1);
	cr_assert_eq(atomic_load(&sched_cores[1].quiescent), e);
	stub_set_self(1);
	sched_turn();
	cr_assert_eq(atomic_load(&sched_cores[1].quiescent), e + 1);
	cr_assert_eq(atomic_load(&sched_cores[2].quiescent), 0, "core 2 never turned");
}

/* ---------------------------------------------------------------- call_on */

static uint64_t call_expect = 1, call_bad, call_count;   /* core 2 only */
static uint64_t other_count;                               /* core 2 only */

static void record_other(void *arg)
{
	other_count++;
}

static void record(void *arg)
{
	uint64_t v = (uint64_t)(uintptr_t)arg;
	if (core_self()->id != 2)
		stub_fail("ran on core %u", core_self()->id);
	if (v != call_expect && call_bad++ == 0)
		stub_fail("call %llu arrived when %llu was next", (unsigned long long)v,
			  (unsigned long long)call_expect);
	call_expect = v + 1;
	call_count++;
}

Test(call_on, full_channel_returns_enobufs_and_counts)
{
	sched_setup(3, 4);                          /* the smallest channel: 2 calls */
	stub_set_self(1);
	cr_assert_eq(call_on(3, record, NULL), -EINVAL);
	cr_assert_eq(call_on(2, NULL, NULL), -EINVAL);
	cr_assert_eq(call_on(2, record, (void *)1), 0);
	cr_assert_eq(call_on(2, record, (void *)2), 0);
	cr_assert_eq(call_on(2, record, (void *)3), -ENOBUFS);
	cr_assert_eq(call_on(2, record, (void *)3), -ENOBUFS);
	struct sched_stats st;
	sched_stats(1, &st);
	cr_assert_eq(st.chan_full, 2);
	cr_assert_eq(st.msgs_out, 2);
	sched_stats(2, &st);
	cr_assert_eq(st.chan_depth_in, 2);
	cr_assert_eq(st.msgs_in, 0);
	/* other channels are independent: 0 -> 2 still has room */
	stub_set_self(0);
	cr_assert_eq(call_on(2, record_other, NULL), 0);
	stub_set_self(2);
	cr_assert_eq(sched_turn(), 3);
	cr_assert_eq(call_count, 2);
	cr_assert_eq(other_count, 1);
	cr_assert_eq(call_expect, 3);
	sched_stats(2, &st);
	cr_assert_eq(st.msgs_in, 3);
	cr_assert_eq(st.chan_depth_in, 0);
	cr_assert_eq(st.busy_turns, 1);
	cr_assert_eq(sched_turn(), 0);
	/* room again, and the order is kept */
	call_expect = 1;
	call_bad = 0;
	stub_set_self(1);
	cr_assert_eq(call_on(2, record, (void *)1), 0);
	cr_assert_eq(call_on(2, record, (void *)2), 0);
	stub_set_self(2);
	cr_assert_eq(sched_turn(), 2);
	cr_assert_eq(call_bad, 0);
	cr_assert_eq(call_expect, 3);
	sched_stats(1, &st);
	cr_assert_eq(st.msgs_out, 4);
	cr_assert_eq(st.chan_full, 2);
	stub_assert_no_failures();
}

struct sender {
	uint64_t fulls;
	int done;
};

static void *sender_main(void *arg)
{
	struct sender *s = arg;
	uint64_t end = time_ns() + LIMIT_NS;
	for (uint64_t v = 1; v <= CALLS; v++) {
		for (uint32_t tries = 0;; tries++) {
			int rc = call_on(2, record, (void *)(uintptr_t)v);
			if (rc == 0)
				break;
			if (rc != -ENOBUFS) {
				stub_fail("call_on returned %d", rc);
				return NULL;
			}
			s->fulls++;
			if ((tries & 1023) == 1023 && time_ns() > end) {
				stub_fail("call %llu: the channel stayed full", (unsigned long long)v);
				return NULL;
			}
			if ((tries & 63) == 63)
				sched_yield();
			else
				__builtin_ia32_pause();
		}
	}
	s->done = 1;
	return NULL;
}

static void *receiver_main(void *arg)
{
	uint64_t end = time_ns() + LIMIT_NS + 1000000000ull, turns = 0;
	while (call_count < CALLS) {
		if (!sched_turn() && (++turns & 63) == 0) {
			if (time_ns() > end) {
				stub_fail("received %llu of %d calls", (unsigned long long)call_count, CALLS);
				break;
			}
			sched_yield();
		}
	}
	return NULL;
}

Test(call_on, fifo_between_two_cores, .timeout = 120)
{
	sched_setup(3, 64);
	atomic_store(&core_get(1)->state, CORE_IN_LOOP);
	atomic_store(&core_get(2)->state, CORE_IN_LOOP);
	struct sender s = { 0 };
	pthread_t tx, rx;
	uint64_t t0 = time_ns();
	stub_thread_start(&rx, 2, receiver_main, NULL);
	stub_thread_start(&tx, 1, sender_main, &s);
	pthread_join(tx, NULL);
	pthread_join(rx, NULL);
	uint64_t dt = time_ns() - t0;
	stub_assert_no_failures();
	cr_assert(s.done);
	cr_assert_eq(call_bad, 0);
	cr_assert_eq(call_count, CALLS, "%llu calls ran", (unsigned long long)call_count);
	cr_assert_eq(call_expect, CALLS + 1);
	struct sched_stats st;
	sched_stats(1, &st);
	cr_assert_eq(st.msgs_out, CALLS);
	cr_assert_eq(st.chan_full, s.fulls, "chan_full %llu, -ENOBUFS seen %llu",
		     (unsigned long long)st.chan_full, (unsigned long long)s.fulls);
	sched_stats(2, &st);
	cr_assert_eq(st.msgs_in, CALLS);
	cr_assert_eq(st.chan_depth_in, 0);
	/* nothing strayed onto another channel */
	sched_stats(0, &st);
	cr_assert_eq(st.msgs_in + st.msgs_out, 0);
	fprintf(stderr, "call_on: %d calls 1 -> 2 in %.2f s, %llu refused (channel full)\n",
		CALLS, dt / 1e9, (unsigned long long)s.fulls);
}
