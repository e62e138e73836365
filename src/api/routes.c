/*
 * routes.c — the REST resources: the route table and its handlers.
 *
 * Handlers read the appliance only through the server's backend (api.h),
 * build a JSON (or text) response and never block. A backend function
 * the platform does not provide (NULL) gives 503.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "api/api_priv.h"
#include "core/config.h"
#include "core/schema.h"

#define LOG_MAX_LINES 256

static const struct api_backend *backend(struct api_req *req)
{
	return req->srv->be;
}

#define NEED(resp, be, fn) do { \
	if (!(be) || !(be)->fn) { \
		api_resp_error(resp, 503, "not available on this platform"); \
		return; \
	} } while (0)

/* A snapshot of every counter (about 40 KiB: on the heap). NULL: 503/500 sent. */
static struct api_stats *snapshot(struct api_req *req, struct api_resp *resp)
{
	const struct api_backend *be = backend(req);
	if (!be || !be->stats) {
		api_resp_error(resp, 503, "not available on this platform");
		return NULL;
	}
	struct api_stats *st = calloc(1, sizeof *st);
	if (!st) {
		api_resp_error(resp, 500, "out of memory");
		return NULL;
	}
	be->stats(be->arg, st);
	if (st->ncores > API_MAX_CORES)
		st->ncores = API_MAX_CORES;
	if (st->nifs > API_MAX_IFS)
		st->nifs = API_MAX_IFS;
	for (uint32_t i = 0; i < st->nifs; i++)
		if (st->ifs[i].nqueues > API_MAX_QUEUES)
			st->ifs[i].nqueues = API_MAX_QUEUES;
	return st;
}

/* ---- /v1/system */
static void get_system(struct api_req *req, struct api_resp *resp)
{
	const struct api_backend *be = backend(req);
	NEED(resp, be, system);
	struct api_system s = { 0 };
	be->system(be->arg, &s);
	api_resp_json(resp, 200, json_pack("{s:s, s:f, s:I, s:i, s:I}",
		"version", s.version ? s.version : "unknown",
		"uptime_s", (double)s.uptime_ns / 1e9,
		"boot_time", (json_int_t)s.boot_time_unix,
		"cores", (int)s.ncores,
		"memory_bytes", (json_int_t)s.mem_bytes));
}

static void post_shutdown(struct api_req *req, struct api_resp *resp)
{
	const struct api_backend *be = backend(req);
	NEED(resp, be, shutdown);
	api_resp_json(resp, 202, json_pack("{s:s}", "status", "shutting down"));
	resp->close = 1;
	resp->after_sent_shutdown = 1;
}

/* ---- /v1/cores */
static uint64_t net_drops(const struct net_stats *n)
{
	uint64_t d = 0;
#define ADD_DROP(f) if (!strncmp(#f, "drop_", 5) || strstr(#f, "_drop")) d += n->f;
	NET_STATS_FIELDS(ADD_DROP)
#undef ADD_DROP
	return d;
}

static uint64_t queue_drops(const struct api_queue_stats *q)
{
	return q->rx_drop_nobuf + q->rx_drop_runt + q->rx_drop_too_long + q->tx_drop_too_long;
}

static void get_cores(struct api_req *req, struct api_resp *resp)
{
	struct api_stats *st = snapshot(req, resp);
	if (!st)
		return;
	json_t *arr = json_array();
	for (uint32_t c = 0; c < st->ncores; c++) {
		const struct api_core_stats *cs = &st->core[c];
		uint64_t rx = 0, tx = 0, drops = net_drops(&cs->net);
		for (uint32_t i = 0; i < st->nifs; i++)
			for (uint16_t q = 0; q < st->ifs[i].nqueues; q++)
				if (st->ifs[i].q[q].core == c) {
					rx += st->ifs[i].q[q].rx_packets;
					tx += st->ifs[i].q[q].tx_packets;
					drops += queue_drops(&st->ifs[i].q[q]);
				}
		uint64_t cycles = cs->busy_cycles + cs->idle_cycles;
		json_array_append_new(arr, json_pack("{s:i, s:s, s:I, s:I, s:f, s:I, s:I, s:I, s:i, s:i}",
			"id", (int)c, "role", cs->role ? cs->role : (c ? "data" : "control"),
			"turns", (json_int_t)cs->turns, "busy_turns", (json_int_t)cs->busy_turns,
			"busy_percent", cycles ? 100.0 * (double)cs->busy_cycles / (double)cycles : 0.0,
			"rx_packets", (json_int_t)rx, "tx_packets", (json_int_t)tx,
			"drops", (json_int_t)drops, "channel_depth", (int)cs->chan_depth_in,
			"tcp_conns", (int)cs->tcp_conns));
	}
	free(st);
	api_resp_json(resp, 200, json_pack("{s:o}", "cores", arr));
}

