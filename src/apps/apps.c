/*
 * apps.c — choosing the appliance named by the config's "app".
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <jansson.h>
#include "apps/apps.h"

int apps_init(const void *cfg, char *err, size_t errlen)
{
	const json_t *app = json_object_get(cfg, "app");
	if (!app)
		return 0;                       /* no appliance: just the runtime */
	const char *name = json_string_value(app);
	if (name && !strcmp(name, "l2fwd"))
		return l2fwd_init(cfg, err, errlen);
	snprintf(err, errlen, "app: must be one of \"l2fwd\"");
	return -EINVAL;
}
