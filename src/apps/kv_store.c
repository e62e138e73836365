/*
 * kv_store.c — one shard of the `kv` cache (the contract is kv_store.h):
 * a chained hash table, slab classes and per-class LRU lists, all carved
 * from the shard's arena at init, touched by the owner core only.
 *
 * Memory layout of an arena:
 *   [ hash buckets (a power of two, ~1/16 of the arena) | pages ... | tail ]
 * Pages of KV_PAGE_SIZE are handed to slab classes on demand, as
 * memcached's slabs.c does; the tail left after the buckets is a short last
 * page, given only to classes whose chunk fits in it (so an arena of one
 * page still stores small items). Chunk sizes grow from chunk_min by the
 * growth factor up to item_size_max, the last class.
 *
 * An item is a header, the key, the value and "\r\n" in one chunk. The
 * header (struct kv_item) is 56 bytes: hash chain, LRU links, CAS, times,
 * flags, length, refcount, key length, class and state bits (linked,
 * fetched, stale, win token sent, binary key: one byte, iflags; the
 * byte after it is spare).
 *
 * References: refs counts the callers' references only; ITEM_LINKED says
 * the hash table and LRU hold the item. A chunk returns to its class's
 * free list when both are gone (unlink with refs 0, or the last put of an
 * unlinked item). Eviction and reclaim skip referenced items, so an item
 * being streamed out is never reused under the caller.
 *
 * flush_all is exact through the CAS uniques (memcached's oldest_cas): a
 * flush that takes effect records the last unique issued; an item whose
 * unique is not above it is invalid. A delayed flush takes effect at the
 * first operation (or sweep) at or after its time, before that operation
 * runs, so what was stored before that moment is gone and what is stored
 * from then on stays. An item whose unique the client chose (meta E) says
 * nothing about when it was stored: it is marked ITEM_CAS_SET, never
 * judged by oldest_cas, and a flush that takes effect unlinks every such
 * item at once instead (flush_now; a walk of the LRUs, only while the
 * shard holds one). Else an E above the uniques issued survived every
 * flush, and an E below a flush's mark was lost as soon as stored.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include "apps/kv_store.h"
#include "core/core.h"
#include "core/siphash.h"

#define ITEM_LINKED 1u
#define ITEM_FETCHED 2u
#define ITEM_STALE 4u
#define ITEM_WON 8u             /* a win token (mg W) was sent */
#define ITEM_KEY_BINARY 16u     /* stored with meta b */
#define ITEM_CAS_SET 32u        /* its unique was the client's (meta E): see flush_now */

struct kv_item {
	struct kv_item *hnext;          /* hash chain; free-list link when free */
	struct kv_item *prev, *next;    /* LRU: prev toward the head (newer) */
	uint64_t cas;
	uint32_t exptime, atime;
	uint32_t flags, nbytes;         /* client flags; value bytes without "\r\n" */
	uint32_t refs;                  /* callers' references */
	uint8_t klen, cls, iflags, pad;
	uint8_t data[];                 /* key, value, "\r\n" */
};
_Static_assert(sizeof(struct kv_item) == 56, "item header grew: update docs/kv.md");

struct kv_class {
	uint32_t chunk_size, per_page;
	struct kv_item *free;           /* free chunks */
	uint8_t *carve, *carve_end;     /* the newest page's not yet used chunks */
	struct kv_item *head, *tail;    /* LRU */
	struct kv_item *cursor;         /* kv_sweep's position, moving tailward->head */
	uint64_t total_pages, total_chunks, used_chunks, free_chunks, number;
	uint64_t evicted, evicted_nonzero, outofmemory, reclaimed, expired_unfetched,
		evicted_unfetched;
	uint64_t get_hits, cmd_set, delete_hits, incr_hits, decr_hits, cas_hits, cas_badval,
		touch_hits;
	uint64_t mem_requested;
};

struct kv_shard {
	struct kv_shard_params p;
	struct kv_item **table;
	uint64_t mask;
	uint8_t *page_next, *slab_end;  /* pages not yet handed to a class */
	uint64_t pages_total, pages_given;
	unsigned nclasses;
	uint64_t cas_counter;           /* uniques issued: counter * nshards + shard */
	uint64_t oldest_cas;            /* flushed: unique <= this (0: none) */
	uint64_t cas_set_items;         /* linked items with ITEM_CAS_SET */
	uint32_t flush_when;            /* a delayed flush's time; valid if flush_pending */
	int flush_pending;
	uint32_t now;                   /* the latest `now` seen (for the classes' age) */
	unsigned sweep_cls;
	struct kv_shard_stats st;
	struct kv_class cls[KV_CLASSES_MAX];
};

