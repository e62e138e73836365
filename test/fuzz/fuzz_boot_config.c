/*
 * fuzz_boot_config.c — libFuzzer target: the boot config path as main.c
 * walks it, from the bytes the platform hands over to the API serving
 * the running config, short of devices and cores:
 *   config_parse -> appliance_config_read (the root schema validates the
 *   whole document, then fills every subsystem's struct: the appliance
 *   chosen, interfaces and routes, tcp, cores, pool, nic, api) -> what
 *   api_start does with the api section before it listens (the tokens
 *   into the server, the TLS material into api_tls_init: certificate,
 *   key, client CA, CRL, admin subjects) -> config_set_root -> GET
 *   /v1/config through the API, as an admin.
 * Not run: device probing, pools, net_init and apps_init (they need
 * devices and are not re-entrant) and the listener itself.
 *
 * What must hold (else abort):
 *  - a rejected document leaves a message naming the field: "config:
 *    line L, column C: ..." from the parser, else "path: reason" whose
 *    path starts with a key of the document or of the schema, printable
 *    (it goes to the console and into a JSON answer), and no partial
 *    state: the struct is byte for byte as it was, the running config
 *    unchanged;
 *  - an accepted one fills the structs as the document says (api and
 *    interfaces present or not, their counts, each address, the app's
 *    row, tokens borrowed from the document), the same way twice; the
 *    tokens the schema let through are taken by the server; the TLS
 *    material is taken or refused with -EINVAL and "config: api.<field>:"
 *    (no other error, nothing leaked);
 *  - GET /v1/config answers 200 with the document, secrets (api.token,
 *    api.monitor_token, api.key) as "<redacted>", and no secret's value
 *    anywhere in the answer (unless the document shows the same text
 *    elsewhere); unredacting the answer against the running config gives
 *    the document back, which still validates (GET, edit, PUT).
 * Seeds: the files in configs/ and test/fuzz/corpus/boot_config/ (TLS
 * material, tokens, routes; made by gen_boot_config.py).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "api/api_priv.h"
#include "appliance/appliance.h"
#include "apps/apps.h"
#include "core/config.h"
#include "../unit/api/fake.h"

#define BOOT_TOKEN "boot-fuzz-generated-token-0123"

static void fail(const char *why, const char *detail) __attribute__((noreturn));
static void fail(const char *why, const char *detail)
{
	fprintf(stderr, "fuzz_boot_config: %s: %s\n", why, detail ? detail : "");
	abort();
}

/* the API's view of the running config: config_root(), as backend.c's */
static json_t *root_get(void *arg)
{
	json_t *r = config_root();
	return r ? json_incref(r) : json_object();
}
static struct api_backend backend;

static const char *const secrets[] = { "token", "monitor_token", "key" };

/* "path: reason" whose path starts with a key of the document or of the
 * root schema, and nothing unprintable */
