/*
 * netdev.h — network devices as the stack and the appliances see them:
 * eth0, eth1, ... in discovery order (PCI order on the VM, the order of
 * --vhost-user options in the hosted process), each with queue pairs
 * owned by data cores.
 *
 * Queue ownership: queue pair q of every device belongs to core
 * netdev_queue_core(d, q) (data cores 1..N-1 take pairs 0..N-2; with one
 * core, core 0 owns pair 0), except the management device
 * (netdev_set_control): it gets one pair, owned by core 0. Only the owner calls rx_burst/tx_burst on
 * it: no locks, no atomics beyond the device's rings. Which pair a
 * received flow lands on is the device's choice: by RSS where the device
 * took our key and table (netdev_rss), else by its own means (the stack
 * then steers in software).
 *
 * Buffers: rx_burst hands received buffers to the caller (the caller owns
 * them: free or transmit). tx_burst consumes buffers from the front of
 * the array: sent ones (freed when the device is done) and ones dropped
 * for a cause (too long: freed and counted); it returns how many it
 * consumed, and the rest (ring full) stay the caller's.
 *
 * Transmit offloads: netdev_tx_offloads() says what the device does for
 * us (fixed after netdev_init_all). A frame may ask for them through its
 * pktbuf flags (PKTBUF_F_TX_CSUM, PKTBUF_F_TX_TSO, pkt/pktbuf.h) only when
 * offered, and may be a chain (TSO) of at most netdev_tso_max() bytes;
 * a frame asking for more is dropped and counted (tx_drop_bad_offload).
 */
#ifndef POLLUX_NETDEV_H
#define POLLUX_NETDEV_H
#include <stddef.h>
#include <stdint.h>
#include "pkt/pktbuf.h"
#include "pkt/rss.h"
#include "core/schema.h"

#define NETDEV_MAX 8
#define NETDEV_MAX_QUEUES 16

struct netdev;

/* rx_drop_nobuf: RX buffers the refill could not get from the pool (the
 * ring runs short; frames are lost only if it empties). tx_ring_full:
 * frames tx_burst handed back because the ring was full. */
struct netdev_queue_stats {
	uint64_t rx_packets, rx_bytes, rx_drop_nobuf, rx_drop_runt, rx_drop_too_long;
	uint64_t tx_packets, tx_bytes, tx_drop_too_long, tx_ring_full, tx_kicks;
	uint64_t tx_tso, tx_csum;       /* frames sent as TSO / with the checksum left to the device */
	uint64_t tx_drop_bad_offload;   /* asked for an offload the device lacks, or too long */
	uint64_t rx_posted;             /* RX buffers the device holds now */
	uint64_t tx_held;               /* TX buffers not yet reclaimed */
	int broken;                     /* the device misbehaved on this queue */
	uint64_t bad_id, bad_len;
};

/* The "nic" section of the config (table: netdev_schema, src/drivers/config.c). */
struct netdev_config {
	uint32_t rx_ring;               /* RX buffers posted per queue; 0: the ring's size */
};
extern const struct schema_node netdev_schema[];

/* Core 0, start-up, after pktbuf_pools_init: brings up every virtio-net
 * device registered by a transport, with min(device's, data cores) queue
 * pairs, RX rings full of buffers from the owner cores' pools. Returns
 * the number of devices, or -errno with a message in err. */
int netdev_init_all(uint32_t rx_ring, char *err, size_t errlen);
/* Core 0, before netdev_init_all: device `index` (discovery order) is the
 * management interface: one queue pair, owned by the control core, so
 * no data core touches it (the API runs there). -1: none. */
void netdev_set_control(int index);
int netdev_count(void);
struct netdev *netdev_get(int i);
const char *netdev_name(const struct netdev *d);
const char *netdev_transport(const struct netdev *d);
void netdev_mac(const struct netdev *d, uint8_t mac[6]);
uint16_t netdev_mtu(const struct netdev *d);
int netdev_link_up(const struct netdev *d);
uint16_t netdev_queues(const struct netdev *d);
uint16_t netdev_queue_core(const struct netdev *d, uint16_t q);
uint64_t netdev_features(const struct netdev *d);
#define NETDEV_TX_CSUM 1                /* VIRTIO_NET_F_CSUM: TCP/UDP checksums */
#define NETDEV_TX_TSO4 2                /* VIRTIO_NET_F_HOST_TSO4 (with CSUM) */
uint32_t netdev_tx_offloads(const struct netdev *d);
/* The longest frame (Ethernet header to the end, chain included) the
 * device takes with PKTBUF_F_TX_TSO: what IPv4 allows, and few enough
 * buffers to fit the TX ring with room for a second frame. */
uint32_t netdev_tso_max(const struct netdev *d);
/* Flow steering by the device: its RSS set-up (key, indirection table
 * over the queue pairs, hash types) when the device accepted one
 * (VIRTIO_NET_F_RSS with more than one queue pair), else NULL and flows
 * are steered in software. Pair q of the table belongs to core
 * netdev_queue_core(d, q). Immutable after netdev_init_all. */
const struct rss_conf *netdev_rss(const struct netdev *d);

uint16_t netdev_rx_burst(struct netdev *d, uint16_t q, struct pktbuf **pkts, uint16_t n);
uint16_t netdev_tx_burst(struct netdev *d, uint16_t q, struct pktbuf **pkts, uint16_t n);
/* Returns TX buffers the device has finished with to their pools (the
 * owner, e.g. when idle); tx_burst also does it lazily. */
void netdev_tx_reclaim(struct netdev *d, uint16_t q);
/* Owner: gives back every buffer the queue holds (shutdown, tests). */
void netdev_queue_drain(struct netdev *d, uint16_t q);
/* Any core: relaxed reads of the owner's counters. */
void netdev_queue_stats(const struct netdev *d, uint16_t q, struct netdev_queue_stats *out);
#endif
