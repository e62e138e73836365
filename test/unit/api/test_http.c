/*
 * test_http.c — the request path over a byte stream (src/api/http.c,
 * router.c, routes.c) with a fake backend: authentication, routing,
 * keep-alive and pipelining at every split of the input, the size
 * bounds, back-pressure, and each resource's answer.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <criterion/criterion.h>
#include "api/api_priv.h"
#include "fake.h"

static struct api_server srv;
static struct api_conn *conn;

static void setup(void)
{
	fake_reset();
	cr_assert_eq(api_server_init(&srv, FAKE_TOKEN, &fake_backend), 0);
	conn = api_conn_new(&srv);
	cr_assert_not_null(conn);
}

static void teardown(void)
{
	api_conn_free(conn);
	json_decref(fake_cfg);
	fake_cfg = NULL;
}

TestSuite(http, .init = setup, .fini = teardown);

struct resp {
	int status;
	char head[2048];
	char body[200000];
	size_t body_len;
};

/* Everything the connection has to send, drained. */
static char out[400000];
static size_t drain(void)
{
	size_t n;
	const void *p = api_conn_output(conn, &n);
	cr_assert_lt(n, sizeof out);
	memcpy(out, p, n);
	out[n] = 0;
	api_conn_output_done(conn, n);
	return n;
}

/* Parses one response at *pos of out; 0 when none is left. */
static int next_resp(size_t *pos, size_t len, struct resp *r)
{
	if (*pos >= len)
		return 0;
	char *s = out + *pos;
	char *end = strstr(s, "\r\n\r\n");
	cr_assert_not_null(end, "no end of headers in: %s", s);
	size_t hl = (size_t)(end - s);
	cr_assert_lt(hl, sizeof r->head);
	memcpy(r->head, s, hl);
	r->head[hl] = 0;
	cr_assert_eq(sscanf(s, "HTTP/1.1 %d ", &r->status), 1, "status line: %.40s", s);
	char *cl = strstr(r->head, "Content-Length: ");
	cr_assert_not_null(cl);
	r->body_len = strtoul(cl + 16, NULL, 10);
	cr_assert_lt(r->body_len, sizeof r->body);
	memcpy(r->body, end + 4, r->body_len);
	r->body[r->body_len] = 0;
	*pos += hl + 4 + r->body_len;
	cr_assert_leq(*pos, len);
	return 1;
}

static struct resp R;

/* One request on the test's connection; returns the status. */
static int req(const char *text)
{
	size_t len = strlen(text);
	cr_assert_eq(api_conn_feed(conn, text, len), len);
	size_t n = drain(), pos = 0;
	cr_assert(next_resp(&pos, n, &R), "no response to %s", text);
	cr_assert_eq(pos, n, "more than one response");
	return R.status;
}

#define AUTH "Authorization: Bearer " FAKE_TOKEN "\r\n"

static json_t *body_json(void)
{
	json_error_t e;
	json_t *j = json_loads(R.body, 0, &e);
	cr_assert_not_null(j, "body is not JSON: %s", R.body);
	return j;
}

static const char *error_text(void)
{
	static char msg[512];
	json_t *j = body_json();
	snprintf(msg, sizeof msg, "%s", json_string_value(json_object_get(j, "error")));
	json_decref(j);
	return msg;
}

Test(http, token_required)
{
	cr_assert_eq(req("GET /v1/system HTTP/1.1\r\nHost: x\r\n\r\n"), 401);
	cr_assert(strstr(R.head, "WWW-Authenticate: Bearer"));
	cr_assert_eq(req("GET /v1/system HTTP/1.1\r\nAuthorization: Bearer wrong\r\n\r\n"), 401);
	cr_assert_eq(req("GET /v1/system HTTP/1.1\r\nAuthorization: Bearer " FAKE_TOKEN "x\r\n\r\n"), 401);
	cr_assert_eq(req("GET /v1/system HTTP/1.1\r\nAuthorization: Bearer s3cret-token-012345678\r\n\r\n"), 401);
	cr_assert_eq(req("GET /v1/system HTTP/1.1\r\nAuthorization: Basic " FAKE_TOKEN "\r\n\r\n"), 401);
	cr_assert_eq(req("GET /v1/system HTTP/1.1\r\nAuthorization: Bearer S3cret-token-0123456789\r\n\r\n"), 401);
	/* unknown paths are 401 too: nothing is learnt without the token */
	cr_assert_eq(req("GET /nowhere HTTP/1.1\r\n\r\n"), 401);
	cr_assert_eq(req("GET /v1/system HTTP/1.1\r\n" AUTH "\r\n"), 200);
	cr_assert_eq(req("GET /v1/system HTTP/1.1\r\nauthorization: bearer " FAKE_TOKEN "\r\n\r\n"), 200);
	cr_assert_eq(srv.responses_4xx, 7);
}

