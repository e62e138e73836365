/*
 * virtio_rng.c — the virtio entropy device (virtio-rng-pci: the
 * hypervisor's randomness, usually the host's /dev/urandom). One request
 * queue: the driver offers a device-writable buffer, the device fills
 * some of it and returns it.
 *
 * Control path only: core 0 sets it up at start (virtio_rng_init) and
 * reads it (virtio_rng_read), synchronously and bounded in time, to mix
 * into the TLS random generator beside RDSEED/RDRAND. No device: reads
 * return -ENODEV and callers go on with the CPU's sources.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "core/core.h"
#include "core/frame.h"
#include "drivers/virtio.h"
#include "drivers/virtio_ring.h"
#include "drivers/virtio_rng.h"

#define RNG_TIMEOUT_NS 1000000000ull    /* a device that never answers costs 1 s once */

static struct {
	struct virtio_dev *vd;
	struct virtq q;
	uint8_t *page;                  /* the one buffer the device writes */
	int up;
	uint64_t bytes, timeouts;
} rng;

int virtio_rng_init(char *err, size_t errlen)
{
	struct virtio_dev *vd = NULL;
	for (int i = 0; i < virtio_dev_count() && !vd; i++)
		if (virtio_dev_get(i)->device_id == VIRTIO_ID_RNG)
			vd = virtio_dev_get(i);
	if (!vd)
		return 0;
	int rc = virtio_negotiate(vd, 0, VIRTIO_F_BIT(VIRTIO_F_VERSION_1), err, errlen);
	if (rc)
		return rc;
	uint16_t size = vd->ops->queue_max(vd, 0);
	if (!size) {
		snprintf(err, errlen, "virtio-rng %s: no request queue", vd->name);
		return -ENODEV;
	}
	if (size > 8)
		size = 8;
	/* the ring and the page the device fills are device-visible; the
	 * queue's shadow is private */
	void *mem = frame_alloc_dma_pages((virtq_memsize(size) + 4095) / 4096);
	struct virtq_slot *shadow = frame_alloc_pages((virtq_shadow_size(size) + 4095) / 4096);
	rng.page = frame_alloc_dma_pages(1);
	if (!mem || !shadow || !rng.page) {
		snprintf(err, errlen, "virtio-rng %s: no memory", vd->name);
		return -ENOMEM;
	}
	if ((rc = virtq_init(&rng.q, 0, size, mem, shadow, 0)) == 0) {
		virtq_disable_interrupts(&rng.q);
		rc = vd->ops->queue_enable(vd, &rng.q);
	}
	if (rc) {
		snprintf(err, errlen, "virtio-rng %s: queue: %s", vd->name, strerror(-rc));
		return rc;
	}
	vd->ops->set_status(vd, VIRTIO_STATUS_ACK | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK |
			    VIRTIO_STATUS_DRIVER_OK);
	rng.vd = vd;
	rng.up = 1;
	klog("virtio-rng %s: entropy source for TLS", vd->name);
	return 1;
}

int virtio_rng_present(void) { return rng.up; }

/* Up to len bytes from the device into out; returns how many (> 0), or
 * -ENODEV (no device), -ETIMEDOUT, -EIO (the device misbehaved). */
long virtio_rng_read(void *out, size_t len)
{
	if (!rng.up)
		return -ENODEV;
	if (len > 4096)
		len = 4096;
	if (virtq_add1(&rng.q, (uint64_t)(uintptr_t)rng.page, (uint32_t)len, 1, rng.page))
		return -EIO;
	virtq_publish(&rng.q);
	if (virtq_kick_prepare(&rng.q))
		rng.vd->ops->notify(rng.vd, &rng.q);
	uint64_t end = time_ns() + RNG_TIMEOUT_NS;
	void *cookie;
	uint32_t got;
	while (!virtq_get_used(&rng.q, &cookie, &got, 1)) {
		if (virtq_broken(&rng.q) || time_ns() > end) {
			/* the buffer stays with the device: stop using it */
			rng.up = 0;
			rng.timeouts++;
			klog("virtio-rng: no answer%s; going on without it", virtq_broken(&rng.q) ? " (broken queue)" : "");
			return virtq_broken(&rng.q) ? -EIO : -ETIMEDOUT;
		}
		__builtin_ia32_pause();
	}
	if (got > len)
		got = (uint32_t)len;
	memcpy(out, rng.page, got);
	memset(rng.page, 0, got);
	rng.bytes += got;
	return got ? (long)got : -EIO;
}
