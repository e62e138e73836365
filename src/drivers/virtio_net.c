/*
 * virtio_net.c — the virtio-net poll-mode driver, control path: feature
 * negotiation, device config (MAC, MTU, link), queue set-up, multiqueue
 * through the control queue, RX rings pre-posted from the owner cores'
 * pools, device RSS where offered. Modelled on DPDK's virtio PMD. Core 0,
 * start-up. The data path is in virtio_net_rxtx.c.
 *
 * Flow steering: with VIRTIO_NET_F_RSS (and MQ with more than one queue
 * pair) the device gets a Toeplitz key and an indirection table over the
 * pairs (pkt/rss.h), so every flow lands on the queue of the core that
 * owns it; netdev_rss() hands the stack the very same key and table. A
 * device without RSS, or one that refuses the config, leaves steering to
 * the stack (software steering). The console says which.
 *
 * Transmit offloads: VIRTIO_NET_F_CSUM (the device completes TCP/UDP
 * checksums) and VIRTIO_NET_F_HOST_TSO4 (it cuts TCPv4 frames of up to
 * 64 KiB into segments) are taken when offered (QEMU's virtio-net over a
 * tap offers both; a vhost-user backend may not) and reported to the
 * stack through netdev_tx_offloads(); without them nothing changes.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include "drivers/virtio_net_priv.h"
#include "pkt/rss.h"

/* RSS (virtio 1.2, 5.1.3, 5.1.4 and 5.1.6.5.7): used only here */
#define VIRTIO_NET_F_RSS 60
#define VIRTIO_NET_CTRL_MQ_RSS_CONFIG 1
#define VNET_CFG_RSS_MAX_KEY 17         /* u8 rss_max_key_size */
#define VNET_CFG_RSS_MAX_TABLE 18       /* le16 rss_max_indirection_table_length */
#define VNET_CFG_RSS_TYPES 20           /* le32 supported_hash_types */
#define RSS_TYPES_WANTED (RSS_TYPE_IPV4 | RSS_TYPE_TCPV4 | RSS_TYPE_UDPV4)
#define CTRL_DATA 64                    /* command data: offset in the page */
#define CTRL_MAX (4096 - CTRL_DATA - 1) /* the ack takes the page's last byte */

static struct netdev devs[NETDEV_MAX];
static int ndevs;

static int control_dev = -1;            /* index of the management device, or -1 */

/* The management device's one pair is the control core's; the others'
 * pair q is data core q+1's (core 0's alone with one core). */
static uint16_t queue_core(const struct netdev *d, uint16_t q)
{
	if (d - devs == control_dev)
		return 0;
	return cores_count() > 1 ? (uint16_t)(q + 1) : 0;
}

void netdev_set_control(int index)
{
	control_dev = index;
}

/* A queue's rings in device-visible memory, its shadow in private memory. */
static int queue_init(struct virtq *vq, uint16_t idx, uint16_t size, int event_idx)
{
	void *mem = frame_alloc_dma_pages(virtq_memsize(size) / 4096);
	struct virtq_slot *shadow = frame_alloc_pages((virtq_shadow_size(size) + 4095) / 4096);
	if (!mem || !shadow)
		return -ENOMEM;
	return virtq_init(vq, idx, size, mem, shadow, event_idx);
}

/* Sends one control command and waits (bounded) for the device's ack. */
static int ctrl_cmd(struct virtio_dev *vd, struct virtq *cq, uint8_t class, uint8_t cmd,
		    const void *data, uint32_t len)
{
	if (len > CTRL_MAX)
		return -EINVAL;
	uint8_t *page = frame_alloc_dma_pages(1);   /* the device reads it and writes the ack */
	if (!page)
		return -ENOMEM;
	struct virtio_net_ctrl_hdr *h = (void *)page;
	h->class = class;
	h->cmd = cmd;
	memcpy(page + CTRL_DATA, data, len);
	uint8_t *ack = page + 4095;
	*ack = 0xff;
	struct virtq_buf b[3] = {
		{ (uint64_t)(uintptr_t)h, sizeof *h, 0 },
		{ (uint64_t)(uintptr_t)(page + CTRL_DATA), len, 0 },
		{ (uint64_t)(uintptr_t)ack, 1, 1 },
	};
	int rc = virtq_add(cq, b, 3, page), held = rc == 0;
	if (rc == 0) {
		virtq_publish(cq);
		if (virtq_kick_prepare(cq))
			vd->ops->notify(vd, cq);
		void *cookie;
		uint64_t end = time_ns() + 5000000000ull;
		rc = -ETIMEDOUT;
		while (time_ns() < end) {
			if (virtq_get_used(cq, &cookie, NULL, 1)) {
				held = 0;
				rc = *(volatile uint8_t *)ack == VIRTIO_NET_OK ? 0 : -EIO;
				break;
			}
			if (virtq_broken(cq)) {
				rc = -EIO;
				break;
			}
			__builtin_ia32_pause();
		}
	}
	/* a page the device still holds (timed out, broken queue) stays its */
	if (!held)
		frame_free_dma_pages(page, 1);
	return rc;
}

