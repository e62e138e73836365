/*
 * virtq.c — split virtqueue, driver side. See virtq.h.
 *
 * Free descriptors form a list through desc[].next. A chain's head id is
 * what the device returns; cookie[head] holds the caller's token and
 * chain_len[head] how many descriptors go back on the free list. A used
 * id must be a head currently in flight (cookie set): anything else is a
 * device bug and breaks the queue.
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
static size_t off_cookie(uint16_t size)
{
	return align_up(off_used(size) + 4 + 8 * (size_t)size + 2, 64);
}

size_t virtq_memsize(uint16_t size)
{
	return align_up(off_cookie(size) + (size_t)size * (sizeof(void *) + sizeof(uint16_t)), 4096);
}

int virtq_init(struct virtq *q, uint16_t qidx, uint16_t size, void *mem, int event_idx)
{
	if (size == 0 || size > 32768 || (size & (size - 1)))
		return -EINVAL;
	memset(q, 0, sizeof *q);
	char *m = mem;
	q->size = size;
	q->qidx = qidx;
	q->event_idx = event_idx;
	q->desc = (struct vring_desc *)m;
	q->avail = (struct vring_avail *)(m + off_avail(size));
	q->used = (struct vring_used *)(m + off_used(size));
	q->cookie = (void **)(m + off_cookie(size));
	q->chain_len = (uint16_t *)(m + off_cookie(size) + (size_t)size * sizeof(void *));
	for (uint16_t i = 0; i < size; i++) {
		q->desc[i].next = (uint16_t)(i + 1);
		q->cookie[i] = NULL;
	}
	q->free_head = 0;
	q->num_free = size;
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
	uint16_t head = q->free_head, i = head, last = head;
	for (uint16_t k = 0; k < n; k++) {
		struct vring_desc *d = &q->desc[i];
		d->addr = bufs[k].addr;
		d->len = bufs[k].len;
		d->flags = (uint16_t)((bufs[k].writable ? VRING_DESC_F_WRITE : 0) |
				      (k + 1 < n ? VRING_DESC_F_NEXT : 0));
		last = i;
		i = d->next;
	}
	(void)last;
	q->free_head = i;
	q->num_free = (uint16_t)(q->num_free - n);
	q->cookie[head] = cookie;
	q->chain_len[head] = n;
	q->avail->ring[q->avail_idx & (q->size - 1)] = head;
	q->avail_idx++;
	return 0;
}

void virtq_publish(struct virtq *q)
{
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

uint16_t virtq_get_used(struct virtq *q, void **cookies, uint32_t *lens, uint16_t n)
{
	if (q->broken)
		return 0;
	uint16_t used_idx = __atomic_load_n(&q->used->idx, __ATOMIC_ACQUIRE);
	uint16_t avail = (uint16_t)(used_idx - q->last_used), got = 0;
	if (avail > q->size) {                  /* the device claims more than exists */
		q->broken = 1;
		q->bad_id++;
		return 0;
	}
	while (got < n && got < avail) {
		struct vring_used_elem e = q->used->ring[q->last_used & (q->size - 1)];
		if (e.id >= q->size || !q->cookie[e.id]) {
			q->broken = 1;
			q->bad_id++;
			break;
		}
		uint16_t head = (uint16_t)e.id;
		/* a device may write no more than the chain's writable bytes */
		uint32_t cap = 0;
		uint16_t i = head;
		for (uint16_t k = 0; k < q->chain_len[head]; k++) {
			if (q->desc[i].flags & VRING_DESC_F_WRITE)
				cap += q->desc[i].len;
			if (k + 1 < q->chain_len[head])
				i = q->desc[i].next;
		}
		if (e.len > cap) {
			q->broken = 1;
			q->bad_len++;
			break;
		}
		cookies[got] = q->cookie[head];
		if (lens)
			lens[got] = e.len;
		q->cookie[head] = NULL;
		/* the chain's descriptors go back on the free list */
		q->desc[i].next = q->free_head;
		q->free_head = head;
		q->num_free = (uint16_t)(q->num_free + q->chain_len[head]);
		q->last_used++;
		got++;
	}
	if (q->event_idx)
		__atomic_store_n(used_event(q), (uint16_t)(q->last_used - 1 + 0x8000), __ATOMIC_RELAXED);
	return got;
}

void virtq_disable_interrupts(struct virtq *q)
{
	q->avail->flags = VRING_AVAIL_F_NO_INTERRUPT;
	if (q->event_idx)
		*used_event(q) = (uint16_t)(q->last_used + 0x8000);
}
