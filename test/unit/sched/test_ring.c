/*
 * test_ring.c — the SPSC/MPSC pointer rings (src/sched/ring.h).
 *
 * Single-thread edge cases first (sizes, empty, full, exactly `size`,
 * wrap-around of the free-running 32-bit indices), then stress: producer
 * threads and one consumer with random burst sizes, every message stamped
 * (producer id << 48 | sequence) so the consumer sees any loss,
 * duplication or reordering within a producer.
 *
 * Stress size: 10^8 messages per test in the plain build, 10^7 under
 * ASan and under TSan (which finds a relaxed M1 wait within 10^7, not
 * always within 10^6); RING_STRESS_N overrides. Every loop is bounded
 * by a count and by STRESS_LIMIT_NS, a safety net, not a speed check: a
 * run the time limit cuts short (a loaded 2-CPU host: 3 spinning
 * producers and the consumer on 2 CPUs shared with a parallel build)
 * still passes if every message sent arrived once and in order and at
 * least 1/STRESS_MIN_DIV of the count was sent.
 */
#include <errno.h>
#include <sched.h>
#include <stdatomic.h>
#include <criterion/criterion.h>
#include "sched/ring.h"
#include "stubs.h"

#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define RING_TSAN 1
#endif
#if __has_feature(address_sanitizer)
#define RING_ASAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define RING_TSAN 1
#endif
#if defined(__SANITIZE_ADDRESS__)
#define RING_ASAN 1
#endif

#if defined(RING_TSAN)
#define STRESS_N_DEFAULT 10000000ull
#elif defined(RING_ASAN)
#define STRESS_N_DEFAULT 10000000ull
#else
#define STRESS_N_DEFAULT 100000000ull
#endif

#define STRESS_LIMIT_NS (50ull * 1000000000ull)   /* per stress test */
#define STRESS_MIN_DIV 20                         /* a run cut short sends >= n / this */
#define STRESS_RING 512
#define MAX_BURST 64
#define MAX_PRODUCERS 3
#define SEQ_MASK ((1ull << 48) - 1)

static struct ring *ring_new(uint32_t size)
{
	struct ring *r = aligned_alloc(RING_ALIGN, ring_memsize(size));
	cr_assert_not_null(r);
	cr_assert_eq(ring_init(r, size), 0, "size %u", size);
	return r;
}

static void *msg(uint64_t v) { return (void *)(uintptr_t)v; }
static uint64_t val(void *p) { return (uint64_t)(uintptr_t)p; }

/* Puts a fresh, empty ring's indices at `at` (both sides, both caches). */
static void ring_set_index(struct ring *r, uint32_t at)
{
	atomic_store(&r->prod_head, at);
	atomic_store(&r->prod_tail, at);
	r->prod_cache_cons = at;
	atomic_store(&r->prod_cache_cons_mp, at);
	atomic_store(&r->cons_tail, at);
	r->cons_cache_prod = at;
}

/* ---------------------------------------------------------------- edges */

Test(ring, init_rejects_bad_sizes)
{
	static const uint32_t bad[] = { 0, 1, 3, 5, 6, 7, 12, 100, 1000, (1u << 31) + 1,
					(1u << 31) - 1, UINT32_MAX, 3u << 30 };
	static const uint32_t good[] = { 2, 4, 8, 64, 1024, 1u << 20, 1u << 31 };
	struct ring hdr;        /* ring_init only writes the header */
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		cr_assert_eq(ring_init(&hdr, bad[i]), -1, "size %u accepted", bad[i]);
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		cr_assert_eq(ring_init(&hdr, good[i]), 0, "size %u rejected", good[i]);
		cr_assert_eq(hdr.size, good[i]);
		cr_assert_eq(hdr.mask, good[i] - 1);
		cr_assert_eq(ring_count(&hdr), 0);
	}
}

