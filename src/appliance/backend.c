/*
 * backend.c — the API's view of the running appliance: a struct
 * api_backend filled from the runtime, shared by both platforms (src/api/
 * never reads another subsystem itself; its unit tests use
 * test/unit/api/fake.h instead).
 *
 * Everything here runs on the control core. The stats are one telemetry
 * snapshot (telemetry.c: relaxed loads, so a scrape never stops a data
 * core). config_apply applies the fields that may change at run time (the
 * schema's SF_RUNTIME rows) and refuses any other difference with 409
 * naming the field (docs/api.md).
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
#include "core/schema.h"
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

/* What can change at run time: the rows of the schema flagged SF_RUNTIME
 * (their paths, from the table, at appliance_backend_init); every other
 * field must equal the running config's, or the document is refused
 * naming the first that differs (nothing applied). The running config is
 * then the new one, and the appliance takes its run-time settings. */
#define RT_MAX_RUNTIME 16
static char runtime_paths[RT_MAX_RUNTIME][SCHEMA_PATH_MAX];
static const char *runtime_list[RT_MAX_RUNTIME + 1];
static char runtime_words[RT_MAX_RUNTIME * (SCHEMA_PATH_MAX + 2)];

void appliance_backend_init(void)
{
	size_t n = schema_runtime_paths(&appliance_schema, runtime_paths, RT_MAX_RUNTIME), off = 0;
	for (size_t i = 0; i < n; i++) {
		runtime_list[i] = runtime_paths[i];
		off += (size_t)snprintf(runtime_words + off, sizeof runtime_words - off, "%s%s",
					i ? ", " : "", runtime_paths[i]);
	}
	runtime_list[n] = NULL;
}

/* The run-time change in two steps (api_config_apply): prepare fills
 * the typed structs from the new document and has the appliance allocate
 * what it needs; commit makes both live and cannot fail. */
struct rt_pending {
	struct appliance_config next;   /* its strings point into the new document */
	void *apps;                     /* the appliance's prepared change */
};
static struct rt_pending rt_pending;    /* one PUT at a time: core 0 only */

static int rt_prepare(void *arg, const json_t *next, void **pending, char *err, size_t errlen)
{
	struct rt_pending *p = &rt_pending;
	int rc = appliance_config_read(next, &p->next, err, errlen);
	if (!rc)
		rc = apps_prepare(&p->next.apps, &p->apps, err, errlen);
	if (rc)
		return rc;
	*pending = p;
	return 0;
}

static void rt_commit(void *arg, json_t *next, void *pending)
{
	struct rt_pending *p = pending;
	apps_commit(&p->next.apps, p->apps);
	p->apps = NULL;
	config_set_root(next);
	klog("config: applied at run time");
}

static const struct api_apply_ops rt_apply_ops = {
	.prepare = rt_prepare, .commit = rt_commit,
};

static int rt_config_apply(void *arg, const json_t *doc, char *err, size_t errlen)
{
	return api_config_apply(config_root(), doc, runtime_list, runtime_words, &rt_apply_ops,
				err, errlen);
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

static void rt_app_stats(void *arg, struct api_app_stats *out)
{
	appliance_app_stats(out);
}

static int rt_app_action(void *arg, const char *app, const char *action, char *err, size_t errlen)
{
	return appliance_app_action(app, action, err, errlen);
}

static int rt_app_log(void *arg, const char *app, char **text, size_t *len)
{
	return appliance_app_log(app, text, len);
}

static int rt_site_put(void *arg, const void *tar, size_t len, struct api_site_summary *sum, char *err,
		       size_t errlen)
{
	return appliance_site_put(tar, len, sum, err, errlen);
}

static int rt_site_list(void *arg, void (*fn)(void *ctx, const struct api_site_entry *e), void *ctx,
			struct api_site_summary *sum)
{
	return appliance_site_list(fn, ctx, sum);
}

const struct api_backend api_runtime_backend = {
	.system = rt_system, .stats = rt_stats, .config_get = rt_config_get,
	.config_apply = rt_config_apply, .log_lines = rt_log_lines, .shutdown = rt_shutdown,
	.app_stats = rt_app_stats, .app_action = rt_app_action, .app_log = rt_app_log,
	.site_put = rt_site_put, .site_list = rt_site_list,
};
