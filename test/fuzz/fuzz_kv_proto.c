/*
 * fuzz_kv_proto.c — libFuzzer target: the kv appliance's protocols
 * (src/apps/kv_proto.c, kv_exec.c) over a small real shard
 * (src/apps/kv_store.c). The input is what a client sends — text, meta
 * or binary, as its first byte decides — cut into segments; every op the
 * parser gives is executed and its answer written to a bounded sink.
 * Nothing may crash (ASan, UBSan); every op must be well formed (a key
 * of 1..250 bytes where the command has one, a value length the parser
 * then delivers); and after the input every item reference is back, so
 * a flushed and swept shard holds nothing.
 *
 * Input: two bytes, then the stream.
 *   byte 0: the segment sizes' seed (0: the stream in one piece)
 *   byte 1: bit 0: values staged in a buffer instead of an item on the
 *           shard; bit 1: no destination at all (swallowed); bits 2-7:
 *           seconds between ops, /8
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "apps/kv_proto.h"

#define ARENA_PAGES 2

static struct kv_shard *S;
static void *A;
static uint8_t STAGE[1 << 16];
static size_t OUTN;

void klog(const char *fmt, ...)
{
	(void)fmt;
}

void kv_stats_collect(struct kv_stats_all *out)
{
	memset(out, 0, sizeof(*out));
	kv_shard_stats(S, &out->sum);
	out->nclasses = kv_class_stats(S, out->cls, KV_CLASSES_MAX);
}

void kv_stats_conns(int (*each)(void *arg, const struct kv_conn_info *ci), void *arg)
{
	struct kv_conn_info ci = { .id = 1, .addr = "tcp:198.18.0.1:1", .listen_addr = "tcp:0:11211" };
	each(arg, &ci);
}

static int sink(struct kv_out *o, const void *p, size_t n)
{
	(void)o;
	if (n > 0)
		(void)((const volatile uint8_t *)p)[n - 1];    /* the bytes must be readable */
	OUTN += n;
	return OUTN > (64u << 20) ? -ENOBUFS : 0;
}

static bool is_store(const struct kv_op *op)
{
	switch (op->cmd) {
	case KV_CMD_SET: case KV_CMD_ADD: case KV_CMD_REPLACE: case KV_CMD_APPEND:
	case KV_CMD_PREPEND: case KV_CMD_CAS: case KV_CMD_MS:
		return true;
	default:
		return false;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct kv_parser p;
	struct kv_out out = { .put = sink };
	struct kv_shard_params prm = { .evict = 1 };
	struct kv_item *inflight = NULL;
	enum kv_status inflight_err = KV_OK;
	uint8_t mode, seed;
	uint32_t now = 1, rng;
	size_t off = 2;
	unsigned ops = 0;

	if (size < 2)
		return 0;
	if (!S) {
		uint8_t k[16] = { 7 };
		kv_hash_key_set(k);
		S = malloc(kv_shard_size());
		A = aligned_alloc(4096, ARENA_PAGES * KV_PAGE_SIZE);
		if (!S || !A)
			abort();
		kv_proto_setup(1700000000);
	}
	if (kv_shard_init(S, A, ARENA_PAGES * KV_PAGE_SIZE, &prm))
		abort();
	seed = data[0];
	mode = data[1];
	rng = seed * 2654435761u + 1;
	kv_parser_init(&p);
	OUTN = 0;

	while (off < size) {
		size_t seg = size - off;
		if (seed) {
			rng ^= rng << 13;
			rng ^= rng >> 17;
			rng ^= rng << 5;
			seg = 1 + rng % 97;
			if (seg > size - off)
				seg = size - off;
		}
		size_t end = off + seg;
		enum kv_parse_ev ev;
		do {
			struct kv_op op;
			off += kv_parse(&p, data + off, end - off, &op, &ev);
			if (ev == KV_PARSE_MORE)
				continue;
			if (op.klen > KV_KEY_MAX)
				abort();
			if (ev == KV_PARSE_VALUE) {
				uint8_t *dst = NULL;
				if (!is_store(&op) || inflight)
					abort();
				if (mode & 2) {
					inflight_err = KV_TOO_LARGE;
				} else if (mode & 1) {
					if (op.vlen + 2 <= sizeof(STAGE))
						dst = STAGE;
					inflight_err = KV_TOO_LARGE;
				} else {
					inflight = kv_op_item_alloc(S, &op, now, &inflight_err);
					if (inflight)
						dst = kv_item_data(inflight);
				}
				kv_parse_value_dst(&p, dst);
				continue;
			}
			if (is_store(&op)) {
				if (mode & 2)
					op.store_err = (uint8_t)inflight_err;
				else if (mode & 1) {
					if (op.vlen + 2 <= sizeof(STAGE))
						op.value = STAGE;
					else
						op.store_err = KV_TOO_LARGE;
				} else {
					op.item = inflight;
					if (!inflight)
						op.store_err = (uint8_t)inflight_err;
				}
				inflight = NULL;
			}
			if (op.cmd == KV_CMD_NONE || op.cmd > KV_CMD_ERROR)
				abort();
			kv_exec(kv_op_route(&op) == KV_ROUTE_LOCAL ? NULL : S, &op, now, &out);
			if (++ops % 8 == 0)
				now += mode >> 2;
		} while (ev != KV_PARSE_MORE || off < end);
	}
	/* a value still arriving when the client stopped: its item goes back */
	if (inflight)
		kv_item_put(S, inflight);
	/* nothing is left referenced: a flush and a sweep empty the shard */
	kv_flush(S, now, now);
	now += 1;
	kv_sweep(S, now, 1u << 20);
	{
		struct kv_shard_stats st;
		kv_shard_stats(S, &st);
		if (st.curr_items != 0)
			abort();
	}
	return 0;
}