Test(ring, memsize_is_a_valid_aligned_alloc_size)
{
	static const uint32_t sizes[] = { 2, 4, 8, 16, 256, 4096 };
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		size_t n = ring_memsize(sizes[i]);
		cr_assert_geq(n, offsetof(struct ring, slots) + sizes[i] * sizeof(void *));
		cr_assert_eq(n % RING_ALIGN, 0, "ring_memsize(%u) = %zu", sizes[i], n);
		cr_assert_lt(n, offsetof(struct ring, slots) + sizes[i] * sizeof(void *) + RING_ALIGN);
		struct ring *r = ring_new(sizes[i]);
		cr_assert_eq((uintptr_t)r % RING_ALIGN, 0);
		/* every slot is writable (ASan checks the bounds) */
		for (uint32_t k = 0; k < sizes[i]; k++)
			r->slots[k] = msg(k);
		free(r);
	}
}

Test(ring, empty_dequeue_returns_zero)
{
	struct ring *r = ring_new(16);
	void *out[4] = { msg(0xdead), msg(0xdead), msg(0xdead), msg(0xdead) };
	cr_assert_eq(ring_sc_dequeue_burst(r, out, 4), 0);
	cr_assert_eq(ring_sc_dequeue_bulk(r, out, 4), 0);
	cr_assert_eq(ring_sc_dequeue_bulk(r, out, 1), 0);
	cr_assert_eq(out[0], msg(0xdead), "an empty dequeue wrote the output");
	cr_assert(ring_sc_empty(r));
	cr_assert_eq(ring_count(r), 0);
	/* after traffic, empty again */
	void *in[3] = { msg(1), msg(2), msg(3) };
	cr_assert_eq(ring_sp_enqueue_bulk(r, in, 3), 3);
	cr_assert_not(ring_sc_empty(r));
	cr_assert_eq(ring_sc_dequeue_burst(r, out, 4), 3);
	cr_assert_eq(ring_sc_dequeue_burst(r, out, 4), 0);
	cr_assert(ring_sc_empty(r));
	free(r);
}

/* Fill/overfill checks shared by the sp and mp producers. */
typedef uint32_t (*enq_fn)(struct ring *, void *const *, uint32_t);

static void check_full_behaviour(enq_fn bulk, enq_fn burst, const char *what)
{
	enum { SIZE = 8 };
	struct ring *r = ring_new(SIZE);
	void *in[2 * SIZE], *out[2 * SIZE];
	for (int i = 0; i < 2 * SIZE; i++)
		in[i] = msg(100 + i);

	/* more than size never fits in bulk; burst takes what fits */
	cr_assert_eq(bulk(r, in, SIZE + 1), 0, "%s", what);
	cr_assert_eq(ring_count(r), 0);
	cr_assert_eq(burst(r, in, 2 * SIZE), SIZE, "%s", what);
	cr_assert_eq(ring_count(r), SIZE);
	cr_assert_not(ring_sc_empty(r));
	cr_assert_eq(bulk(r, in, 1), 0, "%s: full ring took a bulk", what);
	cr_assert_eq(burst(r, in, 1), 0, "%s: full ring took a burst", what);
	cr_assert_eq(ring_sc_dequeue_bulk(r, out, SIZE + 1), 0, "bulk beyond count");
	cr_assert_eq(ring_sc_dequeue_bulk(r, out, SIZE), SIZE);
	for (int i = 0; i < SIZE; i++)
		cr_assert_eq(out[i], in[i], "%s: slot %d", what, i);
	cr_assert(ring_sc_empty(r));

	/* exactly size fit in one bulk */
	cr_assert_eq(bulk(r, in, SIZE), SIZE, "%s", what);
	cr_assert_eq(ring_count(r), SIZE);
	cr_assert_eq(ring_sc_dequeue_burst(r, out, 3), 3);
	cr_assert_eq(ring_count(r), SIZE - 3);
	/* 3 free: bulk of 4 refused, burst of 5 takes 3 */
	cr_assert_eq(bulk(r, in + SIZE, 4), 0, "%s", what);
	cr_assert_eq(burst(r, in + SIZE, 5), 3, "%s", what);
	cr_assert_eq(ring_count(r), SIZE);
	cr_assert_eq(burst(r, in, 1), 0);
	/* a dequeue burst beyond the count returns what is there, in order */
	cr_assert_eq(ring_sc_dequeue_burst(r, out, 2 * SIZE), SIZE);
	for (int i = 0; i < SIZE; i++)
		cr_assert_eq(out[i], in[3 + i], "%s: wrapped slot %d", what, i);
	cr_assert_eq(ring_count(r), 0);
	cr_assert(ring_sc_empty(r));
	/* n = 0 is a no-op */
	cr_assert_eq(bulk(r, in, 0), 0);
	cr_assert_eq(ring_sc_dequeue_burst(r, out, 0), 0);
	cr_assert_eq(ring_count(r), 0);
	free(r);
}

