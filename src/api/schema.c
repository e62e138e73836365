/*
 * schema.c — the config schema as a table, its validator and its JSON
 * Schema rendering (for the OpenAPI document).
 *
 * The schema is data: a tree of struct schema_node, each giving a field's
 * key, kind, bounds and documentation. The validator walks the document
 * and the tree together and stops at the first bad field, reporting its
 * path ("interfaces[1].mtu") and a reason derived from the node (or the
 * node's own message). Unknown keys are errors. api_config_schema()
 * renders the very same tree, so the validator and the OpenAPI document
 * cannot drift apart.
 *
 * The bounds repeat what the subsystems check when they apply a config
 * (src/sched/loop.c, src/net/iface.c, src/apps/, src/core/main.c); this
 * file is the one place that refuses a document before any of it is used.
 * What depends on the machine (how many devices, cores) is left to them.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "api/api_priv.h"

/* ---- formats and cross-field rules */

/* Parses "a.b.c.d" (prefix NULL) or "a.b.c.d/p" strictly: decimal octets
 * of one to three digits, no signs, no spaces. */
static int parse_ipv4(const char *s, uint32_t *addr, int *prefix)
{
	uint32_t a = 0;
	for (int i = 0; i < 4; i++) {
		unsigned v = 0, n = 0;
		while (*s >= '0' && *s <= '9' && n < 4) {
			v = v * 10 + (unsigned)(*s++ - '0');
			n++;
		}
		if (n == 0 || n > 3 || v > 255)
			return -1;
		a = a << 8 | v;
		if (i < 3 && *s++ != '.')
			return -1;
	}
	*addr = a;
	if (!prefix)
		return *s ? -1 : 0;
	if (*s++ != '/')
		return -1;
	unsigned p = 0, n = 0;
	while (*s >= '0' && *s <= '9' && n < 3) {
		p = p * 10 + (unsigned)(*s++ - '0');
		n++;
	}
	if (n == 0 || *s || p < 1 || p > 32)
		return -1;
	*prefix = (int)p;
	return 0;
}

/* "dhcp" asks the DHCP client (src/net/dhcp.c) for the address. */
static const char *check_cidr(const json_t *v, const json_t *parent, const json_t *root)
{
	uint32_t a;
	int p;
	if (!strcmp(json_string_value(v), "dhcp"))
		return NULL;
	return parse_ipv4(json_string_value(v), &a, &p) || !a
		? "must be \"a.b.c.d/prefix\" (prefix 1..32) or \"dhcp\"" : NULL;
}

/* The gateway must be on the interface's subnet (ip.c needs it to be
 * reachable); the address is checked first, as it comes first in the table. */
static const char *check_gateway(const json_t *v, const json_t *parent, const json_t *root)
{
	uint32_t gw, a;
	int p;
	if (parse_ipv4(json_string_value(v), &gw, NULL))
		return "must be \"a.b.c.d\"";
	const char *addr = json_string_value(json_object_get(parent, "address"));
	if (addr && !strcmp(addr, "dhcp"))
		return "not with \"address\": \"dhcp\" (the server names the router)";
	if (!addr || parse_ipv4(addr, &a, &p))
		return NULL;            /* reported at "address" */
	uint32_t mask = p == 32 ? ~0u : ~(~0u >> p);
	if ((gw & mask) != (a & mask))
		return "must be an address on the interface's subnet";
	return NULL;
}

static const char *check_app(const json_t *v, const json_t *parent, const json_t *root)
{
	static const char *const need_stack[][2] = {
		{ "echo", "\"echo\" needs \"interfaces\" with an address" },
		{ "iperf", "\"iperf\" needs \"interfaces\" with an address" },
		{ "web", "\"web\" needs \"interfaces\" with an address" },
		{ "proxy", "\"proxy\" needs \"interfaces\" with an address" },
	};
	const char *app = json_string_value(v);
	if (json_array_size(json_object_get(root, "interfaces")))
		return NULL;
	for (size_t i = 0; i < sizeof need_stack / sizeof need_stack[0]; i++)
		if (!strcmp(app, need_stack[i][0]))
			return need_stack[i][1];
	return NULL;
}

/* A bearer token travels in an HTTP header: visible ASCII, no spaces. */
static const char *check_token(const json_t *v, const json_t *parent, const json_t *root)
{
	for (const char *s = json_string_value(v); *s; s++)
		if (*s < 0x21 || *s > 0x7e)
			return "must be visible ASCII characters, no spaces";
	return NULL;
}

