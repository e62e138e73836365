/*
 * memmap.h — the machine's usable RAM as sorted, disjoint, page-aligned
 * ranges, built from a firmware memory map (PVH/E820 entries), with
 * reservations carved out (kernel image, boot data, low memory).
 * Pure logic: compiled and unit-tested on the host too.
 */
#ifndef POLLUX_MEMMAP_H
#define POLLUX_MEMMAP_H
#include <stdint.h>
#include <stddef.h>

#define MEMMAP_MAX 64
#define MEMMAP_RAM 1            /* E820 type of usable RAM */

struct memmap_entry {           /* layout of hvm_memmap_table_entry */
	uint64_t addr, size;
	uint32_t type, reserved;
};

struct mem_range { uint64_t start, end; };  /* [start, end) */

struct memmap {
	struct mem_range ram[MEMMAP_MAX];
	int n;
};

/* Builds the RAM ranges: RAM entries merged, any non-RAM entry wins where
 * they overlap, each range shrunk to whole 4 KiB pages. Returns 0, or
 * -EINVAL when the map holds no RAM, -E2BIG when it has too many pieces. */
int memmap_build(struct memmap *m, const struct memmap_entry *e, size_t n);
/* Removes [start, end) from the RAM ranges (page-rounded outward). */
int memmap_reserve(struct memmap *m, uint64_t start, uint64_t end);
uint64_t memmap_total(const struct memmap *m);
uint64_t memmap_top(const struct memmap *m);   /* highest RAM end */
int memmap_is_ram(const struct memmap *m, uint64_t start, uint64_t end);
#endif
