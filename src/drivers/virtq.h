/*
 * virtq.h — the driver side of a virtio split virtqueue, shared by every
 * transport and device. Pure logic over memory the caller provides:
 * unit-tested on the host against a fake device (test/unit/drivers/) and
 * fuzzed against a hostile one (test/fuzz/fuzz_virtq.c).
 *
 * Ownership: one core owns a queue (adds, publishes, collects); the device
 * is the other party.
 *
 * The device is untrusted. A queue lives in two places:
 *   - the rings (descriptors, avail, used): device-visible memory
 *     (frame_alloc_dma_pages), which the device may rewrite at any time;
 *     the driver writes descriptors and avail entries there and never
 *     reads them back, and reads only used->idx, the used entries and the
 *     notification words from it, each once;
 *   - the shadow (struct virtq_slot per descriptor: the caller's cookie,
 *     the chain's length and writable bytes, the free-list and chain
 *     links as the driver built them): private memory the device cannot
 *     see. Chains are followed and freed from the shadow only.
 * Every id and length from the used ring is checked against the shadow: an
 * id that is not the head of a chain the driver added and has not had
 * back (out of range, inside a chain, never given, returned twice), more
 * used entries than chains published and not yet returned, or a length
 * beyond the chain's writable bytes marks the queue broken
 * (virtq_broken) with a counter (bad_id, bad_len); a cookie is never
 * returned for it, and the queue stops instead of crashing. What a lying
 * device can still do is confined to device-visible memory: rewrite
 * packet data and the rings themselves.
 *
 * Ordering with the device (x86: the first three are compiler barriers):
 *   - descriptors and the avail ring entry are written before avail->idx
 *     (store-release of avail->idx);
 *   - used->idx is load-acquired before the used entries are read;
 *   - between publishing avail->idx and reading the device's notify
 *     suppression (used->flags or avail_event) a full fence (virtq_kick_
 *     prepare), else a kick could be lost;
 *   - the mirror image for interrupts: between asking for one (avail->
 *     flags or used_event) and re-reading used->idx a full fence
 *     (virtq_arm), else an interrupt could be lost.
 */
#ifndef POLLUX_VIRTQ_H
#define POLLUX_VIRTQ_H
#include <stdint.h>
#include <stddef.h>
#include "drivers/virtio_ring.h"

/* Private shadow of one descriptor. */
struct virtq_slot {
	void *cookie;                   /* head of an outstanding chain: the caller's token; else NULL */
	uint32_t cap;                   /* head: writable bytes of the chain (the most the device may report) */
	uint16_t next;                  /* the free list, and a chain's links as the driver built them */
	uint16_t chain_len;             /* head: descriptors in its chain */
};
_Static_assert(sizeof(struct virtq_slot) == 16, "four slots a cache line");

struct virtq {
	/* immutable after virtq_init */
	uint16_t size, qidx;
	int event_idx;
	int wake_core;                  /* set before queue_enable: the core its interrupt wakes; -1: none */
	int wakes;                      /* set by the transport: it took an interrupt for wake_core */
	struct vring_desc *desc;        /* device-visible: written, never read back */
	struct vring_avail *avail;      /* device-visible: written, never read back */
	struct vring_used *used;        /* device-visible: read once per entry, checked */
	struct virtq_slot *shadow;      /* private: [size] */
	/* owner */
	uint16_t free_head, num_free;
	uint16_t avail_idx;             /* shadow of avail->idx */
	uint16_t published_idx;         /* avail_idx at the last virtq_publish */
	uint16_t kicked_idx;            /* avail_idx at the last kick decision */
	uint16_t last_used;
	int broken;
	uint64_t bad_id, bad_len;       /* counters: device misbehaviour */
};

/* Bytes of device-visible memory for the rings of a queue of `size` (a
 * power of two <= 32768): descriptors, avail and used rings, each aligned
 * as the spec wants. */
size_t virtq_memsize(uint16_t size);
/* Bytes of private memory for its shadow. */
static inline size_t virtq_shadow_size(uint16_t size) { return (size_t)size * sizeof(struct virtq_slot); }
/* mem: virtq_memsize(size) bytes, 4096-aligned, zeroed, device-visible.
 * shadow: virtq_shadow_size(size) bytes of private memory the device can
 * never address (on hosted: frame_alloc_pages, not the memfd). Returns 0
 * or -EINVAL (size). */
int virtq_init(struct virtq *q, uint16_t qidx, uint16_t size, void *mem, struct virtq_slot *shadow,
	       int event_idx);
/* Device addresses of the three parts (for the transport). */
static inline uint64_t virtq_desc_addr(const struct virtq *q) { return (uint64_t)(uintptr_t)q->desc; }
static inline uint64_t virtq_avail_addr(const struct virtq *q) { return (uint64_t)(uintptr_t)q->avail; }
static inline uint64_t virtq_used_addr(const struct virtq *q) { return (uint64_t)(uintptr_t)q->used; }

struct virtq_buf {
	uint64_t addr;
	uint32_t len;
	int writable;                   /* device writes it (RX) */
};

/* Adds one chain of n buffers with token `cookie` (not NULL). Returns 0,
 * -ENOSPC (not enough free descriptors) or -EIO (queue broken). Not
 * visible to the device until virtq_publish. */
int virtq_add(struct virtq *q, const struct virtq_buf *bufs, uint16_t n, void *cookie);
static inline int virtq_add1(struct virtq *q, uint64_t addr, uint32_t len, int writable, void *cookie)
{
	struct virtq_buf b = { addr, len, writable };
	return virtq_add(q, &b, 1, cookie);
}
/* Makes added chains visible (store-release of avail->idx). */
void virtq_publish(struct virtq *q);
/* After publish: 1 if the device wants a notification now (full fence,
 * then EVENT_IDX or the NO_NOTIFY flag). */
int virtq_kick_prepare(struct virtq *q);
/* Collects up to n finished chains: tokens into cookies, device-written
 * lengths into lens (each at most the chain's writable bytes). Returns
 * how many. An id or length the shadow does not vouch for, or more used
 * entries than chains outstanding, marks the queue broken and stops:
 * the entries before it are returned, that one and later never. */
uint16_t virtq_get_used(struct virtq *q, void **cookies, uint32_t *lens, uint16_t n);
/* Ask the device not to interrupt us (poll mode). */
void virtq_disable_interrupts(struct virtq *q);
/* Ask the device to interrupt us at its next used entry (clears
 * VRING_AVAIL_F_NO_INTERRUPT, or with EVENT_IDX sets used_event to the
 * last entry seen), then, after a full fence, look at used->idx again:
 * 1 if entries are already waiting (the caller must not sleep on the
 * interrupt: it may have come and gone, or never come), else 0. A broken
 * queue returns 0 and asks nothing. virtq_disable_interrupts undoes it. */
int virtq_arm(struct virtq *q);
static inline int virtq_broken(const struct virtq *q) { return q->broken; }
static inline uint16_t virtq_free(const struct virtq *q) { return q->num_free; }
/* Chains added and not yet had back (published or not). */
static inline uint16_t virtq_outstanding(const struct virtq *q) { return (uint16_t)(q->avail_idx - q->last_used); }
#endif
