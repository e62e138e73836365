/*
 * httpd_head.c — the `httpd` appliance's responses (httpd_http.h): the
 * status table with its fixed bodies, the response head for each status,
 * and multipart/byteranges framing whose exact length is known before a
 * byte is sent, so the ranges' bytes can go from the site's memory
 * without a copy. Pure functions over caller-owned buffers, like
 * httpd_http.c; nothing here reads a clock or allocates.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "apps/httpd_http.h"

/* ---- the response */
#define FIXED_BODY(code) \
	"<html>\r\n<head><title>" code "</title></head>\r\n<body>\r\n<center><h1>" code \
	"</h1></center>\r\n<hr><center>pollux</center>\r\n</body>\r\n</html>\r\n"
#define STATUS(code, reason, body) { code, reason, body, sizeof(body) - 1 }
#define STATUS_NB(code, reason) { code, reason, NULL, 0 }

static const struct status {
	int code;
	const char *reason;
	const char *body;               /* the fixed text/html body; NULL: the file's, or none */
	size_t len;
} statuses[] = {
	STATUS_NB(200, "OK"),
	STATUS_NB(206, "Partial Content"),
	STATUS(301, "Moved Permanently", FIXED_BODY("301 Moved Permanently")),
	STATUS_NB(304, "Not Modified"),
	STATUS(400, "Bad Request", FIXED_BODY("400 Bad Request")),
	STATUS(404, "Not Found", FIXED_BODY("404 Not Found")),
	STATUS(405, "Method Not Allowed", FIXED_BODY("405 Not Allowed")),
	STATUS(412, "Precondition Failed", FIXED_BODY("412 Precondition Failed")),
	STATUS(414, "URI Too Long", FIXED_BODY("414 Request-URI Too Large")),
	STATUS(416, "Range Not Satisfiable", FIXED_BODY("416 Requested Range Not Satisfiable")),
	STATUS(431, "Request Header Fields Too Large",
	       FIXED_BODY("431 Request Header Fields Too Large")),
	STATUS(500, "Internal Server Error", FIXED_BODY("500 Internal Server Error")),
	STATUS(503, "Service Unavailable", FIXED_BODY("503 Service Temporarily Unavailable")),
	STATUS(505, "HTTP Version Not Supported", FIXED_BODY("505 HTTP Version Not Supported")),
};

static const struct status *status_of(int code)
{
	for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++)
		if (statuses[i].code == code)
			return &statuses[i];
	return NULL;
}

const char *httpd_status_reason(int status)
{
	const struct status *s = status_of(status);
	return s ? s->reason : NULL;
}

const char *httpd_status_body(int status, size_t *len)
{
	const struct status *s = status_of(status);
	*len = s && s->body ? s->len : 0;
	return s ? s->body : NULL;
}

int httpd_status_closes(int status)
{
	return status == 400 || status == 414 || status == 431 || status == 505;
}

void httpd_boundary_make(uint64_t x, char *out)
{
	/* 20 decimal digits, as nginx's boundaries are digits: never a
	 * character that needs quoting in the Content-Type parameter */
	for (int i = HTTPD_BOUNDARY_LEN - 1; i >= 0; i--, x /= 10)
		out[i] = (char)('0' + x % 10);
	out[HTTPD_BOUNDARY_LEN] = 0;
}

/* a bounded writer: on overflow it stops writing and remembers */
struct wr {
	char *p;
	size_t cap, n;
	int full;
};

static void put(struct wr *w, const char *s, size_t n)
{
	if (w->full || n > w->cap - w->n) {
		w->full = 1;
		return;
	}
	memcpy(w->p + w->n, s, n);
	w->n += n;
}

static void puts_(struct wr *w, const char *s) { put(w, s, strlen(s)); }

static unsigned digits(uint64_t v)
{
	unsigned d = 1;
	while (v >= 10)
		v /= 10, d++;
	return d;
}

static void put_u64(struct wr *w, uint64_t v)
{
	char b[20];
	unsigned d = digits(v);
	for (unsigned i = d; i-- > 0; v /= 10)
		b[i] = (char)('0' + v % 10);
	put(w, b, d);
}

static void put_date(struct wr *w, const char *name, int64_t t)
{
	char d[HTTPD_DATE_LEN + 1];
	if (httpd_date_format(t, d))
		return;                 /* a date no HTTP-date can say: left out */
	puts_(w, name);
	put(w, d, HTTPD_DATE_LEN);
	put(w, "\r\n", 2);
}

static void put_content_range(struct wr *w, const struct httpd_range *r, uint64_t len)
{
	puts_(w, "Content-Range: bytes ");
	put_u64(w, r->first);
	put(w, "-", 1);
	put_u64(w, r->last);
	put(w, "/", 1);
	put_u64(w, len);
	put(w, "\r\n", 2);
}

/* the exact length of part i's head and of the trailer, as written by
 * httpd_part_head / httpd_part_trailer below (the fuzz target checks
 * the two agree) */
static uint64_t part_head_len(const struct httpd_head *h, unsigned i)
{
	const struct httpd_range *r = &h->ranges->r[i];
	uint64_t n = 4 + strlen(h->boundary) + 2;               /* CRLF "--" b CRLF */
	if (h->content_type)
		n += 14 + strlen(h->content_type) + 2;          /* "Content-Type: " t CRLF */
	n += 21 + digits(r->first) + 1 + digits(r->last) + 1 + digits(h->rep->len) + 2;
	return n + 2;                                           /* CRLF */
}