static void check_named(const char *err, const json_t *doc)
{
	for (const unsigned char *p = (const unsigned char *)err; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			fail("an error message with a control character", err);
	const char *sep = strstr(err, ": ");
	if (!sep || !sep[2])
		fail("an error without \"path: reason\"", err);
	if (!strncmp(err, "(document): ", 12))
		return;
	/* a key of the document as the message shows it: control
	 * characters as '?', the path cut at 159 bytes. The key may itself
	 * hold ": " or be empty (the document's key ": 3" gives ": 3:
	 * unknown key"), so the path is found by the key, not by the first
	 * ": ". */
	const char *key;
	const json_t *v;
	json_object_foreach((json_t *)doc, key, v) {
		char shown[160];
		size_t n = 0;
		for (; key[n] && n < sizeof shown - 1; n++)
			shown[n] = (unsigned char)key[n] < 0x20 || key[n] == 0x7f ? '?' : key[n];
		if (!strncmp(err, shown, n) &&
		    (n == sizeof shown - 1 || err[n] == '.' || err[n] == '[' || !strncmp(err + n, ": ", 2)))
			return;
	}
	if (sep == err)
		fail("an error without \"path: reason\"", err);
	static const char *const roots[] = { "name", "app", "cores", "interfaces", "tcp", "pool", "nic", "api",
					     "l2fwd", "echo", "iperf", "web", "proxy" };
	for (size_t i = 0; i < sizeof roots / sizeof roots[0]; i++) {
		size_t n = strlen(roots[i]);
		if (!strncmp(err, roots[i], n) && (err[n] == '.' || err[n] == '[' || err[n] == ':'))
			return;
	}
	fail("an error that names no field of the document", err);
}

static const char *str_at(const json_t *doc, const char *obj, const char *key)
{
	return json_string_value(json_object_get(json_object_get(doc, obj), key));
}

/* the structs say what the document says */
static void check_filled(const struct appliance_config *c, const json_t *doc)
{
	const json_t *ifs = json_object_get(doc, "interfaces"), *api = json_object_get(doc, "api");
	if (c->net.on != (ifs != NULL) || c->net.nifs != json_array_size(ifs))
		fail("interfaces filled wrong", NULL);
	for (size_t i = 0; i < c->net.nifs; i++) {
		const json_t *f = json_array_get(ifs, i);
		const char *a = json_string_value(json_object_get(f, "address"));
		uint32_t addr;
		int prefix;
		if (!a)
			fail("an accepted interface without an address", NULL);
		if (!strcmp(a, "dhcp") ? !c->net.ifs[i].address.dhcp
		    : schema_parse_ipv4(a, &addr, &prefix) || c->net.ifs[i].address.addr != addr ||
		      c->net.ifs[i].address.prefix != prefix || c->net.ifs[i].address.dhcp)
			fail("an interface's address filled wrong", a);
		if (c->net.ifs[i].nroutes != json_array_size(json_object_get(f, "routes")))
			fail("routes filled wrong", NULL);
	}
	if (c->api.on != (api != NULL))
		fail("api filled wrong", NULL);
	if (api) {
		if (c->api.token != str_at(doc, "api", "token") ||
		    c->api.monitor_token != str_at(doc, "api", "monitor_token") ||
		    c->api.key != str_at(doc, "api", "key") || c->api.cert != str_at(doc, "api", "cert") ||
		    c->api.client_ca != str_at(doc, "api", "client_ca") ||
		    c->api.client_crl != str_at(doc, "api", "client_crl"))
			fail("api strings not the document's", NULL);
		if (c->api.nadmin_subjects != json_array_size(json_object_get(api, "admin_subjects")))
			fail("admin_subjects filled wrong", NULL);
	}
	const char *app = json_string_value(json_object_get(doc, "app"));
	if (app ? c->apps.app < 0 || strcmp(apps_table[c->apps.app].name, app) : c->apps.app != -1)
		fail("the appliance chosen is not the document's", app);
}

/* what api_start does with the api section before it listens */
static void check_api_start(const struct appliance_config *c)
{
	struct api_server s;
	if (api_server_init(&s, c->api.token, &backend) || api_server_set_monitor_token(&s, c->api.monitor_token))
		fail("a token the schema accepted is refused by the server", NULL);
	/* without TLS material the certificate is generated, whatever the
	 * document: not worth a key generation per input */
	if (!c->api.cert && !c->api.key && !c->api.client_ca && !c->api.client_crl)
		return;
	struct api_tls_opts o = { .cert_pem = c->api.cert, .key_pem = c->api.key, .client_ca_pem = c->api.client_ca,
				  .client_crl_pem = c->api.client_crl, .admin_subjects = c->api.admin_subjects,
				  .nadmin_subjects = c->api.nadmin_subjects };
	struct api_tls *t;
	char err[200] = "";
	int rc = api_tls_init(&t, &o, err, sizeof err);
	if (!rc) {
		api_tls_free(t);
		return;
	}
	if (rc != -EINVAL)
		fail("TLS material refused other than as the config's fault", err);
	static const char *const fields[] = { "config: api.cert:", "config: api.key:", "config: api.client_ca:",
					      "config: api.client_crl:", "config: api.admin_subjects" };
	for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
		if (!strncmp(err, fields[i], strlen(fields[i])))
			return;
	fail("TLS material refused without naming its field", err);
}

/* json-escaped text of s, without the quotes */
static char *escaped(const char *s)
{
	json_t *j = json_string(s);
	char *d = j ? json_dumps(j, JSON_ENCODE_ANY) : NULL;
	json_decref(j);
	if (d) {
		size_t n = strlen(d);
		memmove(d, d + 1, n - 2);
		d[n - 2] = 0;
	}
	return d;
}

/* GET /v1/config as an admin: the redacted document, no secret in it */
static void check_get(const json_t *doc, const struct appliance_config *c)
{
	struct api_server s;
	const char *token = c->api.token ? c->api.token : BOOT_TOKEN;
	if (api_server_init(&s, token, &backend))
		fail("server", NULL);
	struct api_conn *k = api_conn_new(&s);
	if (!k)
		fail("out of memory", NULL);
	char req[512];
	int n = snprintf(req, sizeof req, "GET /v1/config HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n",
			 token);
	api_conn_feed(k, req, (size_t)n);
	size_t len;
	const char *out = api_conn_output(k, &len);
	char *text = strndup(out, len);
	if (!text || strncmp(text, "HTTP/1.1 200", 12))
		fail("GET /v1/config did not answer 200", text);
	const char *body = strstr(text, "\r\n\r\n");
	json_t *got = body ? json_loads(body + 4, 0, NULL) : NULL;
	json_t *want = api_config_redact(doc);
	if (!got || !want || !json_equal(got, want))
		fail("GET /v1/config is not the redacted document", body);
	/* no secret's value anywhere in the answer, unless the document
	 * shows the same text in a field that is not secret */
	json_t *bare = json_deep_copy(doc);
	json_t *bare_api = json_object_get(bare, "api");
	for (size_t i = 0; i < 3; i++)
		json_object_del(bare_api, secrets[i]);
	char *shown = json_dumps(bare, JSON_COMPACT);
	for (size_t i = 0; i < 3; i++) {
		const char *v = str_at(doc, "api", secrets[i]);
		if (!v || !*v)
			continue;
		char *e = escaped(v);
		if (!e || !shown)
			fail("out of memory", NULL);
		if ((strstr(text, v) && !strstr(shown, v)) || (strstr(text, e) && !strstr(shown, e)))
			fail("a secret's value in GET /v1/config", secrets[i]);
		free(e);
	}
	/* GET, edit, PUT: the answer unredacted is the document again */
	char err[256];
	if (api_config_unredact(got, doc, err, sizeof err) || !json_equal(got, doc) ||
	    api_config_validate(got, err, sizeof err))
		fail("the redacted document does not come back whole", err);
	free(shown);
	json_decref(bare);
	json_decref(want);
	json_decref(got);
	free(text);
	api_conn_free(k);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	if (!ready) {
		fake_reset();
		backend = fake_backend;
		backend.config_get = root_get;
		api_config_use(&appliance_schema);
		ready = 1;
	}
	char err[256] = "";
	json_t *doc;
	if (config_parse((const char *)data, size, &doc, err, sizeof err)) {
		if (strncmp(err, "config: ", 8))
			fail("a parse error without \"config: \"", err);
		return 0;
	}
	/* the struct before, to see that a refusal leaves it alone */
	static struct appliance_config c, before, again;
	memset(&c, 0xa5, sizeof c);
	memcpy(&before, &c, sizeof c);
	json_t *running = json_loads("{\"name\": \"previous\"}", 0, NULL);
	config_set_root(running);
	int rc = appliance_config_read(doc, &c, err, sizeof err);
	if (rc) {
		if (rc != -EINVAL)
			fail("a refusal other than -EINVAL", err);
		check_named(err, doc);
		if (memcmp(&c, &before, sizeof c))
			fail("a refused document changed the struct", err);
		if (config_root() != running)
			fail("a refused document changed the running config", err);
		config_set_root(NULL);
		json_decref(doc);
		return 0;
	}
	check_filled(&c, doc);
	if (appliance_config_read(doc, &again, err, sizeof err) || memcmp(&c, &again, sizeof c))
		fail("the same document filled differently twice", err);
	if (c.api.on)
		check_api_start(&c);
	config_set_root(json_incref(doc));
	check_get(doc, &c);
	config_set_root(NULL);
	json_decref(doc);
	return 0;
}
