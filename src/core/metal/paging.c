/*
 * paging.c — physical memory and the identity map.
 *
 * boot.S maps the first 4 GiB with 2 MiB pages; paging_init() extends the
 * map over RAM above 4 GiB, marks 2 MiB pages that hold no RAM (device
 * windows) uncached, and unmaps page 0 so NULL dereferences fault. A 2 MiB
 * page is split into 4 KiB pages when part of it must change: guard pages
 * below every stack, PROT_NONE pages from mmap.
 *
 * The frame allocator (frame.c) hands out identity-mapped frames. One
 * spinlock (mm_lock) covers the allocator and page-table edits; they
 * happen at boot and on the control core, never on a data core's hot path.
 * Page-table pages come from the lowest free frames, which lie below
 * 4 GiB and so are mapped from the start.
 *
 * TLB: a page is only ever unmapped before its first use (a new stack's
 * guard, a fresh PROT_NONE mapping), so invalidating on the editing CPU
 * is enough; no shootdown is needed.
 */
#include <string.h>
#include "core/metal/metal.h"
#include "core/frame.h"

#define PTE_P   (1ull << 0)
#define PTE_W   (1ull << 1)
#define PTE_PWT (1ull << 3)
#define PTE_PCD (1ull << 4)
#define PTE_PS  (1ull << 7)
#define PTE_ADDR 0x000ffffffffff000ull
#define HUGE (2ull << 20)

static struct frame_pool pool;
static atomic_flag mm_lock = ATOMIC_FLAG_INIT;
static uint64_t ram_total;

#define GUARDS_MAX 160
static struct { uintptr_t lo, hi; const char *what; } guards[GUARDS_MAX];
static int nguards;

static void lock(void)
{
	while (atomic_flag_test_and_set_explicit(&mm_lock, memory_order_acquire))
		cpu_relax();
}
static void unlock(void) { atomic_flag_clear_explicit(&mm_lock, memory_order_release); }

void frames_init(struct memmap *ram)
{
	ram_total = memmap_total(ram);
	uint64_t top = memmap_top(ram);
	size_t bytes = frame_pool_bitmap_bytes(0, top);
	/* the bitmap goes in the first RAM range that fits it below 4 GiB */
	uint64_t at = 0;
	for (int i = 0; i < ram->n && !at; i++) {
		uint64_t s = ram->ram[i].start, e = ram->ram[i].end;
		if (e > (4ull << 30))
			e = 4ull << 30;
		if (s < e && e - s >= bytes + 4096)
			at = s;
	}
	if (!at)
		panic("no room for the frame bitmap (%zu bytes)", bytes);
	memmap_reserve(ram, at, at + bytes);
	frame_pool_init(&pool, 0, top, (uint64_t *)at);
	for (int i = 0; i < ram->n; i++)
		frame_pool_add(&pool, ram->ram[i].start, ram->ram[i].end);
}

uint64_t mem_total_bytes(void) { return ram_total; }

size_t frames_free_count(void)
{
	lock();
	size_t n = pool.nfree;
	unlock();
	return n;
}

/* Zeroes whole frames with plain 64-bit stores, not memset: musl's
 * memset is `rep stosq`, which TCG runs one 8-byte iteration per pass
 * through the instruction (~95 MB/s here; a 256 MiB kv arena took 2.7 s
 * to boot). The loop's empty asm keeps the compiler from turning it back
 * into a memset call. */
static void zero_frames(uint64_t p, size_t n)
{
	uint64_t *w = (uint64_t *)p, *end = w + n * (FRAME_SIZE / 8);
	for (; w < end; w += 8) {
		w[0] = 0; w[1] = 0; w[2] = 0; w[3] = 0;
		w[4] = 0; w[5] = 0; w[6] = 0; w[7] = 0;
		__asm__ volatile("" ::: "memory");
	}
}

/* Page tables: one frame, taken and zeroed with the lock held. */
static uint64_t alloc_locked(size_t n, uint64_t align)
{
	uint64_t p = frame_pool_alloc(&pool, n, align);
	if (p)
		zero_frames(p, n);
	return p;
}

/* The frames are ours once the bitmap says so: they are zeroed after the
 * lock is dropped, so a large allocation does not hold up other cores. */
static void *alloc_zeroed(size_t n, uint64_t align)
{
	lock();
	uint64_t p = frame_pool_alloc(&pool, n, align);
	unlock();
	if (p)
		zero_frames(p, n);
	return (void *)p;
}

void *frame_alloc_pages(size_t n) { return alloc_zeroed(n, FRAME_SIZE); }
void *frame_alloc_huge(void) { return alloc_zeroed(HUGE / FRAME_SIZE, HUGE); }

void frame_free_pages(void *p, size_t n)
{
	lock();
	int rc = frame_pool_free(&pool, (uint64_t)p, n);
	unlock();
	if (rc)
		panic("frame_free_pages(%p, %zu): not allocated", p, n);
}

/* The hypervisor sees all of guest RAM: device-visible frames are frames. */
void *frame_alloc_dma_pages(size_t n) { return frame_alloc_pages(n); }
void frame_free_dma_pages(void *p, size_t n) { frame_free_pages(p, n); }
int frame_is_dma(const void *p, size_t len) { (void)p; (void)len; return 1; }

int frame_free_checked(void *p, size_t n)
{
	lock();
	int rc = frame_pool_free(&pool, (uint64_t)p, n);
	unlock();
	return rc;
}

/* ---- page tables */

