/*
 * test_virtq.c — the driver side of a split virtqueue against an in-memory
 * fake device that consumes the avail ring and produces used entries the
 * way a real one does: wrap-around of the 16-bit indices, a full ring,
 * chained descriptors, buffers returned out of order, and a device that
 * lies (bad id, bad length, too many used entries, an id repeated, inside
 * a chain or never published, descriptors and avail entries rewritten).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <criterion/criterion.h>
#include "drivers/virtq.h"

void klog(const char *fmt, ...) { (void)fmt; }

/* ---- the fake device: it reads avail, remembers heads, writes used */
struct fakedev {
	struct virtq *q;
	uint16_t last_avail;
	uint16_t used_idx;
	uint16_t pending[32768];        /* heads taken, not yet returned */
	uint32_t npending;
};

static void *qmem;
static struct virtq_slot *qshadow;
static struct virtq q;
static struct fakedev dev;

static void setup_q(uint16_t size, int event_idx)
{
	qmem = aligned_alloc(4096, virtq_memsize(size));
	cr_assert_not_null(qmem);
	memset(qmem, 0, virtq_memsize(size));
	qshadow = calloc(size, sizeof *qshadow);
	cr_assert_not_null(qshadow);
	cr_assert_eq(virtq_init(&q, 0, size, qmem, qshadow, event_idx), 0);
	memset(&dev, 0, sizeof dev);
	dev.q = &q;
}

static void teardown_q(void)
{
	free(qmem);
	free(qshadow);
	qshadow = NULL;
}

/* Device: take every newly available chain. Returns how many. */
static uint32_t dev_take(void)
{
	uint16_t avail = __atomic_load_n(&q.avail->idx, __ATOMIC_ACQUIRE), n = 0;
	while (dev.last_avail != avail) {
		dev.pending[dev.npending++] = q.avail->ring[dev.last_avail & (q.size - 1)];
		dev.last_avail++;
		n++;
	}
	return n;
}

/* Device: the total writable length of the chain at head. */
static uint32_t chain_writable(uint16_t head, uint16_t *ndesc)
{
	uint32_t len = 0;
	uint16_t i = head, n = 0;
	for (;;) {
		n++;
		if (q.desc[i].flags & VRING_DESC_F_WRITE)
			len += q.desc[i].len;
		if (!(q.desc[i].flags & VRING_DESC_F_NEXT))
			break;
		i = q.desc[i].next;
		cr_assert_lt(n, q.size, "descriptor loop");
	}
	if (ndesc)
		*ndesc = n;
	return len;
}

static void dev_put(uint32_t id, uint32_t len)
{
	struct vring_used_elem *e = &q.used->ring[dev.used_idx & (q.size - 1)];
	e->id = id;
	e->len = len;
	dev.used_idx++;
	__atomic_store_n(&q.used->idx, dev.used_idx, __ATOMIC_RELEASE);
}

/* Device: return pending chain k (index into pending) with len. */
static void dev_return(uint32_t k, uint32_t len)
{
	uint16_t head = dev.pending[k];
	dev.pending[k] = dev.pending[--dev.npending];
	dev_put(head, len);
}

TestSuite(virtq, .fini = teardown_q);

Test(virtq, bad_sizes)
{
	static char mem[65536] __attribute__((aligned(4096)));
	static struct virtq_slot shadow[128];
	struct virtq x;
	cr_expect_eq(virtq_init(&x, 0, 0, mem, shadow, 0), -EINVAL);
	cr_expect_eq(virtq_init(&x, 0, 3, mem, shadow, 0), -EINVAL);
	cr_expect_eq(virtq_init(&x, 0, 100, mem, shadow, 0), -EINVAL);
	qmem = NULL;
}

