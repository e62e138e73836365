/*
 * virtio_net_rxtx.c — the virtio-net data path: burst receive and
 * transmit on queues owned by one core each. No locks, no allocation
 * beyond the owner's pool; a doorbell only when the device asks for one
 * (EVENT_IDX or NO_NOTIFY). Polled: an RX queue interrupts only while its
 * core sleeps (netdev_rx_arm until netdev_rx_disarm), TX never.
 *
 * RX: the device returns filled buffers (ids and lengths checked by virtq
 * against its private shadow); each becomes a pktbuf after the 12-byte
 * header, of which only the checksum flags are used (header and frame
 * lie in device-visible memory: wire input); runts (< 14 bytes of
 * frame) and frames over the MTU are dropped and counted; the ring is refilled
 * from the owner's pool in one batch per burst (an empty pool is counted
 * and retried next burst).
 * TX: completions are reclaimed lazily (when the ring has fewer free
 * descriptors than the burst has frames, or than a chain needs); each
 * frame gets its header in the headroom of its first buffer and one
 * descriptor per buffer: one, or a chain (a TSO frame: the head with the
 * headers, then the buffers linked by pktbuf.frag). The chain's head is
 * the ring's token; reclaim frees it and with it the whole chain
 * (pktbuf_free). A frame goes in only when the ring has a descriptor for
 * each of its buffers, else it stays the caller's (back-pressure).
 * Offloads: PKTBUF_F_TX_CSUM becomes NEEDS_CSUM with csum_start/offset
 * counted from the frame's start; PKTBUF_F_TX_TSO adds GSO_TCPV4 with
 * gso_size and hdr_len. A chain without TSO (a segment with an external
 * fragment) must fit max_frame. The copies in the buffers belong to the
 * frame, and an external fragment (PKTBUF_F_EXT) holds a reference on
 * immutable memory until reclaim frees it, so nothing the device reads
 * changes before reclaim.
 */
#include <errno.h>
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
		counter_add(&r->rx_drop_nobuf, want - got);
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
			counter_add(&r->rx_drop_runt, 1);
			pktbuf_free(b);
			continue;
		}
		uint32_t flen = lens[i] - VNET_HDR;
		if (flen > d->max_frame) {
			counter_add(&r->rx_drop_too_long, 1);
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
		counter_add(&r->rx_packets, out);
		counter_add(&r->rx_bytes, bytes);
	}
	rx_refill(d, r);
	return out;
}

int netdev_rx_arm(struct netdev *d, uint16_t q)
{
	struct virtq *vq = &d->rx[q].vq;
	if (!vq->wakes)
		return -EOPNOTSUPP;
	if (virtq_free(vq) == vq->size && !virtq_broken(vq))
		return -EAGAIN;                 /* nothing posted: no frame can come to wake us */
	return virtq_arm(vq);
}

