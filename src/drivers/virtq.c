/*
 * virtq.c — split virtqueue, driver side. See virtq.h.
 *
 * Free descriptors form a list through shadow[].next (private); a chain
 * is taken from the front of that list, so its links are the list's
 * links and stay in the shadow while the device holds the chain. The
 * descriptors in device-visible memory are a copy written for the
 * device, never read back: a device that rewrites desc[].next changes
 * only what it reads itself. A chain's head id is what the device
 * returns; shadow[head].cookie holds the caller's token (non-NULL exactly
 * while the chain is outstanding), chain_len how many descriptors go back
 * on the free list and cap the writable bytes the device may report.
 */
#include <errno.h>
#include <string.h>
#include <stdatomic.h>
#include "drivers/virtq.h"

static size_t align_up(size_t x, size_t a) { return (x + a - 1) & ~(a - 1); }

static size_t off_avail(uint16_t size) { return (size_t)size * sizeof(struct vring_desc); }
static size_t off_used(uint16_t size)
{
	return align_up(off_avail(size) + 4 + 2 * (size_t)size + 2, 4096);
}

size_t virtq_memsize(uint16_t size)
{
	return align_up(off_used(size) + 4 + 8 * (size_t)size + 2, 4096);
}

int virtq_init(struct virtq *q, uint16_t qidx, uint16_t size, void *mem, struct virtq_slot *shadow,
	       int event_idx)
{
	if (size == 0 || size > 32768 || (size & (size - 1)) || !mem || !shadow)
		return -EINVAL;
	memset(q, 0, sizeof *q);
	char *m = mem;
	q->size = size;
	q->qidx = qidx;
	q->event_idx = event_idx;
	q->desc = (struct vring_desc *)m;
	q->avail = (struct vring_avail *)(m + off_avail(size));
	q->used = (struct vring_used *)(m + off_used(size));
	q->shadow = shadow;
	for (uint16_t i = 0; i < size; i++)
		shadow[i] = (struct virtq_slot){ .next = (uint16_t)(i + 1) };
	q->free_head = 0;
	q->num_free = size;
	q->wake_core = -1;
	return 0;
}

static uint16_t *used_event(struct virtq *q) { return &q->avail->ring[q->size]; }
static uint16_t *avail_event(struct virtq *q) { return (uint16_t *)&q->used->ring[q->size]; }

int virtq_add(struct virtq *q, const struct virtq_buf *bufs, uint16_t n, void *cookie)
{
	if (q->broken)
		return -EIO;
	if (n == 0 || !cookie)
		return -EINVAL;
	if (n > q->num_free)
		return -ENOSPC;
	uint16_t head = q->free_head, i = head;
	uint64_t cap = 0;
	for (uint16_t k = 0; k < n; k++) {
		uint16_t nx = q->shadow[i].next;
		struct vring_desc *d = &q->desc[i];
		d->addr = bufs[k].addr;
		d->len = bufs[k].len;
		d->flags = (uint16_t)((bufs[k].writable ? VRING_DESC_F_WRITE : 0) |
				      (k + 1 < n ? VRING_DESC_F_NEXT : 0));
		d->next = nx;
		if (bufs[k].writable)
			cap += bufs[k].len;
		i = nx;
	}
	q->free_head = i;
	q->num_free = (uint16_t)(q->num_free - n);
	struct virtq_slot *h = &q->shadow[head];
	h->cookie = cookie;
	h->chain_len = n;
	h->cap = cap > UINT32_MAX ? UINT32_MAX : (uint32_t)cap;
	q->avail->ring[q->avail_idx & (q->size - 1)] = head;
	q->avail_idx++;
	return 0;
}

void virtq_publish(struct virtq *q)
{
	q->published_idx = q->avail_idx;
	/* descriptors and ring entries before the index the device polls */
	__atomic_store_n(&q->avail->idx, q->avail_idx, __ATOMIC_RELEASE);
}