static struct siphash_key kv_hkey;

size_t kv_shard_size(void) { return sizeof(struct kv_shard); }
size_t kv_item_overhead(void) { return sizeof(struct kv_item) + 2; }

void kv_hash_key_set(const uint8_t key[16])
{
	uint64_t k0 = 0, k1 = 0;
	for (int i = 7; i >= 0; i--) {
		k0 = k0 << 8 | key[i];
		k1 = k1 << 8 | key[8 + i];
	}
	kv_hkey.k0 = k0;
	kv_hkey.k1 = k1;
}

uint64_t kv_key_hash(const void *key, size_t klen) { return siphash24(&kv_hkey, key, klen); }

/* the shard from the high half of the hash, the bucket from the low bits:
 * independent, so a shard's keys still spread over its whole table */
uint32_t kv_shard_of(const void *key, size_t klen, uint32_t nshards)
{
	if (nshards <= 1)
		return 0;
	return (uint32_t)(((kv_key_hash(key, klen) >> 32) * nshards) >> 32);
}

uint32_t kv_exptime_rel(int64_t exptime, uint32_t now, int64_t started)
{
	if (exptime == 0)
		return 0;
	if (exptime < 0)
		return KV_EXPTIME_PAST;
	if (exptime > KV_REALTIME_MAXDELTA) {
		/* absolute Unix time; at or before the start: already past */
		if (exptime <= started)
			return KV_EXPTIME_PAST;
		int64_t rel = exptime - started;
		if (rel <= (int64_t)now)
			return KV_EXPTIME_PAST;
		return rel >= (int64_t)KV_EXPTIME_PAST ? KV_EXPTIME_PAST - 1 : (uint32_t)rel;
	}
	return now + (uint32_t)exptime;
}

/* ---------------------------------------------------------------- items */

const uint8_t *kv_item_key(const struct kv_item *it) { return it->data; }
uint32_t kv_item_klen(const struct kv_item *it) { return it->klen; }
uint8_t *kv_item_data(struct kv_item *it) { return it->data + it->klen; }
uint32_t kv_item_len(const struct kv_item *it) { return it->nbytes; }
uint32_t kv_item_flags(const struct kv_item *it) { return it->flags; }
uint32_t kv_item_exptime(const struct kv_item *it) { return it->exptime; }
uint64_t kv_item_cas(const struct kv_item *it) { return it->cas; }
uint32_t kv_item_atime(const struct kv_item *it) { return it->atime; }
int kv_item_fetched(const struct kv_item *it) { return (it->iflags & ITEM_FETCHED) != 0; }
int kv_item_stale(const struct kv_item *it) { return (it->iflags & ITEM_STALE) != 0; }
int kv_item_won(const struct kv_item *it) { return (it->iflags & ITEM_WON) != 0; }
int kv_item_key_binary(const struct kv_item *it) { return (it->iflags & ITEM_KEY_BINARY) != 0; }
uint32_t kv_item_class(const struct kv_item *it) { return it->cls + 1u; }
void kv_item_set_exptime(struct kv_item *it, uint32_t exptime) { it->exptime = exptime; }
void kv_item_set_won(struct kv_item *it) { it->iflags |= ITEM_WON; }
void kv_item_set_key_binary(struct kv_item *it) { it->iflags |= ITEM_KEY_BINARY; }

static uint64_t item_total(size_t klen, uint64_t nbytes)
{
	return sizeof(struct kv_item) + klen + nbytes + 2;
}

uint32_t kv_item_size(const struct kv_item *it)
{
	return (uint32_t)item_total(it->klen, it->nbytes);
}

static uint64_t cas_next(struct kv_shard *s)
{
	s->cas_counter++;
	return s->cas_counter * s->p.nshards + s->p.shard;
}

static void item_reclaim(struct kv_shard *s, struct kv_item *it);

/* a flush takes effect: every unique issued so far is flushed, and every
 * item with a unique of the client's is unlinked now (referenced ones
 * stay readable by their holders until put, as any unlinked item) */
static void flush_now(struct kv_shard *s)
{
	s->oldest_cas = s->cas_counter * s->p.nshards + s->p.shard;
	for (unsigned k = 0; k < s->nclasses && s->cas_set_items; k++) {
		struct kv_item *it = s->cls[k].head, *next;
		for (; it && s->cas_set_items; it = next) {
			next = it->next;
			if (it->iflags & ITEM_CAS_SET)
				item_reclaim(s, it);
		}
	}
}