void netdev_rx_disarm(struct netdev *d, uint16_t q)
{
	if (d->rx[q].vq.wakes)
		virtq_disable_interrupts(&d->rx[q].vq);
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

/* Fills the virtio-net header in front of b's frame from its offload
 * flags. Returns 0, or -EINVAL when the frame asks for what the device
 * does not do (or offsets outside the frame). */
static int tx_header(const struct netdev *d, struct pktbuf *b, struct virtio_net_hdr *h)
{
	memset(h, 0, sizeof *h);
	/* a chain that is no TSO frame (a segment whose payload is an
	 * external fragment) must fit the MTU like a single buffer */
	int long_chain = b->frag && !(b->flags & PKTBUF_F_TX_TSO) && pktbuf_frame_len(b) > d->max_frame;
	if (!(b->flags & (PKTBUF_F_TX_CSUM | PKTBUF_F_TX_TSO)))
		return long_chain ? -EINVAL : 0;
	if (!(d->tx_offloads & NETDEV_TX_CSUM) || !(b->flags & PKTBUF_F_TX_CSUM) ||
	    b->csum_start < b->off || (uint32_t)(b->csum_start - b->off) + b->csum_offset + 2 > b->len)
		return -EINVAL;
	h->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	h->csum_start = (uint16_t)(b->csum_start - b->off);
	h->csum_offset = b->csum_offset;
	if (!(b->flags & PKTBUF_F_TX_TSO))
		return long_chain ? -EINVAL : 0;
	if (!(d->tx_offloads & NETDEV_TX_TSO4) || pktbuf_frame_len(b) > d->tso_max || !b->gso_size ||
	    b->hdr_end <= b->csum_start || b->hdr_end - b->off > b->len)
		return -EINVAL;
	h->gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
	h->gso_size = b->gso_size;
	h->hdr_len = (uint16_t)(b->hdr_end - b->off);
	return 0;
}

/* Descriptors for b: its header and head, then one per chained buffer.
 * *bad: the chain is longer than the ring's half (never sendable). */
static uint16_t tx_descs(const struct vnet_txq *t, const struct pktbuf *b, struct virtq_buf *v, int *bad)
{
	uint16_t n = 0, max = (uint16_t)(t->vq.size / 2 ? t->vq.size / 2 : 1);
	v[n++] = (struct virtq_buf){ (uint64_t)(uintptr_t)(b->buf + b->off - VNET_HDR), VNET_HDR + b->len, 0 };
	for (const struct pktbuf *f = b->frag; f; f = f->frag) {
		/* an external fragment (PKTBUF_F_EXT) is off 0, len bytes of
		 * memory it holds a reference on: not bounded by a slot */
		if (n == max || f->len == 0 ||
		    (!(f->flags & PKTBUF_F_EXT) && f->off + f->len > PKTBUF_FRAG_ROOM)) {
			*bad = 1;
			return 0;
		}
		v[n++] = (struct virtq_buf){ (uint64_t)(uintptr_t)(f->buf + f->off), f->len, 0 };
	}
	*bad = 0;
	return n;
}

#define TX_MAX_DESCS 256                /* the most a frame may use: tx_descs caps at size/2 */

uint16_t netdev_tx_burst(struct netdev *d, uint16_t q, struct pktbuf **pkts, uint16_t n)
{
	struct vnet_txq *t = &d->tx[q];
	int reclaimed = virtq_free(&t->vq) < n;
	if (reclaimed)
		netdev_tx_reclaim(d, q);
	uint16_t done = 0, sent = 0;
	uint64_t bytes = 0, tso = 0, csum = 0;
	struct virtq_buf v[TX_MAX_DESCS];
	for (; done < n; done++) {
		struct pktbuf *b = pkts[done];
		int bad = 0;
		if ((!b->frag && b->len > d->max_frame && !(b->flags & PKTBUF_F_TX_TSO)) || b->off < VNET_HDR ||
		    (uint32_t)b->off + b->len > PKTBUF_FRAG_ROOM) {
			counter_add(&t->tx_drop_too_long, 1);
			pktbuf_free(b);
			continue;
		}
		uint16_t nd = tx_descs(t, b, v, &bad);
		if (bad || tx_header(d, b, (struct virtio_net_hdr *)(b->buf + b->off - VNET_HDR))) {
			counter_add(&t->tx_drop_bad_offload, 1);
			pktbuf_free(b);
			continue;
		}
		if (virtq_free(&t->vq) < nd && !reclaimed) {
			netdev_tx_reclaim(d, q);        /* a chain wants more than is free */
			reclaimed = 1;
		}
		if (virtq_add(&t->vq, v, nd, b))
			break;                          /* ring full: the rest stay the caller's */
		bytes += pktbuf_frame_len(b);
		tso += (b->flags & PKTBUF_F_TX_TSO) != 0;
		csum += (b->flags & PKTBUF_F_TX_CSUM) != 0;
		sent++;
	}
	if (done < n)
		counter_add(&t->tx_ring_full, (uint64_t)(n - done));  /* frames left to the caller */
	if (sent) {
		virtq_publish(&t->vq);
		if (virtq_kick_prepare(&t->vq)) {
			d->vdev->ops->notify(d->vdev, &t->vq);
			counter_add(&t->tx_kicks, 1);
		}
		counter_add(&t->tx_packets, sent);
		counter_add(&t->tx_bytes, bytes);
		if (tso)
			counter_add(&t->tx_tso, tso);
		if (csum)
			counter_add(&t->tx_csum, csum);
	}
	return done;
}

void netdev_queue_drain(struct netdev *d, uint16_t q)
{
	netdev_tx_reclaim(d, q);
}
