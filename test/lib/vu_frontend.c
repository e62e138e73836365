/*
 * vu_frontend.c — the vhost-user test frontend (see vu_frontend.h for
 * the order of calls and who owns what). Host-only test code: plain
 * libc, one thread, no locking.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include "core/core.h"
#include "vu_frontend.h"

#define SCRUB_MIN 64                    /* bytes scrubbed at least: the header and the first fields */

/* the one core.h function the transport calls */
void klog(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	printf("  klog: ");
	vprintf(fmt, ap);
	printf("\n");
	va_end(ap);
}

static uint8_t *map(int fd, size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
	return p == MAP_FAILED ? NULL : p;
}

int vu_mem_open(struct vu_mem *m, const char *name, size_t size, char *err, size_t errlen)
{
	memset(m, 0, sizeof *m);
	m->size = size;
	m->huge = 1;
	m->fd = memfd_create(name, MFD_CLOEXEC | MFD_HUGETLB);
	if (m->fd >= 0 && ftruncate(m->fd, (off_t)size) == 0)
		m->base = map(m->fd, size);
	if (!m->base) {                 /* no huge pages here: 4 KiB ones */
		if (m->fd >= 0)
			close(m->fd);
		m->huge = 0;
		m->fd = memfd_create(name, MFD_CLOEXEC);
		if (m->fd < 0 || ftruncate(m->fd, (off_t)size)) {
			int e = errno;
			snprintf(err, errlen, "memfd: %s", strerror(e));
			if (m->fd >= 0)
				close(m->fd);
			m->fd = -1;
			return -e;
		}
		m->base = map(m->fd, size);
	}
	if (!m->base) {
		int e = errno;
		snprintf(err, errlen, "mmap: %s", strerror(e));
		close(m->fd);
		m->fd = -1;
		return -e;
	}
	return 0;
}

void *vu_mem_take(struct vu_mem *m, size_t n, size_t align)
{
	size_t at = (m->used + align - 1) & ~(align - 1);
	if (at > m->size || n > m->size - at)
		return NULL;
	m->used = at + n;
	return m->base + at;
}

int vu_negotiate(struct virtio_dev *d, char *err, size_t errlen)
{
	return virtio_negotiate(d, VU_FEATURES, VIRTIO_F_BIT(VIRTIO_F_VERSION_1), err, errlen);
}

int vu_pair_init(struct vu_pair *q, struct vu_mem *m, uint16_t index, uint16_t ring, uint32_t rx_slot,
		 uint32_t rx_len, uint32_t tx_slot, int event_idx)
{
	if (!ring || ring > VU_RING_MAX || (ring & (ring - 1)) || rx_len > rx_slot || rx_len < VU_HDR ||
	    tx_slot <= VU_HDR)
		return -EINVAL;
	memset(q, 0, sizeof *q);
	q->ring = ring;
	q->rx_slot = rx_slot;
	q->rx_len = rx_len;
	q->tx_slot = tx_slot;
	void *rxq = vu_mem_take(m, virtq_memsize(ring), 4096), *txq = vu_mem_take(m, virtq_memsize(ring), 4096);
	q->rxbuf = vu_mem_take(m, (size_t)ring * rx_slot, 4096);
	q->txbuf = vu_mem_take(m, (size_t)ring * tx_slot, 4096);
	if (!rxq || !txq || !q->rxbuf || !q->txbuf)
		return -ENOMEM;
	int rc = virtq_init(&q->rx, (uint16_t)(2 * index), ring, rxq, event_idx);
	if (!rc)
		rc = virtq_init(&q->tx, (uint16_t)(2 * index + 1), ring, txq, event_idx);
	if (rc)
		return rc;
	virtq_disable_interrupts(&q->rx);
	virtq_disable_interrupts(&q->tx);
	for (uint16_t i = 0; i < ring; i++)     /* slot 0 on top */
		q->tx_free[q->ntx_free++] = (uint16_t)(ring - 1 - i);
	return 0;
}

static void kick_if_wanted(struct virtio_dev *d, struct virtq *vq)
{
	virtq_publish(vq);
	if (virtq_kick_prepare(vq))
		d->ops->notify(d, vq);
}

void vu_pair_post_rx(struct virtio_dev *d, struct vu_pair *q, uint32_t n)
{
	for (uint32_t i = 0; i < n && i < q->ring; i++)
		virtq_add1(&q->rx, (uint64_t)(uintptr_t)(q->rxbuf + (size_t)i * q->rx_slot), q->rx_len, 1,
			   (void *)(uintptr_t)(i + 1));
	kick_if_wanted(d, &q->rx);
}

uint16_t vu_pair_tx_reclaim(struct vu_pair *q)
{
	void *ck[64];
	uint16_t total = 0, n;
	do {
		n = virtq_get_used(&q->tx, ck, NULL, 64);
		for (uint16_t i = 0; i < n; i++)
			q->tx_free[q->ntx_free++] = (uint16_t)((uintptr_t)ck[i] - 1);
		total += n;
	} while (n == 64);
	q->tx_done += total;
	return total;
}

uint8_t *vu_pair_tx_frame(struct vu_pair *q)
{
	if (!q->ntx_free)
		return NULL;
	return q->txbuf + (size_t)q->tx_free[q->ntx_free - 1] * q->tx_slot + VU_HDR;
}

int vu_pair_tx_post(struct vu_pair *q, uint32_t len)
{
	if (!q->ntx_free || len > q->tx_slot - VU_HDR)
		return -ENOSPC;
	uint16_t slot = q->tx_free[q->ntx_free - 1];
	uint8_t *b = q->txbuf + (size_t)slot * q->tx_slot;
	memset(b, 0, VU_HDR);
	int rc = virtq_add1(&q->tx, (uint64_t)(uintptr_t)b, VU_HDR + len, 0, (void *)(uintptr_t)(slot + 1));
	if (rc)
		return rc;
	q->ntx_free--;
	q->tx_posted++;
	return 0;
}

void vu_pair_tx_flush(struct virtio_dev *d, struct vu_pair *q)
{
	virtq_publish(&q->tx);
	if (virtq_kick_prepare(&q->tx)) {
		d->ops->notify(d, &q->tx);
		q->kicks++;
	}
}

uint16_t vu_pair_rx_poll(struct virtio_dev *d, struct vu_pair *q, uint16_t max, vu_rx_fn fn, void *ctx)
{
	void *ck[64];
	uint32_t lens[64];
	uint16_t m = virtq_get_used(&q->rx, ck, lens, max < 64 ? max : 64);
	for (uint16_t i = 0; i < m; i++) {
		uint32_t id = (uint32_t)((uintptr_t)ck[i] - 1);
		uint8_t *b = q->rxbuf + (size_t)id * q->rx_slot;
		fn(ctx, b, lens[i]);
		uint32_t scrub = lens[i] > SCRUB_MIN ? lens[i] : SCRUB_MIN;
		memset(b, 0xee, scrub < q->rx_len ? scrub : q->rx_len);
		virtq_add1(&q->rx, (uint64_t)(uintptr_t)b, q->rx_len, 1, ck[i]);
	}
	if (m)
		kick_if_wanted(d, &q->rx);
	return m;
}