/* a delayed flush takes effect before the first operation at its time */
static void flush_check(struct kv_shard *s, uint32_t now)
{
	if (now > s->now)
		s->now = now;
	if (s->flush_pending && now >= s->flush_when) {
		s->flush_pending = 0;
		flush_now(s);
	}
}

static int item_expired(const struct kv_item *it, uint32_t now)
{
	return it->exptime != 0 && (it->exptime <= now || it->exptime == KV_EXPTIME_PAST);
}

static int item_flushed(const struct kv_shard *s, const struct kv_item *it)
{
	return s->oldest_cas != 0 && !(it->iflags & ITEM_CAS_SET) && it->cas <= s->oldest_cas;
}

static void lru_remove(struct kv_shard *s, struct kv_item *it)
{
	struct kv_class *c = &s->cls[it->cls];
	if (c->cursor == it)
		c->cursor = it->prev;
	if (it->prev)
		it->prev->next = it->next;
	else
		c->head = it->next;
	if (it->next)
		it->next->prev = it->prev;
	else
		c->tail = it->prev;
	it->prev = it->next = NULL;
}

static void lru_push(struct kv_shard *s, struct kv_item *it)
{
	struct kv_class *c = &s->cls[it->cls];
	it->prev = NULL;
	it->next = c->head;
	if (c->head)
		c->head->prev = it;
	else
		c->tail = it;
	c->head = it;
}

static void lru_bump(struct kv_shard *s, struct kv_item *it, uint32_t now)
{
	it->atime = now;
	if (s->cls[it->cls].head != it) {
		lru_remove(s, it);
		lru_push(s, it);
	}
}

static struct kv_item **bucket(struct kv_shard *s, const void *key, size_t klen)
{
	return &s->table[kv_key_hash(key, klen) & s->mask];
}

static struct kv_item *find(struct kv_shard *s, const void *key, size_t klen)
{
	if (klen == 0 || klen > KV_KEY_MAX)
		return NULL;
	for (struct kv_item *it = *bucket(s, key, klen); it; it = it->hnext)
		if (it->klen == klen && memcmp(it->data, key, klen) == 0)
			return it;
	return NULL;
}

static void chunk_free(struct kv_shard *s, struct kv_item *it)
{
	struct kv_class *c = &s->cls[it->cls];
	c->mem_requested -= item_total(it->klen, it->nbytes);
	c->used_chunks--;
	c->free_chunks++;
	it->iflags = 0;
	it->hnext = c->free;
	c->free = it;
}

static void item_link(struct kv_shard *s, struct kv_item *it)
{
	struct kv_item **b = bucket(s, it->data, it->klen);
	it->hnext = *b;
	*b = it;
	it->iflags |= ITEM_LINKED;
	if (it->iflags & ITEM_CAS_SET)
		s->cas_set_items++;
	lru_push(s, it);
	s->cls[it->cls].number++;
	s->st.curr_items++;
	s->st.total_items++;
	s->st.bytes += item_total(it->klen, it->nbytes);
}

static void item_unlink(struct kv_shard *s, struct kv_item *it)
{
	struct kv_item **pp = bucket(s, it->data, it->klen);
	while (*pp != it)
		pp = &(*pp)->hnext;
	*pp = it->hnext;
	it->hnext = NULL;
	lru_remove(s, it);
	it->iflags &= (uint8_t)~ITEM_LINKED;
	if (it->iflags & ITEM_CAS_SET)
		s->cas_set_items--;
	s->cls[it->cls].number--;
	s->st.curr_items--;
	s->st.bytes -= item_total(it->klen, it->nbytes);
	if (it->refs == 0)
		chunk_free(s, it);
}

/* an expired or flushed item met on the way: unlinked and counted */
static void item_reclaim(struct kv_shard *s, struct kv_item *it)
{
	struct kv_class *c = &s->cls[it->cls];
	c->reclaimed++;
	s->st.reclaimed++;
	if (!(it->iflags & ITEM_FETCHED)) {
		c->expired_unfetched++;
		s->st.expired_unfetched++;
	}
	item_unlink(s, it);
}

/* the live item of a key, or NULL (an expired or flushed one is unlinked
 * on the way; *why tells the caller which, for get_expired/get_flushed) */
static struct kv_item *find_live(struct kv_shard *s, const void *key, size_t klen, uint32_t now,
				 enum kv_miss *why)
{
	struct kv_item *it = find(s, key, klen);
	*why = it ? KV_MISS_NONE : KV_MISS_ABSENT;
	if (it && (item_expired(it, now) || item_flushed(s, it))) {
		*why = item_expired(it, now) ? KV_MISS_EXPIRED : KV_MISS_FLUSHED;
		item_reclaim(s, it);
		it = NULL;
	}
	return it;
}