Test(http, auth_split_across_feeds_and_too_long)
{
	const char *t = "GET /v1/system HTTP/1.1\r\nAuthori";
	cr_assert_eq(api_conn_feed(conn, t, strlen(t)), strlen(t));
	t = "zation: Bearer s3cret-";
	cr_assert_eq(api_conn_feed(conn, t, strlen(t)), strlen(t));
	t = "token-0123456789\r\n\r\n";
	cr_assert_eq(api_conn_feed(conn, t, strlen(t)), strlen(t));
	size_t n = drain(), pos = 0;
	cr_assert(next_resp(&pos, n, &R));
	cr_assert_eq(R.status, 200);
	char big[2000];
	snprintf(big, sizeof big, "GET /v1/system HTTP/1.1\r\nAuthorization: Bearer %0900d\r\n\r\n", 0);
	cr_assert_eq(req(big), 401);
}

Test(http, two_authorization_headers_refused)
{
	cr_assert_eq(req("GET /v1/system HTTP/1.1\r\n" AUTH AUTH "\r\n"), 400);
	cr_assert(api_conn_closing(conn));
}

Test(http, no_token_configured_refuses_everyone)
{
	api_server_init(&srv, NULL, &fake_backend);
	cr_assert_eq(req("GET /v1/system HTTP/1.1\r\nAuthorization: Bearer \r\n\r\n"), 401);
	cr_assert_eq(req("GET /v1/system HTTP/1.1\r\n" AUTH "\r\n"), 401);
	char longtok[API_TOKEN_MAX + 2];
	memset(longtok, 'a', sizeof longtok - 1);
	longtok[sizeof longtok - 1] = 0;
	cr_assert_eq(api_server_init(&srv, longtok, &fake_backend), -EINVAL);
}

Test(http, not_found_and_method_not_allowed)
{
	cr_assert_eq(req("GET /v1/nothing HTTP/1.1\r\n" AUTH "\r\n"), 404);
	cr_assert_str_eq(error_text(), "no resource at /v1/nothing");
	cr_assert_eq(req("GET /v1/system/ HTTP/1.1\r\n" AUTH "\r\n"), 404);
	cr_assert_eq(req("DELETE /v1/config HTTP/1.1\r\n" AUTH "\r\n"), 405);
	cr_assert(strstr(R.head, "\r\nAllow: GET, PUT"), "%s", R.head);
	cr_assert_str_eq(error_text(), "DELETE is not allowed on /v1/config");
	cr_assert_eq(req("PATCH /v1/system/shutdown HTTP/1.1\r\n" AUTH "\r\n"), 405);
	cr_assert(strstr(R.head, "\r\nAllow: POST"));
	cr_assert_eq(req("GET /v1/interfaces/eth0/x HTTP/1.1\r\n" AUTH "\r\n"), 404);
	cr_assert_eq(req("GET /v1/interfaces/eth%22 HTTP/1.1\r\n" AUTH "\r\n"), 404);
	/* the query string is not part of the path */
	cr_assert_eq(req("GET /v1/system?pretty=1 HTTP/1.1\r\n" AUTH "\r\n"), 200);
	cr_assert(!api_conn_closing(conn));
}

Test(http, system_resource)
{
	cr_assert_eq(req("GET /v1/system HTTP/1.1\r\n" AUTH "\r\n"), 200);
	cr_assert(strstr(R.head, "Content-Type: application/json\r\n"));
	json_t *j = body_json();
	cr_assert_str_eq(json_string_value(json_object_get(j, "version")), "test-1");
	cr_assert_float_eq(json_real_value(json_object_get(j, "uptime_s")), 2.5, 1e-9);
	cr_assert_eq(json_integer_value(json_object_get(j, "cores")), 2);
	cr_assert_eq(json_integer_value(json_object_get(j, "memory_bytes")), 256 << 20);
	cr_assert_eq(json_integer_value(json_object_get(j, "boot_time")), 1700000000);
	json_decref(j);
}