/* ---- /v1/interfaces */
static json_t *ipv4(uint32_t a, uint8_t prefix)
{
	char s[32];
	if (!a)
		return json_null();
	if (prefix)
		snprintf(s, sizeof s, "%u.%u.%u.%u/%d", a >> 24, a >> 16 & 255, a >> 8 & 255, a & 255, prefix);
	else
		snprintf(s, sizeof s, "%u.%u.%u.%u", a >> 24, a >> 16 & 255, a >> 8 & 255, a & 255);
	return json_string(s);
}

static json_t *iface_json(const struct api_iface_stats *f)
{
	char mac[18];
	snprintf(mac, sizeof mac, "%02x:%02x:%02x:%02x:%02x:%02x",
		 f->mac[0], f->mac[1], f->mac[2], f->mac[3], f->mac[4], f->mac[5]);
	json_t *qs = json_array();
	struct api_queue_stats t = { 0 };
	for (uint16_t q = 0; q < f->nqueues; q++) {
		const struct api_queue_stats *s = &f->q[q];
		json_array_append_new(qs, json_pack("{s:i, s:i, s:I, s:I, s:I, s:I, s:b}",
			"queue", q, "core", (int)s->core,
			"rx_packets", (json_int_t)s->rx_packets, "tx_packets", (json_int_t)s->tx_packets,
			"rx_bytes", (json_int_t)s->rx_bytes, "tx_bytes", (json_int_t)s->tx_bytes,
			"broken", s->broken != 0));
#define ADD_QUEUE(f, ...) t.f += s->f;
		NETDEV_QUEUE_STATS_FIELDS(ADD_QUEUE)
#undef ADD_QUEUE
	}
	json_t *drops = json_pack("{s:I, s:I, s:I, s:I}",
		"rx_no_buffer", (json_int_t)t.rx_drop_nobuf, "rx_runt", (json_int_t)t.rx_drop_runt,
		"rx_too_long", (json_int_t)t.rx_drop_too_long, "tx_too_long", (json_int_t)t.tx_drop_too_long);
	json_t *counters = json_pack("{s:I, s:I, s:I, s:I, s:I, s:o}",
		"rx_packets", (json_int_t)t.rx_packets, "tx_packets", (json_int_t)t.tx_packets,
		"rx_bytes", (json_int_t)t.rx_bytes, "tx_bytes", (json_int_t)t.tx_bytes,
		"tx_ring_full", (json_int_t)t.tx_ring_full, "drops", drops);
	return json_pack("{s:s, s:s, s:o, s:o, s:i, s:s, s:o, s:o}",
		"name", f->name, "mac", mac, "address", ipv4(f->addr, f->prefix),
		"gateway", ipv4(f->gw, 0), "mtu", f->mtu, "link", f->link_up ? "up" : "down",
		"queues", qs, "counters", counters);
}

static void get_interfaces(struct api_req *req, struct api_resp *resp)
{
	struct api_stats *st = snapshot(req, resp);
	if (!st)
		return;
	json_t *arr = json_array();
	for (uint32_t i = 0; i < st->nifs; i++) {
		st->ifs[i].name[API_NAME_MAX - 1] = 0;
		json_array_append_new(arr, iface_json(&st->ifs[i]));
	}
	free(st);
	api_resp_json(resp, 200, json_pack("{s:o}", "interfaces", arr));
}

