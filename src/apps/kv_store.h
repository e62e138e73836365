/*
 * kv_store.h — one shard of the `kv` appliance's cache: the items of the
 * keys that hash to one data core, in memory that core owns. The contract
 * between the store (kv_store.c) and the protocols (kv_proto.c) and the
 * appliance (kv.c) that drive it.
 *
 * Rules for callers:
 * - A shard is touched by its owner core only: no locks, no atomics. A
 *   request for a key owned by another core is carried there (kv.c) and
 *   executed there; kv_shard_of() says which shard owns a key (keyed
 *   SipHash, key drawn at boot, so a client can't aim keys at one shard).
 * - Memory: kv_shard_init gets the shard's whole arena (its share of
 *   kv.memory_mb); items live in slab classes carved from it, as
 *   memcached's do (pages of KV_PAGE_SIZE handed to classes on demand;
 *   chunk sizes growing by a factor). Nothing is allocated from the heap
 *   after init. When a class has no free chunk and no page is left, the
 *   least recently used item of that class is evicted (counted) if the
 *   shard evicts, else the store fails with KV_NO_MEMORY.
 * - Time is in whole seconds since the appliance started (`now`), as
 *   memcached's rel_time; the protocols turn a client's exptime into it
 *   (kv_exptime_rel: relative up to 30 days, absolute Unix time beyond,
 *   negative: already expired, 0: never).
 * - Items are reference-counted so that an answer can stream a value after
 *   the item was replaced, deleted or evicted: kv_get and friends return a
 *   referenced item, the caller releases it with kv_item_put once the
 *   value is copied out. An unlinked item's memory returns at its last put.
 * - A value is stored in two steps, as memcached's item_alloc/store_item,
 *   so the bytes can be received straight into the item: kv_item_alloc
 *   (key, flags, exptime, length) gives a writable item not yet visible,
 *   the caller fills kv_item_data(), then kv_store() links it under a
 *   mode (set, add, replace, append, prepend, cas) or kv_item_put() drops
 *   it (a data block that lied about its length).
 * - Keys are 1..KV_KEY_MAX bytes; the store does not check for spaces or
 *   control characters (the text protocol does; binary keys may hold any
 *   byte).
 */
#ifndef POLLUX_APPS_KV_STORE_H
#define POLLUX_APPS_KV_STORE_H
#include <stddef.h>
#include <stdint.h>

#define KV_KEY_MAX 250
#define KV_PAGE_SIZE (1u << 20)
#define KV_CLASSES_MAX 64
#define KV_REALTIME_MAXDELTA (60 * 60 * 24 * 30)   /* memcached's 30 days */
/* the expiry kv_exptime_rel gives an exptime already past: never seen,
 * even at now == 0 (a relative time in the past would be 0, "never") */
#define KV_EXPTIME_PAST UINT32_MAX

struct kv_shard;
struct kv_item;

/* what a store operation says; the protocols map these to their words */
enum kv_status {
	KV_OK = 0,              /* STORED / DELETED / TOUCHED / a hit */
	KV_NOT_STORED,          /* add of a live key, replace/append/prepend of a missing one */
	KV_EXISTS,              /* cas with a stale unique */
	KV_NOT_FOUND,           /* a miss; cas/delete/incr/touch of a missing key */
	KV_TOO_LARGE,           /* over kv.item_size_max: "object too large for cache" */
	KV_NO_MEMORY,           /* no chunk and no eviction: "out of memory storing object" */
	KV_NON_NUMERIC,         /* incr/decr of a value that is not a decimal number */
};

enum kv_mode {
	KV_SET, KV_ADD, KV_REPLACE, KV_APPEND, KV_PREPEND, KV_CAS,
	KV_CAS_STALE,           /* meta ms I with C: as KV_CAS, and a unique *older* than
				 * the item's stores too, marked stale, keeping the old
				 * item's TTL and win token (memcached's CAS_STALE) */
};

/* why a read found no live item (kv_peek), for kv_read_count */
enum kv_miss { KV_MISS_NONE = 0, KV_MISS_ABSENT, KV_MISS_EXPIRED, KV_MISS_FLUSHED };

/* kv_delete's `how` */
#define KV_DEL_INVALIDATE 1u    /* md I: keep the item, stale, win token cleared, new unique */
#define KV_DEL_TTL 2u           /* with KV_DEL_INVALIDATE: its TTL becomes `exptime` (md I T) */

/* A zero item_size_max, growth_factor, chunk_min or nshards takes the
 * default: KV_PAGE_SIZE (1 MiB), 1.25, the item header + 48, 1. */
