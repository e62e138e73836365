/*
 * httpd_http.h — HTTP semantics of the `httpd` appliance (RFC 9110, 9111,
 * 9112): what a static-file server decides about a request once its bytes
 * are parsed, as pure functions. No networking, no clock (callers pass
 * `now`), no allocation: callers own every buffer in and out, and every
 * function's work is linear in its input (the caller bounds header sizes,
 * 431). Any core may call any of them; they touch no shared state.
 * httpd_http.c holds the request side, httpd_head.c the response.
 *
 * The flow, for the appliance:
 *   1. httpd_method_parse, httpd_version_parse: 400 / 405 / 505, or go on.
 *   2. httpd_target_normalize: 400 / 414, or a decoded, dot-free path to
 *      look up in the site.
 *   3. httpd_evaluate: the preconditions (RFC 9110 §13.2.2) and Range
 *      (§14) against the file: 200, 206 (ranges filled), 304, 412 or 416.
 *   4. httpd_head_build: the response head for that status; the body is
 *      httpd_body_length() bytes: the file, its ranges (multipart parts
 *      framed by httpd_part_head / httpd_part_trailer), or the fixed body
 *      of an error (httpd_status_body).
 *
 * Strings from the request are borrowed (struct httpd_str: not
 * NUL-terminated; p == NULL means the header was absent). Where a header
 * came in several lines the caller joins them with ", " (RFC 9110 §5.3).
 * Field values may carry the surrounding whitespace; it is trimmed here.
 */
#ifndef POLLUX_APPS_HTTPD_HTTP_H
#define POLLUX_APPS_HTTPD_HTTP_H
#include <stddef.h>
#include <stdint.h>

struct httpd_str {
	const char *p;                  /* NULL: absent */
	size_t n;
};

/* ---- request line */
enum httpd_method { HTTPD_GET, HTTPD_HEAD, HTTPD_OTHER, HTTPD_BAD };

/* GET and HEAD (case-sensitive, RFC 9110 §9.1); HTTPD_OTHER for any other
 * well-formed token (answer 405 with Allow), HTTPD_BAD for one that is
 * not a token (400). */
enum httpd_method httpd_method_parse(const char *m, size_t n);

/* "HTTP/x.y": 0 and *minor 1 or 0 for HTTP/1.1 or 1.0 (a later 1.x is
 * answered as 1.1, RFC 9110 §2.5); 505 for another major version; 400 if
 * it is not of that form. */
int httpd_version_parse(const char *v, size_t n, int *minor);

/* keep the connection after the answer: HTTP/1.1 unless Connection has
 * "close"; HTTP/1.0 only if Connection has "keep-alive" (and no "close") */
int httpd_keep_alive(int minor, struct httpd_str connection);

/* 1 if the comma-separated list (RFC 9110 §5.6.1) has `tok`, any case */
int httpd_list_has_token(struct httpd_str list, const char *tok);

/* ---- request target (RFC 9112 §3.2, RFC 3986 §5.2.4) */
struct httpd_target {
	size_t len;                     /* of the path written to out */
	int slash;                      /* the path ended in '/' (or "." / "..") */
	struct httpd_str query;         /* after '?', raw; p NULL: none */
	struct httpd_str authority;     /* absolute-form's host[:port]; p NULL: origin-form */
};

/* Normalises request-target t[0..n) into out (cap bytes, NUL-terminated):
 * origin-form, or absolute-form ("http://host/path", "https://...")
 * taking the path; the query stripped; percent-decoded once; empty
 * segments ("//") and "." dropped, ".." removing the segment before it.
 * The result starts with '/', has no empty, "." or ".." segment and
 * ends in '/' only if res->slash (then it is a directory request).
 * Returns 0, 414 if n > max or the path does not fit in cap, or 400 for:
 * asterisk- or authority-form, another scheme, an empty host, a space,
 * control byte or '#' in the target, a bad %-escape, an escape decoding
 * to NUL, a control byte or '/' (an encoded slash is refused, never a
 * separator), or a ".." that would climb above the root. */
