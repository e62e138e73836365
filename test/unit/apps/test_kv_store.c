/*
 * test_kv_store.c — one shard of the kv cache (src/apps/kv_store.c) on the
 * host: every operation and every status it can say, expiry relative,
 * absolute and past, flush_all now and delayed, eviction in a one-page
 * arena and KV_NO_MEMORY without it, item_size_max, references held
 * across delete and replace, incr's wrap and decr's floor, the sweep and
 * the stats. Built plain and with ASan/UBSan (make test-unit).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "apps/kv_store.h"

static struct kv_shard *S;
static void *A;

static struct kv_shard *shard_new(size_t pages, const struct kv_shard_params *p)
{
	struct kv_shard *s = malloc(kv_shard_size());
	void *a = aligned_alloc(4096, pages * KV_PAGE_SIZE);
	cr_assert(s && a);
	cr_assert_eq(kv_shard_init(s, a, pages * KV_PAGE_SIZE, p), 0);
	S = s;
	A = a;
	return s;
}

static void setup(void)
{
	uint8_t k[16];
	for (int i = 0; i < 16; i++)
		k[i] = (uint8_t)(i * 7 + 1);
	kv_hash_key_set(k);
	S = NULL;
	A = NULL;
}

static void teardown(void)
{
	free(S);
	free(A);
}

TestSuite(kv_store, .init = setup, .fini = teardown);

static struct kv_shard *shard_default(void)
{
	struct kv_shard_params p = { .evict = 1 };
	return shard_new(4, &p);
}

/* stores key=value under mode; the status */
static enum kv_status put(struct kv_shard *s, const char *key, const char *val, uint32_t flags,
			  uint32_t exptime, enum kv_mode mode, uint64_t cas_in, uint32_t now,
			  uint64_t *cas_out)
{
	enum kv_status st;
	size_t n = strlen(val);
	struct kv_item *it = kv_item_alloc(s, key, strlen(key), flags, exptime, (uint32_t)n, now,
					   &st);
	if (!it)
		return st;
	memcpy(kv_item_data(it), val, n);
	return kv_store(s, it, mode, cas_in, 0, now, cas_out);
}

static enum kv_status set(struct kv_shard *s, const char *key, const char *val, uint32_t now)
{
	return put(s, key, val, 0, 0, KV_SET, 0, now, NULL);
}

/* the value of key as a string ("" on a miss, into buf) */
static const char *get(struct kv_shard *s, const char *key, uint32_t now, char *buf)
{
	struct kv_item *it = kv_get(s, key, strlen(key), now);
	if (!it)
		return NULL;
	memcpy(buf, kv_item_data(it), kv_item_len(it));
	buf[kv_item_len(it)] = 0;
	kv_item_put(s, it);
	return buf;
}

static struct kv_shard_stats stats(struct kv_shard *s)
{
	struct kv_shard_stats st;
	kv_shard_stats(s, &st);
	return st;
}

/* used chunks over all classes: must equal the live items when no
 * reference is held (nothing leaked, nothing freed twice) */
static uint64_t used_chunks(struct kv_shard *s)
{
	struct kv_class_stats cs[KV_CLASSES_MAX];
	unsigned n = kv_class_stats(s, cs, KV_CLASSES_MAX);
	uint64_t u = 0;
	for (unsigned i = 0; i < n; i++) {
		cr_assert_eq(cs[i].used_chunks + cs[i].free_chunks, cs[i].total_chunks);
		u += cs[i].used_chunks;
	}
	return u;
}

Test(kv_store, init_refuses_bad_parameters)
{
	struct kv_shard *s = malloc(kv_shard_size());
	void *a = aligned_alloc(4096, 2 * KV_PAGE_SIZE);
	struct kv_shard_params p = { 0 };
	cr_assert_eq(kv_shard_init(s, a, KV_PAGE_SIZE / 2, &p), -EINVAL);
	cr_assert_eq(kv_shard_init(s, a, KV_PAGE_SIZE + 1, &p), -EINVAL);
	cr_assert_eq(kv_shard_init(s, (char *)a + 1, KV_PAGE_SIZE, &p), -EINVAL);
	p.item_size_max = KV_PAGE_SIZE * 2;
	cr_assert_eq(kv_shard_init(s, a, KV_PAGE_SIZE, &p), -EINVAL);
	p.item_size_max = 0;
	p.growth_factor = 0.5;
	cr_assert_eq(kv_shard_init(s, a, KV_PAGE_SIZE, &p), -EINVAL);
	p.growth_factor = 0;
	p.shard = 2;
	p.nshards = 2;
	cr_assert_eq(kv_shard_init(s, a, KV_PAGE_SIZE, &p), -EINVAL);
	p.shard = 1;
	cr_assert_eq(kv_shard_init(s, a, 2 * KV_PAGE_SIZE, &p), 0);
	cr_assert_eq(stats(s).limit_maxbytes, 2 * KV_PAGE_SIZE);
	free(s);
	free(a);
}

