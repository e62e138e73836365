/*
 * selftest.c — the self-test dispatcher: `test=NAME` on the command line
 * (--test NAME hosted) runs one test after every core is in its loop; it
 * prints "selftest NAME: ok (N cores)" or "selftest NAME: FAILED ..." and
 * the appliance exits with the result. Tests come from three places, asked
 * in order: the scheduler's (sched_selftest: mesh, callon, timers,
 * quiesce, rtt, sched), the ones here, which need several layers, and the
 * platform's own (platform_selftest: the metal image's red zone, memory,
 * clock and deliberate faults).
 *
 *   errno    every core sets errno; each sees only its own
 *   redzone  the platform's red-zone check on every core in turn
 *   libs     musl (printf, snprintf, strtol, qsort, malloc), mbedTLS,
 *            http-parser and jansson smoke calls
 *   rng      the virtio-rng device answers with fresh bytes
 *   fault-ap a deliberate fault on core 1 (the others: on core 0)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <jansson.h>
#include <http_parser.h>
#include <mbedtls/sha256.h>
#include <mbedtls/aes.h>
#include <mbedtls/ctr_drbg.h>
#include "core/core.h"
#include "core/io.h"
#include "core/platform.h"
#include "sched/sched.h"
#include "drivers/virtio_rng.h"
#include "appliance/appliance.h"

static void nop(void *arg) { }

static _Atomic int failures;
static _Atomic uint32_t arrived;

#define CHECK(c, ...) do { if (!(c)) { klog("selftest: check failed: " __VA_ARGS__); \
	atomic_fetch_add(&failures, 1); } } while (0)

/* ---- errno */
static int *errno_addr[POLLUX_MAX_CORES];

static void errno_body(void *arg)
{
	uint32_t id = core_self()->id;
	errno = 1000 + (int)id;
	errno_addr[id] = &errno;
	atomic_fetch_add(&arrived, 1);
	/* wait for every core to have written its errno */
	uint64_t end = time_ns() + 5000000000ull;
	while (atomic_load(&arrived) < cores_count() && time_ns() < end)
		cpu_relax();
	CHECK(errno == 1000 + (int)id, "core %u errno %d", id, errno);
	/* a failing call sets this core's errno only */
	if (id == 1) {
		CHECK(write(99, "x", 1) == -1 && errno == EBADF, "write(99) errno %d", errno);
	}
}

static int test_errno(void)
{
	uint32_t n = cores_count();
	atomic_store(&arrived, 0);
	/* every core sets its errno, waits for all, then checks its own: the
	 * other cores run it from their loops, core 0 in place */
	for (uint32_t i = 1; i < n; i++)
		CHECK(call_on(i, errno_body, NULL) == 0, "call_on core %u", i);
	errno_body(NULL);
	/* each core's call finished (sched_call_sync runs after it, in order) */
	for (uint32_t i = 1; i < n; i++)
		CHECK(sched_call_sync(i, nop, NULL, 5000000000ull) == 0, "core %u", i);
	for (uint32_t i = 0; i < n; i++)
		for (uint32_t j = i + 1; j < n; j++)
			CHECK(errno_addr[i] != errno_addr[j], "cores %u and %u share errno", i, j);
	CHECK(errno == 1000, "core 0 errno changed to %d", errno);
	return 0;
}

/* ---- the platform's per-core tests, on every core in turn */
struct on_core {
	const char *name;
	int rc;
};

static void platform_body(void *arg)
{
	struct on_core *t = arg;
	t->rc = platform_selftest(t->name);
}

static int test_each_core(const char *name)
{
	for (uint32_t i = 0; i < cores_count(); i++) {
		struct on_core t = { name, -1 };
		CHECK(sched_call_sync(i, platform_body, &t, 5000000000ull) == 0, "core %u did not run the test", i);
		CHECK(t.rc == 0, "core %u: %s failed (%d)", i, name, t.rc);
	}
	return 0;
}

static int test_fault_ap(void)
{
	struct on_core t = { "fault-null", -1 };
	klog("selftest: raising a deliberate fault on core 1");
	sched_call_sync(1, platform_body, &t, 5000000000ull);
	time_delay_ns(5000000000ull);
	klog("selftest: core 1 did not fault");
	return -1;
}

/* ---- libraries */
static int cmp_int(const void *a, const void *b) { return *(const int *)a - *(const int *)b; }

static int on_url(http_parser *p, const char *at, size_t len)
{
	char *dst = p->data;
	snprintf(dst, 64, "%.*s", (int)len, at);
	return 0;
}

/* getrandom through the C library (the metal syscall shim's RDSEED/RDRAND) */
static int entropy(void *ctx, unsigned char *out, size_t len)
{
	for (size_t i = 0; i < len; i += 256)
		if (getentropy(out + i, len - i < 256 ? len - i : 256))
			return -1;
	return 0;
}