static uint64_t trailer_len(const struct httpd_head *h)
{
	return 4 + strlen(h->boundary) + 4;                     /* CRLF "--" b "--" CRLF */
}

uint64_t httpd_body_length(const struct httpd_head *h)
{
	size_t len;
	switch (h->status) {
	case 200:
		return h->rep ? h->rep->len : 0;
	case 206:
		if (!h->rep || !h->ranges || !h->ranges->n)
			return 0;
		if (h->ranges->n == 1)
			return h->ranges->r[0].last - h->ranges->r[0].first + 1;
		if (!h->boundary)
			return 0;
		uint64_t n = trailer_len(h);
		for (unsigned i = 0; i < h->ranges->n; i++)
			n += part_head_len(h, i) + h->ranges->r[i].last - h->ranges->r[i].first + 1;
		return n;
	case 304:
		return 0;
	default:
		httpd_status_body(h->status, &len);
		return len;
	}
}

int httpd_head_build(const struct httpd_head *h, char *out, size_t cap)
{
	const struct status *st = status_of(h->status);
	int rep_status = h->status == 200 || h->status == 206 || h->status == 304;
	if (!st || ((rep_status || h->status == 416) && !h->rep))
		return -EINVAL;
	if (h->status == 206 && (!h->ranges || !h->ranges->n || h->ranges->n > HTTPD_RANGES_MAX ||
				 (h->ranges->n > 1 && !h->boundary)))
		return -EINVAL;
	if (h->status == 301 && !h->location.p)
		return -EINVAL;
	/* a well-formed tag compares equal to itself: never a CR or LF into the head */
	if (rep_status && h->rep->etag.p && !httpd_etag_weak_eq(h->rep->etag, h->rep->etag))
		return -EINVAL;
	struct wr w = { out, cap, 0, 0 };
	puts_(&w, h->minor ? "HTTP/1.1 " : "HTTP/1.0 ");
	put_u64(&w, (uint64_t)h->status);
	put(&w, " ", 1);
	puts_(&w, st->reason);
	put(&w, "\r\n", 2);
	if (h->server) {
		puts_(&w, "Server: ");
		puts_(&w, h->server);
		put(&w, "\r\n", 2);
	}
	put_date(&w, "Date: ", h->date);
	int multi = h->status == 206 && h->ranges->n > 1;
	if (h->status != 304) {
		if (multi) {
			puts_(&w, "Content-Type: multipart/byteranges; boundary=");
			puts_(&w, h->boundary);
			put(&w, "\r\n", 2);
		} else if (!rep_status) {
			puts_(&w, "Content-Type: text/html\r\n");
		} else if (h->content_type) {
			puts_(&w, "Content-Type: ");
			puts_(&w, h->content_type);
			put(&w, "\r\n", 2);
		}
		puts_(&w, "Content-Length: ");
		put_u64(&w, httpd_body_length(h));
		put(&w, "\r\n", 2);
	}
	if (rep_status && h->rep->has_mtime)
		put_date(&w, "Last-Modified: ", h->rep->mtime);
	if (!h->keep)
		puts_(&w, "Connection: close\r\n");
	else if (!h->minor)
		puts_(&w, "Connection: keep-alive\r\n");
	if (h->status == 301) {
		puts_(&w, "Location: ");
		put(&w, h->location.p, h->location.n);
		put(&w, "\r\n", 2);
	}
	if (rep_status && h->rep->etag.p) {
		puts_(&w, "ETag: ");
		put(&w, h->rep->etag.p, h->rep->etag.n);
		put(&w, "\r\n", 2);
	}
	if (h->status == 405)
		puts_(&w, "Allow: GET, HEAD\r\n");
	if (h->status == 206 && !multi)
		put_content_range(&w, &h->ranges->r[0], h->rep->len);
	if (h->status == 416) {
		puts_(&w, "Content-Range: bytes */");
		put_u64(&w, h->rep->len);
		put(&w, "\r\n", 2);
	}
	if (h->status == 200 || h->status == 206)
		puts_(&w, "Accept-Ranges: bytes\r\n");
	if (rep_status && h->extra.p)
		put(&w, h->extra.p, h->extra.n);
	put(&w, "\r\n", 2);
	return w.full ? -ENOSPC : (int)w.n;
}

int httpd_part_head(const struct httpd_head *h, unsigned i, char *out, size_t cap)
{
	if (h->status != 206 || !h->rep || !h->ranges || !h->boundary || i >= h->ranges->n)
		return -EINVAL;
	struct wr w = { out, cap, 0, 0 };
	put(&w, "\r\n--", 4);
	puts_(&w, h->boundary);
	put(&w, "\r\n", 2);
	if (h->content_type) {
		puts_(&w, "Content-Type: ");
		puts_(&w, h->content_type);
		put(&w, "\r\n", 2);
	}
	put_content_range(&w, &h->ranges->r[i], h->rep->len);
	put(&w, "\r\n", 2);
	return w.full ? -ENOSPC : (int)w.n;
}

int httpd_part_trailer(const struct httpd_head *h, char *out, size_t cap)
{
	if (!h->boundary)
		return -EINVAL;
	struct wr w = { out, cap, 0, 0 };
	put(&w, "\r\n--", 4);
	puts_(&w, h->boundary);
	put(&w, "--\r\n", 4);
	return w.full ? -ENOSPC : (int)w.n;
}