Test(kv_store, set_get_and_the_item)
{
	struct kv_shard *s = shard_default();
	char b[64];
	uint64_t cas = 0;
	cr_assert_eq(put(s, "k1", "hello", 0xdeadbeef, 0, KV_SET, 0, 1, &cas), KV_OK);
	cr_assert_neq(cas, 0);
	struct kv_item *it = kv_get(s, "k1", 2, 1);
	cr_assert_not_null(it);
	cr_assert_eq(kv_item_klen(it), 2);
	cr_assert_eq(memcmp(kv_item_key(it), "k1", 2), 0);
	cr_assert_eq(kv_item_len(it), 5);
	cr_assert_eq(memcmp(kv_item_data(it), "hello\r\n", 7), 0, "value and its terminator");
	cr_assert_eq(kv_item_flags(it), 0xdeadbeef);
	cr_assert_eq(kv_item_cas(it), cas);
	cr_assert_eq(kv_item_exptime(it), 0);
	cr_assert(kv_item_fetched(it));
	cr_assert_not(kv_item_stale(it));
	kv_item_put(s, it);
	cr_assert_null(kv_get(s, "k2", 2, 1));
	cr_assert_null(kv_get(s, "", 0, 1));
	cr_assert_eq(set(s, "k1", "world!", 2), KV_OK);
	cr_assert_str_eq(get(s, "k1", 3, b), "world!");
	cr_assert_eq(set(s, "e", "", 2), KV_OK, "an empty value");
	cr_assert_str_eq(get(s, "e", 3, b), "");
	/* binary keys: any byte */
	struct kv_item *bi = kv_item_alloc(s, "a\0b \n", 5, 0, 0, 1, 1, NULL);
	kv_item_data(bi)[0] = 'x';
	cr_assert_eq(kv_store(s, bi, KV_SET, 0, 0, 1, NULL), KV_OK);
	cr_assert_not_null(it = kv_get(s, "a\0b \n", 5, 1));
	kv_item_put(s, it);
	struct kv_shard_stats st = stats(s);
	cr_assert_eq(st.curr_items, 3);
	cr_assert_eq(st.total_items, 4);
	cr_assert_eq(st.get_hits, 4);
	cr_assert_eq(st.get_misses, 2);
	cr_assert_eq(st.cmd_set, 4);
	cr_assert_eq(st.bytes, 3 * kv_item_overhead() + 2 + 6 + 1 + 0 + 5 + 1);
	cr_assert_eq(used_chunks(s), 3);
}

Test(kv_store, add_replace_append_prepend)
{
	struct kv_shard *s = shard_default();
	char b[64];
	cr_assert_eq(put(s, "a", "1", 0, 0, KV_REPLACE, 0, 1, NULL), KV_NOT_STORED);
	cr_assert_eq(put(s, "a", "1", 0, 0, KV_APPEND, 0, 1, NULL), KV_NOT_STORED);
	cr_assert_eq(put(s, "a", "1", 0, 0, KV_PREPEND, 0, 1, NULL), KV_NOT_STORED);
	cr_assert_null(get(s, "a", 1, b));
	cr_assert_eq(put(s, "a", "mid", 7, 0, KV_ADD, 0, 1, NULL), KV_OK);
	cr_assert_eq(put(s, "a", "x", 0, 0, KV_ADD, 0, 1, NULL), KV_NOT_STORED);
	cr_assert_eq(put(s, "a", "END", 9, 0, KV_APPEND, 0, 1, NULL), KV_OK);
	cr_assert_eq(put(s, "a", "<<", 9, 0, KV_PREPEND, 0, 1, NULL), KV_OK);
	struct kv_item *it = kv_get(s, "a", 1, 1);
	cr_assert_eq(kv_item_len(it), 8);
	cr_assert_eq(memcmp(kv_item_data(it), "<<midEND\r\n", 10), 0);
	cr_assert_eq(kv_item_flags(it), 7, "append keeps the old flags");
	kv_item_put(s, it);
	cr_assert_eq(put(s, "a", "new", 3, 0, KV_REPLACE, 0, 1, NULL), KV_OK);
	cr_assert_str_eq(get(s, "a", 1, b), "new");
	cr_assert_eq(stats(s).curr_items, 1);
	cr_assert_eq(used_chunks(s), 1);
}

Test(kv_store, cas_every_outcome)
{
	struct kv_shard *s = shard_default();
	char b[64];
	uint64_t c1, c2, c3;
	cr_assert_eq(put(s, "c", "v", 0, 0, KV_CAS, 1, 1, NULL), KV_NOT_FOUND);
	cr_assert_eq(set(s, "c", "v1", 1), KV_OK);
	struct kv_item *it = kv_get(s, "c", 1, 1);
	c1 = kv_item_cas(it);
	kv_item_put(s, it);
	cr_assert_eq(put(s, "c", "v2", 0, 0, KV_CAS, c1 + 1000, 1, NULL), KV_EXISTS);
	cr_assert_eq(put(s, "c", "v2", 0, 0, KV_CAS, 0, 1, NULL), KV_EXISTS, "cas 0 matches no item");
	cr_assert_eq(put(s, "c", "v2", 0, 0, KV_CAS, c1, 1, &c2), KV_OK);
	cr_assert_neq(c1, c2);
	cr_assert_eq(put(s, "c", "v3", 0, 0, KV_CAS, c1, 1, NULL), KV_EXISTS, "the unique moved");
	cr_assert_str_eq(get(s, "c", 1, b), "v2");
	/* the binary protocol's set/replace/append with a unique */
	cr_assert_eq(put(s, "c", "v3", 0, 0, KV_SET, c1, 1, NULL), KV_EXISTS);
	cr_assert_eq(put(s, "c", "v3", 0, 0, KV_SET, c2, 1, &c3), KV_OK);
	cr_assert_eq(put(s, "zz", "v3", 0, 0, KV_SET, c2, 1, NULL), KV_NOT_FOUND);
	cr_assert_eq(put(s, "c", "+", 0, 0, KV_APPEND, c2, 1, NULL), KV_EXISTS);
	cr_assert_eq(put(s, "c", "+", 0, 0, KV_APPEND, c3, 1, NULL), KV_OK);
	cr_assert_eq(put(s, "zz", "+", 0, 0, KV_PREPEND, c2, 1, NULL), KV_NOT_STORED,
		     "prepend to nothing: not stored, with a unique too");
	cr_assert_str_eq(get(s, "c", 1, b), "v3+");
	/* meta E: the unique given */
	enum kv_status st;
	it = kv_item_alloc(s, "e", 1, 0, 0, 1, 1, &st);
	kv_item_data(it)[0] = 'e';
	uint64_t ce;
	cr_assert_eq(kv_store(s, it, KV_SET, 0, 424242, 1, &ce), KV_OK);
	cr_assert_eq(ce, 424242);
	struct kv_shard_stats ss = stats(s);
	cr_assert_eq(ss.cas_misses, 1);
	cr_assert_eq(ss.cas_badval, 3);
	cr_assert_eq(ss.cas_hits, 1);
	struct kv_class_stats cs[KV_CLASSES_MAX];
	cr_assert_geq(kv_class_stats(s, cs, KV_CLASSES_MAX), 1);
	cr_assert_eq(cs[0].cas_hits, 1);
	cr_assert_eq(cs[0].cas_badval, 3);
}

