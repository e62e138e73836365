/*
 * pktbuf.h — packet buffers and per-core pools.
 *
 * A buffer is two objects: 64 bytes of metadata (struct pktbuf) in
 * private memory, and its data slot in device-visible memory
 * (frame_alloc_dma_pages): PKTBUF_HEADROOM bytes (room for the virtio-net
 * header and any encapsulation pushed in front), then up to PKTBUF_DATA
 * bytes of frame. The metadata's `buf` points at the slot and never
 * changes. A device (on hosted, the vhost-user backend, which maps all
 * device-visible memory) can rewrite any slot's bytes at any time, but
 * never a length, a chain link or a pool's free stack: those are private.
 * Pools are made at start-up, one per core.
 *
 * A frame larger than one buffer (a TSO frame, up to 64 KiB) is a chain:
 * the head holds the headers and the first bytes, `frag` links buffers
 * whose bytes follow (each from buf + off, len bytes), and the head's
 * frag_len counts them. The head owns the chain: pktbuf_free(head) frees
 * every buffer of it, and nothing else may free a chained buffer.
 *
 * Ownership: a pool belongs to its core; pktbuf_alloc and a free on the
 * home core touch only that core's free stack (no atomics). A buffer freed
 * on another core goes home over a channel (call_on) and is counted. An
 * empty pool returns NULL and counts; it never blocks or crashes, and
 * recovers when buffers return. Our own invariants are asserted (stay on
 * in release builds): a pool is allocated from and freed to only on its
 * core, and a buffer freed twice stops the core where it happened. Other
 * cores see a pool only through pktbuf_pool_usage(); its fields are the
 * pool's own.
 */
#ifndef POLLUX_PKTBUF_H
#define POLLUX_PKTBUF_H
#include <stdint.h>
#include <stddef.h>
#include "core/core.h"
#include "core/schema.h"

#define PKTBUF_HEADROOM 128
#define PKTBUF_DATA 2048
#define PKTBUF_META 64
#define PKTBUF_SLOT (PKTBUF_HEADROOM + PKTBUF_DATA)     /* a data slot's bytes */
#define PKTBUF_BYTES (PKTBUF_META + PKTBUF_SLOT)        /* memory one buffer costs */

struct pktbuf {
	/* owner: whichever core holds the buffer now */
	uint16_t off;                   /* data starts at buf + off */
	uint16_t len;                   /* frame bytes */
	uint16_t home;                  /* core whose pool it belongs to */
	uint16_t flags;
	uint32_t magic;                 /* PKTBUF_MAGIC while allocated: catches double frees */
	uint32_t rss;                   /* flow hash, when known */
	uint16_t csum_start, csum_offset;
	uint16_t port, queue;           /* where it was received */
	struct pktbuf *next;            /* on a core's list of buffers to send home */
	/* transmit: a chain, and what the device must do (PKTBUF_F_TX_*) */
	struct pktbuf *frag;            /* the next buffer of this frame's bytes */
	uint32_t frag_len;              /* head: bytes in the chained buffers */
	uint16_t gso_size;              /* TSO: payload bytes per segment */
	uint16_t hdr_end;               /* TSO: buf offset where the payload starts */
	/* immutable after pktbuf_pool_init; an external fragment's
	 * (PKTBUF_F_EXT) are set by pktbuf_ext_alloc instead */
	uint8_t *buf;                   /* the data slot: PKTBUF_SLOT bytes, device-visible */
	struct pktbuf_ref *ext_ref;     /* PKTBUF_F_EXT: the reference it holds */
};
_Static_assert(sizeof(struct pktbuf) == PKTBUF_META, "metadata is one cache line");
#define PKTBUF_MAGIC 0x706b7462u
#define PKTBUF_EXT_MAGIC 0x706b7465u
#define PKTBUF_F_CSUM_NEEDED 1          /* virtio NEEDS_CSUM: csum_start/offset valid */
#define PKTBUF_F_CSUM_VALID  2          /* device checked it */
/* Transmit offloads, asked by the stack only when the device offers them
 * (netdev_tx_offloads). Offsets count from the start of b->buf, not from
 * the frame, so headers pushed in front later (IP, Ethernet, a VLAN tag)
 * leave them valid; the driver turns them into frame offsets. */
