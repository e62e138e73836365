/*
 * test_virtio_net_tx.c — the virtio-net transmit path (virtio_net_rxtx.c)
 * against an in-memory device that reads the TX ring as QEMU does: the
 * header and descriptors of plain frames, checksum-offloaded frames and
 * TSO chains; a full ring leaving frames to the caller without losing
 * any; frames asking for offloads the device lacks dropped and counted;
 * reclaim freeing whole chains (every buffer home at the end).
 *
 * The driver file and the pool are compiled in here with a one-core stub
 * platform.
 */
#include <stdlib.h>
#include <string.h>
#include <criterion/criterion.h>
#include "drivers/virtio_net_rxtx.c"
#include "pkt/pktbuf.c"

void klog(const char *fmt, ...) { (void)fmt; }
_Noreturn void panic(const char *fmt, ...)
{
	(void)fmt;
	cr_assert_fail("panic: %s", fmt);       /* an assertion of our own failed */
	abort();
}

/* ---- a one-core platform */
static struct core core0 = { .self = &core0, .id = 0 };
struct core *core_self(void) { return &core0; }
struct core *core_get(uint32_t id) { return id == 0 ? &core0 : NULL; }
uint32_t cores_count(void) { return 1; }
void *frame_alloc_pages(size_t n)
{
	void *p = aligned_alloc(4096, n * 4096);
	if (p)
		memset(p, 0, n * 4096);
	return p;
}
/* device-visible memory: the same heap here */
void *frame_alloc_dma_pages(size_t n) { return frame_alloc_pages(n); }
int call_on(uint32_t core, void (*fn)(void *), void *arg) { (void)core; fn(arg); return 0; }
int sched_poller_add(uint32_t core, const char *name, sched_poll_fn fn, sched_flush_fn flush, void *arg)
{
	(void)core; (void)name; (void)fn; (void)flush; (void)arg;
	return 0;
}
int sched_poller_set_arm(uint32_t core, sched_poll_fn fn, void *arg, sched_arm_fn arm, sched_flush_fn disarm)
{
	(void)core; (void)fn; (void)arg; (void)arm; (void)disarm;
	return 0;
}

/* ---- the device */
static int kicks;
static void dev_notify(struct virtio_dev *d, struct virtq *q) { (void)d; (void)q; kicks++; }
static const struct virtio_ops ops = { .name = "test", .notify = dev_notify };
static struct virtio_dev vdev = { .ops = &ops };
static struct netdev nd;
static struct pktbuf_pool *pool;
static uint16_t dev_last_avail, dev_used;

#define TXC(f) counter_get(&nd.tx[0].f)
#define POOL 512
#define RING 64

static void setup(void)
{
	memset(&nd, 0, sizeof nd);
	nd.vdev = &vdev;
	nd.mtu = 1500;
	nd.max_frame = 1518;
	nd.nq = 1;
	nd.tx_offloads = NETDEV_TX_CSUM | NETDEV_TX_TSO4;
	nd.tso_max = 65535 + 18;
	void *mem = frame_alloc_dma_pages(virtq_memsize(RING) / 4096);
	static struct virtq_slot shadow[RING];
	cr_assert_eq(virtq_init(&nd.tx[0].vq, 1, RING, mem, shadow, 0), 0);
	pool = pktbuf_pool_of(0);
	cr_assert_eq(pktbuf_pool_init(pool, 0, POOL), 0);
	dev_last_avail = dev_used = 0;
	kicks = 0;
}

TestSuite(vnet_tx, .init = setup);

/* one frame the device read: its header and bytes */
struct dev_frame {
	struct virtio_net_hdr h;
	uint8_t data[70000];
	uint32_t len;
	int ndesc;
};
static struct dev_frame F;