static const char *check_pem(const json_t *v, const json_t *parent, const json_t *root)
{
	if (strncmp(json_string_value(v), "-----BEGIN ", 11))
		return "must be PEM text (\"-----BEGIN ...\")";
	return NULL;
}

/* ---- the table */
static const char *const idle_choices[] = { "poll", "halt", NULL };
static const char *const app_choices[] = { "l2fwd", "echo", "iperf", "web", "proxy", NULL };
static const char *const l2fwd_modes[] = { "macswap", "io", NULL };

#define END { .kind = SK_END }

static const struct schema_node idle_one[] = {
	{ .kind = SK_ENUM, .choices = idle_choices,
	  .doc = "Every core's idle policy: spin (poll) or sleep until work arrives (halt)." },
	{ .kind = SK_ARRAY, .max = API_MAX_CORES,
	  .sub = (const struct schema_node[]){
		  { .kind = SK_ENUM, .choices = idle_choices }, END },
	  .doc = "One idle policy per core, by core id; cores past the list keep the default." },
	END
};

static const struct schema_node cores_fields[] = {
	{ .key = "idle", .kind = SK_ONE_OF, .sub = idle_one,
	  .msg = "must be \"poll\", \"halt\" or a list of them",
	  .doc = "Idle policy (default: core 0 halts, data cores poll)." },
	{ .key = "halt_after", .kind = SK_INTEGER, .min = 1, .max = 1000000,
	  .doc = "Idle turns before a halting core sleeps (default 64)." },
	{ .key = "halt_max_us", .kind = SK_INTEGER, .min = 10, .max = 1000000,
	  .doc = "Longest sleep of a halting core, in microseconds (default 1000)." },
	{ .key = "arena_kib", .kind = SK_INTEGER, .min = 64, .max = 1 << 20,
	  .doc = "Each core's start-up arena in KiB (default 1024)." },
	{ .key = "channel_slots", .kind = SK_INTEGER, .flags = SF_POW2, .min = 4, .max = 65536,
	  .doc = "Slots of each inter-core channel (default 256)." },
	END
};

/* interfaces[i].routes[j]: a network (no host bits) and a gateway on the
 * interface's subnet (a DHCP interface's subnet is known only later) */
static const char *check_route_to(const json_t *v, const json_t *parent, const json_t *root)
{
	uint32_t a;
	int p;
	if (parse_ipv4(json_string_value(v), &a, &p))
		return "must be \"a.b.c.d/prefix\"";
	if (p < 32 && (a & (p ? ~0u >> p : ~0u)))
		return "host bits set";
	return NULL;
}

static const char *check_route_via(const json_t *v, const json_t *parent, const json_t *root)
{
	uint32_t via, a;
	int p;
	if (parse_ipv4(json_string_value(v), &via, NULL))
		return "must be \"a.b.c.d\"";
	/* the interface whose routes hold this one */
	size_t i, j;
	const json_t *ifc, *r;
	json_array_foreach(json_object_get(root, "interfaces"), i, ifc)
		json_array_foreach(json_object_get(ifc, "routes"), j, r)
			if (r == parent) {
				const char *addr = json_string_value(json_object_get(ifc, "address"));
				if (!addr || !strcmp(addr, "dhcp") || parse_ipv4(addr, &a, &p))
					return NULL;    /* dhcp: known later; a bad address is reported there */
				uint32_t mask = p == 32 ? ~0u : ~(~0u >> p);
				return (via & mask) == (a & mask) ? NULL : "must be an address on the interface's subnet";
			}
	return NULL;
}

static const struct schema_node route_fields[] = {
	{ .key = "to", .kind = SK_STRING, .flags = SF_REQUIRED, .min = 7, .max = 18, .check = check_route_to,
	  .format = "^[0-9]{1,3}(\\.[0-9]{1,3}){3}(/[0-9]{1,2})?$",
	  .doc = "The destination network, \"a.b.c.d/prefix\"." },
	{ .key = "via", .kind = SK_STRING, .flags = SF_REQUIRED, .min = 7, .max = 15, .check = check_route_via,
	  .format = "^[0-9]{1,3}(\\.[0-9]{1,3}){3}$",
	  .doc = "The gateway, on the interface's subnet." },
	END
};

static const struct schema_node route_item[] = {
	{ .kind = SK_OBJECT, .sub = route_fields, .doc = "A static route: the longest matching prefix wins." },
	END
};