#define PKTBUF_F_TX_CSUM 4              /* the device sums from csum_start and
					 * stores at csum_start + csum_offset;
					 * the field holds the pseudo-header sum */
#define PKTBUF_F_TX_TSO  8              /* TCPv4 segmentation: gso_size, hdr_end
					 * (with PKTBUF_F_TX_CSUM) */
#define PKTBUF_F_EXT     16             /* an external fragment: see below */

static inline uint8_t *pktbuf_data(struct pktbuf *p) { return p->buf + p->off; }
/* the whole frame's length, chained buffers included */
static inline uint32_t pktbuf_frame_len(const struct pktbuf *p) { return (uint32_t)p->len + p->frag_len; }
/* bytes a chained (non-head) buffer can hold: all of buf */
#define PKTBUF_FRAG_ROOM PKTBUF_SLOT

/*
 * References on immutable memory (zero-copy transmit).
 *
 * A pktbuf_ref counts the holders of a block of memory that nobody
 * writes while the count is above zero (a site's files, say). Its owner
 * makes it with count 1 (its own reference), hands it to senders
 * (tcp_send_ref), and drops its own with pktbuf_ref_put when it wants the
 * memory back; `release` runs once, on whichever core drops the last
 * reference (the app moves the actual free to a core of its choice).
 *
 * Ordering contract: count is the only shared word. pktbuf_ref_get is a
 * relaxed increment: the caller already holds a reference, so the
 * memory is alive and nothing needs publishing. pktbuf_ref_put is an
 * acq_rel decrement: its release half orders every read of the memory
 * this holder made (and, for a fragment, the device's reads, which
 * completed before the driver reclaimed the frame) before the decrement;
 * its acquire half, on the put that reaches zero, pairs with the release
 * halves of all earlier puts, so `release` (and the free it leads to)
 * happens after every holder's last read.
 */
struct pktbuf_ref {
	_Atomic uint32_t count;         /* holders; 0: released */
	void (*release)(struct pktbuf_ref *r);  /* may be NULL */
	void *arg;                      /* the owner's */
};
static inline void pktbuf_ref_init(struct pktbuf_ref *r, void (*release)(struct pktbuf_ref *), void *arg)
{
	atomic_init(&r->count, 1);
	r->release = release;
	r->arg = arg;
}
static inline void pktbuf_ref_get(struct pktbuf_ref *r)
{
	/* relaxed: the caller holds a reference (see the contract above) */
	atomic_fetch_add_explicit(&r->count, 1, memory_order_relaxed);
}
static inline void pktbuf_ref_put(struct pktbuf_ref *r)
{
	/* acq_rel: release pairs with the acquire of the put that reaches
	 * zero, which then runs `release` after every holder's reads */
	uint32_t was = atomic_fetch_sub_explicit(&r->count, 1, memory_order_acq_rel);
	ASSERT(was > 0);                /* dropped more often than taken */
	if (was == 1 && r->release)
		r->release(r);
}
/* Any core: holders now (tests, telemetry). */
static inline uint32_t pktbuf_ref_count(struct pktbuf_ref *r)
{
	return atomic_load_explicit(&r->count, memory_order_relaxed);
}

/*
 * External fragments: a pktbuf whose bytes are not its own slot but
 * memory it references (PKTBUF_F_EXT; buf points there, off is 0, len
 * its bytes, ext_ref the reference it holds until it is freed). Only a
 * chained (non-head) buffer of a transmit frame may be one. They come
 * from a small per-core pool beside the buffers' (one per
 * PKTBUF_EXT_DIV buffers, at least PKTBUF_EXT_MIN), have no data slot, and are freed
 * with the chain (pktbuf_free, which drops the reference). The memory
 * must be device-visible (frame_is_dma): the caller checks that.
 */
