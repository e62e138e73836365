/*
 * ring.h — bounded lock-free rings of pointers: the channels between cores.
 *
 *   ring_sp_enqueue_{bulk,burst}   one producer
 *   ring_mp_enqueue_{bulk,burst}   many producers
 *   ring_sc_dequeue_{bulk,burst}   one consumer (the only kind)
 *
 * _bulk moves all n or nothing and returns n or 0; _burst moves as many as
 * fit and returns how many. Nothing blocks, nothing allocates. The size is
 * a power of two and every slot is usable; indices are free-running 32-bit
 * counters (wrap-around is harmless: only differences are used).
 *
 * Layout: four cache lines before the slots: the producers' private line
 * (mp reservation head, cached copies of the consumer's index), the
 * published producer index the consumer polls, the consumer's line, and
 * the slots. Each side keeps a cached copy of the other side's index and
 * reloads it only when the cache says the ring is full (producer) or
 * empty (consumer), so in steady state each side reads the other's line
 * once per wrap of the cache, not per message; the mp reservation CAS
 * never touches a line the consumer polls.
 *
 * Memory ordering (C11; on x86 every one of these is a plain mov):
 *   P1  producer: write slots, then store-release prod.tail
 *   C1  consumer: load-acquire prod.tail, then read slots
 *       P1 pairs with C1: a consumer that sees the new tail sees the slots.
 *   C2  consumer: read slots, then store-release cons.tail
 *   P2  producer: load-acquire cons.tail, then overwrite slots
 *       C2 pairs with P2: a slot is overwritten only after it was read.
 *   M1  many producers reserve [head, head+n) by CAS on prod_head (relaxed:
 *       the reservation orders nothing but itself), write their slots,
 *       wait until prod.tail == head (load-acquire, pairs with the previous
 *       producer's P1, keeping tails in reservation order), then P1.
 * Who may call what: exactly one thread calls sc_dequeue; for an sp ring
 * exactly one thread calls sp_enqueue; mp_enqueue may be called by any
 * number of threads (never mix sp and mp on one ring).
 */
#ifndef POLLUX_RING_H
#define POLLUX_RING_H
#include <stdint.h>
#include <stddef.h>
#include <stdatomic.h>

#define RING_ALIGN 64

/* Waiting for an earlier producer to publish (M1). On the VM nothing
 * preempts it; in a host process it may have been descheduled, so hosted
 * builds yield now and then instead of spinning a whole time slice. */
#ifdef POLLUX_HOSTED
#include <sched.h>
#define RING_MP_WAIT(spins) do { if (((spins) & 255) == 255) sched_yield(); \
	else __builtin_ia32_pause(); } while (0)
#else
#define RING_MP_WAIT(spins) __builtin_ia32_pause()
#endif

struct ring {
	/* immutable after ring_init */
	uint32_t size, mask;
	char pad0[RING_ALIGN - 8];
	/* producer-private line: only producers read or write it */
	_Atomic uint32_t prod_head;        /* mp only: next slot to reserve */
	uint32_t prod_cache_cons;          /* sp only: last cons_tail seen */
	_Atomic uint32_t prod_cache_cons_mp;  /* mp only: last cons_tail any producer saw */
	char pad1[RING_ALIGN - 12];
	/* producer's published index: written by producers, polled by the consumer */
	_Atomic uint32_t prod_tail;        /* slots before this are readable */
	char pad2[RING_ALIGN - 4];
	/* consumer side: written by the consumer */
	_Atomic uint32_t cons_tail;        /* slots before this are free */
	uint32_t cons_cache_prod;          /* last prod_tail seen */
	char pad3[RING_ALIGN - 8];
	void *slots[];
} __attribute__((aligned(RING_ALIGN)));

_Static_assert(offsetof(struct ring, prod_head) == RING_ALIGN, "producer line");
_Static_assert(offsetof(struct ring, prod_tail) == 2 * RING_ALIGN, "published line");
_Static_assert(offsetof(struct ring, cons_tail) == 3 * RING_ALIGN, "consumer line");
_Static_assert(offsetof(struct ring, slots) == 4 * RING_ALIGN, "slots line");

/* Bytes to allocate for a ring of `size` slots: a multiple of RING_ALIGN,
 * as aligned_alloc(RING_ALIGN, n) requires of n. */
static inline size_t ring_memsize(uint32_t size)
{
	return (sizeof(struct ring) + (size_t)size * sizeof(void *) + RING_ALIGN - 1) &
	       ~(size_t)(RING_ALIGN - 1);
}

/* size: a power of two, 2 .. 2^31. Returns 0 or -1 for a bad size. */
static inline int ring_init(struct ring *r, uint32_t size)
{
	if (size < 2 || size > (1u << 31) || (size & (size - 1)))
		return -1;
	r->size = size;
	r->mask = size - 1;
	atomic_init(&r->prod_head, 0);
	atomic_init(&r->prod_tail, 0);
	atomic_init(&r->prod_cache_cons_mp, 0);
	r->prod_cache_cons = 0;
	atomic_init(&r->cons_tail, 0);
	r->cons_cache_prod = 0;
	return 0;
}

static inline void ring_copy_in(struct ring *r, uint32_t at, void *const *objs, uint32_t n)
{
	uint32_t i = at & r->mask, first = r->size - i < n ? r->size - i : n;
	for (uint32_t k = 0; k < first; k++)
		r->slots[i + k] = objs[k];
	for (uint32_t k = first; k < n; k++)
		r->slots[k - first] = objs[k];
}

