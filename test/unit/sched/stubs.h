/*
 * stubs.h — the platform layer under the sched unit tests, with pthreads
 * standing in for cores. Include it from exactly one file per test binary
 * (each test_*.c is its own binary).
 *
 *  - stub_cores_init(n) makes cores 0..n-1 (state CORE_OFF) and sets what
 *    cores_count() returns; the test's own thread is core 0;
 *  - stub_thread_start() runs fn on a new thread whose core_self() is the
 *    given core;
 *  - time_ns() is CLOCK_MONOTONIC; core_kick() counts kicks per core;
 *    core_idle_wait() sleeps at most 50 us (or until its deadline), and
 *    counts its calls and keeps the last deadline, per core;
 *  - panic() on the test's thread fails the test; on any other thread it
 *    prints and aborts, which Criterion reports as a crash.
 *
 * Criterion's asserts may only run on the test's thread (a failure
 * longjmps there), so worker threads report with stub_fail() and the test
 * checks stub_failures() after joining them.
 *
 * The definitions are weak, so a separate stubs object linked later would
 * take precedence without a clash.
 *
 * Under ThreadSanitizer, Criterion's runner cannot start (its BoxFort
 * arena is mapped at a random address that TSan's memory layout mostly
 * refuses: Snaipe/Criterion#274), so the TSan builds get a small runner
 * of their own below: the same Test() bodies, each in a forked child
 * with a time limit, cr_assert* as plain checks, a TSan report fatal, and
 * Criterion's "Synthesis:" line at the end.
 */
#ifndef POLLUX_TEST_SCHED_STUBS_H
#define POLLUX_TEST_SCHED_STUBS_H
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <criterion/criterion.h>
#include "core/core.h"

#if defined(__SANITIZE_THREAD__)
#define STUB_TSAN_RUNNER 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define STUB_TSAN_RUNNER 1
#endif
#endif

#ifdef STUB_TSAN_RUNNER
#include <fnmatch.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#define STUB_TEST_LIMIT_S 300           /* per test, as Criterion's .timeout would */
#define STUB_MAX_TESTS 64

struct stub_test {
	const char *suite, *name;
	void (*fn)(void);
};
static struct stub_test stub_tests[STUB_MAX_TESTS];
static int stub_ntests;

static void stub_register(const char *suite, const char *name, void (*fn)(void))
{
	if (stub_ntests == STUB_MAX_TESTS) {
		fprintf(stderr, "stubs.h: more than %d tests\n", STUB_MAX_TESTS);
		abort();
	}
	stub_tests[stub_ntests++] = (struct stub_test){ suite, name, fn };
}

__attribute__((noreturn)) static void stub_check_failed(const char *file, int line,
							const char *what, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	fprintf(stderr, "[----] %s:%d: Assertion Failed\n[----]   %s\n", file, line, *msg ? msg : what);
	exit(1);
}

/* A race report ends the test with exit status 66. */
const char *__tsan_default_options(void);
const char *__tsan_default_options(void)
{
	return "halt_on_error=1:exitcode=66";
}

