/*
 * config.c — the root of the config schema: which key belongs to which
 * subsystem's table, and where each subsystem's struct sits in struct
 * appliance_config. The tables themselves live beside their structs:
 * sched ("cores"), pkt ("pool"), drivers ("nic"), net ("interfaces",
 * "tcp"), the appliance table ("app" and each appliance's section) and
 * the API ("api"). The same root validates the boot config and PUT
 * /v1/config, fills the typed structs and renders the JSON Schema.
 */
#include <stddef.h>
#include <string.h>
#include "appliance/appliance.h"
#include "core/schema.h"

#define AT(x) .off = offsetof(struct appliance_config, x)

static const struct schema_node root_fields[] = {
	{ .key = "name", .kind = SK_STRING, .flags = SF_RUNTIME, .min = 1, .max = 64,
	  .type = ST_STR, AT(name),
	  .doc = "The appliance's name, for logs." },
	{ .kind = SK_INCLUDE, .sub = apps_schema, AT(apps) },
	{ .key = "cores", .kind = SK_OBJECT, .sub = sched_schema, AT(sched), .doc = "The per-core loops." },
	{ .kind = SK_INCLUDE, .sub = net_schema, AT(net) },
	{ .key = "pool", .kind = SK_OBJECT, .sub = pkt_schema, AT(pool), .doc = "Packet buffer pools." },
	{ .key = "nic", .kind = SK_OBJECT, .sub = netdev_schema, AT(nic), .doc = "virtio-net devices." },
	{ .key = "api", .kind = SK_OBJECT, .flags = SF_HAS, .sub = api_schema, AT(api),
	  .has_off = offsetof(struct appliance_config, api.on),
	  .doc = "The HTTPS REST API on core 0." },
	{ .kind = SK_END }
};

const struct schema_node appliance_schema = {
	.kind = SK_OBJECT, .sub = root_fields,
	.doc = "A Pollux appliance configuration (configs/*.json, /v1/config)."
};

int appliance_config_read(const json_t *doc, struct appliance_config *c, char *err, size_t errlen)
{
	int rc = schema_validate(&appliance_schema, doc, err, errlen);
	if (rc) {
		/* the path may hold a key of the document as it came (an
		 * unknown one): this message goes to the console, where a
		 * newline or an escape sequence would forge lines */
		for (char *p = err; errlen && *p; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				*p = '?';
		return rc;
	}
	memset(c, 0, sizeof *c);
	schema_fill(&appliance_schema, doc, c);
	return 0;
}
