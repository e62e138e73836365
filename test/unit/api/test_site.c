/*
 * test_site.c — PUT and GET /v1/site over the request path (http.c,
 * router.c, routes.c) with a fake httpd backend that indexes archives
 * with the real site builder (httpd_site_build): the roles (monitor
 * reads, admin replaces, checked before any body is stored), the body
 * bound (api.site_max_mb, 413, and 64 KiB still for every other
 * route), a refused archive (400 naming the entry, the old site kept),
 * one upload at a time (503), another appliance (409/404), the longer
 * deadline of an upload, and the OpenAPI document.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <criterion/criterion.h>
#include "api/api_priv.h"
#include "apps/httpd_site.h"
#include "fake.h"
#include "../core/tar_build.h"

#define MONITOR_TOKEN "m0nitor-token-0123456789"
#define ADMIN "Authorization: Bearer " FAKE_TOKEN "\r\n"
#define MONITOR "Authorization: Bearer " MONITOR_TOKEN "\r\n"

/* ---- a fake httpd: the archive being served (a copy), indexed */
static int site_on, site_puts;
static uint8_t *site_ar;
static size_t site_len;

static int fake_site_list(void *arg, void (*fn)(void *ctx, const struct api_site_entry *e), void *ctx,
			  struct api_site_summary *sum)
{
	if (!site_on)
		return -ENOENT;
	struct httpd_site_opts o = { 0 };
	struct httpd_site *s;
	char err[256];
	if (httpd_site_build(site_ar, site_len, &o, &s, err, sizeof err))
		return -ENOMEM;
	const struct httpd_site_stats *st = httpd_site_stats(s);
	sum->files = st->files;
	sum->dirs = st->dirs;
	sum->bytes = st->bytes;
	for (size_t i = 0; fn && i < httpd_site_count(s); i++) {
		const struct httpd_site_file *f = httpd_site_at(s, i);
		if (f->kind != HTTPD_SITE_FILE)
			continue;
		struct api_site_entry e = { f->path, f->size, f->etag, f->type, f->mtime };
		fn(ctx, &e);
	}
	httpd_site_free(s);
	return 0;
}

static int fake_site_put(void *arg, const void *tar, size_t len, struct api_site_summary *sum, char *err,
			 size_t errlen)
{
	if (!site_on)
		return -ENOENT;
	struct httpd_site_opts o = { 0 };
	struct httpd_site *s;
	int rc = httpd_site_build(tar, len, &o, &s, err, errlen);
	if (rc)
		return rc;
	httpd_site_free(s);
	uint8_t *copy = malloc(len);
	cr_assert_not_null(copy);
	memcpy(copy, tar, len);
	free(site_ar);
	site_ar = copy;
	site_len = len;
	site_puts++;
	return fake_site_list(arg, NULL, NULL, sum);
}

static struct api_server srv;
static struct api_conn *conn;
static struct api_backend be;

/* the boot site: index.html and css/site.css */
static void site_boot(void)
{
	struct tb t = { 0 };
	tb_file(&t, "index.html", "<h1>old</h1>\n");
	tb_dir(&t, "css/");
	tb_file(&t, "css/site.css", "h1 { color: red }\n");
	tb_end(&t);
	free(site_ar);
	site_ar = t.buf;
	site_len = t.len;
}

static void setup(void)
{
	fake_reset();
	be = fake_backend;
	be.site_put = fake_site_put;
	be.site_list = fake_site_list;
	site_on = 1;
	site_puts = 0;
	site_boot();
	cr_assert_eq(api_server_init(&srv, FAKE_TOKEN, &be), 0);
	cr_assert_eq(api_server_set_monitor_token(&srv, MONITOR_TOKEN), 0);
	cr_assert_eq(srv.site_max_bytes, (uint64_t)API_SITE_MAX_MB << 20);
	srv.site_max_bytes = 1 << 20;   /* 1 MiB in these tests */
	conn = api_conn_new(&srv);
	cr_assert_not_null(conn);
}

static void teardown(void)
{
	api_conn_free(conn);
	json_decref(fake_cfg);
	fake_cfg = NULL;
	free(site_ar);
	site_ar = NULL;
}

TestSuite(site, .init = setup, .fini = teardown);

static char out[400000];
static int status;
static char *body, *head;