Test(virtq, add_publish_take_return)
{
	setup_q(8, 0);
	static char bufs[8][64];
	for (int i = 0; i < 8; i++)
		cr_assert_eq(virtq_add1(&q, (uint64_t)(uintptr_t)bufs[i], 64, 1, bufs[i]), 0);
	cr_expect_eq(virtq_free(&q), 0);
	cr_expect_eq(virtq_add1(&q, 1, 1, 1, bufs[0]), -ENOSPC, "a full ring refuses");
	cr_expect_eq(dev_take(), 0, "nothing visible before publish");
	virtq_publish(&q);
	cr_assert_eq(dev_take(), 8);
	for (uint32_t k = 0; k < 8; k++)
		cr_expect_eq(q.desc[dev.pending[k]].addr, (uint64_t)(uintptr_t)bufs[k]);
	void *c[8];
	uint32_t l[8];
	cr_expect_eq(virtq_get_used(&q, c, l, 8), 0, "nothing used yet");
	for (int k = 0; k < 8; k++)
		dev_return(0, 10);                  /* order: 0, 7, 6, ... (out of order) */
	cr_assert_eq(virtq_get_used(&q, c, l, 8), 8);
	int seen[8] = { 0 };
	for (int i = 0; i < 8; i++) {
		int b = (int)(((char *)c[i] - bufs[0]) / 64);
		cr_assert(b >= 0 && b < 8);
		seen[b]++;
		cr_expect_eq(l[i], 10);
	}
	for (int i = 0; i < 8; i++)
		cr_expect_eq(seen[i], 1, "buffer %d returned %d times", i, seen[i]);
	cr_expect_eq(virtq_free(&q), 8);
	cr_expect(!virtq_broken(&q));
}

Test(virtq, chains_and_wraparound_with_random_order)
{
	setup_q(64, 1);
	srand(7);
	static char pool[1 << 20];
	uint64_t added = 0, got = 0, inflight_bytes = 0;
	/* far more rounds than 65536 / 64 so the 16-bit indices wrap */
	for (int round = 0; round < 200000; round++) {
		int n = 1 + rand() % 3;             /* a chain: header (read) + 1..2 write parts */
		struct virtq_buf b[3];
		for (int k = 0; k < n; k++) {
			b[k].addr = (uint64_t)(uintptr_t)(pool + (rand() % 1000) * 1000);
			b[k].len = 100 + (uint32_t)(rand() % 400);
			b[k].writable = k > 0 || n == 1;
		}
		void *cookie = (void *)(uintptr_t)(round + 1);
		int rc = virtq_add(&q, b, (uint16_t)n, cookie);
		if (rc == 0) {
			added++;
			virtq_publish(&q);
		} else {
			cr_assert_eq(rc, -ENOSPC);
		}
		dev_take();
		/* the device returns a random pending chain, len within its space */
		if (dev.npending && rand() % 2) {
			uint32_t k = (uint32_t)rand() % dev.npending;
			uint16_t nd;
			uint32_t cap = chain_writable(dev.pending[k], &nd);
			dev_return(k, cap ? (uint32_t)rand() % (cap + 1) : 0);
		}
		void *c[16];
		uint32_t l[16];
		uint16_t g = virtq_get_used(&q, c, l, 16);
		got += g;
		(void)inflight_bytes;
		cr_assert(!virtq_broken(&q), "round %d", round);
	}
	/* drain */
	while (dev.npending)
		dev_return(0, 0);
	void *c[64];
	uint16_t g;
	while ((g = virtq_get_used(&q, c, NULL, 64)) > 0)
		got += g;
	cr_expect_eq(got, added);
	cr_expect_eq(virtq_free(&q), 64, "every descriptor back on the free list");
	cr_expect_gt(added, 65536, "the indices wrapped");
}

Test(virtq, bad_id_breaks_the_queue)
{
	setup_q(16, 0);
	char buf[64];
	virtq_add1(&q, (uint64_t)(uintptr_t)buf, 64, 1, buf);
	virtq_publish(&q);
	dev_take();
	dev_put(99, 10);                        /* out of range */
	void *c[4];
	cr_expect_eq(virtq_get_used(&q, c, NULL, 4), 0);
	cr_expect(virtq_broken(&q));
	cr_expect_eq(q.bad_id, 1);
	cr_expect_eq(virtq_add1(&q, 1, 1, 1, buf), -EIO, "a broken queue takes nothing");
}

Test(virtq, id_not_in_flight_breaks_the_queue)
{
	setup_q(16, 0);
	char buf[64];
	virtq_add1(&q, (uint64_t)(uintptr_t)buf, 64, 1, buf);
	virtq_publish(&q);
	dev_take();
	dev_put(5, 10);                         /* in range, but never given */
	void *c[4];
	cr_expect_eq(virtq_get_used(&q, c, NULL, 4), 0);
	cr_expect(virtq_broken(&q));
}