int httpd_target_normalize(const char *t, size_t n, size_t max, char *out, size_t cap,
			   struct httpd_target *res);

/* The Location of a 301 for a directory requested without its slash:
 * the normalised path percent-encoded (what is not a pchar or '/'), a
 * '/' added, then "?query" if the request had one. Returns its length
 * (NUL-terminated in out) or -ENOSPC. */
int httpd_location_build(const char *path, size_t n, struct httpd_str query, char *out, size_t cap);

/* ---- HTTP-date (RFC 9110 §5.6.7) */
#define HTTPD_DATE_LEN 29               /* "Sun, 06 Nov 1994 08:49:37 GMT" */

/* IMF-fixdate of Unix time t into out (HTTPD_DATE_LEN + 1 bytes);
 * 0, or -ERANGE outside years 0000..9999 */
int httpd_date_format(int64_t t, char *out);

/* IMF-fixdate, RFC 850 ("Sunday, 06-Nov-94 08:49:37 GMT", its year read
 * as the latest one not more than 50 years after `now`) or asctime
 * ("Sun Nov  6 08:49:37 1994"); 0 and *t, or -EINVAL (a list of dates,
 * an impossible day or time, anything else). */
int httpd_date_parse(const char *s, size_t n, int64_t now, int64_t *t);

/* ---- entity tags (RFC 9110 §8.8.3) */
/* Compare two entity-tags ("xyz" or W/"xyz"): strong comparison (both
 * strong, same opaque-tag) or weak (same opaque-tag). 1 or 0; a
 * malformed tag matches nothing. */
int httpd_etag_strong_eq(struct httpd_str a, struct httpd_str b);
int httpd_etag_weak_eq(struct httpd_str a, struct httpd_str b);

/* If-Match / If-None-Match: "*" or a list of entity-tags. 1 if it
 * matches `etag` (the current representation's; "*" matches any
 * representation, even one without an ETag), 0 if not, -EINVAL if the
 * list is malformed (callers treat it as "no match"). */
int httpd_etag_list_match(struct httpd_str list, struct httpd_str etag, int weak);

/* ---- Range (RFC 9110 §14) */
#define HTTPD_RANGES_MAX 16

struct httpd_range {
	uint64_t first, last;           /* inclusive, last < the length */
};

struct httpd_ranges {
	unsigned n;
	struct httpd_range r[HTTPD_RANGES_MAX];
};

enum httpd_range_result {
	HTTPD_RANGE_IGNORE,             /* serve the whole representation, 200 */
	HTTPD_RANGE_PARTIAL,            /* 206 with out->n ranges (in request order) */
	HTTPD_RANGE_UNSATISFIABLE,      /* 416, Content-Range: bytes * / len */
};

/* A Range value against a representation of `len` bytes. As nginx does
 * (ngx_http_range_filter_module): ranges that start beyond the end are
 * dropped, the others clipped to it; none left: 416; more than
 * HTTPD_RANGES_MAX left, or ranges adding up to more than len (overlap):
 * the whole representation (200); the rest in the order asked, not
 * coalesced. Unlike nginx (416), a value that is not a valid bytes
 * ranges-specifier, or another unit, is ignored (200), as RFC 9110
 * §14.2 says. A zero-length representation has no range to send: 200
 * for a non-zero suffix-range, else 416. */
enum httpd_range_result httpd_range_parse(struct httpd_str v, uint64_t len, struct httpd_ranges *out);

/* ---- conditional requests and ranges together (RFC 9110 §13.2.2) */
struct httpd_cond {
	struct httpd_str if_match, if_unmodified_since, if_none_match, if_modified_since;
	struct httpd_str if_range, range;
};

