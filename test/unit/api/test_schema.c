/*
 * test_schema.c — the config validator (src/api/schema.c): every kind of
 * bad field is reported with its path and the reason the table gives,
 * every file in configs/ passes, and the JSON Schema rendering carries
 * the same bounds.
 */
#include <errno.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <criterion/criterion.h>
#include "api/api.h"
#include "core/config.h"

static char err[256];

/* Validates a document given as JSON text; the text must parse. */
static int check(const char *text)
{
	json_error_t je;
	json_t *j = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
	cr_assert_not_null(j, "test document does not parse: %s: %s", text, je.text);
	memset(err, 0, sizeof err);
	int rc = api_config_validate(j, err, sizeof err);
	json_decref(j);
	return rc;
}

#define BAD(text, want) do { \
	cr_assert_eq(check(text), -EINVAL, "accepted: %s", text); \
	cr_assert_str_eq(err, want, "for %s", text); \
} while (0)

#define GOOD(text) cr_assert_eq(check(text), 0, "refused %s: %s", text, err)

Test(schema, minimal_documents)
{
	GOOD("{}");
	GOOD("{\"name\": \"x\", \"cores\": {}}");
	GOOD("{\"cores\": {\"idle\": [\"halt\", \"poll\", \"poll\"]}}");
	GOOD("{\"interfaces\": [{\"address\": \"198.18.0.2/24\", \"gateway\": \"198.18.0.1\", \"mtu\": 1500}]}");
	GOOD("{\"l2fwd\": {\"pairs\": [[0, 1], [2, 3]], \"mode\": \"io\", \"burst\": 64}}");
	GOOD("{\"tcp\": {\"send_buffer\": 4096, \"max_conns_per_core\": 4}, \"nic\": {\"rx_ring\": 0}}");
	GOOD("{\"api\": {\"token\": \"0123456789abcdef\", \"port\": 8443, \"interface\": 0,"
	     " \"cert\": \"-----BEGIN CERTIFICATE-----\\n...\"}}");
}

Test(schema, document_must_be_an_object)
{
	BAD("[]", "(document): must be an object");
	BAD("3", "(document): must be an object");
	cr_assert_eq(api_config_validate(NULL, err, sizeof err), -EINVAL);
}

Test(schema, unknown_keys_rejected_with_their_path)
{
	BAD("{\"bogus\": 1}", "bogus: unknown key");
	BAD("{\"cores\": {\"idel\": \"halt\"}}", "cores.idel: unknown key");
	BAD("{\"interfaces\": [{\"address\": \"198.18.0.2/24\"}, {\"address\": \"198.18.1.2/24\", \"speed\": 10}]}",
	    "interfaces[1].speed: unknown key");
	BAD("{\"api\": {\"password\": \"x\"}}", "api.password: unknown key");
}

Test(schema, integer_ranges)
{
	BAD("{\"interfaces\": [{\"address\": \"198.18.0.2/24\"}, {\"address\": \"198.18.1.2/24\", \"mtu\": 9001}]}",
	    "interfaces[1].mtu: must be 68..9000");
	BAD("{\"interfaces\": [{\"address\": \"198.18.0.2/24\", \"mtu\": 67}]}", "interfaces[0].mtu: must be 68..9000");
	BAD("{\"interfaces\": [{\"address\": \"198.18.0.2/24\", \"mtu\": \"1500\"}]}",
	    "interfaces[0].mtu: must be 68..9000");
	BAD("{\"interfaces\": [{\"address\": \"198.18.0.2/24\", \"mtu\": 1500.0}]}",
	    "interfaces[0].mtu: must be 68..9000");
	BAD("{\"cores\": {\"halt_after\": 0}}", "cores.halt_after: must be 1..1000000");
	BAD("{\"cores\": {\"halt_max_us\": 9}}", "cores.halt_max_us: must be 10..1000000");
	BAD("{\"cores\": {\"arena_kib\": 1048577}}", "cores.arena_kib: must be 64..1048576");
	BAD("{\"pool\": {\"buffers_per_core\": 63}}", "pool.buffers_per_core: must be 64..1048576");
	BAD("{\"nic\": {\"rx_ring\": -1}}", "nic.rx_ring: must be 0..32768");
	BAD("{\"tcp\": {\"max_conns_per_core\": 9223372036854775807}}", "tcp.max_conns_per_core: must be 4..1000000");
	BAD("{\"l2fwd\": {\"burst\": 65}}", "l2fwd.burst: must be 1..64");
	BAD("{\"api\": {\"port\": 0}}", "api.port: must be 1..65535");
	BAD("{\"api\": {\"port\": true}}", "api.port: must be 1..65535");
}