Test(virtq, returning_twice_breaks_the_queue)
{
	setup_q(16, 0);
	char buf[64];
	virtq_add1(&q, (uint64_t)(uintptr_t)buf, 64, 1, buf);
	virtq_publish(&q);
	dev_take();
	uint16_t head = dev.pending[0];
	dev_put(head, 10);
	dev_put(head, 10);                      /* the same buffer again */
	void *c[4];
	cr_expect_eq(virtq_get_used(&q, c, NULL, 4), 1);
	cr_expect(virtq_broken(&q));
}

Test(virtq, bad_length_breaks_the_queue)
{
	setup_q(16, 0);
	char buf[64];
	virtq_add1(&q, (uint64_t)(uintptr_t)buf, 64, 1, buf);
	virtq_publish(&q);
	dev_take();
	dev_return(0, 65);                      /* more than the buffer holds */
	void *c[4];
	uint32_t l[4];
	cr_expect_eq(virtq_get_used(&q, c, l, 4), 0);
	cr_expect(virtq_broken(&q));
	cr_expect_eq(q.bad_len, 1);
}

Test(virtq, device_may_not_write_a_read_only_buffer)
{
	setup_q(16, 0);
	char buf[64];
	virtq_add1(&q, (uint64_t)(uintptr_t)buf, 64, 0, buf);  /* TX: device reads */
	virtq_publish(&q);
	dev_take();
	dev_return(0, 0);                       /* 0 written: fine */
	void *c[4];
	cr_expect_eq(virtq_get_used(&q, c, NULL, 4), 1);
	cr_expect(!virtq_broken(&q));
	virtq_add1(&q, (uint64_t)(uintptr_t)buf, 64, 0, buf);
	virtq_publish(&q);
	dev_take();
	dev_return(0, 1);                       /* wrote into a read-only buffer */
	cr_expect_eq(virtq_get_used(&q, c, NULL, 4), 0);
	cr_expect(virtq_broken(&q));
}

Test(virtq, used_index_running_ahead_breaks_the_queue)
{
	setup_q(16, 0);
	__atomic_store_n(&q.used->idx, 17, __ATOMIC_RELEASE);  /* claims 17 of 16 */
	void *c[4];
	cr_expect_eq(virtq_get_used(&q, c, NULL, 4), 0);
	cr_expect(virtq_broken(&q));
}

Test(virtq, kick_suppression_flags)
{
	setup_q(16, 0);
	char buf[64];
	cr_expect_eq(virtq_kick_prepare(&q), 0, "nothing new: no kick");
	virtq_add1(&q, (uint64_t)(uintptr_t)buf, 64, 0, buf);
	virtq_publish(&q);
	cr_expect_eq(virtq_kick_prepare(&q), 1, "the device wants kicks by default");
	q.used->flags = VRING_USED_F_NO_NOTIFY;
	virtq_add1(&q, (uint64_t)(uintptr_t)buf + 1, 64, 0, buf + 1);
	virtq_publish(&q);
	cr_expect_eq(virtq_kick_prepare(&q), 0, "NO_NOTIFY suppresses");
}

Test(virtq, kick_event_idx)
{
	setup_q(16, 1);
	char buf[64];
	uint16_t *avail_event = (uint16_t *)&q.used->ring[16];
	*avail_event = 0;                       /* device: kick me when idx passes 0 */
	virtq_add1(&q, (uint64_t)(uintptr_t)buf, 64, 0, buf);
	virtq_publish(&q);
	cr_expect_eq(virtq_kick_prepare(&q), 1, "0 -> 1 passes event 0");
	*avail_event = 5;
	virtq_add1(&q, (uint64_t)(uintptr_t)buf, 64, 0, buf + 1);
	virtq_publish(&q);
	cr_expect_eq(virtq_kick_prepare(&q), 0, "1 -> 2 does not pass event 5");
	for (int i = 0; i < 4; i++)
		virtq_add1(&q, (uint64_t)(uintptr_t)buf, 64, 0, buf + 2 + i);
	virtq_publish(&q);
	cr_expect_eq(virtq_kick_prepare(&q), 1, "2 -> 6 passes event 5");
}

