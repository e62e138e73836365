/*
 * frame.c — bitmap frame allocator. See frame.h.
 */
#include <errno.h>
#include <string.h>
#include "core/frame.h"

static int bit(const struct frame_pool *p, size_t i) { return (p->bits[i / 64] >> (i % 64)) & 1; }
static void set(struct frame_pool *p, size_t i) { p->bits[i / 64] |= 1ull << (i % 64); }
static void clr(struct frame_pool *p, size_t i) { p->bits[i / 64] &= ~(1ull << (i % 64)); }

size_t frame_pool_bitmap_bytes(uint64_t base, uint64_t top)
{
	size_t n = (top - base) / FRAME_SIZE;
	return (n + 63) / 64 * 8;
}

void frame_pool_init(struct frame_pool *p, uint64_t base, uint64_t top, uint64_t *bits)
{
	p->base = base;
	p->nframes = (top - base) / FRAME_SIZE;
	p->bits = bits;
	p->nfree = 0;
	p->hint = 0;
	memset(bits, 0xff, frame_pool_bitmap_bytes(base, top));
}

/* Clamps [start, end) to whole frames inside the pool: [*a, *b). */
static int span(const struct frame_pool *p, uint64_t start, uint64_t end, int inward, size_t *a, size_t *b)
{
	uint64_t lo = p->base, hi = p->base + p->nframes * FRAME_SIZE;
	if (start < lo) start = lo;
	if (end > hi) end = hi;
	if (start >= end)
		return -1;
	if (inward) {
		*a = (start - lo + FRAME_SIZE - 1) / FRAME_SIZE;
		*b = (end - lo) / FRAME_SIZE;
	} else {
		*a = (start - lo) / FRAME_SIZE;
		*b = (end - lo + FRAME_SIZE - 1) / FRAME_SIZE;
	}
	return *a < *b ? 0 : -1;
}

void frame_pool_add(struct frame_pool *p, uint64_t start, uint64_t end)
{
	size_t a, b;
	if (span(p, start, end, 1, &a, &b))
		return;
	for (size_t i = a; i < b; i++)
		if (bit(p, i)) {
			clr(p, i);
			p->nfree++;
		}
	if (a < p->hint)
		p->hint = a;
}

void frame_pool_take(struct frame_pool *p, uint64_t start, uint64_t end)
{
	size_t a, b;
	if (span(p, start, end, 0, &a, &b))
		return;
	for (size_t i = a; i < b; i++)
		if (!bit(p, i)) {
			set(p, i);
			p->nfree--;
		}
}

uint64_t frame_pool_alloc(struct frame_pool *p, size_t n, uint64_t align)
{
	if (n == 0 || n > p->nfree)
		return 0;
	if (align < FRAME_SIZE)
		align = FRAME_SIZE;
	size_t step = align / FRAME_SIZE;
	/* first frame index >= hint whose address is aligned */
	uint64_t addr = p->base + p->hint * FRAME_SIZE;
	addr = (addr + align - 1) & ~(align - 1);
	size_t i = (addr - p->base) / FRAME_SIZE;
	int advance_hint = (n == 1 && step == 1);
	while (i + n <= p->nframes) {
		/* skip whole used words quickly when looking for single pages */
		if (step == 1 && (i % 64) == 0 && p->bits[i / 64] == ~0ull) {
			i += 64;
			continue;
		}
		size_t k = 0;
		while (k < n && !bit(p, i + k))
			k++;
		if (k == n) {
			for (k = 0; k < n; k++)
				set(p, i + k);
			p->nfree -= n;
			if (advance_hint)
				p->hint = i + 1;
			return p->base + i * FRAME_SIZE;
		}
		/* jump past the used frame, then realign */
		size_t next = i + k + 1;
		i = (next + step - 1) / step * step;
		if (p->base % align) {
			uint64_t a2 = (p->base + next * FRAME_SIZE + align - 1) & ~(align - 1);
			i = (a2 - p->base) / FRAME_SIZE;
		}
	}
	return 0;
}

int frame_pool_free(struct frame_pool *p, uint64_t phys, size_t n)
{
	if (phys < p->base || (phys - p->base) % FRAME_SIZE)
		return -EINVAL;
	size_t a = (phys - p->base) / FRAME_SIZE;
	if (a + n > p->nframes || a + n < a)
		return -EINVAL;
	for (size_t i = a; i < a + n; i++)
		if (!bit(p, i))
			return -EINVAL;
	for (size_t i = a; i < a + n; i++)
		clr(p, i);
	p->nfree += n;
	if (a < p->hint)
		p->hint = a;
	return 0;
}
