/*
 * selftest.c — runtime self-tests that run on every platform (the VM and
 * the hosted process), chosen with test=NAME:
 *
 *   mesh     every core streams numbered, checksummed messages to every
 *            other core through call_on; each receiver checks order and sum
 *   callon   a storm of call_on chains hopping between all cores
 *   timers   one-shot and periodic timers on every core: each fires once
 *            per due time, never early
 *   quiesce  core 0 publishes objects while every core reads them; an
 *            object is poisoned only after sched_quiesce_wait(), and no
 *            reader ever sees poison
 *   sched    all of the above, then the per-core counters must add up
 *   rtt      call_on round trip core 0 -> 1 -> 0, median and p99 (bench/ring)
 *
 * `test_n=N` scales the message counts (default 20000 per pair).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "sched/sched_priv.h"

#define TIMEOUT_NS 120000000000ull

static void nop(void *arg) { }

static _Atomic int fails;
#define CHECK(c, ...) do { if (!(c)) { klog("selftest: check failed: " __VA_ARGS__); \
	atomic_fetch_add(&fails, 1); } } while (0)

static uint64_t test_n(void)
{
	const char *v = cmdline_get("test_n");
	long n = v ? strtol(v, NULL, 10) : 0;
	return n > 0 ? (uint64_t)n : 20000;
}

/* Waits, running core 0's turns, until *flag reaches want. */
static int wait_for(_Atomic uint64_t *flag, uint64_t want)
{
	uint64_t end = time_ns() + TIMEOUT_NS;
	while (atomic_load_explicit(flag, memory_order_acquire) < want) {
		if (time_ns() > end)
			return -ETIMEDOUT;
		if (!sched_turn())
			__builtin_ia32_pause();
	}
	return 0;
}

/* ---- mesh: per (sender, receiver): next expected seq and a sum */
struct mesh_rx {
	uint64_t next[POLLUX_MAX_CORES];
	uint64_t sum[POLLUX_MAX_CORES];
	uint64_t bad;
} __attribute__((aligned(CACHE_LINE)));

struct mesh_tx {
	uint64_t sent[POLLUX_MAX_CORES];
	uint32_t to;                     /* round-robin cursor */
} __attribute__((aligned(CACHE_LINE)));

static struct mesh_rx mrx[POLLUX_MAX_CORES];
static struct mesh_tx mtx[POLLUX_MAX_CORES];
static uint64_t mesh_n;
static _Atomic uint64_t mesh_done;        /* senders finished */

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	return x;
}

static void mesh_recv(void *m)
{
	uint64_t v = (uint64_t)(uintptr_t)m;
	uint32_t from = (uint32_t)(v >> 48);
	uint64_t seq = v & 0xffffffffffffull;
	struct mesh_rx *r = &mrx[core_self()->id];
	if (from >= POLLUX_MAX_CORES || seq != r->next[from]) {
		r->bad++;
		return;
	}
	r->next[from]++;
	r->sum[from] += mix(v);
}

static unsigned mesh_poll(void *arg)
{
	uint32_t me = core_self()->id, n = cores_count();
	struct mesh_tx *t = &mtx[me];
	unsigned sent = 0;
	for (uint32_t k = 0; k < n && sent < SCHED_BURST; k++) {
		uint32_t to = t->to;
		t->to = (t->to + 1) % n;
		if (to == me || t->sent[to] >= mesh_n)
			continue;
		uint64_t v = ((uint64_t)me << 48) | t->sent[to];
		if (call_on(to, mesh_recv, (void *)(uintptr_t)v))
			continue;                     /* full: try again next turn */
		t->sent[to]++;
		sent++;
	}
	if (!sent) {
		int all = 1;
		for (uint32_t to = 0; to < n; to++)
			all &= to == me || t->sent[to] >= mesh_n;
		if (all) {
			sched_poller_remove(mesh_poll, NULL);
			atomic_fetch_add_explicit(&mesh_done, 1, memory_order_release);
		}
	}
	return sent;
}

static void mesh_start(void *arg)
{
	sched_poller_add(core_self()->id, "selftest-mesh", mesh_poll, NULL, NULL);
}

