/*
 * schema.c — the API's view of the config schema: the root it was handed
 * (api_config_use: the appliance's, assembled from every subsystem's
 * table) validates PUT /v1/config and is rendered into the OpenAPI
 * document. The engine is core/schema.c; the API has no table of its own
 * besides its "api" section (config.c).
 */
#include <errno.h>
#include <stdio.h>
#include <jansson.h>
#include "api/api.h"
#include "core/schema.h"

static const struct schema_node *root;

void api_config_use(const struct schema_node *r)
{
	root = r;
}

int api_config_validate(const json_t *doc, char *err, size_t errlen)
{
	if (!root) {
		snprintf(err, errlen, "(document): no config schema");
		return -EINVAL;
	}
	return schema_validate(root, doc, err, errlen);
}

json_t *api_config_schema(void)
{
	return root ? schema_render(root) : json_object();
}

json_t *api_config_redact(const json_t *doc)
{
	if (!root)
		return json_object();           /* no schema: nothing known to be safe to show */
	return schema_redact(root, doc);
}

int api_config_unredact(json_t *doc, const json_t *running, char *err, size_t errlen)
{
	return root ? schema_unredact(root, doc, running, err, errlen) : 0;
}
