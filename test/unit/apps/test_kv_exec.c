/*
 * test_kv_exec.c — the kv appliance's protocols end to end on the host:
 * requests through the parser (src/apps/kv_proto.c), ops through
 * kv_exec (src/apps/kv_exec.c) against a real shard (src/apps/kv_store.c),
 * answers compared byte for byte with what memcached 1.6 sends.
 *
 * Values reach the store both ways the appliance may take: received
 * straight into an item allocated on the shard (kv_op_item_alloc), and
 * staged in a buffer that kv_exec copies. kv_stats_collect and
 * kv_stats_conns, the appliance's (kv.c), are test doubles here.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "apps/kv_proto.h"
#include "kv_feed.h"

#define STARTED 1700000000ll

static struct kv_shard *S;
static void *A;
static struct kv_parser P;
static uint32_t NOW;
static struct feed F;
static int STAGED;                      /* values through a staging buffer */
static struct kv_item *INFLIGHT;
static enum kv_status INFLIGHT_ERR;

/* the answer so far */
static uint8_t OUT[1 << 22];
static size_t OUTN;
static size_t OUT_LIMIT = sizeof(OUT);

void klog(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* --- the appliance's side, doubled ----------------------------------- */

static struct kv_stats_all STATS;

void kv_stats_collect(struct kv_stats_all *out)
{
	*out = STATS;
	kv_shard_stats(S, &out->sum);
	out->nclasses = kv_class_stats(S, out->cls, KV_CLASSES_MAX);
}

void kv_stats_conns(int (*each)(void *arg, const struct kv_conn_info *ci), void *arg)
{
	struct kv_conn_info ci = { .id = 17, .addr = "tcp:198.18.0.1:40000",
				   .listen_addr = "tcp:0.0.0.0:11211", .state = "conn_parse_cmd",
				   .secs_since_last_cmd = 3 };
	each(arg, &ci);
}

static int out_put(struct kv_out *o, const void *p, size_t n)
{
	if (OUTN + n > OUT_LIMIT)
		return -ENOBUFS;
	memcpy(OUT + OUTN, p, n);
	OUTN += n;
	return 0;
}

static struct kv_out OUTW = { .put = out_put };

/* a writer that says beforehand whether an answer fits (as kv.c's) */
static int out_room(struct kv_out *o, size_t n)
{
	return OUTN + n > OUT_LIMIT ? -ENOBUFS : 0;
}

static struct kv_out OUTR = { .put = out_put, .room = out_room };

static uint8_t *on_value(struct feed *f, struct kv_op *op)
{
	if (STAGED)
		return NULL;            /* on_op stages from the parser's copy */
	INFLIGHT = kv_op_item_alloc(S, op, NOW, &INFLIGHT_ERR);
	return INFLIGHT ? kv_item_data(INFLIGHT) : NULL;
}

static uint8_t *STAGE;

static uint8_t *on_value_staged(struct feed *f, struct kv_op *op)
{
	free(STAGE);
	STAGE = op->vlen < (8u << 20) ? malloc(op->vlen + 2) : NULL;
	return STAGE;
}

static void on_op(struct feed *f, struct kv_op *op, const uint8_t *value)
{
	switch (op->cmd) {
	case KV_CMD_SET: case KV_CMD_ADD: case KV_CMD_REPLACE: case KV_CMD_APPEND:
	case KV_CMD_PREPEND: case KV_CMD_CAS: case KV_CMD_MS:
		if (STAGED) {
			op->value = STAGE;
			if (!STAGE)
				op->store_err = KV_TOO_LARGE;
		} else {
			op->item = INFLIGHT;
			if (!INFLIGHT)
				op->store_err = (uint8_t)INFLIGHT_ERR;
			INFLIGHT = NULL;
		}
		break;
	default:
		break;
	}
	cr_assert_eq(kv_exec(kv_op_route(op) == KV_ROUTE_LOCAL ? NULL : S, op, NOW, &OUTW), 0);
}

static void setup(void)
{
	uint8_t k[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };
	struct kv_shard_params prm = { .evict = 1 };

	kv_hash_key_set(k);
	S = malloc(kv_shard_size());
	A = aligned_alloc(4096, 4 * KV_PAGE_SIZE);
	cr_assert(S && A);
	cr_assert_eq(kv_shard_init(S, A, 4 * KV_PAGE_SIZE, &prm), 0);
	kv_proto_setup(STARTED);
	kv_parser_init(&P);
	NOW = 100;
	STAGED = 0;
	OUTN = 0;
	OUT_LIMIT = sizeof(OUT);
	memset(&STATS, 0, sizeof(STATS));
}

static void teardown(void)
{
	free(STAGE);
	STAGE = NULL;
	free(S);
	free(A);
}

TestSuite(kv_exec, .init = setup, .fini = teardown);

/* the answer to `req` on the test's connection */
static const char *ask_n(const void *req, size_t n)
{
	static char copy[1 << 22];

	feed_init(&F);
	F.on_op = on_op;
	F.on_value = STAGED ? on_value_staged : on_value;
	OUTN = 0;
	feed_run(&F, &P, req, n, NULL, 0);
	memcpy(copy, OUT, OUTN);
	copy[OUTN] = 0;
	return copy;
}

static const char *ask(const char *req)
{
	return ask_n(req, strlen(req));
}

#define EXPECT(req, want) do { \
	const char *got_ = ask(req); \
	cr_assert_str_eq(got_, (want), "request <%s>", (req)); \
} while (0)