static int test_mesh(void)
{
	uint32_t n = cores_count();
	mesh_n = test_n();
	memset(mrx, 0, sizeof mrx);
	memset(mtx, 0, sizeof mtx);
	atomic_store(&mesh_done, 0);
	for (uint32_t i = 1; i < n; i++)
		CHECK(call_on(i, mesh_start, NULL) == 0, "start mesh on core %u", i);
	mesh_start(NULL);
	CHECK(wait_for(&mesh_done, n) == 0, "mesh senders did not finish");
	/* the last messages may still sit in channels: drain until counted */
	uint64_t end = time_ns() + TIMEOUT_NS;
	for (;;) {
		int complete = 1;
		for (uint32_t j = 0; j < n; j++)
			for (uint32_t i = 0; i < n; i++)
				if (i != j && __atomic_load_n(&mrx[j].next[i], __ATOMIC_ACQUIRE) < mesh_n)
					complete = 0;
		if (complete || time_ns() > end)
			break;
		sched_turn();
	}
	uint64_t want = 0;
	for (uint64_t s = 0; s < mesh_n; s++)
		want += mix(s);                          /* sender 0's sum; others differ */
	for (uint32_t j = 0; j < n; j++)
		for (uint32_t i = 0; i < n; i++) {
			if (i == j)
				continue;
			uint64_t sum = 0;
			for (uint64_t s = 0; s < mesh_n; s++)
				sum += mix(((uint64_t)i << 48) | s);
			CHECK(__atomic_load_n(&mrx[j].next[i], __ATOMIC_ACQUIRE) == mesh_n,
			      "core %u got %llu of %llu from core %u", j,
			      (unsigned long long)mrx[j].next[i], (unsigned long long)mesh_n, i);
			CHECK(mrx[j].sum[i] == sum, "core %u: checksum from core %u", j, i);
		}
	for (uint32_t j = 0; j < n; j++)
		CHECK(mrx[j].bad == 0, "core %u: %llu messages out of order", j, (unsigned long long)mrx[j].bad);
	(void)want;
	klog("selftest mesh: %llu messages per ordered pair, %u cores",
	     (unsigned long long)mesh_n, n);
	return 0;
}

/* ---- call_on storm: chains of hops; each hop lands on the next core */
struct hop { uint32_t left; };
static _Atomic uint64_t hops_done, chains_done, chains_broken;
#define CHAINS_IN_FLIGHT 64                     /* < a channel's capacity in messages */
static counter_t hops_per_core[POLLUX_MAX_CORES];

static void hop(void *p)
{
	uintptr_t left = (uintptr_t)p;
	uint32_t me = core_self()->id;
	counter_add(&hops_per_core[me], 1);
	atomic_fetch_add_explicit(&hops_done, 1, memory_order_relaxed);
	if (left == 0) {
		atomic_fetch_add_explicit(&chains_done, 1, memory_order_release);
		return;
	}
	uint32_t to = (me + 1) % cores_count();
	/* with at most CHAINS_IN_FLIGHT messages anywhere no channel can be
	 * full; if one is, the chain ends here and the test fails */
	if (call_on(to, hop, (void *)(left - 1))) {
		atomic_fetch_add_explicit(&chains_broken, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&chains_done, 1, memory_order_release);
	}
}

static int test_callon(void)
{
	uint32_t n = cores_count();
	uint64_t chains = test_n() / 10 + 1, len = 4 * n + 3;
	atomic_store(&hops_done, 0);
	atomic_store(&chains_done, 0);
	atomic_store(&chains_broken, 0);
	for (uint32_t i = 0; i < n; i++)
		atomic_store(&hops_per_core[i], 0);
	uint64_t started = 0, end = time_ns() + TIMEOUT_NS;
	while (started < chains && time_ns() < end) {
		if (started - atomic_load_explicit(&chains_done, memory_order_acquire) < CHAINS_IN_FLIGHT &&
		    call_on((uint32_t)(started % n), hop, (void *)(uintptr_t)len) == 0)
			started++;
		else
			sched_turn();                   /* let chains move */
	}
	CHECK(wait_for(&chains_done, chains) == 0, "call_on chains did not finish");
	CHECK(atomic_load(&chains_broken) == 0, "%llu chains met a full channel",
	      (unsigned long long)atomic_load(&chains_broken));
	CHECK(atomic_load(&hops_done) == chains * (len + 1), "hops %llu, want %llu",
	      (unsigned long long)atomic_load(&hops_done), (unsigned long long)(chains * (len + 1)));
	for (uint32_t i = 0; i < n; i++)
		CHECK(counter_get(&hops_per_core[i]) > 0, "core %u ran no hop", i);
	klog("selftest callon: %llu chains of %llu hops", (unsigned long long)chains, (unsigned long long)len + 1);
	return 0;
}

/* ---- timers on every core */
#define NTIMERS 2000
struct tcore {
	struct timer t[NTIMERS];
	uint64_t deadline[NTIMERS];
	uint32_t fired[NTIMERS];
	uint64_t early, late_max;
	struct timer periodic;
	uint32_t periodic_fired;
	uint32_t cancelled;
} __attribute__((aligned(CACHE_LINE)));
static struct tcore *tc;
static _Atomic uint64_t timer_cores_done;