Test(ring, sp_full_bulk_and_burst)
{
	check_full_behaviour(ring_sp_enqueue_bulk, ring_sp_enqueue_burst, "sp");
}

Test(ring, mp_full_bulk_and_burst)
{
	check_full_behaviour(ring_mp_enqueue_bulk, ring_mp_enqueue_burst, "mp");
}

Test(ring, smallest_ring)
{
	struct ring *r = ring_new(2);
	void *in[3] = { msg(1), msg(2), msg(3) }, *out[3];
	for (uint32_t round = 0; round < 100; round++) {
		cr_assert_eq(ring_sp_enqueue_burst(r, in, 3), 2);
		cr_assert_eq(ring_sp_enqueue_bulk(r, in, 1), 0);
		cr_assert_eq(ring_sc_dequeue_bulk(r, out, 1), 1);
		cr_assert_eq(out[0], msg(1));
		cr_assert_eq(ring_sp_enqueue_bulk(r, in + 2, 1), 1);
		cr_assert_eq(ring_sc_dequeue_burst(r, out, 3), 2);
		cr_assert_eq(out[0], msg(2));
		cr_assert_eq(out[1], msg(3));
	}
	free(r);
}

/* Many enqueue/dequeue cycles of varying sizes across the 2^32 wrap of
 * the indices, checking values, ring_count and emptiness throughout. */
static void wrap_cycles(int mp)
{
	enum { SIZE = 16 };
	struct ring *r = ring_new(SIZE);
	uint32_t start = UINT32_MAX - 100;
	ring_set_index(r, start);
	cr_assert_eq(ring_count(r), 0);
	cr_assert(ring_sc_empty(r));
	uint64_t seed = 0x9e3779b97f4a7c15ull, next_in = 0, next_out = 0;
	void *buf[SIZE + 4];
	for (int cycle = 0; cycle < 20000; cycle++) {
		uint32_t n = (uint32_t)stub_rand_range(&seed, 1, SIZE + 3);
		int bulk = stub_rand(&seed) & 1;
		uint32_t count = (uint32_t)(next_in - next_out);
		for (uint32_t k = 0; k < n; k++)
			buf[k] = msg(next_in + k + 1);
		uint32_t fits = SIZE - count < n ? SIZE - count : n;
		uint32_t want = bulk ? (n <= SIZE - count ? n : 0) : fits;
		uint32_t got = mp ? (bulk ? ring_mp_enqueue_bulk(r, buf, n) : ring_mp_enqueue_burst(r, buf, n))
				  : (bulk ? ring_sp_enqueue_bulk(r, buf, n) : ring_sp_enqueue_burst(r, buf, n));
		cr_assert_eq(got, want, "cycle %d: enqueue %u (bulk %d) with %u in: got %u",
			     cycle, n, bulk, count, got);
		next_in += got;
		cr_assert_eq(ring_count(r), (uint32_t)(next_in - next_out));

		n = (uint32_t)stub_rand_range(&seed, 1, SIZE + 3);
		bulk = stub_rand(&seed) & 1;
		count = (uint32_t)(next_in - next_out);
		want = bulk ? (n <= count ? n : 0) : (n < count ? n : count);
		got = bulk ? ring_sc_dequeue_bulk(r, buf, n) : ring_sc_dequeue_burst(r, buf, n);
		cr_assert_eq(got, want, "cycle %d: dequeue %u (bulk %d) with %u in: got %u",
			     cycle, n, bulk, count, got);
		for (uint32_t k = 0; k < got; k++)
			cr_assert_eq(val(buf[k]), next_out + k + 1, "cycle %d item %u", cycle, k);
		next_out += got;
		cr_assert_eq(ring_count(r), (uint32_t)(next_in - next_out));
		cr_assert_eq(ring_sc_empty(r), next_in == next_out);
	}
	/* the indices really went across the wrap */
	cr_assert_gt(next_in, 1000);
	uint32_t tail = atomic_load(&r->cons_tail);
	cr_assert_lt(tail, start, "cons_tail %u did not wrap", tail);
	cr_assert_eq(tail, (uint32_t)(start + next_out));
	cr_assert_eq(atomic_load(&r->prod_tail), (uint32_t)(start + next_in));
	if (mp)
		cr_assert_eq(atomic_load(&r->prod_head), (uint32_t)(start + next_in));
	free(r);
}

