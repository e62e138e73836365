/*
 * fuzz_app_web.c — libFuzzer target: the web appliance (src/apps/web.c)
 * on port 80, its HTTP request parsing (http-parser), keep-alive and
 * pipelining, and its response path under back-pressure (a peer that
 * stops ACKing or shuts its window), half-close and resets, from up to
 * four clients at once. The engine and the input format: app_fuzz.h.
 */
#include <string.h>
#include "apps/apps.h"
#include "app_fuzz.h"

static int start(char *err, size_t errlen)
{
	struct apps_config cfg;
	memset(&cfg, 0, sizeof cfg);
	cfg.web.port = 80;
	cfg.web.idle_timeout_s = APP_FUZZ_IDLE_S;
	return web_init(&cfg, err, errlen);
}

static const struct app_fuzz target = { .name = "web", .port = 80, .init = start };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return app_fuzz_one(&target, data, size);
}