/* The response waiting on c (exactly one); 0 when there is none. */
static int response(struct api_conn *c)
{
	size_t n;
	const void *p = api_conn_output(c, &n);
	if (!n)
		return 0;
	cr_assert_lt(n, sizeof out);
	memcpy(out, p, n);
	out[n] = 0;
	api_conn_output_done(c, n);
	cr_assert_eq(sscanf(out, "HTTP/1.1 %d ", &status), 1);
	head = out;
	body = strstr(out, "\r\n\r\n");
	cr_assert_not_null(body);
	body += 4;
	return status;
}

/* Feeds head (text) then len bytes of data on c: the response's status */
static int send_on(struct api_conn *c, const char *h, const void *data, size_t len)
{
	cr_assert_eq(api_conn_feed(c, h, strlen(h)), strlen(h));
	if (len && !api_conn_closing(c))
		cr_assert_eq(api_conn_feed(c, data, len), len);
	return response(c);
}

static int put_site(const char *auth, const struct tb *t)
{
	char h[256];
	snprintf(h, sizeof h, "PUT /v1/site HTTP/1.1\r\n%sContent-Type: application/x-tar\r\n"
		 "Content-Length: %zu\r\n\r\n", auth, t->len);
	return send_on(conn, h, t->buf, t->len);
}

static json_t *get_site(const char *auth)
{
	char h[256];
	snprintf(h, sizeof h, "GET /v1/site HTTP/1.1\r\n%s\r\n", auth);
	cr_assert_eq(send_on(conn, h, NULL, 0), 200, "%s", body);
	json_t *j = json_loads(body, 0, NULL);
	cr_assert_not_null(j, "%s", body);
	return j;
}

/* the entry for path in a GET /v1/site document, or NULL */
static json_t *entry(json_t *doc, const char *path)
{
	json_t *e;
	size_t i;
	json_array_foreach(json_object_get(doc, "entries"), i, e)
		if (!strcmp(json_string_value(json_object_get(e, "path")), path))
			return e;
	return NULL;
}

static const char *error_of(void)
{
	static char msg[600];
	json_t *j = json_loads(body, 0, NULL);
	cr_assert_not_null(j, "%s", body);
	snprintf(msg, sizeof msg, "%s", json_string_value(json_object_get(j, "error")));
	json_decref(j);
	return msg;
}

Test(site, the_monitor_lists_the_site)
{
	json_t *d = get_site(MONITOR);
	cr_assert_eq(json_integer_value(json_object_get(d, "files")), 2);
	cr_assert_eq(json_integer_value(json_object_get(d, "dirs")), 2);       /* the root and css */
	cr_assert_eq(json_array_size(json_object_get(d, "entries")), 2, "directories are not listed");
	/* sorted by path */
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(json_object_get(d, "entries"), 0),
							   "path")), "css/site.css");
	json_t *e = entry(d, "index.html");
	cr_assert_not_null(e);
	cr_assert_eq(json_integer_value(json_object_get(e, "size")), 13);
	cr_assert_eq(json_integer_value(json_object_get(e, "mtime")), 1700000000);
	cr_assert(!strncmp(json_string_value(json_object_get(e, "type")), "text/html", 9));
	const char *etag = json_string_value(json_object_get(e, "etag"));
	cr_assert(etag && etag[0] == '"' && strstr(etag, "d-"), "%s", etag);       /* size 13 = 0xd */
	cr_assert(!strncmp(json_string_value(json_object_get(entry(d, "css/site.css"), "type")), "text/css", 8));
	json_decref(d);
}