Test(schema, powers_of_two)
{
	BAD("{\"cores\": {\"channel_slots\": 100}}", "cores.channel_slots: must be a power of two, 4..65536");
	BAD("{\"cores\": {\"channel_slots\": 2}}", "cores.channel_slots: must be a power of two, 4..65536");
	BAD("{\"tcp\": {\"send_buffer\": 65535}}", "tcp.send_buffer: must be a power of two, 4096..16777216");
	GOOD("{\"cores\": {\"channel_slots\": 65536}, \"tcp\": {\"send_buffer\": 16777216}}");
}

Test(schema, enums_and_one_of)
{
	BAD("{\"cores\": {\"idle\": \"spin\"}}", "cores.idle: must be \"poll\" or \"halt\"");
	BAD("{\"cores\": {\"idle\": [\"poll\", \"halt\", \"nap\"]}}", "cores.idle[2]: must be \"poll\" or \"halt\"");
	BAD("{\"cores\": {\"idle\": [\"poll\", 1]}}", "cores.idle[1]: must be \"poll\" or \"halt\"");
	BAD("{\"cores\": {\"idle\": 5}}", "cores.idle: must be \"poll\", \"halt\" or a list of them");
	BAD("{\"cores\": {\"idle\": {}}}", "cores.idle: must be \"poll\", \"halt\" or a list of them");
	BAD("{\"app\": \"memcached\"}", "app: must be one of \"l2fwd\", \"echo\", \"iperf\", \"web\", \"proxy\", \"kv\", \"httpd\"");
	BAD("{\"app\": 1}", "app: must be one of \"l2fwd\", \"echo\", \"iperf\", \"web\", \"proxy\", \"kv\", \"httpd\"");
	BAD("{\"proxy\": {\"listen\": 80, \"backend\": \"1.2.3.4:99999\"}}", "proxy.backend: must be \"a.b.c.d:port\"");
	BAD("{\"proxy\": {\"backend\": \"1.2.3.4:80\"}}", "proxy.listen: required");
	GOOD("{\"tcp\": {\"send_buffers\": 16}}");
	GOOD("{\"interfaces\": [{\"address\": \"198.18.0.2/24\", \"routes\": [{\"to\": \"10.0.0.0/8\", \"via\": \"198.18.0.1\"}]}]}");
	BAD("{\"interfaces\": [{\"address\": \"198.18.0.2/24\", \"routes\": [{\"to\": \"10.0.0.0/8\", \"via\": \"10.0.0.1\"}]}]}",
	    "interfaces[0].routes[0].via: must be an address on the interface's subnet");
	BAD("{\"interfaces\": [{\"address\": \"198.18.0.2/24\", \"routes\": [{\"to\": \"10.0.0.1/8\", \"via\": \"198.18.0.1\"}]}]}",
	    "interfaces[0].routes[0].to: host bits set");
	BAD("{\"interfaces\": [{\"address\": \"198.18.0.2/24\", \"routes\": [{\"via\": \"198.18.0.1\"}]}]}",
	    "interfaces[0].routes[0].to: required");
	BAD("{\"web\": {\"port\": 65536}}", "web.port: must be 1..65535");
	GOOD("{\"web\": {\"body\": \"\"}}");
	BAD("{\"l2fwd\": {\"mode\": \"swap\"}}", "l2fwd.mode: must be \"macswap\" or \"io\"");
	/* a NUL inside the string does not make "poll\0x" equal "poll" */
	BAD("{\"cores\": {\"idle\": \"poll\\u0000x\"}}", "cores.idle: must be \"poll\" or \"halt\"");
}

