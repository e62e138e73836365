/*
 * fake.h — a backend for the API tests: a fixed appliance (2 cores, one
 * interface "eth0" with two queues), a running config that only changes
 * through config_apply, and a record of what the API asked for. Include
 * from exactly one file per test binary.
 */
#ifndef POLLUX_TEST_API_FAKE_H
#define POLLUX_TEST_API_FAKE_H
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "api/api.h"

#define FAKE_TOKEN "s3cret-token-0123456789"

static json_t *fake_cfg;
static int fake_shutdowns, fake_applies, fake_refuse_apply;
static char fake_ifname[API_NAME_MAX] = "eth0";

static void fake_system(void *arg, struct api_system *s)
{
	s->version = "test-1";
	s->uptime_ns = 2500000000ull;
	s->boot_time_unix = 1700000000;
	s->ncores = 2;
	s->mem_bytes = 256ull << 20;
}

static void fake_stats(void *arg, struct api_stats *st)
{
	st->ncores = 2;
	st->core[0].role = "control";
	st->core[1].role = "data";
	for (int c = 0; c < 2; c++) {
		st->core[c].turns = 1000 + c;
		st->core[c].busy_turns = 10 * c;
		st->core[c].busy_cycles = 25 * c;
		st->core[c].idle_cycles = 75;
		st->core[c].chan_depth_in = (uint32_t)c;
		st->core[c].net.rx_frames = 7 + c;
		st->core[c].net.drop_bad_ip_csum = 3;
		st->core[c].net.arp_miss_drop = 1;
	}
	st->nifs = 1;
	struct api_iface_stats *f = &st->ifs[0];
	snprintf(f->name, sizeof f->name, "%s", fake_ifname);
	memcpy(f->mac, "\x52\x54\x00\x12\x34\x56", 6);
	f->addr = 0xc6120002;           /* 198.18.0.2 */
	f->prefix = 24;
	f->gw = 0xc6120001;
	f->mtu = 1500;
	f->link_up = 1;
	f->nqueues = 2;
	for (int q = 0; q < 2; q++) {
		f->q[q].core = (uint32_t)q + 1;
		f->q[q].rx_packets = 100 + (uint64_t)q;
		f->q[q].tx_packets = 200;
		f->q[q].rx_bytes = 6400;
		f->q[q].rx_drop_runt = 2;
		f->q[q].broken = q == 1;
	}
	st->pool_free = 900;
	st->pool_total = 1024;
	st->pool_ext_free = 250;
	st->pool_ext_total = 256;
}

static json_t *fake_config_get(void *arg)
{
	return json_incref(fake_cfg);
}

static int fake_config_apply(void *arg, const json_t *doc, char *err, size_t errlen)
{
	if (fake_refuse_apply) {
		snprintf(err, errlen, "interfaces: the number of queues cannot change at run time");
		return -EBUSY;
	}
	fake_applies++;
	json_decref(fake_cfg);
	fake_cfg = json_deep_copy(doc);
	return 0;
}

static size_t fake_log_lines(void *arg, const char **lines, size_t max)
{
	static const char *l[] = { "pollux test-1: 2 cores", "ready", "bad \xff byte" };
	size_t n = max < 3 ? max : 3;
	for (size_t i = 0; i < n; i++)
		lines[i] = l[i];
	return n;
}

static void fake_shutdown(void *arg) { fake_shutdowns++; }

/* an appliance with its own counters (kv-like) when fake_app_on */
static int fake_app_on, fake_flushes;
static const struct api_app_metric fake_app_m[] = {
	{ "get_hits_total", "Reads that found their key.", 0 },
	{ "curr_items", "Items stored now.", 1 },
	{ "bad name", "Skipped: not a metric name.", 1 },
};
static void fake_app_stats(void *arg, struct api_app_stats *a)
{
	if (!fake_app_on)
		return;
	a->app = "kv";
	a->m = fake_app_m;
	a->nmetrics = 3;
	a->ncores = 3;
	a->on[1] = a->on[2] = 1;        /* core 0: the control core, no shard */
	a->v[1][0] = 7, a->v[2][0] = 5;
	a->v[1][1] = 100, a->v[2][1] = 23;
}
static int fake_app_action(void *arg, const char *app, const char *action, char *err, size_t errlen)
{
	if (!fake_app_on || strcmp(app, "kv"))
		return -ENOENT;
	if (fake_flushes < 0) {
		snprintf(err, errlen, "a shard's channel was full");
		return -ENOBUFS;
	}
	fake_flushes++;
	return 0;
}

/* an httpd-like access log when fake_log_on */
static int fake_log_on;
static int fake_app_log(void *arg, const char *app, char **text, size_t *len)
{
	static const char line[] = "198.18.0.1 - - [03/Dec/2026:19:40:00 +0000] \"GET / HTTP/1.1\" 200 15 \"-\" \"t\"\n";
	if (!fake_log_on || strcmp(app, "httpd"))
		return -ENOENT;
	if (!(*text = strdup(line)))
		return -ENOMEM;
	*len = sizeof line - 1;
	return 0;
}

static const struct api_backend fake_backend = {
	.system = fake_system, .stats = fake_stats, .config_get = fake_config_get,
	.config_apply = fake_config_apply, .log_lines = fake_log_lines, .shutdown = fake_shutdown,
	.app_stats = fake_app_stats, .app_action = fake_app_action, .app_log = fake_app_log,
};

static void fake_reset(void)
{
	json_decref(fake_cfg);
	fake_cfg = json_loads("{\"name\": \"default\", \"cores\": {\"idle\": \"halt\"}}", 0, NULL);
	fake_shutdowns = fake_applies = fake_refuse_apply = 0;
	fake_app_on = fake_flushes = fake_log_on = 0;
	snprintf(fake_ifname, sizeof fake_ifname, "eth0");
}
#endif