static const struct schema_node iface_fields[] = {
	{ .key = "address", .kind = SK_STRING, .flags = SF_REQUIRED, .min = 4, .max = 18,
	  .check = check_cidr, .format = "^(dhcp|[0-9]{1,3}(\\.[0-9]{1,3}){3}/[0-9]{1,2})$",
	  .msg = "must be \"a.b.c.d/prefix\" (prefix 1..32) or \"dhcp\"",
	  .doc = "IPv4 address and prefix length, e.g. \"198.18.0.2/24\", or \"dhcp\"." },
	{ .key = "gateway", .kind = SK_STRING, .min = 7, .max = 15,
	  .check = check_gateway, .format = "^[0-9]{1,3}(\\.[0-9]{1,3}){3}$",
	  .msg = "must be \"a.b.c.d\"",
	  .doc = "Default gateway, on the interface's subnet." },
	{ .key = "mtu", .kind = SK_INTEGER, .min = 68, .max = 9000,
	  .doc = "MTU in bytes; never above what the device offers (default: the device's)." },
	{ .key = "vlan", .kind = SK_INTEGER, .min = 1, .max = 4094, .msg = "must be a VLAN id, 1..4094",
	  .doc = "802.1Q VLAN id: frames on the device are tagged with it." },
	{ .key = "routes", .kind = SK_ARRAY, .max = 16, .sub = route_item,
	  .doc = "Static routes, before the default gateway." },
	END
};

static const struct schema_node ifaces_item[] = {
	{ .kind = SK_OBJECT, .sub = iface_fields,
	  .doc = "One network device, in discovery order (eth0, eth1, ...)." },
	END
};

static const struct schema_node pool_fields[] = {
	{ .key = "buffers_per_core", .kind = SK_INTEGER, .min = 64, .max = 1 << 20,
	  .doc = "Packet buffers in each core's pool (default 4096 with devices, else 256)." },
	END
};

static const struct schema_node nic_fields[] = {
	{ .key = "rx_ring", .kind = SK_INTEGER, .min = 0, .max = 32768,
	  .doc = "RX buffers posted per queue (0: the device's ring size)." },
	END
};

static const struct schema_node tcp_fields[] = {
	{ .key = "max_conns_per_core", .kind = SK_INTEGER, .min = 4, .max = 1000000,
	  .doc = "TCP connections each core can hold (default 1024)." },
	{ .key = "send_buffer", .kind = SK_INTEGER, .flags = SF_POW2, .min = 4096, .max = 16 << 20,
	  .doc = "Bytes of a send buffer (default 65536)." },
	{ .key = "send_buffers", .kind = SK_INTEGER, .min = 1, .max = 1000000,
	  .doc = "Send buffers per core, lent to connections while they have data in flight "
		 "(default: the connection slots, at most 256)." },
	{ .key = "tso_max", .kind = SK_INTEGER, .min = 0, .max = 65536,
	  .doc = "Payload bytes per TSO frame where the device offers TSO (default 65536 capped by "
		 "the device; 0: off)." },
	END
};

static const struct schema_node pair_item[] = {
	{ .kind = SK_INTEGER, .min = 0, .max = API_MAX_IFS - 1, .doc = "A device index." },
	END
};

static const struct schema_node pairs_item[] = {
	{ .kind = SK_ARRAY, .min = 2, .max = 2, .sub = pair_item,
	  .msg = "must be [a, b] device indices",
	  .doc = "Two devices that forward to each other." },
	END
};

static const struct schema_node l2fwd_fields[] = {
	{ .key = "mode", .kind = SK_ENUM, .choices = l2fwd_modes,
	  .doc = "Swap MAC addresses (macswap, default) or forward as is (io)." },
	{ .key = "burst", .kind = SK_INTEGER, .min = 1, .max = 64,
	  .doc = "Packets per receive burst (default 32)." },
	{ .key = "pairs", .kind = SK_ARRAY, .max = API_MAX_IFS, .sub = pairs_item,
	  .doc = "Device pairs (default: each device back to itself)." },
	END
};

static const struct schema_node web_fields[] = {
	{ .key = "port", .kind = SK_INTEGER, .min = 1, .max = 65535,
	  .doc = "TCP port the web appliance answers on (default 80)." },
	{ .key = "body", .kind = SK_STRING, .min = 0, .max = 4096,
	  .doc = "The body every GET gets (default \"hello from pollux\\n\")." },
	END
};