Test(schema, objects_and_lists)
{
	BAD("{\"cores\": 4}", "cores: must be an object");
	BAD("{\"nic\": []}", "nic: must be an object");
	BAD("{\"interfaces\": {}}", "interfaces: must be a list of at most 8 entries");
	BAD("{\"interfaces\": [1]}", "interfaces[0]: must be an object");
	BAD("{\"interfaces\": [{}, {}, {}, {}, {}, {}, {}, {}, {}]}", "interfaces: must be a list of at most 8 entries");
	BAD("{\"l2fwd\": {\"pairs\": [[0, 1], [1]]}}", "l2fwd.pairs[1]: must be [a, b] device indices");
	BAD("{\"l2fwd\": {\"pairs\": [[0, 1, 2]]}}", "l2fwd.pairs[0]: must be [a, b] device indices");
	BAD("{\"l2fwd\": {\"pairs\": [\"0-1\"]}}", "l2fwd.pairs[0]: must be [a, b] device indices");
	BAD("{\"l2fwd\": {\"pairs\": [[0, 8]]}}", "l2fwd.pairs[0][1]: must be 0..7");
	BAD("{\"l2fwd\": {\"pairs\": 1}}", "l2fwd.pairs: must be a list of at most 8 entries");
}

Test(schema, required_fields)
{
	BAD("{\"interfaces\": [{\"gateway\": \"198.18.0.1\"}]}", "interfaces[0].address: required");
}

Test(schema, strings_and_formats)
{
	BAD("{\"name\": \"\"}", "name: must be a string of 1..64 characters");
	BAD("{\"name\": 7}", "name: must be a string of 1..64 characters");
	BAD("{\"name\": \"a\\u0000b\"}", "name: must be a string of 1..64 characters");
	const char *bad_addr[] = { "198.18.0.2", "198.18.0.256/24", "198.18.0.2/33", "198.18.0.2/0",
				   " 198.18.0.2/24", "198.18.0.2/24 ", "198.18.0/24", "+98.18.0.2/24",
				   "198.18.0.2/024x", "1988.1.0.2/24", "0.0.0.0/24", "DHCP", "dhcp " };
	for (size_t i = 0; i < sizeof bad_addr / sizeof *bad_addr; i++) {
		char doc[128];
		snprintf(doc, sizeof doc, "{\"interfaces\": [{\"address\": \"%s\"}]}", bad_addr[i]);
		BAD(doc, "interfaces[0].address: must be \"a.b.c.d/prefix\" (prefix 1..32) or \"dhcp\"");
	}
	BAD("{\"interfaces\": [{\"address\": \"198.18.0.2/24\", \"gateway\": \"198.18.1.1\"}]}",
	    "interfaces[0].gateway: must be an address on the interface's subnet");
	BAD("{\"interfaces\": [{\"address\": \"198.18.0.2/24\", \"gateway\": \"198.18.0.1/32\"}]}",
	    "interfaces[0].gateway: must be \"a.b.c.d\"");
	GOOD("{\"interfaces\": [{\"address\": \"198.18.0.2/15\", \"gateway\": \"198.19.255.254\"}]}");
	GOOD("{\"interfaces\": [{\"address\": \"dhcp\", \"vlan\": 4094}]}");
	BAD("{\"interfaces\": [{\"address\": \"dhcp\", \"gateway\": \"198.18.0.1\"}]}",
	    "interfaces[0].gateway: not with \"address\": \"dhcp\" (the server names the router)");
	BAD("{\"interfaces\": [{\"address\": \"dhcp\", \"vlan\": 4095}]}",
	    "interfaces[0].vlan: must be a VLAN id, 1..4094");
	BAD("{\"api\": {\"token\": \"short\"}}", "api.token: must be a string of 16..256 characters");
	BAD("{\"api\": {\"token\": \"0123456789 abcdef\"}}", "api.token: must be visible ASCII characters, no spaces");
	BAD("{\"api\": {\"key\": \"not pem\"}}", "api.key: must be PEM text (\"-----BEGIN ...\")");
}