Test(ring, sp_wraps_the_32bit_indices) { wrap_cycles(0); }
Test(ring, mp_wraps_the_32bit_indices) { wrap_cycles(1); }

Test(ring, full_and_empty_exactly_at_the_wrap)
{
	enum { SIZE = 8 };
	for (uint32_t off = 0; off <= 2 * SIZE; off++) {
		struct ring *r = ring_new(SIZE);
		uint32_t start = (uint32_t)(0u - off);          /* the wrap is `off` items in */
		ring_set_index(r, start);
		void *in[SIZE], *out[SIZE];
		for (int i = 0; i < SIZE; i++)
			in[i] = msg(7 + i);
		cr_assert_eq(ring_mp_enqueue_bulk(r, in, SIZE), SIZE, "off %u", off);
		cr_assert_eq(ring_count(r), SIZE);
		cr_assert_eq(ring_mp_enqueue_burst(r, in, 1), 0, "off %u: over-full", off);
		cr_assert_eq(ring_sc_dequeue_bulk(r, out, SIZE), SIZE);
		cr_assert_eq(memcmp(in, out, sizeof in), 0, "off %u", off);
		cr_assert(ring_sc_empty(r));
		cr_assert_eq(ring_sc_dequeue_burst(r, out, 1), 0);
		free(r);
	}
}

/* The mp producers share one cached copy of cons_tail. A producer that
 * loads cons_tail and is preempted before storing it into the cache
 * stores a value that may by then lag prod_head by more than the ring's
 * size. A producer reading that stale copy must still never reserve
 * slots the consumer has not freed. The state is built by hand here: a
 * full ring whose cache holds an old (but once true) cons_tail. */
Test(ring, mp_stale_shared_cache_never_overfills)
{
	enum { SIZE = 8 };
	static const uint32_t starts[] = { 0, UINT32_MAX - 3 };
	for (size_t k = 0; k < sizeof starts / sizeof starts[0]; k++) {
		uint32_t s0 = starts[k];
		struct ring *r = ring_new(SIZE);
		ring_set_index(r, s0);
		void *in[SIZE], *out[SIZE];
		for (int i = 0; i < SIZE; i++)
			in[i] = msg(0x100 + i);
		cr_assert_eq(ring_mp_enqueue_bulk(r, in, SIZE), SIZE);
		cr_assert_eq(ring_sc_dequeue_bulk(r, out, SIZE), SIZE);
		for (int i = 0; i < SIZE; i++)
			in[i] = msg(0x200 + i);
		cr_assert_eq(ring_mp_enqueue_bulk(r, in, SIZE), SIZE);
		cr_assert_eq(ring_count(r), SIZE);
		/* a late producer writes back the cons_tail it read at the start */
		atomic_store(&r->prod_cache_cons_mp, s0);
		cr_assert_eq(ring_mp_enqueue_burst(r, in, 1), 0, "start %u: a full ring took a burst", s0);
		cr_assert_eq(ring_mp_enqueue_bulk(r, in, 1), 0, "start %u: a full ring took a bulk", s0);
		cr_assert_eq(ring_count(r), SIZE, "start %u: %u in a ring of %u", s0, ring_count(r), SIZE);
		cr_assert_eq(ring_sc_dequeue_burst(r, out, SIZE), SIZE);
		for (int i = 0; i < SIZE; i++)
			cr_assert_eq(out[i], msg(0x200 + i), "start %u: slot %d overwritten", s0, i);
		/* once there is room again, the stale copy does not get in the way */
		atomic_store(&r->prod_cache_cons_mp, s0);
		cr_assert_eq(ring_mp_enqueue_bulk(r, in, SIZE), SIZE);
		cr_assert_eq(ring_count(r), SIZE);
		free(r);
	}
}

/* ---------------------------------------------------------------- stress */

