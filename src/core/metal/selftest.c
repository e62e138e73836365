/*
 * selftest.c — the metal platform's own tests: what only ring 0 on the
 * booted image can check. src/appliance/selftest.c chooses them by the
 * command line's `test=NAME` and runs the per-core ones on every core;
 * each runs on the calling core, prints what failed and returns 0, -1,
 * or -ENOENT for a name it does not know.
 *
 *   redzone-core  a sentinel below %rsp and XMM registers survive
 *                 `syscall` and an interrupt, on this core
 *   memory        frames, huge pages come back to the same count
 *   clock         prints the guest clock every 500 ms for 3 s
 *   fault-*       deliberate faults on this core: null, ud, gp, stack, panic
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "core/metal/metal.h"
#include "core/platform.h"

extern _Atomic uint64_t trap_test_count[POLLUX_MAX_CORES];

static _Atomic int failures;

#define CHECK(c, ...) do { if (!(c)) { klog("selftest: check failed: " __VA_ARGS__); \
	atomic_fetch_add(&failures, 1); } } while (0)

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
	klog("selftest: unknown fault kind %s", kind);
	return -1;
}

int platform_selftest(const char *name)
{
	int rc;
	atomic_store(&failures, 0);
	if (!strcmp(name, "redzone-core")) redzone_body(NULL), rc = 0;
	else if (!strcmp(name, "memory")) rc = test_memory();
	else if (!strcmp(name, "clock")) rc = test_clock();
	else if (!strncmp(name, "fault-", 6)) rc = test_fault(name + 6);
	else return -ENOENT;
	return rc == 0 && atomic_load(&failures) == 0 ? 0 : -1;
}
