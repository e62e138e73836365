/*
 * openapi.c — the OpenAPI 3.0 document served at /v1/openapi.json,
 * generated from the route table (routes.c) and the config schema
 * (schema.c: the root handed to api_config_use, every subsystem's table):
 * a route or a config field added there appears here without another
 * edit. Only the shapes of the read-only responses are written
 * out below, as JSON Schema text.
 */
#include <stdio.h>
#include <string.h>
#include "api/api_priv.h"

#define U "{\"type\":\"integer\",\"minimum\":0}"
static const struct { const char *name, *schema; } shapes[] = {
	{ "Error", "{\"type\":\"object\",\"required\":[\"error\"],\"properties\":{\"error\":"
		   "{\"type\":\"string\",\"description\":\"What was wrong; for a bad config, "
		   "the path of the first bad field and why, e.g. "
		   "\\\"interfaces[1].mtu: must be 68..9000\\\"\"}}}" },
	{ "Status", "{\"type\":\"object\",\"properties\":{\"status\":{\"type\":\"string\"}}}" },
	{ "System", "{\"type\":\"object\",\"properties\":{\"version\":{\"type\":\"string\"},"
		    "\"uptime_s\":{\"type\":\"number\"},\"boot_time\":{\"type\":\"integer\","
		    "\"description\":\"Unix seconds; 0 when the clock is unknown\"},"
		    "\"cores\":" U ",\"memory_bytes\":" U "}}" },
	{ "Cores", "{\"type\":\"object\",\"properties\":{\"cores\":{\"type\":\"array\",\"items\":"
		   "{\"type\":\"object\",\"properties\":{\"id\":" U ",\"role\":{\"type\":\"string\","
		   "\"enum\":[\"control\",\"data\"]},\"turns\":" U ",\"busy_turns\":" U ","
		   "\"busy_percent\":{\"type\":\"number\"},\"rx_packets\":" U ",\"tx_packets\":" U ","
		   "\"drops\":" U ",\"channel_depth\":" U ",\"tcp_conns\":" U "}}}}}" },
	{ "Interface", "{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\"},"
		       "\"mac\":{\"type\":\"string\"},\"address\":{\"type\":\"string\",\"nullable\":true},"
		       "\"gateway\":{\"type\":\"string\",\"nullable\":true},\"mtu\":" U ","
		       "\"link\":{\"type\":\"string\",\"enum\":[\"up\",\"down\"]},"
		       "\"queues\":{\"type\":\"array\",\"items\":{\"type\":\"object\",\"properties\":"
		       "{\"queue\":" U ",\"core\":" U ",\"rx_packets\":" U ",\"tx_packets\":" U ","
		       "\"rx_bytes\":" U ",\"tx_bytes\":" U ",\"broken\":{\"type\":\"boolean\"}}}},"
		       "\"counters\":{\"type\":\"object\",\"properties\":{\"rx_packets\":" U ","
		       "\"tx_packets\":" U ",\"rx_bytes\":" U ",\"tx_bytes\":" U ",\"tx_ring_full\":" U ","
		       "\"drops\":{\"type\":\"object\",\"properties\":{\"rx_no_buffer\":" U ","
		       "\"rx_runt\":" U ",\"rx_too_long\":" U ",\"tx_too_long\":" U "}}}}}}" },
	{ "Interfaces", "{\"type\":\"object\",\"properties\":{\"interfaces\":{\"type\":\"array\","
			"\"items\":{\"$ref\":\"#/components/schemas/Interface\"}}}}" },
	{ "Log", "{\"type\":\"object\",\"properties\":{\"lines\":{\"type\":\"array\","
		 "\"items\":{\"type\":\"string\"}}}}" },
	{ "AppStats", "{\"type\":\"object\",\"properties\":{\"app\":{\"type\":\"string\"},"
		      "\"cores\":{\"type\":\"array\",\"items\":{\"type\":\"object\","
		      "\"additionalProperties\":{\"type\":\"integer\"}}},"
		      "\"total\":{\"type\":\"object\",\"additionalProperties\":{\"type\":\"integer\"}}}}" },
	{ "Site", "{\"type\":\"object\",\"properties\":{\"files\":" U ",\"dirs\":" U ",\"bytes\":" U ","
		  "\"entries\":{\"type\":\"array\",\"description\":\"Every file, sorted by path\","
		  "\"items\":{\"type\":\"object\",\"properties\":{\"path\":{\"type\":\"string\","
		  "\"description\":\"No leading slash\"},\"size\":" U ",\"etag\":{\"type\":\"string\","
		  "\"description\":\"Strong, with its quotes, as the ETag header\"},"
		  "\"type\":{\"type\":\"string\",\"description\":\"Content-Type\"},"
		  "\"mtime\":{\"type\":\"integer\",\"description\":\"Unix seconds\"}}}}}}" },
	{ "SiteReplaced", "{\"type\":\"object\",\"properties\":{\"status\":{\"type\":\"string\","
			  "\"enum\":[\"replaced\"]},\"files\":" U ",\"dirs\":" U ",\"bytes\":" U "}}" },
};

static const char *method_key(unsigned m)
{
	switch (m) {
	case API_GET: return "get";
	case API_PUT: return "put";
	case API_POST: return "post";
	default: return "delete";
	}
}

static json_t *ref(const char *name)
{
	char s[96];
	snprintf(s, sizeof s, "#/components/schemas/%s", name);
	return json_pack("{s:s}", "$ref", s);
}

