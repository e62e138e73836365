/*
 * test_arena.c — the per-core bump allocator (src/core/arena.c; its API
 * is in core.h).
 */
#include <criterion/criterion.h>
#include "core/core.h"
#include "stubs.h"

static unsigned char mem[8192] __attribute__((aligned(4096)));
static struct arena a;

#define OFF(p) ((size_t)((unsigned char *)(p) - mem))

Test(arena, bumps_with_alignment)
{
	arena_init(&a, mem, 4096);
	cr_assert_eq(arena_free_bytes(&a), 4096);
	cr_assert_eq(arena_alloc(&a, 1, 1), mem);
	cr_assert_eq(OFF(arena_alloc(&a, 8, 8)), 8);
	cr_assert_eq(OFF(arena_alloc(&a, 3, 1)), 16);
	cr_assert_eq(OFF(arena_alloc(&a, 4, 4)), 20);
	cr_assert_eq(OFF(arena_alloc(&a, 10, 64)), 64);
	cr_assert_eq(arena_free_bytes(&a), 4096 - 74);
	cr_assert_eq(OFF(arena_alloc(&a, 1, CACHE_LINE)), 128);
	cr_assert_eq(OFF(arena_alloc(&a, 16, 2)), 130);
	cr_assert_eq(OFF(arena_alloc(&a, 0, 16)), 160, "size 0 is an aligned position");
	cr_assert_eq(OFF(arena_alloc(&a, 1, 16)), 160);
	cr_assert_eq(arena_free_bytes(&a), 4096 - 161);
}

Test(arena, alignment_from_an_unaligned_base)
{
	arena_init(&a, mem + 3, 1000);
	cr_assert_eq(arena_free_bytes(&a), 1000);
	cr_assert_eq(OFF(arena_alloc(&a, 1, 1)), 3);
	cr_assert_eq(OFF(arena_alloc(&a, 8, 8)), 8);
	cr_assert_eq(OFF(arena_alloc(&a, 1, 256)), 256);
	cr_assert_eq(arena_free_bytes(&a), 1003 - 257);
	for (size_t al = 1; al <= 256; al <<= 1) {
		void *p = arena_alloc(&a, 3, al);
		cr_assert_not_null(p, "align %zu", al);
		cr_assert_eq((uintptr_t)p % al, 0, "align %zu gave %p", al, p);
	}
	cr_assert_eq(OFF(a.cur), 771);
	cr_assert_null(arena_alloc(&a, 1, 512), "the next 512-aligned byte is past the end");
}

Test(arena, exhaustion_returns_null_and_keeps_the_arena)
{
	arena_init(&a, mem, 100);
	cr_assert_not_null(arena_alloc(&a, 60, 1));
	struct arena before = a;
	cr_assert_null(arena_alloc(&a, 41, 1));
	cr_assert_eq(memcmp(&a, &before, sizeof a), 0, "a failed alloc moved the arena");
	cr_assert_eq(arena_free_bytes(&a), 40);
	/* alignment padding counts: 40 bytes left, but 64-alignment leaves 36 */
	cr_assert_null(arena_alloc(&a, 37, 64));
	cr_assert_eq(memcmp(&a, &before, sizeof a), 0);
	/* still usable: exactly what is left */
	cr_assert_eq(OFF(arena_alloc(&a, 36, 64)), 64);
	cr_assert_eq(arena_free_bytes(&a), 0);
	cr_assert_null(arena_alloc(&a, 1, 1));
	cr_assert_eq(OFF(arena_alloc(&a, 0, 1)), 100, "a zero-size request at the end");
	cr_assert_eq(arena_free_bytes(&a), 0);
}

Test(arena, aligned_start_past_the_end)
{
	arena_init(&a, mem + 1, 200);
	struct arena before = a;
	cr_assert_null(arena_alloc(&a, 1, 256), "the first 256-aligned byte is past the end");
	cr_assert_null(arena_alloc(&a, 0, 4096));
	cr_assert_eq(memcmp(&a, &before, sizeof a), 0);
	cr_assert_eq(arena_alloc(&a, 1, 1), mem + 1);
}

Test(arena, bad_alignment_returns_null)
{
	arena_init(&a, mem, 4096);
	static const size_t bad[] = { 0, 3, 6, 12, 24, 48, 100, 4097, SIZE_MAX, SIZE_MAX / 2 };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		cr_assert_null(arena_alloc(&a, 8, bad[i]), "align %zu", bad[i]);
		cr_assert_eq(arena_free_bytes(&a), 4096, "align %zu used space", bad[i]);
	}
	cr_assert_eq(arena_alloc(&a, 8, 8), mem);
}

Test(arena, overflow_sized_requests)
{
	arena_init(&a, mem + 8, 4000);
	struct arena before = a;
	cr_assert_null(arena_alloc(&a, SIZE_MAX, 1));
	cr_assert_null(arena_alloc(&a, SIZE_MAX, 16));
	cr_assert_null(arena_alloc(&a, SIZE_MAX - 8, 8));
	cr_assert_null(arena_alloc(&a, (size_t)-(uintptr_t)mem, 1), "size that wraps cur + size to 0");
	cr_assert_null(arena_alloc(&a, 1, (size_t)1 << 63), "alignment rounding past the address space");
	cr_assert_null(arena_alloc(&a, 4001, 1));
	cr_assert_eq(memcmp(&a, &before, sizeof a), 0, "a refused request moved the arena");
	cr_assert_eq(arena_alloc(&a, 4000, 8), mem + 8);
	cr_assert_eq(arena_free_bytes(&a), 0);
}

Test(arena, arena_near_the_top_of_the_address_space)
{
	/* never dereferenced: only the arithmetic is checked */
	uintptr_t top = UINTPTR_MAX - 4095;             /* [top, UINTPTR_MAX) */
	arena_init(&a, (void *)top, 4095);
	cr_assert_eq(arena_free_bytes(&a), 4095);
	cr_assert_eq((uintptr_t)arena_alloc(&a, 100, 4096), top);
	cr_assert_null(arena_alloc(&a, 1, 4096), "rounding cur up wraps to 0");
	cr_assert_null(arena_alloc(&a, 1, (size_t)1 << 32));
	cr_assert_eq((uintptr_t)arena_alloc(&a, 8, 8), top + 104);
	cr_assert_eq(arena_free_bytes(&a), 4095 - 112);
}

Test(arena, allocations_never_overlap)
{
	arena_init(&a, mem, sizeof mem);
	memset(mem, 0, sizeof mem);
	uint64_t r = 12345;
	size_t total = 0;
	for (;;) {
		r = r * 6364136223846793005ull + 1442695040888963407ull;
		size_t size = (r >> 33) % 200, align = (size_t)1 << ((r >> 20) % 8);
		size_t left = arena_free_bytes(&a);
		unsigned char *p = arena_alloc(&a, size, align);
		if (!p) {
			cr_assert_eq(arena_free_bytes(&a), left);
			break;
		}
		cr_assert_eq((uintptr_t)p % align, 0);
		cr_assert(p >= mem && p + size <= mem + sizeof mem);
		for (size_t i = 0; i < size; i++) {
			if (p[i])
				cr_assert_fail("byte %zu handed out twice", OFF(p + i));
			p[i] = 1;
		}
		total += size;
	}
	cr_assert_gt(total, sizeof mem / 2);
}