Test(http, cores_resource)
{
	cr_assert_eq(req("GET /v1/cores HTTP/1.1\r\n" AUTH "\r\n"), 200);
	json_t *j = body_json();
	json_t *c1 = json_array_get(json_object_get(j, "cores"), 1);
	cr_assert_eq(json_array_size(json_object_get(j, "cores")), 2);
	cr_assert_str_eq(json_string_value(json_object_get(c1, "role")), "data");
	cr_assert_eq(json_integer_value(json_object_get(c1, "turns")), 1001);
	cr_assert_float_eq(json_real_value(json_object_get(c1, "busy_percent")), 25.0, 1e-9);
	/* core 1 owns queue 0 of eth0: its packets and drops (2 runts) plus
	 * the stack's drops on core 1 (3 bad checksums, 1 ARP miss) */
	cr_assert_eq(json_integer_value(json_object_get(c1, "rx_packets")), 100);
	cr_assert_eq(json_integer_value(json_object_get(c1, "drops")), 6);
	cr_assert_eq(json_integer_value(json_object_get(c1, "channel_depth")), 1);
	json_decref(j);
}

Test(http, interfaces_resources)
{
	cr_assert_eq(req("GET /v1/interfaces HTTP/1.1\r\n" AUTH "\r\n"), 200);
	json_t *j = body_json();
	json_t *e = json_array_get(json_object_get(j, "interfaces"), 0);
	cr_assert_str_eq(json_string_value(json_object_get(e, "name")), "eth0");
	cr_assert_str_eq(json_string_value(json_object_get(e, "address")), "198.18.0.2/24");
	cr_assert_str_eq(json_string_value(json_object_get(e, "gateway")), "198.18.0.1");
	cr_assert_str_eq(json_string_value(json_object_get(e, "mac")), "52:54:00:12:34:56");
	cr_assert_str_eq(json_string_value(json_object_get(e, "link")), "up");
	json_t *cnt = json_object_get(e, "counters");
	cr_assert_eq(json_integer_value(json_object_get(cnt, "rx_packets")), 201);
	cr_assert_eq(json_integer_value(json_object_get(json_object_get(cnt, "drops"), "rx_runt")), 4);
	cr_assert(json_is_true(json_object_get(json_array_get(json_object_get(e, "queues"), 1), "broken")));
	json_decref(j);
	cr_assert_eq(req("GET /v1/interfaces/eth0 HTTP/1.1\r\n" AUTH "\r\n"), 200);
	j = body_json();
	cr_assert_str_eq(json_string_value(json_object_get(j, "name")), "eth0");
	cr_assert_eq(json_array_size(json_object_get(j, "queues")), 2);
	json_decref(j);
	cr_assert_eq(req("GET /v1/interfaces/eth1 HTTP/1.1\r\n" AUTH "\r\n"), 404);
	cr_assert_str_eq(error_text(), "no interface eth1");
}

Test(http, config_get_put)
{
	cr_assert_eq(req("GET /v1/config HTTP/1.1\r\n" AUTH "\r\n"), 200);
	json_t *j = body_json();
	cr_assert(json_equal(j, fake_cfg));
	json_decref(j);
	const char *doc = "{\"name\": \"edge\", \"interfaces\": [{\"address\": \"198.18.0.2/24\"}]}";
	char r[512];
	snprintf(r, sizeof r, "PUT /v1/config HTTP/1.1\r\n" AUTH "Content-Length: %zu\r\n\r\n%s", strlen(doc), doc);
	cr_assert_eq(req(r), 200);
	cr_assert_eq(fake_applies, 1);
	cr_assert_str_eq(json_string_value(json_object_get(fake_cfg, "name")), "edge");
}

