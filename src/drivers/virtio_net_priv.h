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

/* Each half of a pair holds the counters of its side of
 * NETDEV_QUEUE_STATS_FIELDS (drivers/netdev.h), under the same names;
 * gauges are read from the ring instead (netdev_queue_stats). */
#define VNET_RX_COUNTER(f, side, kind, ...) VNET_RX_COUNTER_##side##_##kind(f)
#define VNET_RX_COUNTER_rx_counter(f) counter_t f;
#define VNET_RX_COUNTER_rx_gauge(f)
#define VNET_RX_COUNTER_tx_counter(f)
#define VNET_RX_COUNTER_tx_gauge(f)
#define VNET_TX_COUNTER(f, side, kind, ...) VNET_TX_COUNTER_##side##_##kind(f)
#define VNET_TX_COUNTER_rx_counter(f)
#define VNET_TX_COUNTER_rx_gauge(f)
#define VNET_TX_COUNTER_tx_counter(f) counter_t f;
#define VNET_TX_COUNTER_tx_gauge(f)

struct vnet_rxq {
	/* owner core: the data path */
	struct virtq vq;
	struct pktbuf_pool *pool;
	NETDEV_QUEUE_STATS_FIELDS(VNET_RX_COUNTER)
} __attribute__((aligned(CACHE_LINE)));

struct vnet_txq {
	/* owner core: the data path */
	struct virtq vq;
	NETDEV_QUEUE_STATS_FIELDS(VNET_TX_COUNTER)
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