Test(kv_store, cas_uniques_carry_the_shard)
{
	struct kv_shard *s[3];
	void *a[3];
	for (uint32_t i = 0; i < 3; i++) {
		struct kv_shard_params p = { .evict = 1, .shard = i, .nshards = 3 };
		s[i] = malloc(kv_shard_size());
		a[i] = aligned_alloc(4096, KV_PAGE_SIZE);
		cr_assert_eq(kv_shard_init(s[i], a[i], KV_PAGE_SIZE, &p), 0);
	}
	for (int n = 0; n < 50; n++)
		for (uint32_t i = 0; i < 3; i++) {
			uint64_t c;
			cr_assert_eq(put(s[i], "k", "v", 0, 0, KV_SET, 0, 1, &c), KV_OK);
			cr_assert_eq(c % 3, i, "unique %llu from shard %u", (unsigned long long)c, i);
		}
	for (uint32_t i = 0; i < 3; i++) {
		free(s[i]);
		free(a[i]);
	}
}

Test(kv_store, delete_and_invalidate)
{
	struct kv_shard *s = shard_default();
	char b[64];
	cr_assert_eq(kv_delete(s, "d", 1, 0, 0, 0, 1), KV_NOT_FOUND);
	set(s, "d", "v", 1);
	struct kv_item *it = kv_get(s, "d", 1, 1);
	uint64_t c = kv_item_cas(it);
	kv_item_put(s, it);
	cr_assert_eq(kv_delete(s, "d", 1, c + 1, 0, 0, 1), KV_EXISTS);
	cr_assert_eq(kv_delete(s, "d", 1, c, 0, 0, 1), KV_OK);
	cr_assert_null(get(s, "d", 1, b));
	cr_assert_eq(kv_delete(s, "d", 1, 0, 0, 0, 1), KV_NOT_FOUND);
	/* md I: kept, stale, win token cleared, new TTL and unique */
	set(s, "i", "v", 1);
	it = kv_get(s, "i", 1, 1);
	kv_item_set_won(it);
	kv_item_put(s, it);
	cr_assert_eq(kv_delete(s, "i", 1, 0, KV_DEL_INVALIDATE | KV_DEL_TTL, 30, 2), KV_OK);
	it = kv_get(s, "i", 1, 2);
	cr_assert_not_null(it);
	cr_assert(kv_item_stale(it));
	cr_assert_not(kv_item_won(it));
	cr_assert_eq(kv_item_exptime(it), 30);
	cr_assert_gt(kv_item_cas(it), c);
	kv_item_put(s, it);
	/* without KV_DEL_TTL the item keeps its own TTL */
	cr_assert_eq(put(s, "j", "v", 0, 77, KV_SET, 0, 2, NULL), KV_OK);
	cr_assert_eq(kv_delete(s, "j", 1, 0, KV_DEL_INVALIDATE, 5, 2), KV_OK);
	it = kv_get(s, "j", 1, 2);
	cr_assert(kv_item_stale(it));
	cr_assert_eq(kv_item_exptime(it), 77);
	kv_item_put(s, it);
	struct kv_shard_stats st = stats(s);
	cr_assert_eq(st.delete_hits, 1, "an invalidation is not a delete hit (memcached)");
	cr_assert_eq(st.delete_misses, 2);
	cr_assert_eq(used_chunks(s), 2);
}

Test(kv_store, incr_wraps_decr_floors)
{
	struct kv_shard *s = shard_default();
	char b[64];
	uint64_t v, c;
	cr_assert_eq(kv_arith(s, "n", 1, 1, 1, 0, 0, 0, 0, 1, &v, NULL), KV_NOT_FOUND);
	cr_assert_eq(kv_arith(s, "n", 1, 0, 1, 0, 0, 0, 0, 1, &v, NULL), KV_NOT_FOUND);
	set(s, "n", "18446744073709551615", 1);
	cr_assert_eq(kv_arith(s, "n", 1, 1, 2, 0, 0, 0, 0, 1, &v, NULL), KV_OK);
	cr_assert_eq(v, 1, "incr wraps at 2^64");
	/* in place: shorter results padded with spaces, as memcached */
	cr_assert_str_eq(get(s, "n", 1, b), "1                   ");
	cr_assert_eq(kv_arith(s, "n", 1, 0, 5, 0, 0, 0, 0, 1, &v, NULL), KV_OK);
	cr_assert_eq(v, 0, "decr stops at 0");
	cr_assert_eq(kv_arith(s, "n", 1, 1, 41, 0, 0, 0, 0, 1, &v, &c), KV_OK);
	cr_assert_eq(v, 41);
	cr_assert_eq(kv_arith(s, "n", 1, 1, 1, c + 1, 0, 0, 0, 1, &v, NULL), KV_EXISTS);
	cr_assert_eq(kv_arith(s, "n", 1, 1, 1, c, 0, 0, 0, 1, &v, NULL), KV_OK);
	cr_assert_eq(v, 42);
	/* growing: a new item of the new length */
	set(s, "g", "99", 1);
	cr_assert_eq(kv_arith(s, "g", 1, 1, 1, 0, 0, 0, 0, 1, &v, NULL), KV_OK);
	cr_assert_str_eq(get(s, "g", 1, b), "100");
	/* not a number */
	set(s, "x", "12a", 1);
	cr_assert_eq(kv_arith(s, "x", 1, 1, 1, 0, 0, 0, 0, 1, &v, NULL), KV_NON_NUMERIC);
	set(s, "x", "", 1);
	cr_assert_eq(kv_arith(s, "x", 1, 1, 1, 0, 0, 0, 0, 1, &v, NULL), KV_NON_NUMERIC);
	set(s, "x", "18446744073709551616", 1);
	cr_assert_eq(kv_arith(s, "x", 1, 0, 1, 0, 0, 0, 0, 1, &v, NULL), KV_NON_NUMERIC);
	set(s, "x", "1x", 1);
	cr_assert_eq(kv_arith(s, "x", 1, 0, 1, 0, 0, 0, 0, 1, &v, NULL), KV_NON_NUMERIC);
	/* vivify: the initial value, counted as a miss */
	cr_assert_eq(kv_arith(s, "v", 1, 1, 5, 0, 1, 77, 0, 1, &v, &c), KV_OK);
	cr_assert_eq(v, 77);
	cr_assert_str_eq(get(s, "v", 1, b), "77");
	/* a held reference: not rewritten under the reader */
	struct kv_item *held = kv_get(s, "v", 1, 1);
	cr_assert_eq(kv_arith(s, "v", 1, 0, 70, 0, 0, 0, 0, 1, &v, NULL), KV_OK);
	cr_assert_eq(memcmp(kv_item_data(held), "77", 2), 0);
	kv_item_put(s, held);
	cr_assert_str_eq(get(s, "v", 1, b), "7");
	struct kv_shard_stats st = stats(s);
	cr_assert_eq(st.incr_hits, 4);
	cr_assert_eq(st.incr_misses, 2);
	cr_assert_eq(st.decr_hits, 2);
	cr_assert_eq(st.decr_misses, 1);
	cr_assert_eq(used_chunks(s), st.curr_items);
}

