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

/* A queue pair's counters and gauges, declared once. struct
 * netdev_queue_stats below, the driver's own counters and its
 * netdev_queue_stats(), the API's snapshot (api/api.h), the Prometheus
 * rows (api/metrics.c) and the console's netstat all expand this list, so
 * a new counter is one row here plus the line in the data path that
 * counts it.
 *
 *   X(field, side, kind, metric, reason, help)
 *   side    rx or tx: which half of the pair counts it
 *   kind    counter (only grows: the owner counts it) or gauge (a level
 *           read from the device's ring at the time of the read)
 *   metric  the Prometheus family it is a sample of, or NULL: shown on
 *           the console only (naming it is a change users see)
 *   reason  the value of the family's "reason" label, or NULL
 *   help    the family's HELP text on its first row; NULL on the rows
 *           that follow it in the same family (they stay together)
 *
 * rx_drop_nobuf: RX buffers the refill could not get from the pool (the
 * ring runs short; frames are lost only if it empties). tx_ring_full:
 * frames tx_burst handed back because the ring was full. The order is
 * the order of /metrics. */
#define NETDEV_QUEUE_STATS_FIELDS(X) \
	X(rx_packets, rx, counter, "pollux_rx_packets_total", NULL, "Packets received on the queue.") \
	X(rx_bytes, rx, counter, "pollux_rx_bytes_total", NULL, "Bytes received on the queue.") \
	X(tx_packets, tx, counter, "pollux_tx_packets_total", NULL, "Packets sent on the queue.") \
	X(tx_bytes, tx, counter, "pollux_tx_bytes_total", NULL, "Bytes sent on the queue.") \
	X(rx_drop_nobuf, rx, counter, "pollux_rx_dropped_packets_total", "no_buffer", \
	  "Packets dropped on receive, by reason.") \
	X(rx_drop_runt, rx, counter, "pollux_rx_dropped_packets_total", "runt", NULL) \
	X(rx_drop_too_long, rx, counter, "pollux_rx_dropped_packets_total", "too_long", NULL) \
	X(tx_drop_too_long, tx, counter, "pollux_tx_dropped_packets_total", "too_long", \
	  "Packets dropped on send, by reason.") \
	X(tx_ring_full, tx, counter, "pollux_tx_ring_full_total", NULL, \
	  "Sends that found the TX ring full (retried later).") \
	X(tx_kicks, tx, counter, "pollux_tx_kicks_total", NULL, "Doorbells rung to the device.") \
	X(rx_posted, rx, gauge, "pollux_rx_posted_buffers", NULL, "Receive buffers the device holds now.") \
	X(tx_held, tx, gauge, "pollux_tx_held_buffers", NULL, "Sent buffers not yet reclaimed.") \
	X(tx_tso, tx, counter, NULL, NULL, "Frames sent as TSO.") \
	X(tx_csum, tx, counter, NULL, NULL, "Frames sent with the checksum left to the device.") \
	X(tx_drop_bad_offload, tx, counter, NULL, NULL, \
	  "Frames dropped: they asked for an offload the device lacks, or were too long.")
#define NETDEV_QUEUE_STATS_U64(f, ...) uint64_t f;

struct netdev_queue_stats {
	NETDEV_QUEUE_STATS_FIELDS(NETDEV_QUEUE_STATS_U64)
	/* the device's health on this pair, from its rings */
	int broken;                     /* the device misbehaved: the queue stopped */
	uint64_t bad_id, bad_len;       /* used-ring entries refused, by cause */
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
/* Waking a sleeping owner (halting cores, sched_poller_set_arm). Owner,
 * just before its core sleeps: asks the device to interrupt the queue's
 * core at the next received frame, then looks again. 0: armed, sleep;
 * 1: frames are already waiting, don't sleep; -EOPNOTSUPP: the transport
 * gave the queue no interrupt (vhost-user, a device that refused the
 * MSI-X vector), -EAGAIN: no buffer is posted (nothing can arrive): wake
 * on a timer to poll. rx_disarm, after the sleep, turns the interrupt
 * off again so polling costs none. TX needs no interrupt: completions
 * are reclaimed on the next turn. */
int netdev_rx_arm(struct netdev *d, uint16_t q);
void netdev_rx_disarm(struct netdev *d, uint16_t q);
/* Returns TX buffers the device has finished with to their pools (the
 * owner, e.g. when idle); tx_burst also does it lazily. */
void netdev_tx_reclaim(struct netdev *d, uint16_t q);
/* Owner: gives back every buffer the queue holds (shutdown, tests). */
void netdev_queue_drain(struct netdev *d, uint16_t q);
/* Any core: relaxed reads of the owner's counters. */
void netdev_queue_stats(const struct netdev *d, uint16_t q, struct netdev_queue_stats *out);
#endif
