/*
 * test_memmap.c — building the RAM map from E820-style entries and
 * carving reservations out of it (src/core/memmap.c).
 */
#include <errno.h>
#include <criterion/criterion.h>
#include "core/memmap.h"
#include "stubs.h"

#define RES 2                   /* E820 "reserved" */
#define ACPI 3                  /* E820 "ACPI reclaimable": not RAM here */
#define KiB 1024ull
#define MiB (1024ull * KiB)
#define GiB (1024ull * MiB)

static struct memmap m;

/* Checks the map is exactly the n ranges in want (pairs start, end). */
static void expect_ranges(const struct memmap *mm, const uint64_t (*want)[2], int n)
{
	cr_assert_eq(mm->n, n, "expected %d ranges, got %d", n, mm->n);
	for (int i = 0; i < n; i++) {
		cr_assert_eq(mm->ram[i].start, want[i][0], "range %d start: 0x%llx, want 0x%llx",
			     i, (unsigned long long)mm->ram[i].start, (unsigned long long)want[i][0]);
		cr_assert_eq(mm->ram[i].end, want[i][1], "range %d end: 0x%llx, want 0x%llx",
			     i, (unsigned long long)mm->ram[i].end, (unsigned long long)want[i][1]);
	}
}

/* The invariants every successful build or reserve must keep. */
static void expect_well_formed(const struct memmap *mm)
{
	cr_assert(mm->n >= 0 && mm->n <= MEMMAP_MAX);
	for (int i = 0; i < mm->n; i++) {
		cr_assert_eq(mm->ram[i].start % 4096, 0, "range %d start unaligned", i);
		cr_assert_eq(mm->ram[i].end % 4096, 0, "range %d end unaligned", i);
		cr_assert_lt(mm->ram[i].start, mm->ram[i].end, "range %d empty", i);
		if (i)
			cr_assert_lt(mm->ram[i - 1].end, mm->ram[i].start,
				     "ranges %d and %d not sorted, disjoint and apart", i - 1, i);
	}
}

#define BUILD(...) do { \
	const struct memmap_entry e_[] = { __VA_ARGS__ }; \
	cr_assert_eq(memmap_build(&m, e_, sizeof e_ / sizeof e_[0]), 0); \
	expect_well_formed(&m); \
} while (0)
#define EXPECT(...) do { \
	const uint64_t w_[][2] = { __VA_ARGS__ }; \
	expect_ranges(&m, w_, (int)(sizeof w_ / sizeof w_[0])); \
} while (0)
#define E(a, s, t) { .addr = (a), .size = (s), .type = (t) }

Test(memmap, single_aligned_entry)
{
	BUILD(E(1 * MiB, 15 * MiB, MEMMAP_RAM));
	EXPECT({1 * MiB, 16 * MiB});
	cr_assert_eq(memmap_total(&m), 15 * MiB);
	cr_assert_eq(memmap_top(&m), 16 * MiB);
}

Test(memmap, unsorted_overlapping_ram_is_merged)
{
	BUILD(E(0x300000, 0x100000, MEMMAP_RAM),
	      E(0x800000, 0x1000, MEMMAP_RAM),
	      E(0x100000, 0x180000, MEMMAP_RAM),
	      E(0x200000, 0x180000, MEMMAP_RAM),       /* overlaps both above */
	      E(0x120000, 0x10000, MEMMAP_RAM));       /* inside the first */
	EXPECT({0x100000, 0x400000}, {0x800000, 0x801000});
}

Test(memmap, touching_ram_entries_merge)
{
	BUILD(E(0x2000, 0x1000, MEMMAP_RAM), E(0x1000, 0x1000, MEMMAP_RAM),
	      E(0x3000, 0x1000, MEMMAP_RAM));
	EXPECT({0x1000, 0x4000});
}

Test(memmap, one_entry_bridges_several_ranges)
{
	/* the bridging entry swallows three ranges; the fourth must move
	 * down to follow the merged one */
	BUILD(E(0x1000, 0x1000, MEMMAP_RAM), E(0x5000, 0x1000, MEMMAP_RAM),
	      E(0x9000, 0x1000, MEMMAP_RAM), E(0xc000, 0x1000, MEMMAP_RAM),
	      E(0x20000, 0x1000, MEMMAP_RAM),
	      E(0x1800, 0x8000, MEMMAP_RAM));          /* [0x1800, 0x9800) */
	EXPECT({0x1000, 0xa000}, {0xc000, 0xd000}, {0x20000, 0x21000});
}

