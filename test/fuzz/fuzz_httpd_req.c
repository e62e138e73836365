/*
 * fuzz_httpd_req.c — libFuzzer target: the httpd appliance's request
 * semantics (src/apps/httpd_http.c, httpd_head.c) on arbitrary request
 * targets and Range / conditional header values. Nothing may crash
 * (ASan, UBSan), and what comes out must hold:
 *   - a normalised path starts with '/', has no NUL, control byte, empty,
 *     "." or ".." segment (so it never leaves the root), is no longer
 *     than the target, ends in '/' exactly when it is a directory, and
 *     re-encoded as a Location it normalises back to itself; a plainer
 *     second normalisation (decode all, then walk the segments) agrees
 *     on the status and the path; any target longer than the bound is 414;
 *   - ranges lie inside the length, at most HTTPD_RANGES_MAX, adding up
 *     to no more than the length; none unless the answer is 206;
 *   - the response head builds, its Content-Length is what the body
 *     holds: for multipart, the part heads and trailer as written plus
 *     the ranges' bytes;
 *   - an HTTP-date that parses formats back to a string that parses to
 *     the same time; entity-tag comparison is symmetric, strong implies
 *     weak.
 *
 * Input: 17 bytes, then fields separated by '\n':
 *   byte 0:     bit 0-1 the method (GET, HEAD, other); bits 2-7: which of
 *               fields 1-6 are present (absent: p NULL)
 *   bytes 1-8:  the file's length (little-endian; bit 63 cleared)
 *   bytes 9-16: a time: "now", and the file's mtime when it parses
 *   fields:     0 target, 1 Range, 2 If-Match, 3 If-None-Match,
 *               4 If-Modified-Since, 5 If-Unmodified-Since, 6 If-Range,
 *               7 the file's ETag (none unless it is an entity-tag)
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "apps/httpd_http.h"

#define NFIELDS 8
#define TARGET_MAX 4096

static void check(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "invariant broken: %s\n", what);
		abort();
	}
}

static uint64_t le64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static void check_path(const char *t, size_t n, const char *out, const struct httpd_target *r)
{
	check(r->len >= 1 && out[0] == '/', "starts with /");
	check(strlen(out) == r->len, "no NUL inside");
	check(r->len <= n || r->len == 1, "no longer than the target");
	check((out[r->len - 1] == '/') == (r->slash != 0), "a trailing / exactly for a directory");
	for (size_t i = 0; i < r->len; i++)
		check((unsigned char)out[i] >= 0x20 && out[i] != 0x7f, "no control byte");
	/* segments: none empty, "." or ".." */
	size_t i = 1;
	while (i < r->len) {
		size_t s = i;
		while (i < r->len && out[i] != '/')
			i++;
		size_t l = i - s;
		check(l > 0, "no empty segment");
		check(!(l == 1 && out[s] == '.'), "no . segment");
		check(!(l == 2 && out[s] == '.' && out[s + 1] == '.'), "no .. segment");
		i++;
	}
	/* the Location of its directory leads back to it */
	static char loc[3 * TARGET_MAX + 16], back[3 * TARGET_MAX + 16];
	size_t plen = r->slash && r->len > 1 ? r->len - 1 : r->len;
	if (plen == 1)
		return;
	int ln = httpd_location_build(out, plen, (struct httpd_str){ NULL, 0 }, loc, sizeof loc);
	check(ln > 0, "location fits 3x");
	struct httpd_target r2;
	int st = httpd_target_normalize(loc, (size_t)ln, sizeof loc, back, sizeof back, &r2);
	check(st == 0 && r2.slash && r2.len == plen + 1 && !memcmp(back, out, plen), "location round trip");
	(void)t;
}

/* A second, plainer normalisation of an origin-form target: decode the
 * whole path first, then walk its segments with a depth count. The
 * two must agree on the status and the path. */
static int ref_normalize(const char *t, size_t n, char *out, size_t *olen, int *slash)
{
	static char dec[TARGET_MAX + 1];
	size_t q = 0, d = 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)t[i] < 0x21 || t[i] == 0x7f || t[i] == '#')
			return 400;
	while (q < n && t[q] != '?')
		q++;
	for (size_t i = 0; i < q; i++) {
		unsigned c = (unsigned char)t[i];
		if (c == '%') {
			unsigned v;
			char hx[3] = { 0 };
			if (i + 2 >= q || !t[i + 1] || !strchr("0123456789abcdefABCDEF", t[i + 1]) ||
			    !t[i + 2] || !strchr("0123456789abcdefABCDEF", t[i + 2]))
				return 400;
			hx[0] = t[i + 1];
			hx[1] = t[i + 2];
			v = (unsigned)strtoul(hx, NULL, 16);
			if (v < 0x20 || v == 0x7f || v == '/')
				return 400;
			dec[d++] = (char)v;
			i += 2;
		} else {
			dec[d++] = (char)c;
		}
	}
	/* segments of the decoded path; raw '/' only separates (decoded ones were refused) */
	size_t o = 0, i = 0;
	int last_dir = 1;
	while (i < d) {
		size_t s = ++i;
		while (i < d && dec[i] != '/')
			i++;
		size_t l = i - s;
		last_dir = l == 0 || (l == 1 && dec[s] == '.') || (l == 2 && dec[s] == '.' && dec[s + 1] == '.');
		if (l == 0 || (l == 1 && dec[s] == '.'))
			continue;
		if (l == 2 && dec[s] == '.' && dec[s + 1] == '.') {
			if (!o)
				return 400;
			while (out[--o] != '/')
				;
			continue;
		}
		out[o++] = '/';
		memcpy(out + o, dec + s, l);
		o += l;
	}
	*slash = last_dir || o == 0;
	if (*slash)
		out[o++] = '/';
	*olen = o;
	return 0;
}

