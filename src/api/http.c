/*
 * http.c — HTTP/1.1 over a byte stream: one api_conn per connection,
 * parsed by Debian's http-parser, answered through the router.
 *
 * The transport hands in bytes (api_conn_feed) and takes bytes out
 * (api_conn_output / api_conn_output_done); nothing here touches a
 * socket, so TLS on the stack and a host socket serve the same code.
 *
 * Keep-alive and pipelining: the parser is paused at the end of every
 * message, the request is answered, then parsing goes on with the rest of
 * the input. While more than API_OUT_HIGH_WATER bytes wait to go out, feed
 * takes no more input, so a client that sends without reading holds at
 * most one response beyond that in memory.
 *
 * Bounds: request line plus headers at most API_MAX_HEADER_BYTES (else
 * 431), a body at most API_MAX_BODY_BYTES (else 413), malformed input 400;
 * each of these answers once and closes the connection. PUT /v1/site is
 * the one exception (api.h, API_SITE_PATH): its body may be up to the
 * server's site_max_bytes, so it is decided at the end of its headers,
 * before any of the body is stored, whether to take it at all: only
 * with an admin credential (else 401 or 403), only one at a time per
 * server (else 503), only within the bound (else 413). Its buffer is
 * allocated once from Content-Length and freed as soon as the request
 * is answered or the connection fails or goes.
 *
 * Time: nothing here reads a clock. api_conn_request_state says whether
 * a request is on its way (bytes taken since the last complete one, even
 * the empty lines before a request line, which the parser skips), in its
 * headers or its body, and api_conn_overdue applies the deadlines with
 * the transport's clock (API_HEADER_TIMEOUT_NS, API_REQUEST_TIMEOUT_NS).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <http_parser.h>
#include "api/api_priv.h"

enum hdr { HDR_OTHER, HDR_AUTH, HDR_EXPECT };

struct api_conn {
	struct api_server *srv;
	http_parser parser;
	struct api_buf out;
	int closing;
	enum api_role peer_role;        /* set by the TLS layer: a verified client certificate */

	/* the request being parsed; reset at each message begin */
	struct api_buf url, body;
	size_t header_bytes;
	char field[32];                 /* the current header's name, lowercase, truncated */
	size_t field_len;
	int in_value;                   /* the last callback was a header value */
	enum hdr hdr;
	char auth[API_TOKEN_MAX + 32];
	size_t auth_len;
	int auth_seen, auth_long, expect_continue;
	int fail;                       /* status to answer with when parsing stops */
	char fail_msg[160];             /* its message ("": the status text) */
	uint64_t body_max;              /* this request's body bound */
	uint64_t body_expect;           /* a site upload's size (Content-Length, else body_max) */
	int site_upload;                /* this request is PUT /v1/site, holding srv->site_uploading */
	int complete;                   /* a whole message is in */

	/* the request on its way, for the transport's deadlines */
	size_t since_done;              /* bytes taken since the last complete request */
	int in_body;                    /* its headers are complete */
	uint64_t done;                  /* requests complete so far */
	struct api_req_clock clock;
};

/* ---- parser callbacks: gather one request, within the bounds */
static struct api_conn *conn_of(http_parser *p) { return p->data; }

static int count_header(struct api_conn *c, size_t n)
{
	c->header_bytes += n;
	if (c->header_bytes > API_MAX_HEADER_BYTES) {
		c->fail = 431;
		return -1;
	}
	return 0;
}

static int on_message_begin(http_parser *p)
{
	struct api_conn *c = conn_of(p);
	c->url.len = c->url.off = 0;
	c->body.len = c->body.off = 0;
	c->header_bytes = 0;
	c->field_len = 0;
	c->in_value = 0;
	c->hdr = HDR_OTHER;
	c->auth_len = 0;
	c->auth_seen = c->auth_long = c->expect_continue = 0;
	c->complete = 0;
	c->in_body = 0;
	c->body_max = API_MAX_BODY_BYTES;
	return 0;
}

static int on_url(http_parser *p, const char *at, size_t n)
{
	struct api_conn *c = conn_of(p);
	if (count_header(c, n))
		return -1;
	return api_buf_put(&c->url, at, n) ? (c->fail = 500, -1) : 0;
}