/* ---------------------------------------------------------------- slabs */

static int class_grow(struct kv_shard *s, struct kv_class *c)
{
	if (s->page_next >= s->slab_end)
		return -1;
	size_t len = (size_t)(s->slab_end - s->page_next);
	if (len > KV_PAGE_SIZE)
		len = KV_PAGE_SIZE;
	if (len < c->chunk_size)
		return -1;              /* the short tail page; a smaller class may take it */
	c->carve = s->page_next;
	c->carve_end = s->page_next + (len / c->chunk_size) * c->chunk_size;
	s->page_next += len;
	s->pages_given++;
	c->total_pages++;
	c->total_chunks += len / c->chunk_size;
	c->free_chunks += len / c->chunk_size;
	return 0;
}

/* the LRU tail's first unreferenced item, looking at a few (memcached's
 * lru_pull_tail looks at 5): one being streamed out is skipped */
#define TAIL_SEARCH 5
static struct kv_item *tail_pick(struct kv_class *c, uint32_t now, const struct kv_shard *s,
				 int expired_only)
{
	struct kv_item *it = c->tail;
	for (int n = 0; it && n < TAIL_SEARCH; n++, it = it->prev) {
		if (it->refs)
			continue;
		if (!expired_only || item_expired(it, now) || item_flushed(s, it))
			return it;
	}
	return NULL;
}

static struct kv_item *chunk_alloc(struct kv_shard *s, unsigned ci, uint32_t now,
				   enum kv_status *st)
{
	struct kv_class *c = &s->cls[ci];
	struct kv_item *it = NULL;
	if (!c->free && c->carve == c->carve_end)
		(void)class_grow(s, c);
	if (c->free) {
		it = c->free;
		c->free = it->hnext;
	} else if (c->carve < c->carve_end) {
		it = (struct kv_item *)c->carve;
		c->carve += c->chunk_size;
	} else {
		/* full: an expired item first, else the LRU tail if we evict */
		struct kv_item *v = tail_pick(c, now, s, 1);
		if (v) {
			item_reclaim(s, v);
		} else if (s->p.evict && (v = tail_pick(c, now, s, 0)) != NULL) {
			c->evicted++;
			s->st.evictions++;
			if (v->exptime)
				c->evicted_nonzero++;
			if (!(v->iflags & ITEM_FETCHED)) {
				c->evicted_unfetched++;
				s->st.evicted_unfetched++;
			}
			item_unlink(s, v);
		} else {
			c->outofmemory++;
			s->st.out_of_memory++;
			*st = KV_NO_MEMORY;
			return NULL;
		}
		it = c->free;
		c->free = it->hnext;
	}
	c->free_chunks--;
	c->used_chunks++;
	return it;
}

static unsigned class_of(const struct kv_shard *s, uint64_t total)
{
	for (unsigned i = 0; i < s->nclasses; i++)
		if (s->cls[i].chunk_size >= total)
			return i;
	return s->nclasses;
}

/* ---------------------------------------------------------------- init */