/* the value read as memcached's safe_strtoull (strtoull) reads it */
Test(kv_store, arith_reads_numbers_as_memcached)
{
	struct kv_shard *s = shard_default();
	uint64_t v;
	static const struct { const char *val; int ok; uint64_t res; } cases[] = {
		{ " 12", 1, 13 }, { "+5", 1, 6 }, { "9 x", 1, 10 }, { "\t7", 1, 8 }, { "-0", 1, 1 },
		{ "-5", 0, 0 }, { "+", 0, 0 }, { " ", 0, 0 }, { "5-", 0, 0 }, { "0x10", 0, 0 },
	};
	for (unsigned i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		set(s, "k", cases[i].val, 1);
		enum kv_status r = kv_arith(s, "k", 1, 1, 1, 0, 0, 0, 0, 1, &v, NULL);
		cr_assert_eq(r, cases[i].ok ? KV_OK : KV_NON_NUMERIC, "incr of \"%s\": %d", cases[i].val, r);
		if (cases[i].ok)
			cr_assert_eq(v, cases[i].res, "incr of \"%s\": %llu", cases[i].val, (unsigned long long)v);
	}
}

Test(kv_store, touch_and_gat)
{
	struct kv_shard *s = shard_default();
	char b[64];
	cr_assert_eq(kv_touch(s, "t", 1, 10, 1), KV_NOT_FOUND);
	cr_assert_null(kv_gat(s, "t", 1, 10, 1));
	put(s, "t", "v", 0, 5, KV_SET, 0, 1, NULL);
	cr_assert_eq(kv_touch(s, "t", 1, 50, 2), KV_OK);
	cr_assert_str_eq(get(s, "t", 10, b), "v", "touched past its first expiry");
	struct kv_item *it = kv_gat(s, "t", 1, 0, 20);
	cr_assert_not_null(it);
	cr_assert_eq(kv_item_exptime(it), 0);
	cr_assert_eq(kv_item_atime(it), 20);
	kv_item_put(s, it);
	cr_assert_str_eq(get(s, "t", 100000, b), "v", "gat 0: never expires");
	struct kv_shard_stats st = stats(s);
	cr_assert_eq(st.touch_hits, 2);
	cr_assert_eq(st.touch_misses, 2);
	cr_assert_eq(st.cmd_touch, 4);
}

Test(kv_store, exptime_rules)
{
	int64_t started = 1700000000;
	cr_assert_eq(kv_exptime_rel(0, 5, started), 0);
	cr_assert_eq(kv_exptime_rel(10, 5, started), 15);
	cr_assert_eq(kv_exptime_rel(KV_REALTIME_MAXDELTA, 5, started), 5 + KV_REALTIME_MAXDELTA);
	cr_assert_eq(kv_exptime_rel(-1, 5, started), KV_EXPTIME_PAST);
	cr_assert_eq(kv_exptime_rel(-1, 0, started), KV_EXPTIME_PAST);
	cr_assert_eq(kv_exptime_rel(started + 100, 5, started), 100, "absolute");
	cr_assert_eq(kv_exptime_rel(started + 3, 5, started), KV_EXPTIME_PAST, "absolute, past");
	cr_assert_eq(kv_exptime_rel(KV_REALTIME_MAXDELTA + 1, 5, started), KV_EXPTIME_PAST,
		     "absolute before the start");
}

Test(kv_store, expiry_both_ways)
{
	struct kv_shard *s = shard_default();
	char b[64];
	int64_t started = 1700000000;
	put(s, "r", "v", 0, kv_exptime_rel(10, 5, started), KV_SET, 0, 5, NULL);
	put(s, "a", "v", 0, kv_exptime_rel(started + 12, 5, started), KV_SET, 0, 5, NULL);
	put(s, "p", "v", 0, kv_exptime_rel(-1, 0, started), KV_SET, 0, 0, NULL);
	cr_assert_null(get(s, "p", 0, b), "already expired, even at time 0");
	cr_assert_str_eq(get(s, "r", 14, b), "v");
	cr_assert_null(get(s, "r", 15, b), "relative: gone at its second");
	cr_assert_str_eq(get(s, "a", 11, b), "v");
	cr_assert_null(get(s, "a", 12, b), "absolute: gone at its second");
	/* every operation treats it as missing */
	put(s, "x", "1", 0, 20, KV_SET, 0, 5, NULL);
	cr_assert_eq(put(s, "x", "2", 0, 0, KV_REPLACE, 0, 20, NULL), KV_NOT_STORED);
	put(s, "x", "1", 0, 30, KV_SET, 0, 21, NULL);
	cr_assert_eq(put(s, "x", "2", 0, 0, KV_ADD, 0, 30, NULL), KV_OK);
	put(s, "y", "1", 0, 40, KV_SET, 0, 21, NULL);
	cr_assert_eq(kv_arith(s, "y", 1, 1, 1, 0, 0, 0, 0, 40, NULL, NULL), KV_NOT_FOUND);
	struct kv_shard_stats st = stats(s);
	cr_assert_eq(st.get_expired, 3);
	cr_assert_eq(st.expired_unfetched, 4, "p, x twice, y: r and a were read");
	cr_assert_eq(st.reclaimed, 6);
	cr_assert_eq(st.curr_items, 1);
	cr_assert_eq(used_chunks(s), 1);
}