Test(schema, cross_field_rules)
{
	BAD("{\"app\": \"echo\"}", "app: \"echo\" needs \"interfaces\" with an address");
	BAD("{\"app\": \"iperf\", \"interfaces\": []}", "app: \"iperf\" needs \"interfaces\" with an address");
	BAD("{\"app\": \"web\"}", "app: \"web\" needs \"interfaces\" with an address");
	GOOD("{\"app\": \"l2fwd\"}");
}

Test(schema, first_bad_field_in_table_order)
{
	/* both bad: "cores" comes before "interfaces" in the table */
	BAD("{\"interfaces\": [{\"address\": \"x\"}], \"cores\": {\"idle\": \"x\"}}",
	    "cores.idle: must be \"poll\" or \"halt\"");
}

Test(schema, short_error_buffer_is_truncated_safely)
{
	json_t *j = json_loads("{\"interfaces\": [{\"address\": \"198.18.0.2/24\", \"mtu\": 1}]}", 0, NULL);
	char small[12];
	memset(small, 'Z', sizeof small);
	cr_assert_eq(api_config_validate(j, small, 8), -EINVAL);
	cr_assert_eq(small[7], 0);
	cr_assert_eq(small[8], 'Z');
	cr_assert_str_eq(small, "interfa");
	json_decref(j);
}

Test(schema, every_shipped_config_validates)
{
	glob_t g;
	cr_assert_eq(glob("configs/*.json", 0, NULL, &g), 0, "run from the repository root");
	cr_assert_geq(g.gl_pathc, 5);
	for (size_t i = 0; i < g.gl_pathc; i++) {
		FILE *f = fopen(g.gl_pathv[i], "r");
		cr_assert_not_null(f);
		char buf[65536];
		size_t n = fread(buf, 1, sizeof buf, f);
		fclose(f);
		json_t *j;
		cr_assert_eq(config_parse(buf, n, &j, err, sizeof err), 0, "%s: %s", g.gl_pathv[i], err);
		cr_assert_eq(api_config_validate(j, err, sizeof err), 0, "%s: %s", g.gl_pathv[i], err);
		json_decref(j);
	}
	globfree(&g);
}

Test(schema, json_schema_rendering_follows_the_table)
{
	json_t *s = api_config_schema();
	cr_assert_str_eq(json_string_value(json_object_get(s, "type")), "object");
	cr_assert(json_is_false(json_object_get(s, "additionalProperties")));
	json_t *iface = json_object_get(json_object_get(json_object_get(s, "properties"), "interfaces"), "items");
	json_t *mtu = json_object_get(json_object_get(iface, "properties"), "mtu");
	cr_assert_eq(json_integer_value(json_object_get(mtu, "minimum")), 68);
	cr_assert_eq(json_integer_value(json_object_get(mtu, "maximum")), 9000);
	cr_assert_str_eq(json_string_value(json_array_get(json_object_get(iface, "required"), 0)), "address");
	json_t *idle = json_object_get(json_object_get(json_object_get(s, "properties"), "cores"), "properties");
	idle = json_object_get(idle, "idle");
	cr_assert_eq(json_array_size(json_object_get(idle, "oneOf")), 2);
	json_t *app = json_object_get(json_object_get(s, "properties"), "app");
	cr_assert_eq(json_array_size(json_object_get(app, "enum")), 7);
	json_decref(s);
}

/* ---- secrets (SF_SECRET): api.token, api.monitor_token, api.key */
/* as they sit in JSON text (\\n) and once decoded */
#define PEM_KEY "-----BEGIN EC PRIVATE KEY-----\\nMHcCAQEEIsecretkeybytes\\n-----END EC PRIVATE KEY-----\\n"
#define PEM_CRT "-----BEGIN CERTIFICATE-----\\nMIIBpublic\\n-----END CERTIFICATE-----\\n"
#define PEM_CRT_TEXT "-----BEGIN CERTIFICATE-----\nMIIBpublic\n-----END CERTIFICATE-----\n"
#define SECRET_DOC "{\"name\": \"s\", \"api\": {\"token\": \"admin-token-0123456789\", " \
	"\"monitor_token\": \"monitor-token-0123456789\", \"port\": 8443, " \
	"\"cert\": \"" PEM_CRT "\", \"key\": \"" PEM_KEY "\"}}"