static uint64_t cas_of(const char *key)
{
	struct kv_item *it = kv_get(S, key, strlen(key), NOW);
	uint64_t c;
	cr_assert(it, "%s", key);
	c = kv_item_cas(it);
	kv_item_put(S, it);
	return c;
}

Test(kv_exec, storage_commands)
{
	char req[128], want[128];

	EXPECT("set foo 5 0 3\r\nbar\r\n", "STORED\r\n");
	EXPECT("get foo\r\n", "VALUE foo 5 3\r\nbar\r\nEND\r\n");
	snprintf(want, sizeof(want), "VALUE foo 5 3 %llu\r\nbar\r\nEND\r\n",
		 (unsigned long long)cas_of("foo"));
	EXPECT("gets foo\r\n", want);
	EXPECT("add foo 0 0 1\r\nx\r\n", "NOT_STORED\r\n");
	EXPECT("add new 0 0 1\r\nx\r\n", "STORED\r\n");
	EXPECT("replace nope 0 0 1\r\nx\r\n", "NOT_STORED\r\n");
	EXPECT("replace new 9 0 1\r\ny\r\n", "STORED\r\n");
	EXPECT("get new\r\n", "VALUE new 9 1\r\ny\r\nEND\r\n");
	EXPECT("append foo 0 0 2\r\n++\r\n", "STORED\r\n");
	EXPECT("prepend foo 0 0 2\r\n--\r\n", "STORED\r\n");
	EXPECT("get foo\r\n", "VALUE foo 5 7\r\n--bar++\r\nEND\r\n");
	EXPECT("append nope 0 0 1\r\nx\r\n", "NOT_STORED\r\n");
	EXPECT("cas nope 0 0 1 1\r\nx\r\n", "NOT_FOUND\r\n");
	snprintf(req, sizeof(req), "cas foo 1 0 1 %llu\r\nz\r\n",
		 (unsigned long long)cas_of("foo") + 1000);
	EXPECT(req, "EXISTS\r\n");
	snprintf(req, sizeof(req), "cas foo 1 0 1 %llu\r\nz\r\n", (unsigned long long)cas_of("foo"));
	EXPECT(req, "STORED\r\n");
	EXPECT("get foo\r\n", "VALUE foo 1 1\r\nz\r\nEND\r\n");
	EXPECT("set empty 0 0 0\r\n\r\n", "STORED\r\n");
	EXPECT("get empty\r\n", "VALUE empty 0 0\r\n\r\nEND\r\n");
	EXPECT("set big 4294967295 0 1\r\nx\r\n", "STORED\r\n");
	EXPECT("get big\r\n", "VALUE big 4294967295 1\r\nx\r\nEND\r\n");
}

Test(kv_exec, staged_values)
{
	STAGED = 1;
	EXPECT("set foo 5 0 3\r\nbar\r\nget foo\r\n", "STORED\r\nVALUE foo 5 3\r\nbar\r\nEND\r\n");
	EXPECT("append foo 0 0 1\r\n!\r\nget foo\r\n", "STORED\r\nVALUE foo 5 4\r\nbar!\r\nEND\r\n");
	EXPECT("ms m 2 F3\r\nhi\r\nmg m v f\r\n", "HD\r\nVA 2 f3\r\nhi\r\n");
}

Test(kv_exec, retrieval)
{
	EXPECT("set a 1 0 1\r\nA\r\nset c 3 0 1\r\nC\r\n", "STORED\r\nSTORED\r\n");
	EXPECT("get a b c\r\n", "VALUE a 1 1\r\nA\r\nVALUE c 3 1\r\nC\r\nEND\r\n");
	EXPECT("get nope\r\n", "END\r\n");
	EXPECT("get nope1 nope2\r\n", "END\r\n");
	EXPECT("gat 0 a\r\n", "VALUE a 1 1\r\nA\r\nEND\r\n");
	EXPECT("gat 10\r\n", "END\r\n");
	EXPECT("bget a\r\n", "VALUE a 1 1\r\nA\r\nEND\r\n");
	/* gat sets the TTL */
	EXPECT("gat 5 a\r\n", "VALUE a 1 1\r\nA\r\nEND\r\n");
	NOW += 6;
	EXPECT("get a\r\n", "END\r\n");
}

Test(kv_exec, arithmetic)
{
	EXPECT("set n 0 0 2\r\n10\r\n", "STORED\r\n");
	EXPECT("incr n 5\r\n", "15\r\n");
	EXPECT("decr n 100\r\n", "0\r\n");
	EXPECT("incr n 18446744073709551615\r\n", "18446744073709551615\r\n");
	EXPECT("incr n 2\r\n", "1\r\n");                       /* wraps */
	/* memcached rewrites in place: a shorter number is padded with
	 * spaces to the old length */
	EXPECT("get n\r\n", "VALUE n 0 20\r\n1                   \r\nEND\r\n");
	EXPECT("incr nope 1\r\n", "NOT_FOUND\r\n");
	EXPECT("decr nope 1\r\n", "NOT_FOUND\r\n");
	EXPECT("set s 0 0 3\r\nabc\r\n", "STORED\r\n");
	EXPECT("incr s 1\r\n", "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n");
	EXPECT("incr n 1 noreply\r\nget n\r\n", "VALUE n 0 20\r\n2                   \r\nEND\r\n");
}