Test(kv_store, flush_now_and_delayed)
{
	struct kv_shard *s = shard_default();
	char b[64];
	set(s, "a", "1", 1);
	set(s, "b", "1", 1);
	kv_flush(s, 3, 3);
	cr_assert_null(get(s, "a", 3, b));
	set(s, "c", "1", 3);
	cr_assert_str_eq(get(s, "c", 3, b), "1", "stored after the flush, same second: kept");
	cr_assert_eq(put(s, "b", "2", 0, 0, KV_ADD, 0, 3, NULL), KV_OK);
	/* delayed: exact at its second */
	set(s, "d", "1", 4);
	kv_flush(s, 10, 5);
	set(s, "e", "1", 7);
	cr_assert_str_eq(get(s, "d", 9, b), "1");
	cr_assert_str_eq(get(s, "e", 9, b), "1");
	set(s, "f", "1", 9);
	cr_assert_null(get(s, "d", 10, b));
	cr_assert_null(get(s, "e", 10, b));
	cr_assert_null(get(s, "f", 10, b), "stored the second before");
	cr_assert_null(get(s, "c", 10, b));
	set(s, "g", "1", 10);
	cr_assert_str_eq(get(s, "g", 10, b), "1", "stored at the flush's second, after it");
	cr_assert_str_eq(get(s, "g", 11, b), "1");
	/* a later flush_all replaces a pending one */
	kv_flush(s, 20, 11);
	kv_flush(s, 30, 12);
	cr_assert_str_eq(get(s, "g", 25, b), "1");
	cr_assert_null(get(s, "g", 30, b));
	kv_sweep(s, 30, 100);   /* b, never read again */
	struct kv_shard_stats st = stats(s);
	cr_assert_eq(st.cmd_flush, 4);
	cr_assert_geq(st.get_flushed, 6);
	cr_assert_eq(st.curr_items, 0);
	cr_assert_eq(used_chunks(s), 0);
}

/* a unique chosen by the client (meta E) says nothing of when the item
 * was stored: such items go at the flush itself, whatever their unique,
 * and one stored after a flush stays, even with a unique below its mark
 * (found by fuzz_kv_proto: `ms o 3 E5` survived flush_all) */
static enum kv_status put_cas(struct kv_shard *s, const char *key, const char *val,
			      uint64_t cas_set, uint32_t now)
{
	enum kv_status st;
	size_t n = strlen(val);
	struct kv_item *it = kv_item_alloc(s, key, strlen(key), 0, 0, (uint32_t)n, now, &st);
	if (!it)
		return st;
	memcpy(kv_item_data(it), val, n);
	return kv_store(s, it, KV_SET, 0, cas_set, now, NULL);
}

Test(kv_store, flush_takes_items_with_a_client_unique)
{
	struct kv_shard *s = shard_default();
	char b[64];
	for (int i = 0; i < 50; i++)
		set(s, "x", "1", 1);            /* uniques 1..50 issued */
	cr_assert_eq(put_cas(s, "hi", "1", ~0ull, 1), KV_OK);
	cr_assert_eq(put_cas(s, "lo", "1", 3, 1), KV_OK);
	kv_flush(s, 2, 2);
	cr_assert_null(get(s, "hi", 2, b), "a unique above every one issued survived the flush");
	cr_assert_null(get(s, "lo", 2, b));
	cr_assert_null(get(s, "x", 2, b));
	cr_assert_eq(stats(s).curr_items, 0, "unlinked at the flush, not when next read");
	/* after the flush: a unique below its mark is kept */
	cr_assert_eq(put_cas(s, "lo", "2", 3, 2), KV_OK);
	cr_assert_str_eq(get(s, "lo", 3, b), "2");
	/* delayed, and an item referenced across it: unlinked, still readable
	 * by its holder, freed at the put */
	struct kv_item *held = kv_get(s, "lo", 2, 3);
	cr_assert_not_null(held);
	kv_flush(s, 5, 3);
	cr_assert_str_eq(get(s, "lo", 4, b), "2");
	cr_assert_null(get(s, "lo", 5, b));
	cr_assert_eq(memcmp(kv_item_data(held), "2", 1), 0);
	kv_item_put(s, held);
	/* incr gives the item a unique of ours: flushed by the mark again */
	cr_assert_eq(put_cas(s, "n", "7", 1000000, 6), KV_OK);
	uint64_t v;
	cr_assert_eq(kv_arith(s, "n", 1, 1, 1, 0, 0, 0, 0, 6, &v, NULL), KV_OK);
	cr_assert_eq(v, 8);
	kv_flush(s, 7, 7);
	cr_assert_null(get(s, "n", 7, b));
	kv_sweep(s, 8, 1000);
	cr_assert_eq(stats(s).curr_items, 0);
	cr_assert_eq(used_chunks(s), 0);
}