static void check_ranges(int st, const struct httpd_ranges *r, uint64_t len)
{
	check(r->n <= HTTPD_RANGES_MAX, "at most 16 ranges");
	check((st == 206) == (r->n > 0), "ranges exactly for 206");
	uint64_t sum = 0;
	for (unsigned i = 0; i < r->n; i++) {
		check(r->r[i].first <= r->r[i].last && r->r[i].last < len, "inside the length");
		sum += r->r[i].last - r->r[i].first + 1;
		check(sum <= len, "no more bytes than the file");
	}
}

/* build the head for the status and check Content-Length against the
 * body the appliance would send */
static void check_head(int st, const struct httpd_rep *rep, const struct httpd_ranges *r, int64_t now,
		       uint64_t seed)
{
	static char head[8192], part[HTTPD_PART_HEAD_MAX];
	char b[HTTPD_BOUNDARY_LEN + 1];
	httpd_boundary_make(seed, b);
	check(strlen(b) == HTTPD_BOUNDARY_LEN, "boundary length");
	struct httpd_head h = { .status = st, .minor = (int)(seed & 1), .keep = (int)(seed >> 1 & 1),
				.date = now, .server = "pollux",
				.content_type = seed & 4 ? "text/plain; charset=utf-8" : NULL,
				.rep = rep, .ranges = r, .boundary = b,
				.location = { "/x/", 3 } };
	int n = httpd_head_build(&h, head, sizeof head - 1);
	check(n > 0, "the head builds");
	head[n] = 0;
	check(n >= 4 && !memcmp(head + n - 4, "\r\n\r\n", 4) && strstr(head, "\r\n\r\n") == head + n - 4,
	      "one empty line, at the end");
	uint64_t body = httpd_body_length(&h);
	if (st != 304) {
		char cl[64];
		snprintf(cl, sizeof cl, "\r\nContent-Length: %llu\r\n", (unsigned long long)body);
		check(strstr(head, cl) != NULL, "Content-Length is the body's length");
	} else {
		check(!strstr(head, "Content-Length"), "no Content-Length on 304");
	}
	if (st == 206 && r->n > 1) {
		uint64_t total = 0;
		for (unsigned i = 0; i < r->n; i++) {
			int k = httpd_part_head(&h, i, part, sizeof part);
			check(k > 0, "a part head fits HTTPD_PART_HEAD_MAX");
			total += (uint64_t)k + r->r[i].last - r->r[i].first + 1;
		}
		int k = httpd_part_trailer(&h, part, sizeof part);
		check(k > 0, "the trailer");
		check(total + (uint64_t)k == body, "multipart Content-Length = parts + trailer");
	} else if (st == 206) {
		check(body == r->r[0].last - r->r[0].first + 1, "single range length");
	} else if (st == 200) {
		check(body == rep->len, "200 length");
	} else if (st == 416) {
		char cr[64];
		snprintf(cr, sizeof cr, "\r\nContent-Range: bytes */%llu\r\n", (unsigned long long)rep->len);
		check(strstr(head, cr) != NULL, "416 says the length");
	}
}

