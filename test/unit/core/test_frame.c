/*
 * test_frame.c — the bitmap frame allocator (src/core/frame.c): ranges
 * added and taken, single pages, runs, 2 MiB-aligned runs, refused frees,
 * and a randomized run against a byte-per-frame reference model.
 */
#include <errno.h>
#include <criterion/criterion.h>
#include "core/frame.h"
#include "stubs.h"

#define FS FRAME_SIZE
#define MiB (1024ull * 1024)
#define HUGE (2 * MiB)

static struct frame_pool p;
static uint64_t bits[1024];     /* room for 65536 frames */

/* Frames marked used in the bitmap, counting only [0, nframes). */
static size_t used_bits(const struct frame_pool *fp)
{
	size_t n = 0;
	for (size_t i = 0; i < fp->nframes; i++)
		n += (fp->bits[i / 64] >> (i % 64)) & 1;
	return n;
}

static int used(const struct frame_pool *fp, size_t i) { return (fp->bits[i / 64] >> (i % 64)) & 1; }

static void expect_consistent(const struct frame_pool *fp)
{
	cr_assert_eq(fp->nfree, fp->nframes - used_bits(fp),
		     "nfree %zu but the bitmap has %zu free frames", fp->nfree, fp->nframes - used_bits(fp));
}

/* A pool over [base, base + n frames) with all of it added. */
static void pool(uint64_t base, size_t n)
{
	cr_assert_leq(frame_pool_bitmap_bytes(base, base + n * FS), sizeof bits);
	frame_pool_init(&p, base, base + n * FS, bits);
	frame_pool_add(&p, base, base + n * FS);
	cr_assert_eq(p.nfree, n);
	expect_consistent(&p);
}

Test(frame, bitmap_bytes)
{
	cr_assert_eq(frame_pool_bitmap_bytes(0, 0), 0);
	cr_assert_eq(frame_pool_bitmap_bytes(0, FS), 8);
	cr_assert_eq(frame_pool_bitmap_bytes(MiB, MiB + 64 * FS), 8);
	cr_assert_eq(frame_pool_bitmap_bytes(MiB, MiB + 65 * FS), 16);
	cr_assert_eq(frame_pool_bitmap_bytes(0, 4096 * MiB), (1u << 20) / 8);
}

Test(frame, init_starts_all_used)
{
	memset(bits, 0, sizeof bits);
	frame_pool_init(&p, MiB, MiB + 100 * FS, bits);
	cr_assert_eq(p.base, MiB);
	cr_assert_eq(p.nframes, 100);
	cr_assert_eq(p.nfree, 0);
	cr_assert_eq(used_bits(&p), 100);
	cr_assert_eq(bits[2], 0, "init wrote past its bitmap");
	cr_assert_eq(frame_pool_alloc(&p, 1, FS), 0);
	expect_consistent(&p);
}

Test(frame, add_and_take)
{
	frame_pool_init(&p, MiB, MiB + 64 * FS, bits);
	frame_pool_add(&p, MiB, MiB + 16 * FS);
	cr_assert_eq(p.nfree, 16);
	frame_pool_add(&p, MiB + 8 * FS, MiB + 24 * FS);       /* overlaps: counted once */
	cr_assert_eq(p.nfree, 24);
	expect_consistent(&p);

	/* add rounds inward: only frames 40 and 41 are wholly inside */
	frame_pool_add(&p, MiB + 39 * FS + 1, MiB + 42 * FS + 1);
	cr_assert_eq(p.nfree, 26);
	cr_assert(!used(&p, 40) && !used(&p, 41));
	cr_assert(used(&p, 39) && used(&p, 42));

	/* add clamps to the pool */
	frame_pool_add(&p, 0, MiB + FS);                       /* frame 0: already free */
	frame_pool_add(&p, MiB + 63 * FS, MiB + 1000 * FS);    /* frame 63 */
	frame_pool_add(&p, MiB + 64 * FS, MiB + 1000 * FS);    /* above the pool */
	frame_pool_add(&p, 0, MiB);                            /* below the pool */
	frame_pool_add(&p, MiB + 50 * FS, MiB + 50 * FS + 100);/* less than a frame */
	cr_assert_eq(p.nfree, 27);
	expect_consistent(&p);

	/* take rounds outward: frames 2..4 */
	frame_pool_take(&p, MiB + 2 * FS + 1, MiB + 4 * FS + 1);
	cr_assert_eq(p.nfree, 24);
	cr_assert(used(&p, 2) && used(&p, 3) && used(&p, 4));
	cr_assert(!used(&p, 1) && !used(&p, 5));
	frame_pool_take(&p, MiB, MiB + 5 * FS);                /* 0..4; 2..4 already taken */
	cr_assert_eq(p.nfree, 22);
	frame_pool_take(&p, MiB + 30 * FS, MiB + 35 * FS);     /* never added */
	cr_assert_eq(p.nfree, 22);
	frame_pool_take(&p, MiB + 63 * FS, ~0ull);             /* clamped */
	cr_assert_eq(p.nfree, 21);
	expect_consistent(&p);

	/* allocation serves only what was added and not taken */
	uint64_t a = frame_pool_alloc(&p, 1, FS);
	cr_assert_eq(a, MiB + 5 * FS);
}