#define PKTBUF_EXT_DIV 4                /* an external fragment per 4 buffers */
#define PKTBUF_EXT_MIN 16

struct pktbuf_pool {
	/* immutable after pktbuf_pool_init */
	struct pktbuf *objs;            /* metadata: private */
	uint8_t *data;                  /* data slots: device-visible, objs[i].buf == data + i * PKTBUF_SLOT */
	uint32_t count;
	uint16_t core;
	/* owner */
	struct pktbuf **stack;
	uint32_t top;
	uint64_t alloc_fail, remote_frees;
	struct pktbuf *going_home;      /* freed here, not ours, channel was full */
	uint64_t going_home_deferred;
	/* external fragments: metadata only (private), their own free stack */
	struct pktbuf *ext_objs;        /* immutable after pktbuf_pool_init */
	uint32_t ext_count;             /* immutable after pktbuf_pool_init */
	struct pktbuf **ext_stack;      /* owner */
	uint32_t ext_top;               /* owner */
	uint64_t ext_alloc_fail;        /* owner */
} __attribute__((aligned(CACHE_LINE)));

/* Makes `count` buffers: metadata and the free stack from private memory
 * (frame_alloc_pages), data slots from device-visible memory
 * (frame_alloc_dma_pages). Returns 0 or -ENOMEM. */
int pktbuf_pool_init(struct pktbuf_pool *p, uint16_t core, uint32_t count);
struct pktbuf_pool *pktbuf_pool_of(uint16_t core);
/* The "pool" section of the config (table: pkt_schema, src/pkt/config.c). */
struct pkt_config {
	uint32_t buffers_per_core;      /* 0: the default, 4096 with devices, else 256 */
};
extern const struct schema_node pkt_schema[];

/* Core 0 at start-up: a pool of per_core buffers for every core, and on
 * each core a poller that sends home buffers whose channel was full. */
int pktbuf_pools_init(uint32_t per_core);

/* Home core only. NULL when the pool is empty (counted). */
struct pktbuf *pktbuf_alloc(struct pktbuf_pool *p);
unsigned pktbuf_alloc_bulk(struct pktbuf_pool *p, struct pktbuf **out, unsigned n);
/* Home core: an external fragment of len bytes at data (1..65535,
 * device-visible, immutable while ref is held), taking a reference on
 * ref. NULL when the pool's external fragments are all in use (counted:
 * ext_alloc_fail); it never blocks. */
struct pktbuf *pktbuf_ext_alloc(struct pktbuf_pool *p, const void *data, uint32_t len, struct pktbuf_ref *ref);
/* Any core: frees to the home pool, directly when called there, else by
 * call_on to the home core; a chain's buffers all go. */
void pktbuf_free(struct pktbuf *b);
/* Home core: buffers free in the pool now, and buffers it was made with. */
static inline uint32_t pktbuf_pool_avail(const struct pktbuf_pool *p) { return p->top; }
static inline uint32_t pktbuf_pool_size(const struct pktbuf_pool *p) { return p->count; }

/* A pool as another core sees it (telemetry: the API, netstat). */
struct pktbuf_pool_usage {
	uint32_t free;                  /* on the pool's free stack */
	uint32_t total;                 /* buffers the pool was made with */
	uint32_t ext_free, ext_total;   /* external fragments, the same way */
};
/* Any core: core's pool as it stands, by relaxed loads (a level that may
 * be a burst old, never torn; see pktbuf.c). A core without a pool
 * reads 0 of 0. Never stops or slows the owner. */
void pktbuf_pool_usage(uint16_t core, struct pktbuf_pool_usage *out);
#endif
