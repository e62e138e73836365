/*
 * virtio_net_rxtx.c — the virtio-net data path: burst receive and
 * transmit on queues owned by one core each. No locks, no interrupts, no
 * allocation beyond the owner's pool; a doorbell only when the device
 * asks for one (EVENT_IDX or NO_NOTIFY).
 *
 * RX: the device returns filled buffers (bounds-checked by virtq); each
 * becomes a pktbuf after the 12-byte header; runts (< 14 bytes of frame)
 * and frames over the MTU are dropped and counted; the ring is refilled
 * from the owner's pool in one batch per burst (an empty pool is counted
 * and retried next burst).
 * TX: completions are reclaimed lazily (when the ring runs short); each
 * packet gets a zeroed header in its headroom and one descriptor.
 */
#include <string.h>
#include "drivers/virtio_net_priv.h"

#define MIN_FRAME 14

static void rx_refill(struct netdev *d, struct vnet_rxq *r)
{
	struct pktbuf *bufs[64];
	uint16_t want = virtq_free(&r->vq);
	if (!want)
		return;
	if (want > 64)
		want = 64;
	unsigned got = pktbuf_alloc_bulk(r->pool, bufs, want);
	if (got < want)
		counter_add(&r->nobuf, want - got);
	for (unsigned i = 0; i < got; i++)
		if (virtq_add1(&r->vq, (uint64_t)(uintptr_t)(bufs[i]->buf + PKTBUF_HEADROOM - VNET_HDR),
			       VNET_HDR + PKTBUF_DATA, 1, bufs[i]))
			pktbuf_free(bufs[i]);           /* broken queue: keep the accounting whole */
	if (got) {
		virtq_publish(&r->vq);
		if (virtq_kick_prepare(&r->vq))
			d->vdev->ops->notify(d->vdev, &r->vq);
	}
}

uint16_t netdev_rx_burst(struct netdev *d, uint16_t q, struct pktbuf **pkts, uint16_t n)
{
	struct vnet_rxq *r = &d->rx[q];
	void *cookies[64];
	uint32_t lens[64];
	if (n > 64)
		n = 64;
	uint16_t got = virtq_get_used(&r->vq, cookies, lens, n), out = 0;
	uint64_t bytes = 0;
	for (uint16_t i = 0; i < got; i++) {
		struct pktbuf *b = cookies[i];
		if (lens[i] < VNET_HDR + MIN_FRAME) {
			counter_add(&r->runt, 1);
			pktbuf_free(b);
			continue;
		}
		uint32_t flen = lens[i] - VNET_HDR;
		if (flen > d->max_frame) {
			counter_add(&r->too_long, 1);
			pktbuf_free(b);
			continue;
		}
		const struct virtio_net_hdr *h = (const void *)(b->buf + PKTBUF_HEADROOM - VNET_HDR);
		b->off = PKTBUF_HEADROOM;
		b->len = (uint16_t)flen;
		b->queue = q;
		if (h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
			b->flags |= PKTBUF_F_CSUM_NEEDED;
			b->csum_start = h->csum_start;
			b->csum_offset = h->csum_offset;
		} else if (h->flags & VIRTIO_NET_HDR_F_DATA_VALID) {
			b->flags |= PKTBUF_F_CSUM_VALID;
		}
		bytes += flen;
		pkts[out++] = b;
	}
	if (got) {
		counter_add(&r->packets, out);
		counter_add(&r->bytes, bytes);
	}
	rx_refill(d, r);
	return out;
}

void netdev_tx_reclaim(struct netdev *d, uint16_t q)
{
	struct vnet_txq *t = &d->tx[q];
	void *cookies[64];
	uint16_t got;
	while ((got = virtq_get_used(&t->vq, cookies, NULL, 64)) > 0)
		for (uint16_t i = 0; i < got; i++)
			pktbuf_free(cookies[i]);
}

uint16_t netdev_tx_burst(struct netdev *d, uint16_t q, struct pktbuf **pkts, uint16_t n)
{
	struct vnet_txq *t = &d->tx[q];
	if (virtq_free(&t->vq) < n)
		netdev_tx_reclaim(d, q);
	uint16_t done = 0, sent = 0;
	uint64_t bytes = 0;
	for (; done < n; done++) {
		struct pktbuf *b = pkts[done];
		if (b->len > d->max_frame || b->off < VNET_HDR) {
			counter_add(&t->too_long, 1);
			pktbuf_free(b);
			continue;
		}
		uint8_t *h = b->buf + b->off - VNET_HDR;
		memset(h, 0, VNET_HDR);
		if (virtq_add1(&t->vq, (uint64_t)(uintptr_t)h, VNET_HDR + b->len, 0, b))
			break;                          /* ring full: the rest stay the caller's */
		bytes += b->len;
		sent++;
	}
	if (done < n)
		counter_add(&t->ring_full, (uint64_t)(n - done));     /* frames left to the caller */
	if (sent) {
		virtq_publish(&t->vq);
		if (virtq_kick_prepare(&t->vq)) {
			d->vdev->ops->notify(d->vdev, &t->vq);
			counter_add(&t->kicks, 1);
		}
		counter_add(&t->packets, sent);
		counter_add(&t->bytes, bytes);
	}
	return done;
}

void netdev_queue_drain(struct netdev *d, uint16_t q)
{
	netdev_tx_reclaim(d, q);
}