static int on_header_field(http_parser *p, const char *at, size_t n)
{
	struct api_conn *c = conn_of(p);
	if (count_header(c, n))
		return -1;
	if (c->in_value) {              /* a new header starts */
		c->field_len = 0;
		c->in_value = 0;
	}
	for (size_t i = 0; i < n && c->field_len < sizeof c->field - 1; i++) {
		char ch = at[i];
		c->field[c->field_len++] = ch >= 'A' && ch <= 'Z' ? (char)(ch + 32) : ch;
	}
	c->field[c->field_len] = 0;
	return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t n)
{
	struct api_conn *c = conn_of(p);
	if (count_header(c, n))
		return -1;
	if (!c->in_value) {             /* first piece of this value */
		c->in_value = 1;
		c->hdr = !strcmp(c->field, "authorization") ? HDR_AUTH :
			 !strcmp(c->field, "expect") ? HDR_EXPECT : HDR_OTHER;
		if (c->hdr == HDR_AUTH && c->auth_seen++) {
			c->fail = 400;          /* two credentials: refuse both */
			return -1;
		}
	}
	if (c->hdr == HDR_AUTH) {
		size_t room = sizeof c->auth - c->auth_len;
		if (n > room)
			c->auth_long = 1;       /* cannot match any token */
		memcpy(c->auth + c->auth_len, at, n < room ? n : room);
		c->auth_len += n < room ? n : room;
	} else if (c->hdr == HDR_EXPECT) {
		c->expect_continue = n == 12 && !strncasecmp(at, "100-continue", 12);
	}
	return 0;
}

/* the request's target is API_SITE_PATH (a query string allowed) */
static int is_site_put(const struct api_conn *c, const http_parser *p)
{
	size_t n = sizeof API_SITE_PATH - 1;
	return p->method == HTTP_PUT && c->url.p && c->url.len >= n && !memcmp(c->url.p, API_SITE_PATH, n) &&
	       (c->url.len == n || c->url.p[n] == '?');
}

static int fail_with(struct api_conn *c, int status, const char *msg)
{
	c->fail = status;
	snprintf(c->fail_msg, sizeof c->fail_msg, "%s", msg);
	return -1;
}

/* PUT /v1/site's headers are in: take its body or refuse it now */
static int site_upload_begin(struct api_conn *c, http_parser *p)
{
	struct api_server *s = c->srv;
	enum api_role role = api_auth_role(s, c->auth_long ? NULL : c->auth, c->auth_len);
	if (c->peer_role > role)
		role = c->peer_role;
	if (role == API_ROLE_NONE)
		return fail_with(c, 401, "a valid \"Authorization: Bearer <token>\" header is required");
	if (role < API_ROLE_ADMIN)
		return fail_with(c, 403, "PUT " API_SITE_PATH " needs the admin role; this credential is "
				 "read-only (monitor)");
	if (s->site_uploading) {
		s->site_uploads_refused++;
		return fail_with(c, 503, "another site upload is on its way; try again when it is done");
	}
	c->body_max = s->site_max_bytes;
	if (p->content_length != ULLONG_MAX && p->content_length > c->body_max) {
		char m[120];
		snprintf(m, sizeof m, "the site archive is larger than api.site_max_mb (%llu MiB)",
			 (unsigned long long)(c->body_max >> 20));
		return fail_with(c, 413, m);
	}
	if (p->content_length != ULLONG_MAX && p->content_length &&
	    api_buf_reserve_exact(&c->body, (size_t)p->content_length))
		return fail_with(c, 503, "no memory for the site archive; nothing changed");
	s->site_uploading = 1;
	c->site_upload = 1;
	c->body_expect = p->content_length != ULLONG_MAX ? p->content_length : c->body_max;
	return 0;
}

/* the upload is answered, or failed, or its connection goes: its memory
 * and the server's one upload slot are given back */
static void site_upload_end(struct api_conn *c)
{
	if (!c->site_upload)
		return;
	c->site_upload = 0;
	c->srv->site_uploading = 0;
	api_buf_free(&c->body);
}

static int on_headers_complete(http_parser *p)
{
	struct api_conn *c = conn_of(p);
	if (is_site_put(c, p) && site_upload_begin(c, p))
		return -1;
	if (p->content_length != ULLONG_MAX && p->content_length > c->body_max) {
		c->fail = 413;
		return -1;
	}
	c->in_body = 1;
	/* curl asks before sending a large PUT body */
	if (c->expect_continue && p->http_major == 1 && p->http_minor >= 1)
		api_buf_printf(&c->out, "HTTP/1.1 100 Continue\r\n\r\n");
	return 0;
}