Test(frame, single_pages_first_fit)
{
	pool(MiB, 200);
	for (size_t i = 0; i < 10; i++)
		cr_assert_eq(frame_pool_alloc(&p, 1, FS), MiB + i * FS);
	cr_assert_eq(p.nfree, 190);
	cr_assert_eq(frame_pool_free(&p, MiB + 4 * FS, 1), 0);
	cr_assert_eq(frame_pool_free(&p, MiB + 7 * FS, 1), 0);
	cr_assert_eq(frame_pool_alloc(&p, 1, FS), MiB + 4 * FS);   /* the lowest hole */
	cr_assert_eq(frame_pool_alloc(&p, 1, FS), MiB + 7 * FS);
	cr_assert_eq(frame_pool_alloc(&p, 1, FS), MiB + 10 * FS);
	/* align below a frame means a frame */
	cr_assert_eq(frame_pool_alloc(&p, 1, 0), MiB + 11 * FS);
	cr_assert_eq(frame_pool_alloc(&p, 1, 1), MiB + 12 * FS);
	cr_assert_eq(frame_pool_alloc(&p, 0, FS), 0, "n = 0 allocates nothing");
	cr_assert_eq(p.nfree, 187);
	expect_consistent(&p);
}

Test(frame, single_pages_skip_full_words)
{
	pool(4 * MiB, 300);
	frame_pool_take(&p, 4 * MiB, 4 * MiB + 192 * FS);      /* three full bitmap words */
	frame_pool_add(&p, 4 * MiB + 100 * FS, 4 * MiB + 101 * FS);    /* one free frame in them */
	cr_assert_eq(frame_pool_alloc(&p, 1, FS), 4 * MiB + 100 * FS);
	cr_assert_eq(frame_pool_alloc(&p, 1, FS), 4 * MiB + 192 * FS);
	cr_assert_eq(frame_pool_alloc(&p, 1, FS), 4 * MiB + 193 * FS);
	expect_consistent(&p);
}

Test(frame, runs_first_fit)
{
	pool(MiB, 64);
	/* used: 0, 3, 7..8; free holes: 1-2, 4-6, 9.. */
	frame_pool_take(&p, MiB, MiB + FS);
	frame_pool_take(&p, MiB + 3 * FS, MiB + 4 * FS);
	frame_pool_take(&p, MiB + 7 * FS, MiB + 9 * FS);
	cr_assert_eq(frame_pool_alloc(&p, 3, FS), MiB + 4 * FS);
	cr_assert_eq(frame_pool_alloc(&p, 2, FS), MiB + 1 * FS);
	cr_assert_eq(frame_pool_alloc(&p, 5, FS), MiB + 9 * FS);
	cr_assert_eq(frame_pool_alloc(&p, 50, FS), MiB + 14 * FS);
	cr_assert_eq(p.nfree, 0);
	cr_assert_eq(frame_pool_alloc(&p, 1, FS), 0);
	expect_consistent(&p);
	/* a run can be freed and reused as a whole */
	cr_assert_eq(frame_pool_free(&p, MiB + 9 * FS, 5), 0);
	cr_assert_eq(frame_pool_alloc(&p, 5, FS), MiB + 9 * FS);
}