Test(kv_exec, delete_touch_flush)
{
	EXPECT("set a 0 0 1\r\nx\r\n", "STORED\r\n");
	EXPECT("touch a 10\r\n", "TOUCHED\r\n");
	EXPECT("touch nope 10\r\n", "NOT_FOUND\r\n");
	EXPECT("delete a\r\n", "DELETED\r\n");
	EXPECT("delete a\r\n", "NOT_FOUND\r\n");
	EXPECT("delete a 0\r\n", "NOT_FOUND\r\n");
	EXPECT("set a 0 0 1\r\nx\r\nflush_all\r\nget a\r\n", "STORED\r\nOK\r\nEND\r\n");
	EXPECT("set a 0 0 1\r\nx\r\nflush_all 10\r\nget a\r\n",
	       "STORED\r\nOK\r\nVALUE a 0 1\r\nx\r\nEND\r\n");
	NOW += 11;
	EXPECT("get a\r\n", "END\r\n");
	EXPECT("flush_all noreply\r\nflush_all 0 noreply\r\nversion\r\n", "VERSION " KV_VERSION "\r\n");
}

Test(kv_exec, expiry)
{
	char req[128];

	EXPECT("set a 0 10 1\r\nx\r\n", "STORED\r\n");
	NOW += 9;
	EXPECT("get a\r\n", "VALUE a 0 1\r\nx\r\nEND\r\n");
	NOW += 1;
	EXPECT("get a\r\n", "END\r\n");
	EXPECT("set a 0 -1 1\r\nx\r\nget a\r\n", "STORED\r\nEND\r\n");
	/* absolute Unix times beyond 30 days: in the future, in the past */
	snprintf(req, sizeof(req), "set a 0 %lld 1\r\nx\r\nget a\r\n", STARTED + NOW + 50);
	EXPECT(req, "STORED\r\nVALUE a 0 1\r\nx\r\nEND\r\n");
	NOW += 50;
	EXPECT("get a\r\n", "END\r\n");
	snprintf(req, sizeof(req), "set a 0 %lld 1\r\nx\r\nget a\r\n", STARTED - 5);
	EXPECT(req, "STORED\r\nEND\r\n");
	/* 30 days exactly is relative */
	EXPECT("set a 0 2592000 1\r\nx\r\nget a\r\n", "STORED\r\nVALUE a 0 1\r\nx\r\nEND\r\n");
}

Test(kv_exec, noreply_and_errors)
{
	EXPECT("set a 0 0 1 noreply\r\nx\r\nget a\r\n", "VALUE a 0 1\r\nx\r\nEND\r\n");
	EXPECT("add a 0 0 1 noreply\r\ny\r\ndelete a noreply\r\nget a\r\n", "END\r\n");
	EXPECT("set a x 0 1 noreply\r\n", "");
	EXPECT("set a x 0 1\r\n", "CLIENT_ERROR bad command line format\r\n");
	EXPECT("bogus\r\n", "ERROR\r\n");
	/* a data block that lies: the error, then the rest as a command */
	EXPECT("set a 0 0 1\r\nxyz\r\n", "CLIENT_ERROR bad data chunk\r\nERROR\r\n");
	EXPECT("set a 0 0 1 noreply\r\nxyz\r\n", "ERROR\r\n");
	EXPECT("get a\r\n", "END\r\n");
	EXPECT("verbosity 1\r\nverbosity 1 noreply\r\nmn\r\n", "OK\r\nMN\r\n");
	EXPECT("shutdown\r\n", "ERROR: shutdown not enabled\r\n");
}

Test(kv_exec, too_large)
{
	static char req[1200000];
	size_t n;

	EXPECT("set big 0 0 1\r\nx\r\n", "STORED\r\n");
	n = (size_t)snprintf(req, sizeof(req), "set big 0 0 1100000\r\n");
	memset(req + n, 'v', 1100000);
	n += 1100000;
	n += (size_t)snprintf(req + n, sizeof(req) - n, "\r\nget big\r\n");
	/* the value is swallowed, and set forgets the old one */
	cr_assert_str_eq(ask_n(req, n), "SERVER_ERROR object too large for cache\r\nEND\r\n");
	STAGED = 1;
	cr_assert_str_eq(ask_n(req, n), "SERVER_ERROR object too large for cache\r\nEND\r\n");
}

Test(kv_exec, quit_says_nothing)
{
	EXPECT("quit\r\nversion\r\n", "");
}

Test(kv_exec, answer_cut_short)
{
	EXPECT("set a 0 0 5\r\nhello\r\n", "STORED\r\n");
	OUT_LIMIT = 10;
	feed_init(&F);
	{
		struct kv_op op;
		enum kv_parse_ev ev;
		const char *r = "get a\r\n";
		kv_parse(&P, (const uint8_t *)r, strlen(r), &op, &ev);
		cr_assert_eq(ev, KV_PARSE_OP);
		OUTN = 0;
		cr_assert_eq(kv_exec(S, &op, NOW, &OUTW), -ENOBUFS);
	}
}