static int on_body(http_parser *p, const char *at, size_t n)
{
	struct api_conn *c = conn_of(p);
	if (c->body.len + n > c->body_max) {
		c->fail = 413;
		if (c->site_upload)
			snprintf(c->fail_msg, sizeof c->fail_msg, "the site archive is larger than "
				 "api.site_max_mb (%llu MiB)", (unsigned long long)(c->body_max >> 20));
		return -1;
	}
	return api_buf_put(&c->body, at, n) ? (c->fail = 500, -1) : 0;
}

static int on_message_complete(http_parser *p)
{
	struct api_conn *c = conn_of(p);
	c->complete = 1;
	c->in_body = 0;
	http_parser_pause(p, 1);        /* answer this one before parsing on */
	return 0;
}

static const http_parser_settings settings = {
	.on_message_begin = on_message_begin,
	.on_url = on_url,
	.on_header_field = on_header_field,
	.on_header_value = on_header_value,
	.on_headers_complete = on_headers_complete,
	.on_body = on_body,
	.on_message_complete = on_message_complete,
};

/* ---- responses */
const char *api_status_text(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 200: return "OK";
	case 202: return "Accepted";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 413: return "Payload Too Large";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
	default: return "Unknown";
	}
}

/* Queues one response. keep_alive_10: an HTTP/1.0 client asked to keep
 * the connection, which must then be said explicitly. Every response
 * carries Strict-Transport-Security: the API is only ever served over
 * TLS (tls.c; plain HTTP on the port gets an alert), so a browser told
 * once never tries http:// to this host for a year (testssl.sh rates a
 * missing or shorter-than-180-days HSTS). Cache-Control: no-store keeps
 * configs and metrics out of caches. */
static void respond(struct api_conn *c, struct api_resp *r, int keep_alive_10)
{
	struct api_server *s = c->srv;
	if (r->status >= 500)
		s->responses_5xx++;
	else if (r->status >= 400)
		s->responses_4xx++;
	if (r->close)
		c->closing = 1;
	api_buf_printf(&c->out, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
		       "Cache-Control: no-store\r\nStrict-Transport-Security: max-age=31536000\r\n",
		       r->status, api_status_text(r->status),
		       r->content_type ? r->content_type : "application/json", r->body_len);
	if (r->allow[0])
		api_buf_printf(&c->out, "Allow: %s\r\n", r->allow);
	if (r->status == 401)
		api_buf_printf(&c->out, "WWW-Authenticate: Bearer realm=\"pollux\"\r\n");
	if (c->closing)
		api_buf_printf(&c->out, "Connection: close\r\n");
	else if (keep_alive_10)
		api_buf_printf(&c->out, "Connection: keep-alive\r\n");
	api_buf_put(&c->out, "\r\n", 2);
	if (r->body_len)
		api_buf_put(&c->out, r->body, r->body_len);
	free(r->body);
	r->body = NULL;
	if (r->after_sent_shutdown && s->be && s->be->shutdown)
		s->be->shutdown(s->be->arg);
}

static void respond_error(struct api_conn *c, int status)
{
	struct api_resp r = { 0 };
	c->srv->bad_requests++;
	api_resp_error(&r, status, "%s", c->fail_msg[0] ? c->fail_msg : api_status_text(status));
	c->fail_msg[0] = 0;
	r.close = 1;
	respond(c, &r, 0);
}

static enum api_method method_of(unsigned m)
{
	switch (m) {
	case HTTP_GET: return API_GET;
	case HTTP_PUT: return API_PUT;
	case HTTP_POST: return API_POST;
	case HTTP_DELETE: return API_DELETE;
	default: return API_OTHER;
	}
}

static void answer(struct api_conn *c)
{
	http_parser *p = &c->parser;
	struct api_resp r = { 0 };
	struct http_parser_url u;
	c->srv->requests++;
	if (c->url.oom || c->body.oom) {
		respond_error(c, 500);
		return;
	}
	if (p->http_major != 1 || p->http_minor > 1) {
		respond_error(c, 505);
		return;
	}
	http_parser_url_init(&u);
	if (http_parser_parse_url(c->url.p, c->url.len, 0, &u) || !(u.field_set & (1 << UF_PATH))) {
		respond_error(c, 400);
		return;
	}
	/* the path, NUL-terminated in place (the query string is dropped) */
	c->url.p[u.field_data[UF_PATH].off + u.field_data[UF_PATH].len] = 0;
	struct api_req req = {
		.method = method_of(p->method),
		.method_name = http_method_str((enum http_method)p->method),
		.path = c->url.p + u.field_data[UF_PATH].off,
		.body = c->body.p ? c->body.p : "",
		.body_len = c->body.len,
		.srv = c->srv,
		.peer_role = c->peer_role,
	};
	int keep = http_should_keep_alive(p);
	api_dispatch(c->srv, &req, c->auth_long ? NULL : c->auth, c->auth_len, &r);
	if (!keep || p->upgrade)
		r.close = 1;
	respond(c, &r, keep && p->http_major == 1 && p->http_minor == 0);
	site_upload_end(c);
}

