/*
 * arena.c — a per-core bump allocator for start-up allocations (pools,
 * rings, tables). Only the owning core allocates from its arena; nothing
 * is ever freed back, so there is no locking and no fragmentation.
 */
#include "core/core.h"

void arena_init(struct arena *a, void *base, size_t size)
{
	a->base = a->cur = (uintptr_t)base;
	a->end = a->base + size;
}

void *arena_alloc(struct arena *a, size_t size, size_t align)
{
	if (align == 0 || (align & (align - 1)))
		return NULL;
	uintptr_t p = (a->cur + align - 1) & ~(uintptr_t)(align - 1);
	if (p < a->cur || p > a->end || size > a->end - p)
		return NULL;
	a->cur = p + size;
	return (void *)p;
}

size_t arena_free_bytes(const struct arena *a) { return a->end - a->cur; }