/* The largest power of two <= n (n > 0). */
static uint16_t pow2_floor(uint16_t n)
{
	uint16_t p = 1;
	while (p <= n / 2)
		p = (uint16_t)(p * 2);
	return p;
}

/* struct virtio_net_rss_config, little-endian (native on x86):
 * le32 hash_types, le16 indirection_table_mask, le16 unclassified_queue,
 * le16 indirection_table[mask + 1], le16 max_tx_vq, u8 hash_key_length,
 * u8 hash_key_data[]. Returns its length. */
static uint32_t rss_config_msg(const struct rss_conf *c, uint16_t nq, uint8_t *m)
{
	uint32_t o = 0;
	uint16_t mask = (uint16_t)(c->table_len - 1), unclassified = 0;
	memcpy(m + o, &c->types, 4), o += 4;
	memcpy(m + o, &mask, 2), o += 2;
	memcpy(m + o, &unclassified, 2), o += 2;   /* ARP and the like: pair 0 */
	memcpy(m + o, c->table, 2u * c->table_len), o += 2u * c->table_len;
	memcpy(m + o, &nq, 2), o += 2;             /* max_tx_vq: also sets the pairs in use */
	m[o++] = RSS_KEY_LEN;
	memcpy(m + o, c->key, RSS_KEY_LEN), o += RSS_KEY_LEN;
	return o;
}

/* Offers the device our key and table over the control queue (after
 * DRIVER_OK; the config also sets the queue pairs in use, in place of
 * VQ_PAIRS_SET). On success d->rss is set; either way `why` gets the
 * console's words for the outcome. */
static int rss_setup(struct netdev *d, struct virtq *ctrl, char *why, size_t whylen)
{
	struct virtio_dev *vd = d->vdev;
	uint8_t max_key = 0;
	uint16_t max_table = 0;
	uint32_t types = 0;
	vd->ops->read_config(vd, VNET_CFG_RSS_MAX_KEY, &max_key, 1);
	vd->ops->read_config(vd, VNET_CFG_RSS_MAX_TABLE, &max_table, 2);
	vd->ops->read_config(vd, VNET_CFG_RSS_TYPES, &types, 4);
	if (max_key < RSS_KEY_LEN || !max_table || (types & RSS_TYPES_WANTED) != RSS_TYPES_WANTED) {
		snprintf(why, whylen, "the device's RSS lacks what we need: key %u bytes, table %u, hash types 0x%x",
			 max_key, max_table, types);
		return -ENOTSUP;
	}
	/* a random key: flows an outsider picks can't all be aimed at one core */
	uint8_t key[RSS_KEY_LEN];
	const char *keysrc = "random key";
	if (getrandom(key, sizeof key, 0) != (ssize_t)sizeof key) {
		memcpy(key, rss_default_key, sizeof key);
		keysrc = "default key";
	}
	uint16_t len = pow2_floor(max_table < RSS_TABLE_MAX ? max_table : RSS_TABLE_MAX);
	size_t pages = (sizeof(struct rss_conf) + 4095) / 4096;
	struct rss_conf *c = frame_alloc_pages(pages);
	if (!c) {
		snprintf(why, whylen, "no memory for the RSS table");
		return -ENOMEM;
	}
	int rc = rss_conf_init(c, key, len, d->nq, RSS_TYPES_WANTED);
	uint8_t msg[16 + 2 * RSS_TABLE_MAX + RSS_KEY_LEN];
	if (!rc)
		rc = ctrl_cmd(vd, ctrl, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_RSS_CONFIG, msg,
			      rss_config_msg(c, d->nq, msg));
	if (rc) {
		snprintf(why, whylen, "the device refused the RSS config (%s)", strerror(-rc));
		frame_free_pages(c, pages);
		return rc;
	}
	d->rss = c;
	snprintf(why, whylen, "RSS on (toeplitz, %u entries, %u queues, %s)", len, d->nq, keysrc);
	return 0;
}

/* After DRIVER_OK: device RSS where the device can (d->rss set), else
 * software steering. ctrl: the control queue, or NULL. steer: the
 * console's line on which, and why. */