static void t_fire(struct timer *t, void *arg)
{
	struct tcore *c = &tc[core_self()->id];
	size_t i = (size_t)(uintptr_t)arg;
	uint64_t now = time_ns();
	c->fired[i]++;
	if (now < c->deadline[i])
		c->early++;
	else if (now - c->deadline[i] > c->late_max)
		c->late_max = now - c->deadline[i];
}

static void t_periodic(struct timer *t, void *arg)
{
	struct tcore *c = &tc[core_self()->id];
	if (++c->periodic_fired == 20) {
		sched_timer_cancel(t);
		atomic_fetch_add_explicit(&timer_cores_done, 1, memory_order_release);
	}
}

static void timers_start(void *arg)
{
	uint32_t me = core_self()->id;
	struct tcore *c = &tc[me];
	uint64_t now = time_ns(), x = 0x9e3779b97f4a7c15ull * (me + 1);
	for (size_t i = 0; i < NTIMERS; i++) {
		x ^= x << 13; x ^= x >> 7; x ^= x << 17;
		c->deadline[i] = now + 1000000 + x % 50000000;   /* 1..51 ms */
		timer_init(&c->t[i], t_fire, (void *)(uintptr_t)i);
		sched_timer_arm(&c->t[i], c->deadline[i], 0);
	}
	for (size_t i = 0; i < NTIMERS; i += 4) {              /* cancel a quarter */
		sched_timer_cancel(&c->t[i]);
		c->cancelled++;
	}
	timer_init(&c->periodic, t_periodic, NULL);
	sched_timer_arm(&c->periodic, now + 5000000, 5000000);  /* every 5 ms, 20 times */
}

static int test_timers(void)
{
	uint32_t n = cores_count();
	tc = calloc(n, sizeof *tc);
	if (!tc)
		return -1;
	atomic_store(&timer_cores_done, 0);
	for (uint32_t i = 1; i < n; i++)
		CHECK(call_on(i, timers_start, NULL) == 0, "start timers on core %u", i);
	timers_start(NULL);
	CHECK(wait_for(&timer_cores_done, n) == 0, "periodic timers did not finish");
	/* the one-shots are due by 51 ms; the periodic ran 100 ms: all fired */
	for (uint32_t k = 0; k < n; k++) {
		struct tcore *c = &tc[k];
		for (size_t i = 0; i < NTIMERS; i++)
			CHECK(c->fired[i] == (i % 4 ? 1u : 0u), "core %u timer %zu fired %u times", k, i, c->fired[i]);
		CHECK(c->early == 0, "core %u: %llu timers fired early", k, (unsigned long long)c->early);
		klog("selftest timers: core %u: %d fired, latest %llu us after its deadline",
		     k, NTIMERS - (int)c->cancelled, (unsigned long long)c->late_max / 1000);
	}
	free(tc);
	tc = NULL;
	return 0;
}

/* ---- publish / quiesce */
#define PUB_MAGIC 0x600dcafe600dcafeull
#define PUB_POISON 0xdeaddeaddeaddeadull
struct pubobj { _Atomic uint64_t magic; uint64_t gen; };
static void *_Atomic pub_slot;
static _Atomic uint64_t pub_reads, pub_poisoned_seen, pub_stop;

static unsigned pub_reader(void *arg)
{
	struct pubobj *o = sched_deref(&pub_slot);
	if (o) {
		/* the object is ours until the end of this turn */
		if (atomic_load_explicit(&o->magic, memory_order_relaxed) != PUB_MAGIC)
			atomic_fetch_add(&pub_poisoned_seen, 1);
		for (int i = 0; i < 50; i++)
			__builtin_ia32_pause();
		if (atomic_load_explicit(&o->magic, memory_order_relaxed) != PUB_MAGIC)
			atomic_fetch_add(&pub_poisoned_seen, 1);
		atomic_fetch_add_explicit(&pub_reads, 1, memory_order_relaxed);
	}
	if (atomic_load_explicit(&pub_stop, memory_order_acquire))
		sched_poller_remove(pub_reader, NULL);
	return 0;       /* reading is not work: idle cores may sleep meanwhile */
}

static void pub_start(void *arg)
{
	sched_poller_add(core_self()->id, "selftest-quiesce", pub_reader, NULL, NULL);
}