#undef Test
#define Test(suite, name, ...) \
	static void stub_test_##suite##_##name(void); \
	__attribute__((constructor)) static void stub_reg_##suite##_##name(void) \
	{ stub_register(#suite, #name, stub_test_##suite##_##name); } \
	static void stub_test_##suite##_##name(void)

#define STUB_CHECK(cond, what, ...) do { if (!(cond)) \
	stub_check_failed(__FILE__, __LINE__, what, "" __VA_ARGS__); } while (0)
#undef cr_assert
#undef cr_assert_not
#undef cr_assert_eq
#undef cr_assert_neq
#undef cr_assert_lt
#undef cr_assert_leq
#undef cr_assert_gt
#undef cr_assert_geq
#undef cr_assert_null
#undef cr_assert_not_null
#undef cr_assert_fail
#define cr_assert(c, ...) STUB_CHECK((c), #c, ## __VA_ARGS__)
#define cr_assert_not(c, ...) STUB_CHECK(!(c), "!(" #c ")", ## __VA_ARGS__)
#define cr_assert_eq(a, b, ...) STUB_CHECK((a) == (b), #a " == " #b, ## __VA_ARGS__)
#define cr_assert_neq(a, b, ...) STUB_CHECK((a) != (b), #a " != " #b, ## __VA_ARGS__)
#define cr_assert_lt(a, b, ...) STUB_CHECK((a) < (b), #a " < " #b, ## __VA_ARGS__)
#define cr_assert_leq(a, b, ...) STUB_CHECK((a) <= (b), #a " <= " #b, ## __VA_ARGS__)
#define cr_assert_gt(a, b, ...) STUB_CHECK((a) > (b), #a " > " #b, ## __VA_ARGS__)
#define cr_assert_geq(a, b, ...) STUB_CHECK((a) >= (b), #a " >= " #b, ## __VA_ARGS__)
#define cr_assert_null(p, ...) STUB_CHECK((p) == NULL, #p " == NULL", ## __VA_ARGS__)
#define cr_assert_not_null(p, ...) STUB_CHECK((p) != NULL, #p " != NULL", ## __VA_ARGS__)
#define cr_assert_fail(...) stub_check_failed(__FILE__, __LINE__, "failed", "" __VA_ARGS__)

static int stub_test_cmp(const void *a, const void *b)
{
	const struct stub_test *x = a, *y = b;
	int c = strcmp(x->suite, y->suite);
	return c ? c : strcmp(x->name, y->name);
}

/* Accepts what the Makefile and a person pass to a Criterion binary:
 * --jobs N (tests run one at a time anyway), --verbose, --filter PATTERN
 * (matched against "suite/name", as Criterion does). */
int main(int argc, char **argv)
{
	const char *filter = NULL;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--filter") && i + 1 < argc)
			filter = argv[++i];
		else if (!strncmp(argv[i], "--filter=", 9))
			filter = argv[i] + 9;
		else if ((!strcmp(argv[i], "--jobs") || !strcmp(argv[i], "-j")) && i + 1 < argc)
			i++;
	}
	qsort(stub_tests, (size_t)stub_ntests, sizeof stub_tests[0], stub_test_cmp);
	int tested = 0, passing = 0, failing = 0, crashing = 0;
	fprintf(stderr, "[----] ThreadSanitizer build: tests run by stubs.h, not by Criterion\n");
	for (int i = 0; i < stub_ntests; i++) {
		struct stub_test *t = &stub_tests[i];
		char id[256];
		snprintf(id, sizeof id, "%s/%s", t->suite, t->name);
		if (filter && fnmatch(filter, id, 0))
			continue;
		tested++;
		fprintf(stderr, "[RUN ] %s::%s\n", t->suite, t->name);
		fflush(NULL);
		struct timespec t0, t1;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		pid_t pid = fork();
		if (pid < 0) {
			perror("fork");
			return 1;
		}
		if (pid == 0) {
			alarm(STUB_TEST_LIMIT_S);
			t->fn();
			fflush(NULL);
			exit(0);        /* exit, not _exit: TSan's exit status stands */
		}
		int st;
		while (waitpid(pid, &st, 0) < 0)
			;
		clock_gettime(CLOCK_MONOTONIC, &t1);
		double dt = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
		if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
			passing++;
			fprintf(stderr, "[PASS] %s::%s: (%.2fs)\n", t->suite, t->name, dt);
		} else if (WIFEXITED(st)) {
			failing++;
			fprintf(stderr, "[FAIL] %s::%s: (%.2fs)%s\n", t->suite, t->name, dt,
				WEXITSTATUS(st) == 66 ? " ThreadSanitizer reported a race" : "");
		} else {
			crashing++;
			failing++;
			fprintf(stderr, "[FAIL] %s::%s: CRASH! (signal %d%s)\n", t->suite, t->name,
				WTERMSIG(st), WTERMSIG(st) == SIGALRM ? ": over the time limit" : "");
		}
	}
	fprintf(stderr, "[====] Synthesis: Tested: %d | Passing: %d | Failing: %d | Crashing: %d \n",
		tested, passing, failing, crashing);
	return failing ? 1 : 0;
}
#endif /* STUB_TSAN_RUNNER */

struct core stub_cores[POLLUX_MAX_CORES];
_Atomic uint32_t stub_ncores = 1;
_Atomic uint64_t stub_kicks[POLLUX_MAX_CORES];
static __thread struct core *stub_self;
static __thread int stub_on_worker;

static _Atomic uint64_t stub_fail_count;
static pthread_mutex_t stub_fail_lock = PTHREAD_MUTEX_INITIALIZER;
static char stub_fail_first[256];                  /* guarded by stub_fail_lock */

/* Records a failure seen on any thread; the first message is kept. */
__attribute__((unused, format(printf, 1, 2))) static void stub_fail(const char *fmt, ...)
{
	if (atomic_fetch_add(&stub_fail_count, 1) == 0) {
		va_list ap;
		va_start(ap, fmt);
		pthread_mutex_lock(&stub_fail_lock);
		vsnprintf(stub_fail_first, sizeof stub_fail_first, fmt, ap);
		pthread_mutex_unlock(&stub_fail_lock);
		va_end(ap);
	}
}

