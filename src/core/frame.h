/*
 * frame.h — the physical frame allocator: one bit per 4 KiB frame over
 * [base, top), first fit for runs of frames with an alignment, so it
 * serves single pages, contiguous runs (mmap) and 2 MiB huge pages.
 * Pure logic: the caller provides the bitmap and any locking (on metal,
 * the platform layer holds a spinlock around it). Unit-tested on the host.
 */
#ifndef POLLUX_FRAME_H
#define POLLUX_FRAME_H
#include <stdint.h>
#include <stddef.h>

#define FRAME_SIZE 4096ull

struct frame_pool {
	uint64_t base;          /* physical address of frame 0 */
	size_t nframes;
	uint64_t *bits;         /* 1 = in use or not RAM */
	size_t nfree;
	size_t hint;            /* first frame that may be free */
};

size_t frame_pool_bitmap_bytes(uint64_t base, uint64_t top);
/* Starts with every frame in use; add RAM with frame_pool_add. */
void frame_pool_init(struct frame_pool *p, uint64_t base, uint64_t top, uint64_t *bits);
void frame_pool_add(struct frame_pool *p, uint64_t start, uint64_t end);
void frame_pool_take(struct frame_pool *p, uint64_t start, uint64_t end);
/* Returns the physical address of n contiguous frames aligned to
 * `align` bytes (a power of two, at least FRAME_SIZE), or 0 when none. */
uint64_t frame_pool_alloc(struct frame_pool *p, size_t n, uint64_t align);
/* Frees n frames at phys. Returns -EINVAL if any of them was not in use
 * or lies outside the pool (nothing is changed then). */
int frame_pool_free(struct frame_pool *p, uint64_t phys, size_t n);
#endif