/* one request, one op, through OUTR with OUT_LIMIT bytes of room: its
 * kv_exec's answer */
static int exec_room(const void *req, size_t n, size_t limit)
{
	struct kv_op op;
	enum kv_parse_ev ev;
	size_t used = kv_parse(&P, req, n, &op, &ev);
	cr_assert_eq(ev, KV_PARSE_OP);
	cr_assert_eq(used, n);
	OUTN = 0;
	OUT_LIMIT = limit;
	int rc = kv_exec(S, &op, NOW, &OUTR);
	OUT_LIMIT = sizeof(OUT);
	return rc;
}

/* kv.c runs a read again where its answer did not fit: the read that did
 * not fit must have counted and changed nothing (hits, the fetched bit,
 * a gat's TTL, an mg R win token) */
Test(kv_exec, a_read_without_room_changes_and_counts_nothing)
{
	static char val[3000], req[3100];
	struct kv_shard_stats a, b;
	uint8_t bin[64];

	memset(val, 'v', sizeof val);
	snprintf(req, sizeof req, "set big 0 0 %zu\r\n%.*s\r\n", sizeof val, (int)sizeof val, val);
	EXPECT(req, "STORED\r\n");
	EXPECT("ms tok 3 T100\r\nabc\r\n", "HD\r\n");
	kv_shard_stats(S, &a);
	cr_assert_eq(exec_room("get big\r\n", 9, 100), -ENOBUFS);
	cr_assert_eq(exec_room("gat 500 big\r\n", 13, 100), -ENOBUFS);
	cr_assert_eq(exec_room("mg big v h\r\n", 12, 2000), -ENOBUFS);
	cr_assert_eq(exec_room("mg tok R101 v\r\n", 15, 100), -ENOBUFS);
	cr_assert_eq(exec_room("get nope\r\n", 10, 3), -ENOBUFS);      /* even END does not fit */
	size_t bl = bin_req(bin, 0x00, NULL, 0, "big", NULL, 0, 1, 0);
	kv_parser_init(&P);                                     /* a binary connection */
	cr_assert_eq(exec_room(bin, bl, 40), -ENOBUFS);
	kv_parser_init(&P);                                     /* back to text */
	kv_shard_stats(S, &b);
	cr_assert_eq(b.get_hits, a.get_hits, "hits %llu -> %llu", (unsigned long long)a.get_hits,
		     (unsigned long long)b.get_hits);
	cr_assert_eq(b.get_misses, a.get_misses);
	cr_assert_eq(b.cmd_touch, a.cmd_touch);
	cr_assert_eq(b.touch_hits, a.touch_hits);
	/* nothing changed: not fetched, TTL as it was, the win still there */
	EXPECT("mg big h t s\r\n", "HD h0 t-1 s3000\r\n");
	EXPECT("mg tok R101 t\r\n", "HD t100 W\r\n");
	/* with room, each counts once */
	kv_shard_stats(S, &a);
	cr_assert_eq(exec_room("get big\r\n", 9, sizeof(OUT)), 0);
	cr_assert_eq(OUTN, strlen("VALUE big 0 3000\r\n") + 3002 + 5);
	cr_assert_eq(exec_room("get nope\r\n", 10, 5), 0);
	kv_shard_stats(S, &b);
	cr_assert_eq(b.get_hits, a.get_hits + 1);
	cr_assert_eq(b.get_misses, a.get_misses + 1);
}

/* --- meta -------------------------------------------------------------- */