static const char *check_backend(const json_t *v, const json_t *parent, const json_t *root)
{
	unsigned a, b, c, d, port;
	char tail;
	if (sscanf(json_string_value(v), "%u.%u.%u.%u:%u%c", &a, &b, &c, &d, &port, &tail) != 5 ||
	    a > 255 || b > 255 || c > 255 || d > 255 || port == 0 || port > 65535)
		return "must be \"a.b.c.d:port\"";
	return NULL;
}

static const struct schema_node proxy_fields[] = {
	{ .key = "listen", .kind = SK_INTEGER, .flags = SF_REQUIRED, .min = 1, .max = 65535,
	  .doc = "TCP port the proxy accepts on." },
	{ .key = "backend", .kind = SK_STRING, .flags = SF_REQUIRED, .min = 9, .max = 21,
	  .check = check_backend, .format = "^[0-9]{1,3}(\\.[0-9]{1,3}){3}:[0-9]{1,5}$",
	  .doc = "Where each accepted connection is relayed to, \"a.b.c.d:port\"." },
	END
};

static const struct schema_node api_fields[] = {
	{ .key = "token", .kind = SK_STRING, .min = API_TOKEN_MIN, .max = API_TOKEN_MAX,
	  .check = check_token,
	  .doc = "Bearer token every request must carry (Authorization: Bearer <token>)." },
	{ .key = "port", .kind = SK_INTEGER, .min = 1, .max = 65535,
	  .doc = "TCP port of the HTTPS server (default 443)." },
	{ .key = "interface", .kind = SK_INTEGER, .min = 0, .max = API_MAX_IFS - 1,
	  .doc = "Index in \"interfaces\" of the management interface (default 0)." },
	{ .key = "cert", .kind = SK_STRING, .min = 1, .max = 16384, .check = check_pem,
	  .doc = "Server certificate chain, PEM (default: a self-signed ECDSA P-256 one)." },
	{ .key = "key", .kind = SK_STRING, .min = 1, .max = 16384, .check = check_pem,
	  .doc = "The certificate's private key, PEM." },
	{ .key = "client_ca", .kind = SK_STRING, .min = 1, .max = 65536, .check = check_pem,
	  .doc = "CA certificates, PEM: a client certificate they signed stands in for the token." },
	END
};

static const struct schema_node root_fields[] = {
	{ .key = "name", .kind = SK_STRING, .min = 1, .max = 64,
	  .doc = "The appliance's name, for logs." },
	{ .key = "app", .kind = SK_ENUM, .choices = app_choices, .check = check_app,
	  .doc = "The appliance to run (none: just the runtime)." },
	{ .key = "cores", .kind = SK_OBJECT, .sub = cores_fields, .doc = "The per-core loops." },
	{ .key = "interfaces", .kind = SK_ARRAY, .max = API_MAX_IFS, .sub = ifaces_item,
	  .doc = "Addresses of the network devices that run the TCP/IP stack." },
	{ .key = "pool", .kind = SK_OBJECT, .sub = pool_fields, .doc = "Packet buffer pools." },
	{ .key = "nic", .kind = SK_OBJECT, .sub = nic_fields, .doc = "virtio-net devices." },
	{ .key = "tcp", .kind = SK_OBJECT, .sub = tcp_fields, .doc = "The TCP stack." },
	{ .key = "l2fwd", .kind = SK_OBJECT, .sub = l2fwd_fields, .doc = "The l2fwd appliance." },
	{ .key = "web", .kind = SK_OBJECT, .sub = web_fields, .doc = "The web appliance." },
	{ .key = "proxy", .kind = SK_OBJECT, .sub = proxy_fields, .doc = "The TCP proxy appliance." },
	{ .key = "api", .kind = SK_OBJECT, .sub = api_fields, .doc = "The HTTPS REST API on core 0." },
	END
};

const struct schema_node api_config_root = {
	.kind = SK_OBJECT, .sub = root_fields,
	.doc = "A Pollux appliance configuration (configs/*.json, /v1/config)."
};

/* ---- validation */
struct walk {
	const json_t *root;
	char path[160];
	const char *reason;
	char why[160];
};

static const char *kind_word(enum schema_kind k)
{
	switch (k) {
	case SK_OBJECT: return "must be an object";
	case SK_ARRAY: return "must be a list";
	case SK_STRING: return "must be a string";
	case SK_BOOLEAN: return "must be true or false";
	default: return "is not valid";
	}
}

