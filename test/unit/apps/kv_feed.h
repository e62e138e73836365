/*
 * kv_feed.h — drives a struct kv_parser over a byte string cut at chosen
 * places, and writes what came out (every op, every value received) as
 * one line of text per op, so that tests can compare runs cut
 * differently and check ops by their text. Used by test_kv_proto.c and
 * test_kv_exec.c (with bin_req, a binary request); header-only, test code.
 */
#ifndef POLLUX_TEST_KV_FEED_H
#define POLLUX_TEST_KV_FEED_H
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "apps/kv_proto.h"

struct feed {
	char trace[1 << 18];
	size_t n;
	unsigned ops;
	int closed;
	/* a value in flight: received into vbuf (or swallowed) */
	uint8_t *vbuf;
	int swallow;                    /* give NULL destinations */
	/* called on each complete op (NULL: only traced) */
	void (*on_op)(struct feed *f, struct kv_op *op, const uint8_t *value);
	/* called on KV_PARSE_VALUE: the destination (NULL: a staging buffer
	 * of vlen + 2 bytes, or none with `swallow`) */
	uint8_t *(*on_value)(struct feed *f, struct kv_op *op);
	void *arg;
};

static inline void feed_printf(struct feed *f, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static inline void feed_printf(struct feed *f, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (f->n < sizeof(f->trace)) {
		int k = vsnprintf(f->trace + f->n, sizeof(f->trace) - f->n, fmt, ap);
		if (k > 0)
			f->n += (size_t)k;
		if (f->n > sizeof(f->trace))
			f->n = sizeof(f->trace);
	}
	va_end(ap);
}

static inline void feed_bytes(struct feed *f, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\\')
			feed_printf(f, "%c", p[i]);
		else
			feed_printf(f, "\\x%02x", p[i]);
	}
}

static const char *const feed_cmd[] = {
	"none", "set", "add", "replace", "append", "prepend", "cas", "get", "gets", "gat", "gats",
	"delete", "incr", "decr", "touch", "flush_all", "version", "verbosity", "quit", "stats",
	"noop", "mg", "ms", "md", "ma", "mn", "me", "error",
};

static inline void feed_op(struct feed *f, const struct kv_op *op, const char *ev)
{
	feed_printf(f, "%s cmd=%s proto=%u key=", ev,
		    op->cmd <= KV_CMD_ERROR ? feed_cmd[op->cmd] : "?", op->proto);
	feed_bytes(f, op->key, op->klen);
	feed_printf(f, " fl=%x cf=%u e=%lld cas=%llu d=%llu i=%llu viv=%lld v=%u bad=%u st=%u",
		    op->flags, op->client_flags, (long long)op->exptime,
		    (unsigned long long)op->cas, (unsigned long long)op->delta,
		    (unsigned long long)op->initial, (long long)op->vivify, op->vlen,
		    op->bad_chunk, op->stats);
	if (op->nmflags)
		feed_printf(f, " mf=%.*s", op->nmflags, op->mflag);
	if (op->opaque_len)
		feed_printf(f, " O=%.*s", op->opaque_len, op->opaque);
	if (op->mode)
		feed_printf(f, " M=%c", op->mode);
	if (op->proto == KV_PROTO_BINARY)
		feed_printf(f, " bin=%02x/%x/%x", op->bin_opcode, op->bin_status, op->bin_opaque);
	if (op->err)
		feed_printf(f, " err=%s", op->err);
	feed_printf(f, "\n");
}

static inline void feed_init(struct feed *f)
{
	memset(f, 0, offsetof(struct feed, on_op));
}

/* feeds in[0..n) to p in pieces cut at cuts[0..ncuts) (ascending) */
static inline void feed_run(struct feed *f, struct kv_parser *p, const uint8_t *in, size_t n,
			    const size_t *cuts, size_t ncuts)
{
	size_t start = 0;
	struct kv_op op;

	for (size_t c = 0; c <= ncuts; c++) {
		size_t end = c < ncuts ? cuts[c] : n;
		size_t off = start;
		enum kv_parse_ev ev;
		unsigned guard = 0;
		do {
			size_t k = kv_parse(p, in + off, end - off, &op, &ev);
			off += k;
			if (ev == KV_PARSE_VALUE) {
				feed_op(f, &op, "value");
				free(f->vbuf);
				f->vbuf = NULL;
				if (f->on_value)
					kv_parse_value_dst(p, f->on_value(f, &op));
				else {
					f->vbuf = f->swallow ? NULL : calloc(1, op.vlen + 2);
					kv_parse_value_dst(p, f->vbuf);
				}
			} else if (ev == KV_PARSE_OP) {
				f->ops++;
				feed_op(f, &op, "op");
				if (op.vlen && f->vbuf) {
					feed_printf(f, "  data=");
					feed_bytes(f, f->vbuf, op.vlen);
					feed_printf(f, "\n");
				}
				if (f->on_op)
					f->on_op(f, &op, f->vbuf);
				if (op.flags & KV_OPF_CLOSE)
					f->closed = 1;
			}
		} while ((ev != KV_PARSE_MORE || off < end) && ++guard < 1000000);
		start = end;
	}
	free(f->vbuf);
	f->vbuf = NULL;
}

static inline void feed_whole(struct feed *f, const void *in, size_t n)
{
	struct kv_parser *p = malloc(sizeof(*p));
	kv_parser_init(p);
	feed_run(f, p, in, n, NULL, 0);
	free(p);
}

/* a binary-protocol request (24-byte header, extras, key, value) into b;
 * its length */
static inline size_t bin_req(uint8_t *b, uint8_t opcode, const void *ext, uint8_t extlen,
			     const char *key, const void *val, uint32_t vlen, uint32_t opaque, uint64_t cas)
{
	size_t kl = key ? strlen(key) : 0;
	uint32_t body = (uint32_t)(extlen + kl + vlen);

	memset(b, 0, 24);
	b[0] = 0x80;
	b[1] = opcode;
	b[2] = (uint8_t)(kl >> 8);
	b[3] = (uint8_t)kl;
	b[4] = extlen;
	for (int i = 0; i < 4; i++) {
		b[8 + i] = (uint8_t)(body >> (24 - 8 * i));
		b[12 + i] = (uint8_t)(opaque >> (24 - 8 * i));
	}
	for (int i = 0; i < 8; i++)
		b[16 + i] = (uint8_t)(cas >> (56 - 8 * i));
	if (extlen)
		memcpy(b + 24, ext, extlen);
	if (kl)
		memcpy(b + 24 + extlen, key, kl);
	if (vlen)
		memcpy(b + 24 + extlen + kl, val, vlen);
	return 24 + body;
}

#endif