int virtq_kick_prepare(struct virtq *q)
{
	uint16_t old = q->kicked_idx, nw = q->avail_idx;
	q->kicked_idx = nw;
	if (old == nw)
		return 0;
	/* our avail->idx store before the device's suppression word load */
	atomic_thread_fence(memory_order_seq_cst);
	if (q->event_idx) {
		uint16_t ev = __atomic_load_n(avail_event(q), __ATOMIC_RELAXED);
		/* vring_need_event: did we pass ev since the last kick? */
		return (uint16_t)(nw - ev - 1) < (uint16_t)(nw - old);
	}
	return !(__atomic_load_n(&q->used->flags, __ATOMIC_RELAXED) & VRING_USED_F_NO_NOTIFY);
}

static void mark_broken(struct virtq *q, uint64_t *counter)
{
	q->broken = 1;
	(*counter)++;
}

uint16_t virtq_get_used(struct virtq *q, void **cookies, uint32_t *lens, uint16_t n)
{
	if (q->broken)
		return 0;
	uint16_t used_idx = __atomic_load_n(&q->used->idx, __ATOMIC_ACQUIRE);
	uint16_t ready = (uint16_t)(used_idx - q->last_used), got = 0;
	if (ready > q->size) {                  /* the device claims more than exists */
		mark_broken(q, &q->bad_id);
		return 0;
	}
	while (got < n && got < ready) {
		/* it can have finished only chains it was shown and has not
		 * given back: last_used never passes published_idx */
		if (q->last_used == q->published_idx) {
			mark_broken(q, &q->bad_id);
			break;
		}
		/* each field read once: the device may rewrite the entry meanwhile */
		const struct vring_used_elem *e = &q->used->ring[q->last_used & (q->size - 1)];
		uint32_t id = __atomic_load_n(&e->id, __ATOMIC_RELAXED);
		uint32_t len = __atomic_load_n(&e->len, __ATOMIC_RELAXED);
		if (id >= q->size || !q->shadow[id].cookie) {     /* not an outstanding head */
			mark_broken(q, &q->bad_id);
			break;
		}
		struct virtq_slot *h = &q->shadow[id];
		if (len > h->cap) {                                 /* wrote past the chain */
			mark_broken(q, &q->bad_len);
			break;
		}
		cookies[got] = h->cookie;
		if (lens)
			lens[got] = len;
		h->cookie = NULL;
		/* the chain goes back on the free list, its links from the shadow */
		uint16_t tail = (uint16_t)id;
		for (uint16_t k = 1; k < h->chain_len; k++)
			tail = q->shadow[tail].next;
		q->shadow[tail].next = q->free_head;
		q->free_head = (uint16_t)id;
		q->num_free = (uint16_t)(q->num_free + h->chain_len);
		q->last_used++;
		got++;
	}
	if (q->event_idx)
		__atomic_store_n(used_event(q), (uint16_t)(q->last_used - 1 + 0x8000), __ATOMIC_RELAXED);
	return got;
}

void virtq_disable_interrupts(struct virtq *q)
{
	__atomic_store_n(&q->avail->flags, VRING_AVAIL_F_NO_INTERRUPT, __ATOMIC_RELAXED);
	if (q->event_idx)
		__atomic_store_n(used_event(q), (uint16_t)(q->last_used + 0x8000), __ATOMIC_RELAXED);
}

/* The contract with the device (virtio 1.2, 2.7.7 and 2.7.10): it
 * writes used->idx, then (full barrier) reads avail->flags or used_event
 * and interrupts if they ask for it. We write the flag or used_event,
 * then (full fence: a store followed by a load of another location needs
 * one even on x86) read used->idx. Either the device sees our request
 * and interrupts, or we see its entry and do not sleep; never neither. */
int virtq_arm(struct virtq *q)
{
	if (q->broken)
		return 0;                       /* stopped: nothing will ever come */
	if (q->event_idx)
		__atomic_store_n(used_event(q), q->last_used, __ATOMIC_RELAXED);
	else
		__atomic_store_n(&q->avail->flags, 0, __ATOMIC_RELAXED);
	atomic_thread_fence(memory_order_seq_cst);
	return __atomic_load_n(&q->used->idx, __ATOMIC_RELAXED) != q->last_used;
}