Test(site, the_admin_replaces_it_whole)
{
	json_t *before = get_site(ADMIN);
	char old_etag[64];
	snprintf(old_etag, sizeof old_etag, "%s",
		 json_string_value(json_object_get(entry(before, "index.html"), "etag")));
	json_decref(before);
	/* larger than every other route's 64 KiB: a site may be */
	struct tb t = { 0 };
	char *big = malloc(200000);
	memset(big, 'x', 200000);
	big[199999] = 0;
	tb_file(&t, "index.html", "<h1>new</h1>\n");
	tb_file(&t, "big.txt", big);
	tb_end(&t);
	free(big);
	cr_assert_gt(t.len, API_MAX_BODY_BYTES);
	cr_assert_eq(put_site(ADMIN, &t), 200, "%s", body);
	tb_free(&t);
	json_t *r = json_loads(body, 0, NULL);
	cr_assert_str_eq(json_string_value(json_object_get(r, "status")), "replaced");
	cr_assert_eq(json_integer_value(json_object_get(r, "files")), 2);
	cr_assert_eq(json_integer_value(json_object_get(r, "bytes")), 13 + 199999);
	json_decref(r);
	cr_assert_eq(site_puts, 1);
	cr_assert_not(api_conn_closing(conn), "keep-alive goes on after an upload");
	cr_assert_not(srv.site_uploading, "the upload slot is given back");
	json_t *after = get_site(MONITOR);
	cr_assert_null(entry(after, "css/site.css"), "the old site is gone whole");
	cr_assert_eq(json_integer_value(json_object_get(entry(after, "big.txt"), "size")), 199999);
	cr_assert_str_neq(json_string_value(json_object_get(entry(after, "index.html"), "etag")), old_etag);
	json_decref(after);
}

Test(site, chunked_upload)
{
	struct tb t = { 0 };
	tb_file(&t, "a.txt", "chunked\n");
	tb_end(&t);
	const char *h = "PUT /v1/site HTTP/1.1\r\n" ADMIN "Transfer-Encoding: chunked\r\n\r\n";
	cr_assert_eq(api_conn_feed(conn, h, strlen(h)), strlen(h));
	for (size_t off = 0; off < t.len; off += 1000) {
		size_t n = t.len - off < 1000 ? t.len - off : 1000;
		char c[16];
		snprintf(c, sizeof c, "%zx\r\n", n);
		api_conn_feed(conn, c, strlen(c));
		api_conn_feed(conn, t.buf + off, n);
		api_conn_feed(conn, "\r\n", 2);
	}
	api_conn_feed(conn, "0\r\n\r\n", 5);
	cr_assert_eq(response(conn), 200, "%s", body);
	tb_free(&t);
	json_t *d = get_site(ADMIN);
	cr_assert_not_null(entry(d, "a.txt"));
	json_decref(d);
}

Test(site, the_monitor_and_nobody_are_refused_before_the_body)
{
	static const char *auth[] = { MONITOR, "", "Authorization: Bearer wrong-token-0123456789\r\n" };
	static const int want[] = { 403, 401, 401 };
	for (int i = 0; i < 3; i++) {
		api_conn_free(conn);
		conn = api_conn_new(&srv);
		char h[256];
		/* the headers alone are answered: the body is never stored */
		snprintf(h, sizeof h, "PUT /v1/site HTTP/1.1\r\n%sContent-Length: 900000\r\n\r\n", auth[i]);
		cr_assert_eq(send_on(conn, h, NULL, 0), want[i], "%d: %s", i, body);
		cr_assert(api_conn_closing(conn));
		cr_assert_not(srv.site_uploading);
	}
	cr_assert(strstr(head, "WWW-Authenticate: Bearer"));
	cr_assert_eq(site_puts, 0);
}

Test(site, too_large_is_413_and_changes_nothing)
{
	char h[256];
	snprintf(h, sizeof h, "PUT /v1/site HTTP/1.1\r\n" ADMIN "Content-Length: %d\r\n\r\n", (1 << 20) + 1);
	cr_assert_eq(send_on(conn, h, NULL, 0), 413);
	cr_assert(strstr(error_of(), "api.site_max_mb (1 MiB)"), "%s", error_of());
	cr_assert(api_conn_closing(conn));
	cr_assert_not(srv.site_uploading);
	/* chunked: found out on the way */
	api_conn_free(conn);
	conn = api_conn_new(&srv);
	const char *c = "PUT /v1/site HTTP/1.1\r\n" ADMIN "Transfer-Encoding: chunked\r\n\r\n";
	cr_assert_eq(api_conn_feed(conn, c, strlen(c)), strlen(c));
	cr_assert(srv.site_uploading);
	static char chunk[7 + 0x10000 + 2];
	memset(chunk, 'x', sizeof chunk);
	memcpy(chunk, "10000\r\n", 7);
	memcpy(chunk + 7 + 0x10000, "\r\n", 2);
	int fed = 0;
	for (; fed < 20 && !api_conn_closing(conn); fed++)
		api_conn_feed(conn, chunk, sizeof chunk);
	cr_assert_eq(fed, 17, "1 MiB is 16 chunks of 64 KiB: the 17th is one too many");
	cr_assert(api_conn_closing(conn));
	cr_assert_eq(response(conn), 413);
	cr_assert_not(srv.site_uploading, "the slot and memory are given back");
	cr_assert_eq(site_puts, 0);
	/* every other route keeps its 64 KiB */
	api_conn_free(conn);
	conn = api_conn_new(&srv);
	snprintf(h, sizeof h, "PUT /v1/config HTTP/1.1\r\n" ADMIN "Content-Length: %d\r\n\r\n",
		 API_MAX_BODY_BYTES + 1);
	cr_assert_eq(send_on(conn, h, NULL, 0), 413);
	api_conn_free(conn);
	conn = api_conn_new(&srv);
	snprintf(h, sizeof h, "PUT /v1/site/x HTTP/1.1\r\n" ADMIN "Content-Length: %d\r\n\r\n",
		 API_MAX_BODY_BYTES + 1);
	cr_assert_eq(send_on(conn, h, NULL, 0), 413);
}

