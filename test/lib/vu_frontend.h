/*
 * vu_frontend.h — a vhost-user test frontend: the driver side of a
 * virtio-net device over Pollux's own transport and virtqueue code
 * (src/drivers/vhost_user.c, virtio.c, virtq.c), polled, for programs that
 * put frames on a backend and check what comes back. Used by
 * test/unit/drivers/test_vhost_user_live.c (the transport against
 * dpdk-testpmd) and test/hosted/l2fwd_gen.c (the l2fwd generator).
 *
 * The caller owns everything and keeps to one thread:
 *   1. vu_mem_open: one memfd (2 MiB huge pages where the host has them)
 *      that the backend maps; rings and buffers are carved from it.
 *   2. vhost_user_connect with that memfd, then vu_negotiate (or
 *      virtio_negotiate directly, to check the steps in between).
 *   3. Per queue pair: vu_pair_init (rings and buffer slots from the
 *      memfd), d->ops->queue_enable on rx and tx, vu_pair_post_rx.
 *   4. set_status DRIVER_OK, then rounds of: vu_pair_tx_reclaim;
 *      vu_pair_tx_frame / vu_pair_tx_post per frame; vu_pair_tx_flush;
 *      vu_pair_rx_poll with a callback that checks each frame.
 * TX buffer slots are the pair's own: a slot is free again only once the
 * backend has returned it (vu_pair_tx_reclaim). The backend is untrusted:
 * lengths it reports reach the callback as they are, bounded by virtq.c.
 * Programs linking this file get its klog (the one core.h function the
 * transport calls), printed as "  klog: ..." lines.
 */
#ifndef POLLUX_TEST_VU_FRONTEND_H
#define POLLUX_TEST_VU_FRONTEND_H
#include <stddef.h>
#include <stdint.h>
#include "drivers/virtio.h"
#include "drivers/virtq.h"

#define VU_HDR ((uint32_t)sizeof(struct virtio_net_hdr))
#define VU_RING_MAX 1024                /* the largest ring vu_pair_init takes */
/* what a test frontend asks for: VERSION_1 (required), MAC, STATUS, EVENT_IDX */
#define VU_FEATURES (VIRTIO_F_BIT(VIRTIO_F_VERSION_1) | VIRTIO_F_BIT(VIRTIO_NET_F_MAC) | \
		     VIRTIO_F_BIT(VIRTIO_NET_F_STATUS) | VIRTIO_F_BIT(VIRTIO_RING_F_EVENT_IDX))

struct vu_mem {
	int fd;
	uint8_t *base;
	size_t size, used;              /* used: bump allocator's mark */
	int huge;                       /* on 2 MiB huge pages */
};

/* Creates and maps a memfd of `size` bytes (a multiple of 2 MiB for huge
 * pages), on huge pages where possible, else 4 KiB pages. Returns 0 or
 * -errno with a message naming the step in err. */
int vu_mem_open(struct vu_mem *m, const char *name, size_t size, char *err, size_t errlen);
/* n bytes of m, aligned to align (a power of two), zeroed until written;
 * NULL when m is exhausted. Never freed. */
void *vu_mem_take(struct vu_mem *m, size_t n, size_t align);

/* virtio_negotiate(d, VU_FEATURES, VERSION_1): 0 or -errno with err set. */
int vu_negotiate(struct virtio_dev *d, char *err, size_t errlen);

struct vu_pair {
	/* immutable after vu_pair_init */
	struct virtq rx, tx;
	uint8_t *rxbuf, *txbuf;         /* ring slots each */
	uint32_t rx_slot, rx_len, tx_slot;
	uint16_t ring;
	/* the owner's */
	uint16_t tx_free[VU_RING_MAX], ntx_free;        /* a stack of free TX slots */
	uint32_t tx_posted, tx_done;    /* TX chains added, returned */
	uint32_t kicks;                 /* TX notifications sent */
};

/* Queue pair `index` (rings 2*index and 2*index+1) of `ring` entries (a
 * power of two <= VU_RING_MAX): both rings and `ring` buffer slots each
 * from m, interrupts off, every TX slot free. An RX slot is rx_slot bytes
 * apart and offers rx_len (<= rx_slot, header included); a TX slot is
 * tx_slot bytes. event_idx: as negotiated. Returns 0, -EINVAL or -ENOMEM
 * (m exhausted). */
int vu_pair_init(struct vu_pair *q, struct vu_mem *m, uint16_t index, uint16_t ring, uint32_t rx_slot,
		 uint32_t rx_len, uint32_t tx_slot, int event_idx);
/* Offers RX slots 0..n-1 (n <= ring) to the device, publishes, kicks if
 * the device wants it. Once, after the rings are enabled. */
void vu_pair_post_rx(struct virtio_dev *d, struct vu_pair *q, uint32_t n);

/* Takes back the TX slots the device has finished with; returns how many. */
uint16_t vu_pair_tx_reclaim(struct vu_pair *q);
/* Where the next frame goes (after its virtio-net header), tx_slot - VU_HDR
 * bytes; NULL when every slot is in flight. Borrowed until vu_pair_tx_post. */
uint8_t *vu_pair_tx_frame(struct vu_pair *q);
/* Adds the frame written at vu_pair_tx_frame, len bytes, with a zeroed
 * header. Returns 0, -ENOSPC (no free slot or descriptor) or -EIO (the
 * queue is broken); on failure the slot stays free. */
int vu_pair_tx_post(struct vu_pair *q, uint32_t len);
/* Publishes what was posted and kicks if the device wants it. */
void vu_pair_tx_flush(struct virtio_dev *d, struct vu_pair *q);

/* Called for each frame received: buf is the RX slot (the virtio-net
 * header first), used the length the device wrote (unchecked). buf is
 * borrowed for the call only. */
typedef void (*vu_rx_fn)(void *ctx, const uint8_t *buf, uint32_t used);
/* Collects up to max (<= 64) received buffers, hands each to fn, scrubs
 * what was written (so stale bytes can't pass a later check) and offers
 * the slot again; publishes and kicks if any. Returns how many. */
uint16_t vu_pair_rx_poll(struct virtio_dev *d, struct vu_pair *q, uint16_t max, vu_rx_fn fn, void *ctx);
#endif