static void steer_choose(struct netdev *d, struct virtq *ctrl, char *steer, size_t steerlen)
{
	uint64_t f = d->vdev->features;
	char why[160];
	if (d->nq == 1)
		snprintf(steer, steerlen, "one queue pair: nothing to steer");
	else if (!ctrl || !(f & VIRTIO_F_BIT(VIRTIO_NET_F_MQ)) || !(f & VIRTIO_F_BIT(VIRTIO_NET_F_RSS)))
		snprintf(steer, steerlen, "software steering (the device offers no RSS)");
	else if (rss_setup(d, ctrl, why, sizeof why))
		snprintf(steer, steerlen, "software steering (%s)", why);
	else
		snprintf(steer, steerlen, "%s", why);
}

/* The longest TSO frame: an IPv4 packet's 65535 bytes behind the
 * Ethernet header and a VLAN tag, in few enough buffers (a head of
 * PKTBUF_DATA, then PKTBUF_FRAG_ROOM each) that two such frames fit the
 * TX ring: a full ring never holds a frame that could not be sent. */
static uint32_t tso_max_of(uint16_t ring)
{
	uint32_t ip_max = 65535 + 18, descs = ring / 2u;
	if (descs < 2)
		return 0;
	uint32_t fit = PKTBUF_DATA + (descs - 1) * PKTBUF_FRAG_ROOM;
	return fit < ip_max ? fit : ip_max;
}

static int fill_rx(struct netdev *d, uint16_t q)
{
	struct vnet_rxq *r = &d->rx[q];
	while (virtq_free(&r->vq)) {
		struct pktbuf *b = pktbuf_alloc(r->pool);
		if (!b)
			return -ENOMEM;
		if (virtq_add1(&r->vq, (uint64_t)(uintptr_t)(b->buf + PKTBUF_HEADROOM - VNET_HDR),
			       VNET_HDR + PKTBUF_DATA, 1, b)) {
			pktbuf_free(b);
			break;
		}
	}
	virtq_publish(&r->vq);
	return 0;
}

/* wake_core: the core the queue's interrupt is to wake (RX queues), or -1 */
static int setup_queue(struct netdev *d, struct virtq *vq, uint16_t idx, uint32_t want, int event_idx,
		       int wake_core)
{
	struct virtio_dev *vd = d->vdev;
	uint16_t max = vd->ops->queue_max(vd, idx);
	if (!max)
		return -ENODEV;
	uint16_t size = max;
	if (want && want < size)
		for (size = 1; size * 2 <= want; size *= 2)
			;
	int rc = queue_init(vq, idx, size, event_idx);
	if (rc)
		return rc;
	virtq_disable_interrupts(vq);
	vq->wake_core = wake_core;
	return vd->ops->queue_enable(vd, vq);
}

