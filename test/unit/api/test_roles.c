/*
 * test_roles.c — roles and secrets over the request path (router.c,
 * routes.c) with the fake backend: the admin token does everything, the
 * monitor token only the GETs of status and metrics (403 elsewhere, 401
 * still for a wrong one), every route declares its role, a client
 * certificate's role, and no secret leaves through GET or PUT
 * /v1/config or /v1/log.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <criterion/criterion.h>
#include "api/api_priv.h"
#include "fake.h"

#define MONITOR_TOKEN "m0nitor-token-0123456789"
#define ADMIN "Authorization: Bearer " FAKE_TOKEN "\r\n"
#define MONITOR "Authorization: Bearer " MONITOR_TOKEN "\r\n"
#define RUNNING "{\"name\": \"default\", \"cores\": {\"idle\": \"halt\"}, \"api\": {\"token\": \"" \
	FAKE_TOKEN "\", \"monitor_token\": \"" MONITOR_TOKEN "\", \"port\": 8443}}"

static struct api_server srv;
static struct api_conn *conn;
static struct api_backend be;

static size_t log_with_secrets(void *arg, const char **lines, size_t max)
{
	static const char *l[] = { "ready", "api: token " FAKE_TOKEN " (generated)",
				   "twice " MONITOR_TOKEN " and " MONITOR_TOKEN "." };
	size_t n = max < 3 ? max : 3;
	for (size_t i = 0; i < n; i++)
		lines[i] = l[i];
	return n;
}

static void setup(void)
{
	fake_reset();
	json_decref(fake_cfg);
	fake_cfg = json_loads(RUNNING, 0, NULL);
	cr_assert_not_null(fake_cfg);
	be = fake_backend;
	be.log_lines = log_with_secrets;
	cr_assert_eq(api_server_init(&srv, FAKE_TOKEN, &be), 0);
	cr_assert_eq(api_server_set_monitor_token(&srv, MONITOR_TOKEN), 0);
	conn = api_conn_new(&srv);
	cr_assert_not_null(conn);
}

static void teardown(void)
{
	api_conn_free(conn);
	json_decref(fake_cfg);
	fake_cfg = NULL;
}

TestSuite(roles, .init = setup, .fini = teardown);

static char out[400000];
static char *body;

/* One request; returns the status, body points at the response's body. */
static int req(const char *text)
{
	size_t len = strlen(text), n;
	cr_assert_eq(api_conn_feed(conn, text, len), len);
	const void *p = api_conn_output(conn, &n);
	cr_assert_lt(n, sizeof out);
	memcpy(out, p, n);
	out[n] = 0;
	api_conn_output_done(conn, n);
	int status = 0;
	cr_assert_eq(sscanf(out, "HTTP/1.1 %d ", &status), 1, "no response to %s", text);
	body = strstr(out, "\r\n\r\n");
	cr_assert_not_null(body);
	body += 4;
	return status;
}

static const char *const monitor_ok[] = {
	"GET /metrics", "GET /v1/system", "GET /v1/cores", "GET /v1/interfaces",
	"GET /v1/interfaces/eth0", "GET /v1/openapi.json",
};
static const char *const admin_only[] = {
	"GET /v1/config", "PUT /v1/config", "GET /v1/log", "POST /v1/system/shutdown",
};

static int call(const char *what, const char *auth)
{
	char r[512];
	snprintf(r, sizeof r, "%s HTTP/1.1\r\n%sContent-Length: 2\r\n\r\n{}", what, auth);
	if (!strncmp(what, "GET", 3))
		snprintf(r, sizeof r, "%s HTTP/1.1\r\n%s\r\n", what, auth);
	return req(r);
}

Test(roles, the_monitor_reads_status_and_metrics_only)
{
	for (size_t i = 0; i < sizeof monitor_ok / sizeof *monitor_ok; i++)
		cr_assert_eq(call(monitor_ok[i], MONITOR), 200, "%s: %s", monitor_ok[i], body);
	for (size_t i = 0; i < sizeof admin_only / sizeof *admin_only; i++) {
		cr_assert_eq(call(admin_only[i], MONITOR), 403, "%s: %s", admin_only[i], body);
		cr_assert(strstr(body, "admin role"), "%s", body);
	}
	cr_assert_eq(fake_shutdowns, 0);
	cr_assert_eq(fake_applies, 0);
	/* routing is unchanged for it: 404 and 405 as for anyone */
	cr_assert_eq(call("GET /nowhere", MONITOR), 404);
	cr_assert_eq(call("DELETE /metrics", MONITOR), 405);
	cr_assert_eq(srv.responses_4xx, 6);
}

Test(roles, the_admin_does_everything)
{
	for (size_t i = 0; i < sizeof monitor_ok / sizeof *monitor_ok; i++)
		cr_assert_eq(call(monitor_ok[i], ADMIN), 200, "%s: %s", monitor_ok[i], body);
	cr_assert_eq(call("GET /v1/config", ADMIN), 200);
	cr_assert_eq(call("GET /v1/log", ADMIN), 200);
	cr_assert_eq(call("POST /v1/system/shutdown", ADMIN), 202);
}