struct stress {
	struct ring *r;
	int mp;
	uint32_t producers;
	uint64_t per_producer[MAX_PRODUCERS];
	uint64_t deadline_ns;
	_Atomic int stop;                    /* a failure or the time limit */
	/* consumer only; read by the test after join */
	uint64_t expect[MAX_PRODUCERS];
	uint64_t received;
};

struct producer {
	struct stress *st;
	uint32_t id;
	uint64_t sent;
};

static uint64_t stress_n(void)
{
	const char *e = getenv("RING_STRESS_N");
	if (e && *e) {
		char *end;
		unsigned long long v = strtoull(e, &end, 0);
		if (*end == 0 && v > 0 && v <= SEQ_MASK)
			return v;
	}
	return STRESS_N_DEFAULT;
}

static void *producer_main(void *p)
{
	struct producer *pr = p;
	struct stress *st = pr->st;
	uint64_t seed = 0x243f6a8885a308d3ull * (pr->id + 1), seq = 0, total = st->per_producer[pr->id];
	uint64_t tag = (uint64_t)(pr->id + 1) << 48;    /* never a NULL message */
	void *buf[MAX_BURST];
	uint32_t refused = 0;
	while (seq < total) {
		if ((seq & 0xfff) == 0 &&
		    (atomic_load_explicit(&st->stop, memory_order_relaxed) || time_ns() > st->deadline_ns))
			break;
		uint64_t left = total - seq;
		uint32_t n = (uint32_t)stub_rand_range(&seed, 1, MAX_BURST);
		if (n > left)
			n = (uint32_t)left;
		int bulk = (stub_rand(&seed) & 3) == 0;
		for (uint32_t k = 0; k < n; k++)
			buf[k] = msg(tag | (seq + k));
		uint32_t got = st->mp ? (bulk ? ring_mp_enqueue_bulk(st->r, buf, n) : ring_mp_enqueue_burst(st->r, buf, n))
				      : (bulk ? ring_sp_enqueue_bulk(st->r, buf, n) : ring_sp_enqueue_burst(st->r, buf, n));
		if (got > n || (bulk && got != 0 && got != n)) {
			stub_fail("producer %u: enqueue of %u (bulk %d) returned %u", pr->id, n, bulk, got);
			atomic_store(&st->stop, 1);
			break;
		}
		seq += got;
		if (got == 0) {
			if (time_ns() > st->deadline_ns)
				break;
			if ((++refused & 63) == 0)
				sched_yield();          /* 2 host CPUs: let the consumer run */
			else
				__builtin_ia32_pause();
		}
	}
	pr->sent = seq;
	return NULL;
}

static void *consumer_main(void *p)
{
	struct stress *st = p;
	uint64_t seed = 0x13198a2e03707344ull, total = 0;
	for (uint32_t i = 0; i < st->producers; i++)
		total += st->per_producer[i];
	void *buf[MAX_BURST];
	uint32_t empty = 0;
	while (st->received < total) {
		uint32_t n = (uint32_t)stub_rand_range(&seed, 1, MAX_BURST);
		int bulk = (stub_rand(&seed) & 3) == 0;
		uint32_t got = bulk ? ring_sc_dequeue_bulk(st->r, buf, n) : ring_sc_dequeue_burst(st->r, buf, n);
		if (got == 0) {
			if ((++empty & 0xfff) == 0 &&
			    (atomic_load_explicit(&st->stop, memory_order_relaxed) || time_ns() > st->deadline_ns))
				break;
			if ((empty & 63) == 0)
				sched_yield();
			else
				__builtin_ia32_pause();
			continue;
		}
		if (got > n || (bulk && got != n)) {
			stub_fail("consumer: dequeue of %u (bulk %d) returned %u", n, bulk, got);
			break;
		}
		for (uint32_t k = 0; k < got; k++) {
			uint64_t v = val(buf[k]), id = (v >> 48) - 1, seq = v & SEQ_MASK;
			if (id >= st->producers) {
				stub_fail("message %#llx from unknown producer", (unsigned long long)v);
				goto out;
			}
			if (seq != st->expect[id]) {
				stub_fail("producer %llu: got sequence %llu, expected %llu (after %llu messages)",
					  (unsigned long long)id, (unsigned long long)seq,
					  (unsigned long long)st->expect[id], (unsigned long long)st->received);
				goto out;
			}
			st->expect[id]++;
		}
		st->received += got;
	}
out:
	atomic_store(&st->stop, 1);
	return NULL;
}