Test(site, a_refused_archive_is_400_naming_the_entry_and_keeps_the_old_site)
{
	struct tb t = { 0 };
	/* a name with a ".." component */
	tb_file(&t, "ok.html", "fine\n");
	tb_file(&t, "../escape.html", "out\n");
	tb_end(&t);
	cr_assert_eq(put_site(ADMIN, &t), 400, "%s", body);
	cr_assert(strstr(error_of(), "../escape.html"), "%s", error_of());
	cr_assert(strstr(body, "old site is kept"), "%s", body);
	tb_free(&t);
	/* two entries for one path */
	tb_file(&t, "twice.html", "1\n");
	tb_file(&t, "twice.html", "2\n");
	tb_end(&t);
	cr_assert_eq(put_site(ADMIN, &t), 400, "%s", body);
	cr_assert(strstr(error_of(), "twice.html"), "%s", error_of());
	tb_free(&t);
	/* truncated inside a file's data */
	tb_file(&t, "whole.html", "1\n");
	tb_header(&t, "cut.html", '0', 5000, NULL, 1700000000);
	tb_data(&t, "short", 5);
	cr_assert_eq(put_site(ADMIN, &t), 400, "%s", body);
	cr_assert(strstr(error_of(), "cut.html"), "%s", error_of());
	tb_free(&t);
	/* not a tar archive at all */
	const char *junk = "PUT /v1/site HTTP/1.1\r\n" ADMIN "Content-Length: 11\r\n\r\n{\"a\": true}";
	cr_assert_eq(send_on(conn, junk, NULL, 0), 400, "%s", body);
	/* empty */
	cr_assert_eq(send_on(conn, "PUT /v1/site HTTP/1.1\r\n" ADMIN "Content-Length: 0\r\n\r\n", NULL, 0), 400);
	cr_assert(strstr(error_of(), "empty"), "%s", error_of());
	cr_assert_eq(site_puts, 0);
	cr_assert_not(srv.site_uploading);
	json_t *d = get_site(MONITOR);
	cr_assert_not_null(entry(d, "css/site.css"), "the old site is still served");
	cr_assert_null(entry(d, "ok.html"));
	json_decref(d);
}

Test(site, one_upload_at_a_time)
{
	struct tb t = { 0 };
	tb_file(&t, "first.html", "1\n");
	tb_end(&t);
	char h[256];
	snprintf(h, sizeof h, "PUT /v1/site HTTP/1.1\r\n" ADMIN "Content-Length: %zu\r\n\r\n", t.len);
	/* the first is on its way: headers and half its body */
	cr_assert_eq(api_conn_feed(conn, h, strlen(h)), strlen(h));
	cr_assert_eq(api_conn_feed(conn, t.buf, 512), 512);
	cr_assert(srv.site_uploading);
	struct api_conn *second = api_conn_new(&srv);
	cr_assert_eq(send_on(second, h, NULL, 0), 503);
	cr_assert(strstr(error_of(), "another site upload"), "%s", error_of());
	cr_assert(api_conn_closing(second));
	cr_assert_eq(srv.site_uploads_refused, 1);
	api_conn_free(second);
	/* the first goes on, unharmed */
	cr_assert_eq(api_conn_feed(conn, t.buf + 512, t.len - 512), t.len - 512);
	cr_assert_eq(response(conn), 200, "%s", body);
	cr_assert_not(srv.site_uploading);
	/* a connection that goes mid-upload gives the slot back */
	struct api_conn *third = api_conn_new(&srv);
	cr_assert_eq(api_conn_feed(third, h, strlen(h)), strlen(h));
	cr_assert(srv.site_uploading);
	api_conn_free(third);
	cr_assert_not(srv.site_uploading);
	third = api_conn_new(&srv);
	cr_assert_eq(api_conn_feed(third, h, strlen(h)), strlen(h));
	api_conn_eof(third);
	cr_assert_not(srv.site_uploading);
	api_conn_free(third);
	cr_assert_eq(send_on(conn, h, t.buf, t.len), 200, "%s", body);
	cr_assert_eq(site_puts, 2);
	tb_free(&t);
}