/* Each kind of bad document: 400 naming the field, config untouched. */
Test(http, config_put_bad_documents_change_nothing)
{
	static const struct { const char *doc, *err; } bad[] = {
		{ "{\"interfaces\": [{\"address\": \"198.18.0.2/24\"}, {\"address\": \"198.18.1.2/24\", \"mtu\": 9001}]}",
		  "interfaces[1].mtu: must be 68..9000" },
		{ "{\"cores\": {\"idle\": [\"poll\", \"poll\", \"nap\"]}}", "cores.idle[2]: must be \"poll\" or \"halt\"" },
		{ "{\"colour\": \"blue\"}", "colour: unknown key" },
		{ "{\"name\": 1", "config: line 1, column 10: '}' expected near end of file" },
		{ "[1]", "config: top level must be an object" },
		{ "{\"a\": 1, \"a\": 2}", "config: line 1, column 12: duplicate object key near '\"a\"'" },
	};
	json_t *before = json_deep_copy(fake_cfg);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char r[512];
		snprintf(r, sizeof r, "PUT /v1/config HTTP/1.1\r\n" AUTH "Content-Length: %zu\r\n\r\n%s",
			 strlen(bad[i].doc), bad[i].doc);
		cr_assert_eq(req(r), 400, "%s", bad[i].doc);
		cr_assert_str_eq(error_text(), bad[i].err);
		cr_assert(!api_conn_closing(conn), "a bad document is not a bad request stream");
	}
	cr_assert_eq(req("PUT /v1/config HTTP/1.1\r\n" AUTH "Content-Length: 0\r\n\r\n"), 400);
	cr_assert_eq(fake_applies, 0);
	cr_assert_eq(req("GET /v1/config HTTP/1.1\r\n" AUTH "\r\n"), 200);
	json_t *j = body_json();
	cr_assert(json_equal(j, before));
	json_decref(j);
	json_decref(before);
}

Test(http, config_refused_by_backend_is_409)
{
	fake_refuse_apply = 1;
	const char *doc = "{\"name\": \"x\"}";
	char r[512];
	snprintf(r, sizeof r, "PUT /v1/config HTTP/1.1\r\n" AUTH "Content-Length: %zu\r\n\r\n%s", strlen(doc), doc);
	cr_assert_eq(req(r), 409);
	cr_assert_str_eq(error_text(), "interfaces: the number of queues cannot change at run time");
	cr_assert_str_eq(json_string_value(json_object_get(fake_cfg, "name")), "default");
}

Test(http, expect_continue)
{
	const char *doc = "{\"name\": \"y\"}";
	char r[512];
	snprintf(r, sizeof r, "PUT /v1/config HTTP/1.1\r\n" AUTH "Expect: 100-continue\r\nContent-Length: %zu\r\n\r\n",
		 strlen(doc));
	cr_assert_eq(api_conn_feed(conn, r, strlen(r)), strlen(r));
	size_t n = drain();
	cr_assert_str_eq(out, "HTTP/1.1 100 Continue\r\n\r\n");
	cr_assert_eq(n, 25);
	cr_assert_eq(req(doc), 200);
}

Test(http, log_and_shutdown)
{
	cr_assert_eq(req("GET /v1/log HTTP/1.1\r\n" AUTH "\r\n"), 200);
	json_t *j = body_json();
	json_t *l = json_object_get(j, "lines");
	cr_assert_eq(json_array_size(l), 3);
	cr_assert_str_eq(json_string_value(json_array_get(l, 1)), "ready");
	cr_assert_str_eq(json_string_value(json_array_get(l, 2)), "(line not UTF-8)");
	json_decref(j);
	cr_assert_eq(req("POST /v1/system/shutdown HTTP/1.1\r\n" AUTH "Content-Length: 0\r\n\r\n"), 202);
	cr_assert_eq(fake_shutdowns, 1);
	cr_assert(api_conn_closing(conn));
	cr_assert(strstr(R.head, "Connection: close"));
}

Test(http, metrics_and_openapi_routes)
{
	cr_assert_eq(req("GET /metrics HTTP/1.1\r\n" AUTH "\r\n"), 200);
	cr_assert(strstr(R.head, "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"));
	cr_assert(strstr(R.body, "pollux_rx_packets_total{core=\"1\",iface=\"eth0\",queue=\"0\"} 100\n"));
	cr_assert_eq(req("GET /v1/openapi.json HTTP/1.1\r\n" AUTH "\r\n"), 200);
	json_t *j = body_json();
	cr_assert_str_eq(json_string_value(json_object_get(j, "openapi")), "3.0.3");
	json_decref(j);
}

Test(http, missing_backend_functions_are_503)
{
	static const struct api_backend none = { 0 };
	api_server_init(&srv, FAKE_TOKEN, &none);
	cr_assert_eq(req("GET /v1/system HTTP/1.1\r\n" AUTH "\r\n"), 503);
	cr_assert_eq(req("GET /metrics HTTP/1.1\r\n" AUTH "\r\n"), 503);
	cr_assert_eq(req("GET /v1/config HTTP/1.1\r\n" AUTH "\r\n"), 503);
	cr_assert_eq(req("GET /v1/openapi.json HTTP/1.1\r\n" AUTH "\r\n"), 200);
}

