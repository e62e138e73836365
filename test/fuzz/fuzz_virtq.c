/*
 * fuzz_virtq.c — libFuzzer target: a hostile device against the split
 * virtqueue (src/drivers/virtq.c) and the virtio-net data path
 * (src/drivers/virtio_net_rxtx.c: RX burst and refill, TX burst and
 * reclaim) with a real packet pool (src/pkt/pktbuf.c).
 *
 * The device sees only device-visible memory (frame_alloc_dma_pages:
 * the rings and the pool's data slots) and may write any of it at any
 * time: used entries with any id and length, used->idx anywhere,
 * virtio-net headers with any flags, offsets and num_buffers, and
 * garbage over descriptors and the avail ring. Private memory
 * (frame_alloc_pages: the queues' shadows, pktbuf metadata, the pool's
 * free stack) it never touches, as on the hosted platform, where the
 * vhost-user backend maps only the device-visible memfd.
 *
 * Checked: nothing crashes (ASan, UBSan, the pool's ASSERTs: a buffer
 * handed out twice or freed twice stops here); every address the driver
 * puts in a descriptor lies in device-visible memory; every frame RX
 * returns is 14..max_frame bytes inside its buffer; and after every
 * input, the accounting is whole: buffers in the pool + buffers the
 * queues still hold (from their private shadows) == buffers made, and
 * each queue's free descriptors + those of its outstanding chains ==
 * its size, whether or not the device broke a queue.
 *
 * Input: one set-up byte (bits 0-1: ring size 8 << n; bit 2: EVENT_IDX;
 * bit 3: checksum and TSO offloads), then records until the input ends:
 * op = byte & 15, arg = byte >> 4.
 *   0  RX used entry: id16, len32 (arg bit 0: id of the k-th chain the
 *      device holds, k = id16; bit 1: len = its writable bytes - len32)
 *   1  TX used entry: the same on the TX ring
 *   2  used->idx of RX (arg bit 0: TX) = idx16
 *   3  header into the k-th RX chain's buffer: k8, flags8, gso8,
 *      hdr_len16, gso_size16, csum_start16, csum_offset16, num_buffers16
 *   4  scribble: block8, off16, n8, bytes (anywhere in device memory)
 *   5  driver: netdev_rx_burst of 1 + arg frames, then frees them
 *   6  driver: netdev_tx_burst of 1 + arg % 4 frames: per frame len16,
 *      flags8 (bit 0 TX_CSUM, bit 1 TX_TSO, bit 2 a chain of 2), csum16
 *   7  driver: netdev_tx_reclaim
 *   8  device: takes what was published (RX, and TX with arg bit 0)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "drivers/virtio_net_rxtx.c"
#include "pkt/pktbuf.c"

/* ---- a one-core platform */
void klog(const char *fmt, ...) { (void)fmt; }
_Noreturn void panic(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	abort();
}
static struct core core0 = { .self = &core0, .id = 0 };
struct core *core_self(void) { return &core0; }
struct core *core_get(uint32_t id) { return id == 0 ? &core0 : NULL; }
uint32_t cores_count(void) { return 1; }
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

/* Every block of the world, retired after each input and reused by size
 * by the next (allocating and faulting in fresh blocks per input was
 * most of the time); device-visible ones are what the device may
 * scribble on. */
#define MAX_BLOCKS 16
struct block { uint8_t *p; size_t n; int dma; };
static struct block blocks[MAX_BLOCKS], retired[4 * MAX_BLOCKS];
static int nblocks, nretired;

static void *block_alloc(size_t npages, int dma)
{
	if (nblocks == MAX_BLOCKS)
		abort();
	size_t n = npages * 4096;
	uint8_t *p = NULL;
	for (int i = 0; i < nretired; i++)
		if (retired[i].n == n) {
			p = retired[i].p;
			retired[i] = retired[--nretired];
			break;
		}
	if (!p && !(p = aligned_alloc(4096, n)))
		return NULL;
	memset(p, 0, n);
	blocks[nblocks++] = (struct block){ p, n, dma };
	return p;
}