Test(site, another_appliance)
{
	site_on = 0;
	struct tb t = { 0 };
	tb_file(&t, "a.html", "a\n");
	tb_end(&t);
	cr_assert_eq(put_site(ADMIN, &t), 409, "%s", body);
	cr_assert(strstr(error_of(), "not httpd"), "%s", error_of());
	tb_free(&t);
	cr_assert_eq(send_on(conn, "GET /v1/site HTTP/1.1\r\n" MONITOR "\r\n", NULL, 0), 404);
	cr_assert(strstr(error_of(), "httpd appliance is not running"), "%s", error_of());
	/* a platform without the hooks */
	be.site_put = NULL;
	be.site_list = NULL;
	cr_assert_eq(send_on(conn, "GET /v1/site HTTP/1.1\r\n" MONITOR "\r\n", NULL, 0), 503);
}

Test(site, an_upload_has_a_longer_deadline)
{
	srv.site_max_bytes = 64u << 20;
	char h[256];
	snprintf(h, sizeof h, "PUT /v1/site HTTP/1.1\r\n" ADMIN "Content-Length: %u\r\n\r\nxx", 64u << 20);
	cr_assert_eq(api_conn_feed(conn, h, strlen(h)), strlen(h));
	uint64_t t0 = 1000000000ull;
	cr_assert_not(api_conn_overdue(conn, t0));
	/* 64 MiB at 256 KiB/s: 256 s on top of the 30 */
	cr_assert_not(api_conn_overdue(conn, t0 + API_REQUEST_TIMEOUT_NS + 200 * 1000000000ull));
	cr_assert(api_conn_overdue(conn, t0 + API_REQUEST_TIMEOUT_NS + 257 * 1000000000ull));
	/* any other request keeps the 30 s */
	struct api_conn *c = api_conn_new(&srv);
	const char *p = "PUT /v1/config HTTP/1.1\r\n" ADMIN "Content-Length: 100\r\n\r\n{";
	cr_assert_eq(api_conn_feed(c, p, strlen(p)), strlen(p));
	cr_assert_not(api_conn_overdue(c, t0));
	cr_assert(api_conn_overdue(c, t0 + API_REQUEST_TIMEOUT_NS + 1));
	api_conn_free(c);
}

Test(site, roles_and_openapi)
{
	int get = 0, put = 0;
	for (size_t i = 0; i < api_nroutes; i++) {
		const struct api_route *r = &api_routes[i];
		if (strcmp(r->pattern, API_SITE_PATH))
			continue;
		get |= r->method == API_GET;
		put |= r->method == API_PUT;
		cr_assert_eq(r->role, r->method == API_GET ? API_ROLE_MONITOR : API_ROLE_ADMIN);
	}
	cr_assert(get && put);
	json_t *doc = api_openapi();
	json_t *path = json_object_get(json_object_get(doc, "paths"), "/v1/site");
	json_t *op = json_object_get(path, "put");
	cr_assert_str_eq(json_string_value(json_object_get(op, "x-pollux-role")), "admin");
	cr_assert_not_null(json_object_get(json_object_get(json_object_get(op, "requestBody"), "content"),
					   "application/x-tar"));
	cr_assert_not_null(json_object_get(json_object_get(op, "responses"), "413"));
	op = json_object_get(path, "get");
	cr_assert_str_eq(json_string_value(json_object_get(op, "x-pollux-role")), "monitor");
	cr_assert_not_null(json_object_get(json_object_get(json_object_get(doc, "components"), "schemas"),
					   "Site"));
	json_decref(doc);
}
