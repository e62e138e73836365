/*
 * config.c — the stack's part of the config ("interfaces", "tcp"): its
 * schema table, bound to struct net_config (net.h). The schema engine
 * (core/schema.h) validates, fills and documents it; what depends on the
 * machine (a device for each interface, memory for the connections) is
 * net_init's to refuse.
 */
#include <stddef.h>
#include <string.h>
#include "core/schema.h"
#include "net/net_priv.h"

_Static_assert(NET_MAX_IF_ROUTES == NET_MAX_ROUTES, "net.h and net_priv.h agree on routes");

static uint32_t mask_of(int prefix)
{
	return prefix == 32 ? ~0u : prefix ? ~(~0u >> prefix) : 0;
}

/* ---- formats and cross-field rules */

/* "dhcp" asks the DHCP client (dhcp.c) for the address. */
static const char *check_cidr(const struct schema_val *v, const struct schema_val *parent,
			      const struct schema_val *root)
{
	uint32_t a;
	int p;
	if (!strcmp(schema_val_str(v), "dhcp"))
		return NULL;
	return schema_parse_ipv4(schema_val_str(v), &a, &p) || !a
		? "must be \"a.b.c.d/prefix\" (prefix 1..32) or \"dhcp\"" : NULL;
}

/* The gateway must be on the interface's subnet (the stack needs it to be
 * reachable); the address is checked first, as it comes first in the table. */
static const char *check_gateway(const struct schema_val *v, const struct schema_val *parent,
				 const struct schema_val *root)
{
	uint32_t gw, a;
	int p;
	if (schema_parse_ipv4(schema_val_str(v), &gw, NULL))
		return "must be \"a.b.c.d\"";
	const char *addr = schema_val_str(schema_val_get(parent, "address"));
	if (addr && !strcmp(addr, "dhcp"))
		return "not with \"address\": \"dhcp\" (the server names the router)";
	if (!addr || schema_parse_ipv4(addr, &a, &p))
		return NULL;            /* reported at "address" */
	if ((gw & mask_of(p)) != (a & mask_of(p)))
		return "must be an address on the interface's subnet";
	return NULL;
}

/* interfaces[i].routes[j]: a network (no host bits) and a gateway on the
 * interface's subnet (a DHCP interface's subnet is known only later) */
static const char *check_route_to(const struct schema_val *v, const struct schema_val *parent,
				  const struct schema_val *root)
{
	uint32_t a;
	int p;
	if (schema_parse_ipv4(schema_val_str(v), &a, &p))
		return "must be \"a.b.c.d/prefix\"";
	if (a & ~mask_of(p))
		return "host bits set";
	return NULL;
}

static const char *check_route_via(const struct schema_val *v, const struct schema_val *parent,
				   const struct schema_val *root)
{
	uint32_t via, a;
	int p;
	if (schema_parse_ipv4(schema_val_str(v), &via, NULL))
		return "must be \"a.b.c.d\"";
	/* the interface whose routes hold this one */
	const struct schema_val *ifs = schema_val_get(root, "interfaces");
	for (size_t i = 0; i < schema_val_len(ifs); i++) {
		const struct schema_val *ifc = schema_val_at(ifs, i), *rs = schema_val_get(ifc, "routes");
		for (size_t j = 0; j < schema_val_len(rs); j++) {
			if (schema_val_at(rs, j) != parent)
				continue;
			const char *addr = schema_val_str(schema_val_get(ifc, "address"));
			if (!addr || !strcmp(addr, "dhcp") || schema_parse_ipv4(addr, &a, &p))
				return NULL;    /* dhcp: known later; a bad address is reported there */
			return (via & mask_of(p)) == (a & mask_of(p)) ? NULL
				: "must be an address on the interface's subnet";
		}
	}
	return NULL;
}

/* tcp.keepalive_s: off, or long enough not to probe a live peer that is
 * merely thinking */
static const char *check_keepalive(const struct schema_val *v, const struct schema_val *parent,
				   const struct schema_val *root)
{
	long long s = schema_val_int(v);
	return s && s < 10 ? "must be 0 (off) or 10..86400" : NULL;
}

/* "a.b.c.d/p" or "dhcp" into struct net_cidr */
static void cidr_fill(void *field, const struct schema_val *v)
{
	struct net_cidr *c = field;
	int p = 0;
	memset(c, 0, sizeof *c);
	if (!v)
		return;
	if (!strcmp(schema_val_str(v), "dhcp"))
		c->dhcp = 1;
	else if (!schema_parse_ipv4(schema_val_str(v), &c->addr, &p))
		c->prefix = (uint8_t)p;
}

/* "a.b.c.d" into a uint32_t (absent: 0) */
static void addr_fill(void *field, const struct schema_val *v)
{
	uint32_t a = 0;
	if (v && schema_parse_ipv4(schema_val_str(v), &a, NULL))
		a = 0;
	memcpy(field, &a, sizeof a);
}

