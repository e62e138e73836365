/*
 * fuzz_app_kv.c — libFuzzer target: the kv appliance (src/apps/kv.c with
 * kv_store, kv_proto, kv_exec) on port 11211, one core and one shard of
 * the net harness: text, meta and binary requests cut anywhere and
 * pipelined from up to four clients, its messages and FIFOs under
 * back-pressure (a peer that stops ACKing or shuts its window), large
 * values, half-close, resets and kv.send_timeout_s. The engine and the
 * input format: app_fuzz.h. Besides the engine's checks (no slot and no
 * packet buffer held after the teardown), every kv message and big
 * message must be back and no kv connection open.
 *
 * kv_init runs in every world (its pools live in the harness's frame
 * memory); the listener it made in the first world outlives h_fini, so
 * tcp_listen is wrapped (-Wl,--wrap, app_kv.mk) to take kv's own port
 * again as success, as the engine takes -EADDRINUSE from other targets.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "apps/apps.h"
#include "apps/kv.h"
#include "net/net.h"
#include "app_fuzz.h"

#define KV_FUZZ_PORT 11211

int __real_tcp_listen(uint16_t port, const struct tcp_ops *ops, tcp_accept_fn accept, void *arg);
int __wrap_tcp_listen(uint16_t port, const struct tcp_ops *ops, tcp_accept_fn accept, void *arg)
{
	static const struct tcp_ops *kv_ops;
	int rc = __real_tcp_listen(port, ops, accept, arg);
	if (port == KV_FUZZ_PORT && rc == 0)
		kv_ops = ops;
	if (port == KV_FUZZ_PORT && rc == -EADDRINUSE && ops == kv_ops)
		return 0;               /* ours, from an earlier world */
	return rc;
}

static int start(char *err, size_t errlen)
{
	struct apps_config cfg;
	memset(&cfg, 0, sizeof cfg);
	cfg.kv.port = KV_FUZZ_PORT;
	cfg.kv.memory_mb = 1;
	cfg.kv.item_size_max = 16384;   /* values past the 8 KiB messages: the big ones */
	cfg.kv.evict = 1;
	cfg.kv.max_conns = 8;
	cfg.kv.idle_timeout_s = APP_FUZZ_IDLE_S;
	cfg.kv.send_timeout_s = 10;
	return kv_init(&cfg, err, errlen);
}

static const struct app_fuzz target = { .name = "kv", .port = KV_FUZZ_PORT, .init = start };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	app_fuzz_one(&target, data, size);
	struct kv_core_stats st;
	kv_core_stats(0, &st);
	if (st.msgs_free != st.msgs || st.bigs_free != st.bigs || st.curr_conns) {
		fprintf(stderr, "fuzz_app_kv: after the teardown %u of %u messages, %u of %u big ones "
			"back, %llu connection(s) open\n", st.msgs_free, st.msgs, st.bigs_free, st.bigs,
			(unsigned long long)st.curr_conns);
		abort();
	}
	return 0;
}
