/*
 * fuzz_app_httpd.c — libFuzzer target: the httpd appliance
 * (src/apps/httpd.c) on port 80 serving a small site (an index, a
 * directory with its own, a text file, a 100 KiB file): request parsing
 * and its bounds (414, 431), target normalisation, Range and conditional
 * headers, keep-alive and pipelining, bodies streamed under
 * back-pressure (a peer that stops ACKing or shuts its window),
 * half-close and resets, from up to four clients at once. The engine and
 * the input format: app_fuzz.h; it checks every slot and buffer back.
 */
#include <string.h>
#include "apps/apps.h"
#include "app_fuzz.h"
#include "../unit/core/tar_build.h"

static struct tb site;

static void site_once(void)
{
	static char big[100 * 1024];
	if (site.buf)
		return;
	tb_file(&site, "./index.html", "<h1>hello</h1>\n");
	tb_dir(&site, "./docs/");
	tb_file(&site, "./docs/index.html", "<p>docs</p>\n");
	tb_file(&site, "./a.txt", "0123456789abcdefghij");
	for (size_t i = 0; i < sizeof big; i++)
		big[i] = (char)('a' + i % 26);
	tb_header(&site, "./big.bin", '0', sizeof big, NULL, 1700000000);
	tb_data(&site, big, sizeof big);
	tb_end(&site);
}

static int start(char *err, size_t errlen)
{
	struct apps_config cfg;
	site_once();
	memset(&cfg, 0, sizeof cfg);
	cfg.httpd.port = 80;
	cfg.httpd.max_conns = 4;
	cfg.httpd.idle_timeout_s = APP_FUZZ_IDLE_S;
	cfg.httpd.keepalive_requests = 8;
	cfg.httpd.archive = site.buf;
	cfg.httpd.archive_len = site.len;
	return httpd_init(&cfg, err, errlen);
}

static const struct app_fuzz target = { .name = "httpd", .port = 80, .init = start };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return app_fuzz_one(&target, data, size);
}