static void get_interface(struct api_req *req, struct api_resp *resp)
{
	struct api_stats *st = snapshot(req, resp);
	if (!st)
		return;
	for (uint32_t i = 0; i < st->nifs; i++) {
		st->ifs[i].name[API_NAME_MAX - 1] = 0;
		if (!strcmp(st->ifs[i].name, req->params[0])) {
			api_resp_json(resp, 200, iface_json(&st->ifs[i]));
			free(st);
			return;
		}
	}
	free(st);
	api_resp_error(resp, 404, "no interface %s", req->params[0]);
}

/* ---- /v1/config: shown only redacted (api_config_redact: the rows
 * flagged SF_SECRET carry "<redacted>"), whatever the caller's role */
static void get_config(struct api_req *req, struct api_resp *resp)
{
	const struct api_backend *be = backend(req);
	NEED(resp, be, config_get);
	json_t *cfg = be->config_get(be->arg);
	if (!cfg) {
		api_resp_error(resp, 500, "no running configuration");
		return;
	}
	json_t *shown = api_config_redact(cfg);
	json_decref(cfg);
	if (!shown) {
		api_resp_error(resp, 500, "out of memory");
		return;
	}
	api_resp_json(resp, 200, shown);
}

/* Parse, put back the secrets given as "<redacted>", validate the whole
 * document, render the (redacted) answer, then hand the document to the
 * backend: the answer is ready before anything is applied, so nothing
 * can fail once it is (out of memory included) and any refusal leaves
 * the running config as it was. */