static void stress_run(int mp, uint32_t producers)
{
	stub_cores_init(1);
	uint64_t n = stress_n(), t0 = time_ns();
	struct stress *st = calloc(1, sizeof *st);
	cr_assert_not_null(st);
	st->r = ring_new(STRESS_RING);
	st->mp = mp;
	st->producers = producers;
	st->deadline_ns = t0 + STRESS_LIMIT_NS;
	for (uint32_t i = 0; i < producers; i++)
		st->per_producer[i] = n / producers + (i < n % producers);
	/* start near the wrap so the indices cross it early */
	ring_set_index(st->r, UINT32_MAX - 1000);

	struct producer pr[MAX_PRODUCERS];
	pthread_t pth[MAX_PRODUCERS], cth;
	stub_thread_start(&cth, 0, consumer_main, st);
	for (uint32_t i = 0; i < producers; i++) {
		pr[i] = (struct producer){ .st = st, .id = i };
		stub_thread_start(&pth[i], 0, producer_main, &pr[i]);
	}
	for (uint32_t i = 0; i < producers; i++)
		pthread_join(pth[i], NULL);
	pthread_join(cth, NULL);
	uint64_t dt = time_ns() - t0;
	stub_assert_no_failures();

	/* cut short by the time limit: the consumer may have stopped before
	 * the producers' last bursts; take the rest, with the same checks */
	uint64_t sent = 0;
	for (uint32_t i = 0; i < producers; i++)
		sent += pr[i].sent;
	for (uint32_t spins = 0; st->received < sent && spins < 1000000; spins++) {
		void *buf[MAX_BURST];
		uint32_t got = ring_sc_dequeue_burst(st->r, buf, MAX_BURST);
		for (uint32_t k = 0; k < got; k++) {
			uint64_t v = val(buf[k]), id = (v >> 48) - 1, seq = v & SEQ_MASK;
			cr_assert_lt(id, producers, "message %#llx from unknown producer", (unsigned long long)v);
			cr_assert_eq(seq, st->expect[id], "producer %llu: got sequence %llu, expected %llu",
				     (unsigned long long)id, (unsigned long long)seq,
				     (unsigned long long)st->expect[id]);
			st->expect[id]++;
		}
		st->received += got;
	}
	for (uint32_t i = 0; i < producers; i++)
		cr_assert_eq(st->expect[i], pr[i].sent, "producer %u: %llu of %llu sent delivered", i,
			     (unsigned long long)st->expect[i], (unsigned long long)pr[i].sent);
	cr_assert_eq(st->received, sent);
	if (sent < n) {
		cr_assert_geq(dt, STRESS_LIMIT_NS, "stopped at %llu of %llu messages before the time limit",
			      (unsigned long long)sent, (unsigned long long)n);
		cr_assert_geq(sent, n / STRESS_MIN_DIV, "only %llu of %llu messages in %.0f s",
			      (unsigned long long)sent, (unsigned long long)n, dt / 1e9);
		fprintf(stderr, "ring stress %s, %u producer(s): cut by the time limit at %llu of %llu "
			"messages, all delivered in order\n", mp ? "mp" : "sp", producers,
			(unsigned long long)sent, (unsigned long long)n);
		n = sent;
	}
	/* nothing extra is left behind */
	void *extra[1];
	cr_assert_eq(ring_count(st->r), 0);
	cr_assert_eq(ring_sc_dequeue_burst(st->r, extra, 1), 0);
	cr_assert_eq(atomic_load(&st->r->cons_tail), (uint32_t)(UINT32_MAX - 1000 + n));
	fprintf(stderr, "ring stress %s, %u producer(s): %llu messages in %.2f s (%.1f ns/msg)\n",
		mp ? "mp" : "sp", producers, (unsigned long long)n, dt / 1e9, (double)dt / (double)n);
	free(st->r);
	free(st);
}

Test(ring_stress, spsc_1_producer, .timeout = 120) { stress_run(0, 1); }
Test(ring_stress, mpsc_2_producers, .timeout = 120) { stress_run(1, 2); }
Test(ring_stress, mpsc_3_producers, .timeout = 120) { stress_run(1, 3); }