/* Device: takes the next available chain (0: none), as QEMU reads it. */
static int dev_read(struct dev_frame *f)
{
	struct virtq *q = &nd.tx[0].vq;
	uint16_t avail = __atomic_load_n(&q->avail->idx, __ATOMIC_ACQUIRE);
	if (dev_last_avail == avail)
		return 0;
	uint16_t head = q->avail->ring[dev_last_avail++ & (q->size - 1)], i = head;
	uint8_t tmp[70000 + 12];
	uint32_t n = 0;
	f->ndesc = 0;
	for (;;) {
		const struct vring_desc *d = &q->desc[i];
		cr_assert(!(d->flags & VRING_DESC_F_WRITE), "a TX descriptor the device may write");
		cr_assert_leq(n + d->len, sizeof tmp);
		memcpy(tmp + n, (const void *)(uintptr_t)d->addr, d->len);
		n += d->len;
		f->ndesc++;
		if (!(d->flags & VRING_DESC_F_NEXT))
			break;
		i = d->next;
	}
	cr_assert_geq(n, sizeof f->h);
	memcpy(&f->h, tmp, sizeof f->h);
	f->len = n - (uint32_t)sizeof f->h;
	memcpy(f->data, tmp + sizeof f->h, f->len);
	/* done with it */
	q->used->ring[dev_used & (q->size - 1)] = (struct vring_used_elem){ head, 0 };
	dev_used++;
	__atomic_store_n(&q->used->idx, dev_used, __ATOMIC_RELEASE);
	return 1;
}

static uint8_t pat(uint32_t i) { return (uint8_t)(i * 7 + (i >> 8)); }

/* A frame of `len` bytes of pat() in a head and as many chained buffers
 * as it takes (the head holding `head_len` at most). */
static struct pktbuf *frame(uint32_t len, uint32_t head_len)
{
	struct pktbuf *b = pktbuf_alloc(pool);
	cr_assert_not_null(b);
	b->off = 80;
	b->len = (uint16_t)(len < head_len ? len : head_len);
	for (uint32_t i = 0; i < b->len; i++)
		b->buf[b->off + i] = pat(i);
	struct pktbuf **link = &b->frag;
	for (uint32_t at = b->len; at < len; ) {
		struct pktbuf *f = pktbuf_alloc(pool);
		cr_assert_not_null(f);
		f->off = 0;
		f->len = (uint16_t)(len - at < PKTBUF_FRAG_ROOM ? len - at : PKTBUF_FRAG_ROOM);
		for (uint32_t i = 0; i < f->len; i++)
			f->buf[i] = pat(at + i);
		b->frag_len += f->len;
		at += f->len;
		*link = f;
		link = &f->frag;
	}
	return b;
}

static void check_bytes(const struct dev_frame *f, uint32_t len)
{
	cr_assert_eq(f->len, len);
	for (uint32_t i = 0; i < len; i++)
		if (f->data[i] != pat(i))
			cr_assert_fail("byte %u differs", i);
}

static void all_home(void)
{
	netdev_tx_reclaim(&nd, 0);
	cr_assert_eq(pktbuf_pool_avail(pool), POOL, "%u of %u buffers home", pktbuf_pool_avail(pool), POOL);
}

Test(vnet_tx, plain_frame_has_a_zero_header)
{
	struct pktbuf *b = frame(60, 2048);
	cr_assert_eq(netdev_tx_burst(&nd, 0, &b, 1), 1);
	cr_assert(dev_read(&F));
	struct virtio_net_hdr z = { 0 };
	cr_assert_eq(memcmp(&F.h, &z, sizeof z), 0);
	cr_assert_eq(F.ndesc, 1);
	check_bytes(&F, 60);
	all_home();
}