static void blocks_retire(void)
{
	for (int i = 0; i < nblocks; i++) {
		if (nretired < 4 * MAX_BLOCKS)
			retired[nretired++] = blocks[i];
		else
			free(blocks[i].p);
	}
	nblocks = 0;
}
void *frame_alloc_pages(size_t n) { return block_alloc(n, 0); }
void *frame_alloc_dma_pages(size_t n) { return block_alloc(n, 1); }

static int in_dma(uint64_t addr, uint64_t len)
{
	for (int i = 0; i < nblocks; i++)
		if (blocks[i].dma && addr >= (uintptr_t)blocks[i].p && len <= blocks[i].n &&
		    addr - (uintptr_t)blocks[i].p <= blocks[i].n - len)
			return 1;
	return 0;
}

/* ---- the device */
static void dev_notify(struct virtio_dev *d, struct virtq *q) { (void)d; (void)q; }
static const struct virtio_ops ops = { .name = "fuzz", .notify = dev_notify };
static struct virtio_dev vdev = { .ops = &ops };
static struct netdev nd;
static struct pktbuf_pool *pool;

#define POOL 96
#define MAX_RING 64

/* what the device has taken from a ring: heads as it read them */
struct devq {
	struct virtq *q;
	uint16_t last_avail, used_idx;
	uint16_t held[MAX_RING];
	uint32_t nheld;
	uint16_t checked_avail;         /* avail_idx up to which descriptors were checked */
};
static struct devq drx, dtx;

static void dev_take(struct devq *d)
{
	uint16_t avail = __atomic_load_n(&d->q->avail->idx, __ATOMIC_ACQUIRE);
	for (int k = 0; k < MAX_RING && d->last_avail != avail; k++, d->last_avail++)
		if (d->nheld < MAX_RING)
			d->held[d->nheld++] = d->q->avail->ring[d->last_avail & (d->q->size - 1)];
}

static void dev_put(struct devq *d, uint32_t id, uint32_t len)
{
	struct vring_used_elem *e = &d->q->used->ring[d->used_idx & (d->q->size - 1)];
	e->id = id;
	e->len = len;
	d->used_idx++;
	__atomic_store_n(&d->q->used->idx, d->used_idx, __ATOMIC_RELEASE);
}

/* Every chain the driver added since the last check points only into
 * device-visible memory: read from the descriptors it just wrote (the
 * device has not run since) along its own shadow links. */
static void check_new_descs(struct devq *d)
{
	struct virtq *q = d->q;
	for (; d->checked_avail != q->avail_idx; d->checked_avail++) {
		uint16_t head = q->avail->ring[d->checked_avail & (q->size - 1)], i = head;
		if (head >= q->size || !q->shadow[head].cookie)
			abort();
		for (uint16_t k = 0; k < q->shadow[head].chain_len; k++) {
			if (!in_dma(q->desc[i].addr, q->desc[i].len)) {
				fprintf(stderr, "descriptor %u: 0x%llx+%u is not device-visible\n", i,
					(unsigned long long)q->desc[i].addr, q->desc[i].len);
				abort();
			}
			i = q->shadow[i].next;
		}
	}
}

/* Buffers a queue holds, and its descriptors, from its private shadow. */
static uint32_t held_bufs(const struct virtq *q, uint32_t *descs)
{
	uint32_t n = 0;
	*descs = 0;
	for (uint16_t i = 0; i < q->size; i++) {
		const struct pktbuf *b = q->shadow[i].cookie;
		if (!b)
			continue;
		*descs += q->shadow[i].chain_len;
		for (; b; b = b->frag)
			n++;
	}
	return n;
}

/* ---- input */
struct in {
	const uint8_t *p;
	size_t n;
};

