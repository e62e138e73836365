/*
 * fuzz_app_echo.c — libFuzzer target: the echo appliance (src/apps/echo.c),
 * TCP port 7 (every byte back, its pending buffer when the send buffer is
 * full, the reset of a peer that sends and never reads, FIN after the
 * pending bytes) and UDP port 7 (the loop guard of udp_may_answer). The
 * engine and the input format: app_fuzz.h.
 *
 * The harness binds UDP port 7 for its own echo in h_init; the appliance
 * is started once before the first world so that the port is its own
 * (binds outlive h_fini; the harness then takes -EADDRINUSE).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "apps/apps.h"
#include "app_fuzz.h"

static int start(char *err, size_t errlen)
{
	struct apps_config cfg;
	memset(&cfg, 0, sizeof cfg);
	cfg.echo.idle_timeout_s = APP_FUZZ_IDLE_S;
	return echo_init(&cfg, err, errlen);
}

static void first(void)
{
	char err[160];
	int rc = start(err, sizeof err);
	if (rc) {
		fprintf(stderr, "fuzz_app_echo: echo_init: %s (%d)\n", err, rc);
		abort();
	}
}

static const struct app_fuzz target = { .name = "echo", .port = 7, .init = start, .first = first };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return app_fuzz_one(&target, data, size);
}