Test(kv_store, sweep_reclaims_within_budget)
{
	struct kv_shard *s = shard_default();
	char k[16];
	for (int i = 0; i < 100; i++) {
		snprintf(k, sizeof k, "k%d", i);
		put(s, k, "v", 0, i < 60 ? 5 : 0, KV_SET, 0, 1, NULL);
	}
	cr_assert_eq(kv_sweep(s, 4, 1000), 0);
	unsigned total = 0;
	for (int r = 0; r < 20 && total < 60; r++) {
		unsigned n = kv_sweep(s, 5, 10);
		cr_assert_leq(n, 10);
		total += n;
	}
	cr_assert_eq(total, 60);
	struct kv_shard_stats st = stats(s);
	cr_assert_eq(st.curr_items, 40);
	cr_assert_eq(st.reclaimed, 60);
	cr_assert_eq(used_chunks(s), 40);
	/* flushed items too; a referenced one waits for its put */
	struct kv_item *held = kv_get(s, "k70", 3, 6);
	kv_flush(s, 6, 6);
	for (int r = 0; r < 10; r++)
		kv_sweep(s, 6, 10);
	cr_assert_eq(stats(s).curr_items, 1);
	kv_item_put(s, held);
	kv_sweep(s, 6, 100);
	cr_assert_eq(stats(s).curr_items, 0);
	cr_assert_eq(used_chunks(s), 0);
}

Test(kv_store, eviction_in_one_page)
{
	struct kv_shard_params p = { .evict = 1 };
	struct kv_shard *s = shard_new(1, &p);
	char k[16], b[256], v[101];
	memset(v, 'v', 100);
	v[100] = 0;
	int n = 20000;
	for (int i = 0; i < n; i++) {
		snprintf(k, sizeof k, "k%d", i);
		cr_assert_eq(set(s, k, v, 1), KV_OK, "set %d", i);
		if (i % 100 == 0)
			cr_assert_not_null(get(s, "k0", 1, b), "k0 read often: stays");
	}
	struct kv_shard_stats st = stats(s);
	cr_assert_gt(st.evictions, 0);
	cr_assert_eq(st.evictions + st.curr_items, (uint64_t)n);
	cr_assert_eq(st.evicted_unfetched, st.evictions);
	cr_assert_null(get(s, "k1", 1, b), "the oldest went");
	snprintf(k, sizeof k, "k%d", n - 1);
	cr_assert_str_eq(get(s, k, 1, b), v);
	cr_assert_eq(used_chunks(s), st.curr_items);
	struct kv_class_stats cs[KV_CLASSES_MAX];
	unsigned nc = kv_class_stats(s, cs, KV_CLASSES_MAX);
	uint64_t ev = 0;
	for (unsigned i = 0; i < nc; i++)
		ev += cs[i].evicted;
	cr_assert_eq(ev, st.evictions);
	/* a held tail item is not evicted under its reader */
	struct kv_item *held = kv_get(s, k, strlen(k), 1);
	for (int i = 0; i < n; i++) {
		snprintf(b, sizeof b, "z%d", i);
		cr_assert_eq(set(s, b, v, 2), KV_OK);
	}
	cr_assert_eq(memcmp(kv_item_data(held), v, 100), 0);
	kv_item_put(s, held);
	cr_assert_eq(used_chunks(s), stats(s).curr_items);
}

Test(kv_store, no_memory_without_eviction)
{
	struct kv_shard_params p = { .evict = 0 };
	struct kv_shard *s = shard_new(1, &p);
	char k[16], b[256], v[101];
	memset(v, 'v', 100);
	v[100] = 0;
	int i, stored = 1;
	enum kv_status r = KV_OK;
	cr_assert_eq(put(s, "old", v, 0, 3, KV_SET, 0, 1, NULL), KV_OK);
	for (i = 0; i < 20000 && r == KV_OK; i++) {
		snprintf(k, sizeof k, "k%d", i);
		r = set(s, k, v, 1);
		if (r == KV_OK)
			stored++;
	}
	cr_assert_eq(r, KV_NO_MEMORY);
	struct kv_shard_stats st = stats(s);
	cr_assert_eq(st.evictions, 0);
	cr_assert_eq(st.out_of_memory, 1);
	cr_assert_eq(st.curr_items, (uint64_t)stored);
	cr_assert_str_eq(get(s, "k0", 1, b), v, "nothing evicted");
	/* an expired tail is still reclaimed (memcached -M does too) */
	cr_assert_eq(set(s, "fresh", v, 3), KV_OK);
	cr_assert_null(get(s, "old", 3, b));
	cr_assert_eq(stats(s).reclaimed, 1);
	/* a delete frees a chunk for the next */
	cr_assert_eq(set(s, "more", v, 3), KV_NO_MEMORY);
	kv_delete(s, "k5", 2, 0, 0, 0, 3);
	cr_assert_eq(set(s, "more", v, 3), KV_OK);
	cr_assert_eq(used_chunks(s), stats(s).curr_items);
}

