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
	size_t bytes = (size_t)count * sizeof(struct pktbuf);
	size_t spages = ((size_t)count * sizeof(struct pktbuf *) + 4095) / 4096;
	memset(p, 0, sizeof *p);
	p->objs = frame_alloc_pages((bytes + 4095) / 4096);
	p->stack = frame_alloc_pages(spages);
	if (!p->objs || !p->stack)
		return -ENOMEM;
	p->count = count;
	p->core = core;
	for (uint32_t i = 0; i < count; i++) {
		struct pktbuf *b = &p->objs[i];
		b->home = core;
		b->magic = 0;
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

int pktbuf_pools_init(uint32_t per_core)
{
	for (uint32_t i = 0; i < cores_count(); i++) {
		int rc = pktbuf_pool_init(&pools[i], (uint16_t)i, per_core);
		if (rc)
			return rc;
		rc = sched_poller_add(i, "pktbuf-home", going_home_poll, NULL, &pools[i]);
		if (rc)
			return rc;
	}
	return 0;
}

struct pktbuf_pool *pktbuf_pool_of(uint16_t core) { return &pools[core]; }

static void reset(struct pktbuf *b)
{
	b->off = PKTBUF_HEADROOM;
	b->len = 0;
	b->flags = 0;
	b->frag = NULL;
	b->frag_len = 0;
	b->magic = PKTBUF_MAGIC;
}

struct pktbuf *pktbuf_alloc(struct pktbuf_pool *p)
{
	ASSERT(p->core == core_self()->id);     /* a pool is its core's alone */
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
	ASSERT(p->core == core_self()->id);
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

/* On the home core. A buffer freed twice (its magic already cleared, or
 * the stack already full) is our own bug, never the wire's or a
 * device's (their buffers come back through private shadow state): it
 * stops here, where it happened, rather than handing one buffer to two
 * owners later. */
static void free_local(struct pktbuf_pool *p, struct pktbuf *b)
{
	ASSERT(p->core == core_self()->id);
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
