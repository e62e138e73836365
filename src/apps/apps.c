/*
 * apps.c — the appliance table: the config's "app" names one row; the
 * names, the rule that some need "interfaces", and each appliance's
 * settings in the config schema all come from it. Adding an appliance is
 * its own file plus one row here.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include "apps/apps.h"
#include "core/core.h"
#include "core/schema.h"
#include "net/net.h"
#include "sched/sched.h"

const struct app apps_table[] = {
	{ .name = "l2fwd", .schema = &l2fwd_schema, .init = l2fwd_init },
	{ .name = "echo", .schema = &echo_schema, .needs_net = 1, .init = echo_init },
	{ .name = "iperf", .schema = &iperf_schema, .needs_net = 1, .init = iperf_init },
	{ .name = "web", .schema = &web_schema, .needs_net = 1, .init = web_init,
	  .prepare = web_prepare, .commit = web_commit },
	{ .name = "proxy", .schema = &proxy_schema, .needs_net = 1, .init = proxy_init },
	{ .name = "kv", .schema = &kv_schema, .needs_net = 1, .init = kv_init },
	{ .name = "httpd", .schema = &httpd_schema, .needs_net = 1, .init = httpd_init },
	{ .name = NULL }
};
#define APPS_N (sizeof apps_table / sizeof apps_table[0] - 1)

/* An appliance that runs on the stack needs interfaces to run it on. */
static const char *check_app(const struct schema_val *v, const struct schema_val *parent,
			     const struct schema_val *root)
{
	static char why[96];
	const char *name = schema_val_str(v);
	if (schema_val_len(schema_val_get(root, "interfaces")))
		return NULL;
	for (size_t i = 0; i < APPS_N; i++)
		if (apps_table[i].needs_net && !strcmp(name, apps_table[i].name)) {
			snprintf(why, sizeof why, "\"%s\" needs \"interfaces\" with an address", name);
			return why;
		}
	return NULL;
}

const struct schema_node apps_schema[] = {
	{ .key = "app", .kind = SK_ENUM, .choices = &apps_table[0].name, .stride = sizeof(struct app),
	  .check = check_app, .type = ST_INT, .off = offsetof(struct apps_config, app), .def = -1,
	  .doc = "The appliance to run (none: just the runtime)." },
	{ .kind = SK_INCLUDE, .parts = &apps_table[0].schema, .stride = sizeof(struct app), .max = APPS_N },
	{ .kind = SK_END }
};

int apps_init(const struct apps_config *cfg, char *err, size_t errlen)
{
	if (cfg->app < 0)
		return 0;                       /* no appliance: just the runtime */
	const struct app *a = &apps_table[cfg->app];
	if (a->needs_net && net_if_count() == 0) {
		snprintf(err, errlen, "%s: needs \"interfaces\" with an address", a->name);
		return -EINVAL;
	}
	return a->init(cfg, err, errlen);
}

int apps_prepare(const struct apps_config *next, void **pending, char *err, size_t errlen)
{
	*pending = NULL;
	if (next->app < 0 || !apps_table[next->app].prepare)
		return 0;
	return apps_table[next->app].prepare(next, pending, err, errlen);
}

void apps_commit(const struct apps_config *next, void *pending)
{
	if (next->app >= 0 && apps_table[next->app].commit)
		apps_table[next->app].commit(pending);
}

/* ---- idle timeouts */
static void idle_fire(struct timer *t, void *arg)
{
	struct apps_idle *i = arg;
	uint64_t due = i->last_ns + i->timeout_ns;
	if (due > time_ns()) {                  /* touched since: wait on */
		sched_timer_arm(t, due, 0);
		return;
	}
	i->expired(i);                          /* may free i: touch nothing after */
}

void apps_idle_start(struct apps_idle *i, uint32_t timeout_s, void (*expired)(struct apps_idle *i))
{
	timer_init(&i->t, idle_fire, i);
	i->expired = expired;
	i->timeout_ns = (uint64_t)timeout_s * 1000000000ull;
	i->last_ns = time_ns();
	if (timeout_s)
		sched_timer_arm(&i->t, i->last_ns + i->timeout_ns, 0);
}

void apps_idle_stop(struct apps_idle *i)
{
	sched_timer_cancel(&i->t);
}

void *apps_free_list(size_t size, unsigned n)
{
	uint8_t *a = frame_alloc_pages((size * n + 4095) / 4096);
	void *head = NULL;
	for (unsigned i = 0; a && i < n; i++)
		apps_give(&head, a + (size_t)(n - 1 - i) * size);
	return head;
}