struct httpd_rep {
	struct httpd_str etag;          /* strong entity-tag, quoted; p NULL: none */
	int has_mtime;
	int64_t mtime;                  /* Last-Modified, Unix time */
	uint64_t len;
};

/* For GET or HEAD of an existing file: 412 (If-Match, else
 * If-Unmodified-Since), 304 (If-None-Match, weak comparison, else
 * If-Modified-Since), then Range where If-Range (strong ETag comparison
 * or the exact Last-Modified date) lets it apply: 206 with *ranges
 * filled, or 416; else 200. Dates that are not valid HTTP-dates are
 * ignored (§13.1.3, §13.1.4); a malformed entity-tag list matches
 * nothing. Range applies to HEAD as to GET (HEAD answers what GET
 * would, as nginx and Apache do). */
int httpd_evaluate(enum httpd_method m, const struct httpd_cond *c, const struct httpd_rep *rep,
		   int64_t now, struct httpd_ranges *ranges);

/* ---- the response */
#define HTTPD_BOUNDARY_LEN 20

/* a multipart boundary from a caller's 64-bit value (say a per-core
 * counter mixed with a boot secret): HTTPD_BOUNDARY_LEN characters and a
 * NUL into out */
void httpd_boundary_make(uint64_t x, char *out);

struct httpd_head {
	int status;
	int minor;                      /* 1: HTTP/1.1, 0: HTTP/1.0 */
	int keep;                       /* 0: "Connection: close"; 1.0 and 1: "Connection: keep-alive" */
	int64_t date;                   /* now, Unix time */
	const char *server;             /* NULL: no Server */
	/* the representation (200, 206, 304, 416) */
	const char *content_type;       /* NULL: none */
	const struct httpd_rep *rep;
	const struct httpd_ranges *ranges;      /* 206 */
	const char *boundary;           /* 206 with several ranges */
	struct httpd_str location;      /* 301 */
	struct httpd_str extra;         /* 200, 206, 304: more header lines, each
					 * ending "\r\n" (Cache-Control, Vary, ...) */
};

/* The head (status line, headers, the empty line) into out; its length,
 * or -ENOSPC if cap is too small, -EINVAL for a status it does not know,
 * a head missing what the status needs, or a malformed ETag. Headers by status:
 *   all:  Server, Date; Connection when closing or keeping 1.0 alive
 *   200:  Content-Type, Content-Length, Last-Modified, ETag,
 *         Accept-Ranges: bytes, extra
 *   206:  the same with the range's length and Content-Range, or
 *         multipart/byteranges; boundary=... and the parts' total length
 *   304:  Last-Modified, ETag, extra (no Content-Length)
 *   301, 400, 404, 405, 412, 414, 416, 431, 500, 503, 505: the fixed
 *         text/html body's Content-Length; 301 Location, 405 Allow,
 *         416 Content-Range: bytes * / len */
int httpd_head_build(const struct httpd_head *h, char *out, size_t cap);

/* the body's length: what Content-Length says (0 for 304) */
uint64_t httpd_body_length(const struct httpd_head *h);

/* multipart/byteranges (206 with ranges->n > 1): the body is, for each
 * range i, httpd_part_head(i) then the range's bytes from the file, then
 * httpd_part_trailer(); httpd_body_length() is exactly their sum.
 * Each returns its length, -ENOSPC, or -EINVAL (not a multipart 206, no
 * boundary, i out of range). */
int httpd_part_head(const struct httpd_head *h, unsigned i, char *out, size_t cap);
int httpd_part_trailer(const struct httpd_head *h, char *out, size_t cap);
#define HTTPD_PART_HEAD_MAX 256         /* with a content type of at most 100 bytes */

/* the reason phrase and the fixed body of a status (NULL for one without) */
const char *httpd_status_reason(int status);
const char *httpd_status_body(int status, size_t *len);

/* an answer after which the connection must close: the request's framing
 * or size was wrong (400, 414, 431, 505) */
int httpd_status_closes(int status);

#endif