Test(roles, a_wrong_token_is_401_not_403)
{
	cr_assert_eq(call("GET /metrics", "Authorization: Bearer m0nitor-token-012345678\r\n"), 401);
	cr_assert_eq(call("PUT /v1/config", "Authorization: Bearer m0nitor-token-01234567890\r\n"), 401);
	cr_assert_eq(call("PUT /v1/config", ""), 401);
}

Test(roles, every_route_declares_its_role)
{
	for (size_t i = 0; i < api_nroutes; i++) {
		const struct api_route *r = &api_routes[i];
		cr_assert(r->role == API_ROLE_MONITOR || r->role == API_ROLE_ADMIN, "%s has no role", r->pattern);
		if (r->method != API_GET)
			cr_assert_eq(r->role, API_ROLE_ADMIN, "%s changes something", r->pattern);
	}
	/* and the OpenAPI document says it */
	json_t *doc = api_openapi();
	json_t *op = json_object_get(json_object_get(json_object_get(doc, "paths"), "/v1/config"), "put");
	cr_assert_str_eq(json_string_value(json_object_get(op, "x-pollux-role")), "admin");
	cr_assert_not_null(json_object_get(json_object_get(op, "responses"), "403"));
	op = json_object_get(json_object_get(json_object_get(doc, "paths"), "/metrics"), "get");
	cr_assert_str_eq(json_string_value(json_object_get(op, "x-pollux-role")), "monitor");
	json_decref(doc);
}

Test(roles, client_certificate_roles)
{
	api_conn_set_peer_role(conn, API_ROLE_MONITOR);
	cr_assert_eq(call("GET /metrics", ""), 200);
	cr_assert_eq(call("GET /v1/config", ""), 403);
	cr_assert_eq(call("GET /v1/config", ADMIN), 200, "a token raises the role");
	cr_assert_eq(call("GET /v1/config", "Authorization: Bearer wrong-token-0123456789\r\n"), 403,
		     "a wrong token does not lower it either");
	api_conn_set_peer_role(conn, API_ROLE_ADMIN);
	cr_assert_eq(call("GET /v1/config", ""), 200);
}

Test(roles, monitor_token_compare_is_exact)
{
	const char *good = "Bearer " MONITOR_TOKEN;
	cr_assert_eq(api_auth_role(&srv, good, strlen(good)), API_ROLE_MONITOR);
	cr_assert_eq(api_auth_role(&srv, "Bearer " FAKE_TOKEN, strlen("Bearer " FAKE_TOKEN)), API_ROLE_ADMIN);
	for (size_t i = 7; i < strlen(good); i++) {
		char t[64];
		strcpy(t, good);
		t[i] ^= 0x01;
		cr_assert_eq(api_auth_role(&srv, t, strlen(t)), API_ROLE_NONE, "flipped byte %zu accepted", i);
	}
	cr_assert_eq(api_auth_role(&srv, good, strlen(good) - 1), API_ROLE_NONE);
	cr_assert_eq(api_server_set_monitor_token(&srv, FAKE_TOKEN), -EINVAL, "the admin's token");
	cr_assert_eq(api_server_set_monitor_token(&srv, NULL), 0);
	cr_assert_eq(api_auth_role(&srv, good, strlen(good)), API_ROLE_NONE, "removed");
}

Test(roles, get_config_shows_no_secret)
{
	cr_assert_eq(call("GET /v1/config", ADMIN), 200);
	cr_assert(!strstr(body, FAKE_TOKEN), "%s", body);
	cr_assert(!strstr(body, MONITOR_TOKEN), "%s", body);
	cr_assert(strstr(body, "\"token\":\"<redacted>\""), "%s", body);
	cr_assert(strstr(body, "\"monitor_token\":\"<redacted>\""), "%s", body);
	cr_assert(strstr(body, "\"port\":8443"), "%s", body);
}