static int test_libs(void)
{
	char buf[64];
	/* musl */
	snprintf(buf, sizeof buf, "%d-%s-%.2f", 42, "x", 2.5);
	CHECK(!strcmp(buf, "42-x-2.50"), "snprintf gave %s", buf);
	CHECK(strtol("-0x1f", NULL, 16) == -31, "strtol");
	int v[] = { 5, 3, 9, 1, 7 };
	qsort(v, 5, sizeof v[0], cmp_int);
	CHECK(v[0] == 1 && v[4] == 9, "qsort");
	void *ptrs[256];
	for (int i = 0; i < 256; i++) {
		ptrs[i] = malloc((size_t)(i + 1) * 97);
		CHECK(ptrs[i] != NULL, "malloc %d", i);
		memset(ptrs[i], i, (size_t)(i + 1) * 97);
	}
	for (int i = 0; i < 256; i++)
		free(ptrs[i]);
	printf("selftest libs: printf works (%s)\n", buf);

	/* mbedTLS: self-tests, SHA-256 of "abc", a CTR-DRBG seeded by getrandom */
	CHECK(mbedtls_sha256_self_test(0) == 0, "mbedtls sha256 self-test");
	CHECK(mbedtls_aes_self_test(0) == 0, "mbedtls aes self-test");
	unsigned char h[32];
	mbedtls_sha256_ret((const unsigned char *)"abc", 3, h, 0);
	CHECK(h[0] == 0xba && h[1] == 0x78 && h[31] == 0xad, "sha256(abc)");
	mbedtls_ctr_drbg_context drbg;
	mbedtls_ctr_drbg_init(&drbg);
	CHECK(mbedtls_ctr_drbg_seed(&drbg, entropy, NULL, (const unsigned char *)"pollux", 6) == 0, "ctr_drbg seed");
	unsigned char rnd[32];
	CHECK(mbedtls_ctr_drbg_random(&drbg, rnd, sizeof rnd) == 0, "ctr_drbg random");
	mbedtls_ctr_drbg_free(&drbg);

	/* http-parser */
	http_parser_settings s;
	memset(&s, 0, sizeof s);
	s.on_url = on_url;
	http_parser p;
	http_parser_init(&p, HTTP_REQUEST);
	char url[64] = "";
	p.data = url;
	const char *req = "GET /v1/system HTTP/1.1\r\nHost: pollux\r\n\r\n";
	size_t parsed = http_parser_execute(&p, &s, req, strlen(req));
	CHECK(parsed == strlen(req) && p.method == HTTP_GET && !strcmp(url, "/v1/system"), "http-parser");

	/* jansson */
	json_t *j = json_pack("{s:i, s:[s,s]}", "cores", 4, "apps", "l2fwd", "kv");
	char *out = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	CHECK(out && !strcmp(out, "{\"apps\":[\"l2fwd\",\"kv\"],\"cores\":4}"), "jansson gave %s", out ? out : "NULL");
	free(out);
	json_decref(j);
	return 0;
}

/* virtio-rng: the device answers, with bytes that are not all zero and
 * not the same twice */
static int test_rng(void)
{
	uint8_t a[64], b[64], z[64] = { 0 };
	CHECK(virtio_rng_present(), "no virtio-rng device (-device virtio-rng-pci)");
	if (!virtio_rng_present())
		return -1;
	long n1 = virtio_rng_read(a, sizeof a), n2 = virtio_rng_read(b, sizeof b);
	CHECK(n1 > 0 && n2 > 0, "reads gave %ld and %ld", n1, n2);
	CHECK(n1 <= 0 || memcmp(a, z, (size_t)n1), "%ld zero bytes", n1);
	CHECK(n1 <= 0 || n2 <= 0 || memcmp(a, b, (size_t)(n1 < n2 ? n1 : n2)), "the same bytes twice");
	klog("selftest rng: %ld + %ld bytes", n1, n2);
	return 0;
}

int appliance_selftest(const char *name)
{
	int rc = sched_selftest(name);
	if (rc != -ENOENT)
		return rc;
	atomic_store(&failures, 0);
	if (!strcmp(name, "errno")) rc = test_errno();
	else if (!strcmp(name, "redzone")) rc = test_each_core("redzone-core");
	else if (!strcmp(name, "libs")) rc = test_libs();
	else if (!strcmp(name, "rng")) rc = test_rng();
	else if (!strcmp(name, "fault-ap")) rc = test_fault_ap();
	else if ((rc = platform_selftest(name)) == -ENOENT) {
		klog("selftest %s: no such test", name);
		return -1;
	}
	if (rc == 0 && atomic_load(&failures) == 0) {
		klog("selftest %s: ok (%u cores)", name, cores_count());
		return 0;
	}
	klog("selftest %s: FAILED (%d checks)", name, atomic_load(&failures));
	return -1;
}
