/*
 * fuzz_app_iperf.c — libFuzzer target: the iperf3-compatible server
 * (src/apps/iperf.c) on port 5201: the 37-byte cookie, control
 * connections and their state bytes, length-prefixed JSON (parameters,
 * results), data streams that join a session by cookie, -R sending,
 * sessions that end with streams still open. The engine and the input
 * format: app_fuzz.h; libFuzzer's leak check covers the contexts and
 * messages iperf mallocs.
 */
#include <string.h>
#include "apps/apps.h"
#include "app_fuzz.h"

static int start(char *err, size_t errlen)
{
	struct apps_config cfg;
	memset(&cfg, 0, sizeof cfg);
	cfg.iperf.idle_timeout_s = APP_FUZZ_IDLE_S;
	return iperf_init(&cfg, err, errlen);
}

static const struct app_fuzz target = { .name = "iperf", .port = 5201, .init = start };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return app_fuzz_one(&target, data, size);
}
