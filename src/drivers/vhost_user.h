/*
 * vhost_user.h — the vhost-user frontend: the third virtio transport, for
 * the hosted platform only. It speaks the vhost-user protocol (QEMU's
 * docs/interop/vhost-user.rst) over a UNIX socket to a backend such as
 * `dpdk-testpmd --vdev net_vhost0,iface=PATH` and presents that backend as
 * a struct virtio_dev, so the virtio-net driver runs on it unchanged: the
 * same role as DPDK's virtio-user PMD.
 *
 * The backend maps one shared memfd, the device-visible memory
 * (frame_alloc_dma_pages: rings and packet data, nothing else), with
 * guest address == our virtual address; it can address nothing outside
 * that region, polls the rings, and is kicked through one eventfd per
 * ring. It is untrusted: the driver's own state lives in private memory
 * (virtq.h, pktbuf.h). There is no control queue: queue pairs are
 * switched on with SET_VRING_ENABLE and the device config (MAC, link,
 * queue pairs) is synthesized here. See docs/vhost-user.md.
 *
 * Rules for callers: control path, core 0 only, one thread — except the
 * device's notify op, which a queue's owner core calls from its data path
 * (one eventfd write, no shared state written).
 */
#ifndef POLLUX_VHOST_USER_H
#define POLLUX_VHOST_USER_H
#include <stddef.h>
#include <stdint.h>
#include "drivers/virtio.h"

#define VHOST_USER_MAX_QUEUE_PAIRS 64   /* one per data core at most */
#define VHOST_USER_RING_SIZE 1024       /* what queue_max reports */

/* Connects to the backend at `path` (a UNIX socket; retries for up to
 * timeout_ms while it doesn't exist yet or nobody listens on it),
 * negotiates the protocol and registers a virtio_dev with device_id
 * VIRTIO_ID_NET. `queue_pairs` (1..VHOST_USER_MAX_QUEUE_PAIRS) is how many
 * RX/TX pairs to offer; the backend's GET_QUEUE_NUM bounds it. mem_fd,
 * mem_base and mem_size describe the one shared memfd that holds every
 * ring and buffer the driver will give the device, and nothing the
 * driver trusts (on hosted: platform_dma_fd, where frame_alloc_dma_pages
 * allocates); a queue whose rings lie outside it is refused. mem_fd stays
 * the caller's (it is only passed to the backend). mac: 6 bytes the device
 * config reports. Returns the device (it lives until the process exits),
 * or NULL with a one-line message naming the step and the path in err;
 * on failure every descriptor it opened is closed again. */
struct virtio_dev *vhost_user_connect(const char *path, uint16_t queue_pairs, int mem_fd, void *mem_base,
				      size_t mem_size, const uint8_t mac[6], int timeout_ms, char *err,
				      size_t errlen);
#endif