int kv_shard_init(struct kv_shard *s, void *arena, size_t arena_len,
		  const struct kv_shard_params *pp)
{
	struct kv_shard_params p = *pp;
	if (p.item_size_max == 0)
		p.item_size_max = KV_PAGE_SIZE;
	if (p.growth_factor == 0)
		p.growth_factor = 1.25;
	if (p.chunk_min == 0)
		p.chunk_min = sizeof(struct kv_item) + 48;
	if (p.nshards == 0)
		p.nshards = 1;
	if (!arena || ((uintptr_t)arena & 7) || arena_len < KV_PAGE_SIZE ||
	    arena_len % KV_PAGE_SIZE) {
		klog("kv: shard arena: %zu bytes, not a whole number of %u-byte pages (aligned)",
		     arena_len, KV_PAGE_SIZE);
		return -EINVAL;
	}
	if (p.item_size_max > KV_PAGE_SIZE || p.item_size_max < 1024) {
		klog("kv: item_size_max %u: must lie in 1024..%u", p.item_size_max, KV_PAGE_SIZE);
		return -EINVAL;
	}
	if (!(p.growth_factor > 1.0 && p.growth_factor <= 4.0)) {
		klog("kv: growth_factor must lie in (1, 4]");
		return -EINVAL;
	}
	if (p.chunk_min < sizeof(struct kv_item) + 8 || p.chunk_min > p.item_size_max / 2) {
		klog("kv: chunk_min %u: must lie in %zu..item_size_max/2", p.chunk_min,
		     sizeof(struct kv_item) + 8);
		return -EINVAL;
	}
	if (p.shard >= p.nshards) {
		klog("kv: shard %u of %u", p.shard, p.nshards);
		return -EINVAL;
	}
	memset(s, 0, sizeof *s);
	s->p = p;

	/* buckets: the largest power of two within 1/16 of the arena; with
	 * the smallest chunks filling the rest, chains average ~1.2 */
	uint64_t nb = 64;
	while (nb * 2 * sizeof(struct kv_item *) <= arena_len / 16)
		nb *= 2;
	s->table = arena;
	s->mask = nb - 1;
	memset(s->table, 0, nb * sizeof(struct kv_item *));
	s->page_next = (uint8_t *)arena + nb * sizeof(struct kv_item *);
	s->slab_end = (uint8_t *)arena + arena_len;
	s->pages_total = (arena_len - nb * sizeof(struct kv_item *) + KV_PAGE_SIZE - 1) / KV_PAGE_SIZE;

	/* classes: memcached's slabs_init, chunks 8-byte aligned */
	double size = p.chunk_min;
	unsigned n = 0;
	while (n < KV_CLASSES_MAX - 1 && size <= p.item_size_max / p.growth_factor) {
		uint32_t cs = ((uint32_t)size + 7) & ~7u;
		if (n == 0 || cs > s->cls[n - 1].chunk_size) {
			s->cls[n].chunk_size = cs;
			s->cls[n].per_page = KV_PAGE_SIZE / cs;
			n++;
		}
		size *= p.growth_factor;
	}
	s->cls[n].chunk_size = p.item_size_max;
	s->cls[n].per_page = KV_PAGE_SIZE / p.item_size_max;
	s->nclasses = n + 1;
	s->st.limit_maxbytes = arena_len;
	return 0;
}

/* ---------------------------------------------------------------- reading */

struct kv_item *kv_peek(struct kv_shard *s, const void *key, size_t klen, uint32_t now,
			enum kv_miss *why)
{
	enum kv_miss w;
	flush_check(s, now);
	struct kv_item *it = find_live(s, key, klen, now, &w);
	if (why)
		*why = w;
	if (it)
		it->refs++;
	return it;
}

void kv_read_count(struct kv_shard *s, const struct kv_item *it, int touch, enum kv_miss why)
{
	if (touch)
		s->st.cmd_touch++;
	if (!it) {
		if (touch)
			s->st.touch_misses++;
		s->st.get_misses++;
		if (why == KV_MISS_EXPIRED)
			s->st.get_expired++;
		else if (why == KV_MISS_FLUSHED)
			s->st.get_flushed++;
		return;
	}
	if (touch) {
		s->st.touch_hits++;
		s->cls[it->cls].touch_hits++;
	}
	s->st.get_hits++;
	s->cls[it->cls].get_hits++;
}

void kv_item_bump(struct kv_shard *s, struct kv_item *it, uint32_t now)
{
	it->iflags |= ITEM_FETCHED;
	if (it->iflags & ITEM_LINKED)
		lru_bump(s, it, now);
	else
		it->atime = now;
}

struct kv_item *kv_get(struct kv_shard *s, const void *key, size_t klen, uint32_t now)
{
	enum kv_miss why;
	struct kv_item *it = kv_peek(s, key, klen, now, &why);
	kv_read_count(s, it, 0, why);
	if (it)
		kv_item_bump(s, it, now);
	return it;
}

struct kv_item *kv_gat(struct kv_shard *s, const void *key, size_t klen, uint32_t exptime,
		       uint32_t now)
{
	enum kv_miss why;
	struct kv_item *it = kv_peek(s, key, klen, now, &why);
	kv_read_count(s, it, 1, why);
	if (it) {
		it->exptime = exptime;
		kv_item_bump(s, it, now);
	}
	return it;
}

void kv_item_put(struct kv_shard *s, struct kv_item *it)
{
	if (!it)
		return;
	if (it->refs == 0) {
		klog("kv: put of an unreferenced item (a double put)");
		return;
	}
	if (--it->refs == 0 && !(it->iflags & ITEM_LINKED))
		chunk_free(s, it);
}

/* ---------------------------------------------------------------- writing */

struct kv_item *kv_item_alloc(struct kv_shard *s, const void *key, size_t klen, uint32_t flags,
			      uint32_t exptime, uint32_t len, uint32_t now, enum kv_status *st)
{
	enum kv_status dummy;
	if (!st)
		st = &dummy;
	flush_check(s, now);
	uint64_t total = item_total(klen, len);
	if (klen == 0 || klen > KV_KEY_MAX || total > s->p.item_size_max) {
		s->st.too_large++;
		*st = KV_TOO_LARGE;
		return NULL;
	}
	unsigned ci = class_of(s, total);
	struct kv_item *it = chunk_alloc(s, ci, now, st);
	if (!it)
		return NULL;
	memset(it, 0, sizeof *it);
	it->exptime = exptime;
	it->atime = now;
	it->flags = flags;
	it->nbytes = len;
	it->refs = 1;
	it->klen = (uint8_t)klen;
	it->cls = (uint8_t)ci;
	memcpy(it->data, key, klen);
	s->cls[ci].mem_requested += total;
	*st = KV_OK;
	return it;
}