Test(memmap, reserved_overlapping_ram_wins)
{
	BUILD(E(0x4000, 0x2000, RES),                  /* listed before the RAM */
	      E(0, 0x10000, MEMMAP_RAM),
	      E(0xf000, 0x3000, ACPI),                 /* cuts the top edge */
	      E(0x20000, 0x10000, MEMMAP_RAM),
	      E(0x1f000, 0x2000, RES));                /* cuts the bottom edge */
	EXPECT({0, 0x4000}, {0x6000, 0xf000}, {0x21000, 0x30000});
}

Test(memmap, unaligned_reserved_rounds_outward)
{
	/* a reserved byte anywhere in a page takes the whole page */
	BUILD(E(0, 0x10000, MEMMAP_RAM), E(0x4100, 0x1e00, RES));  /* [0x4100, 0x5f00) */
	EXPECT({0, 0x4000}, {0x6000, 0x10000});
}

Test(memmap, reserved_covering_a_whole_range_removes_it)
{
	BUILD(E(0x1000, 0x1000, MEMMAP_RAM), E(0x3000, 0x1000, MEMMAP_RAM),
	      E(0x5000, 0x1000, MEMMAP_RAM), E(0x2800, 0x2000, RES));
	EXPECT({0x1000, 0x2000}, {0x5000, 0x6000});
}

Test(memmap, unaligned_ram_shrinks_to_whole_pages)
{
	BUILD(E(0x1234, 0x4444, MEMMAP_RAM),           /* [0x1234, 0x5678) */
	      E(0x10100, 0xe00, MEMMAP_RAM),           /* inside one page: gone */
	      E(0x20800, 0x800, MEMMAP_RAM),           /* [0x20800, 0x21000) */
	      E(0x21000, 0x800, MEMMAP_RAM));          /* joins: [0x20800, 0x21800) */
	EXPECT({0x2000, 0x5000});
}

Test(memmap, unaligned_pieces_merge_before_shrinking)
{
	/* two halves of the same page, listed apart, make a whole page */
	BUILD(E(0x5800, 0x2800, MEMMAP_RAM), E(0x4000, 0x1800, MEMMAP_RAM));
	EXPECT({0x4000, 0x8000});
}

Test(memmap, zero_size_entries_are_ignored)
{
	BUILD(E(0x100000, 0, MEMMAP_RAM),
	      E(0, 0x10000, MEMMAP_RAM),
	      E(0x4100, 0, RES),                       /* would cut a page if rounded */
	      E(0x8000, 0, RES));
	EXPECT({0, 0x10000});
}

Test(memmap, no_ram_is_einval)
{
	const struct memmap_entry only_reserved[] = {
		E(0, 0x10000, RES), E(0x100000, 0x100000, ACPI),
	};
	cr_assert_eq(memmap_build(&m, only_reserved, 2), -EINVAL);
	cr_assert_eq(m.n, 0);
	cr_assert_eq(memmap_build(&m, NULL, 0), -EINVAL);

	const struct memmap_entry sub_page[] = { E(0x1100, 0x800, MEMMAP_RAM) };
	cr_assert_eq(memmap_build(&m, sub_page, 1), -EINVAL);

	const struct memmap_entry all_reserved[] = {
		E(0x100000, 0x100000, MEMMAP_RAM), E(0xff000, 0x102000, RES),
	};
	cr_assert_eq(memmap_build(&m, all_reserved, 2), -EINVAL);
	cr_assert_eq(memmap_total(&m), 0);
	cr_assert_eq(memmap_top(&m), 0);
}

static struct memmap_entry many[MEMMAP_MAX + 2];

static size_t disjoint_ram(size_t n)
{
	for (size_t i = 0; i < n; i++)
		many[i] = (struct memmap_entry)E(i * 0x10000, 0x8000, MEMMAP_RAM);
	return n;
}