struct kv_shard_params {
	uint32_t item_size_max;         /* bytes of key + value + header, as memcached's -I;
					 * 1024..KV_PAGE_SIZE */
	int evict;                      /* 0: KV_NO_MEMORY instead of evicting (memcached -M) */
	double growth_factor;           /* chunk sizes, memcached's -f (1.25); (1, 4] */
	uint32_t chunk_min;             /* smallest chunk (memcached's 48-byte item + -n) */
	uint32_t shard;                 /* this shard's index: in every CAS unique, so
					 * uniques never collide across shards */
	uint32_t nshards;
};

/* per shard, summed by the appliance for `stats` and /metrics */
struct kv_shard_stats {
	uint64_t curr_items, total_items, bytes;
	uint64_t get_hits, get_misses, get_expired, get_flushed;
	uint64_t delete_hits, delete_misses;
	uint64_t incr_hits, incr_misses, decr_hits, decr_misses;
	uint64_t cas_hits, cas_misses, cas_badval;
	uint64_t touch_hits, touch_misses;
	uint64_t cmd_set, cmd_touch, cmd_flush;
	uint64_t evictions, expired_unfetched, evicted_unfetched, reclaimed;
	uint64_t out_of_memory, too_large;
	uint64_t limit_maxbytes;        /* this shard's arena */
	uint64_t pages_total, pages_free;
};

/* one slab class, for `stats slabs` / `stats items` (memcached's names) */
struct kv_class_stats {
	uint32_t id;                    /* memcached's class number, from 1 */
	uint32_t chunk_size, chunks_per_page;
	uint64_t total_pages, total_chunks, used_chunks, free_chunks;
	uint64_t number;                /* live items */
	uint64_t age;                   /* now (the shard's latest) - last access of the LRU tail */
	uint64_t evicted, evicted_nonzero, outofmemory, reclaimed, expired_unfetched, evicted_unfetched;
	uint64_t get_hits, cmd_set, delete_hits, incr_hits, decr_hits, cas_hits, cas_badval, touch_hits;
	uint64_t mem_requested;
};

/* the bytes of shard state kv_shard_init needs besides the arena */
size_t kv_shard_size(void);

/* Sets up a shard over `arena` (`arena_len` bytes, 8-byte aligned, a
 * multiple of KV_PAGE_SIZE, at least one page). The hash table's buckets
 * take the arena's first ~1/16 (a power of two), so the last page is
 * short: it goes only to classes whose chunk fits in it (an arena of one
 * page stores small items, not a 1 MiB one). limit_maxbytes is arena_len.
 * 0 or -EINVAL (a bad parameter, named in the log). */
int kv_shard_init(struct kv_shard *s, void *arena, size_t arena_len,
		  const struct kv_shard_params *p);

/* which of `nshards` shards owns the key; kv_hash_key_set once at boot */
void kv_hash_key_set(const uint8_t key[16]);
uint64_t kv_key_hash(const void *key, size_t klen);
uint32_t kv_shard_of(const void *key, size_t klen, uint32_t nshards);

/* memcached's exptime rules: `exptime` as the client sent it, `now` in
 * seconds since start, `started` the Unix time of the start. Returns the
 * item's expiry in seconds since start: 0 for never; an exptime already
 * past (negative, or an absolute time before now) gives a time in the
 * past, so the item is never seen. */
uint32_t kv_exptime_rel(int64_t exptime, uint32_t now, int64_t started);

/* --- reading. A returned item is referenced: kv_item_put it. NULL: a
 * miss (expired and flushed items are misses, counted as such). */
struct kv_item *kv_get(struct kv_shard *s, const void *key, size_t klen, uint32_t now);
/* get-and-touch (gat/gats) */
struct kv_item *kv_gat(struct kv_shard *s, const void *key, size_t klen, uint32_t exptime,
		       uint32_t now);
void kv_item_put(struct kv_shard *s, struct kv_item *it);

/* A read in three steps, for the meta commands that tell an item's state
 * as it was before this read (mg h and l, me) and change it in the
 * order their flags come (mg T, N, R):
 * - kv_peek: the live item, referenced, left as it was: its fetched bit,
 *   access time and LRU place untouched, nothing counted. An expired or
 *   flushed item met is unlinked (as any read does); *why (may be NULL)
 *   says what the miss was.
 * - kv_read_count: counts the read as kv_get (touch 0) or kv_gat (touch
 *   1) would: a hit of `it`, or (it NULL) a miss for `why`.
 * - kv_item_bump: the fetch itself: `it` is marked fetched, accessed at
 *   `now` and goes to the head of its LRU (mg u leaves it out).
 * kv_get is the three in a row. */
struct kv_item *kv_peek(struct kv_shard *s, const void *key, size_t klen, uint32_t now,
			enum kv_miss *why);
void kv_read_count(struct kv_shard *s, const struct kv_item *it, int touch, enum kv_miss why);
void kv_item_bump(struct kv_shard *s, struct kv_item *it, uint32_t now);

