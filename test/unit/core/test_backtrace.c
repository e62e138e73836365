/*
 * test_backtrace.c — the frame-pointer walk over a fake stack and a real
 * one, and the "bt: 0x..." line (src/core/backtrace.c).
 */
#include <pthread.h>
#include <criterion/criterion.h>
#include "core/backtrace.h"
#include "stubs.h"

/* A fake stack: frame k sits at stack[8 * k] as { saved fp, return
 * address }, each linking to the frame above it, as x86-64 lays them out. */
#define WORDS 64
static uintptr_t stack[WORDS] __attribute__((aligned(16)));
#define AT(i) ((uintptr_t)&stack[i])
#define LO AT(0)
#define HI ((uintptr_t)(stack + WORDS))

static void frame(int i, uintptr_t next, uintptr_t ret)
{
	stack[i] = next;
	stack[i + 1] = ret;
}

/* Five frames at words 0, 8, 16, 24, 32 returning to 0x1000 * (k + 1);
 * the last one's link is 0, which ends the walk. */
static void chain(void)
{
	memset(stack, 0, sizeof stack);
	for (int k = 0; k < 5; k++)
		frame(8 * k, k < 4 ? AT(8 * (k + 1)) : 0, 0x1000u * (k + 1));
}

static uintptr_t pcs[16];

static size_t walk(uintptr_t fp, uintptr_t lo, uintptr_t hi, size_t max)
{
	for (size_t i = 0; i < 16; i++)
		pcs[i] = 0xbad;
	cr_assert_leq(max, 16);
	return backtrace_walk(fp, lo, hi, pcs, max);
}

static void expect_pcs(size_t got, size_t n)
{
	cr_assert_eq(got, n, "walked %zu frames, want %zu", got, n);
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(pcs[i], 0x1000u * (i + 1), "pcs[%zu] = %#lx", i, (unsigned long)pcs[i]);
	cr_assert_eq(pcs[n], 0xbad, "wrote past the walk");
}

Test(backtrace, whole_chain)
{
	chain();
	expect_pcs(walk(AT(0), LO, HI, 16), 5);
}

Test(backtrace, starts_in_the_middle)
{
	chain();
	size_t n = walk(AT(16), LO, HI, 16);
	cr_assert_eq(n, 3);
	cr_assert_eq(pcs[0], 0x3000);
	cr_assert_eq(pcs[2], 0x5000);
}

Test(backtrace, respects_max)
{
	chain();
	expect_pcs(walk(AT(0), LO, HI, 2), 2);
	expect_pcs(walk(AT(0), LO, HI, 1), 1);
	expect_pcs(walk(AT(0), LO, HI, 0), 0);
}

Test(backtrace, stops_outside_the_bounds)
{
	chain();
	/* frame 2 links above hi */
	stack[16] = HI + 64;
	expect_pcs(walk(AT(0), LO, HI, 16), 3);
	/* frame 2 links to a frame whose second word would be past hi */
	stack[16] = HI - 8;
	expect_pcs(walk(AT(0), LO, HI, 16), 3);
	/* a frame that ends exactly at hi is inside */
	stack[16] = HI - 16;
	stack[WORDS - 2] = 0;
	stack[WORDS - 1] = 0x4000;
	expect_pcs(walk(AT(0), LO, HI, 16), 4);

	chain();
	/* the first frame below lo, or the range too small for one frame */
	expect_pcs(walk(AT(0), AT(2), HI, 16), 0);
	expect_pcs(walk(AT(0), LO, AT(1), 16), 0);
	expect_pcs(walk(AT(0), LO, LO, 16), 0);
	/* hi cut at frame 3: it and what follows are not read */
	expect_pcs(walk(AT(0), LO, AT(24) + 8, 16), 3);
	expect_pcs(walk(AT(0), LO, AT(24) + 16, 16), 4);
}

Test(backtrace, tiny_hi_does_not_wrap)
{
	/* hi below one frame's size: nothing lies inside, the walk must not
	 * read the (real, readable) memory fp points at */
	chain();
	expect_pcs(walk(AT(0), 0, 8, 16), 0);
	expect_pcs(walk(AT(0), 0, 0, 16), 0);
}

Test(backtrace, stops_at_a_misaligned_frame)
{
	chain();
	stack[8] = AT(16) + 4;                  /* frame 1 links off by 4 */
	expect_pcs(walk(AT(0), LO, HI, 16), 2);
	expect_pcs(walk(AT(0) + 1, LO, HI, 16), 0);
}

Test(backtrace, stops_at_a_non_increasing_link)
{
	chain();
	stack[16] = AT(8);                      /* frame 2 links back down: a loop */
	expect_pcs(walk(AT(0), LO, HI, 16), 3);
	stack[16] = AT(16);                     /* frame 2 links to itself */
	expect_pcs(walk(AT(0), LO, HI, 16), 3);
}

Test(backtrace, stops_at_a_zero_return_address)
{
	chain();
	stack[25] = 0;                          /* frame 3 returns nowhere */
	expect_pcs(walk(AT(0), LO, HI, 16), 3);
	stack[1] = 0;
	expect_pcs(walk(AT(0), LO, HI, 16), 0);
}

/* ---- a real walk through three nested calls */

static uintptr_t ra[3];
static size_t real_n;
static uintptr_t real_pcs[8];