/* ---- the table */
#define R(x) .off = offsetof(struct net_route_config, x)
static const struct schema_node route_fields[] = {
	{ .key = "to", .kind = SK_STRING, .flags = SF_REQUIRED, .min = 7, .max = 18, .check = check_route_to,
	  .format = "^[0-9]{1,3}(\\.[0-9]{1,3}){3}(/[0-9]{1,2})?$", .fill = cidr_fill, R(to),
	  .doc = "The destination network, \"a.b.c.d/prefix\"." },
	{ .key = "via", .kind = SK_STRING, .flags = SF_REQUIRED, .min = 7, .max = 15, .check = check_route_via,
	  .format = "^[0-9]{1,3}(\\.[0-9]{1,3}){3}$", .fill = addr_fill, R(via),
	  .doc = "The gateway, on the interface's subnet." },
	{ .kind = SK_END }
};

static const struct schema_node route_item[] = {
	{ .kind = SK_OBJECT, .sub = route_fields, .doc = "A static route: the longest matching prefix wins." },
	{ .kind = SK_END }
};

#define I(x) .off = offsetof(struct net_if_config, x)
static const struct schema_node iface_fields[] = {
	{ .key = "address", .kind = SK_STRING, .flags = SF_REQUIRED, .min = 4, .max = 18,
	  .check = check_cidr, .format = "^(dhcp|[0-9]{1,3}(\\.[0-9]{1,3}){3}/[0-9]{1,2})$",
	  .msg = "must be \"a.b.c.d/prefix\" (prefix 1..32) or \"dhcp\"", .fill = cidr_fill, I(address),
	  .doc = "IPv4 address and prefix length, e.g. \"198.18.0.2/24\", or \"dhcp\"." },
	{ .key = "gateway", .kind = SK_STRING, .min = 7, .max = 15,
	  .check = check_gateway, .format = "^[0-9]{1,3}(\\.[0-9]{1,3}){3}$",
	  .msg = "must be \"a.b.c.d\"", .fill = addr_fill, I(gateway),
	  .doc = "Default gateway, on the interface's subnet." },
	{ .key = "mtu", .kind = SK_INTEGER, .min = 68, .max = 9000, .type = ST_U16, I(mtu), .def = 0,
	  .doc = "MTU in bytes; never above what the device offers (default: the device's)." },
	{ .key = "vlan", .kind = SK_INTEGER, .min = 1, .max = 4094, .msg = "must be a VLAN id, 1..4094",
	  .type = ST_U16, I(vlan), .def = 0,
	  .doc = "802.1Q VLAN id: frames on the device are tagged with it." },
	{ .key = "routes", .kind = SK_ARRAY, .max = NET_MAX_ROUTES, .sub = route_item,
	  I(routes), .size = sizeof(struct net_route_config), .count_off = offsetof(struct net_if_config, nroutes),
	  .doc = "Static routes, before the default gateway." },
	{ .kind = SK_END }
};

static const struct schema_node ifaces_item[] = {
	{ .kind = SK_OBJECT, .sub = iface_fields,
	  .doc = "One network device, in discovery order (eth0, eth1, ...)." },
	{ .kind = SK_END }
};

#define T(x) .off = offsetof(struct net_tcp_config, x)
static const struct schema_node tcp_fields[] = {
	{ .key = "max_conns_per_core", .kind = SK_INTEGER, .min = 4, .max = 1000000,
	  .type = ST_U32, T(max_conns_per_core), .def = 1024,
	  .doc = "TCP connections each core can hold (default 1024)." },
	{ .key = "send_buffer", .kind = SK_INTEGER, .flags = SF_POW2, .min = 4096, .max = 16 << 20,
	  .type = ST_U32, T(send_buffer), .def = 65536,
	  .doc = "Bytes of a send buffer (default 65536)." },
	{ .key = "send_buffers", .kind = SK_INTEGER, .min = 1, .max = 1000000,
	  .type = ST_U32, T(send_buffers), .def = 0,
	  .doc = "Send buffers per core, lent to connections while they have data in flight "
		 "(default: the connection slots, at most 256)." },
	{ .key = "tso_max", .kind = SK_INTEGER, .min = 0, .max = 65536,
	  .type = ST_U32, T(tso_max), .def = 65536,
	  .doc = "Payload bytes per TSO frame where the device offers TSO (default 65536 capped by "
		 "the device; 0: off)." },
	{ .key = "keepalive_s", .kind = SK_INTEGER, .min = 0, .max = 86400, .check = check_keepalive,
	  .type = ST_U32, T(keepalive_s), .def = NET_KEEPALIVE_S_DEFAULT,
	  .doc = "Seconds an established connection may hear nothing before keepalive probes "
		 "(5, 7.5 s apart) ask the peer; no answer resets it (default 120; 0: off; else "
		 "10..86400)." },
	{ .kind = SK_END }
};

const struct schema_node net_schema[] = {
	{ .key = "interfaces", .kind = SK_ARRAY, .flags = SF_HAS, .max = NET_MAX_IFS, .sub = ifaces_item,
	  .off = offsetof(struct net_config, ifs), .size = sizeof(struct net_if_config),
	  .count_off = offsetof(struct net_config, nifs), .has_off = offsetof(struct net_config, on),
	  .doc = "Addresses of the network devices that run the TCP/IP stack." },
	{ .key = "tcp", .kind = SK_OBJECT, .sub = tcp_fields, .off = offsetof(struct net_config, tcp),
	  .doc = "The TCP stack." },
	{ .kind = SK_END }
};