/* Three pipelined requests fed in two pieces split at every offset: the
 * same three answers in order, the connection still open. */
Test(http, pipelining_at_every_split)
{
	const char *doc = "{\"name\": \"p\"}";
	char all[1024];
	int n = snprintf(all, sizeof all,
		"GET /v1/system HTTP/1.1\r\n" AUTH "\r\n"
		"PUT /v1/config HTTP/1.1\r\n" AUTH "Content-Length: %zu\r\n\r\n%s"
		"GET /v1/interfaces/eth0 HTTP/1.1\r\n" AUTH "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		strlen(doc), doc);
	for (int cut = 0; cut <= n; cut++) {
		api_conn_free(conn);
		conn = api_conn_new(&srv);
		cr_assert_eq(api_conn_feed(conn, all, (size_t)cut), (size_t)cut);
		cr_assert_eq(api_conn_feed(conn, all + cut, (size_t)(n - cut)), (size_t)(n - cut));
		size_t len = drain(), pos = 0;
		int want[] = { 200, 200, 200 };
		for (int k = 0; k < 3; k++) {
			cr_assert(next_resp(&pos, len, &R), "cut %d: response %d missing", cut, k);
			cr_assert_eq(R.status, want[k], "cut %d: response %d", cut, k);
		}
		cr_assert(strstr(R.body, "\"name\":\"eth0\""));
		cr_assert_eq(pos, len, "cut %d: extra output", cut);
		cr_assert(!api_conn_closing(conn));
	}
}

Test(http, chunked_body)
{
	const char *r = "PUT /v1/config HTTP/1.1\r\n" AUTH "Transfer-Encoding: chunked\r\n\r\n"
			"5\r\n{\"nam\r\n8\r\ne\": \"c\"}\r\n0\r\n\r\n";
	cr_assert_eq(req(r), 200);
	cr_assert_str_eq(json_string_value(json_object_get(fake_cfg, "name")), "c");
}

Test(http, body_too_large_is_413_and_closes)
{
	char r[256];
	snprintf(r, sizeof r, "PUT /v1/config HTTP/1.1\r\n" AUTH "Content-Length: %d\r\n\r\n{",
		 API_MAX_BODY_BYTES + 1);
	cr_assert_eq(req(r), 413);
	cr_assert(api_conn_closing(conn));
	cr_assert(strstr(R.head, "Connection: close"));
	/* input after the error is discarded */
	const char *more = "GET /v1/system HTTP/1.1\r\n" AUTH "\r\n";
	cr_assert_eq(api_conn_feed(conn, more, strlen(more)), strlen(more));
	size_t n;
	api_conn_output(conn, &n);
	cr_assert_eq(n, 0);
}

Test(http, chunked_body_too_large_is_413)
{
	const char *h = "PUT /v1/config HTTP/1.1\r\n" AUTH "Transfer-Encoding: chunked\r\n\r\n";
	cr_assert_eq(api_conn_feed(conn, h, strlen(h)), strlen(h));
	char chunk[8200];
	memset(chunk, ' ', sizeof chunk);
	memcpy(chunk, "2000\r\n", 6);
	memcpy(chunk + 6 + 0x2000, "\r\n", 2);
	for (int i = 0; i < 9 && !api_conn_closing(conn); i++)
		api_conn_feed(conn, chunk, 6 + 0x2000 + 2);
	cr_assert(api_conn_closing(conn));
	size_t n = drain(), pos = 0;
	cr_assert(next_resp(&pos, n, &R));
	cr_assert_eq(R.status, 413);
}

Test(http, headers_too_large_is_431)
{
	static char r[API_MAX_HEADER_BYTES + 200];
	int n = snprintf(r, sizeof r, "GET /v1/system HTTP/1.1\r\n" AUTH "X-Pad: ");
	memset(r + n, 'a', API_MAX_HEADER_BYTES);
	memcpy(r + n + API_MAX_HEADER_BYTES, "\r\n\r\n", 5);
	cr_assert_eq(req(r), 431);
	cr_assert(api_conn_closing(conn));
	/* a long URL counts too */
	api_conn_free(conn);
	conn = api_conn_new(&srv);
	memcpy(r, "GET /", 5);
	memset(r + 5, 'u', API_MAX_HEADER_BYTES);
	memcpy(r + 5 + API_MAX_HEADER_BYTES, " HTTP/1.1\r\n\r\n", 14);
	cr_assert_eq(req(r), 431);
}

Test(http, malformed_requests_are_400_and_close)
{
	static const char *bad[] = {
		"GARBAGE\r\n\r\n",
		"GET /v1/system HTTP/1.1\r\nContent-Length: x\r\n\r\n",
		"GET /v1/system HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
		"GET http://[::1 HTTP/1.1\r\n\r\n",
		"GET /v1/system HTTP/1.1\r\nBad Header\r\n\r\n",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		api_conn_free(conn);
		conn = api_conn_new(&srv);
		cr_assert_eq(req(bad[i]), 400, "%s", bad[i]);
		cr_assert(api_conn_closing(conn));
	}
}

Test(http, other_http_versions_are_505)
{
	cr_assert_eq(req("GET /v1/system HTTP/9.9\r\n" AUTH "\r\n"), 505);
	cr_assert(api_conn_closing(conn));
}

Test(http, http10_and_connection_close)
{
	cr_assert_eq(req("GET /v1/system HTTP/1.0\r\n" AUTH "\r\n"), 200);
	cr_assert(api_conn_closing(conn), "HTTP/1.0 closes by default");
	api_conn_free(conn);
	conn = api_conn_new(&srv);
	cr_assert_eq(req("GET /v1/system HTTP/1.0\r\nConnection: keep-alive\r\n" AUTH "\r\n"), 200);
	cr_assert(strstr(R.head, "Connection: keep-alive"));
	cr_assert(!api_conn_closing(conn));
	cr_assert_eq(req("GET /v1/system HTTP/1.1\r\nConnection: close\r\n" AUTH "\r\n"), 200);
	cr_assert(api_conn_closing(conn));
	cr_assert(strstr(R.head, "Connection: close"));
}

/* A client that pipelines without reading: input stops being taken once
 * the output passes the high-water mark, and resumes when drained. */
Test(http, back_pressure)
{
	const char *one = "GET /v1/openapi.json HTTP/1.1\r\n" AUTH "\r\n";
	size_t l1 = strlen(one);
	static char many[64 * 128];
	size_t total = 0;
	int count = 0;
	while (total + l1 < sizeof many) {
		memcpy(many + total, one, l1);
		total += l1;
		count++;
	}
	size_t took = api_conn_feed(conn, many, total);
	cr_assert_lt(took, total, "took everything");
	cr_assert_eq(took % l1, 0, "stopped inside a request");
	size_t pending;
	api_conn_output(conn, &pending);
	cr_assert_gt(pending, API_OUT_HIGH_WATER);
	cr_assert_eq(api_conn_feed(conn, many + took, total - took), 0);
	int answered = 0;
	while (took < total || answered < count) {
		size_t n = drain(), pos = 0;
		while (next_resp(&pos, n, &R)) {
			cr_assert_eq(R.status, 200);
			answered++;
		}
		if (took < total)
			took += api_conn_feed(conn, many + took, total - took);
		else if (n == 0)
			break;
	}
	cr_assert_eq(answered, count);
}

Test(http, eof_closes)
{
	const char *half = "GET /v1/sys";
	api_conn_feed(conn, half, strlen(half));
	api_conn_eof(conn);
	cr_assert(api_conn_closing(conn));
	size_t n;
	api_conn_output(conn, &n);
	cr_assert_eq(n, 0);
}

Test(http, auth_compare_is_exact)
{
	const char *good = "Bearer " FAKE_TOKEN;
	cr_assert(api_auth_ok(&srv, good, strlen(good)));
	for (size_t i = 0; i < strlen(good); i++) {
		char t[64];
		strcpy(t, good);
		t[i] ^= 0x01;
		if (i < 7 && (t[i] | 0x20) == (good[i] | 0x20) && t[i] != ' ')
			continue;       /* the scheme is case-insensitive */
		cr_assert(!api_auth_ok(&srv, t, strlen(t)), "flipped byte %zu accepted", i);
	}
	cr_assert(!api_auth_ok(&srv, good, strlen(good) - 1));
	cr_assert(!api_auth_ok(&srv, NULL, 0));
	cr_assert(!api_auth_ok(&srv, "Bearer", 6));
}

/* ---- the request deadlines (slowloris): what the transports apply */
#define S_NS 1000000000ull
#define T0 (1000 * S_NS)

static void feed_str(const char *s)
{
	cr_assert_eq(api_conn_feed(conn, s, strlen(s)), strlen(s));
}

static enum api_req_state req_state(uint64_t *seq)
{
	return api_conn_request_state(conn, seq);
}

Test(http, headers_must_arrive_within_the_header_deadline)
{
	uint64_t seq;
	cr_assert_eq(req_state(&seq), API_REQ_IDLE);
	cr_assert_eq(seq, 0);
	cr_assert_not(api_conn_overdue(conn, T0), "an idle connection is never overdue");
	cr_assert_not(api_conn_overdue(conn, T0 + 3600 * S_NS));
	feed_str("GET /v1/sys");
	cr_assert_eq(req_state(&seq), API_REQ_HEADERS);
	cr_assert_not(api_conn_overdue(conn, T0), "the first sight starts the clock");
	feed_str("tem HTTP/1.1\r\n");           /* a byte now and then changes nothing */
	cr_assert_not(api_conn_overdue(conn, T0 + API_HEADER_TIMEOUT_NS - 1));
	cr_assert(api_conn_overdue(conn, T0 + API_HEADER_TIMEOUT_NS + 1));
}

Test(http, blank_lines_before_a_request_start_its_clock)
{
	feed_str("\r\n");
	uint64_t seq;
	cr_assert_eq(req_state(&seq), API_REQ_HEADERS, "CRLFs kept a slot for ever");
	cr_assert_not(api_conn_overdue(conn, T0));
	cr_assert(api_conn_overdue(conn, T0 + API_HEADER_TIMEOUT_NS + 1));
}

Test(http, a_body_has_until_the_request_deadline)
{
	feed_str("PUT /v1/config HTTP/1.1\r\nContent-Length: 10\r\n\r\nab");
	uint64_t seq;
	cr_assert_eq(req_state(&seq), API_REQ_BODY);
	cr_assert_not(api_conn_overdue(conn, T0));
	cr_assert_not(api_conn_overdue(conn, T0 + API_HEADER_TIMEOUT_NS + S_NS), "headers were in time");
	cr_assert_not(api_conn_overdue(conn, T0 + API_REQUEST_TIMEOUT_NS - 1));
	cr_assert(api_conn_overdue(conn, T0 + API_REQUEST_TIMEOUT_NS + 1));
}

Test(http, a_complete_request_stops_the_clock_and_the_next_starts_its_own)
{
	feed_str("GET /v1/system HTTP/1.1\r\n");
	cr_assert_not(api_conn_overdue(conn, T0));
	feed_str("\r\n");
	uint64_t seq;
	cr_assert_eq(req_state(&seq), API_REQ_IDLE);
	cr_assert_eq(seq, 1);
	cr_assert_not(api_conn_overdue(conn, T0 + 9 * S_NS));
	cr_assert_not(api_conn_overdue(conn, T0 + 100 * S_NS), "a kept-alive idle connection timed out");
	/* pipelined: the second request's first bytes come with the first's
	 * end, its clock starts when they are seen */
	feed_str("GET /v1/system HTTP/1.1\r\n\r\nGET /v1/sy");
	cr_assert_eq(req_state(&seq), API_REQ_HEADERS);
	cr_assert_eq(seq, 2);
	cr_assert_not(api_conn_overdue(conn, T0 + 200 * S_NS));
	feed_str("stem HTTP/1.1\r\n\r\nGET /");
	cr_assert_eq(req_state(&seq), API_REQ_HEADERS);
	cr_assert_eq(seq, 3);
	cr_assert_not(api_conn_overdue(conn, T0 + 205 * S_NS), "a new request, a new clock");
	cr_assert_not(api_conn_overdue(conn, T0 + 205 * S_NS + API_HEADER_TIMEOUT_NS - 1));
	cr_assert(api_conn_overdue(conn, T0 + 205 * S_NS + API_HEADER_TIMEOUT_NS + 1));
}

Test(http, a_closing_connection_is_not_overdue)
{
	feed_str("GET /v1/sys");
	cr_assert_not(api_conn_overdue(conn, T0));
	api_conn_eof(conn);
	uint64_t seq;
	cr_assert_eq(req_state(&seq), API_REQ_IDLE);
	cr_assert_not(api_conn_overdue(conn, T0 + API_REQUEST_TIMEOUT_NS + 1));
}