/* a linked item changed in place (md I, incr/decr) gets a unique of ours */
static void item_new_unique(struct kv_shard *s, struct kv_item *it)
{
	if (it->iflags & ITEM_CAS_SET) {
		it->iflags &= (uint8_t)~ITEM_CAS_SET;
		s->cas_set_items--;
	}
	it->cas = cas_next(s);
}

/* links `it` in place of `old` (NULL: none), with a fresh or given unique */
static void item_replace(struct kv_shard *s, struct kv_item *old, struct kv_item *it,
			 uint64_t cas_set, uint32_t now)
{
	if (old)
		item_unlink(s, old);
	it->cas = cas_set ? cas_set : cas_next(s);
	if (cas_set)
		it->iflags |= ITEM_CAS_SET;
	else
		it->iflags &= (uint8_t)~ITEM_CAS_SET;
	it->atime = now;
	memcpy(it->data + it->klen + it->nbytes, "\r\n", 2);
	item_link(s, it);
}

enum kv_status kv_store(struct kv_shard *s, struct kv_item *it, enum kv_mode mode, uint64_t cas_in,
			uint64_t cas_set, uint32_t now, uint64_t *cas_out)
{
	enum kv_status r = KV_OK;
	enum kv_miss why;
	flush_check(s, now);
	s->st.cmd_set++;
	s->cls[it->cls].cmd_set++;
	struct kv_item *old = find_live(s, it->data, it->klen, now, &why);
	struct kv_item *add = it;       /* what gets linked */

	bool cas_mode = mode == KV_CAS || mode == KV_CAS_STALE;
	if (cas_mode || (cas_in && mode != KV_ADD)) {
		if (!old) {
			if (cas_mode)
				s->st.cas_misses++;
			/* append/prepend to nothing: not stored, unique or not
			 * (memcached's do_store_item) */
			r = mode == KV_APPEND || mode == KV_PREPEND ? KV_NOT_STORED : KV_NOT_FOUND;
			goto out;
		}
		if (mode == KV_CAS_STALE && cas_in && cas_in < old->cas) {
			/* an older unique: stored, but stale, with the old
			 * item's TTL and win token (memcached's CAS_STALE) */
			it->exptime = old->exptime;
			it->iflags |= (uint8_t)(ITEM_STALE | (old->iflags & ITEM_WON));
		} else if (old->cas != cas_in) {
			if (cas_mode) {
				s->st.cas_badval++;
				s->cls[old->cls].cas_badval++;
			}
			r = KV_EXISTS;
			goto out;
		}
		if (cas_mode) {
			s->st.cas_hits++;
			s->cls[old->cls].cas_hits++;
		}
	}
	switch (mode) {
	case KV_ADD:
		if (old) {
			lru_bump(s, old, now);      /* as memcached: a failed add refreshes */
			r = KV_NOT_STORED;
			goto out;
		}
		break;
	case KV_REPLACE:
	case KV_APPEND:
	case KV_PREPEND:
		if (!old) {
			r = KV_NOT_STORED;
			goto out;
		}
		break;
	default:
		break;
	}
	if (mode == KV_APPEND || mode == KV_PREPEND) {
		/* a new item: the old one may be streaming out under a reader */
		uint64_t len = (uint64_t)old->nbytes + it->nbytes;
		if (len > UINT32_MAX) {
			r = KV_TOO_LARGE;
			goto out;
		}
		old->refs++;            /* the allocation may evict it */
		add = kv_item_alloc(s, it->data, it->klen, old->flags, old->exptime, (uint32_t)len,
				    now, &r);
		if (!add) {
			kv_item_put(s, old);
			goto out;
		}
		add->iflags |= (uint8_t)((it->iflags | old->iflags) & ITEM_KEY_BINARY);
		uint8_t *d = kv_item_data(add);
		if (mode == KV_APPEND) {
			memcpy(d, kv_item_data(old), old->nbytes);
			memcpy(d + old->nbytes, kv_item_data(it), it->nbytes);
		} else {
			memcpy(d, kv_item_data(it), it->nbytes);
			memcpy(d + it->nbytes, kv_item_data(old), old->nbytes);
		}
		int still = (old->iflags & ITEM_LINKED) != 0;
		kv_item_put(s, old);
		if (!still)
			old = NULL;     /* evicted meanwhile: store the result anyway */
	}
	item_replace(s, old, add, cas_set, now);
	if (cas_out)
		*cas_out = add->cas;
	if (add != it)
		kv_item_put(s, add);
out:
	kv_item_put(s, it);
	return r;
}