static int take(struct in *in, void *out, size_t k)
{
	if (in->n < k)
		return 0;
	memcpy(out, in->p, k);
	in->p += k;
	in->n -= k;
	return 1;
}

static void used_entry(struct in *in, struct devq *d, uint8_t arg)
{
	uint16_t id;
	uint32_t len;
	if (!take(in, &id, 2) || !take(in, &len, 4))
		return;
	uint32_t rid = id;
	if ((arg & 1) && d->nheld) {
		uint32_t k = id % d->nheld;
		rid = d->held[k];
		d->held[k] = d->held[--d->nheld];
	}
	if ((arg & 2) && rid < d->q->size) {
		/* near the chain's true writable bytes, as the driver knows them */
		uint32_t cap = d->q->shadow[rid].cap;
		len = cap - (len % 4 <= cap ? len % 4 : cap);
	}
	dev_put(d, rid, len);
}

static void rx_header(struct in *in)
{
	uint8_t k, flags, gso;
	uint16_t f[5];
	if (!take(in, &k, 1) || !take(in, &flags, 1) || !take(in, &gso, 1) || !take(in, f, sizeof f) || !drx.nheld)
		return;
	uint16_t head = drx.held[k % drx.nheld];
	if (head >= drx.q->size)
		return;
	const struct pktbuf *b = drx.q->shadow[head].cookie;
	if (!b)
		return;
	struct virtio_net_hdr h = { flags, gso, f[0], f[1], f[2], f[3], f[4] };
	memcpy(b->buf + PKTBUF_HEADROOM - VNET_HDR, &h, sizeof h);
}

static void scribble(struct in *in)
{
	uint8_t blk, n;
	uint16_t off;
	uint8_t bytes[255];
	if (!take(in, &blk, 1) || !take(in, &off, 2) || !take(in, &n, 1) || !take(in, bytes, n))
		return;
	int dmas[MAX_BLOCKS], nd_ = 0;
	for (int i = 0; i < nblocks; i++)
		if (blocks[i].dma)
			dmas[nd_++] = i;
	const struct block *b = &blocks[dmas[blk % nd_]];
	size_t at = off % b->n;
	memcpy(b->p + at, bytes, n < b->n - at ? n : b->n - at);
}

static void rx_burst(uint8_t arg)
{
	struct pktbuf *pkts[16];
	uint16_t got = netdev_rx_burst(&nd, 0, pkts, (uint16_t)(1 + arg));
	for (uint16_t i = 0; i < got; i++) {
		struct pktbuf *b = pkts[i];
		if (b->len < MIN_FRAME || b->len > nd.max_frame || b->off != PKTBUF_HEADROOM || b->frag ||
		    b->magic != PKTBUF_MAGIC)
			abort();
		pktbuf_free(b);
	}
	check_new_descs(&drx);
}

static void tx_burst(struct in *in, uint8_t arg)
{
	struct pktbuf *pkts[4];
	uint16_t n = 0;
	for (int k = 0; k <= arg % 4; k++) {
		uint16_t len, csum;
		uint8_t fl;
		if (!take(in, &len, 2) || !take(in, &fl, 1) || !take(in, &csum, 2))
			break;
		struct pktbuf *b = pktbuf_alloc(pool);
		if (!b)
			break;
		b->len = (uint16_t)(len % (PKTBUF_DATA + 1));
		if (fl & 1) {
			b->flags |= PKTBUF_F_TX_CSUM;
			b->csum_start = (uint16_t)(b->off + (csum & 0xff));
			b->csum_offset = (uint16_t)(csum >> 8);
		}
		if (fl & 2) {
			b->flags |= PKTBUF_F_TX_TSO;
			b->gso_size = 1448;
			b->hdr_end = (uint16_t)(b->off + 54);
		}
		if (fl & 4) {
			struct pktbuf *f = pktbuf_alloc(pool);
			if (f) {
				f->off = 0;
				f->len = (uint16_t)((len >> 4) % (PKTBUF_FRAG_ROOM + 1));
				b->frag = f;
				b->frag_len = f->len;
			}
		}
		pkts[n++] = b;
	}
	uint16_t done = netdev_tx_burst(&nd, 0, pkts, n);
	for (uint16_t i = done; i < n; i++)
		pktbuf_free(pkts[i]);           /* left to the caller */
	check_new_descs(&dtx);
}