static int test_quiesce(void)
{
	uint32_t n = cores_count();
	uint64_t rounds = test_n() / 20 + 10;
	struct pubobj *objs = calloc(4, sizeof *objs);
	atomic_store(&pub_stop, 0);
	atomic_store(&pub_reads, 0);
	atomic_store(&pub_poisoned_seen, 0);
	atomic_store(&objs[0].magic, PUB_MAGIC);
	sched_publish(&pub_slot, &objs[0]);
	for (uint32_t i = 1; i < n; i++)
		call_on(i, pub_start, NULL);
	for (uint64_t r = 1; r <= rounds; r++) {
		struct pubobj *nw = &objs[r % 4];
		atomic_store(&nw->magic, PUB_MAGIC);
		nw->gen = r;
		struct pubobj *old = sched_publish(&pub_slot, nw);
		CHECK(sched_quiesce_wait(TIMEOUT_NS) == 0, "quiesce timed out");
		atomic_store(&old->magic, PUB_POISON);      /* "freed" */
		sched_turn();
	}
	atomic_store_explicit(&pub_stop, 1, memory_order_release);
	sched_quiesce_wait(TIMEOUT_NS);
	sched_quiesce_wait(TIMEOUT_NS);
	sched_publish(&pub_slot, NULL);
	CHECK(atomic_load(&pub_poisoned_seen) == 0, "%llu reads saw a freed object",
	      (unsigned long long)atomic_load(&pub_poisoned_seen));
	klog("selftest quiesce: %llu publishes, %llu reads", (unsigned long long)rounds,
	     (unsigned long long)atomic_load(&pub_reads));
	free(objs);
	return 0;
}

/* ---- call_on round trip core 0 -> core 1 -> core 0 (a benchmark too) */
static _Atomic uint64_t rtt_back;

static void rtt_pong(void *arg)
{
	atomic_store_explicit(&rtt_back, (uint64_t)(uintptr_t)arg, memory_order_release);
}

static void rtt_ping(void *arg)
{
	while (call_on(0, rtt_pong, arg))
		__builtin_ia32_pause();
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static int test_rtt(void)
{
	if (cores_count() < 2)
		return -1;
	uint64_t n = test_n();
	uint64_t *ns = malloc(n * sizeof *ns);
	if (!ns)
		return -1;
	for (uint64_t i = 0; i < n; i++) {
		uint64_t t0 = time_ns(), end = t0 + TIMEOUT_NS;
		CHECK(call_on(1, rtt_ping, (void *)(uintptr_t)(i + 1)) == 0, "call_on");
		while (atomic_load_explicit(&rtt_back, memory_order_acquire) != i + 1 && time_ns() < end)
			sched_turn();
		ns[i] = time_ns() - t0;
	}
	qsort(ns, n, sizeof *ns, cmp_u64);
	klog("selftest rtt: call_on round trip core 0 -> 1 -> 0: median %llu ns, p99 %llu ns, n %llu",
	     (unsigned long long)ns[n / 2], (unsigned long long)ns[n * 99 / 100], (unsigned long long)n);
	free(ns);
	return 0;
}

static int test_counters(void)
{
	uint64_t out = 0, in = 0;
	for (uint32_t i = 0; i < cores_count(); i++) {
		struct sched_stats s;
		sched_stats(i, &s);
		out += s.msgs_out;
		in += s.msgs_in;
		CHECK(s.turns > 0 && s.busy_turns > 0, "core %u: turns %llu busy %llu", i,
		      (unsigned long long)s.turns, (unsigned long long)s.busy_turns);
		CHECK(s.busy_cycles > 0, "core %u: no busy cycles", i);
		klog("selftest counters: core %u: %llu turns (%llu busy), %llu msgs in, %llu out, %llu full, %llu timers, %llu sleeps",
		     i, (unsigned long long)s.turns, (unsigned long long)s.busy_turns,
		     (unsigned long long)s.msgs_in, (unsigned long long)s.msgs_out,
		     (unsigned long long)s.chan_full, (unsigned long long)s.timers_fired,
		     (unsigned long long)s.sleeps);
	}
	/* every message sent has been run (the tests waited for them) */
	CHECK(in == out, "messages in %llu != out %llu", (unsigned long long)in, (unsigned long long)out);
	return 0;
}

int sched_selftest(const char *name)
{
	int rc;
	atomic_store(&fails, 0);
	if (!strcmp(name, "mesh")) rc = test_mesh();
	else if (!strcmp(name, "callon")) rc = test_callon();
	else if (!strcmp(name, "timers")) rc = test_timers();
	else if (!strcmp(name, "quiesce")) rc = test_quiesce();
	else if (!strcmp(name, "rtt")) rc = test_rtt();
	else if (!strcmp(name, "sched")) {
		rc = test_mesh() | test_callon() | test_timers() | test_quiesce();
		/* let the last hops and removals settle before counting */
		for (uint32_t i = 0; i < cores_count(); i++)
			sched_call_sync(i, nop, NULL, TIMEOUT_NS);
		rc |= test_counters();
	} else
		return -ENOENT;
	if (rc == 0 && atomic_load(&fails) == 0) {
		klog("selftest %s: ok (%u cores)", name, cores_count());
		return 0;
	}
	klog("selftest %s: FAILED (%d checks)", name, atomic_load(&fails));
	return -1;
}
