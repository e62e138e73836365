/*
 * memmap.c — building the RAM map from firmware entries. See memmap.h.
 *
 * The firmware may list overlapping, unsorted and unaligned entries; the
 * result is always sorted, disjoint and page-aligned, so the frame
 * allocator can trust it.
 */
#include <errno.h>
#include "core/memmap.h"

#define PAGE 4096ull

static uint64_t up(uint64_t x) { return (x + PAGE - 1) & ~(PAGE - 1); }
static uint64_t down(uint64_t x) { return x & ~(PAGE - 1); }
/* up() for the end of a cut: one in the last page of the address space
 * stays as it is instead of wrapping to 0 (RAM never reaches that page). */
static uint64_t up_end(uint64_t x) { return x > UINT64_MAX - PAGE ? x : up(x); }

/* Inserts [s, e) keeping the list sorted and merged. */
static int add_range(struct memmap *m, uint64_t s, uint64_t e)
{
	if (s >= e)
		return 0;
	int i = 0;
	while (i < m->n && m->ram[i].end < s)
		i++;
	/* merge with every range that overlaps or touches [s, e) */
	int j = i;
	while (j < m->n && m->ram[j].start <= e) {
		if (m->ram[j].start < s) s = m->ram[j].start;
		if (m->ram[j].end > e) e = m->ram[j].end;
		j++;
	}
	int removed = j - i;
	if (removed == 0) {
		if (m->n == MEMMAP_MAX)
			return -E2BIG;
		for (int k = m->n; k > i; k--)
			m->ram[k] = m->ram[k - 1];
		m->n++;
	} else {
		for (int k = i + 1; k + removed - 1 < m->n; k++)
			m->ram[k] = m->ram[k + removed - 1];
		m->n -= removed - 1;
	}
	m->ram[i].start = s;
	m->ram[i].end = e;
	return 0;
}

static int cut_range(struct memmap *m, uint64_t s, uint64_t e)
{
	if (s >= e)
		return 0;
	for (int i = 0; i < m->n; i++) {
		struct mem_range r = m->ram[i];
		if (r.end <= s || r.start >= e)
			continue;
		if (r.start < s && r.end > e) {         /* split in two */
			if (m->n == MEMMAP_MAX)
				return -E2BIG;
			for (int k = m->n; k > i + 1; k--)
				m->ram[k] = m->ram[k - 1];
			m->n++;
			m->ram[i].end = s;
			m->ram[i + 1].start = e;
			m->ram[i + 1].end = r.end;
			return 0;
		}
		if (r.start < s) {
			m->ram[i].end = s;
		} else if (r.end > e) {
			m->ram[i].start = e;
		} else {                                /* fully covered */
			for (int k = i; k + 1 < m->n; k++)
				m->ram[k] = m->ram[k + 1];
			m->n--;
			i--;
		}
	}
	return 0;
}

int memmap_build(struct memmap *m, const struct memmap_entry *e, size_t n)
{
	int rc;
	m->n = 0;
	for (size_t i = 0; i < n; i++) {
		if (e[i].type != MEMMAP_RAM || e[i].size == 0)
			continue;
		uint64_t end = e[i].addr + e[i].size;
		if (end < e[i].addr)
			end = UINT64_MAX & ~(PAGE - 1);
		if ((rc = add_range(m, e[i].addr, end)) < 0)
			return rc;
	}
	for (size_t i = 0; i < n; i++) {
		if (e[i].type == MEMMAP_RAM || e[i].size == 0)
			continue;
		uint64_t end = e[i].addr + e[i].size;
		if (end < e[i].addr)
			end = UINT64_MAX;
		if ((rc = cut_range(m, down(e[i].addr), up_end(end))) < 0)
			return rc;
	}
	/* shrink to whole pages; drop what becomes empty */
	int k = 0;
	for (int i = 0; i < m->n; i++) {
		uint64_t s = up(m->ram[i].start), t = down(m->ram[i].end);
		if (s < t) {
			m->ram[k].start = s;
			m->ram[k].end = t;
			k++;
		}
	}
	m->n = k;
	return m->n ? 0 : -EINVAL;
}

int memmap_reserve(struct memmap *m, uint64_t start, uint64_t end)
{
	return cut_range(m, down(start), up_end(end));
}

uint64_t memmap_total(const struct memmap *m)
{
	uint64_t t = 0;
	for (int i = 0; i < m->n; i++)
		t += m->ram[i].end - m->ram[i].start;
	return t;
}

uint64_t memmap_top(const struct memmap *m)
{
	return m->n ? m->ram[m->n - 1].end : 0;
}

int memmap_is_ram(const struct memmap *m, uint64_t start, uint64_t end)
{
	for (int i = 0; i < m->n; i++)
		if (m->ram[i].start <= start && end <= m->ram[i].end)
			return 1;
	return 0;
}
