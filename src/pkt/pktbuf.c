/*
 * pktbuf.c — per-core packet buffer pools. See pktbuf.h.
 */
#include <errno.h>
#include <string.h>
#include "pkt/pktbuf.h"
#include "sched/sched.h"

static struct pktbuf_pool pools[POLLUX_MAX_CORES];

int pktbuf_pool_init(struct pktbuf_pool *p, uint16_t core, uint32_t count)
{
	size_t mpages = ((size_t)count * sizeof(struct pktbuf) + 4095) / 4096;
	size_t dpages = ((size_t)count * PKTBUF_SLOT + 4095) / 4096;
	size_t spages = ((size_t)count * sizeof(struct pktbuf *) + 4095) / 4096;
	memset(p, 0, sizeof *p);
	p->objs = frame_alloc_pages(mpages);
	p->data = frame_alloc_dma_pages(dpages);
	p->stack = frame_alloc_pages(spages);
	uint32_t next = count / PKTBUF_EXT_DIV > PKTBUF_EXT_MIN ? count / PKTBUF_EXT_DIV : PKTBUF_EXT_MIN;
	p->ext_objs = frame_alloc_pages(((size_t)next * sizeof(struct pktbuf) + 4095) / 4096);
	p->ext_stack = frame_alloc_pages(((size_t)next * sizeof(struct pktbuf *) + 4095) / 4096);
	if (!p->objs || !p->data || !p->stack || !p->ext_objs || !p->ext_stack)
		return -ENOMEM;
	p->ext_count = next;
	for (uint32_t i = 0; i < next; i++) {
		p->ext_objs[i].home = core;
		p->ext_stack[i] = &p->ext_objs[i];
	}
	p->ext_top = next;
	p->count = count;
	p->core = core;
	for (uint32_t i = 0; i < count; i++) {
		struct pktbuf *b = &p->objs[i];
		b->home = core;
		b->magic = 0;
		b->buf = p->data + (size_t)i * PKTBUF_SLOT;
		p->stack[i] = b;
	}
	p->top = count;
	return 0;
}

static void free_remote(void *arg);

/* Sends home what pktbuf_free could not; stops at the first full channel. */
static unsigned going_home_poll(void *arg)
{
	struct pktbuf_pool *p = arg;
	unsigned n = 0;
	while (p->going_home) {
		struct pktbuf *b = p->going_home;
		if (call_on(b->home, free_remote, b))
			break;
		p->going_home = b->next;
		n++;
	}
	return n;
}

/* Before a halting core sleeps: buffers still going home wait for room
 * in a full channel, which nobody signals: poll on a timer. */
static int going_home_arm(void *arg)
{
	const struct pktbuf_pool *p = arg;
	return p->going_home ? SCHED_ARM_TIMED : SCHED_ARM_SLEEP;
}

int pktbuf_pools_init(uint32_t per_core)
{
	for (uint32_t i = 0; i < cores_count(); i++) {
		int rc = pktbuf_pool_init(&pools[i], (uint16_t)i, per_core);
		if (rc)
			return rc;
		rc = sched_poller_add(i, "pktbuf-home", going_home_poll, NULL, &pools[i]);
		if (!rc)
			rc = sched_poller_set_arm(i, going_home_poll, &pools[i], going_home_arm, NULL);
		if (rc)
			return rc;
	}
	return 0;
}

struct pktbuf_pool *pktbuf_pool_of(uint16_t core) { return &pools[core]; }

/* Why a relaxed load from another core is enough: `top` is an aligned
 * 32-bit word that only the owner writes, one whole store per change (the
 * hot path keeps it a plain word: an _Atomic decrement would be a locked
 * instruction), so the load returns a value it held, never a mix of two;
 * it may be a few buffers old, which a gauge can be and a decision must
 * not rely on. `count` is immutable after pktbuf_pool_init, which core 0
 * ran before starting the other cores. */
void pktbuf_pool_usage(uint16_t core, struct pktbuf_pool_usage *out)
{
	out->free = out->total = 0;
	if (core >= POLLUX_MAX_CORES)
		return;
	const struct pktbuf_pool *p = &pools[core];
	out->free = __atomic_load_n(&p->top, __ATOMIC_RELAXED);
	out->total = p->count;
	out->ext_free = __atomic_load_n(&p->ext_top, __ATOMIC_RELAXED);
	out->ext_total = p->ext_count;
}