/* The reason a value fails node n: the node's own message or one derived
 * from its bounds, so the table stays the single source. */
static const char *reason(struct walk *w, const struct schema_node *n)
{
	if (n->msg)
		return n->msg;
	switch (n->kind) {
	case SK_INTEGER:
		snprintf(w->why, sizeof w->why, "must be %s%lld..%lld",
			 n->flags & SF_POW2 ? "a power of two, " : "", n->min, n->max);
		return w->why;
	case SK_ENUM: {
		size_t k = 0, off = 0;
		while (n->choices[k])
			k++;
		off = (size_t)snprintf(w->why, sizeof w->why, "must be %s", k > 2 ? "one of " : "");
		for (size_t i = 0; i < k && off < sizeof w->why; i++)
			off += (size_t)snprintf(w->why + off, sizeof w->why - off, "%s\"%s\"",
						i == 0 ? "" : k == 2 ? " or " : ", ", n->choices[i]);
		return w->why;
	}
	case SK_STRING:
		snprintf(w->why, sizeof w->why, "must be a string of %lld..%lld characters", n->min, n->max);
		return w->why;
	case SK_ARRAY:
		if (n->max && !n->min)
			snprintf(w->why, sizeof w->why, "must be a list of at most %lld entries", n->max);
		else if (n->max)
			snprintf(w->why, sizeof w->why, "must be a list of %lld..%lld entries", n->min, n->max);
		if (n->max)
			return w->why;
		return kind_word(n->kind);
	default:
		return kind_word(n->kind);
	}
}

static int fail(struct walk *w, const char *why)
{
	w->reason = why;
	return -EINVAL;
}

static int walk_value(struct walk *w, const struct schema_node *n, const json_t *v, const json_t *parent);

/* Appends ".key" or "[i]" to the path for the duration of a call. */
static size_t path_push(struct walk *w, const char *key, size_t idx)
{
	size_t len = strlen(w->path);
	if (key)
		snprintf(w->path + len, sizeof w->path - len, "%s%s", len ? "." : "", key);
	else
		snprintf(w->path + len, sizeof w->path - len, "[%zu]", idx);
	return len;
}

static int walk_object(struct walk *w, const struct schema_node *n, const json_t *v)
{
	const char *key;
	const json_t *x;
	json_object_foreach((json_t *)v, key, x) {
		const struct schema_node *f = n->sub;
		while (f->kind != SK_END && strcmp(f->key, key))
			f++;
		if (f->kind == SK_END) {
			path_push(w, key, 0);
			return fail(w, "unknown key");
		}
	}
	/* table order, not the document's: errors come out the same for the
	 * same document, and a field's check may rely on an earlier one */
	for (const struct schema_node *f = n->sub; f->kind != SK_END; f++) {
		size_t len = path_push(w, f->key, 0);
		x = json_object_get(v, f->key);
		if (!x && (f->flags & SF_REQUIRED))
			return fail(w, "required");
		if (x && walk_value(w, f, x, v))
			return -EINVAL;
		w->path[len] = 0;
	}
	return 0;
}

static int walk_array(struct walk *w, const struct schema_node *n, const json_t *v)
{
	size_t sz = json_array_size(v);
	if ((long long)sz < n->min || (n->max && (long long)sz > n->max))
		return fail(w, reason(w, n));
	for (size_t i = 0; i < sz; i++) {
		size_t len = path_push(w, NULL, i);
		if (walk_value(w, n->sub, json_array_get(v, i), v))
			return -EINVAL;
		w->path[len] = 0;
	}
	return 0;
}

/* ONE_OF picks the first alternative whose JSON type fits, so a list of
 * idle policies reports the bad entry, not the whole list. */
static int type_fits(const struct schema_node *n, const json_t *v)
{
	switch (n->kind) {
	case SK_OBJECT: return json_is_object(v);
	case SK_ARRAY: return json_is_array(v);
	case SK_STRING: case SK_ENUM: return json_is_string(v);
	case SK_INTEGER: return json_is_integer(v);
	case SK_BOOLEAN: return json_is_boolean(v);
	default: return 0;
	}
}