/* ---- a device that lies about what the driver built: the chain, the free
 * list and the ids are the driver's own (private shadow), so rewriting the
 * device-visible copies changes nothing the driver relies on */

/* Adds every descriptor as chains of 3 (read header, two writable parts),
 * publishes, and has the device take them all. */
static uint32_t fill_chains3(char (*bufs)[64], uint32_t nchains)
{
	for (uint32_t c = 0; c < nchains; c++) {
		struct virtq_buf b[3] = {
			{ (uint64_t)(uintptr_t)bufs[c], 12, 0 },
			{ (uint64_t)(uintptr_t)bufs[c] + 12, 20, 1 },
			{ (uint64_t)(uintptr_t)bufs[c] + 32, 32, 1 },
		};
		cr_assert_eq(virtq_add(&q, b, 3, bufs[c]), 0, "chain %u", c);
	}
	virtq_publish(&q);
	return dev_take();
}

Test(virtq, a_device_rewriting_desc_next_cannot_redirect_the_free_list)
{
	setup_q(16, 0);
	static char bufs[5][64];
	cr_assert_eq(fill_chains3(bufs, 5), 5);
	cr_expect_eq(virtq_free(&q), 1);
	/* the device points every link at descriptor 0 (and one out of
	 * range), as if to make the driver free one descriptor many times
	 * or walk off the table */
	for (uint16_t i = 0; i < q.size; i++)
		q.desc[i].next = i == 3 ? 40000 : 0;
	for (uint32_t k = 0; k < 5; k++)
		dev_put(dev.pending[k], 52);        /* exactly the writable bytes */
	void *c[8];
	uint32_t l[8];
	cr_assert_eq(virtq_get_used(&q, c, l, 8), 5);
	cr_expect(!virtq_broken(&q));
	cr_expect_eq(virtq_free(&q), 16, "every descriptor back, each once");
	/* the free list is whole: the ring fills again with 16 distinct heads */
	dev.npending = 0;
	static char one[16][64];
	for (int i = 0; i < 16; i++)
		cr_assert_eq(virtq_add1(&q, (uint64_t)(uintptr_t)one[i], 64, 1, one[i]), 0, "add %d", i);
	virtq_publish(&q);
	cr_assert_eq(dev_take(), 16);
	int seen[16] = { 0 };
	for (uint32_t k = 0; k < 16; k++) {
		cr_assert_lt(dev.pending[k], 16);
		cr_expect_eq(seen[dev.pending[k]]++, 0, "descriptor %u handed out twice", dev.pending[k]);
	}
	while (dev.npending)
		dev_return(0, 64);
	cr_expect_eq(virtq_get_used(&q, c, NULL, 8) + virtq_get_used(&q, c, NULL, 8), 16);
	cr_expect_eq(virtq_free(&q), 16);
}

Test(virtq, a_device_scribbling_over_the_rings_cannot_break_the_accounting)
{
	setup_q(64, 1);
	srand(11);
	static char pool[64][512];
	uint64_t added = 0, got = 0;
	for (int round = 0; round < 20000; round++) {
		uint16_t n = (uint16_t)(1 + rand() % 4);
		struct virtq_buf b[4];
		for (uint16_t k = 0; k < n; k++)
			b[k] = (struct virtq_buf){ (uint64_t)(uintptr_t)pool[rand() % 64], 100, k > 0 };
		if (virtq_add(&q, b, n, pool[round % 64]) == 0)
			added++;
		virtq_publish(&q);
		dev_take();
		/* what a hostile device may write: every descriptor field and
		 * the avail ring, garbage */
		for (int k = 0; k < 8; k++) {
			struct vring_desc *d = &q.desc[rand() % 64];
			d->next = (uint16_t)rand();
			d->len = (uint32_t)rand();
			d->flags = (uint16_t)rand();
			q.avail->ring[rand() % 64] = (uint16_t)rand();
		}
		if (dev.npending && rand() % 2) {
			uint32_t k = (uint32_t)rand() % dev.npending;
			dev_return(k, 0);
		}
		void *c[16];
		got += virtq_get_used(&q, c, NULL, 16);
		cr_assert(!virtq_broken(&q), "round %d", round);
		cr_assert_eq(virtq_outstanding(&q), dev.npending, "round %d", round);
	}
	while (dev.npending)
		dev_return(0, 0);
	void *c[64];
	uint16_t g;
	while ((g = virtq_get_used(&q, c, NULL, 64)) > 0)
		got += g;
	cr_expect_eq(got, added);
	cr_expect_eq(virtq_free(&q), 64, "every descriptor back on the free list");
	cr_expect_eq(virtq_outstanding(&q), 0);
}

