/*
 * virtio.h — virtio devices, independent of how they are reached. A
 * transport (PCI modern on the VM, vhost-user in the hosted process,
 * MMIO later) fills a struct virtio_dev and registers it; device drivers
 * (virtio-net) only ever call these operations, so they never know which
 * transport they run on.
 *
 * Addresses given to a device (descriptors, rings) are the addresses the
 * driver itself uses: the identity map on the VM, the process's own
 * mapping of the device-visible memfd in the hosted process (the vhost-user
 * memory table maps guest address == our virtual address).
 *
 * All operations are control path: core 0, during start-up, except
 * notify(), which the owner core of a queue calls from its data path.
 */
#ifndef POLLUX_VIRTIO_H
#define POLLUX_VIRTIO_H
#include <stdint.h>
#include "drivers/virtq.h"

#define VIRTIO_ID_NET 1
#define VIRTIO_ID_RNG 4
#define VIRTIO_MAX_DEVS 16

struct virtio_dev;

struct virtio_ops {
	const char *name;                               /* "pci", "vhost-user" */
	void (*reset)(struct virtio_dev *d);
	uint8_t (*get_status)(struct virtio_dev *d);
	void (*set_status)(struct virtio_dev *d, uint8_t status);
	uint64_t (*get_features)(struct virtio_dev *d);
	/* the negotiated set, written before FEATURES_OK */
	int (*set_features)(struct virtio_dev *d, uint64_t features);
	void (*read_config)(struct virtio_dev *d, uint32_t off, void *buf, uint32_t len);
	uint16_t (*queue_max)(struct virtio_dev *d, uint16_t idx);   /* 0: no such queue */
	/* tells the device where q's rings are and enables it; before DRIVER_OK */
	int (*queue_enable)(struct virtio_dev *d, struct virtq *q);
	void (*notify)(struct virtio_dev *d, struct virtq *q);
	/* queue pairs the transport itself can enable without a control
	 * queue (vhost-user: SET_VRING_ENABLE), or NULL / 0 */
	uint16_t (*max_queue_pairs)(struct virtio_dev *d);
};

struct virtio_dev {
	const struct virtio_ops *ops;
	void *priv;                     /* the transport's */
	uint16_t device_id;             /* VIRTIO_ID_* */
	char name[128];                 /* "pci 00:03.0", "vhost-user /tmp/x.sock" */
	uint64_t features;              /* negotiated */
};

/* Transports call this for each device they find (core 0, start-up).
 * Returns 0 or -ENOSPC. */
int virtio_dev_register(struct virtio_dev *d);
int virtio_dev_count(void);
struct virtio_dev *virtio_dev_get(int i);

/* Reset, ACK, DRIVER, offer (device & wanted), check `required`, write
 * features, FEATURES_OK and check it stuck. On failure sets FAILED and
 * returns -ENOTSUP with a message naming the missing feature in err. */
int virtio_negotiate(struct virtio_dev *d, uint64_t wanted, uint64_t required,
		     char *err, size_t errlen);
const char *virtio_feature_name(int bit);
#endif
