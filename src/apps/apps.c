/*
 * apps.c — choosing the appliance named by the config's "app".
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <jansson.h>
#include "apps/apps.h"
#include "core/core.h"

int apps_init(const void *cfg, char *err, size_t errlen)
{
	const json_t *app = json_object_get(cfg, "app");
	if (!app)
		return 0;                       /* no appliance: just the runtime */
	const char *name = json_string_value(app);
	if (name && !strcmp(name, "l2fwd"))
		return l2fwd_init(cfg, err, errlen);
	if (name && !strcmp(name, "echo"))
		return echo_init(cfg, err, errlen);
	if (name && !strcmp(name, "iperf"))
		return iperf_init(cfg, err, errlen);
	if (name && !strcmp(name, "web"))
		return web_init(cfg, err, errlen);
	if (name && !strcmp(name, "proxy"))
		return proxy_init(cfg, err, errlen);
	snprintf(err, errlen, "app: must be one of \"l2fwd\", \"echo\", \"iperf\", \"web\", \"proxy\"");
	return -EINVAL;
}

void *apps_free_list(size_t size, unsigned n)
{
	uint8_t *a = frame_alloc_pages((size * n + 4095) / 4096);
	void *head = NULL;
	for (unsigned i = 0; a && i < n; i++)
		apps_give(&head, a + (size_t)(n - 1 - i) * size);
	return head;
}
