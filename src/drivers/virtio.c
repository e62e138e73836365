/*
 * virtio.c — the device registry and feature negotiation shared by every
 * transport. See virtio.h.
 */
#include <errno.h>
#include <stdio.h>
#include "drivers/virtio.h"

static struct virtio_dev *devs[VIRTIO_MAX_DEVS];
static int ndevs;

int virtio_dev_register(struct virtio_dev *d)
{
	if (ndevs == VIRTIO_MAX_DEVS)
		return -ENOSPC;
	devs[ndevs++] = d;
	return 0;
}

int virtio_dev_count(void) { return ndevs; }
struct virtio_dev *virtio_dev_get(int i) { return i >= 0 && i < ndevs ? devs[i] : NULL; }

const char *virtio_feature_name(int bit)
{
	switch (bit) {
	case VIRTIO_NET_F_CSUM: return "VIRTIO_NET_F_CSUM";
	case VIRTIO_NET_F_GUEST_CSUM: return "VIRTIO_NET_F_GUEST_CSUM";
	case VIRTIO_NET_F_MTU: return "VIRTIO_NET_F_MTU";
	case VIRTIO_NET_F_MAC: return "VIRTIO_NET_F_MAC";
	case VIRTIO_NET_F_MRG_RXBUF: return "VIRTIO_NET_F_MRG_RXBUF";
	case VIRTIO_NET_F_STATUS: return "VIRTIO_NET_F_STATUS";
	case VIRTIO_NET_F_CTRL_VQ: return "VIRTIO_NET_F_CTRL_VQ";
	case VIRTIO_NET_F_MQ: return "VIRTIO_NET_F_MQ";
	case VIRTIO_RING_F_EVENT_IDX: return "VIRTIO_RING_F_EVENT_IDX";
	case VIRTIO_F_VERSION_1: return "VIRTIO_F_VERSION_1";
	default: return "an unnamed feature";
	}
}

int virtio_negotiate(struct virtio_dev *d, uint64_t wanted, uint64_t required, char *err, size_t errlen)
{
	d->ops->reset(d);
	d->ops->set_status(d, VIRTIO_STATUS_ACK);
	d->ops->set_status(d, VIRTIO_STATUS_ACK | VIRTIO_STATUS_DRIVER);
	uint64_t offered = d->ops->get_features(d);
	uint64_t missing = required & ~offered;
	if (missing) {
		int bit = __builtin_ctzll(missing);
		snprintf(err, errlen, "virtio %s: the device lacks required feature %s (bit %d)",
			 d->name, virtio_feature_name(bit), bit);
		d->ops->set_status(d, VIRTIO_STATUS_FAILED);
		return -ENOTSUP;
	}
	d->features = offered & (wanted | required);
	if (d->ops->set_features(d, d->features)) {
		snprintf(err, errlen, "virtio %s: the device refused features 0x%llx", d->name,
			 (unsigned long long)d->features);
		d->ops->set_status(d, VIRTIO_STATUS_FAILED);
		return -ENOTSUP;
	}
	d->ops->set_status(d, VIRTIO_STATUS_ACK | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
	if (!(d->ops->get_status(d) & VIRTIO_STATUS_FEATURES_OK)) {
		snprintf(err, errlen, "virtio %s: the device did not accept features 0x%llx (FEATURES_OK)",
			 d->name, (unsigned long long)d->features);
		d->ops->set_status(d, VIRTIO_STATUS_FAILED);
		return -ENOTSUP;
	}
	return 0;
}