/* ---- the transport's side */
struct api_conn *api_conn_new(struct api_server *s)
{
	struct api_conn *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	c->srv = s;
	http_parser_init(&c->parser, HTTP_REQUEST);
	c->parser.data = c;
	return c;
}

void api_conn_free(struct api_conn *c)
{
	if (!c)
		return;
	site_upload_end(c);
	api_buf_free(&c->out);
	api_buf_free(&c->url);
	api_buf_free(&c->body);
	free(c);
}

size_t api_conn_feed(struct api_conn *c, const void *in, size_t len)
{
	const char *data = in;
	size_t off = 0;
	while (off < len && !c->closing && c->out.len - c->out.off <= API_OUT_HIGH_WATER) {
		size_t n = http_parser_execute(&c->parser, &settings, data + off, len - off);
		enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
		off += n;
		c->since_done += n;
		if (e == HPE_PAUSED && c->complete) {
			http_parser_pause(&c->parser, 0);
			c->complete = 0;
			/* the pause came at the message's last byte */
			c->since_done = 0;
			c->done++;
			answer(c);
			continue;
		}
		if (e != HPE_OK) {
			site_upload_end(c);
			respond_error(c, c->fail ? c->fail : e == HPE_HEADER_OVERFLOW ? 431 : 400);
			return len;     /* the rest is never read */
		}
		if (c->parser.upgrade) {        /* http-parser stops at an upgrade */
			c->closing = 1;
			return len;
		}
	}
	if (c->out.oom) {
		/* a response could not be built whole: the stream is corrupt */
		c->closing = 1;
		c->out.len = c->out.off = 0;
	}
	return c->closing ? len : off;
}

const void *api_conn_output(const struct api_conn *c, size_t *len)
{
	*len = c->out.len - c->out.off;
	return c->out.p ? c->out.p + c->out.off : "";
}

void api_conn_output_done(struct api_conn *c, size_t n)
{
	api_buf_consume(&c->out, n);
}

int api_conn_closing(const struct api_conn *c)
{
	return c->closing;
}

void api_conn_eof(struct api_conn *c)
{
	site_upload_end(c);
	c->closing = 1;
}

void api_conn_set_peer_role(struct api_conn *c, enum api_role role)
{
	c->peer_role = role;
}

enum api_req_state api_conn_request_state(const struct api_conn *c, uint64_t *seq)
{
	*seq = c->done;
	/* above the high-water mark we are not reading: the client is not
	 * late (its reading is the transport's idle timeout's business) */
	if (c->closing || !c->since_done || c->out.len - c->out.off > API_OUT_HIGH_WATER)
		return API_REQ_IDLE;
	return c->in_body ? API_REQ_BODY : API_REQ_HEADERS;
}

uint64_t api_conn_request_limit_ns(const struct api_conn *c)
{
	if (!c->site_upload)
		return API_REQUEST_TIMEOUT_NS;
	return API_REQUEST_TIMEOUT_NS + c->body_expect / API_SITE_MIN_BYTES_PER_S * 1000000000ull;
}

int api_req_clock_check(struct api_req_clock *k, enum api_req_state st, uint64_t seq, uint64_t now_ns,
			uint64_t request_limit_ns)
{
	if (st == API_REQ_IDLE) {
		k->running = 0;
		return 0;
	}
	if (!k->running || k->seq != seq) {     /* this request's first sight */
		k->running = 1;
		k->seq = seq;
		k->since_ns = now_ns;
	}
	uint64_t age = now_ns - k->since_ns;
	return age > request_limit_ns || (st == API_REQ_HEADERS && age > API_HEADER_TIMEOUT_NS);
}

int api_conn_overdue(struct api_conn *c, uint64_t now_ns)
{
	uint64_t seq;
	enum api_req_state st = api_conn_request_state(c, &seq);
	return api_req_clock_check(&c->clock, st, seq, now_ns, api_conn_request_limit_ns(c));
}