Test(virtq, a_repeated_id_in_a_later_burst_returns_no_second_cookie)
{
	setup_q(16, 0);
	char a[64], b[64];
	virtq_add1(&q, (uint64_t)(uintptr_t)a, 64, 1, a);
	virtq_add1(&q, (uint64_t)(uintptr_t)b, 64, 1, b);
	virtq_publish(&q);
	dev_take();
	uint16_t ha = dev.pending[0];
	dev_put(ha, 10);
	void *c[4] = { NULL };
	cr_assert_eq(virtq_get_used(&q, c, NULL, 4), 1);
	cr_expect_eq(c[0], a);
	dev_put(ha, 10);                        /* a again, b still outstanding */
	c[0] = NULL;
	cr_expect_eq(virtq_get_used(&q, c, NULL, 4), 0);
	cr_expect_null(c[0], "no cookie for an id the driver has back");
	cr_expect(virtq_broken(&q));
	cr_expect_eq(q.bad_id, 1);
}

Test(virtq, an_id_inside_a_chain_is_not_a_head)
{
	setup_q(16, 0);
	static char bufs[1][64];
	cr_assert_eq(fill_chains3(bufs, 1), 1);
	uint16_t head = dev.pending[0];
	uint16_t second = q.desc[head].next;    /* the driver's own link, as written */
	cr_assert_neq(second, head);
	dev_put(second, 10);
	void *c[4] = { NULL };
	cr_expect_eq(virtq_get_used(&q, c, NULL, 4), 0);
	cr_expect_null(c[0]);
	cr_expect(virtq_broken(&q));
	cr_expect_eq(q.bad_id, 1);
}

Test(virtq, an_id_never_published_is_refused)
{
	setup_q(16, 0);
	char a[64];
	virtq_add1(&q, (uint64_t)(uintptr_t)a, 64, 1, a);
	/* not published: the device was never shown it, but guesses head 0 */
	dev_put(0, 10);
	void *c[4] = { NULL };
	cr_expect_eq(virtq_get_used(&q, c, NULL, 4), 0);
	cr_expect_null(c[0]);
	cr_expect(virtq_broken(&q));
}

Test(virtq, lengths_are_bounded_by_the_chains_writable_bytes)
{
	setup_q(16, 0);
	static char bufs[3][64];
	cr_assert_eq(fill_chains3(bufs, 3), 3);
	void *c[4];
	uint32_t l[4];
	dev_return(0, 52);                      /* 20 + 32 writable: the most allowed */
	cr_expect_eq(virtq_get_used(&q, c, l, 4), 1);
	cr_expect_eq(l[0], 52);
	dev_return(0, 53);                      /* one past: the read-only header does not count */
	cr_expect_eq(virtq_get_used(&q, c, l, 4), 0);
	cr_expect(virtq_broken(&q));
	cr_expect_eq(q.bad_len, 1);

	teardown_q();
	setup_q(16, 0);
	cr_assert_eq(fill_chains3(bufs, 1), 1);
	dev_return(0, 0xffffffffu);             /* a length that wraps any sum */
	cr_expect_eq(virtq_get_used(&q, c, l, 4), 0);
	cr_expect(virtq_broken(&q));
	cr_expect_eq(q.bad_len, 1);
}

/* ---- asking for interrupts before a core sleeps (virtq_arm) against a
 * device that decides as QEMU does (virtio_should_notify): without
 * EVENT_IDX, unless NO_INTERRUPT is set; with it, when the used index
 * passes used_event. dev_put_irq: put one entry, 1 if it would interrupt. */