Test(memmap, exactly_memmap_max_pieces_fit)
{
	cr_assert_eq(memmap_build(&m, many, disjoint_ram(MEMMAP_MAX)), 0);
	expect_well_formed(&m);
	cr_assert_eq(m.n, MEMMAP_MAX);
	cr_assert_eq(memmap_total(&m), MEMMAP_MAX * 0x8000ull);
}

Test(memmap, more_than_memmap_max_pieces_is_e2big)
{
	cr_assert_eq(memmap_build(&m, many, disjoint_ram(MEMMAP_MAX + 1)), -E2BIG);
	/* unsorted: the 65th piece arrives first */
	disjoint_ram(MEMMAP_MAX + 1);
	struct memmap_entry t = many[0];
	many[0] = many[MEMMAP_MAX];
	many[MEMMAP_MAX] = t;
	cr_assert_eq(memmap_build(&m, many, MEMMAP_MAX + 1), -E2BIG);
}

Test(memmap, reserved_splitting_past_memmap_max_is_e2big)
{
	size_t n = disjoint_ram(MEMMAP_MAX);
	many[n++] = (struct memmap_entry)E(0x3000, 0x1000, RES);   /* splits range 0 */
	cr_assert_eq(memmap_build(&m, many, n), -E2BIG);
}

Test(memmap, reserve_split_at_memmap_max_is_e2big_and_changes_nothing)
{
	cr_assert_eq(memmap_build(&m, many, disjoint_ram(MEMMAP_MAX)), 0);
	struct memmap before = m;
	cr_assert_eq(memmap_reserve(&m, 0x3000, 0x4000), -E2BIG);
	cr_assert_eq(memcmp(&before, &m, sizeof m), 0);
	/* cutting an edge needs no new slot, so it still works */
	cr_assert_eq(memmap_reserve(&m, 0, 0x1000), 0);
	cr_assert_eq(m.ram[0].start, 0x1000);
	cr_assert_eq(m.n, MEMMAP_MAX);
}

Test(memmap, reserve_splits_a_range_in_the_middle)
{
	BUILD(E(0, 16 * MiB, MEMMAP_RAM));
	cr_assert_eq(memmap_reserve(&m, 1 * MiB, 3 * MiB), 0);
	expect_well_formed(&m);
	EXPECT({0, 1 * MiB}, {3 * MiB, 16 * MiB});
	cr_assert_eq(memmap_total(&m), 14 * MiB);
}

Test(memmap, reserve_cuts_edges)
{
	BUILD(E(1 * MiB, 3 * MiB, MEMMAP_RAM), E(8 * MiB, 8 * MiB, MEMMAP_RAM));
	cr_assert_eq(memmap_reserve(&m, 0, 2 * MiB), 0);               /* low edge */
	cr_assert_eq(memmap_reserve(&m, 15 * MiB, 20 * MiB), 0);       /* high edge */
	cr_assert_eq(memmap_reserve(&m, 3 * MiB, 9 * MiB), 0);         /* both sides of a gap */
	expect_well_formed(&m);
	EXPECT({2 * MiB, 3 * MiB}, {9 * MiB, 15 * MiB});
}

Test(memmap, reserve_removes_whole_ranges)
{
	BUILD(E(0x1000, 0x1000, MEMMAP_RAM), E(0x3000, 0x1000, MEMMAP_RAM),
	      E(0x5000, 0x1000, MEMMAP_RAM), E(0x7000, 0x1000, MEMMAP_RAM));
	cr_assert_eq(memmap_reserve(&m, 0x3000, 0x6000), 0);   /* two adjacent ranges */
	EXPECT({0x1000, 0x2000}, {0x7000, 0x8000});
	cr_assert_eq(memmap_reserve(&m, 0, 0x10000), 0);       /* everything */
	cr_assert_eq(m.n, 0);
	cr_assert_eq(memmap_total(&m), 0);
	cr_assert_eq(memmap_top(&m), 0);
}

Test(memmap, reserve_rounds_outward_and_ignores_non_ram)
{
	BUILD(E(0, 0x10000, MEMMAP_RAM));
	cr_assert_eq(memmap_reserve(&m, 0x4fff, 0x5001), 0);   /* two pages */
	EXPECT({0, 0x4000}, {0x6000, 0x10000});
	cr_assert_eq(memmap_reserve(&m, 0x20000, 0x30000), 0); /* not RAM */
	cr_assert_eq(memmap_reserve(&m, 0x8000, 0x8000), 0);   /* empty */
	cr_assert_eq(memmap_reserve(&m, 0x9000, 0x8000), 0);   /* backwards */
	EXPECT({0, 0x4000}, {0x6000, 0x10000});
}