Test(schema, monitor_token_is_checked_like_the_token_and_differs_from_it)
{
	GOOD(SECRET_DOC);
	BAD("{\"api\": {\"monitor_token\": \"short\"}}", "api.monitor_token: must be a string of 16..256 characters");
	BAD("{\"api\": {\"monitor_token\": \"with a space in it 0123\"}}",
	    "api.monitor_token: must be visible ASCII characters, no spaces");
	BAD("{\"api\": {\"token\": \"same-token-0123456789\", \"monitor_token\": \"same-token-0123456789\"}}",
	    "api.monitor_token: must differ from api.token");
}

Test(schema, redaction_hides_every_secret_and_nothing_else)
{
	json_t *doc = json_loads(SECRET_DOC, 0, NULL);
	cr_assert_not_null(doc);
	json_t *shown = api_config_redact(doc);
	cr_assert_not_null(shown);
	char *text = json_dumps(shown, JSON_COMPACT);
	cr_assert(!strstr(text, "admin-token"), "%s", text);
	cr_assert(!strstr(text, "monitor-token"), "%s", text);
	cr_assert(!strstr(text, "secretkeybytes"), "%s", text);
	cr_assert(!strstr(text, "PRIVATE"), "%s", text);
	free(text);
	json_t *api = json_object_get(shown, "api");
	cr_assert_str_eq(json_string_value(json_object_get(api, "token")), SCHEMA_REDACTED);
	cr_assert_str_eq(json_string_value(json_object_get(api, "monitor_token")), SCHEMA_REDACTED);
	cr_assert_str_eq(json_string_value(json_object_get(api, "key")), SCHEMA_REDACTED);
	cr_assert_str_eq(json_string_value(json_object_get(api, "cert")), PEM_CRT_TEXT, "not a secret");
	cr_assert_eq(json_integer_value(json_object_get(api, "port")), 8443);
	cr_assert_str_eq(json_string_value(json_object_get(shown, "name")), "s");
	/* the original is untouched; absent secrets stay absent */
	cr_assert_str_eq(json_string_value(json_object_get(json_object_get(doc, "api"), "token")),
			 "admin-token-0123456789");
	json_t *none = json_loads("{\"api\": {\"port\": 1}}", 0, NULL);
	json_t *none_shown = api_config_redact(none);
	cr_assert(json_equal(none, none_shown));
	json_decref(none);
	json_decref(none_shown);
	json_decref(shown);
	json_decref(doc);
}

Test(schema, redacted_values_stand_for_the_running_ones)
{
	json_t *running = json_loads(SECRET_DOC, 0, NULL);
	json_t *shown = api_config_redact(running);
	json_object_set_new(shown, "name", json_string("renamed"));
	cr_assert_eq(api_config_unredact(shown, running, err, sizeof err), 0, "%s", err);
	json_object_set_new(running, "name", json_string("renamed"));
	cr_assert(json_equal(shown, running), "the round trip changed a secret");
	cr_assert_eq(api_config_validate(shown, err, sizeof err), 0, "%s", err);
	json_decref(shown);

	/* a new value is taken as it is; "<redacted>" with nothing running is refused */
	json_t *in = json_loads("{\"api\": {\"token\": \"a-new-token-0123456789\", "
				"\"monitor_token\": \"<redacted>\"}}", 0, NULL);
	cr_assert_eq(api_config_unredact(in, running, err, sizeof err), 0, "%s", err);
	cr_assert_str_eq(json_string_value(json_object_get(json_object_get(in, "api"), "token")),
			 "a-new-token-0123456789");
	cr_assert_str_eq(json_string_value(json_object_get(json_object_get(in, "api"), "monitor_token")),
			 "monitor-token-0123456789");
	json_decref(in);
	json_t *bare = json_loads("{\"name\": \"x\"}", 0, NULL);
	in = json_loads("{\"api\": {\"key\": \"<redacted>\"}}", 0, NULL);
	cr_assert_eq(api_config_unredact(in, bare, err, sizeof err), -EINVAL);
	cr_assert_str_eq(err, "api.key: \"<redacted>\" stands for the running value, and there is none");
	json_decref(in);
	json_decref(bare);
	json_decref(running);
}