Test(frame, aligned_runs)
{
	pool(MiB + FS, 200);                           /* base 0x101000 */
	cr_assert_eq(frame_pool_alloc(&p, 1, 16 * FS), MiB + 16 * FS);
	cr_assert_eq(frame_pool_alloc(&p, 3, 8 * FS), MiB + 8 * FS);
	cr_assert_eq(frame_pool_alloc(&p, 1, FS), MiB + FS);
	cr_assert_eq(frame_pool_alloc(&p, 2, 2 * FS), MiB + 2 * FS);
	cr_assert_eq(frame_pool_alloc(&p, 1, 2 * FS), MiB + 4 * FS);
	expect_consistent(&p);
}

Test(frame, huge_pages_from_an_unaligned_base)
{
	/* [1 MiB, 9 MiB): the 2 MiB-aligned runs are at 2, 4 and 6 MiB */
	pool(MiB, 8 * MiB / FS);
	cr_assert_eq(frame_pool_alloc(&p, 512, HUGE), 2 * MiB);
	cr_assert_eq(frame_pool_alloc(&p, 512, HUGE), 4 * MiB);
	cr_assert_eq(frame_pool_alloc(&p, 512, HUGE), 6 * MiB);
	cr_assert_eq(frame_pool_alloc(&p, 512, HUGE), 0, "[8, 9) MiB is too short");
	cr_assert_eq(p.nfree, 256 + 256);
	/* the unaligned edges still serve small allocations */
	cr_assert_eq(frame_pool_alloc(&p, 1, FS), MiB);
	cr_assert_eq(frame_pool_alloc(&p, 256, FS), 8 * MiB);
	expect_consistent(&p);
	cr_assert_eq(frame_pool_free(&p, 4 * MiB, 512), 0);
	cr_assert_eq(frame_pool_alloc(&p, 512, HUGE), 4 * MiB);
}

Test(frame, huge_page_skips_a_run_with_a_used_frame)
{
	pool(MiB, 16 * MiB / FS);                      /* [1, 17) MiB */
	frame_pool_take(&p, 2 * MiB + 5 * FS, 2 * MiB + 6 * FS);
	frame_pool_take(&p, 4 * MiB + 511 * FS, 4 * MiB + 512 * FS);
	cr_assert_eq(frame_pool_alloc(&p, 512, HUGE), 6 * MiB);
	/* a single page taken first does not block the next huge page */
	cr_assert_eq(frame_pool_alloc(&p, 1, FS), MiB);
	cr_assert_eq(frame_pool_alloc(&p, 512, HUGE), 8 * MiB);
	expect_consistent(&p);
}

Test(frame, huge_page_from_an_aligned_base)
{
	pool(4 * MiB, 4 * MiB / FS);                   /* [4, 8) MiB */
	cr_assert_eq(frame_pool_alloc(&p, 1, FS), 4 * MiB);
	cr_assert_eq(frame_pool_alloc(&p, 512, HUGE), 6 * MiB);
	cr_assert_eq(frame_pool_alloc(&p, 512, HUGE), 0, "[4, 6) MiB has a frame out");
	cr_assert_eq(frame_pool_free(&p, 6 * MiB, 512), 0);
	cr_assert_eq(frame_pool_alloc(&p, 512, HUGE), 6 * MiB);
	cr_assert_eq(frame_pool_free(&p, 4 * MiB, 1), 0);
	cr_assert_eq(frame_pool_alloc(&p, 512, HUGE), 4 * MiB);
	cr_assert_eq(p.nfree, 0);
	expect_consistent(&p);
}

Test(frame, exhaustion_returns_zero)
{
	pool(MiB, 100);
	cr_assert_eq(frame_pool_alloc(&p, 101, FS), 0);
	cr_assert_eq(p.nfree, 100);
	for (size_t i = 0; i < 100; i++)
		cr_assert_neq(frame_pool_alloc(&p, 1, FS), 0);
	cr_assert_eq(frame_pool_alloc(&p, 1, FS), 0);
	cr_assert_eq(p.nfree, 0);
	expect_consistent(&p);
	/* enough free frames in total, but no run long enough */
	for (size_t i = 1; i < 100; i += 2)
		cr_assert_eq(frame_pool_free(&p, MiB + i * FS, 1), 0);
	cr_assert_eq(p.nfree, 50);
	cr_assert_eq(frame_pool_alloc(&p, 2, FS), 0);
	cr_assert_eq(frame_pool_alloc(&p, 1, 2 * FS), 0, "every free frame is 8 KiB-misaligned");
	cr_assert_eq(p.nfree, 50);
	expect_consistent(&p);
	/* a failed allocation does not spoil the next one */
	cr_assert_eq(frame_pool_alloc(&p, 1, FS), MiB + FS);
}

