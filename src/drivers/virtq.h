/*
 * virtq.h — the driver side of a virtio split virtqueue, shared by every
 * transport and device. Pure logic over memory the caller provides:
 * unit-tested on the host against a fake device (test/unit/drivers/).
 *
 * Ownership: one core owns a queue (adds, publishes, collects); the device
 * is the other party. The device is untrusted: every id and length read
 * from the used ring is bounds-checked; a bad one marks the queue broken
 * (virtq_broken) with a counter, and the queue stops instead of crashing.
 *
 * Ordering with the device (x86: the first three are compiler barriers):
 *   - descriptors and the avail ring entry are written before avail->idx
 *     (store-release of avail->idx);
 *   - used->idx is load-acquired before the used entries are read;
 *   - between publishing avail->idx and reading the device's notify
 *     suppression (used->flags or avail_event) a full fence (virtq_kick_
 *     prepare), else a kick could be lost.
 */
#ifndef POLLUX_VIRTQ_H
#define POLLUX_VIRTQ_H
#include <stdint.h>
#include <stddef.h>
#include "drivers/virtio_ring.h"

struct virtq {
	/* immutable after virtq_init */
	uint16_t size, qidx;
	int event_idx;
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	void **cookie;                  /* per head descriptor: the caller's token */
	uint16_t *chain_len;            /* per head descriptor: descriptors in its chain */
	/* owner */
	uint16_t free_head, num_free;
	uint16_t avail_idx;             /* shadow of avail->idx */
	uint16_t kicked_idx;            /* avail_idx at the last kick decision */
	uint16_t last_used;
	int broken;
	uint64_t bad_id, bad_len;       /* counters: device misbehaviour */
};

/* Bytes of memory for a queue of `size` (a power of two <= 32768):
 * descriptors, avail and used rings (each aligned as the spec wants) and
 * the cookie table. */
size_t virtq_memsize(uint16_t size);
/* mem: virtq_memsize(size) bytes, 4096-aligned, zeroed, device-visible. */
int virtq_init(struct virtq *q, uint16_t qidx, uint16_t size, void *mem, int event_idx);
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
 * lengths into lens. Returns how many. A bad id or length marks the queue
 * broken and stops. */
uint16_t virtq_get_used(struct virtq *q, void **cookies, uint32_t *lens, uint16_t n);
/* Ask the device not to interrupt us (poll mode). */
void virtq_disable_interrupts(struct virtq *q);
static inline int virtq_broken(const struct virtq *q) { return q->broken; }
static inline uint16_t virtq_free(const struct virtq *q) { return q->num_free; }
#endif