static uint64_t *pdpt_of(uint64_t va, int create)
{
	uint64_t *pml4 = boot_pml4;
	uint64_t e = pml4[(va >> 39) & 511];
	if (!(e & PTE_P)) {
		if (!create)
			return NULL;
		uint64_t t = alloc_locked(1, FRAME_SIZE);
		if (!t)
			return NULL;
		pml4[(va >> 39) & 511] = t | PTE_P | PTE_W;
		e = pml4[(va >> 39) & 511];
	}
	return (uint64_t *)(e & PTE_ADDR);
}

static uint64_t *pd_of(uint64_t va, int create)
{
	uint64_t *pdpt = pdpt_of(va, create);
	if (!pdpt)
		return NULL;
	uint64_t e = pdpt[(va >> 30) & 511];
	if (!(e & PTE_P)) {
		if (!create)
			return NULL;
		uint64_t t = alloc_locked(1, FRAME_SIZE);
		if (!t)
			return NULL;
		pdpt[(va >> 30) & 511] = t | PTE_P | PTE_W;
		e = pdpt[(va >> 30) & 511];
	}
	return (uint64_t *)(e & PTE_ADDR);
}

/* The 4 KiB table for va, splitting its 2 MiB page if needed. */
static uint64_t *pt_of(uint64_t va)
{
	uint64_t *pd = pd_of(va, 1);
	if (!pd)
		return NULL;
	uint64_t *pde = &pd[(va >> 21) & 511];
	if (!(*pde & PTE_P))
		return NULL;
	if (*pde & PTE_PS) {
		uint64_t t = alloc_locked(1, FRAME_SIZE);
		if (!t)
			return NULL;
		uint64_t *pt = (uint64_t *)t;
		uint64_t base = *pde & PTE_ADDR & ~(HUGE - 1);
		uint64_t flags = *pde & (PTE_P | PTE_W | PTE_PWT | PTE_PCD);
		for (int i = 0; i < 512; i++)
			pt[i] = (base + (uint64_t)i * 4096) | flags;
		/* the table is complete before the PDE points at it */
		__atomic_store_n(pde, t | PTE_P | PTE_W, __ATOMIC_RELEASE);
		__asm__ volatile("invlpg (%0)" :: "r"(base) : "memory");
	}
	return (uint64_t *)(*pde & PTE_ADDR);
}

static int set_present_locked(uintptr_t va, size_t len, int present)
{
	for (uintptr_t p = va & ~4095ul; p < va + len; p += 4096) {
		uint64_t *pt = pt_of(p);
		if (!pt)
			return -1;
		uint64_t *e = &pt[(p >> 12) & 511];
		*e = present ? (*e | PTE_P) : (*e & ~PTE_P);
		__asm__ volatile("invlpg (%0)" :: "r"(p) : "memory");
	}
	return 0;
}

int paging_set_present(uintptr_t va, size_t len, int present)
{
	lock();
	int rc = set_present_locked(va, len, present);
	unlock();
	return rc;
}

static int mapped_locked(uintptr_t va)
{
	uint64_t *pd = pd_of(va, 0);
	if (!pd)
		return 0;
	uint64_t e = pd[(va >> 21) & 511];
	if (!(e & PTE_P))
		return 0;
	if (e & PTE_PS)
		return 1;
	return (((uint64_t *)(e & PTE_ADDR))[(va >> 12) & 511] & PTE_P) != 0;
}

int paging_is_guard(uintptr_t va)
{
	/* no lock: the fault path must not wait; tables only ever grow */
	return va >= 4096 && !mapped_locked(va) && memmap_is_ram(&metal_ram, va & ~4095ul, (va & ~4095ul) + 4096);
}

void paging_note_guard(uintptr_t lo, uintptr_t hi, const char *what)
{
	lock();
	int i;
	for (i = 0; i < nguards; i++)
		if (guards[i].lo == lo)
			break;
	if (i == nguards && nguards < GUARDS_MAX)
		nguards++;
	if (i < GUARDS_MAX) {
		guards[i].lo = lo;
		guards[i].hi = hi;
		guards[i].what = what;
	}
	unlock();
}

const char *paging_guard_what(uintptr_t va)
{
	for (int i = 0; i < nguards; i++)
		if (va >= guards[i].lo && va < guards[i].hi)
			return guards[i].what;
	return paging_is_guard(va) ? "a stack (unmapped page)" : NULL;
}

int paging_init(const struct memmap *ram)
{
	uint64_t top = memmap_top(ram);
	if (top > (4ull << 30))
		for (uint64_t a = 4ull << 30; a < top; a += HUGE) {
			if (!memmap_is_ram(ram, a, a + 1) && !memmap_is_ram(ram, a + HUGE - 4096, a + HUGE))
				continue;
			uint64_t *pd = pd_of(a, 1);
			if (!pd)
				return -1;
			pd[(a >> 21) & 511] = a | PTE_P | PTE_W | PTE_PS;
		}
	/* device windows below 4 GiB: uncached */
	for (uint64_t a = 1ull << 30; a < (4ull << 30); a += HUGE) {
		int any_ram = 0;
		for (int i = 0; i < ram->n; i++)
			if (ram->ram[i].start < a + HUGE && ram->ram[i].end > a)
				any_ram = 1;
		if (!any_ram)
			pd_of(a, 0)[(a >> 21) & 511] |= PTE_PCD | PTE_PWT;
	}
	__asm__ volatile("mov %0, %%cr3" :: "r"(read_cr3()) : "memory");
	/* page 0 faults: NULL dereferences are reported, not silent */
	return paging_set_present(0, 4096, 0);
}
