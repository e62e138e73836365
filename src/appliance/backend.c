/*
 * backend.c — the API's view of the running appliance: a struct
 * api_backend filled from the runtime, shared by both platforms (src/api/
 * never reads another subsystem itself; its unit tests use
 * test/unit/api/fake.h instead).
 *
 * Everything here runs on the control core. The stats are one telemetry
 * snapshot (telemetry.c: relaxed loads, so a scrape never stops a data
 * core). config_apply applies the fields that may change at run time and
 * refuses any other difference with 409 naming the field (docs/api.md).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "api/api.h"
#include "appliance/appliance.h"
#include "apps/apps.h"
#include "core/config.h"
#include "core/core.h"
#include "drivers/netdev.h"
#include "net/net.h"
#include "pkt/pktbuf.h"
#include "sched/sched.h"

#ifndef POLLUX_VERSION
#define POLLUX_VERSION "unknown"
#endif

static _Atomic int shutdown_asked;

static void rt_system(void *arg, struct api_system *s)
{
	struct timespec now;
	s->version = POLLUX_VERSION;
	s->uptime_ns = time_ns();
	s->ncores = cores_count();
	s->mem_bytes = mem_total_bytes();
	s->tsc_hz = time_tsc_hz();
	s->boot_time_unix = 0;
	/* a wall clock from before 2020 is no wall clock (a VM may have none) */
	if (!clock_gettime(CLOCK_REALTIME, &now) && now.tv_sec > 1577836800)
		s->boot_time_unix = (uint64_t)now.tv_sec - s->uptime_ns / 1000000000ull;
}

static void rt_stats(void *arg, struct api_stats *st)
{
	appliance_telemetry_snapshot(st);
}

static json_t *rt_config_get(void *arg)
{
	json_t *root = config_root();
	return root ? json_incref(root) : json_object();
}

/* What can change at run time, and how; every other field must equal the
 * running config's, or the document is refused naming the first that
 * differs (nothing applied). The running config is then the new one. */
static const char *const mutable_paths[] = { "name", "web.body", NULL };

static int rt_config_apply(void *arg, const json_t *doc, char *err, size_t errlen)
{
	char path[200];
	int changed = 0;
	json_t *running = config_root();
	if (api_config_diff(running, doc, mutable_paths, path, sizeof path, &changed)) {
		snprintf(err, errlen, "%s: can't change at run time (restart the appliance with the new config); "
			 "what can: name, web.body", path);
		return -EBUSY;
	}
	if (!changed)
		return 0;
	const json_t *nb = json_object_get(json_object_get(doc, "web"), "body");
	const json_t *ob = json_object_get(json_object_get(running, "web"), "body");
	if (web_is_running() && (nb || ob) && !json_equal((json_t *)nb, (json_t *)ob)) {
		int rc = web_set_body(nb ? json_string_value(nb) : NULL, err, errlen);
		if (rc)
			return rc;
	}
	json_t *copy = json_deep_copy(doc);
	if (!copy) {
		snprintf(err, errlen, "no memory for the new config");
		return -ENOMEM;
	}
	config_set_root(copy);
	klog("config: applied at run time");
	return 0;
}

static size_t rt_log_lines(void *arg, const char **lines, size_t max)
{
	static char ring[256][160];
	if (max > 256)
		max = 256;
	size_t n = klog_recent(ring, max);
	for (size_t i = 0; i < n; i++)
		lines[i] = ring[i];
	return n;
}

static void rt_shutdown(void *arg)
{
	atomic_store(&shutdown_asked, 1);
}

int api_runtime_shutdown_asked(void)
{
	return atomic_load(&shutdown_asked);
}

const struct api_backend api_runtime_backend = {
	.system = rt_system, .stats = rt_stats, .config_get = rt_config_get,
	.config_apply = rt_config_apply, .log_lines = rt_log_lines, .shutdown = rt_shutdown,
};

/* Reads the config's "api" object into o (strings borrowed from cfg).
 * Returns 1 when there is one, 0 when there is none (no API), -EINVAL
 * with the field's path in err when a field has the wrong type. */
int api_runtime_opts(const json_t *cfg, uint16_t default_port, struct api_runtime_opts *o,
		     char *err, size_t errlen)
{
	const json_t *api = json_object_get(cfg, "api");
	static const char *const pem_keys[] = { "cert", "key", "client_ca" };
	const char **pems[] = { &o->tls.cert_pem, &o->tls.key_pem, &o->tls.client_ca_pem };
	memset(o, 0, sizeof *o);
	o->port = default_port;
	if (!api)
		return 0;
	if (!json_is_object(api)) {
		snprintf(err, errlen, "config: api: must be an object");
		return -EINVAL;
	}
	const json_t *v = json_object_get(api, "token");
	if (v && (!(o->token = json_string_value(v)) || strlen(o->token) < API_TOKEN_MIN ||
		  strlen(o->token) > API_TOKEN_MAX || strpbrk(o->token, " \t\r\n"))) {
		/* the same words as the schema's (schema.c) */
		snprintf(err, errlen, "config: api.token: must be %d..%d visible ASCII characters, no spaces",
			 API_TOKEN_MIN, API_TOKEN_MAX);
		return -EINVAL;
	}
	v = json_object_get(api, "port");
	if (v) {
		if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 65535) {
			snprintf(err, errlen, "config: api.port: must be 1..65535");
			return -EINVAL;
		}
		o->port = (uint16_t)json_integer_value(v);
	}
	for (int i = 0; i < 3; i++) {
		v = json_object_get(api, pem_keys[i]);
		if (v && !(*pems[i] = json_string_value(v))) {
			snprintf(err, errlen, "config: api.%s: must be PEM text", pem_keys[i]);
			return -EINVAL;
		}
	}
	return 1;
}
