/*
 * config.c — the "api" section of the config: its schema table, bound to
 * struct api_config (api.h). The schema engine (core/schema.h)
 * validates, fills and documents it; the listeners (src/appliance/) act
 * on the struct.
 */
#include <stddef.h>
#include <string.h>
#include "api/api.h"
#include "core/schema.h"

/* A bearer token travels in an HTTP header: visible ASCII, no spaces. */
static const char *check_token(const struct schema_val *v, const struct schema_val *parent,
			       const struct schema_val *root)
{
	for (const char *s = schema_val_str(v); *s; s++)
		if (*s < 0x21 || *s > 0x7e)
			return "must be visible ASCII characters, no spaces";
	return NULL;
}

/* The monitor's token must not also be the admin's: a monitor would be
 * admin. */
static const char *check_monitor_token(const struct schema_val *v, const struct schema_val *parent,
				       const struct schema_val *root)
{
	const char *why = check_token(v, parent, root);
	const char *admin = schema_val_str(schema_val_get(parent, "token"));
	if (!why && admin && !strcmp(admin, schema_val_str(v)))
		why = "must differ from api.token";
	return why;
}

static const char *check_pem(const struct schema_val *v, const struct schema_val *parent,
			     const struct schema_val *root)
{
	if (strncmp(schema_val_str(v), "-----BEGIN ", 11))
		return "must be PEM text (\"-----BEGIN ...\")";
	return NULL;
}

static const struct schema_node admin_subject = {
	.kind = SK_STRING, .min = 1, .max = API_SUBJECT_MAX, .type = ST_STR,
	.doc = "A certificate subject's CN, exactly.",
};

#define F(x) .off = offsetof(struct api_config, x)
const struct schema_node api_schema[] = {
	{ .key = "token", .kind = SK_STRING, .flags = SF_SECRET, .min = API_TOKEN_MIN, .max = API_TOKEN_MAX,
	  .check = check_token, .type = ST_STR, F(token),
	  .doc = "The admin's bearer token (Authorization: Bearer <token>): every resource. "
		 "Secret: shown as \"" SCHEMA_REDACTED "\"." },
	{ .key = "monitor_token", .kind = SK_STRING, .flags = SF_SECRET, .min = API_TOKEN_MIN,
	  .max = API_TOKEN_MAX, .check = check_monitor_token, .type = ST_STR, F(monitor_token),
	  .doc = "A read-only bearer token (the monitor role): /metrics, /v1/system, /v1/cores, "
		 "/v1/interfaces, /v1/openapi.json; nothing else. Secret: shown as \"" SCHEMA_REDACTED "\"." },
	{ .key = "port", .kind = SK_INTEGER, .min = 1, .max = 65535, .type = ST_U16, F(port), .def = 0,
	  .doc = "TCP port of the HTTPS server (default 443)." },
	{ .key = "interface", .kind = SK_INTEGER, .min = 0, .max = API_MAX_IFS - 1,
	  .type = ST_U32, F(interface), .def = 0,
	  .doc = "Index in \"interfaces\" of the management interface (default 0)." },
	{ .key = "cert", .kind = SK_STRING, .min = 1, .max = 16384, .check = check_pem,
	  .type = ST_STR, F(cert),
	  .doc = "Server certificate chain, PEM (default: a self-signed ECDSA P-256 one)." },
	{ .key = "key", .kind = SK_STRING, .flags = SF_SECRET, .min = 1, .max = 16384, .check = check_pem,
	  .type = ST_STR, F(key),
	  .doc = "The certificate's private key, PEM. Secret: shown as \"" SCHEMA_REDACTED "\"." },
	{ .key = "client_ca", .kind = SK_STRING, .min = 1, .max = 65536, .check = check_pem,
	  .type = ST_STR, F(client_ca),
	  .doc = "CA certificates, PEM: a client certificate they signed stands in for the token." },
	{ .key = "client_crl", .kind = SK_STRING, .min = 1, .max = 262144, .check = check_pem,
	  .type = ST_STR, F(client_crl),
	  .doc = "A CRL of client_ca, PEM: a client certificate it revokes does not verify." },
	{ .key = "admin_subjects", .kind = SK_ARRAY, .max = API_MAX_SUBJECTS, .sub = &admin_subject,
	  .size = sizeof(const char *), F(admin_subjects), .count_off = offsetof(struct api_config, nadmin_subjects),
	  .doc = "Subject CNs of client certificates that get the admin role; any other client "
		 "certificate that verifies is read-only (monitor)." },
	{ .key = "site_max_mb", .kind = SK_INTEGER, .min = 1, .max = API_SITE_MAX_MB_LIMIT, .type = ST_U32,
	  F(site_max_mb), .def = API_SITE_MAX_MB,
	  .doc = "The largest site archive PUT /v1/site takes, in MiB (larger: 413); the upload is "
		 "held in memory whole, one at a time (default 64)." },
	{ .kind = SK_END }
};