Test(kv_exec, meta)
{
	char want[256];

	EXPECT("ms foo 3 T0 F5\r\nbar\r\n", "HD\r\n");
	EXPECT("mg foo v f s t\r\n", "VA 3 f5 s3 t-1\r\nbar\r\n");
	EXPECT("mg foo\r\n", "HD\r\n");
	EXPECT("mg foo q\r\n", "HD\r\n");
	snprintf(want, sizeof(want), "HD kfoo Oxyz c%llu\r\n", (unsigned long long)cas_of("foo"));
	EXPECT("mg foo k Oxyz c\r\n", want);
	EXPECT("mg nope v\r\n", "EN\r\n");
	EXPECT("mg nope v k O1\r\n", "EN knope O1\r\n");
	EXPECT("mg nope v q\r\nmn\r\n", "MN\r\n");
	EXPECT("mg foo T30 t v\r\n", "VA 3 t30\r\nbar\r\n");
	EXPECT("ms foo 3 ME\r\nbaz\r\n", "NS\r\n");
	EXPECT("ms new 3 ME T10\r\nbaz\r\n", "HD\r\n");
	EXPECT("ms foo 1 MA\r\n!\r\nmg foo v\r\n", "HD\r\nVA 4\r\nbar!\r\n");
	EXPECT("ms foo 1 MP\r\n<\r\nmg foo v\r\n", "HD\r\nVA 5\r\n<bar!\r\n");
	EXPECT("ms nope 1 MR\r\nx\r\n", "NS\r\n");
	EXPECT("ms foo 1 C1\r\nx\r\n", "EX\r\n");
	snprintf(want, sizeof(want), "ms foo 1 C%llu c k\r\nx\r\n", (unsigned long long)cas_of("foo"));
	{
		const char *got = ask(want);
		snprintf(want, sizeof(want), "HD c%llu kfoo\r\n", (unsigned long long)cas_of("foo"));
		cr_assert_str_eq(got, want);
	}
	EXPECT("ms foo 2 q\r\nhi\r\nmn\r\n", "MN\r\n");
	EXPECT("ms foo 2 q\r\nhixx\r\n", "CLIENT_ERROR bad data chunk\r\nERROR\r\n");
	EXPECT("ms foo 3 Z\r\nbar\r\nmn\r\n", "CLIENT_ERROR invalid flag\r\nMN\r\n");
	/* base64 keys */
	EXPECT("ms Zm9v 3 b k\r\nb64\r\n", "HD kZm9v b\r\n");
	EXPECT("get foo\r\n", "VALUE foo 0 3\r\nb64\r\nEND\r\n");
	EXPECT("mg Zm9v b k v\r\n", "VA 3 kZm9v b\r\nb64\r\n");
	/* md */
	EXPECT("md foo q\r\nmd foo\r\nmd foo q\r\n", "NF\r\nNF\r\n");
	EXPECT("ms foo 1\r\nx\r\nmd foo C1 O9\r\nmd foo k\r\n", "HD\r\nEX O9\r\nHD kfoo\r\n");
	/* ma */
	EXPECT("ma n\r\n", "NF\r\n");
	EXPECT("ma n N0 J5\r\n", "HD\r\n");
	EXPECT("ma n v\r\n", "VA 1\r\n6\r\n");
	EXPECT("ma n MD D10 v\r\n", "VA 1\r\n0\r\n");
	EXPECT("ma n M+ D12 v q\r\nmn\r\n", "MN\r\n");
	EXPECT("ma n v t\r\n", "VA 2 t-1\r\n13\r\n");
	EXPECT("ma n T100 t v\r\n", "VA 2 t100\r\n14\r\n");
	EXPECT("ms s 1\r\nx\r\nma s\r\n",
	       "HD\r\nCLIENT_ERROR cannot increment or decrement non-numeric value\r\n");
	EXPECT("ma n C1\r\n", "EX\r\n");
	/* mg N: a miss creates an empty item and wins */
	EXPECT("mg viv N30 v t\r\n", "VA 0 t30 W\r\n\r\n");
	EXPECT("mg viv s\r\n", "HD s0 Z\r\n");
	/* me: memcached 1.6.18's exp is now - expiry (-100 for 100 left);
	 * the key as the item was stored (n by ma: text) */
	EXPECT("me nope\r\n", "EN\r\n");
	cr_assert(strncmp(ask("me n\r\n"), "ME n exp=", 9) == 0);
	cr_assert(strncmp(ask("me bg== b\r\n"), "ME n exp=-100 la=", 17) == 0);
}

/* the recache protocol: N, R, T in flag order, W once, then Z; md I and
 * ms I make stale items (X) */
Test(kv_exec, meta_stampede)
{
	char req[256], want[256];

	EXPECT("mg k1 N30 t v\r\n", "VA 0 t30 W\r\n\r\n");
	EXPECT("mg k1 N30 t v\r\n", "VA 0 t30 Z\r\n\r\n");
	EXPECT("mg k2 t N30\r\n", "HD t-1 W\r\n");       /* t before N: no TTL yet */
	EXPECT("mg k2 t\r\n", "HD t30 Z\r\n");
	EXPECT("ms k1 3 T100\r\nabc\r\n", "HD\r\n");
	EXPECT("mg k1 R30 t\r\n", "HD t100\r\n");
	EXPECT("mg k1 R101 t\r\n", "HD t100 W\r\n");
	EXPECT("mg k1 R200 t\r\n", "HD t100 Z\r\n");
	EXPECT("mg k1 t T50 R60\r\n", "HD t100 Z\r\n");   /* t before T: the old TTL */
	EXPECT("mg k1 t\r\n", "HD t50 Z\r\n");
	EXPECT("ms k3 1 T0\r\nx\r\n", "HD\r\n");
	EXPECT("mg k3 R300 t\r\n", "HD t-1\r\n");         /* no TTL: never wins */
	EXPECT("mg k3 R-1 T10\r\nmg k3 R0\r\n", "HD\r\nHD\r\n");
	EXPECT("mg k3 T50 R60\r\n", "HD W\r\n");          /* T first: the new TTL counts */
	/* md I: stale, a new unique, the token back: the next mg wins */
	uint64_t c = cas_of("k1");
	EXPECT("md k1 I T30 O7 k\r\n", "HD O7 kk1\r\n");
	cr_assert_gt(cas_of("k1"), c);
	EXPECT("mg k1 t v\r\n", "VA 3 t30 X W\r\nabc\r\n");
	EXPECT("mg k1 t\r\n", "HD t30 Z X\r\n");
	EXPECT("md k1 I q\r\nmg k1 t\r\n", "HD t30 X W\r\n");   /* TTL kept without T */
	EXPECT("md nope I\r\n", "NF\r\n");
	/* ms I with an older unique: stored, stale, old TTL and token kept */
	c = cas_of("k1");
	snprintf(req, sizeof req, "ms k1 1 C%llu I T5\r\nz\r\nmg k1 v t\r\n",
		 (unsigned long long)(c - 1));
	EXPECT(req, "HD\r\nVA 1 t30 Z X\r\nz\r\n");
	c = cas_of("k1");
	snprintf(req, sizeof req, "ms k1 1 C%llu I\r\nz\r\n", (unsigned long long)(c + 1));
	EXPECT(req, "EX\r\n");
	snprintf(req, sizeof req, "ms k1 1 C%llu I MR c\r\ny\r\nmg k1 v t\r\n",
		 (unsigned long long)c);
	snprintf(want, sizeof want, "HD c%llu\r\nVA 1 t-1\r\ny\r\n", (unsigned long long)c + 1);
	EXPECT(req, want);                              /* the same unique: a plain store */
	EXPECT("ms k1 1 I\r\nw\r\nmg k1 v\r\n", "HD\r\nVA 1\r\nw\r\n");
	EXPECT("ms k1 1 I MA C1\r\nx\r\n", "EX\r\n");   /* append: I changes nothing */
}