/* Test thread only, after the workers are joined. */
__attribute__((unused)) static void stub_assert_no_failures(void)
{
	uint64_t n = atomic_load(&stub_fail_count);
	pthread_mutex_lock(&stub_fail_lock);
	char first[sizeof stub_fail_first];
	memcpy(first, stub_fail_first, sizeof first);
	pthread_mutex_unlock(&stub_fail_lock);
	cr_assert_eq(n, 0, "%llu failure(s) on worker threads; first: %s",
		     (unsigned long long)n, first);
}

__attribute__((unused)) static void stub_cores_init(uint32_t n)
{
	cr_assert(n >= 1 && n <= POLLUX_MAX_CORES);
	for (uint32_t i = 0; i < POLLUX_MAX_CORES; i++) {
		memset(&stub_cores[i], 0, sizeof stub_cores[i]);
		stub_cores[i].self = &stub_cores[i];
		stub_cores[i].id = i;
		stub_cores[i].hw_id = i;
		stub_cores[i].role = i ? CORE_ROLE_DATA : CORE_ROLE_CONTROL;
		atomic_init(&stub_cores[i].state, CORE_OFF);
		atomic_init(&stub_kicks[i], 0);
	}
	atomic_store(&stub_ncores, n);
	stub_self = &stub_cores[0];
}

/* Makes the calling thread core `id` (tests that play several cores on
 * one thread switch with this). */
__attribute__((unused)) static void stub_set_self(uint32_t id)
{
	stub_self = &stub_cores[id];
}

struct stub_thread_arg {
	uint32_t core;
	void *(*fn)(void *);
	void *arg;
};

static void *stub_thread_main(void *p)
{
	struct stub_thread_arg a = *(struct stub_thread_arg *)p;
	free(p);
	stub_self = &stub_cores[a.core];
	stub_on_worker = 1;
	return a.fn(a.arg);
}

__attribute__((unused)) static void stub_thread_start(pthread_t *th, uint32_t core,
						      void *(*fn)(void *), void *arg)
{
	struct stub_thread_arg *a = malloc(sizeof *a);
	cr_assert_not_null(a);
	a->core = core;
	a->fn = fn;
	a->arg = arg;
	cr_assert_eq(pthread_create(th, NULL, stub_thread_main, a), 0);
}

__attribute__((weak, unused)) struct core *core_self(void)
{
	return stub_self ? stub_self : &stub_cores[0];
}

__attribute__((weak, unused)) struct core *core_get(uint32_t id)
{
	return id < POLLUX_MAX_CORES ? &stub_cores[id] : NULL;
}

__attribute__((weak, unused)) uint32_t cores_count(void)
{
	return atomic_load_explicit(&stub_ncores, memory_order_relaxed);
}

__attribute__((weak, unused)) void core_kick(uint32_t id)
{
	if (id < POLLUX_MAX_CORES)
		atomic_fetch_add_explicit(&stub_kicks[id], 1, memory_order_relaxed);
}

__attribute__((weak, unused)) uint64_t time_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

__attribute__((weak, unused)) uint64_t core_idle_prepare(void)
{
	return 0;
}

_Atomic uint64_t stub_idle_waits[POLLUX_MAX_CORES], stub_idle_deadline[POLLUX_MAX_CORES];

__attribute__((weak, unused)) void core_idle_wait(uint64_t token, uint64_t deadline_ns)
{
	uint32_t me = core_self()->id;
	atomic_store_explicit(&stub_idle_deadline[me], deadline_ns, memory_order_relaxed);
	atomic_fetch_add_explicit(&stub_idle_waits[me], 1, memory_order_release);
	uint64_t now = time_ns(), ns = 50000;
	if (deadline_ns > now && deadline_ns - now < ns)
		ns = deadline_ns - now;
	else if (deadline_ns <= now)
		return;
	struct timespec ts = { 0, (long)ns };
	nanosleep(&ts, NULL);
}

__attribute__((weak, unused)) void console_write(const char *s, size_t n)
{
	fwrite(s, 1, n, stderr);
}

__attribute__((weak, unused)) _Noreturn void panic(const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (stub_on_worker) {
		fprintf(stderr, "panic on core %u: %s\n", core_self()->id, msg);
		abort();
	}
	cr_assert_fail("panic: %s", msg);
	abort();        /* cr_assert_fail does not return; tell the compiler */
}

/* A small fixed-seed PRNG (xorshift64*), one state per thread. */
static inline uint64_t stub_rand(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545F4914F6CDD1Dull;
}

/* Uniform in [lo, hi] (hi - lo < 2^32 keeps the bias negligible). */
static inline uint64_t stub_rand_range(uint64_t *s, uint64_t lo, uint64_t hi)
{
	return lo + stub_rand(s) % (hi - lo + 1);
}
#endif