static int dev_put_irq(uint32_t id, uint32_t len)
{
	uint16_t old = dev.used_idx;
	dev_put(id, len);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);   /* the device's side of the contract */
	if (!q.event_idx)
		return !(__atomic_load_n(&q.avail->flags, __ATOMIC_RELAXED) & VRING_AVAIL_F_NO_INTERRUPT);
	uint16_t ev = __atomic_load_n(&q.avail->ring[q.size], __ATOMIC_RELAXED);
	return (uint16_t)(dev.used_idx - ev - 1) < (uint16_t)(dev.used_idx - old);
}

static void post(char (*bufs)[64], int n)
{
	for (int i = 0; i < n; i++)
		cr_assert_eq(virtq_add1(&q, (uint64_t)(uintptr_t)bufs[i], 64, 1, bufs[i]), 0);
	virtq_publish(&q);
	cr_assert_eq(dev_take(), (uint32_t)n);
}

static void arm_disarm_cycle(int event_idx)
{
	setup_q(16, event_idx);
	cr_expect_eq(q.wake_core, -1, "no core to wake until the driver names one");
	cr_expect_eq(q.wakes, 0);
	static char bufs[8][64];
	void *c[8];
	uint32_t l[8];
	virtq_disable_interrupts(&q);
	post(bufs, 8);
	cr_expect_eq(dev_put_irq(dev.pending[0], 10), 0, "polling: no interrupt");
	dev.pending[0] = dev.pending[--dev.npending];
	cr_expect_eq(virtq_arm(&q), 1, "an entry came while polling: don't sleep");
	virtq_disable_interrupts(&q);
	cr_assert_eq(virtq_get_used(&q, c, l, 8), 1);
	cr_expect_eq(virtq_arm(&q), 0, "nothing waiting: sleep");
	if (!event_idx)
		cr_expect_eq(q.avail->flags & VRING_AVAIL_F_NO_INTERRUPT, 0);
	cr_expect_eq(dev_put_irq(dev.pending[0], 10), 1, "armed: the next entry interrupts");
	dev.pending[0] = dev.pending[--dev.npending];
	virtq_disable_interrupts(&q);
	cr_expect_eq(dev_put_irq(dev.pending[0], 10), 0, "disarmed: polling again, no interrupt");
	dev.pending[0] = dev.pending[--dev.npending];
	cr_assert_eq(virtq_get_used(&q, c, l, 8), 2);
	/* many rounds over the 16-bit wrap: every armed sleep is ended by the
	 * first entry, no disarmed entry interrupts */
	for (int round = 0; round < 70000; round++) {
		cr_assert_eq(virtq_arm(&q), 0, "round %d", round);
		cr_assert_eq(dev_put_irq(dev.pending[0], 10), 1, "round %d: armed", round);
		dev.pending[0] = dev.pending[--dev.npending];
		virtq_disable_interrupts(&q);
		cr_assert_eq(dev_put_irq(dev.pending[0], 10), 0, "round %d: disarmed", round);
		dev.pending[0] = dev.pending[--dev.npending];
		cr_assert_eq(virtq_get_used(&q, c, l, 8), 2, "round %d", round);
		for (int i = 0; i < 2; i++)
			cr_assert_eq(virtq_add1(&q, (uint64_t)(uintptr_t)c[i], 64, 1, c[i]), 0);
		virtq_publish(&q);
		cr_assert_eq(dev_take(), 2);
	}
	cr_expect(!virtq_broken(&q));
}

Test(virtq, arm_and_disarm_with_the_flag)
{
	arm_disarm_cycle(0);
}

Test(virtq, arm_and_disarm_with_event_idx)
{
	arm_disarm_cycle(1);
}

Test(virtq, a_broken_queue_arms_nothing)
{
	setup_q(8, 0);
	static char bufs[2][64];
	virtq_disable_interrupts(&q);
	post(bufs, 2);
	dev_put(7, 10);                         /* never given: breaks the queue */
	void *c[2];
	cr_expect_eq(virtq_get_used(&q, c, NULL, 2), 0);
	cr_assert(virtq_broken(&q));
	cr_expect_eq(virtq_arm(&q), 0, "nothing will come: sleep");
	cr_expect_eq(q.avail->flags & VRING_AVAIL_F_NO_INTERRUPT, VRING_AVAIL_F_NO_INTERRUPT,
		     "and no interrupt asked of a device that lies");
}
