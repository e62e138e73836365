/*
 * kv_exec.c — runs one struct kv_op (kv_proto.h) against a shard
 * (kv_store.h) and writes the bytes memcached 1.6 answers: the text
 * protocol's lines, the meta protocol's status codes with their return
 * flags in the order they were asked, the binary protocol's packets.
 *
 * Rules kept here, from memcached: text noreply hides every answer of
 * its command, errors included; meta q hides only the nominal answer (HD
 * of a store or delete, EN of a miss) and never an error; binary quiet
 * opcodes hide success only (and a get's miss), never an error. A store
 * that could not allocate forgets the key's old value for set (text and
 * binary) and for every ms, so a stale value is not served.
 *
 * mg answers h and l as they were before its own read (kv_peek, then
 * kv_item_bump after the answer), and applies T, N and R where they come
 * among its flags, as memcached does: "t T30" tells the old TTL.
 *
 * Owner core of the shard only; no heap, no lock. `stats` reads the
 * appliance's sums through kv_stats_collect (kv.c) on the connection's
 * core, and builds its answer on the stack.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include "apps/kv_proto.h"

static int64_t kv_started;      /* Unix time of the start: immutable after setup */

void kv_proto_setup(int64_t started)
{
	kv_started = started;
}

static uint32_t rel_time(int64_t exptime, uint32_t now)
{
	return kv_exptime_rel(exptime, now, kv_started);
}

/* --- the answer ---------------------------------------------------- */

struct w {
	struct kv_out *o;
	int err;
};

static void put(struct w *w, const void *p, size_t n)
{
	if (!w->o || w->err || n == 0)
		return;
	if (w->o->put(w->o, p, n))
		w->err = -ENOBUFS;
}

/* whether n more bytes fit (out->room); if not the op stops here, before
 * its read changes or counts anything, and answers -ENOBUFS */
static bool room(struct w *w, size_t n)
{
	if (!w->o || w->err || !w->o->room)
		return !w->err;
	if (w->o->room(w->o, n)) {
		w->err = -ENOBUFS;
		return false;
	}
	return true;
}

static void put_line(struct w *w, const char *s)
{
	put(w, s, strlen(s));
	put(w, "\r\n", 2);
}

/* a line being built (the longest: a meta answer with a base64 key,
 * an opaque and every number) */
struct line {
	char b[1024];
	size_t n;
};

static void l_mem(struct line *l, const void *p, size_t n)
{
	if (l->n + n > sizeof(l->b))
		n = sizeof(l->b) - l->n;
	memcpy(l->b + l->n, p, n);
	l->n += n;
}

static void l_str(struct line *l, const char *s)
{
	l_mem(l, s, strlen(s));
}