/* mg h and l tell the state before this read; u leaves it as it was;
 * me reads without touching and names the item's real class and size */
Test(kv_exec, meta_hit_and_last_access)
{
	char want[256];
	const char *got;

	EXPECT("ms h 1 T100\r\nx\r\n", "HD\r\n");
	NOW += 7;
	EXPECT("mg h u h l\r\n", "HD h0 l7\r\n");
	got = ask("me h\r\n");
	cr_assert(strncmp(got, "ME h exp=-93 la=7 cas=", 22) == 0, "%s", got);
	snprintf(want, sizeof want, " fetch=no cls=1 size=%zu\r\n", kv_item_overhead() + 2);
	cr_assert(strstr(got, want), "%s", got);
	EXPECT("mg h h l\r\n", "HD h0 l7\r\n");
	NOW += 2;
	EXPECT("mg h h l t\r\n", "HD h1 l2 t91\r\n");
	got = ask("me h\r\n");
	cr_assert(strncmp(got, "ME h exp=-91 la=0 cas=", 22) == 0, "%s", got);
	cr_assert(strstr(got, " fetch=yes cls=1 "), "%s", got);
	/* a bigger item: a bigger class; a binary key answers base64 */
	EXPECT("ms YmlnZ2Vy 50 b\r\n01234567890123456789012345678901234567890123456789\r\n",
	       "HD\r\n");
	got = ask("me bigger\r\n");
	snprintf(want, sizeof want, " fetch=no cls=2 size=%zu\r\n", kv_item_overhead() + 56);
	cr_assert(strncmp(got, "ME YmlnZ2Vy exp=-1 la=0 cas=", 28) == 0, "%s", got);
	cr_assert(strstr(got, want), "%s", got);
	EXPECT("mg bigger k s\r\n", "HD kYmlnZ2Vy b s50\r\n");
	EXPECT("mg nope h l\r\n", "EN\r\n");
}

/* --- binary ------------------------------------------------------------ */

struct bin_res {
	uint8_t opcode, extlen;
	uint16_t keylen, status;
	uint32_t bodylen, opaque;
	uint64_t cas;
	const uint8_t *body;
};