static void check_date(struct httpd_str s, int64_t now)
{
	int64_t t, t2;
	char d[HTTPD_DATE_LEN + 1];
	if (!s.p || httpd_date_parse(s.p, s.n, now, &t))
		return;
	check(httpd_date_format(t, d) == 0, "a parsed date formats");
	check(httpd_date_parse(d, HTTPD_DATE_LEN, now, &t2) == 0 && t2 == t, "and parses back");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 17)
		return 0;
	unsigned flags = data[0];
	uint64_t len = le64(data + 1) & ~(1ull << 63);
	int64_t now = (int64_t)le64(data + 9);
	struct httpd_str f[NFIELDS] = { { 0 } };
	const char *p = (const char *)data + 17, *end = (const char *)data + size;
	for (int i = 0; i < NFIELDS && p <= end; i++) {
		const char *e = memchr(p, '\n', (size_t)(end - p));
		if (!e)
			e = end;
		f[i] = (struct httpd_str){ p, (size_t)(e - p) };
		p = e + 1;
	}
	for (int i = 1; i <= 6; i++)
		if (!(flags >> (i + 1) & 1))
			f[i].p = NULL, f[i].n = 0;

	/* the target */
	static char out[TARGET_MAX + 2];
	struct httpd_target tr;
	size_t tn = f[0].p ? f[0].n : 0;
	if (tn <= TARGET_MAX) {
		const char *t = f[0].p ? f[0].p : "";
		int st = httpd_target_normalize(t, tn, TARGET_MAX, out, sizeof out, &tr);
		check(st == 0 || st == 400 || st == 414, "target status");
		check(st != 414, "a target within the bound fits a buffer its size");
		if (!st)
			check_path(t, tn, out, &tr);
		if (tn && t[0] == '/') {
			static char ref[TARGET_MAX + 2];
			size_t rl = 0;
			int rslash = 0, rst = ref_normalize(t, tn, ref, &rl, &rslash);
			check(rst == st, "the reference agrees on the status");
			check(st || (rl == tr.len && !memcmp(ref, out, rl) && rslash == tr.slash),
			      "the reference agrees on the path");
		}
		if (tn)
			check(httpd_target_normalize(t, tn, tn - 1, out, sizeof out, &tr) == 414, "over the bound: 414");
	}

	/* the method, the version and the request-line tokens */
	enum httpd_method m = (enum httpd_method)(flags & 3);
	if (m == HTTPD_BAD)
		m = HTTPD_OTHER;
	int minor = -1, vs = httpd_version_parse(f[0].p ? f[0].p : "", tn, &minor);
	check(vs == 400 || vs == 505 || (vs == 0 && (minor == 0 || minor == 1)), "version");
	(void)httpd_method_parse(f[0].p ? f[0].p : "", tn);
	(void)httpd_keep_alive((int)(flags & 1), f[3]);

	/* the representation: the mtime is field 4 when it parses */
	struct httpd_rep rep = { .len = len, .has_mtime = 1, .mtime = now / 2 };
	int64_t t;
	if (f[4].p && !httpd_date_parse(f[4].p, f[4].n, now, &t))
		rep.mtime = t;
	if (f[7].p && httpd_etag_weak_eq(f[7], f[7]))
		rep.etag = f[7];        /* the site's tags are well formed */

	/* Range alone, then the whole evaluation */
	struct httpd_ranges r;
	enum httpd_range_result rr = httpd_range_parse(f[1], len, &r);
	check_ranges(rr == HTTPD_RANGE_PARTIAL ? 206 : 200, &r, len);
	if (rr == HTTPD_RANGE_UNSATISFIABLE)
		check_head(416, &rep, &r, now, (uint64_t)now ^ len);
	else
		check_head(rr == HTTPD_RANGE_PARTIAL ? 206 : 200, &rep, &r, now, (uint64_t)now ^ len);

	struct httpd_cond c = { .range = f[1], .if_match = f[2], .if_none_match = f[3],
				.if_modified_since = f[4], .if_unmodified_since = f[5], .if_range = f[6] };
	int st = httpd_evaluate(m, &c, &rep, now, &r);
	check(st == 200 || st == 206 || st == 304 || st == 412 || st == 416, "evaluate status");
	check_ranges(st, &r, len);
	check((st != 304 && st != 412) || c.if_match.p || c.if_none_match.p || c.if_modified_since.p ||
	      c.if_unmodified_since.p, "304 and 412 only with a precondition");
	check((st != 206 && st != 416) || c.range.p, "206 and 416 only with Range");
	check(m != HTTPD_OTHER || (st != 206 && st != 304), "ranges and 304 for GET and HEAD only");
	check_head(st, &rep, &r, now, (uint64_t)len * 31 + 7);

	/* dates and tags */
	for (int i = 4; i <= 6; i++)
		check_date(f[i], now);
	char d[HTTPD_DATE_LEN + 1];
	int64_t back;
	if (!httpd_date_format(now, d))
		check(!httpd_date_parse(d, HTTPD_DATE_LEN, 0, &back) && back == now, "format, parse back");
	for (int i = 2; i <= 3; i++) {
		int lm = httpd_etag_list_match(f[i], rep.etag, i == 3);
		check(lm == 0 || lm == 1 || lm == -EINVAL, "list match result");
		if (lm == 1 && i == 2)
			check(httpd_etag_list_match(f[i], rep.etag, 1) == 1, "strong list match implies weak");
	}
	int s1 = httpd_etag_strong_eq(f[6], f[7]), s2 = httpd_etag_strong_eq(f[7], f[6]);
	int w1 = httpd_etag_weak_eq(f[6], f[7]), w2 = httpd_etag_weak_eq(f[7], f[6]);
	check(s1 == s2 && w1 == w2, "comparison is symmetric");
	check(!s1 || w1, "strong implies weak");
	return 0;
}
