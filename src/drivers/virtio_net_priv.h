/*
 * virtio_net_priv.h — the virtio-net driver's state, shared between its
 * control path (virtio_net.c) and data path (virtio_net_rxtx.c).
 */
#ifndef POLLUX_VIRTIO_NET_PRIV_H
#define POLLUX_VIRTIO_NET_PRIV_H
#include "core/core.h"
#include "drivers/netdev.h"
#include "drivers/virtio.h"

#define VNET_HDR 12                     /* struct virtio_net_hdr, VERSION_1 */

struct vnet_rxq {
	/* owner core: the data path */
	struct virtq vq;
	struct pktbuf_pool *pool;
	counter_t packets, bytes, nobuf, runt, too_long;
} __attribute__((aligned(CACHE_LINE)));

struct vnet_txq {
	struct virtq vq;
	counter_t packets, bytes, too_long, ring_full, kicks;
	counter_t tso, csum, bad_offload;
} __attribute__((aligned(CACHE_LINE)));

struct netdev {
	/* immutable after netdev_init_all */
	struct virtio_dev *vdev;
	char name[8];
	uint8_t mac[6];
	uint16_t mtu;
	uint16_t nq;                    /* queue pairs in use */
	uint16_t max_frame;             /* mtu + Ethernet header + VLAN tag */
	int link_up;
	uint32_t tx_offloads;           /* NETDEV_TX_*: what the device does for us */
	uint32_t tso_max;               /* netdev_tso_max(); 0 without TSO */
	struct rss_conf *rss;           /* device RSS on (pkt/rss.h), else NULL */
	struct vnet_rxq rx[NETDEV_MAX_QUEUES];
	struct vnet_txq tx[NETDEV_MAX_QUEUES];
};
#endif