enum kv_status kv_delete(struct kv_shard *s, const void *key, size_t klen, uint64_t cas_in,
			 unsigned how, uint32_t exptime, uint32_t now)
{
	enum kv_miss why;
	flush_check(s, now);
	struct kv_item *it = find_live(s, key, klen, now, &why);
	if (!it) {
		s->st.delete_misses++;
		return KV_NOT_FOUND;
	}
	if (cas_in && it->cas != cas_in)
		return KV_EXISTS;
	if (how & KV_DEL_INVALIDATE) {
		/* md I: kept, marked stale, a new unique so the next ms wins,
		 * and the next mg wins the token (not a delete_hit, as in
		 * memcached) */
		it->iflags = (uint8_t)((it->iflags | ITEM_STALE) & ~ITEM_WON);
		if (how & KV_DEL_TTL)
			it->exptime = exptime;
		item_new_unique(s, it);
		return KV_OK;
	}
	s->st.delete_hits++;
	s->cls[it->cls].delete_hits++;
	item_unlink(s, it);
	return KV_OK;
}

/* the decimal value of an item, as memcached's safe_strtoull: digits,
 * then only the spaces an in-place incr left; at most 2^64-1 */
static int is_space(uint8_t ch)
{
	return ch == ' ' || (ch >= '\t' && ch <= '\r');
}

/* The value as memcached's safe_strtoull reads it (strtoull, base 10):
 * leading white space, an optional sign, at least one digit, then white
 * space or the value's end ("\r\n" follows it); " 12", "+5" and "9 x"
 * are numbers (9), an overflow is not, and a minus sign only when the
 * result does not look negative as a signed number ("-0" is 0). */
static int value_number(const struct kv_item *it, uint64_t *v)
{
	const uint8_t *d = it->data + it->klen;
	uint32_t n = it->nbytes, i = 0;
	uint64_t x = 0;
	int neg = 0;
	while (i < n && is_space(d[i]))
		i++;
	if (i < n && (d[i] == '+' || d[i] == '-'))
		neg = d[i++] == '-';
	uint32_t first = i;
	for (; i < n && d[i] >= '0' && d[i] <= '9'; i++) {
		unsigned dig = d[i] - '0';
		if (x > (UINT64_MAX - dig) / 10)
			return -1;
		x = x * 10 + dig;
	}
	if (i == first || (i < n && !is_space(d[i])))
		return -1;
	if (neg) {
		x = 0 - x;
		if ((int64_t)x < 0)
			return -1;
	}
	*v = x;
	return 0;
}

static unsigned u64_dec(uint64_t v, char *out)
{
	char tmp[20];
	unsigned n = 0;
	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	for (unsigned i = 0; i < n; i++)
		out[i] = tmp[n - 1 - i];
	return n;
}

enum kv_status kv_arith(struct kv_shard *s, const void *key, size_t klen, int incr, uint64_t delta,
			uint64_t cas_in, int vivify, uint64_t initial, uint32_t exptime, uint32_t now,
			uint64_t *value, uint64_t *cas_out)
{
	enum kv_miss why;
	char dec[20];
	enum kv_status r;
	flush_check(s, now);
	struct kv_item *it = find_live(s, key, klen, now, &why);
	if (!it) {
		if (incr)
			s->st.incr_misses++;
		else
			s->st.decr_misses++;
		if (!vivify)
			return KV_NOT_FOUND;
		unsigned n = u64_dec(initial, dec);
		struct kv_item *ni = kv_item_alloc(s, key, klen, 0, exptime, n, now, &r);
		if (!ni)
			return r;
		memcpy(kv_item_data(ni), dec, n);
		item_replace(s, NULL, ni, 0, now);
		if (value)
			*value = initial;
		if (cas_out)
			*cas_out = ni->cas;
		kv_item_put(s, ni);
		return KV_OK;
	}
	if (cas_in && it->cas != cas_in)
		return KV_EXISTS;
	uint64_t v;
	if (value_number(it, &v) < 0)
		return KV_NON_NUMERIC;
	if (incr) {
		v += delta;             /* wraps at 2^64, as memcached */
		s->st.incr_hits++;
		s->cls[it->cls].incr_hits++;
	} else {
		v = delta > v ? 0 : v - delta;
		s->st.decr_hits++;
		s->cls[it->cls].decr_hits++;
	}
	unsigned n = u64_dec(v, dec);
	if (n <= it->nbytes && it->refs == 0) {
		/* in place, padded with spaces as memcached's do_add_delta */
		uint8_t *d = kv_item_data(it);
		memcpy(d, dec, n);
		memset(d + n, ' ', it->nbytes - n);
		item_new_unique(s, it);
		lru_bump(s, it, now);
	} else {
		it->refs++;
		struct kv_item *ni = kv_item_alloc(s, key, klen, it->flags, it->exptime, n, now, &r);
		int still = (it->iflags & ITEM_LINKED) != 0;
		kv_item_put(s, it);
		if (!ni)
			return r;
		memcpy(kv_item_data(ni), dec, n);
		ni->iflags |= (uint8_t)(it->iflags & ITEM_KEY_BINARY);
		item_replace(s, still ? it : NULL, ni, 0, now);
		kv_item_put(s, ni);
		it = ni;
	}
	if (value)
		*value = v;
	if (cas_out)
		*cas_out = it->cas;
	return KV_OK;
}

