/*
 * selftest.c — tests that only the booted image can run, chosen with
 * `test=NAME` on the kernel command line (test/vm/ boots them). Each
 * prints "selftest NAME: ok" or "selftest NAME: FAILED ..." and returns 0
 * or -1; the kernel then exits through isa-debug-exit.
 *
 *   errno    every core sets errno; each sees only its own
 *   redzone  a sentinel below %rsp and XMM registers survive `syscall`
 *            and an interrupt, on every core
 *   libs     musl (printf, snprintf, strtol, qsort, malloc), mbedTLS,
 *            http-parser and jansson smoke calls
 *   memory   frames, huge pages and malloc come back to the same count
 *   clock    prints the guest clock every 500 ms for 3 s
 *   fault-*  deliberate faults: null, ud, gp, stack, ap (a fault on core 1)
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
#include "drivers/virtio_rng.h"
#include <mbedtls/entropy.h>
#include "core/metal/metal.h"
#include "core/platform.h"
#include "sched/sched.h"

extern _Atomic uint64_t trap_test_count[POLLUX_MAX_CORES];

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

/* ---- red zone and XMM across syscall and interrupt */
static void redzone_body(void *arg)
{
	uint64_t bad_sys = 0, bad_irq = 0, bad_xmm = 0;
	uint32_t id = core_self()->id;
	/* sentinel at -8(%rsp), xmm0 = pattern; then `syscall` (getpid) */
	__asm__ volatile(
		"movabs $0x5e47195e47195e47, %%rax\n\t"
		"mov %%rax, -8(%%rsp)\n\t"
		"movq %%rax, %%xmm0\n\t"
		"mov $39, %%eax\n\t"
		"syscall\n\t"
		"movabs $0x5e47195e47195e47, %%rdx\n\t"
		"xor %%ecx, %%ecx\n\t"
		"cmp %%rdx, -8(%%rsp)\n\t"
		"setne %%cl\n\t"
		"mov %%rcx, %0\n\t"
		"movq %%xmm0, %%rax\n\t"
		"xor %%ecx, %%ecx\n\t"
		"cmp %%rdx, %%rax\n\t"
		"setne %%cl\n\t"
		"mov %%rcx, %1\n\t"
		: "=m"(bad_sys), "=m"(bad_xmm) :: "rax", "rcx", "rdx", "r11", "xmm0", "memory");
	CHECK(!bad_sys, "core %u: red zone clobbered across syscall", id);
	CHECK(!bad_xmm, "core %u: xmm0 clobbered across syscall", id);

	/* sentinel at -8(%rsp); a self-IPI arrives while we spin */
	uint64_t before = atomic_load(&trap_test_count[id]);
	apic_send_ipi(apic_id(), VEC_TEST);
	uint64_t spins = 0;
	__asm__ volatile(
		"movabs $0x1234567887654321, %%rax\n\t"
		"mov %%rax, -8(%%rsp)\n\t"
		"sti\n\t"
		"mov $20000000, %%ecx\n"
		"1:\n\t"
		"pause\n\t"
		"mov %2, %%rdx\n\t"
		"cmp %3, %%rdx\n\t"
		"jne 2f\n\t"
		"dec %%ecx\n\t"
		"jnz 1b\n"
		"2:\n\t"
		"cli\n\t"
		"mov %%rcx, %1\n\t"
		"xor %%ecx, %%ecx\n\t"
		"cmp %%rax, -8(%%rsp)\n\t"
		"setne %%cl\n\t"
		"mov %%rcx, %0\n\t"
		: "=m"(bad_irq), "=m"(spins)
		: "m"(trap_test_count[id]), "r"(before)
		: "rax", "rcx", "rdx", "memory");
	CHECK(atomic_load(&trap_test_count[id]) == before + 1, "core %u: test interrupt not taken", id);
	CHECK(!bad_irq, "core %u: red zone clobbered across an interrupt", id);
}

static int test_redzone(void)
{
	for (uint32_t i = 0; i < cores_count(); i++)
		CHECK(sched_call_sync(i, redzone_body, NULL, 5000000000ull) == 0, "core %u did not run the test", i);
	return 0;
}

/* ---- libraries */
static int cmp_int(const void *a, const void *b) { return *(const int *)a - *(const int *)b; }

static int on_url(http_parser *p, const char *at, size_t len)
{
	char *dst = p->data;
	snprintf(dst, 64, "%.*s", (int)len, at);
	return 0;
}