/* steer: the console's line on how flows reach their core. */
static int init_one(struct netdev *d, struct virtio_dev *vd, uint32_t rx_ring, char *err, size_t errlen,
		    char *steer, size_t steerlen)
{
	uint64_t wanted = VIRTIO_F_BIT(VIRTIO_NET_F_MAC) | VIRTIO_F_BIT(VIRTIO_NET_F_STATUS) |
			  VIRTIO_F_BIT(VIRTIO_NET_F_MTU) | VIRTIO_F_BIT(VIRTIO_NET_F_CTRL_VQ) |
			  VIRTIO_F_BIT(VIRTIO_NET_F_MQ) | VIRTIO_F_BIT(VIRTIO_RING_F_EVENT_IDX) |
			  VIRTIO_F_BIT(VIRTIO_NET_F_GUEST_CSUM) | VIRTIO_F_BIT(VIRTIO_NET_F_RSS) |
			  VIRTIO_F_BIT(VIRTIO_NET_F_CSUM) | VIRTIO_F_BIT(VIRTIO_NET_F_HOST_TSO4);
	uint64_t required = VIRTIO_F_BIT(VIRTIO_F_VERSION_1);
	int rc = virtio_negotiate(vd, wanted, required, err, errlen);
	if (rc)
		return rc;
	uint64_t f = vd->features;
	d->vdev = vd;
	struct virtio_net_config cfg;
	memset(&cfg, 0, sizeof cfg);
	vd->ops->read_config(vd, 0, &cfg, sizeof cfg);
	if (f & VIRTIO_F_BIT(VIRTIO_NET_F_MAC))
		memcpy(d->mac, cfg.mac, 6);
	else {                                  /* locally administered, from the index */
		uint8_t m[6] = { 0x02, 0x50, 0x4c, 0x58, 0x00, (uint8_t)ndevs };
		memcpy(d->mac, m, 6);
	}
	d->mtu = (f & VIRTIO_F_BIT(VIRTIO_NET_F_MTU)) && cfg.mtu >= 68 ? cfg.mtu : 1500;
	if (d->mtu > PKTBUF_DATA - 18)
		d->mtu = PKTBUF_DATA - 18;
	d->max_frame = (uint16_t)(d->mtu + 18);
	d->link_up = (f & VIRTIO_F_BIT(VIRTIO_NET_F_STATUS)) ? (cfg.status & VIRTIO_NET_S_LINK_UP) != 0 : 1;

	uint16_t dev_pairs = 1;
	if ((f & VIRTIO_F_BIT(VIRTIO_NET_F_MQ)) && (f & VIRTIO_F_BIT(VIRTIO_NET_F_CTRL_VQ)))
		dev_pairs = cfg.max_virtqueue_pairs ? cfg.max_virtqueue_pairs : 1;
	else if (vd->ops->max_queue_pairs)
		dev_pairs = vd->ops->max_queue_pairs(vd) ? vd->ops->max_queue_pairs(vd) : 1;
	uint16_t data_cores = cores_count() > 1 ? (uint16_t)(cores_count() - 1) : 1;
	if (d - devs == control_dev)            /* core 0 alone: one pair */
		data_cores = 1;
	d->nq = dev_pairs < data_cores ? dev_pairs : data_cores;
	if (d->nq > NETDEV_MAX_QUEUES)
		d->nq = NETDEV_MAX_QUEUES;
	int eidx = (f & VIRTIO_F_BIT(VIRTIO_RING_F_EVENT_IDX)) != 0;
	if (f & VIRTIO_F_BIT(VIRTIO_NET_F_CSUM))
		d->tx_offloads |= NETDEV_TX_CSUM;
	/* TSO4 depends on CSUM (a device must not offer one without the other) */
	if ((f & VIRTIO_F_BIT(VIRTIO_NET_F_HOST_TSO4)) && (d->tx_offloads & NETDEV_TX_CSUM))
		d->tx_offloads |= NETDEV_TX_TSO4;

	for (uint16_t q = 0; q < d->nq; q++) {
		d->rx[q].pool = pktbuf_pool_of(queue_core(d, q));
		if ((rc = setup_queue(d, &d->rx[q].vq, (uint16_t)(2 * q), rx_ring, eidx, queue_core(d, q))) ||
		    (rc = setup_queue(d, &d->tx[q].vq, (uint16_t)(2 * q + 1), 0, eidx, -1))) {
			snprintf(err, errlen, "virtio-net %s: queue pair %u: %s", vd->name, q, strerror(-rc));
			return rc;
		}
	}
	if (d->tx_offloads & NETDEV_TX_TSO4)
		d->tso_max = tso_max_of(d->tx[0].vq.size);
	struct virtq ctrl;
	int have_ctrl = (f & VIRTIO_F_BIT(VIRTIO_NET_F_CTRL_VQ)) &&
		setup_queue(d, &ctrl, (uint16_t)(2 * dev_pairs), 64, 0, -1) == 0;
	vd->ops->set_status(vd, VIRTIO_STATUS_ACK | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK |
			    VIRTIO_STATUS_DRIVER_OK);
	steer_choose(d, have_ctrl ? &ctrl : NULL, steer, steerlen);
	if (have_ctrl && (f & VIRTIO_F_BIT(VIRTIO_NET_F_MQ)) && d->nq > 1 && !d->rss) {
		uint16_t n = d->nq;
		rc = ctrl_cmd(vd, &ctrl, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, &n, sizeof n);
		if (rc) {
			snprintf(err, errlen, "virtio-net %s: the device refused %u queue pairs (%s)",
				 vd->name, n, strerror(-rc));
			return rc;
		}
	}
	for (uint16_t q = 0; q < d->nq; q++) {
		if (fill_rx(d, q)) {
			snprintf(err, errlen, "virtio-net %s: not enough packet buffers to fill RX queue %u "
				 "(raise pool.buffers_per_core)", vd->name, q);
			return -ENOMEM;
		}
		if (virtq_kick_prepare(&d->rx[q].vq))
			vd->ops->notify(vd, &d->rx[q].vq);
	}
	return 0;
}