static void l_u64(struct line *l, uint64_t v)
{
	char d[20];
	int i = 20;

	do {
		d[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	l_mem(l, d + i, 20 - i);
}

static void l_i64(struct line *l, int64_t v)
{
	if (v < 0) {
		l_str(l, "-");
		l_u64(l, 0 - (uint64_t)v);
	} else {
		l_u64(l, (uint64_t)v);
	}
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void l_b64(struct line *l, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;
		char q[4];
		if (i + 1 < n)
			v |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < n)
			v |= p[i + 2];
		q[0] = b64[v >> 18 & 63];
		q[1] = b64[v >> 12 & 63];
		q[2] = i + 1 < n ? b64[v >> 6 & 63] : '=';
		q[3] = i + 2 < n ? b64[v & 63] : '=';
		l_mem(l, q, 4);
	}
}

/* the key as text, or base64 for a binary one */
static void l_keytext(struct line *l, const struct kv_op *op, bool b64)
{
	if (b64)
		l_b64(l, op->key, op->klen);
	else
		l_mem(l, op->key, op->klen);
}

/* What a meta answer's return flags carry. Every meta command answers
 * its flags through l_ret/l_rets, in the order they were sent, each
 * command naming the letters it answers (`which`). */
struct mret {
	uint64_t c;             /* c: CAS unique */
	uint64_t f;             /* f: client flags */
	uint64_t h;             /* h: fetched before this read, 0/1 */
	uint64_t l;             /* l: seconds since the last access, before this read */
	uint64_t s;             /* s: value bytes */
	int64_t t;              /* t: TTL left, -1 for none */
	bool b64;               /* k: the key base64-encoded, " b" after it */
};

static void l_ret(struct line *l, const struct kv_op *op, char f, const char *which,
		  const struct mret *r)
{
	char sp[2] = { ' ', f };

	if (!f || !strchr(which, f))
		return;
	l_mem(l, sp, 2);
	switch (f) {
	case 'O': l_mem(l, op->opaque, op->opaque_len); break;
	case 'k':
		l_keytext(l, op, r->b64);
		if (r->b64)
			l_str(l, " b");
		break;
	case 't': l_i64(l, r->t); break;
	case 'c': l_u64(l, r->c); break;
	case 'f': l_u64(l, r->f); break;
	case 'h': l_u64(l, r->h); break;
	case 'l': l_u64(l, r->l); break;
	default: l_u64(l, r->s); break;
	}
}

static void l_rets(struct line *l, const struct kv_op *op, const char *which,
		   const struct mret *r)
{
	for (unsigned i = 0; i < op->nmflags; i++)
		l_ret(l, op, op->mflag[i], which, r);
}

static bool op_b64(const struct kv_op *op)
{
	return (op->flags & KV_OPF_BASE64) != 0;
}

static void put_l(struct w *w, struct line *l)
{
	l_str(l, "\r\n");
	put(w, l->b, l->n);
}

static bool noreply(const struct kv_op *op)
{
	return op->flags & KV_OPF_NOREPLY;
}

/* text: an answer line unless noreply */
static void text_reply(struct w *w, const struct kv_op *op, const char *s)
{
	if (!noreply(op))
		put_line(w, s);
}

/* --- binary packets ------------------------------------------------ */

enum {
	BIN_OK = 0x00, BIN_KEY_ENOENT = 0x01, BIN_KEY_EEXISTS = 0x02, BIN_E2BIG = 0x03,
	BIN_EINVAL = 0x04, BIN_NOT_STORED = 0x05, BIN_DELTA_BADVAL = 0x06,
	BIN_UNKNOWN = 0x81, BIN_ENOMEM = 0x82,
};

static void be(uint8_t *b, uint64_t v, int n)
{
	for (int i = n - 1; i >= 0; i--, v >>= 8)
		b[i] = (uint8_t)v;
}

static void bin_hdr(struct w *w, const struct kv_op *op, uint8_t opcode, uint16_t status,
		    uint8_t extlen, uint16_t keylen, uint32_t bodylen, uint64_t cas)
{
	uint8_t h[24];

	h[0] = 0x81;
	h[1] = opcode;
	be(h + 2, keylen, 2);
	h[4] = extlen;
	h[5] = 0;
	be(h + 6, status, 2);
	be(h + 8, bodylen, 4);
	be(h + 12, op->bin_opaque, 4);
	be(h + 16, cas, 8);
	put(w, h, sizeof(h));
}

/* a bare success answer, hidden for a quiet opcode */
static void bin_ok(struct w *w, const struct kv_op *op, uint64_t cas)
{
	if (!noreply(op))
		bin_hdr(w, op, op->bin_opcode, BIN_OK, 0, 0, 0, cas);
}

/* an error with its text (memcached's write_bin_error): always sent */
static void bin_err(struct w *w, const struct kv_op *op, uint16_t status, const char *msg)
{
	if (!msg) {
		switch (status) {
		case BIN_ENOMEM: msg = "Out of memory"; break;
		case BIN_UNKNOWN: msg = "Unknown command"; break;
		case BIN_KEY_ENOENT: msg = "Not found"; break;
		case BIN_EINVAL: msg = "Invalid arguments"; break;
		case BIN_KEY_EEXISTS: msg = "Data exists for key."; break;
		case BIN_E2BIG: msg = "Too large."; break;
		case BIN_DELTA_BADVAL: msg = "Non-numeric server-side value for incr or decr"; break;
		case BIN_NOT_STORED: msg = "Not stored."; break;
		default: msg = ""; break;
		}
	}
	bin_hdr(w, op, op->bin_opcode, status, 0, 0, (uint32_t)strlen(msg), 0);
	put(w, msg, strlen(msg));
}

/* --- retrieval ------------------------------------------------------ */

static void put_value(struct w *w, struct kv_item *it)
{
	/* the store keeps "\r\n" after every value */
	put(w, kv_item_data(it), kv_item_len(it) + 2);
}

/* A read (get, gat, binary get, mg) asks out->room for its whole answer
 * before kv_read_count, kv_item_bump or anything else that changes the
 * shard: first for its answer on a miss (kv_peek may unlink an expired
 * item, and the miss is counted by why), then, on a hit, for the hit's. */
static void exec_get_text(struct kv_shard *s, const struct kv_op *op, uint32_t now, struct w *w)
{
	bool touch = op->cmd == KV_CMD_GAT || op->cmd == KV_CMD_GATS;
	bool cas = op->cmd == KV_CMD_GETS || op->cmd == KV_CMD_GATS;
	size_t end = (op->flags & KV_OPF_LAST) ? 5 : 0;

	if (!room(w, end))
		return;
	if (op->klen) {
		enum kv_miss why;
		struct kv_item *it = kv_peek(s, op->key, op->klen, now, &why);
		struct line l = { .n = 0 };
		if (it) {
			l_str(&l, "VALUE ");
			l_mem(&l, op->key, op->klen);
			l_str(&l, " ");
			l_u64(&l, kv_item_flags(it));
			l_str(&l, " ");
			l_u64(&l, kv_item_len(it));
			if (cas) {
				l_str(&l, " ");
				l_u64(&l, kv_item_cas(it));
			}
			l_str(&l, "\r\n");
			if (!room(w, l.n + kv_item_len(it) + 2 + end)) {
				kv_item_put(s, it);
				return;
			}
		}
		kv_read_count(s, it, touch, why);
		if (it) {
			if (touch)
				kv_item_set_exptime(it, rel_time(op->exptime, now));
			kv_item_bump(s, it, now);
			put(w, l.b, l.n);
			put_value(w, it);
			kv_item_put(s, it);
		}
	}
	if (op->flags & KV_OPF_LAST)
		put(w, "END\r\n", 5);
}

static void exec_get_bin(struct kv_shard *s, const struct kv_op *op, uint32_t now, struct w *w)
{
	bool touch = op->cmd == KV_CMD_GAT || op->cmd == KV_CMD_TOUCH;
	bool value = op->cmd != KV_CMD_TOUCH;
	uint16_t keylen = (op->flags & KV_OPF_RETKEY) ? op->klen : 0;
	size_t miss = noreply(op) ? 0 : 24 + (keylen ? keylen : strlen("Not found"));
	enum kv_miss why;

	if (!room(w, miss))
		return;
	struct kv_item *it = kv_peek(s, op->key, op->klen, now, &why);
	if (it && !room(w, 24 + 4 + keylen + (value ? kv_item_len(it) : 0))) {
		kv_item_put(s, it);
		return;
	}
	kv_read_count(s, it, touch, why);
	if (it) {
		uint32_t len = value ? kv_item_len(it) : 0;
		uint8_t fl[4];
		if (touch)
			kv_item_set_exptime(it, rel_time(op->exptime, now));
		kv_item_bump(s, it, now);
		be(fl, kv_item_flags(it), 4);
		bin_hdr(w, op, op->bin_opcode, BIN_OK, 4, keylen, 4 + keylen + len, kv_item_cas(it));
		put(w, fl, 4);
		put(w, op->key, keylen);
		if (value)
			put(w, kv_item_data(it), len);
		kv_item_put(s, it);
		return;
	}
	if (noreply(op))
		return;
	if (keylen) {
		bin_hdr(w, op, op->bin_opcode, BIN_KEY_ENOENT, 0, keylen, keylen, 0);
		put(w, op->key, keylen);
	} else {
		bin_err(w, op, BIN_KEY_ENOENT, NULL);
	}
}

/* --- storage -------------------------------------------------------- */

struct kv_item *kv_op_item_alloc(struct kv_shard *s, const struct kv_op *op, uint32_t now,
				 enum kv_status *st)
{
	uint32_t flags = op->client_flags, exptime = rel_time(op->exptime, now);

	if (op->proto == KV_PROTO_BINARY &&
	    (op->cmd == KV_CMD_APPEND || op->cmd == KV_CMD_PREPEND)) {
		flags = 0;
		exptime = 0;
	}
	struct kv_item *it = kv_item_alloc(s, op->key, op->klen, flags, exptime, op->vlen, now, st);
	if (it && op->proto == KV_PROTO_META && op_b64(op))
		kv_item_set_key_binary(it);     /* meta b: its key answers base64 */
	return it;
}

static enum kv_mode store_mode(const struct kv_op *op, uint64_t *cas_in)
{
	*cas_in = 0;
	if (op->proto == KV_PROTO_META) {
		bool has_cas = kv_op_mflag(op, 'C');
		enum kv_mode m;
		switch (op->mode) {
		case 'E': m = KV_ADD; break;
		case 'A': m = KV_APPEND; break;
		case 'P': m = KV_PREPEND; break;
		case 'R': m = KV_REPLACE; break;
		default: m = KV_SET; break;
		}
		if (has_cas) {
			*cas_in = op->cas;
			/* I: an older unique stores too, marked stale */
			if (m == KV_SET || m == KV_REPLACE)
				m = kv_op_mflag(op, 'I') ? KV_CAS_STALE : KV_CAS;
		}
		return m;
	}
	switch (op->cmd) {
	case KV_CMD_ADD: *cas_in = op->cas; return op->cas && op->proto == KV_PROTO_BINARY ? KV_CAS : KV_ADD;
	case KV_CMD_REPLACE: *cas_in = op->cas; return op->cas ? KV_CAS : KV_REPLACE;
	case KV_CMD_APPEND: *cas_in = op->cas; return KV_APPEND;
	case KV_CMD_PREPEND: *cas_in = op->cas; return KV_PREPEND;
	case KV_CMD_CAS: *cas_in = op->cas; return KV_CAS;
	default: *cas_in = op->cas; return op->cas ? KV_CAS : KV_SET;
	}
}

/* the store failed before the value could be kept */
static void store_failed(struct kv_shard *s, const struct kv_op *op, enum kv_status st,
			 uint32_t now, struct w *w)
{
	bool too_large = st == KV_TOO_LARGE;

	if (op->proto == KV_PROTO_META || op->cmd == KV_CMD_SET)
		kv_delete(s, op->key, op->klen, 0, 0, 0, now);
	if (op->proto == KV_PROTO_BINARY) {
		if (too_large)
			bin_err(w, op, BIN_E2BIG, NULL);
		else
			bin_err(w, op, BIN_ENOMEM, "Out of memory allocating item");
		return;
	}
	const char *msg = too_large ? "SERVER_ERROR object too large for cache"
		: "SERVER_ERROR out of memory storing object";
	if (op->proto == KV_PROTO_META)
		put_line(w, msg);
	else
		text_reply(w, op, msg);
}

static void exec_store(struct kv_shard *s, const struct kv_op *op, uint32_t now, struct w *w)
{
	struct kv_item *it = op->item;
	enum kv_status st = op->store_err ? (enum kv_status)op->store_err : KV_NO_MEMORY;
	uint64_t cas_in, cas_out = 0;
	enum kv_mode mode;

	if (op->bad_chunk) {
		if (it)
			kv_item_put(s, it);
		if (op->proto == KV_PROTO_META)
			put_line(w, "CLIENT_ERROR bad data chunk");
		else
			text_reply(w, op, "CLIENT_ERROR bad data chunk");
		return;
	}
	if (!it && op->value && !op->store_err) {
		it = kv_op_item_alloc(s, op, now, &st);
		if (it)
			memcpy(kv_item_data(it), op->value, op->vlen);
	}
	if (!it) {
		store_failed(s, op, st, now, w);
		return;
	}
	mode = store_mode(op, &cas_in);
	st = kv_store(s, it, mode, cas_in, op->proto == KV_PROTO_META ? op->cas_set : 0, now,
		      &cas_out);

	if (op->proto == KV_PROTO_BINARY) {
		switch (st) {
		case KV_OK: bin_ok(w, op, cas_out); break;
		case KV_EXISTS: bin_err(w, op, BIN_KEY_EEXISTS, NULL); break;
		case KV_NOT_FOUND: bin_err(w, op, BIN_KEY_ENOENT, NULL); break;
		case KV_NOT_STORED:
			bin_err(w, op, mode == KV_ADD ? BIN_KEY_EEXISTS : mode == KV_REPLACE
				? BIN_KEY_ENOENT : BIN_NOT_STORED, NULL);
			break;
		case KV_TOO_LARGE: bin_err(w, op, BIN_E2BIG, NULL); break;
		default: bin_err(w, op, BIN_ENOMEM, "Out of memory allocating item"); break;
		}
		return;
	}
	if (op->proto == KV_PROTO_META) {
		struct line l = { .n = 0 };
		switch (st) {
		case KV_OK:
			if (noreply(op))
				return;
			l_str(&l, "HD");
			break;
		case KV_EXISTS: l_str(&l, "EX"); break;
		case KV_NOT_FOUND: l_str(&l, "NF"); break;
		case KV_NOT_STORED: l_str(&l, "NS"); break;
		case KV_TOO_LARGE: put_line(w, "SERVER_ERROR object too large for cache"); return;
		default: put_line(w, "SERVER_ERROR out of memory storing object"); return;
		}
		struct mret r = { .c = cas_out, .b64 = op_b64(op) };
		l_rets(&l, op, "Okc", &r);
		put_l(w, &l);
		return;
	}
	switch (st) {
	case KV_OK: text_reply(w, op, "STORED"); break;
	case KV_EXISTS: text_reply(w, op, "EXISTS"); break;
	case KV_NOT_FOUND: text_reply(w, op, "NOT_FOUND"); break;
	case KV_NOT_STORED: text_reply(w, op, "NOT_STORED"); break;
	case KV_TOO_LARGE: text_reply(w, op, "SERVER_ERROR object too large for cache"); break;
	default: text_reply(w, op, "SERVER_ERROR out of memory storing object"); break;
	}
}

/* --- the rest of the keyed commands ---------------------------------- */

static void exec_delete(struct kv_shard *s, const struct kv_op *op, uint32_t now, struct w *w)
{
	enum kv_status st = kv_delete(s, op->key, op->klen,
				      op->proto == KV_PROTO_BINARY ? op->cas : 0, 0, 0, now);

	if (op->proto == KV_PROTO_BINARY) {
		if (st == KV_OK)
			bin_ok(w, op, 0);
		else
			bin_err(w, op, st == KV_EXISTS ? BIN_KEY_EEXISTS : BIN_KEY_ENOENT, NULL);
		return;
	}
	text_reply(w, op, st == KV_OK ? "DELETED" : "NOT_FOUND");
}

static void exec_arith(struct kv_shard *s, const struct kv_op *op, uint32_t now, struct w *w)
{
	bool bin = op->proto == KV_PROTO_BINARY;
	uint64_t value = 0, cas_out = 0;
	enum kv_status st;

	st = kv_arith(s, op->key, op->klen, op->cmd == KV_CMD_INCR, op->delta, bin ? op->cas : 0,
		      bin && op->vivify >= 0, op->initial,
		      bin && op->vivify > 0 ? rel_time(op->vivify, now) : 0, now, &value, &cas_out);
	if (bin) {
		uint8_t v[8];
		switch (st) {
		case KV_OK:
			if (noreply(op))
				return;
			be(v, value, 8);
			bin_hdr(w, op, op->bin_opcode, BIN_OK, 0, 0, 8, cas_out);
			put(w, v, 8);
			break;
		case KV_NON_NUMERIC: bin_err(w, op, BIN_DELTA_BADVAL, NULL); break;
		case KV_EXISTS: bin_err(w, op, BIN_KEY_EEXISTS, NULL); break;
		case KV_NOT_FOUND: bin_err(w, op, BIN_KEY_ENOENT, NULL); break;
		case KV_NOT_STORED: bin_err(w, op, BIN_NOT_STORED, NULL); break;
		default: bin_err(w, op, BIN_ENOMEM, "Out of memory incrementing value"); break;
		}
		return;
	}
	switch (st) {
	case KV_OK: {
		struct line l = { .n = 0 };
		if (noreply(op))
			return;
		l_u64(&l, value);
		put_l(w, &l);
		break;
	}
	case KV_NON_NUMERIC:
		text_reply(w, op, "CLIENT_ERROR cannot increment or decrement non-numeric value");
		break;
	case KV_NOT_FOUND: text_reply(w, op, "NOT_FOUND"); break;
	default: text_reply(w, op, "SERVER_ERROR out of memory"); break;
	}
}

static void exec_touch(struct kv_shard *s, const struct kv_op *op, uint32_t now, struct w *w)
{
	enum kv_status st = kv_touch(s, op->key, op->klen, rel_time(op->exptime, now), now);

	text_reply(w, op, st == KV_OK ? "TOUCHED" : "NOT_FOUND");
}

/* --- meta ------------------------------------------------------------ */

/* the TTL left as mg/ma t say it: -1 for none */
static int64_t ttl_left(uint32_t exptime, uint32_t now)
{
	if (exptime == 0)
		return -1;
	return exptime > now ? (int64_t)(exptime - now) : 0;
}

/* a status line with only the flags every answer carries (O, k) */
static void meta_status(struct w *w, const struct kv_op *op, const char *code)
{
	struct line l = { .n = 0 };
	struct mret r = { .b64 = op_b64(op) };

	l_str(&l, code);
	l_rets(&l, op, "Ok", &r);
	put_l(w, &l);
}

/* N on a miss: an empty item with no TTL yet (N's own applies where N
 * comes among the flags), referenced; NULL if it could not be stored */
static struct kv_item *mg_vivify(struct kv_shard *s, const struct kv_op *op, uint32_t now)
{
	enum kv_status st;
	struct kv_item *n = kv_item_alloc(s, op->key, op->klen, 0, 0, 0, now, &st);

	if (!n)
		return NULL;
	if (op_b64(op))
		kv_item_set_key_binary(n);
	if (kv_store(s, n, KV_ADD, 0, op->cas_set, now, NULL) != KV_OK)
		return NULL;
	return kv_peek(s, op->key, op->klen, now, NULL);
}

/*
 * mg, as memcached 1.6's process_mget_command: the item is read without
 * touching it, so h and l tell its state before this read; T (new TTL),
 * N (vivify) and R (recache) act where they come among the flags, so a
 * t before T tells the old TTL. Then: Z if a win token already went out
 * for the item, X if it is stale (and W if no token went out yet), W if
 * N created it or R found its TTL below the token. The read itself (the
 * item fetched, accessed now, to its LRU head) comes last, unless u.
 */
static void exec_mg(struct kv_shard *s, const struct kv_op *op, uint32_t now, struct w *w)
{
	bool touch = kv_op_mflag(op, 'T'), created = false, won = false;
	bool v = kv_op_mflag(op, 'v');
	enum kv_miss why;
	struct line l = { .n = 0 };
	struct mret r;

	/* room first (see exec_get_text): the line at most, and the value;
	 * an item N creates is empty */
	if (!room(w, sizeof(l.b) + (v ? 2 : 0)))
		return;
	struct kv_item *it = kv_peek(s, op->key, op->klen, now, &why);
	if (it && v && !room(w, sizeof(l.b) + kv_item_len(it) + 2)) {
		kv_item_put(s, it);
		return;
	}
	if (!it && op->vivify >= 0)
		created = (it = mg_vivify(s, op, now)) != NULL;
	kv_read_count(s, it, touch, why);
	if (!it) {
		if (!noreply(op))
			meta_status(w, op, "EN");
		return;
	}
	r = (struct mret){
		.c = kv_item_cas(it), .f = kv_item_flags(it), .s = kv_item_len(it),
		.h = (uint64_t)kv_item_fetched(it),
		.l = now >= kv_item_atime(it) ? now - kv_item_atime(it) : 0,
		.b64 = kv_item_key_binary(it) != 0,
	};
	if (kv_op_mflag(op, 'v')) {
		l_str(&l, "VA ");
		l_u64(&l, kv_item_len(it));
	} else {
		l_str(&l, "HD");
	}
	for (unsigned i = 0; i < op->nmflags; i++) {
		switch (op->mflag[i]) {
		case 'T':
			kv_item_set_exptime(it, rel_time(op->exptime, now));
			break;
		case 'N':
			if (created) {
				kv_item_set_exptime(it, rel_time(op->vivify, now));
				won = true;
			}
			break;
		case 'R': {
			/* a win when the TTL left is below the token */
			uint32_t exp = kv_item_exptime(it);
			uint32_t rt = op->recache > 0 ? rel_time(op->recache, now) : 0;
			if (!kv_item_won(it) && !created && exp != 0 && rt != 0 &&
			    rt != KV_EXPTIME_PAST && exp < rt)
				won = true;
			break;
		}
		default:
			r.t = ttl_left(kv_item_exptime(it), now);
			l_ret(&l, op, op->mflag[i], "stcflhOk", &r);
			break;
		}
	}
	if (kv_item_won(it))
		l_str(&l, " Z");
	if (kv_item_stale(it)) {
		l_str(&l, " X");
		if (!kv_item_won(it))
			won = true;
	}
	if (won) {
		l_str(&l, " W");
		kv_item_set_won(it);
	}
	put_l(w, &l);
	if (kv_op_mflag(op, 'v'))
		put_value(w, it);
	if (!kv_op_mflag(op, 'u'))
		kv_item_bump(s, it, now);
	kv_item_put(s, it);
}

/* md; with I the item is kept, stale (its TTL from T if given) */
static void exec_md(struct kv_shard *s, const struct kv_op *op, uint32_t now, struct w *w)
{
	unsigned how = 0;
	enum kv_status st;

	if (kv_op_mflag(op, 'I'))
		how = KV_DEL_INVALIDATE | (kv_op_mflag(op, 'T') ? KV_DEL_TTL : 0);
	st = kv_delete(s, op->key, op->klen, kv_op_mflag(op, 'C') ? op->cas : 0, how,
		       rel_time(op->exptime, now), now);
	if (st == KV_OK) {
		if (!noreply(op))
			meta_status(w, op, "HD");
		return;
	}
	meta_status(w, op, st == KV_EXISTS ? "EX" : "NF");
}

/* ma; T and N (the TTL of an item it created) act where they come among
 * the flags, as in memcached, so a t before them tells the TTL before */
static void exec_ma(struct kv_shard *s, const struct kv_op *op, uint32_t now, struct w *w)
{
	bool vivify = kv_op_mflag(op, 'N'), created = false;
	uint64_t value = 0, cas_out = 0;
	enum kv_status st;
	struct line l = { .n = 0 }, num = { .n = 0 };
	struct kv_item *it = NULL;

	if (vivify) {
		it = kv_peek(s, op->key, op->klen, now, NULL);
		created = it == NULL;
		kv_item_put(s, it);
	}
	st = kv_arith(s, op->key, op->klen, op->mode != 'D', op->delta,
		      kv_op_mflag(op, 'C') ? op->cas : 0, vivify, op->initial, 0, now, &value,
		      &cas_out);
	switch (st) {
	case KV_OK:
		break;
	case KV_NON_NUMERIC:
		put_line(w, "CLIENT_ERROR cannot increment or decrement non-numeric value");
		return;
	case KV_NOT_FOUND:
		meta_status(w, op, "NF");
		return;
	case KV_EXISTS:
		meta_status(w, op, "EX");
		return;
	case KV_NOT_STORED:
		meta_status(w, op, "NS");
		return;
	default:
		put_line(w, "SERVER_ERROR out of memory");
		return;
	}
	it = kv_peek(s, op->key, op->klen, now, NULL);
	l_u64(&num, value);
	if (kv_op_mflag(op, 'v')) {
		l_str(&l, "VA ");
		l_u64(&l, num.n);
	} else {
		l_str(&l, "HD");
	}
	struct mret r = { .c = cas_out, .t = -1, .b64 = op_b64(op) };
	for (unsigned i = 0; i < op->nmflags; i++) {
		char f = op->mflag[i];
		if (it && f == 'T')
			kv_item_set_exptime(it, rel_time(op->exptime, now));
		else if (it && f == 'N' && created)
			kv_item_set_exptime(it, rel_time(op->vivify, now));
		if (it)
			r.t = ttl_left(kv_item_exptime(it), now);
		l_ret(&l, op, f, "ctOk", &r);
	}
	kv_item_put(s, it);
	if (noreply(op))
		return;
	if (kv_op_mflag(op, 'v')) {
		l_str(&l, "\r\n");
		l_mem(&l, num.b, num.n);
	}
	put_l(w, &l);
}

/* me: memcached 1.6.18's line, read without touching the item. Its exp is
 * 1.6.18's too: now - expiry, so a TTL left of 30 says exp=-30 (-1: none) */
static void exec_me(struct kv_shard *s, const struct kv_op *op, uint32_t now, struct w *w)
{
	struct kv_item *it = kv_peek(s, op->key, op->klen, now, NULL);
	struct line l = { .n = 0 };
	uint32_t exp;

	if (!it) {
		put_line(w, "EN");
		return;
	}
	exp = kv_item_exptime(it);
	l_str(&l, "ME ");
	l_keytext(&l, op, kv_item_key_binary(it));
	l_str(&l, " exp=");
	l_i64(&l, exp == 0 ? -1 : (int64_t)(int32_t)(now - exp));
	l_str(&l, " la=");
	l_u64(&l, now >= kv_item_atime(it) ? now - kv_item_atime(it) : 0);
	l_str(&l, " cas=");
	l_u64(&l, kv_item_cas(it));
	l_str(&l, kv_item_fetched(it) ? " fetch=yes" : " fetch=no");
	l_str(&l, " cls=");
	l_u64(&l, kv_item_class(it));
	l_str(&l, " size=");
	l_u64(&l, kv_item_size(it));
	put_l(w, &l);
	kv_item_put(s, it);
}

/* --- stats ------------------------------------------------------------ */

/* one statistic: "STAT name value" or a binary stat packet */
struct st {
	struct w *w;
	const struct kv_op *op;
};

static void stat_put(struct st *st, const char *name, const char *val)
{
	if (st->op->proto == KV_PROTO_BINARY) {
		size_t kl = strlen(name), vl = strlen(val);
		bin_hdr(st->w, st->op, 0x10, BIN_OK, 0, (uint16_t)kl, (uint32_t)(kl + vl), 0);
		put(st->w, name, kl);
		put(st->w, val, vl);
		return;
	}
	put(st->w, "STAT ", 5);
	put(st->w, name, strlen(name));
	put(st->w, " ", 1);
	put_line(st->w, val);
}

static void stat_u(struct st *st, const char *name, uint64_t v)
{
	char b[24];
	snprintf(b, sizeof(b), "%llu", (unsigned long long)v);
	stat_put(st, name, b);
}

static void stat_end(struct st *st)
{
	if (st->op->proto == KV_PROTO_BINARY)
		bin_hdr(st->w, st->op, 0x10, BIN_OK, 0, 0, 0, 0);
	else
		put(st->w, "END\r\n", 5);
}

static void stats_general(struct st *st, const struct kv_stats_all *a)
{
	const struct kv_shard_stats *t = &a->sum;
	char b[48];

	stat_u(st, "pid", a->pid);
	stat_u(st, "uptime", a->uptime);
	stat_u(st, "time", (uint64_t)a->time);
	stat_put(st, "version", KV_VERSION);
	stat_put(st, "libevent", "none");
	stat_u(st, "pointer_size", sizeof(void *) * 8);
	snprintf(b, sizeof(b), "%llu.%06llu", (unsigned long long)(a->rusage_user_us / 1000000),
		 (unsigned long long)(a->rusage_user_us % 1000000));
	stat_put(st, "rusage_user", b);
	snprintf(b, sizeof(b), "%llu.%06llu", (unsigned long long)(a->rusage_system_us / 1000000),
		 (unsigned long long)(a->rusage_system_us % 1000000));
	stat_put(st, "rusage_system", b);
	stat_u(st, "max_connections", a->settings.maxconns);
	stat_u(st, "curr_connections", a->curr_connections);
	stat_u(st, "total_connections", a->total_connections);
	stat_u(st, "rejected_connections", a->rejected_connections);
	stat_u(st, "connection_structures", a->connection_structures);
	stat_u(st, "response_obj_oom", 0);
	stat_u(st, "response_obj_count", 0);
	stat_u(st, "response_obj_bytes", 0);
	stat_u(st, "read_buf_count", 0);
	stat_u(st, "read_buf_bytes", 0);
	stat_u(st, "read_buf_bytes_free", 0);
	stat_u(st, "read_buf_oom", 0);
	stat_u(st, "reserved_fds", 0);
	stat_u(st, "cmd_get", a->cmd_get ? a->cmd_get : t->get_hits + t->get_misses);
	stat_u(st, "cmd_set", t->cmd_set);
	stat_u(st, "cmd_flush", t->cmd_flush);
	stat_u(st, "cmd_touch", a->cmd_touch ? a->cmd_touch : t->cmd_touch);
	stat_u(st, "cmd_meta", 0);
	stat_u(st, "get_hits", t->get_hits);
	stat_u(st, "get_misses", t->get_misses);
	stat_u(st, "get_expired", t->get_expired);
	stat_u(st, "get_flushed", t->get_flushed);
	stat_u(st, "delete_misses", t->delete_misses);
	stat_u(st, "delete_hits", t->delete_hits);
	stat_u(st, "incr_misses", t->incr_misses);
	stat_u(st, "incr_hits", t->incr_hits);
	stat_u(st, "decr_misses", t->decr_misses);
	stat_u(st, "decr_hits", t->decr_hits);
	stat_u(st, "cas_misses", t->cas_misses);
	stat_u(st, "cas_hits", t->cas_hits);
	stat_u(st, "cas_badval", t->cas_badval);
	stat_u(st, "touch_hits", t->touch_hits);
	stat_u(st, "touch_misses", t->touch_misses);
	stat_u(st, "store_too_large", t->too_large);
	stat_u(st, "store_no_memory", t->out_of_memory);
	stat_u(st, "auth_cmds", 0);
	stat_u(st, "auth_errors", 0);
	stat_u(st, "bytes_read", a->bytes_read);
	stat_u(st, "bytes_written", a->bytes_written);
	stat_u(st, "limit_maxbytes", a->settings.maxbytes ? a->settings.maxbytes : t->limit_maxbytes);
	stat_u(st, "accepting_conns", 1);
	stat_u(st, "listen_disabled_num", 0);
	stat_u(st, "time_in_listen_disabled_us", 0);
	stat_u(st, "threads", a->threads);
	stat_u(st, "conn_yields", 0);
	stat_u(st, "hash_power_level", 0);
	stat_u(st, "hash_bytes", 0);
	stat_u(st, "hash_is_expanding", 0);
	stat_u(st, "slab_reassign_rescues", 0);
	stat_u(st, "slab_reassign_chunk_rescues", 0);
	stat_u(st, "slab_reassign_evictions_nomem", 0);
	stat_u(st, "slab_reassign_inline_reclaim", 0);
	stat_u(st, "slab_reassign_busy_items", 0);
	stat_u(st, "slab_reassign_busy_deletes", 0);
	stat_u(st, "slab_reassign_running", 0);
	stat_u(st, "slabs_moved", 0);
	stat_u(st, "lru_crawler_running", 0);
	stat_u(st, "lru_crawler_starts", 0);
	stat_u(st, "lru_maintainer_juggles", 0);
	stat_u(st, "malloc_fails", 0);
	stat_u(st, "log_worker_dropped", 0);
	stat_u(st, "log_worker_written", 0);
	stat_u(st, "log_watcher_skipped", 0);
	stat_u(st, "log_watcher_sent", 0);
	stat_u(st, "log_watchers", 0);
	stat_u(st, "unexpected_napi_ids", 0);
	stat_u(st, "round_robin_fallback", 0);
	stat_u(st, "bytes", t->bytes);
	stat_u(st, "curr_items", t->curr_items);
	stat_u(st, "total_items", t->total_items);
	stat_u(st, "slab_global_page_pool", t->pages_free);
	stat_u(st, "expired_unfetched", t->expired_unfetched);
	stat_u(st, "evicted_unfetched", t->evicted_unfetched);
	stat_u(st, "evicted_active", 0);
	stat_u(st, "evictions", t->evictions);
	stat_u(st, "reclaimed", t->reclaimed);
	stat_u(st, "crawler_reclaimed", 0);
	stat_u(st, "crawler_items_checked", 0);
	stat_u(st, "lrutail_reflocked", 0);
	stat_u(st, "moves_to_cold", 0);
	stat_u(st, "moves_to_warm", 0);
	stat_u(st, "moves_within_lru", 0);
	stat_u(st, "direct_reclaims", 0);
	stat_u(st, "lru_bumps_dropped", 0);
	stat_u(st, "cross_core", a->cross_core);
}

static void stats_settings(struct st *st, const struct kv_settings_info *s)
{
	char b[32];

	stat_u(st, "maxbytes", s->maxbytes);
	stat_u(st, "maxconns", s->maxconns);
	stat_u(st, "tcpport", s->tcpport);
	stat_u(st, "udpport", 0);
	stat_put(st, "inter", "NULL");
	stat_u(st, "verbosity", 0);
	stat_u(st, "oldest", 0);
	stat_put(st, "evictions", s->evictions ? "on" : "off");
	stat_put(st, "domain_socket", "NULL");
	stat_put(st, "umask", "700");
	stat_put(st, "shutdown_command", "no");
	snprintf(b, sizeof(b), "%.2f", s->growth_factor);
	stat_put(st, "growth_factor", b);
	stat_u(st, "chunk_size", s->chunk_size);
	stat_u(st, "num_threads", s->num_threads);
	stat_u(st, "num_threads_per_udp", s->num_threads);
	stat_put(st, "stat_key_prefix", ":");
	stat_put(st, "detail_enabled", "no");
	stat_u(st, "reqs_per_event", 20);
	stat_put(st, "cas_enabled", "yes");
	stat_u(st, "tcp_backlog", 1024);
	stat_put(st, "binding_protocol", "auto-negotiate");
	stat_put(st, "auth_enabled_sasl", "no");
	stat_put(st, "auth_enabled_ascii", "no");
	stat_u(st, "item_size_max", s->item_size_max);
	stat_put(st, "maxconns_fast", "yes");
	stat_u(st, "hashpower_init", 0);
	stat_put(st, "slab_reassign", "no");
	stat_u(st, "slab_automove", 0);
	stat_put(st, "slab_automove_ratio", "0.80");
	stat_u(st, "slab_automove_window", 30);
	stat_u(st, "slab_chunk_max", s->item_size_max);
	stat_put(st, "lru_crawler", "no");
	stat_u(st, "lru_crawler_sleep", 0);
	stat_u(st, "lru_crawler_tocrawl", 0);
	stat_put(st, "tail_repair_time", "0");
	stat_put(st, "flush_enabled", "yes");
	stat_put(st, "dump_enabled", "no");
	stat_put(st, "hash_algorithm", "siphash");
	stat_put(st, "lru_maintainer_thread", "no");
	stat_put(st, "lru_segmented", "no");
	stat_u(st, "hot_lru_pct", 20);
	stat_u(st, "warm_lru_pct", 40);
	stat_put(st, "hot_max_factor", "0.20");
	stat_put(st, "warm_max_factor", "2.00");
	stat_put(st, "temp_lru", "no");
	stat_u(st, "temporary_ttl", 61);
	stat_u(st, "idle_timeout", 0);
	stat_u(st, "watcher_logbuf_size", 0);
	stat_u(st, "worker_logbuf_size", 0);
	stat_u(st, "read_buf_mem_limit", 0);
	stat_put(st, "track_sizes", "no");
	stat_put(st, "inline_ascii_response", "no");
	stat_put(st, "ssl_enabled", "no");
}

static void stats_items(struct st *st, const struct kv_stats_all *a)
{
	for (unsigned i = 0; i < a->nclasses && i < KV_CLASSES_MAX; i++) {
		const struct kv_class_stats *c = &a->cls[i];
		const struct { const char *n; uint64_t v; } f[] = {
			{ "number", c->number }, { "number_hot", 0 }, { "number_warm", 0 },
			{ "number_cold", c->number }, { "age_hot", 0 }, { "age_warm", 0 },
			{ "age", c->age }, { "mem_requested", c->mem_requested },
			{ "evicted", c->evicted }, { "evicted_nonzero", c->evicted_nonzero },
			{ "evicted_time", 0 }, { "outofmemory", c->outofmemory },
			{ "tailrepairs", 0 }, { "reclaimed", c->reclaimed },
			{ "expired_unfetched", c->expired_unfetched },
			{ "evicted_unfetched", c->evicted_unfetched }, { "evicted_active", 0 },
			{ "crawler_reclaimed", 0 }, { "crawler_items_checked", 0 },
			{ "lrutail_reflocked", 0 }, { "moves_to_cold", 0 }, { "moves_to_warm", 0 },
			{ "moves_within_lru", 0 }, { "direct_reclaims", 0 }, { "hits_to_hot", 0 },
			{ "hits_to_warm", 0 }, { "hits_to_cold", c->get_hits }, { "hits_to_temp", 0 },
		};
		if (c->number == 0)
			continue;
		for (size_t j = 0; j < sizeof(f) / sizeof(f[0]); j++) {
			char name[64];
			snprintf(name, sizeof(name), "items:%u:%s", c->id, f[j].n);
			stat_u(st, name, f[j].v);
		}
	}
}

static void stats_slabs(struct st *st, const struct kv_stats_all *a)
{
	unsigned active = 0;
	uint64_t malloced = 0;

	for (unsigned i = 0; i < a->nclasses && i < KV_CLASSES_MAX; i++) {
		const struct kv_class_stats *c = &a->cls[i];
		const struct { const char *n; uint64_t v; } f[] = {
			{ "chunk_size", c->chunk_size }, { "chunks_per_page", c->chunks_per_page },
			{ "total_pages", c->total_pages }, { "total_chunks", c->total_chunks },
			{ "used_chunks", c->used_chunks }, { "free_chunks", c->free_chunks },
			{ "free_chunks_end", 0 }, { "get_hits", c->get_hits },
			{ "cmd_set", c->cmd_set }, { "delete_hits", c->delete_hits },
			{ "incr_hits", c->incr_hits }, { "decr_hits", c->decr_hits },
			{ "cas_hits", c->cas_hits }, { "cas_badval", c->cas_badval },
			{ "touch_hits", c->touch_hits },
		};
		if (c->total_pages == 0)
			continue;
		active++;
		malloced += c->total_pages * KV_PAGE_SIZE;
		for (size_t j = 0; j < sizeof(f) / sizeof(f[0]); j++) {
			char name[64];
			snprintf(name, sizeof(name), "%u:%s", c->id, f[j].n);
			stat_u(st, name, f[j].v);
		}
	}
	stat_u(st, "active_slabs", active);
	stat_u(st, "total_malloced", malloced);
}

static int conn_stat(void *arg, const struct kv_conn_info *ci)
{
	struct st *st = arg;
	char name[48];

	snprintf(name, sizeof(name), "%u:addr", ci->id);
	stat_put(st, name, ci->addr);
	snprintf(name, sizeof(name), "%u:listen_addr", ci->id);
	stat_put(st, name, ci->listen_addr);
	snprintf(name, sizeof(name), "%u:state", ci->id);
	stat_put(st, name, ci->state ? ci->state : "conn_parse_cmd");
	snprintf(name, sizeof(name), "%u:secs_since_last_cmd", ci->id);
	stat_u(st, name, ci->secs_since_last_cmd);
	return st->w->err;
}

static void exec_stats(const struct kv_op *op, struct w *w)
{
	struct kv_stats_all a;
	struct st st = { w, op };

	if (op->stats == KV_STATS_SIZES) {
		stat_put(&st, "sizes_status", "disabled");
		stat_end(&st);
		return;
	}
	if (op->stats == KV_STATS_CONNS) {
		kv_stats_conns(conn_stat, &st);
		stat_end(&st);
		return;
	}
	memset(&a, 0, sizeof(a));
	kv_stats_collect(&a);
	switch (op->stats) {
	case KV_STATS_SETTINGS: stats_settings(&st, &a.settings); break;
	case KV_STATS_ITEMS: stats_items(&st, &a); break;
	case KV_STATS_SLABS: stats_slabs(&st, &a); break;
	default: stats_general(&st, &a); break;
	}
	stat_end(&st);
}

/* --- the dispatcher ---------------------------------------------------- */

int kv_exec(struct kv_shard *s, const struct kv_op *op, uint32_t now, struct kv_out *out)
{
	struct w w = { out, 0 };
	bool bin = op->proto == KV_PROTO_BINARY;

	switch (op->cmd) {
	case KV_CMD_ERROR:
		if (bin) {
			if (op->bin_status)     /* 0: a bad magic, closed unanswered */
				bin_err(&w, op, op->bin_status, NULL);
		} else if (op->err)
			text_reply(&w, op, op->err);
		break;
	case KV_CMD_GET: case KV_CMD_GETS: case KV_CMD_GAT: case KV_CMD_GATS:
		if (bin)
			exec_get_bin(s, op, now, &w);
		else
			exec_get_text(s, op, now, &w);
		break;
	case KV_CMD_TOUCH:
		if (bin)
			exec_get_bin(s, op, now, &w);
		else
			exec_touch(s, op, now, &w);
		break;
	case KV_CMD_SET: case KV_CMD_ADD: case KV_CMD_REPLACE: case KV_CMD_APPEND:
	case KV_CMD_PREPEND: case KV_CMD_CAS: case KV_CMD_MS:
		exec_store(s, op, now, &w);
		break;
	case KV_CMD_DELETE:
		exec_delete(s, op, now, &w);
		break;
	case KV_CMD_INCR: case KV_CMD_DECR:
		exec_arith(s, op, now, &w);
		break;
	case KV_CMD_FLUSH_ALL: {
		uint32_t when = op->exptime > 0 ? rel_time(op->exptime, now) : now;
		if (s)
			kv_flush(s, when, now);
		if (bin)
			bin_ok(&w, op, 0);
		else
			text_reply(&w, op, "OK");
		break;
	}
	case KV_CMD_VERSION:
		if (bin) {
			bin_hdr(&w, op, op->bin_opcode, BIN_OK, 0, 0, sizeof(KV_VERSION) - 1, 0);
			put(&w, KV_VERSION, sizeof(KV_VERSION) - 1);
		} else {
			put_line(&w, "VERSION " KV_VERSION);
		}
		break;
	case KV_CMD_VERBOSITY:
		text_reply(&w, op, "OK");
		break;
	case KV_CMD_QUIT:
		if (bin)
			bin_ok(&w, op, 0);
		break;
	case KV_CMD_NOOP:
		bin_hdr(&w, op, op->bin_opcode, BIN_OK, 0, 0, 0, 0);
		break;
	case KV_CMD_STATS:
		exec_stats(op, &w);
		break;
	case KV_CMD_MN:
		put_line(&w, "MN");
		break;
	case KV_CMD_MG:
		exec_mg(s, op, now, &w);
		break;
	case KV_CMD_MD:
		exec_md(s, op, now, &w);
		break;
	case KV_CMD_MA:
		exec_ma(s, op, now, &w);
		break;
	case KV_CMD_ME:
		exec_me(s, op, now, &w);
		break;
	default:
		if (op->item)
			kv_item_put(s, op->item);
		break;
	}
	return w.err;
}