static int rdrand_entropy(void *ctx, unsigned char *out, size_t len)
{
	for (size_t i = 0; i < len; i += 8) {
		unsigned long long v = 0;
		for (int t = 0; t < 10 && !rdrand64(&v); t++)
			;
		memcpy(out + i, &v, len - i < 8 ? len - i : 8);
	}
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

	/* mbedTLS: self-tests, SHA-256 of "abc", a CTR-DRBG seeded by RDRAND */
	CHECK(mbedtls_sha256_self_test(0) == 0, "mbedtls sha256 self-test");
	CHECK(mbedtls_aes_self_test(0) == 0, "mbedtls aes self-test");
	unsigned char h[32];
	mbedtls_sha256_ret((const unsigned char *)"abc", 3, h, 0);
	CHECK(h[0] == 0xba && h[1] == 0x78 && h[31] == 0xad, "sha256(abc)");
	mbedtls_ctr_drbg_context drbg;
	mbedtls_ctr_drbg_init(&drbg);
	CHECK(mbedtls_ctr_drbg_seed(&drbg, rdrand_entropy, NULL, (const unsigned char *)"pollux", 6) == 0, "ctr_drbg seed");
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

/* ---- memory accounting */
static int test_memory(void)
{
	size_t before = frames_free_count();
	void *p[64];
	for (int i = 0; i < 64; i++)
		CHECK((p[i] = frame_alloc_pages((size_t)i + 1)) != NULL, "frame_alloc_pages(%d)", i + 1);
	void *h = frame_alloc_huge();
	CHECK(h && ((uintptr_t)h & ((2u << 20) - 1)) == 0, "huge page alignment %p", h);
	for (int i = 0; i < 64; i++)
		frame_free_pages(p[i], (size_t)i + 1);
	if (h)
		frame_free_pages(h, 512);
	CHECK(frames_free_count() == before, "frames leaked: %zu vs %zu", frames_free_count(), before);
	CHECK(frame_free_checked(p[3], 4) == -EINVAL, "double free not refused");
	/* the whole of a 64 MiB guest can be taken and given back */
	klog("selftest memory: %zu MiB free of %llu MiB", before * 4096 >> 20,
	     (unsigned long long)(mem_total_bytes() >> 20));
	return 0;
}

static int test_clock(void)
{
	for (int i = 0; i <= 6; i++) {
		klog("selftest clock: t=%llu", (unsigned long long)time_ns());
		time_delay_ns(500000000ull);
	}
	return 0;
}

static volatile int *volatile null_ptr = (volatile int *)16;

static void fault_on_ap(void *arg)
{
	*null_ptr = 1;
}

static int __attribute__((noinline)) recurse(int n)
{
	volatile char pad[512];
	pad[0] = (char)n;
	if (n == -1)
		return 0;
	return recurse(n + 1) + pad[0];
}

static int test_fault(const char *kind)
{
	klog("selftest: raising a deliberate fault (%s)", kind);
	if (!strcmp(kind, "null"))
		return *null_ptr;
	if (!strcmp(kind, "ud"))
		__asm__ volatile("ud2");
	if (!strcmp(kind, "gp"))                /* a non-canonical address */
		return *(volatile int *)(uintptr_t)0x8000000000000000ull;
	if (!strcmp(kind, "stack"))
		return recurse(0);
	if (!strcmp(kind, "panic"))
		panic("deliberate panic");
	if (!strcmp(kind, "ap")) {
		sched_call_sync(1, fault_on_ap, NULL, 5000000000ull);
		time_delay_ns(5000000000ull);
	}
	klog("selftest: unknown fault kind %s", kind);
	return -1;
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

int platform_selftest(const char *name)
{
	int rc = sched_selftest(name);
	if (rc != -ENOENT)
		return rc;
	atomic_store(&failures, 0);
	if (!strcmp(name, "errno")) rc = test_errno();
	else if (!strcmp(name, "redzone")) rc = test_redzone();
	else if (!strcmp(name, "libs")) rc = test_libs();
	else if (!strcmp(name, "memory")) rc = test_memory();
	else if (!strcmp(name, "clock")) rc = test_clock();
	else if (!strcmp(name, "rng")) rc = test_rng();
	else if (!strncmp(name, "fault-", 6)) rc = test_fault(name + 6);
	else {
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