static inline void ring_copy_out(const struct ring *r, uint32_t at, void **objs, uint32_t n)
{
	uint32_t i = at & r->mask, first = r->size - i < n ? r->size - i : n;
	for (uint32_t k = 0; k < first; k++)
		objs[k] = r->slots[i + k];
	for (uint32_t k = first; k < n; k++)
		objs[k] = r->slots[k - first];
}

static inline uint32_t ring_sp_enqueue_(struct ring *r, void *const *objs, uint32_t n, int bulk)
{
	uint32_t head = atomic_load_explicit(&r->prod_tail, memory_order_relaxed);  /* own */
	uint32_t free = r->size - (head - r->prod_cache_cons);
	if (free < n) {
		/* P2: pairs with the consumer's C2 store-release of cons_tail */
		r->prod_cache_cons = atomic_load_explicit(&r->cons_tail, memory_order_acquire);
		free = r->size - (head - r->prod_cache_cons);
		if (free < n) {
			if (bulk || free == 0)
				return 0;
			n = free;
		}
	}
	ring_copy_in(r, head, objs, n);
	/* P1: pairs with the consumer's C1 load-acquire of prod_tail */
	atomic_store_explicit(&r->prod_tail, head + n, memory_order_release);
	return n;
}

static inline uint32_t ring_sp_enqueue_bulk(struct ring *r, void *const *objs, uint32_t n)
{
	return ring_sp_enqueue_(r, objs, n, 1);
}
static inline uint32_t ring_sp_enqueue_burst(struct ring *r, void *const *objs, uint32_t n)
{
	return ring_sp_enqueue_(r, objs, n, 0);
}

static inline uint32_t ring_mp_enqueue_(struct ring *r, void *const *objs, uint32_t n, int bulk)
{
	uint32_t head, free;
	/* M1: reserve [head, head + n) */
	head = atomic_load_explicit(&r->prod_head, memory_order_relaxed);
	do {
		/* P2 through the producers' shared cache of cons_tail: whoever
		 * refreshed it load-acquired cons_tail (pairs with C2) and then
		 * store-released the cache (pairs with this load-acquire), so
		 * the chain consumer -> refresher -> us is ordered. A stale
		 * cache only under-counts free slots. */
		uint32_t cons = atomic_load_explicit(&r->prod_cache_cons_mp, memory_order_acquire);
		free = r->size - (head - cons);
		/* a producer preempted between its cons_tail load and its cache
		 * store writes back a copy that can lag head by more than size:
		 * then head - cons > size and free wrapped; refresh instead */
		if (free < n || head - cons > r->size) {
			cons = atomic_load_explicit(&r->cons_tail, memory_order_acquire);
			atomic_store_explicit(&r->prod_cache_cons_mp, cons, memory_order_release);
			free = r->size - (head - cons);
		}
		if (free < n) {
			if (bulk || free == 0)
				return 0;
			n = free;
		}
	} while (!atomic_compare_exchange_weak_explicit(&r->prod_head, &head, head + n,
			memory_order_relaxed, memory_order_relaxed));
	ring_copy_in(r, head, objs, n);
	/* M1: earlier reservations publish first (pairs with their P1) */
	for (uint32_t spins = 0; atomic_load_explicit(&r->prod_tail, memory_order_acquire) != head; spins++)
		RING_MP_WAIT(spins);
	/* P1 */
	atomic_store_explicit(&r->prod_tail, head + n, memory_order_release);
	return n;
}

static inline uint32_t ring_mp_enqueue_bulk(struct ring *r, void *const *objs, uint32_t n)
{
	return ring_mp_enqueue_(r, objs, n, 1);
}
static inline uint32_t ring_mp_enqueue_burst(struct ring *r, void *const *objs, uint32_t n)
{
	return ring_mp_enqueue_(r, objs, n, 0);
}

static inline uint32_t ring_sc_dequeue_(struct ring *r, void **objs, uint32_t n, int bulk)
{
	uint32_t tail = atomic_load_explicit(&r->cons_tail, memory_order_relaxed);  /* own */
	uint32_t avail = r->cons_cache_prod - tail;
	if (avail < n) {
		/* C1: pairs with the producer's P1 store-release of prod_tail */
		r->cons_cache_prod = atomic_load_explicit(&r->prod_tail, memory_order_acquire);
		avail = r->cons_cache_prod - tail;
		if (avail < n) {
			if (bulk || avail == 0)
				return 0;
			n = avail;
		}
	}
	ring_copy_out(r, tail, objs, n);
	/* C2: pairs with the producer's P2 load-acquire of cons_tail */
	atomic_store_explicit(&r->cons_tail, tail + n, memory_order_release);
	return n;
}

static inline uint32_t ring_sc_dequeue_bulk(struct ring *r, void **objs, uint32_t n)
{
	return ring_sc_dequeue_(r, objs, n, 1);
}
static inline uint32_t ring_sc_dequeue_burst(struct ring *r, void **objs, uint32_t n)
{
	return ring_sc_dequeue_(r, objs, n, 0);
}

/* Approximate, for telemetry: may be stale by the time it returns. */
static inline uint32_t ring_count(const struct ring *r)
{
	return atomic_load_explicit(&r->prod_tail, memory_order_relaxed) -
	       atomic_load_explicit(&r->cons_tail, memory_order_relaxed);
}

/* Consumer-side emptiness check without dequeuing (consumer only). */
static inline int ring_sc_empty(struct ring *r)
{
	uint32_t tail = atomic_load_explicit(&r->cons_tail, memory_order_relaxed);
	if (r->cons_cache_prod != tail)
		return 0;
	r->cons_cache_prod = atomic_load_explicit(&r->prod_tail, memory_order_acquire);
	return r->cons_cache_prod == tail;
}
#endif