static void put_config(struct api_req *req, struct api_resp *resp)
{
	const struct api_backend *be = backend(req);
	NEED(resp, be, config_apply);
	char err[256];
	json_t *doc;
	if (req->body_len == 0) {
		api_resp_error(resp, 400, "config: the body must be a JSON object");
		return;
	}
	if (config_parse(req->body, req->body_len, &doc, err, sizeof err)) {
		api_resp_error(resp, 400, "%s", err);
		return;
	}
	json_t *running = be->config_get ? be->config_get(be->arg) : NULL;
	int rc = api_config_unredact(doc, running, err, sizeof err);
	json_decref(running);
	if (rc) {
		json_decref(doc);
		api_resp_error(resp, rc == -ENOMEM ? 503 : 400, "%s", err);
		return;
	}
	if (api_config_validate(doc, err, sizeof err)) {
		json_decref(doc);
		api_resp_error(resp, 400, "%s", err);
		return;
	}
	json_t *shown = api_config_redact(doc);
	char *answer = shown ? json_dumps(shown, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
	json_decref(shown);
	if (!answer) {
		json_decref(doc);
		api_resp_error(resp, 503, "out of memory (nothing applied)");
		return;
	}
	err[0] = 0;
	rc = be->config_apply(be->arg, doc, err, sizeof err);
	json_decref(doc);
	if (rc) {
		free(answer);
		api_resp_error(resp, rc == -ENOMEM ? 503 : 409, "%s",
			       err[0] ? err : "the configuration could not be applied");
		return;
	}
	api_resp_text(resp, 200, "application/json", answer, strlen(answer));
}

/* ---- /v1/log. The console's lines, with any of the server's tokens
 * that one may hold cut out (defence in depth: no code logs a secret,
 * and the generated token's console line never enters the log ring) */
static void scrub(char *line, const char *tok, size_t n)
{
	static const char mark[] = SCHEMA_REDACTED;
	char *at, *from = line;
	if (!n)
		return;
	while ((at = strstr(from, tok))) {
		size_t m = sizeof mark - 1 < n ? sizeof mark - 1 : n;
		memcpy(at, mark, m);
		memmove(at + m, at + n, strlen(at + n) + 1);
		from = at + m;
	}
}

static void get_log(struct api_req *req, struct api_resp *resp)
{
	const struct api_backend *be = backend(req);
	NEED(resp, be, log_lines);
	const char *lines[LOG_MAX_LINES];
	char line[512];
	size_t n = be->log_lines(be->arg, lines, LOG_MAX_LINES);
	json_t *arr = json_array();
	for (size_t i = 0; i < n && i < LOG_MAX_LINES; i++) {
		snprintf(line, sizeof line, "%s", lines[i]);
		scrub(line, req->srv->token, req->srv->token_len);
		scrub(line, req->srv->monitor_token, req->srv->monitor_token_len);
		/* console text may hold any byte: keep what is valid UTF-8 */
		json_t *s = json_string(line);
		json_array_append_new(arr, s ? s : json_string("(line not UTF-8)"));
	}
	api_resp_json(resp, 200, json_pack("{s:o}", "lines", arr));
}

/* ---- /metrics, /v1/openapi.json */
static void get_metrics(struct api_req *req, struct api_resp *resp)
{
	struct api_stats *st = snapshot(req, resp);
	if (!st)
		return;
	size_t len;
	char *text = api_metrics_render(st, &len);
	free(st);
	struct api_buf b = { 0 };
	if (text) {
		api_buf_put(&b, text, len);
		api_metrics_server(&b, req->srv);
		const struct api_backend *be = backend(req);
		struct api_app_stats *as = be && be->app_stats ? calloc(1, sizeof *as) : NULL;
		if (as) {
			be->app_stats(be->arg, as);
			api_metrics_app(&b, as);
		} else if (be && be->app_stats) {
			b.oom = 1;
		}
		free(as);
	}
	free(text);
	if (!text || b.oom || !b.p) {
		api_buf_free(&b);
		api_resp_error(resp, 500, "out of memory");
		return;
	}
	api_resp_text(resp, 200, "text/plain; version=0.0.4; charset=utf-8", b.p, b.len);
}

/* ---- an appliance's own resources: /v1/kv */
/* a counter's JSON name: its metric name without "_total" */
static void app_key(const struct api_app_metric *m, char *key, size_t len)
{
	size_t n = strlen(m->name);
	if (!m->gauge && n > 6 && !strcmp(m->name + n - 6, "_total"))
		n -= 6;
	snprintf(key, len, "%.*s", (int)n, m->name);
}

/* GET /v1/<app>: its counters per core and summed ("_total" dropped from
 * counter names in JSON). 404 when another appliance runs. */
static void get_app(struct api_req *req, struct api_resp *resp, const char *app)
{
	const struct api_backend *be = backend(req);
	NEED(resp, be, app_stats);
	struct api_app_stats *as = calloc(1, sizeof *as);
	if (!as) {
		api_resp_error(resp, 500, "out of memory");
		return;
	}
	be->app_stats(be->arg, as);
	if (!as->app || strcmp(as->app, app) || !as->m) {
		free(as);
		api_resp_error(resp, 404, "the %s appliance is not running", app);
		return;
	}
	uint32_t nm = as->nmetrics < API_APP_METRICS_MAX ? as->nmetrics : API_APP_METRICS_MAX;
	uint32_t nc = as->ncores < API_MAX_CORES ? as->ncores : API_MAX_CORES;
	json_t *cores = json_array(), *total = json_object();
	uint64_t sum[API_APP_METRICS_MAX] = { 0 };
	for (uint32_t c = 0; c < nc; c++) {
		if (!as->on[c])
			continue;
		json_t *o = json_pack("{s:i}", "core", (int)c);
		for (uint32_t k = 0; k < nm; k++) {
			char key[64];
			app_key(&as->m[k], key, sizeof key);
			json_object_set_new(o, key, json_integer((json_int_t)as->v[c][k]));
			sum[k] += as->v[c][k];
		}
		json_array_append_new(cores, o);
	}
	for (uint32_t k = 0; k < nm; k++) {
		char key[64];
		app_key(&as->m[k], key, sizeof key);
		json_object_set_new(total, key, json_integer((json_int_t)sum[k]));
	}
	api_resp_json(resp, 200, json_pack("{s:s, s:o, s:o}", "app", app, "cores", cores, "total", total));
	free(as);
}

static void app_action(struct api_req *req, struct api_resp *resp, const char *app, const char *action,
		       const char *done)
{
	const struct api_backend *be = backend(req);
	NEED(resp, be, app_action);
	char err[160] = "";
	int rc = be->app_action(be->arg, app, action, err, sizeof err);
	if (rc == -ENOENT)
		api_resp_error(resp, 404, "the %s appliance is not running", app);
	else if (rc)
		api_resp_error(resp, 503, "%s", err[0] ? err : "try again");
	else
		api_resp_json(resp, 200, json_pack("{s:s}", "status", done));
}

static void get_kv(struct api_req *req, struct api_resp *resp)
{
	get_app(req, resp, "kv");
}

static void post_kv_flush(struct api_req *req, struct api_resp *resp)
{
	app_action(req, resp, "kv", "flush", "flushed");
}

static void get_httpd(struct api_req *req, struct api_resp *resp)
{
	get_app(req, resp, "httpd");
}

static void get_httpd_access_log(struct api_req *req, struct api_resp *resp)
{
	const struct api_backend *be = backend(req);
	NEED(resp, be, app_log);
	char *text = NULL;
	size_t len = 0;
	int rc = be->app_log(be->arg, "httpd", &text, &len);
	if (rc == -ENOENT) {
		api_resp_error(resp, 404, "the httpd appliance is not running");
		return;
	}
	if (rc) {
		api_resp_error(resp, 500, "out of memory");
		return;
	}
	api_resp_text(resp, 200, "text/plain; charset=utf-8", text, len);      /* takes text */
}

/* ---- /v1/site: the httpd appliance's site */

/* a JSON string of text that may not be UTF-8 (a tar name is bytes):
 * as it is when it is, else with every byte >= 0x80 shown as '?' */
static json_t *json_text(const char *t)
{
	json_t *j = json_string(t);
	if (j)
		return j;
	char *c = strdup(t);
	if (!c)
		return NULL;
	for (char *p = c; *p; p++)
		if ((unsigned char)*p >= 0x80)
			*p = '?';
	j = json_string(c);
	free(c);
	return j;
}

struct site_listing {
	json_t *files;
	int oom;
};

static void site_entry(void *ctx, const struct api_site_entry *e)
{
	struct site_listing *l = ctx;
	json_t *path = json_text(e->path);
	json_t *o = path ? json_pack("{s:o, s:I, s:s, s:s, s:I}", "path", path, "size", (json_int_t)e->size,
				     "etag", e->etag, "type", e->type, "mtime", (json_int_t)e->mtime) : NULL;
	if (!o || json_array_append_new(l->files, o))
		l->oom = 1;
}

/* GET /v1/site: every file of the site being served, sorted by path */
static void get_site(struct api_req *req, struct api_resp *resp)
{
	const struct api_backend *be = backend(req);
	NEED(resp, be, site_list);
	struct site_listing l = { .files = json_array() };
	struct api_site_summary sum = { 0 };
	int rc = l.files ? be->site_list(be->arg, site_entry, &l, &sum) : -ENOMEM;
	if (rc == -ENOENT) {
		json_decref(l.files);
		api_resp_error(resp, 404, "the httpd appliance is not running: there is no site");
		return;
	}
	if (rc || l.oom) {
		json_decref(l.files);
		api_resp_error(resp, 500, "out of memory");
		return;
	}
	api_resp_json(resp, 200, json_pack("{s:I, s:I, s:I, s:o}", "files", (json_int_t)sum.files,
					   "dirs", (json_int_t)sum.dirs, "bytes", (json_int_t)sum.bytes,
					   "entries", l.files));
}

/* PUT /v1/site: the body is a tar archive (http.c took it only from an
 * admin, one at a time, within api.site_max_mb); the backend indexes it
 * and publishes it whole, or refuses it and keeps the old site */
static void put_site(struct api_req *req, struct api_resp *resp)
{
	const struct api_backend *be = backend(req);
	NEED(resp, be, site_put);
	char err[512] = "";
	struct api_site_summary sum = { 0 };
	if (!req->body_len) {
		api_resp_error(resp, 400, "the body must be a tar archive (Content-Type: application/x-tar); "
			       "it is empty: nothing changed");
		return;
	}
	int rc = be->site_put(be->arg, req->body, req->body_len, &sum, err, sizeof err);
	if (rc == -ENOENT) {
		api_resp_error(resp, 409, "the site can only be replaced while the httpd appliance runs; "
			       "this appliance is not httpd");
		return;
	}
	if (rc == -EINVAL || rc == -E2BIG) {
		json_t *m = json_text(err[0] ? err : "the archive was refused");
		json_t *j = m ? json_pack("{s:o, s:s}", "error", m, "status", "refused: the old site is kept") : NULL;
		if (j)
			api_resp_json(resp, 400, j);
		else
			api_resp_error(resp, 400, "%s", err);
		return;
	}
	if (rc) {
		api_resp_error(resp, 503, "%s; the old site is kept", err[0] ? err : "out of memory");
		return;
	}
	api_resp_json(resp, 200, json_pack("{s:s, s:I, s:I, s:I}", "status", "replaced", "files",
					   (json_int_t)sum.files, "dirs", (json_int_t)sum.dirs, "bytes",
					   (json_int_t)sum.bytes));
}

static void get_openapi(struct api_req *req, struct api_resp *resp)
{
	api_resp_json(resp, 200, api_openapi());
}

/* The role each route needs: reading status and metrics is the
 * monitor's; the config (even redacted), the log, and every change are
 * the admin's. */
#define MON .role = API_ROLE_MONITOR
#define ADM .role = API_ROLE_ADMIN
const struct api_route api_routes[] = {
	{ API_GET, "/v1/system", get_system, "Version, uptime, cores, memory, boot time", "System", NULL, MON },
	{ API_POST, "/v1/system/shutdown", post_shutdown, "Power off cleanly", "Status", NULL, ADM },
	{ API_GET, "/v1/cores", get_cores, "Per core: role, loop turns, busy %, packets, drops, channel depth",
	  "Cores", NULL, MON },
	{ API_GET, "/v1/interfaces", get_interfaces, "Every network interface with its queues and counters",
	  "Interfaces", NULL, MON },
	{ API_GET, "/v1/interfaces/{name}", get_interface, "One network interface", "Interface", NULL, MON },
	{ API_GET, "/v1/config", get_config, "The running configuration, secrets shown as \"<redacted>\"",
	  "Config", NULL, ADM },
	{ API_PUT, "/v1/config", put_config,
	  "Validate a whole configuration, then apply it atomically (a secret given as \"<redacted>\" "
	  "keeps its running value)", "Config", "Config", ADM },
	{ API_GET, "/v1/log", get_log, "Recent console lines", "Log", NULL, ADM },
	{ API_GET, "/v1/kv", get_kv, "The kv appliance's counters per core and summed (404: kv not running)",
	  "AppStats", NULL, MON },
	{ API_POST, "/v1/kv/flush", post_kv_flush, "flush_all on every kv shard, now", "Status", NULL, ADM },
	{ API_GET, "/v1/httpd", get_httpd,
	  "The httpd appliance's counters per core and summed (404: httpd not running)", "AppStats", NULL, MON },
	{ API_GET, "/v1/httpd/access-log", get_httpd_access_log,
	  "httpd's access log: the last 64 lines of each data core, Combined Log Format (404: httpd not running)",
	  NULL, NULL, ADM },
	{ API_GET, API_SITE_PATH, get_site,
	  "httpd's site: every file's path, size, ETag, content type and mtime (404: httpd not running)",
	  "Site", NULL, MON },
	{ API_PUT, API_SITE_PATH, put_site,
	  "Replace httpd's whole site with a tar archive (application/x-tar, at most api.site_max_mb "
	  "MiB), atomically: every request sees the old site or the new; a refused archive keeps the old",
	  "SiteReplaced", "SiteArchive", ADM },
	{ API_GET, "/metrics", get_metrics, "Prometheus text exposition (format 0.0.4)", NULL, NULL, MON },
	{ API_GET, "/v1/openapi.json", get_openapi, "This document", NULL, NULL, MON },
};
const size_t api_nroutes = sizeof api_routes / sizeof api_routes[0];