Test(vnet_tx, csum_offload_sets_needs_csum_from_the_frame_start)
{
	struct pktbuf *b = frame(100, 2048);
	b->flags |= PKTBUF_F_TX_CSUM;
	b->csum_start = (uint16_t)(b->off + 34);        /* recorded from buf's start */
	b->csum_offset = 16;
	cr_assert_eq(netdev_tx_burst(&nd, 0, &b, 1), 1);
	cr_assert(dev_read(&F));
	cr_assert_eq(F.h.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
	cr_assert_eq(F.h.gso_type, VIRTIO_NET_HDR_GSO_NONE);
	cr_assert_eq(F.h.csum_start, 34);
	cr_assert_eq(F.h.csum_offset, 16);
	check_bytes(&F, 100);
	cr_assert_eq(TXC(tx_csum), 1);
	all_home();
}

Test(vnet_tx, tso_chain_is_one_descriptor_per_buffer)
{
	uint32_t len = 14 + 20 + 32 + 40 * 1448;
	struct pktbuf *b = frame(len, 2000);
	b->flags |= PKTBUF_F_TX_CSUM | PKTBUF_F_TX_TSO;
	b->csum_start = (uint16_t)(b->off + 34);
	b->csum_offset = 16;
	b->gso_size = 1448;
	b->hdr_end = (uint16_t)(b->off + 66);
	uint32_t bufs = 1 + (len - 2000 + PKTBUF_FRAG_ROOM - 1) / PKTBUF_FRAG_ROOM;
	cr_assert_eq(netdev_tx_burst(&nd, 0, &b, 1), 1);
	cr_assert_eq(pktbuf_pool_avail(pool), POOL - bufs, "the chain is held until reclaim");
	cr_assert(dev_read(&F));
	cr_assert_eq(F.ndesc, (int)bufs);
	cr_assert_eq(F.h.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
	cr_assert_eq(F.h.gso_type, VIRTIO_NET_HDR_GSO_TCPV4);
	cr_assert_eq(F.h.gso_size, 1448);
	cr_assert_eq(F.h.hdr_len, 66);
	cr_assert_eq(F.h.csum_start, 34);
	cr_assert_eq(F.h.csum_offset, 16);
	check_bytes(&F, len);
	cr_assert_eq(TXC(tx_tso), 1);
	cr_assert_eq(TXC(tx_bytes), len);
	all_home();
}

/* a ring with room for one chain: the second waits, none is lost */
Test(vnet_tx, full_ring_leaves_chains_to_the_caller)
{
	uint32_t len = 14 + 20 + 32 + 20 * 1448;       /* 14 buffers */
	struct pktbuf *b[6];
	for (int i = 0; i < 6; i++) {
		b[i] = frame(len, 2000);
		b[i]->flags |= PKTBUF_F_TX_CSUM | PKTBUF_F_TX_TSO;
		b[i]->csum_start = (uint16_t)(b[i]->off + 34);
		b[i]->csum_offset = 16;
		b[i]->gso_size = 1448;
		b[i]->hdr_end = (uint16_t)(b[i]->off + 66);
	}
	uint16_t n = netdev_tx_burst(&nd, 0, b, 6);
	cr_assert_eq(n, RING / 14, "%u frames in a ring of %u", n, RING);
	int seen = 0;
	while (dev_read(&F)) {
		check_bytes(&F, len);
		seen++;
	}
	uint16_t m = netdev_tx_burst(&nd, 0, b + n, (uint16_t)(6 - n));
	cr_assert_eq(m, 6 - n, "the rest after the device drained the ring");
	while (dev_read(&F)) {
		check_bytes(&F, len);
		seen++;
	}
	cr_assert_eq(seen, 6);
	cr_assert_eq(TXC(tx_ring_full), 6 - n);
	all_home();
}

Test(vnet_tx, offloads_the_device_lacks_are_dropped_and_counted)
{
	nd.tx_offloads = NETDEV_TX_CSUM;                /* no TSO4 */
	struct pktbuf *b[3];
	b[0] = frame(14 + 20 + 32 + 4 * 1448, 2000);
	b[0]->flags |= PKTBUF_F_TX_CSUM | PKTBUF_F_TX_TSO;
	b[0]->csum_start = (uint16_t)(b[0]->off + 34);
	b[0]->csum_offset = 16;
	b[0]->gso_size = 1448;
	b[0]->hdr_end = (uint16_t)(b[0]->off + 66);
	b[1] = frame(3000, 2000);                        /* a chain without TSO */
	b[2] = frame(100, 2048);
	b[2]->flags |= PKTBUF_F_TX_CSUM;
	b[2]->csum_start = (uint16_t)(b[2]->off + 98);  /* the field past the frame */
	b[2]->csum_offset = 16;
	cr_assert_eq(netdev_tx_burst(&nd, 0, b, 3), 3);
	cr_assert_eq(dev_read(&F), 0, "a bad frame reached the device");
	cr_assert_eq(TXC(tx_drop_bad_offload), 3);
	all_home();
}

Test(vnet_tx, chain_longer_than_half_the_ring_is_dropped)
{
	uint32_t len = 2000 + 40 * PKTBUF_FRAG_ROOM;     /* 41 buffers, ring 64 */
	struct pktbuf *b = frame(len, 2000);
	b->flags |= PKTBUF_F_TX_CSUM | PKTBUF_F_TX_TSO;
	b->csum_start = (uint16_t)(b->off + 34);
	b->csum_offset = 16;
	b->gso_size = 1448;
	b->hdr_end = (uint16_t)(b->off + 66);
	nd.tso_max = 1u << 20;
	cr_assert_eq(netdev_tx_burst(&nd, 0, &b, 1), 1);
	cr_assert_eq(dev_read(&F), 0);
	cr_assert_eq(TXC(tx_drop_bad_offload), 1);
	all_home();
}

/* ---- waking a halting core: netdev_rx_arm / netdev_rx_disarm on an RX
 * queue (the transport's vector is the device's business: `wakes` says
 * whether it took one) */
static void rx_setup(void)
{
	setup();
	void *mem = frame_alloc_dma_pages(virtq_memsize(RING) / 4096);
	static struct virtq_slot shadow[RING];
	cr_assert_eq(virtq_init(&nd.rx[0].vq, 0, RING, mem, shadow, 0), 0);
	virtq_disable_interrupts(&nd.rx[0].vq);
	nd.rx[0].pool = pool;
}

TestSuite(vnet_rx_arm, .init = rx_setup);

/* Device: fills the next posted RX buffer with a 60-byte frame. */
static void dev_rx_one(void)
{
	struct virtq *q = &nd.rx[0].vq;
	uint16_t head = q->avail->ring[dev_last_avail++ & (q->size - 1)];
	uint8_t *p = (uint8_t *)(uintptr_t)q->desc[head].addr;
	memset(p, 0, 12 + 60);
	q->used->ring[dev_used & (q->size - 1)] = (struct vring_used_elem){ head, 12 + 60 };
	dev_used++;
	__atomic_store_n(&q->used->idx, dev_used, __ATOMIC_RELEASE);
}

Test(vnet_rx_arm, without_an_interrupt_the_core_polls_on_a_timer)
{
	struct pktbuf *pk[4];
	cr_assert_eq(netdev_rx_burst(&nd, 0, pk, 4), 0);   /* posts buffers */
	cr_expect_eq(netdev_rx_arm(&nd, 0), -EOPNOTSUPP);
	cr_expect_eq(nd.rx[0].vq.avail->flags, VRING_AVAIL_F_NO_INTERRUPT, "nothing asked");
	netdev_rx_disarm(&nd, 0);
}

Test(vnet_rx_arm, nothing_posted_nothing_can_wake)
{
	nd.rx[0].vq.wakes = 1;
	cr_expect_eq(netdev_rx_arm(&nd, 0), -EAGAIN);
}

Test(vnet_rx_arm, arm_sleep_frame_disarm)
{
	struct pktbuf *pk[4];
	nd.rx[0].vq.wakes = 1;
	cr_assert_eq(netdev_rx_burst(&nd, 0, pk, 4), 0);   /* posts buffers */
	cr_expect_eq(netdev_rx_arm(&nd, 0), 0, "nothing there: sleep");
	cr_expect_eq(nd.rx[0].vq.avail->flags & VRING_AVAIL_F_NO_INTERRUPT, 0, "the device may interrupt");
	netdev_rx_disarm(&nd, 0);
	cr_expect_eq(nd.rx[0].vq.avail->flags, VRING_AVAIL_F_NO_INTERRUPT, "polling again");
	dev_rx_one();
	cr_expect_eq(netdev_rx_arm(&nd, 0), 1, "a frame came while polling: don't sleep");
	netdev_rx_disarm(&nd, 0);
	cr_assert_eq(netdev_rx_burst(&nd, 0, pk, 4), 1);
	cr_expect_eq(pk[0]->len, 60);
	pktbuf_free(pk[0]);
	cr_expect_eq(netdev_rx_arm(&nd, 0), 0, "taken: sleep again");
	netdev_rx_disarm(&nd, 0);
}