enum kv_status kv_touch(struct kv_shard *s, const void *key, size_t klen, uint32_t exptime,
			uint32_t now)
{
	enum kv_miss why;
	flush_check(s, now);
	s->st.cmd_touch++;
	struct kv_item *it = find_live(s, key, klen, now, &why);
	if (!it) {
		s->st.touch_misses++;
		return KV_NOT_FOUND;
	}
	s->st.touch_hits++;
	s->cls[it->cls].touch_hits++;
	it->exptime = exptime;
	lru_bump(s, it, now);
	return KV_OK;
}

void kv_flush(struct kv_shard *s, uint32_t when, uint32_t now)
{
	s->st.cmd_flush++;
	if (when <= now) {
		s->flush_pending = 0;
		flush_now(s);
	} else {
		s->flush_pending = 1;
		s->flush_when = when;
	}
}

unsigned kv_sweep(struct kv_shard *s, uint32_t now, unsigned budget)
{
	unsigned done = 0, seen = 0;
	flush_check(s, now);
	for (unsigned k = 0; k < s->nclasses && seen < budget; k++) {
		struct kv_class *c = &s->cls[s->sweep_cls];
		if (!c->cursor)
			c->cursor = c->tail;
		while (c->cursor && seen < budget) {
			struct kv_item *it = c->cursor;
			c->cursor = it->prev;
			seen++;
			if (it->refs == 0 && (item_expired(it, now) || item_flushed(s, it))) {
				item_reclaim(s, it);
				done++;
			}
		}
		if (!c->cursor)
			s->sweep_cls = (s->sweep_cls + 1) % s->nclasses;
	}
	return done;
}

/* ---------------------------------------------------------------- stats */

void kv_shard_stats(const struct kv_shard *s, struct kv_shard_stats *out)
{
	*out = s->st;
	out->pages_total = s->pages_total;
	out->pages_free = s->pages_total - s->pages_given;
}

unsigned kv_class_stats(const struct kv_shard *s, struct kv_class_stats *out, unsigned max)
{
	unsigned n = 0;
	for (unsigned i = 0; i < s->nclasses && n < max; i++) {
		const struct kv_class *c = &s->cls[i];
		if (c->total_pages == 0)
			continue;
		struct kv_class_stats *o = &out[n++];
		memset(o, 0, sizeof *o);
		o->id = i + 1;
		o->chunk_size = c->chunk_size;
		o->chunks_per_page = c->per_page;
		o->total_pages = c->total_pages;
		o->total_chunks = c->total_chunks;
		o->used_chunks = c->used_chunks;
		o->free_chunks = c->free_chunks;
		o->number = c->number;
		o->age = c->tail && s->now > c->tail->atime ? s->now - c->tail->atime : 0;
		o->evicted = c->evicted;
		o->evicted_nonzero = c->evicted_nonzero;
		o->outofmemory = c->outofmemory;
		o->reclaimed = c->reclaimed;
		o->expired_unfetched = c->expired_unfetched;
		o->evicted_unfetched = c->evicted_unfetched;
		o->get_hits = c->get_hits;
		o->cmd_set = c->cmd_set;
		o->delete_hits = c->delete_hits;
		o->incr_hits = c->incr_hits;
		o->decr_hits = c->decr_hits;
		o->cas_hits = c->cas_hits;
		o->cas_badval = c->cas_badval;
		o->touch_hits = c->touch_hits;
		o->mem_requested = c->mem_requested;
	}
	return n;
}