Test(frame, bad_free_is_einval_and_changes_nothing)
{
	pool(MiB, 128);
	uint64_t a = frame_pool_alloc(&p, 4, FS);
	cr_assert_eq(a, MiB);
	static uint64_t before[sizeof bits / sizeof bits[0]];
	memcpy(before, bits, sizeof bits);
	struct frame_pool pb = p;

	struct { uint64_t phys; size_t n; const char *what; } bad[] = {
		{ MiB + 10 * FS, 1, "never allocated" },
		{ MiB + 2 * FS, 3, "run reaching a free frame" },
		{ MiB - FS, 1, "below the pool" },
		{ 0, 1, "address 0" },
		{ MiB + 128 * FS, 1, "just above the pool" },
		{ MiB + 127 * FS, 2, "run crossing the top" },
		{ MiB + FS + 8, 1, "unaligned" },
		{ MiB, SIZE_MAX, "huge n" },
		{ MiB + FS, SIZE_MAX, "n wrapping the index" },
		{ ~0ull & ~(FS - 1), 1, "far above the pool" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		cr_assert_eq(frame_pool_free(&p, bad[i].phys, bad[i].n), -EINVAL, "%s", bad[i].what);
		cr_assert_eq(memcmp(before, bits, sizeof bits), 0, "%s changed the bitmap", bad[i].what);
		cr_assert_eq(p.nfree, pb.nfree, "%s changed nfree", bad[i].what);
		cr_assert_eq(p.hint, pb.hint, "%s changed the hint", bad[i].what);
	}
	expect_consistent(&p);
	cr_assert_eq(frame_pool_free(&p, a, 4), 0);
	cr_assert_eq(p.nfree, 128);
}

Test(frame, double_free_refused)
{
	pool(MiB, 64);
	uint64_t a = frame_pool_alloc(&p, 1, FS);
	uint64_t b = frame_pool_alloc(&p, 8, FS);
	cr_assert_eq(frame_pool_free(&p, a, 1), 0);
	cr_assert_eq(frame_pool_free(&p, a, 1), -EINVAL);
	cr_assert_eq(frame_pool_free(&p, b, 8), 0);
	cr_assert_eq(frame_pool_free(&p, b + 3 * FS, 1), -EINVAL);
	cr_assert_eq(p.nfree, 64);
	expect_consistent(&p);
	/* and a frame reallocated after a free can be freed once more */
	cr_assert_eq(frame_pool_alloc(&p, 1, FS), a);
	cr_assert_eq(frame_pool_free(&p, a, 1), 0);
	cr_assert_eq(frame_pool_free(&p, a, 1), -EINVAL);
}

/* ---- randomized, against a reference model: one byte per frame */

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

#define NF 2048
enum { FREE = 0, NOT_RAM = 1 };         /* larger values: an allocation's tag */
static uint8_t model[NF];
struct live { uint64_t phys; size_t n; uint8_t tag; };
static struct live lives[NF];
static size_t nlive;

/* The first aligned run of n free frames in the model, as a frame index,
 * or -1: a first-fit allocator must return exactly this one. */
static long model_first_fit(uint64_t base, size_t n, uint64_t align)
{
	for (size_t i = 0; i + n <= NF; i++) {
		if ((base + i * FS) % align)
			continue;
		size_t k = 0;
		while (k < n && model[i + k] == FREE)
			k++;
		if (k == n)
			return (long)i;
	}
	return -1;
}

Test(frame, randomized_against_a_model)
{
	const uint64_t base = 2 * MiB - 16 * FS;       /* not 2 MiB aligned */
	frame_pool_init(&p, base, base + NF * FS, bits);
	memset(model, NOT_RAM, sizeof model);
	/* RAM with a few holes, as a memory map would give */
	const size_t ram[][2] = { {0, 300}, {310, 1100}, {1101, 1700}, {1710, NF} };
	for (size_t r = 0; r < sizeof ram / sizeof ram[0]; r++) {
		frame_pool_add(&p, base + ram[r][0] * FS, base + ram[r][1] * FS);
		memset(model + ram[r][0], FREE, ram[r][1] - ram[r][0]);
	}
	const size_t start_free = p.nfree;
	cr_assert_eq(start_free, NF - 10 - 1 - 10);
	expect_consistent(&p);

	static const uint64_t aligns[] = { FS, FS, FS, 2 * FS, 16 * FS, 64 * FS, HUGE };
	uint8_t next_tag = 2;
	size_t allocs = 0, refused = 0;
	for (int op = 0; op < 4000; op++) {
		uint64_t r = rnd();
		int do_alloc = nlive == 0 || (r % 100) < 55;
		if (do_alloc) {
			uint64_t align = aligns[(r >> 8) % (sizeof aligns / sizeof aligns[0])];
			size_t n;
			if (align == HUGE)
				n = 512;
			else if ((r >> 16) % 4 == 0)
				n = 1 + (r >> 20) % 64;
			else
				n = 1 + (r >> 20) % 4;
			long want = model_first_fit(base, n, align);
			uint64_t a = frame_pool_alloc(&p, n, align);
			if (want < 0) {
				cr_assert_eq(a, 0, "op %d: alloc(%zu, %#llx) = %#llx, the model has no room",
					     op, n, (unsigned long long)align, (unsigned long long)a);
				refused++;
				continue;
			}
			cr_assert_eq(a, base + (uint64_t)want * FS,
				     "op %d: alloc(%zu, %#llx) = %#llx, first fit is %#llx", op, n,
				     (unsigned long long)align, (unsigned long long)a,
				     (unsigned long long)(base + (uint64_t)want * FS));
			cr_assert_eq(a % align, 0);
			cr_assert(a >= base && a + n * FS <= base + NF * FS);
			size_t i = (a - base) / FS;
			for (size_t k = 0; k < n; k++) {
				if (model[i + k] != FREE)
					cr_assert_fail("op %d: frame %zu handed out twice", op, i + k);
				model[i + k] = next_tag;
			}
			lives[nlive++] = (struct live){ a, n, next_tag };
			next_tag = next_tag == 255 ? 2 : next_tag + 1;
			allocs++;
		} else {
			size_t j = (r >> 8) % nlive;
			struct live l = lives[j];
			if ((r >> 32) % 8 == 0) {
				/* a bad free first: one frame past the run, if free */
				size_t after = (l.phys - base) / FS + l.n;
				if (after < NF && model[after] == FREE)
					cr_assert_eq(frame_pool_free(&p, l.phys, l.n + 1), -EINVAL, "op %d", op);
			}
			cr_assert_eq(frame_pool_free(&p, l.phys, l.n), 0, "op %d", op);
			size_t i = (l.phys - base) / FS;
			for (size_t k = 0; k < l.n; k++) {
				cr_assert_eq(model[i + k], l.tag);
				model[i + k] = FREE;
			}
			cr_assert_eq(frame_pool_free(&p, l.phys, 1), -EINVAL, "op %d: double free", op);
			lives[j] = lives[--nlive];
		}
		size_t model_free = 0;
		for (size_t i = 0; i < NF; i++) {
			model_free += model[i] == FREE;
			if (used(&p, i) != (model[i] != FREE))
				cr_assert_fail("op %d: frame %zu is %s in the bitmap, %s in the model", op, i,
					       used(&p, i) ? "used" : "free", model[i] == FREE ? "free" : "used");
		}
		cr_assert_eq(p.nfree, model_free, "op %d", op);
		expect_consistent(&p);
	}
	cr_assert_gt(allocs, 1000);
	cr_assert_gt(refused, 0, "the run never filled the pool");

	/* free everything: the pool is whole again */
	while (nlive) {
		struct live l = lives[--nlive];
		cr_assert_eq(frame_pool_free(&p, l.phys, l.n), 0);
	}
	cr_assert_eq(p.nfree, start_free);
	expect_consistent(&p);
	/* and every frame is reusable: single pages take all of it, in order */
	size_t got = 0;
	uint64_t prev = 0, a;
	while ((a = frame_pool_alloc(&p, 1, FS)) != 0) {
		cr_assert(got == 0 || a > prev, "single pages out of order");
		prev = a;
		got++;
	}
	cr_assert_eq(got, start_free);
	cr_assert_eq(p.nfree, 0);
	expect_consistent(&p);
}