static void reset(struct pktbuf *b)
{
	b->off = PKTBUF_HEADROOM;
	b->len = 0;
	b->flags = 0;
	b->frag = NULL;
	b->frag_len = 0;
	b->magic = PKTBUF_MAGIC;
}

/* A pool is its core's alone, once that core runs its loop; before that,
 * core 0 sets it up and acts for it (netdev_init_all fills each data
 * core's RX rings from that core's pool). The second load runs only when
 * the first test fails. */
static inline int pool_mine(const struct pktbuf_pool *p)
{
	return p->core == core_self()->id ||
	       atomic_load_explicit(&core_get(p->core)->state, memory_order_relaxed) != CORE_IN_LOOP;
}

struct pktbuf *pktbuf_alloc(struct pktbuf_pool *p)
{
	ASSERT(pool_mine(p));
	if (!p->top) {
		p->alloc_fail++;
		return NULL;
	}
	struct pktbuf *b = p->stack[--p->top];
	reset(b);
	return b;
}

unsigned pktbuf_alloc_bulk(struct pktbuf_pool *p, struct pktbuf **out, unsigned n)
{
	ASSERT(pool_mine(p));
	if (p->top < n) {
		p->alloc_fail++;
		n = p->top;
	}
	for (unsigned i = 0; i < n; i++) {
		out[i] = p->stack[--p->top];
		reset(out[i]);
	}
	return n;
}

struct pktbuf *pktbuf_ext_alloc(struct pktbuf_pool *p, const void *data, uint32_t len, struct pktbuf_ref *ref)
{
	ASSERT(pool_mine(p));
	ASSERT(len && len <= 0xffff && ref);
	if (!p->ext_top) {
		p->ext_alloc_fail++;
		return NULL;
	}
	struct pktbuf *b = p->ext_stack[--p->ext_top];
	b->off = 0;
	b->len = (uint16_t)len;
	b->flags = PKTBUF_F_EXT;
	b->frag = NULL;
	b->frag_len = 0;
	b->magic = PKTBUF_EXT_MAGIC;
	b->buf = (uint8_t *)(uintptr_t)data;
	b->ext_ref = ref;
	pktbuf_ref_get(ref);
	return b;
}

/* An external fragment back to its stack, its reference dropped (the
 * device is done with the frame: the driver reclaimed it). */
static void free_ext(struct pktbuf_pool *p, struct pktbuf *b)
{
	ASSERT(pool_mine(p));
	ASSERT(b->magic == PKTBUF_EXT_MAGIC);   /* freed twice */
	ASSERT(p->ext_top < p->ext_count);
	struct pktbuf_ref *r = b->ext_ref;
	b->magic = 0;
	b->ext_ref = NULL;
	b->buf = NULL;
	p->ext_stack[p->ext_top++] = b;
	pktbuf_ref_put(r);
}

/* On the home core. A buffer freed twice (its magic already cleared, or
 * the stack already full) is our own bug, never the wire's or a
 * device's (their buffers come back through private shadow state): it
 * stops here, where it happened, rather than handing one buffer to two
 * owners later. */
static void free_local(struct pktbuf_pool *p, struct pktbuf *b)
{
	if (b->flags & PKTBUF_F_EXT) {
		free_ext(p, b);
		return;
	}
	ASSERT(pool_mine(p));
	ASSERT(b->magic == PKTBUF_MAGIC);       /* freed twice */
	ASSERT(p->top < p->count);
	b->magic = 0;
	p->stack[p->top++] = b;
}

static void free_remote(void *arg)
{
	struct pktbuf *b = arg;
	struct pktbuf_pool *p = &pools[b->home];
	p->remote_frees++;
	free_local(p, b);
}

static void free_one(struct pktbuf *b);

void pktbuf_free(struct pktbuf *b)
{
	while (b) {
		struct pktbuf *nx = b->frag;
		b->frag = NULL;
		free_one(b);
		b = nx;
	}
}

static void free_one(struct pktbuf *b)
{
	uint32_t me = core_self()->id;
	if (b->home == me) {
		free_local(&pools[me], b);
		return;
	}
	/* goes home over a channel; if it is full, the buffer waits on this
	 * core's list (no allocation: the link is in the buffer) and the
	 * pktbuf-home poller retries */
	if (call_on(b->home, free_remote, b)) {
		struct pktbuf_pool *mine = &pools[me];
		b->next = mine->going_home;
		mine->going_home = b;
		mine->going_home_deferred++;
	}
}