static void stack_bounds(uintptr_t *lo, uintptr_t *hi)
{
	pthread_attr_t attr;
	void *addr;
	size_t size;
	cr_assert_eq(pthread_getattr_np(pthread_self(), &attr), 0);
	cr_assert_eq(pthread_attr_getstack(&attr, &addr, &size), 0);
	pthread_attr_destroy(&attr);
	*lo = (uintptr_t)addr;
	*hi = (uintptr_t)addr + size;
}

__attribute__((noinline, noclone)) static size_t level3(void)
{
	ra[2] = (uintptr_t)__builtin_return_address(0);
	uintptr_t fp = (uintptr_t)__builtin_frame_address(0), lo, hi;
	stack_bounds(&lo, &hi);
	cr_assert(fp >= lo && fp < hi, "the frame pointer is not on this thread's stack");
	real_n = backtrace_walk(fp, fp, hi, real_pcs, 8);
	__asm__ volatile("" ::: "memory");      /* no tail call */
	return real_n;
}

__attribute__((noinline, noclone)) static size_t level2(void)
{
	ra[1] = (uintptr_t)__builtin_return_address(0);
	size_t n = level3();
	__asm__ volatile("" ::: "memory");
	return n + 1;
}

__attribute__((noinline, noclone)) static size_t level1(void)
{
	ra[0] = (uintptr_t)__builtin_return_address(0);
	size_t n = level2();
	__asm__ volatile("" ::: "memory");
	return n + 1;
}

Test(backtrace, real_walk_through_nested_calls)
{
	cr_assert_eq(level1(), real_n + 2);
	cr_assert_geq(real_n, 3, "found only %zu frames", real_n);
	/* level3's frame holds the return into level2, and so on up */
	cr_assert_eq(real_pcs[0], ra[2], "pcs[0] %#lx, want %#lx", (unsigned long)real_pcs[0], (unsigned long)ra[2]);
	cr_assert_eq(real_pcs[1], ra[1], "pcs[1] %#lx, want %#lx", (unsigned long)real_pcs[1], (unsigned long)ra[1]);
	cr_assert_eq(real_pcs[2], ra[0], "pcs[2] %#lx, want %#lx", (unsigned long)real_pcs[2], (unsigned long)ra[0]);
	cr_assert_neq(ra[0], ra[1]);
	cr_assert_neq(ra[1], ra[2]);
}

/* ---- formatting */

static char buf[64];

static size_t fmt(size_t len, const uintptr_t *p, size_t n)
{
	memset(buf, 'X', sizeof buf);
	cr_assert_leq(len, sizeof buf);
	return backtrace_format(buf, len, p, n);
}

/* Checks the result is `want`, NUL-terminated, and nothing past len was touched. */
static void expect_text(size_t got, size_t len, const char *want)
{
	cr_assert_str_eq(buf, want);
	cr_assert_eq(got, strlen(want), "returned %zu for \"%s\"", got, want);
	for (size_t i = len; i < sizeof buf; i++)
		cr_assert_eq(buf[i], 'X', "wrote buf[%zu] with len %zu", i, len);
}

static const uintptr_t two[] = { 0x1000, 0xdeadbeef };

Test(backtrace, format_exact_text)
{
	expect_text(fmt(64, two, 2), 64, "bt: 0x1000 0xdeadbeef");
	expect_text(fmt(64, two, 1), 64, "bt: 0x1000");
	expect_text(fmt(64, two, 0), 64, "bt:");
	const uintptr_t k[] = { 0xffffffff81000000ul, 0x1, 0 };
	expect_text(fmt(64, k, 3), 64, "bt: 0xffffffff81000000 0x1 0x0");
}

Test(backtrace, format_truncates_at_a_whole_address)
{
	/* "bt: 0x1000 0xdeadbeef" is 21 characters */
	expect_text(fmt(22, two, 2), 22, "bt: 0x1000 0xdeadbeef");  /* just fits */
	expect_text(fmt(21, two, 2), 21, "bt: 0x1000");
	expect_text(fmt(12, two, 2), 12, "bt: 0x1000");
	expect_text(fmt(11, two, 2), 11, "bt: 0x1000");
	expect_text(fmt(10, two, 2), 10, "bt:");
	expect_text(fmt(4, two, 2), 4, "bt:");
}

Test(backtrace, format_into_tiny_buffers)
{
	expect_text(fmt(3, two, 2), 3, "bt");
	expect_text(fmt(2, two, 2), 2, "b");
	expect_text(fmt(1, two, 2), 1, "");
	memset(buf, 'X', sizeof buf);
	cr_assert_eq(backtrace_format(buf, 0, two, 2), 0);
	cr_assert_eq(buf[0], 'X', "len 0 writes nothing");
	cr_assert_eq(backtrace_format(NULL, 0, two, 2), 0);
}

Test(backtrace, format_many_addresses_fills_the_buffer)
{
	uintptr_t many[24];
	for (size_t i = 0; i < 24; i++)
		many[i] = 0xffffffff80000000ul + i;
	size_t n = fmt(64, many, 24);
	cr_assert_lt(n, 64);
	cr_assert_eq(buf[n], 0);
	cr_assert_eq(strlen(buf), n);
	/* "bt:" then whole " 0xffffffff8000000N" words of 19 characters */
	cr_assert_eq(n, 3 + 3 * 19);
	cr_assert_str_eq(buf + 3 + 2 * 19, " 0xffffffff80000002");
}