Test(kv_store, item_size_max)
{
	struct kv_shard_params p = { .evict = 1, .item_size_max = 4096 };
	struct kv_shard *s = shard_new(3, &p);
	enum kv_status st;
	size_t room = 4096 - kv_item_overhead() - 3;
	cr_assert_null(kv_item_alloc(s, "big", 3, 0, 0, (uint32_t)room + 1, 1, &st));
	cr_assert_eq(st, KV_TOO_LARGE);
	struct kv_item *it = kv_item_alloc(s, "big", 3, 0, 0, (uint32_t)room, 1, &st);
	cr_assert_not_null(it);
	memset(kv_item_data(it), 'b', room + 2);
	cr_assert_eq(kv_store(s, it, KV_SET, 0, 0, 1, NULL), KV_OK);
	it = kv_get(s, "big", 3, 1);
	cr_assert_eq(kv_item_len(it), room);
	cr_assert_eq(memcmp(kv_item_data(it) + room, "\r\n", 2), 0);
	kv_item_put(s, it);
	/* append past the limit: refused, the old value kept */
	cr_assert_eq(put(s, "big", "x", 0, 0, KV_APPEND, 0, 1, NULL), KV_TOO_LARGE);
	cr_assert_null(kv_item_alloc(s, "", 0, 0, 0, 1, 1, &st));
	cr_assert_eq(st, KV_TOO_LARGE);
	char key[KV_KEY_MAX + 1];
	memset(key, 'k', sizeof key);
	cr_assert_null(kv_item_alloc(s, key, KV_KEY_MAX + 1, 0, 0, 1, 1, &st));
	cr_assert_not_null(it = kv_item_alloc(s, key, KV_KEY_MAX, 0, 0, 1, 1, &st));
	kv_item_put(s, it);     /* a data block that lied: dropped */
	struct kv_shard_stats ss = stats(s);
	cr_assert_eq(ss.too_large, 4);
	cr_assert_eq(ss.curr_items, 1);
	cr_assert_eq(used_chunks(s), 1);
	/* the default: 1 MiB, which a four-page arena holds */
	struct kv_shard_params d = { .evict = 1 };
	struct kv_shard *s2 = malloc(kv_shard_size());
	void *a2 = aligned_alloc(4096, 4 * KV_PAGE_SIZE);
	cr_assert_eq(kv_shard_init(s2, a2, 4 * KV_PAGE_SIZE, &d), 0);
	it = kv_item_alloc(s2, "m", 1, 0, 0, KV_PAGE_SIZE - (uint32_t)kv_item_overhead() - 1, 1,
			   &st);
	cr_assert_not_null(it);
	cr_assert_eq(kv_store(s2, it, KV_SET, 0, 0, 1, NULL), KV_OK);
	cr_assert_null(kv_item_alloc(s2, "m", 1, 0, 0, KV_PAGE_SIZE, 1, &st));
	cr_assert_eq(st, KV_TOO_LARGE);
	free(s2);
	free(a2);
}

Test(kv_store, references_outlive_delete_and_replace)
{
	struct kv_shard *s = shard_default();
	char b[64];
	set(s, "r", "first", 1);
	struct kv_item *h1 = kv_get(s, "r", 1, 1);
	struct kv_item *h2 = kv_get(s, "r", 1, 1);
	cr_assert_eq(set(s, "r", "second", 1), KV_OK);
	cr_assert_str_eq(get(s, "r", 1, b), "second");
	cr_assert_eq(memcmp(kv_item_data(h1), "first", 5), 0, "the replaced value streams on");
	cr_assert_eq(used_chunks(s), 2);
	kv_item_put(s, h1);
	cr_assert_eq(used_chunks(s), 2, "one reference left");
	kv_item_put(s, h2);
	cr_assert_eq(used_chunks(s), 1, "freed at the last put");
	h1 = kv_get(s, "r", 1, 1);
	cr_assert_eq(kv_delete(s, "r", 1, 0, 0, 0, 1), KV_OK);
	cr_assert_null(get(s, "r", 1, b));
	cr_assert_eq(memcmp(kv_item_data(h1), "second", 6), 0);
	cr_assert_eq(used_chunks(s), 1);
	kv_item_put(s, h1);
	cr_assert_eq(used_chunks(s), 0);
	kv_item_put(s, NULL);
	/* a failed store still drops the caller's reference */
	set(s, "a", "1", 1);
	cr_assert_eq(put(s, "a", "2", 0, 0, KV_ADD, 0, 1, NULL), KV_NOT_STORED);
	cr_assert_eq(used_chunks(s), 1);
}

Test(kv_store, class_stats_and_overhead)
{
	struct kv_shard *s = shard_default();
	char k[16], v[2000];
	memset(v, 'x', sizeof v - 1);
	v[sizeof v - 1] = 0;
	set(s, "small", "1", 1);
	set(s, "large", v, 1);
	for (int i = 0; i < 10; i++) {
		snprintf(k, sizeof k, "k%d", i);
		set(s, k, "1", 1);
	}
	struct kv_class_stats cs[KV_CLASSES_MAX];
	unsigned n = kv_class_stats(s, cs, KV_CLASSES_MAX);
	cr_assert_eq(n, 2);
	cr_assert_eq(cs[0].id, 1);
	cr_assert_eq(cs[0].chunk_size, kv_item_overhead() - 2 + 48);
	cr_assert_eq(cs[0].number, 11);
	cr_assert_eq(cs[0].cmd_set, 11);
	cr_assert_eq(cs[0].total_pages, 1);
	cr_assert_eq(cs[0].chunks_per_page, KV_PAGE_SIZE / cs[0].chunk_size);
	cr_assert_gt(cs[1].id, 1);
	cr_assert_geq(cs[1].chunk_size, kv_item_overhead() + 5 + 1999);
	cr_assert_lt(cs[1].chunk_size, (kv_item_overhead() + 5 + 1999) * 5 / 4 + 8);
	cr_assert_eq(cs[1].number, 1);
	cr_assert_eq(cs[1].mem_requested, kv_item_overhead() + 5 + 1999);
	get(s, "k0", 50, k);
	kv_class_stats(s, cs, KV_CLASSES_MAX);
	cr_assert_eq(cs[0].age, 49, "the tail was last touched at 1");
	struct kv_shard_stats st = stats(s);
	cr_assert_eq(st.pages_total, 4, "three pages and the short tail");
	cr_assert_eq(st.pages_free, 2);
	cr_assert_leq(kv_item_overhead(), 60, "no more than memcached's ~56 + \\r\\n");
}

Test(kv_store, shard_of_spreads_and_is_keyed)
{
	unsigned cnt[4] = { 0 };
	char k[32];
	for (int i = 0; i < 4000; i++) {
		snprintf(k, sizeof k, "key:%d", i);
		uint32_t sh = kv_shard_of(k, strlen(k), 4);
		cr_assert_lt(sh, 4);
		cnt[sh]++;
	}
	for (int i = 0; i < 4; i++)
		cr_assert(cnt[i] > 800 && cnt[i] < 1200, "shard %d has %u of 4000", i, cnt[i]);
	cr_assert_eq(kv_shard_of("x", 1, 1), 0);
	uint64_t h1 = kv_key_hash("abc", 3);
	uint8_t key2[16] = { 9 };
	kv_hash_key_set(key2);
	cr_assert_neq(kv_key_hash("abc", 3), h1, "the key changes the hash");
}