Test(roles, put_echoes_no_secret_and_redacted_means_unchanged)
{
	char r[1024];
	/* GET, edit, PUT back: the secrets stay what they were */
	const char *doc = "{\"name\": \"renamed\", \"cores\": {\"idle\": \"halt\"}, \"api\": {\"token\": "
			  "\"<redacted>\", \"monitor_token\": \"<redacted>\", \"port\": 8443}}";
	snprintf(r, sizeof r, "PUT /v1/config HTTP/1.1\r\n" ADMIN "Content-Length: %zu\r\n\r\n%s", strlen(doc), doc);
	cr_assert_eq(req(r), 200, "%s", body);
	cr_assert(!strstr(body, FAKE_TOKEN) && !strstr(body, MONITOR_TOKEN), "echoed: %s", body);
	cr_assert(strstr(body, "\"name\":\"renamed\""), "%s", body);
	json_t *api = json_object_get(fake_cfg, "api");
	cr_assert_str_eq(json_string_value(json_object_get(api, "token")), FAKE_TOKEN);
	cr_assert_str_eq(json_string_value(json_object_get(api, "monitor_token")), MONITOR_TOKEN);

	/* a value given in clear is not echoed either */
	doc = "{\"name\": \"x\", \"api\": {\"token\": \"another-token-0123456789\"}}";
	snprintf(r, sizeof r, "PUT /v1/config HTTP/1.1\r\n" ADMIN "Content-Length: %zu\r\n\r\n%s", strlen(doc), doc);
	cr_assert_eq(req(r), 200, "%s", body);
	cr_assert(!strstr(body, "another-token"), "echoed: %s", body);

	/* "<redacted>" where nothing runs is an error that names the field */
	json_decref(fake_cfg);
	fake_cfg = json_loads("{\"name\": \"bare\"}", 0, NULL);
	doc = "{\"api\": {\"token\": \"<redacted>\"}}";
	snprintf(r, sizeof r, "PUT /v1/config HTTP/1.1\r\n" ADMIN "Content-Length: %zu\r\n\r\n%s", strlen(doc), doc);
	cr_assert_eq(req(r), 400, "%s", body);
	cr_assert(strstr(body, "api.token: \\\"<redacted>\\\" stands for the running value"), "%s", body);
}

Test(roles, the_log_carries_no_token)
{
	cr_assert_eq(call("GET /v1/log", ADMIN), 200);
	cr_assert(!strstr(body, FAKE_TOKEN) && !strstr(body, MONITOR_TOKEN), "%s", body);
	cr_assert(strstr(body, "api: token <redacted> (generated)"), "%s", body);
	cr_assert(strstr(body, "twice <redacted> and <redacted>."), "%s", body);
}

/* an appliance's own resources: reading for the monitor, acting for the
 * admin; 404 while another appliance runs */
Test(roles, kv_reads_for_the_monitor_flush_for_the_admin)
{
	cr_assert_eq(call("GET /v1/kv", MONITOR), 404, "%s", body);
	cr_assert_eq(call("POST /v1/kv/flush", ADMIN), 404, "%s", body);
	fake_app_on = 1;
	cr_assert_eq(call("GET /v1/kv", MONITOR), 200, "%s", body);
	cr_assert(strstr(body, "\"get_hits\": 7") || strstr(body, "\"get_hits\":7"), "%s", body);
	cr_assert(strstr(body, "\"total\""), "%s", body);
	/* GET /v1/httpd: the same route shape, 404 while kv runs */
	cr_assert_eq(call("GET /v1/httpd", MONITOR), 404, "%s", body);
	cr_assert(strstr(body, "the httpd appliance is not running"), "%s", body);
	cr_assert_eq(call("POST /v1/kv/flush", MONITOR), 403, "%s", body);
	cr_assert_eq(fake_flushes, 0);
	cr_assert_eq(call("POST /v1/kv/flush", ADMIN), 200, "%s", body);
	cr_assert(strstr(body, "flushed"), "%s", body);
	cr_assert_eq(fake_flushes, 1);
	fake_flushes = -1;              /* a channel full: 503 with the reason */
	cr_assert_eq(call("POST /v1/kv/flush", ADMIN), 503, "%s", body);
	cr_assert(strstr(body, "channel was full"), "%s", body);
}

/* GET /v1/httpd/access-log: the admin's (client addresses), 404 when
 * httpd does not run, the text as the appliance gives it */
Test(roles, httpd_access_log_for_the_admin)
{
	cr_assert_eq(call("GET /v1/httpd/access-log", ADMIN), 404, "%s", body);
	fake_log_on = 1;
	cr_assert_eq(call("GET /v1/httpd/access-log", MONITOR), 403, "%s", body);
	cr_assert_eq(call("GET /v1/httpd/access-log", ADMIN), 200, "%s", body);
	cr_assert(strstr(body, "\"GET / HTTP/1.1\" 200 15 \"-\" \"t\"\n"), "%s", body);
}

Test(roles, metrics_carry_the_appliances_counters)
{
	fake_app_on = 1;
	cr_assert_eq(call("GET /metrics", MONITOR), 200);
	cr_assert(strstr(body, "# TYPE pollux_kv_get_hits_total counter"), "%s", body);
	cr_assert(strstr(body, "pollux_kv_get_hits_total{core=\"1\"} 7\n"), "%s", body);
	cr_assert(strstr(body, "pollux_kv_get_hits_total{core=\"2\"} 5\n"), "%s", body);
	cr_assert(!strstr(body, "pollux_kv_get_hits_total{core=\"0\"}"), "core 0 has no shard");
	cr_assert(strstr(body, "# TYPE pollux_kv_curr_items gauge"), "%s", body);
	cr_assert(strstr(body, "pollux_kv_curr_items{core=\"2\"} 23\n"), "%s", body);
	cr_assert(!strstr(body, "bad name"), "a name that is not one is skipped");
}