static json_t *json_body(const char *schema)
{
	return json_pack("{s:{s:{s:o}}}", "content", "application/json", "schema", ref(schema));
}

static void add_response(json_t *rs, int status, const char *desc, const char *schema)
{
	char code[8];
	snprintf(code, sizeof code, "%d", status);
	json_t *r = schema ? json_body(schema) : json_object();
	json_object_set_new(r, "description", json_string(desc));
	json_object_set_new(rs, code, r);
}

/* "{name}" segments become path parameters. */
static json_t *path_params(const char *pattern)
{
	json_t *ps = json_array();
	for (const char *p = strchr(pattern, '{'); p; p = strchr(p + 1, '{')) {
		const char *end = strchr(p, '}');
		if (!end)
			break;
		json_array_append_new(ps, json_pack("{s:s%, s:s, s:b, s:{s:s, s:s}}",
			"name", p + 1, (size_t)(end - p - 1), "in", "path", "required", 1,
			"schema", "type", "string", "pattern", "^[A-Za-z0-9._-]{1,63}$"));
	}
	return ps;
}

static json_t *operation(const struct api_route *r)
{
	json_t *op = json_object(), *rs = json_object();
	char id[96], *o = id;
	/* operationId from method and path: get_v1_interfaces_name */
	o += snprintf(id, sizeof id, "%s", method_key(r->method));
	for (const char *p = r->pattern; *p && o < id + sizeof id - 1; p++)
		if (*p != '{' && *p != '}')
			*o++ = *p == '/' || *p == '.' ? '_' : *p;
	*o = 0;
	json_object_set_new(op, "operationId", json_string(id));
	json_object_set_new(op, "summary", json_string(r->summary));
	json_t *ps = path_params(r->pattern);
	int has_params = json_array_size(ps) > 0;
	if (has_params)
		json_object_set_new(op, "parameters", ps);
	else
		json_decref(ps);
	int tar = r->body_schema && !strcmp(r->body_schema, "SiteArchive");
	if (tar) {
		json_object_set_new(op, "requestBody", json_pack("{s:b, s:{s:{s:{s:s, s:s}}}}", "required", 1,
			"content", "application/x-tar", "schema", "type", "string", "format", "binary"));
	} else if (r->body_schema) {
		json_t *body = json_body(r->body_schema);
		json_object_set_new(body, "required", json_true());
		json_object_set_new(op, "requestBody", body);
	}
	int ok = r->method == API_POST ? 202 : 200;
	if (!strcmp(r->pattern, "/metrics"))
		json_object_set_new(rs, "200", json_pack("{s:s, s:{s:{s:{s:s}}}}",
			"description", "Prometheus text exposition format 0.0.4",
			"content", "text/plain; version=0.0.4", "schema", "type", "string"));
	else if (!strcmp(r->pattern, "/v1/openapi.json"))
		json_object_set_new(rs, "200", json_pack("{s:s, s:{s:{s:{s:s}}}}",
			"description", "This OpenAPI document", "content", "application/json",
			"schema", "type", "object"));
	else
		add_response(rs, ok, "Success", r->response_schema);
	if (tar) {
		add_response(rs, 400, "The archive was refused (the error names the entry): the old site is kept",
			     "Error");
		add_response(rs, 409, "The running appliance is not httpd", "Error");
		add_response(rs, 413, "Body larger than api.site_max_mb MiB", "Error");
		add_response(rs, 503, "Another upload is on its way, or out of memory: the old site is kept",
			     "Error");
	} else if (r->body_schema) {
		add_response(rs, 400, "Not JSON, or not valid against the schema: nothing changed", "Error");
		add_response(rs, 409, "Valid, but cannot be applied to the running appliance: nothing changed",
			     "Error");
		add_response(rs, 413, "Body larger than 64 KiB", "Error");
		add_response(rs, 503, "Out of memory: nothing changed", "Error");
	}
	if (has_params)
		add_response(rs, 404, "No such resource", "Error");
	add_response(rs, 401, "Missing or wrong bearer token", "Error");
	int admin = r->role != API_ROLE_MONITOR;
	if (admin)
		add_response(rs, 403, "The credential is read-only (the monitor role)", "Error");
	/* the least role that may call it (api.token: admin, api.monitor_token: monitor) */
	json_object_set_new(op, "x-pollux-role", json_string(admin ? "admin" : "monitor"));
	json_object_set_new(op, "responses", rs);
	return op;
}

json_t *api_openapi(void)
{
	json_t *paths = json_object(), *schemas = json_object();
	for (size_t i = 0; i < api_nroutes; i++) {
		const struct api_route *r = &api_routes[i];
		json_t *item = json_object_get(paths, r->pattern);
		if (!item) {
			item = json_object();
			json_object_set_new(paths, r->pattern, item);
		}
		json_object_set_new(item, method_key(r->method), operation(r));
	}
	json_object_set_new(schemas, "Config", api_config_schema());
	for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
		json_object_set_new(schemas, shapes[i].name, json_loads(shapes[i].schema, 0, NULL));
	return json_pack("{s:s, s:{s:s, s:s, s:s}, s:[{s:[]}], s:o, s:{s:o, s:{s:{s:s, s:s}}}}",
		"openapi", "3.0.3",
		"info", "title", "Pollux control plane", "version", "1",
		"description", "Configure and observe a Pollux appliance. Every request needs "
			       "\"Authorization: Bearer <api.token>\". See docs/api.md.",
		"security", "bearer",
		"paths", paths,
		"components", "schemas", schemas,
		"securitySchemes", "bearer", "type", "http", "scheme", "bearer");
}