static int walk_value(struct walk *w, const struct schema_node *n, const json_t *v, const json_t *parent)
{
	if (n->kind == SK_ONE_OF) {
		for (const struct schema_node *a = n->sub; a->kind != SK_END; a++)
			if (type_fits(a, v))
				return walk_value(w, a, v, parent);
		return fail(w, reason(w, n));
	}
	if (!type_fits(n, v))
		return fail(w, n->kind == SK_OBJECT || n->kind == SK_BOOLEAN ? kind_word(n->kind)
									     : reason(w, n));
	switch (n->kind) {
	case SK_OBJECT:
		return walk_object(w, n, v);
	case SK_ARRAY:
		if (walk_array(w, n, v))
			return -EINVAL;
		break;
	case SK_INTEGER: {
		json_int_t x = json_integer_value(v);
		if (x < n->min || x > n->max || ((n->flags & SF_POW2) && (x & (x - 1))))
			return fail(w, reason(w, n));
		break;
	}
	case SK_STRING: {
		size_t len = json_string_length(v);
		if ((long long)len < n->min || (long long)len > n->max ||
		    strlen(json_string_value(v)) != len)        /* no NUL inside */
			return fail(w, reason(w, n));
		break;
	}
	case SK_ENUM: {
		const char *s = json_string_value(v);
		size_t k = 0;
		while (n->choices[k] && strcmp(n->choices[k], s))
			k++;
		if (!n->choices[k] || strlen(s) != json_string_length(v))
			return fail(w, reason(w, n));
		break;
	}
	default:
		break;
	}
	const char *why = n->check ? n->check(v, parent, w->root) : NULL;
	return why ? fail(w, why) : 0;
}

int api_config_validate(const json_t *doc, char *err, size_t errlen)
{
	struct walk w = { .root = doc };
	if (!doc || walk_value(&w, &api_config_root, doc, NULL) == 0)
		return doc ? 0 : -EINVAL;
	snprintf(err, errlen, "%s: %s", w.path[0] ? w.path : "(document)", w.reason);
	return -EINVAL;
}

/* ---- JSON Schema rendering */
static json_t *render(const struct schema_node *n)
{
	json_t *o = json_object();
	if (n->doc)
		json_object_set_new(o, "description", json_string(n->doc));
	switch (n->kind) {
	case SK_OBJECT: {
		json_t *props = json_object(), *req = json_array();
		for (const struct schema_node *f = n->sub; f->kind != SK_END; f++) {
			json_object_set_new(props, f->key, render(f));
			if (f->flags & SF_REQUIRED)
				json_array_append_new(req, json_string(f->key));
		}
		json_object_set_new(o, "type", json_string("object"));
		json_object_set_new(o, "properties", props);
		json_object_set_new(o, "additionalProperties", json_false());
		if (json_array_size(req))
			json_object_set_new(o, "required", req);
		else
			json_decref(req);
		break;
	}
	case SK_ARRAY:
		json_object_set_new(o, "type", json_string("array"));
		json_object_set_new(o, "items", render(n->sub));
		if (n->min)
			json_object_set_new(o, "minItems", json_integer(n->min));
		if (n->max)
			json_object_set_new(o, "maxItems", json_integer(n->max));
		break;
	case SK_INTEGER:
		json_object_set_new(o, "type", json_string("integer"));
		json_object_set_new(o, "minimum", json_integer(n->min));
		json_object_set_new(o, "maximum", json_integer(n->max));
		if (n->flags & SF_POW2)
			json_object_set_new(o, "x-power-of-two", json_true());
		break;
	case SK_STRING:
		json_object_set_new(o, "type", json_string("string"));
		json_object_set_new(o, "minLength", json_integer(n->min));
		json_object_set_new(o, "maxLength", json_integer(n->max));
		if (n->format)
			json_object_set_new(o, "pattern", json_string(n->format));
		break;
	case SK_ENUM: {
		json_t *e = json_array();
		for (size_t k = 0; n->choices[k]; k++)
			json_array_append_new(e, json_string(n->choices[k]));
		json_object_set_new(o, "type", json_string("string"));
		json_object_set_new(o, "enum", e);
		break;
	}
	case SK_BOOLEAN:
		json_object_set_new(o, "type", json_string("boolean"));
		break;
	case SK_ONE_OF: {
		json_t *alts = json_array();
		for (const struct schema_node *a = n->sub; a->kind != SK_END; a++)
			json_array_append_new(alts, render(a));
		json_object_set_new(o, "oneOf", alts);
		break;
	}
	default:
		break;
	}
	return o;
}

json_t *api_config_schema(void)
{
	return render(&api_config_root);
}