int netdev_init_all(uint32_t rx_ring, char *err, size_t errlen)
{
	for (int i = 0; i < virtio_dev_count() && ndevs < NETDEV_MAX; i++) {
		struct virtio_dev *vd = virtio_dev_get(i);
		if (vd->device_id != VIRTIO_ID_NET)
			continue;
		struct netdev *d = &devs[ndevs];
		memset(d, 0, sizeof *d);
		snprintf(d->name, sizeof d->name, "eth%d", ndevs);
		char steer[200];
		int rc = init_one(d, vd, rx_ring, err, errlen, steer, sizeof steer);
		if (rc)
			return rc;
		klog("%s: virtio-net over %s (%s), mac %02x:%02x:%02x:%02x:%02x:%02x, mtu %u, %u queue pair%s, "
		     "rx ring %u, tx ring %u, tx offloads %s, link %s", d->name, vd->ops->name, vd->name, d->mac[0], d->mac[1],
		     d->mac[2], d->mac[3], d->mac[4], d->mac[5], d->mtu, d->nq, d->nq == 1 ? "" : "s",
		     d->rx[0].vq.size, d->tx[0].vq.size,
		     (d->tx_offloads & NETDEV_TX_TSO4) ? "csum+tso4" : (d->tx_offloads & NETDEV_TX_CSUM) ? "csum" : "none",
		     d->link_up ? "up" : "down");
		klog("%s: %s", d->name, steer);
		uint16_t woken = 0;
		for (uint16_t q = 0; q < d->nq; q++)
			woken = (uint16_t)(woken + (d->rx[q].vq.wakes != 0));
		if (woken == d->nq)
			klog("%s: a halting core wakes on received frames (interrupt)", d->name);
		else
			klog("%s: %u of %u rx queues have no interrupt: their halting cores wake every "
			     "cores.halt_max_us to poll", d->name, d->nq - woken, d->nq);
		ndevs++;
	}
	return ndevs;
}

int netdev_count(void) { return ndevs; }
struct netdev *netdev_get(int i) { return i >= 0 && i < ndevs ? &devs[i] : NULL; }
const char *netdev_name(const struct netdev *d) { return d->name; }
const char *netdev_transport(const struct netdev *d) { return d->vdev->ops->name; }
void netdev_mac(const struct netdev *d, uint8_t mac[6]) { memcpy(mac, d->mac, 6); }
uint16_t netdev_mtu(const struct netdev *d) { return d->mtu; }
int netdev_link_up(const struct netdev *d) { return d->link_up; }
uint16_t netdev_queues(const struct netdev *d) { return d->nq; }
uint16_t netdev_queue_core(const struct netdev *d, uint16_t q) { return queue_core(d, q); }
uint64_t netdev_features(const struct netdev *d) { return d->vdev->features; }
uint32_t netdev_tx_offloads(const struct netdev *d) { return d->tx_offloads; }
uint32_t netdev_tso_max(const struct netdev *d) { return d->tso_max; }
const struct rss_conf *netdev_rss(const struct netdev *d) { return d->rss; }

/* The counters by their names in NETDEV_QUEUE_STATS_FIELDS, from the half
 * that counts them; the gauges below, from the rings. */
#define VNET_STAT(f, side, kind, ...) VNET_STAT_##kind(f, side)
#define VNET_STAT_counter(f, side) o->f = counter_get(&side->f);
#define VNET_STAT_gauge(f, side)
#define VNET_GAUGE(f, side, kind, ...) + VNET_GAUGE_##kind
#define VNET_GAUGE_counter 0
#define VNET_GAUGE_gauge 1
_Static_assert(0 NETDEV_QUEUE_STATS_FIELDS(VNET_GAUGE) == 2, "a new gauge: read it in netdev_queue_stats");

void netdev_queue_stats(const struct netdev *d, uint16_t q, struct netdev_queue_stats *o)
{
	memset(o, 0, sizeof *o);
	if (q >= d->nq)
		return;
	const struct vnet_rxq *rx = &d->rx[q];
	const struct vnet_txq *tx = &d->tx[q];
	NETDEV_QUEUE_STATS_FIELDS(VNET_STAT)
	o->rx_posted = (uint64_t)(rx->vq.size - __atomic_load_n(&rx->vq.num_free, __ATOMIC_RELAXED));
	o->tx_held = (uint64_t)(tx->vq.size - __atomic_load_n(&tx->vq.num_free, __ATOMIC_RELAXED));
	o->broken = __atomic_load_n(&rx->vq.broken, __ATOMIC_RELAXED) | __atomic_load_n(&tx->vq.broken, __ATOMIC_RELAXED);
	o->bad_id = __atomic_load_n(&rx->vq.bad_id, __ATOMIC_RELAXED) + __atomic_load_n(&tx->vq.bad_id, __ATOMIC_RELAXED);
	o->bad_len = __atomic_load_n(&rx->vq.bad_len, __ATOMIC_RELAXED) + __atomic_load_n(&tx->vq.bad_len, __ATOMIC_RELAXED);
}
