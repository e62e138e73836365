/*
 * fuzz_app_proxy.c — libFuzzer target: the TCP proxy (src/apps/proxy.c),
 * listening on 8080 and relaying to 198.18.0.1:9000. The fuzzer plays
 * the clients and the backends: each accepted client makes the proxy
 * open a backend connection, which the input answers (SYN-ACK or RST) or
 * leaves to time out; then bytes, FINs and resets on either side, the
 * back-pressure between the two (each side's recv_space is the other's
 * send room). The engine and the input format: app_fuzz.h.
 */
#include <string.h>
#include "apps/apps.h"
#include "app_fuzz.h"

static int start(char *err, size_t errlen)
{
	struct apps_config cfg;
	memset(&cfg, 0, sizeof cfg);
	cfg.proxy.listen = 8080;
	cfg.proxy.backend.addr = 0xc6120001u;   /* 198.18.0.1, the harness's peer */
	cfg.proxy.backend.port = 9000;
	cfg.proxy.idle_timeout_s = APP_FUZZ_IDLE_S;
	return proxy_init(&cfg, err, errlen);
}

static const struct app_fuzz target = { .name = "proxy", .port = 8080, .backend_port = 9000,
					.init = start };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return app_fuzz_one(&target, data, size);
}
