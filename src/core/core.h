/*
 * core.h — the per-core structure, memory, time, console, log, panic and
 * config: the whole interface of src/core/ to the rest of Pollux.
 *
 * Rules for callers:
 *  - core_self() is this core's struct core; only its owner writes the
 *    fields marked "owner". Other cores read them with relaxed atomics.
 *  - time_ns() is monotonic nanoseconds since boot on every core.
 *  - frame_* and malloc serve boot and the control core; data cores
 *    allocate from their own arena (core_arena_alloc) at start-up only.
 *  - panic() never returns: it prints one report and stops every core.
 *
 * The platform layer (src/core/metal/, later src/core/hosted/) implements
 * the functions marked "platform"; everything else is shared.
 */
#ifndef POLLUX_CORE_H
#define POLLUX_CORE_H

#include <stdint.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdatomic.h>

#define POLLUX_MAX_CORES 64
#define CACHE_LINE 64

struct arena {
	uintptr_t base, cur, end;
};

enum core_role { CORE_ROLE_CONTROL = 0, CORE_ROLE_DATA = 1 };

struct core {
	/* immutable after boot */
	struct core *self;      /* offset 0: GS:0 on metal */
	uint32_t id;            /* 0 = control core */
	uint32_t hw_id;         /* APIC id on metal, host CPU on hosted */
	enum core_role role;
	void *plat;             /* platform-private per-core state */
	struct arena arena;     /* owner: allocations at start-up */

	/* owner writes, others read */
	_Atomic uint32_t state; /* enum core_state */

} __attribute__((aligned(CACHE_LINE)));

/* OFF -> STARTED (idle, on metal: waiting for its thread) -> CLAIMED (a
 * thread is on its way) -> IN_LOOP (running sched_loop_run) */
enum core_state { CORE_OFF = 0, CORE_STARTED, CORE_CLAIMED, CORE_IN_LOOP, CORE_HALTED };

/* ---- platform: cores */
struct core *core_self(void);
struct core *core_get(uint32_t id);
uint32_t cores_count(void);
/* Wake core `id` if it sleeps (IPI on metal). Any core. */
void core_kick(uint32_t id);
/* Idle: core_idle_prepare() returns a token and arms wake-ups; the caller
 * checks for work one last time, then core_idle_wait(token, deadline)
 * sleeps until core_kick(), an interrupt or deadline_ns (UINT64_MAX:
 * none). A kick that lands between prepare and wait is never lost. */
uint64_t core_idle_prepare(void);
void core_idle_wait(uint64_t token, uint64_t deadline_ns);

/* A counter: written by its owner core only, read by any core (relaxed).
 * On x86 both are plain movs; _Atomic keeps the reads race-free in C11. */
typedef _Atomic uint64_t counter_t;
static inline void counter_add(counter_t *c, uint64_t v)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + v, memory_order_relaxed);
}
static inline uint64_t counter_get(const counter_t *c)
{
	return atomic_load_explicit((counter_t *)c, memory_order_relaxed);
}

/* ---- platform: time */
uint64_t time_ns(void);         /* monotonic, since boot */
uint64_t time_boot_ns(void);    /* PVH entry to ready, by the TSC */
const char *time_source(void);  /* the calibration source, for the log */
uint64_t time_tsc_hz(void);
void time_delay_ns(uint64_t ns);
/* The CPU's cycle counter (TSC): for accounting, never for time. */
static inline uint64_t cycles_now(void)
{
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

/* ---- platform: memory
 * Two kinds, chosen by the caller. Private frames (frame_alloc_pages) hold
 * everything the program trusts: arenas, connections, timers, app
 * contexts, a virtqueue's shadow state. Device-visible frames
 * (frame_alloc_dma_pages) hold only what a device must read or write:
 * vring parts and packet data; a device may rewrite them at any time, so
 * nothing read back from them is trusted without a check. On metal both
 * come from the same RAM (the device is the hypervisor, which sees all of
 * it anyway); on hosted only device-visible frames come from the memfd a
 * vhost-user backend maps, the rest is private anonymous memory. */
uint64_t mem_total_bytes(void);
/* Private: physically contiguous, identity-mapped, zeroed. NULL when
 * exhausted. */
void *frame_alloc_pages(size_t npages);
void frame_free_pages(void *p, size_t npages);
void *frame_alloc_huge(void);   /* one 2 MiB page, 2 MiB aligned, private */
/* Device-visible: the same contract, from memory a device can address.
 * Freed only with frame_free_dma_pages. */
void *frame_alloc_dma_pages(size_t npages);
void frame_free_dma_pages(void *p, size_t npages);
/* Any core: 1 when a device can read [p, p + len): on metal any RAM, on
 * hosted only what frame_alloc_dma_pages handed out (the memfd the
 * backend maps). Zero-copy transmit checks this before pointing a
 * descriptor at memory it did not allocate. */
int frame_is_dma(const void *p, size_t len);

/* ---- platform: console and exit */
void console_write(const char *s, size_t n);
/* Exit statuses seen by a test harness (QEMU isa-debug-exit gives
 * (code << 1) | 1, so the harness sees 1, 33, 35, 37, 39, 41). */
enum exit_code {
	EXIT_OK = 0x00,
	EXIT_PANIC = 0x10,
	EXIT_BAD_CONFIG = 0x11,
	EXIT_TEST_FAILED = 0x12,
	EXIT_BAD_CMDLINE = 0x13,
	EXIT_DEVICE = 0x14,     /* a device could not be set up */
};
_Noreturn void platform_exit(enum exit_code code);
_Noreturn void platform_poweroff(void);

/* ---- shared: log (console + a ring of recent lines) */
void klog(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void klog_v(const char *fmt, va_list ap);
/* Copies up to `max` recent lines, oldest first; returns how many. */
size_t klog_recent(char (*lines)[160], size_t max);

_Noreturn void panic(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Assertion for our own invariants; stays on in release builds. */
#define ASSERT(c) do { if (__builtin_expect(!(c), 0)) \
	panic("assertion failed: %s at %s:%d", #c, __FILE__, __LINE__); } while (0)

/* ---- shared: per-core arena (see arena.c) */
void arena_init(struct arena *a, void *base, size_t size);
void *arena_alloc(struct arena *a, size_t size, size_t align);
size_t arena_free_bytes(const struct arena *a);

/* ---- shared: boot configuration (see cmdline.c, config.c) */
struct json_t;
const char *cmdline_get(const char *key);   /* NULL if absent */
int cmdline_has(const char *key);

#endif