Test(memmap, reserve_up_to_the_end_of_the_address_space)
{
	/* e.g. "mem=4G": drop everything above 4 GiB with end = UINT64_MAX */
	BUILD(E(0, 2 * GiB, MEMMAP_RAM), E(4 * GiB, 4 * GiB, MEMMAP_RAM));
	cr_assert_eq(memmap_reserve(&m, 4 * GiB, UINT64_MAX), 0);
	EXPECT({0, 2 * GiB});
	cr_assert_eq(memmap_reserve(&m, 1 * GiB, UINT64_MAX - 100), 0);
	EXPECT({0, 1 * GiB});
}

Test(memmap, entry_wrapping_past_the_top_is_clamped)
{
	BUILD(E(UINT64_MAX - 0xfffff, 0x200000, MEMMAP_RAM));   /* end wraps */
	EXPECT({UINT64_MAX - 0xfffff, UINT64_MAX - 0xfff});
	BUILD(E(0, 0x10000, MEMMAP_RAM), E(0x8000, UINT64_MAX, RES));   /* end wraps */
	EXPECT({0, 0x8000});
}

Test(memmap, total_top_is_ram)
{
	BUILD(E(0, 0x4000, MEMMAP_RAM), E(0x10000, 0x10000, MEMMAP_RAM));
	cr_assert_eq(memmap_total(&m), 0x14000);
	cr_assert_eq(memmap_top(&m), 0x20000);

	cr_assert(memmap_is_ram(&m, 0, 0x4000));
	cr_assert(memmap_is_ram(&m, 0x1000, 0x2000));
	cr_assert(memmap_is_ram(&m, 0x10000, 0x20000));
	cr_assert(memmap_is_ram(&m, 0x1fff0, 0x20000));
	cr_assert_not(memmap_is_ram(&m, 0x3000, 0x5000));      /* runs off the end */
	cr_assert_not(memmap_is_ram(&m, 0x4000, 0x5000));      /* the hole */
	cr_assert_not(memmap_is_ram(&m, 0xf000, 0x11000));     /* starts in the hole */
	cr_assert_not(memmap_is_ram(&m, 0, 0x20000));          /* spans the hole */
	cr_assert_not(memmap_is_ram(&m, 0x20000, 0x21000));    /* above the top */
}

Test(memmap, qemu_q35_4g)
{
	/* what QEMU's q35 machine with -m 4G hands to a PVH kernel */
	BUILD(E(0x0, 0x9fc00, MEMMAP_RAM),
	      E(0x9fc00, 0x400, RES),
	      E(0xf0000, 0x10000, RES),
	      E(0x100000, 0x7ff00000, MEMMAP_RAM),
	      E(0xfeffc000, 0x4000, RES),
	      E(0x100000000, 0x80000000, MEMMAP_RAM));
	EXPECT({0x0, 0x9f000}, {0x100000, 0x80000000}, {0x100000000, 0x180000000});
	cr_assert_eq(memmap_total(&m), 0x9f000 + 0x7ff00000 + 0x80000000ull);
	cr_assert_eq(memmap_top(&m), 6 * GiB);
	cr_assert(memmap_is_ram(&m, 0x9e000, 0x9f000));
	cr_assert_not(memmap_is_ram(&m, 0x9f000, 0xa0000));    /* EBDA page */
	cr_assert_not(memmap_is_ram(&m, 0xfeffc000, 0xff000000));
	cr_assert_not(memmap_is_ram(&m, 0x80000000, 0x80001000));

	/* the kernel then reserves its image and the first megabyte */
	cr_assert_eq(memmap_reserve(&m, 0, 1 * MiB), 0);
	cr_assert_eq(memmap_reserve(&m, 1 * MiB, 0x1234567), 0);
	expect_well_formed(&m);
	EXPECT({0x1235000, 0x80000000}, {0x100000000, 0x180000000});
}