static uint32_t rd32(const uint8_t *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

/* the answers in OUT[0..OUTN) as packets; their count */
static size_t bin_split(struct bin_res *r, size_t max)
{
	size_t off = 0, n = 0;

	while (off < OUTN && n < max) {
		const uint8_t *h = OUT + off;
		cr_assert_geq(OUTN - off, 24);
		cr_assert_eq(h[0], 0x81);
		r[n].opcode = h[1];
		r[n].keylen = (uint16_t)(h[2] << 8 | h[3]);
		r[n].extlen = h[4];
		r[n].status = (uint16_t)(h[6] << 8 | h[7]);
		r[n].bodylen = rd32(h + 8);
		r[n].opaque = rd32(h + 12);
		r[n].cas = (uint64_t)rd32(h + 16) << 32 | rd32(h + 20);
		r[n].body = h + 24;
		off += 24 + r[n].bodylen;
		cr_assert_leq(off, OUTN);
		n++;
	}
	return n;
}

Test(kv_exec, binary)
{
	static uint8_t in[4096];
	struct bin_res r[64];
	size_t n = 0, k;
	const uint8_t setx[8] = { 0, 0, 0, 7, 0, 0, 0, 0 };
	const uint8_t incx[20] = { 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 0 };
	const uint8_t nox[20] = { 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 9,
				  0xff, 0xff, 0xff, 0xff };
	const uint8_t gatx[4] = { 0, 0, 0, 60 };

	n += bin_req(in + n, 0x01, setx, 8, "foo", "bar", 3, 1, 0);         /* set */
	n += bin_req(in + n, 0x00, NULL, 0, "foo", NULL, 0, 2, 0);          /* get */
	n += bin_req(in + n, 0x0c, NULL, 0, "foo", NULL, 0, 3, 0);          /* getk */
	n += bin_req(in + n, 0x09, NULL, 0, "nope", NULL, 0, 4, 0);         /* getq miss */
	n += bin_req(in + n, 0x00, NULL, 0, "nope", NULL, 0, 5, 0);         /* get miss */
	n += bin_req(in + n, 0x0c, NULL, 0, "nope", NULL, 0, 6, 0);         /* getk miss */
	n += bin_req(in + n, 0x02, setx, 8, "foo", "x", 1, 7, 0);           /* add: exists */
	n += bin_req(in + n, 0x03, setx, 8, "nope", "x", 1, 8, 0);          /* replace: none */
	n += bin_req(in + n, 0x05, nox, 20, "n", NULL, 0, 9, 0);            /* incr miss */
	n += bin_req(in + n, 0x05, incx, 20, "n", NULL, 0, 10, 0);          /* incr: 9 */
	n += bin_req(in + n, 0x05, incx, 20, "n", NULL, 0, 11, 0);          /* incr: 12 */
	n += bin_req(in + n, 0x06, incx, 20, "foo", NULL, 0, 12, 0);        /* badval */
	n += bin_req(in + n, 0x0e, NULL, 0, "foo", "++", 2, 13, 0);         /* append */
	n += bin_req(in + n, 0x1c, gatx, 4, "foo", NULL, 0, 14, 0);         /* touch */
	n += bin_req(in + n, 0x1d, gatx, 4, "foo", NULL, 0, 15, 0);         /* gat */
	n += bin_req(in + n, 0x04, NULL, 0, "foo", NULL, 0, 16, 0);         /* delete */
	n += bin_req(in + n, 0x04, NULL, 0, "foo", NULL, 0, 17, 0);         /* delete: none */
	n += bin_req(in + n, 0x11, setx, 8, "q", "1", 1, 18, 0);            /* setq */
	n += bin_req(in + n, 0x0b, NULL, 0, NULL, NULL, 0, 19, 0);          /* version */
	n += bin_req(in + n, 0x18, NULL, 0, NULL, NULL, 0, 20, 0);          /* flushq */
	n += bin_req(in + n, 0x0d, NULL, 0, "q", NULL, 0, 21, 0);           /* getkq: flushed */
	n += bin_req(in + n, 0x0a, NULL, 0, NULL, NULL, 0, 22, 0);          /* noop */
	n += bin_req(in + n, 0x60, NULL, 0, NULL, NULL, 0, 23, 0);          /* unknown */
	n += bin_req(in + n, 0x07, NULL, 0, NULL, NULL, 0, 24, 0);          /* quit */
	ask_n(in, n);
	k = bin_split(r, 64);
	cr_assert_eq(k, 20, "%zu answers", k);

	cr_assert(r[0].opcode == 0x01 && r[0].status == 0 && r[0].opaque == 1 && r[0].cas);
	cr_assert(r[0].bodylen == 0);
	cr_assert(r[1].opcode == 0x00 && r[1].status == 0 && r[1].extlen == 4 &&
		  r[1].keylen == 0 && r[1].bodylen == 7 && r[1].cas == r[0].cas);
	cr_assert(memcmp(r[1].body, "\0\0\0\7bar", 7) == 0);
	cr_assert(r[2].keylen == 3 && r[2].bodylen == 10 && memcmp(r[2].body + 4, "foobar", 6) == 0);
	cr_assert(r[3].opaque == 5 && r[3].status == 1 && r[3].bodylen == 9 &&
		  memcmp(r[3].body, "Not found", 9) == 0);
	cr_assert(r[4].opaque == 6 && r[4].status == 1 && r[4].keylen == 4 && r[4].bodylen == 4 &&
		  memcmp(r[4].body, "nope", 4) == 0);
	cr_assert(r[5].status == 2 && memcmp(r[5].body, "Data exists for key.", 20) == 0);
	cr_assert(r[6].status == 1 && r[6].opaque == 8);
	cr_assert(r[7].status == 1 && r[7].opaque == 9);
	cr_assert(r[8].status == 0 && r[8].bodylen == 8 && r[8].body[7] == 9 && r[8].cas);
	cr_assert(r[9].status == 0 && r[9].body[7] == 12);
	cr_assert(r[10].status == 6 && r[10].opaque == 12);
	cr_assert(r[11].status == 0 && r[11].opaque == 13);
	cr_assert(r[12].opaque == 14 && r[12].status == 0 && r[12].extlen == 4 &&
		  r[12].bodylen == 4);                      /* touch: flags, no value */
	cr_assert(r[13].opaque == 15 && r[13].bodylen == 9 &&
		  memcmp(r[13].body + 4, "bar++", 5) == 0);
	cr_assert(r[14].opaque == 16 && r[14].status == 0);
	cr_assert(r[15].opaque == 17 && r[15].status == 1);
	cr_assert(r[16].opaque == 19 && r[16].bodylen == strlen(KV_VERSION) &&
		  memcmp(r[16].body, KV_VERSION, r[16].bodylen) == 0);
	cr_assert(r[17].opaque == 22 && r[17].opcode == 0x0a);
	cr_assert(r[18].opaque == 23 && r[18].status == 0x81 &&
		  memcmp(r[18].body, "Unknown command", 15) == 0);
	cr_assert(r[19].opaque == 24 && r[19].opcode == 0x07 && r[19].status == 0);
}

Test(kv_exec, binary_stats)
{
	static uint8_t in[256];
	struct bin_res r[256];
	size_t n = 0, k;

	EXPECT("set a 0 0 1\r\nx\r\n", "STORED\r\n");
	kv_parser_init(&P);
	n += bin_req(in + n, 0x10, NULL, 0, NULL, NULL, 0, 7, 0);
	n += bin_req(in + n, 0x10, NULL, 0, "settings", NULL, 0, 8, 0);
	n += bin_req(in + n, 0x10, NULL, 0, "bogus", NULL, 0, 9, 0);
	ask_n(in, n);
	k = bin_split(r, 256);
	cr_assert_gt(k, 20);
	cr_assert(r[0].keylen == 3 && memcmp(r[0].body, "pid", 3) == 0 && r[0].opcode == 0x10 &&
		  r[0].opaque == 7);
	size_t end1 = 0;
	while (end1 < k && r[end1].keylen)
		end1++;
	cr_assert_lt(end1, k);
	cr_assert(r[end1].bodylen == 0 && r[end1].opaque == 7);
	cr_assert(memcmp(r[end1 + 1].body, "maxbytes", 8) == 0 && r[end1 + 1].opaque == 8);
	cr_assert(r[k - 1].status == 1 && r[k - 1].opaque == 9);
}

/* --- stats --------------------------------------------------------------- */

Test(kv_exec, stats)
{
	const char *t;

	STATS.pid = 4242;
	STATS.uptime = 77;
	STATS.time = STARTED + 77;
	STATS.rusage_user_us = 1500000;
	STATS.threads = 2;
	STATS.settings.maxbytes = 64 << 20;
	STATS.settings.maxconns = 1024;
	STATS.settings.tcpport = 11211;
	STATS.settings.item_size_max = 1 << 20;
	STATS.settings.evictions = 1;
	STATS.settings.growth_factor = 1.25;
	EXPECT("set a 0 0 1\r\nx\r\nget a\r\nget b\r\n", "STORED\r\nVALUE a 0 1\r\nx\r\nEND\r\nEND\r\n");
	t = ask("stats\r\n");
	cr_assert(strncmp(t, "STAT pid 4242\r\nSTAT uptime 77\r\n", 30) == 0, "%s", t);
	cr_assert(strstr(t, "STAT version " KV_VERSION "\r\n"));
	cr_assert(strstr(t, "STAT rusage_user 1.500000\r\n"));
	cr_assert(strstr(t, "STAT rusage_system 0.000000\r\n"));
	cr_assert(strstr(t, "STAT curr_items 1\r\n"));
	cr_assert(strstr(t, "STAT get_hits 1\r\n"));
	cr_assert(strstr(t, "STAT get_misses 1\r\n"));
	cr_assert(strstr(t, "STAT cmd_get 2\r\n"));
	cr_assert(strstr(t, "STAT threads 2\r\n"));
	cr_assert(strstr(t, "STAT limit_maxbytes 67108864\r\n"));
	{
		static const char *const need[] = {
			"pid", "uptime", "time", "version", "curr_items", "total_items", "bytes",
			"curr_connections", "total_connections", "cmd_get", "cmd_set", "cmd_flush",
			"cmd_touch", "get_hits", "get_misses", "get_expired", "delete_hits",
			"delete_misses", "incr_hits", "incr_misses", "decr_hits", "decr_misses",
			"cas_hits", "cas_misses", "cas_badval", "touch_hits", "touch_misses",
			"evictions", "expired_unfetched", "evicted_unfetched", "limit_maxbytes",
			"threads", "bytes_read", "bytes_written", "rusage_user", "rusage_system",
		};
		for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++) {
			char s[64];
			snprintf(s, sizeof(s), "\r\nSTAT %s ", need[i]);
			cr_assert(strstr(t, s) || strncmp(t, s + 2, strlen(s) - 2) == 0, "%s", need[i]);
		}
	}
	cr_assert(strcmp(t + strlen(t) - 5, "END\r\n") == 0);
	t = ask("stats settings\r\n");
	cr_assert(strstr(t, "STAT maxbytes 67108864\r\nSTAT maxconns 1024\r\nSTAT tcpport 11211\r\n"));
	cr_assert(strstr(t, "STAT evictions on\r\n"));
	cr_assert(strstr(t, "STAT growth_factor 1.25\r\n"));
	cr_assert(strstr(t, "STAT item_size_max 1048576\r\n"));
	t = ask("stats items\r\n");
	cr_assert(strstr(t, ":number 1\r\n"), "%s", t);
	cr_assert(strncmp(t, "STAT items:", 11) == 0);
	t = ask("stats slabs\r\n");
	cr_assert(strstr(t, ":cmd_set 1\r\n"), "%s", t);
	cr_assert(strstr(t, ":cas_hits 0\r\n"));
	cr_assert(strstr(t, ":cas_badval 0\r\n"));
	cr_assert(strstr(t, "STAT active_slabs 1\r\n"));
	EXPECT("stats sizes\r\n", "STAT sizes_status disabled\r\nEND\r\n");
	EXPECT("stats conns\r\n", "STAT 17:addr tcp:198.18.0.1:40000\r\n"
	       "STAT 17:listen_addr tcp:0.0.0.0:11211\r\nSTAT 17:state conn_parse_cmd\r\n"
	       "STAT 17:secs_since_last_cmd 3\r\nEND\r\n");
	EXPECT("stats nope\r\n", "ERROR\r\n");
}
