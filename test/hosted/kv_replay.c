/*
 * kv_replay.c — the kv appliance's protocols as a filter, for comparing
 * answers with Debian's memcached (test/hosted/test_kv_oracle.py): reads
 * what one client sends from stdin, runs it through the parser
 * (src/apps/kv_proto.c), kv_exec (kv_exec.c) and a real 16-page shard
 * (kv_store.c), and writes every answer to stdout, as one connection
 * would have received them. No network, no appliance: the protocol
 * layer alone.
 *
 *   kv_replay [cut]   feed stdin in pieces of `cut` bytes (default: whole)
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "apps/kv_proto.h"

#define PAGES 16
#define IN_MAX (64u << 20)

static struct kv_shard *S;

void klog(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void kv_stats_collect(struct kv_stats_all *out)
{
	memset(out, 0, sizeof(*out));
	kv_shard_stats(S, &out->sum);
	out->nclasses = kv_class_stats(S, out->cls, KV_CLASSES_MAX);
	out->threads = 1;
}

void kv_stats_conns(int (*each)(void *arg, const struct kv_conn_info *ci), void *arg)
{
	(void)each;
	(void)arg;
}

static int out_put(struct kv_out *o, const void *p, size_t n)
{
	(void)o;
	return fwrite(p, 1, n, stdout) == n ? 0 : -ENOBUFS;
}

static int is_store(const struct kv_op *op)
{
	switch (op->cmd) {
	case KV_CMD_SET: case KV_CMD_ADD: case KV_CMD_REPLACE: case KV_CMD_APPEND:
	case KV_CMD_PREPEND: case KV_CMD_CAS: case KV_CMD_MS:
		return 1;
	default:
		return 0;
	}
}

int main(int argc, char **argv)
{
	static struct kv_parser p;
	struct kv_shard_params prm = { .evict = 1 };
	struct kv_out out = { .put = out_put };
	uint8_t key[16] = { 42 };
	uint8_t *in = malloc(IN_MAX);
	void *arena = aligned_alloc(4096, PAGES * KV_PAGE_SIZE);
	size_t n = 0, cut, off = 0;
	struct kv_item *inflight = NULL;
	enum kv_status err = KV_OK;
	const uint32_t now = 100;

	S = malloc(kv_shard_size());
	if (!in || !arena || !S)
		return 1;
	kv_hash_key_set(key);
	if (kv_shard_init(S, arena, PAGES * KV_PAGE_SIZE, &prm))
		return 1;
	kv_proto_setup((int64_t)time(NULL) - now);
	kv_parser_init(&p);
	for (size_t k; n < IN_MAX && (k = fread(in + n, 1, IN_MAX - n, stdin)) > 0;)
		n += k;
	cut = argc > 1 ? strtoul(argv[1], NULL, 10) : 0;
	if (cut == 0)
		cut = n ? n : 1;

	while (off < n) {
		size_t end = off + cut < n ? off + cut : n;
		enum kv_parse_ev ev;
		do {
			struct kv_op op;
			off += kv_parse(&p, in + off, end - off, &op, &ev);
			if (ev == KV_PARSE_VALUE) {
				inflight = kv_op_item_alloc(S, &op, now, &err);
				kv_parse_value_dst(&p, inflight ? kv_item_data(inflight) : NULL);
			} else if (ev == KV_PARSE_OP) {
				if (is_store(&op)) {
					op.item = inflight;
					if (!inflight)
						op.store_err = (uint8_t)err;
					inflight = NULL;
				}
				if (kv_exec(kv_op_route(&op) == KV_ROUTE_LOCAL ? NULL : S, &op, now, &out))
					goto done;
				if (op.flags & KV_OPF_CLOSE)
					goto done;
			}
		} while (ev != KV_PARSE_MORE || off < end);
	}
done:
	if (inflight)
		kv_item_put(S, inflight);
	fflush(stdout);
	free(S);
	free(arena);
	free(in);
	return 0;
}