static void world_init(uint8_t setup)
{
	memset(&nd, 0, sizeof nd);
	nd.vdev = &vdev;
	nd.mtu = 1500;
	nd.max_frame = 1518;
	nd.nq = 1;
	if (setup & 8) {
		nd.tx_offloads = NETDEV_TX_CSUM | NETDEV_TX_TSO4;
		nd.tso_max = 65535 + 18;
	}
	uint16_t ring = (uint16_t)(8u << (setup & 3));
	int eidx = (setup >> 2) & 1;
	pool = pktbuf_pool_of(0);
	if (pktbuf_pool_init(pool, 0, POOL))
		abort();
	nd.rx[0].pool = pool;
	struct virtq *qs[2] = { &nd.rx[0].vq, &nd.tx[0].vq };
	for (int i = 0; i < 2; i++) {
		void *mem = frame_alloc_dma_pages(virtq_memsize(ring) / 4096);
		void *shadow = frame_alloc_pages((virtq_shadow_size(ring) + 4095) / 4096);
		if (!mem || !shadow || virtq_init(qs[i], (uint16_t)i, ring, mem, shadow, eidx))
			abort();
	}
	memset(&drx, 0, sizeof drx);
	memset(&dtx, 0, sizeof dtx);
	drx.q = &nd.rx[0].vq;
	dtx.q = &nd.tx[0].vq;
	rx_refill(&nd, &nd.rx[0]);
	check_new_descs(&drx);
}

static void world_check_and_free(void)
{
	uint32_t rx_descs, tx_descs;
	uint32_t held = held_bufs(&nd.rx[0].vq, &rx_descs) + held_bufs(&nd.tx[0].vq, &tx_descs);
	if (pktbuf_pool_avail(pool) + held != POOL) {
		fprintf(stderr, "leak: %u in the pool + %u held by the queues != %u made\n", pktbuf_pool_avail(pool),
			held, POOL);
		abort();
	}
	if (virtq_free(&nd.rx[0].vq) + rx_descs != nd.rx[0].vq.size ||
	    virtq_free(&nd.tx[0].vq) + tx_descs != nd.tx[0].vq.size) {
		fprintf(stderr, "descriptors: rx %u free + %u held, tx %u free + %u held\n", virtq_free(&nd.rx[0].vq),
			rx_descs, virtq_free(&nd.tx[0].vq), tx_descs);
		abort();
	}
	blocks_retire();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct in in = { data, size };
	uint8_t setup;
	if (!take(&in, &setup, 1))
		return 0;
	world_init(setup);
	uint8_t op;
	for (int steps = 0; steps < 512 && take(&in, &op, 1); steps++) {
		uint8_t arg = op >> 4;
		switch (op & 15) {
		case 0: used_entry(&in, &drx, arg); break;
		case 1: used_entry(&in, &dtx, arg); break;
		case 2: {
			uint16_t idx;
			if (take(&in, &idx, 2)) {
				struct devq *d = (arg & 1) ? &dtx : &drx;
				d->used_idx = idx;
				__atomic_store_n(&d->q->used->idx, idx, __ATOMIC_RELEASE);
			}
			break;
		}
		case 3: rx_header(&in); break;
		case 4: scribble(&in); break;
		case 5: rx_burst(arg); break;
		case 6: tx_burst(&in, arg); break;
		case 7: netdev_tx_reclaim(&nd, 0); break;
		case 8:
			dev_take(&drx);
			if (arg & 1)
				dev_take(&dtx);
			break;
		default: break;
		}
	}
	world_check_and_free();
	return 0;
}