const uint8_t *kv_item_key(const struct kv_item *it);
uint32_t kv_item_klen(const struct kv_item *it);
uint8_t *kv_item_data(struct kv_item *it);
uint32_t kv_item_len(const struct kv_item *it);      /* value bytes, without "\r\n" */
uint32_t kv_item_flags(const struct kv_item *it);
uint32_t kv_item_exptime(const struct kv_item *it);  /* seconds since start, 0 never */
uint64_t kv_item_cas(const struct kv_item *it);
uint32_t kv_item_atime(const struct kv_item *it);    /* last access, seconds since start */
int kv_item_fetched(const struct kv_item *it);       /* read since stored (mg h) */
int kv_item_stale(const struct kv_item *it);         /* invalidated by md/ms I (mg X/W) */
/* a win token (mg W) went out for it since it was stored or invalidated:
 * later mg answer Z, and no other client wins */
int kv_item_won(const struct kv_item *it);
int kv_item_key_binary(const struct kv_item *it);    /* stored with meta b: keys answer base64 */
uint32_t kv_item_class(const struct kv_item *it);    /* its slab class, from 1 (me cls) */
uint32_t kv_item_size(const struct kv_item *it);     /* header + key + value + "\r\n" (me size) */
/* what the meta commands change on an item they hold (owner core only;
 * the state bits live in the header's spare byte: no growth) */
void kv_item_set_exptime(struct kv_item *it, uint32_t exptime);   /* mg T, N */
void kv_item_set_won(struct kv_item *it);                         /* mg W sent */
void kv_item_set_key_binary(struct kv_item *it);                  /* before kv_store */

/* --- writing */
/* A writable item for `len` value bytes, not yet visible. kv_item_data()
 * has room for len + 2 bytes: the data block's "\r\n" may be received
 * into it and checked there (kv_store writes "\r\n" after the value when
 * it links, so a get can send value and terminator in one copy). NULL
 * with *st = KV_TOO_LARGE (the whole item over item_size_max, or a key
 * outside 1..KV_KEY_MAX) or KV_NO_MEMORY. */
struct kv_item *kv_item_alloc(struct kv_shard *s, const void *key, size_t klen, uint32_t flags,
			      uint32_t exptime, uint32_t len, uint32_t now, enum kv_status *st);
/* Links `it` (from kv_item_alloc, filled) under `mode`; consumes the
 * caller's reference. `cas_in`: the unique a KV_CAS must match (also
 * honoured by the other modes when nonzero, as the binary protocol asks);
 * `cas_set`: nonzero sets the new item's unique to it (meta E) instead of
 * a fresh one. The stored item's unique goes to *cas_out. */
enum kv_status kv_store(struct kv_shard *s, struct kv_item *it, enum kv_mode mode, uint64_t cas_in,
			uint64_t cas_set, uint32_t now, uint64_t *cas_out);
/* delete; `cas_in` nonzero must match. `how` KV_DEL_INVALIDATE (meta md
 * I): the item is kept, marked stale, its win token cleared (the next mg
 * wins) and given a new unique; with KV_DEL_TTL its TTL becomes `exptime`,
 * else it keeps its own. */
enum kv_status kv_delete(struct kv_shard *s, const void *key, size_t klen, uint64_t cas_in,
			 unsigned how, uint32_t exptime, uint32_t now);
/* incr/decr of a decimal value: incr wraps at 2^64, decr stops at 0 (the
 * value is rewritten in place when it fits, else relinked). *value gets
 * the result. `cas_in` nonzero must match. On a miss with `vivify`
 * (binary protocol's initial value, meta ma N), the key is created with
 * `initial` and exptime. */
enum kv_status kv_arith(struct kv_shard *s, const void *key, size_t klen, int incr, uint64_t delta,
			uint64_t cas_in, int vivify, uint64_t initial, uint32_t exptime, uint32_t now,
			uint64_t *value, uint64_t *cas_out);
enum kv_status kv_touch(struct kv_shard *s, const void *key, size_t klen, uint32_t exptime,
			uint32_t now);
/* flush_all [delay]: every item stored at or before `when` (seconds since
 * start; now for no delay) is invalid from `when` on. */
void kv_flush(struct kv_shard *s, uint32_t when, uint32_t now);

/* Bounded background work for the timer wheel: reclaims at most `budget`
 * expired or flushed items from the LRU tails. Returns how many. */
unsigned kv_sweep(struct kv_shard *s, uint32_t now, unsigned budget);

void kv_shard_stats(const struct kv_shard *s, struct kv_shard_stats *out);
/* classes in use (their count) into out[0..max) */
unsigned kv_class_stats(const struct kv_shard *s, struct kv_class_stats *out, unsigned max);
/* bytes of overhead per item beyond key + value (the item header and
 * "\r\n"), for docs/kv.md's comparison with memcached */
size_t kv_item_overhead(void);

#endif