Test(kv_store, peek_leaves_the_item_as_it_was)
{
	struct kv_shard *s = shard_default();
	enum kv_miss why;
	cr_assert_eq(put(s, "p", "v", 0, 0, KV_SET, 0, 5, NULL), KV_OK);
	cr_assert_eq(put(s, "q", "v", 0, 0, KV_SET, 0, 6, NULL), KV_OK);
	struct kv_item *it = kv_peek(s, "p", 1, 20, &why);
	cr_assert_not_null(it);
	cr_assert_eq(why, KV_MISS_NONE);
	cr_assert_not(kv_item_fetched(it));
	cr_assert_eq(kv_item_atime(it), 5);
	kv_item_put(s, it);
	struct kv_shard_stats st = stats(s);
	cr_assert_eq(st.get_hits + st.get_misses, 0, "a peek counts nothing");
	struct kv_class_stats cs[KV_CLASSES_MAX];
	kv_class_stats(s, cs, KV_CLASSES_MAX);
	cr_assert_eq(cs[0].age, 15, "p (stored at 5) is still the LRU tail");
	/* the fetch, then: fetched, accessed now, at the head */
	it = kv_peek(s, "p", 1, 20, NULL);
	kv_read_count(s, it, 0, KV_MISS_NONE);
	kv_item_bump(s, it, 20);
	cr_assert(kv_item_fetched(it));
	cr_assert_eq(kv_item_atime(it), 20);
	kv_item_put(s, it);
	kv_class_stats(s, cs, KV_CLASSES_MAX);
	cr_assert_eq(cs[0].age, 14, "q (stored at 6) is the tail now");
	cr_assert_eq(stats(s).get_hits, 1);
	/* misses say why */
	cr_assert_null(kv_peek(s, "nope", 4, 20, &why));
	cr_assert_eq(why, KV_MISS_ABSENT);
	cr_assert_eq(put(s, "e", "v", 0, 21, KV_SET, 0, 20, NULL), KV_OK);
	cr_assert_null(kv_peek(s, "e", 1, 21, &why));
	cr_assert_eq(why, KV_MISS_EXPIRED);
	kv_read_count(s, NULL, 1, why);
	st = stats(s);
	cr_assert_eq(st.get_expired, 1);
	cr_assert_eq(st.touch_misses, 1);
	cr_assert_eq(st.cmd_touch, 1);
	kv_flush(s, 21, 21);
	cr_assert_null(kv_peek(s, "q", 1, 21, &why));
	cr_assert_eq(why, KV_MISS_FLUSHED);
}

Test(kv_store, stale_cas_and_item_state)
{
	struct kv_shard *s = shard_default();
	uint64_t c1, c2, c3;
	cr_assert_eq(put(s, "k", "a", 3, 50, KV_SET, 0, 1, &c1), KV_OK);
	struct kv_item *it = kv_get(s, "k", 1, 1);
	cr_assert_eq(kv_item_class(it), 1);
	cr_assert_eq(kv_item_size(it), kv_item_overhead() + 2);
	cr_assert_not(kv_item_won(it));
	kv_item_set_won(it);
	kv_item_put(s, it);
	cr_assert_eq(put(s, "k", "b", 0, 0, KV_SET, 0, 1, &c2), KV_OK);
	/* a newer item: no win token, not stale */
	it = kv_get(s, "k", 1, 1);
	cr_assert_not(kv_item_won(it));
	cr_assert_not(kv_item_stale(it));
	kv_item_set_won(it);
	kv_item_put(s, it);
	/* KV_CAS_STALE: the same unique stores plainly */
	cr_assert_eq(put(s, "k", "c", 0, 40, KV_CAS_STALE, c2, 1, &c3), KV_OK);
	it = kv_get(s, "k", 1, 1);
	cr_assert_not(kv_item_stale(it));
	cr_assert_eq(kv_item_exptime(it), 40);
	kv_item_set_won(it);
	kv_item_put(s, it);
	/* a newer one is refused, as KV_CAS does; an older one stores, stale,
	 * with the old TTL and win token */
	cr_assert_eq(put(s, "k", "d", 0, 0, KV_CAS_STALE, c3 + 1, 1, NULL), KV_EXISTS);
	cr_assert_eq(put(s, "k", "d", 0, 0, KV_CAS, c1, 1, NULL), KV_EXISTS);
	cr_assert_eq(put(s, "k", "e", 0, 99, KV_CAS_STALE, c1, 1, NULL), KV_OK);
	it = kv_get(s, "k", 1, 1);
	cr_assert_eq(kv_item_data(it)[0], 'e');
	cr_assert(kv_item_stale(it));
	cr_assert(kv_item_won(it));
	cr_assert_eq(kv_item_exptime(it), 40);
	kv_item_put(s, it);
	cr_assert_eq(put(s, "nope", "e", 0, 0, KV_CAS_STALE, 1, 1, NULL), KV_NOT_FOUND);
	/* a binary key survives append */
	enum kv_status st;
	it = kv_item_alloc(s, "b", 1, 0, 0, 1, 1, &st);
	kv_item_data(it)[0] = 'x';
	kv_item_set_key_binary(it);
	cr_assert_eq(kv_store(s, it, KV_SET, 0, 0, 1, NULL), KV_OK);
	cr_assert_eq(put(s, "b", "y", 0, 0, KV_APPEND, 0, 1, NULL), KV_OK);
	it = kv_get(s, "b", 1, 1);
	cr_assert_eq(kv_item_len(it), 2);
	cr_assert(kv_item_key_binary(it));
	kv_item_put(s, it);
	cr_assert_eq(stats(s).cas_hits, 2);
}
