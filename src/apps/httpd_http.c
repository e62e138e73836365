/*
 * httpd_http.c — the `httpd` appliance's HTTP semantics (httpd_http.h),
 * the request side: the request line's method and version, the request
 * target normalised into a path, HTTP-dates, entity-tags, preconditions
 * and Range (the response head is httpd_head.c). Pure functions over caller-owned buffers: no heap, no
 * clock, no shared state, and no loop that is not bounded by the length
 * of its input (or by HTTPD_RANGES_MAX).
 *
 * Where nginx and the RFCs differ, the choice is noted at the code and in
 * docs/httpd-http.md.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "apps/httpd_http.h"

/* ---- characters (RFC 9110 §5.6.2, RFC 3986 §2) */
static int is_digit(int c) { return c >= '0' && c <= '9'; }
static int is_alpha(int c) { return (c | 0x20) >= 'a' && (c | 0x20) <= 'z'; }
static int is_ows(int c) { return c == ' ' || c == '\t'; }
static int is_ctl(int c) { return c < 0x20 || c == 0x7f; }

static int is_tchar(int c)
{
	return is_digit(c) || is_alpha(c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

static int hexval(int c)
{
	if (is_digit(c))
		return c - '0';
	c |= 0x20;
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static int lower(int c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

static int eq_nocase(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (lower((unsigned char)a[i]) != lower((unsigned char)b[i]))
			return 0;
	return 1;
}

static struct httpd_str trim(struct httpd_str s)
{
	while (s.n && is_ows(s.p[0]))
		s.p++, s.n--;
	while (s.n && is_ows(s.p[s.n - 1]))
		s.n--;
	return s;
}

/* ---- request line */
enum httpd_method httpd_method_parse(const char *m, size_t n)
{
	if (!n)
		return HTTPD_BAD;
	for (size_t i = 0; i < n; i++)
		if (!is_tchar((unsigned char)m[i]))
			return HTTPD_BAD;
	if (n == 3 && !memcmp(m, "GET", 3))
		return HTTPD_GET;
	if (n == 4 && !memcmp(m, "HEAD", 4))
		return HTTPD_HEAD;
	return HTTPD_OTHER;
}

int httpd_version_parse(const char *v, size_t n, int *minor)
{
	if (n != 8 || memcmp(v, "HTTP/", 5) || !is_digit(v[5]) || v[6] != '.' || !is_digit(v[7]))
		return 400;
	if (v[5] != '1')
		return 505;
	*minor = v[7] == '0' ? 0 : 1;
	return 0;
}

int httpd_list_has_token(struct httpd_str list, const char *tok)
{
	size_t tl = strlen(tok), i = 0;
	if (!list.p)
		return 0;
	while (i < list.n) {
		while (i < list.n && (is_ows(list.p[i]) || list.p[i] == ','))
			i++;
		size_t s = i;
		while (i < list.n && list.p[i] != ',')
			i++;
		struct httpd_str e = trim((struct httpd_str){ list.p + s, i - s });
		if (e.n == tl && eq_nocase(e.p, tok, tl))
			return 1;
	}
	return 0;
}

int httpd_keep_alive(int minor, struct httpd_str connection)
{
	if (httpd_list_has_token(connection, "close"))
		return 0;
	return minor >= 1 || httpd_list_has_token(connection, "keep-alive");
}

/* ---- request target */

/* Appends raw segment seg[0..n) to out at *o, percent-decoded; "" and
 * "." add nothing, ".." removes the last segment. 0, 400 or 414. *dots
 * says the segment was "." or "..". */
static int seg_push(const char *seg, size_t n, char *out, size_t cap, size_t *o, int *dots)
{
	size_t start = *o;
	*dots = 0;
	if (!n)
		return 0;
	if (start + 1 >= cap)
		return 414;
	out[start] = '/';
	size_t w = start + 1;
	for (size_t i = 0; i < n; i++) {
		int c = (unsigned char)seg[i];
		if (c == '%') {
			if (i + 2 >= n)
				return 400;
			int h = hexval((unsigned char)seg[i + 1]), l = hexval((unsigned char)seg[i + 2]);
			if (h < 0 || l < 0)
				return 400;
			c = h << 4 | l;
			/* decoded NUL or control: never a file name; decoded '/':
			 * refused rather than taken as a separator or as part
			 * of a name (no file name in the site holds one) */
			if (is_ctl(c) || c == '/')
				return 400;
			i += 2;
		}
		if (w + 1 >= cap)
			return 414;
		out[w++] = (char)c;
	}
	size_t len = w - start - 1;
	if (len == 1 && out[start + 1] == '.') {
		*dots = 1;
		return 0;               /* "." (or "%2E"): nothing */
	}
	if (len == 2 && out[start + 1] == '.' && out[start + 2] == '.') {
		*dots = 1;
		if (!start)
			return 400;     /* above the root: never served */
		size_t k = start;
		while (k > 0 && out[k - 1] != '/')
			k--;
		*o = k - 1;             /* drop "/<last>" */
		return 0;
	}
	*o = w;
	return 0;
}

int httpd_target_normalize(const char *t, size_t n, size_t max, char *out, size_t cap,
			   struct httpd_target *res)
{
	memset(res, 0, sizeof(*res));
	if (cap)
		out[0] = 0;
	if (n > max)
		return 414;
	if (cap < 2)
		return 414;
	for (size_t i = 0; i < n; i++) {
		int c = (unsigned char)t[i];
		if (is_ctl(c) || c == ' ' || c == '#')
			return 400;
	}
	size_t p = 0;
	if (!n)
		return 400;
	if (t[0] != '/') {
		/* absolute-form (RFC 9112 §3.2.2): http or https only; "*"
		 * and authority-form are not for GET or HEAD */
		size_t s;
		if (n >= 7 && eq_nocase(t, "http://", 7))
			s = 7;
		else if (n >= 8 && eq_nocase(t, "https://", 8))
			s = 8;
		else
			return 400;
		p = s;
		while (p < n && t[p] != '/' && t[p] != '?')
			p++;
		if (p == s)
			return 400;     /* an empty host (RFC 9110 §4.2.1) */
		for (size_t i = s; i < p; i++)
			if (t[i] == '@')
				return 400;     /* userinfo is deprecated, never sent by a client */
		res->authority = (struct httpd_str){ t + s, p - s };
	}
	size_t end = p;
	while (end < n && t[end] != '?')
		end++;
	if (end < n)
		res->query = (struct httpd_str){ t + end + 1, n - end - 1 };

	size_t o = 0;
	int last_dots = 0, last_empty = 1;
	while (p < end) {
		size_t s = ++p;         /* t[p - 1] is '/' */
		while (p < end && t[p] != '/')
			p++;
		int r = seg_push(t + s, p - s, out, cap, &o, &last_dots);
		if (r)
			return r;
		last_empty = p == s;
	}
	/* a trailing "/", "." or "..": a directory (RFC 3986 §5.2.4 keeps
	 * the slash); the root itself is one */
	res->slash = last_empty || last_dots || o == 0;
	int add = !o || res->slash;
	if (o + add + 1 > cap)
		return 414;
	if (add)
		out[o++] = '/';
	out[o] = 0;
	res->len = o;
	return 0;
}

static int is_pchar_out(int c)
{
	return is_alpha(c) || is_digit(c) || (c && strchr("-._~!$&'()*+,;=:@/", c));
}

int httpd_location_build(const char *path, size_t n, struct httpd_str query, char *out, size_t cap)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		int c = (unsigned char)path[i];
		if (is_pchar_out(c)) {
			if (o + 1 >= cap)
				return -ENOSPC;
			out[o++] = (char)c;
		} else {
			if (o + 3 >= cap)
				return -ENOSPC;
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	if (o + 1 >= cap)
		return -ENOSPC;
	out[o++] = '/';
	if (query.p) {
		if (o + 1 + query.n >= cap)
			return -ENOSPC;
		out[o++] = '?';
		memcpy(out + o, query.p, query.n);
		o += query.n;
	}
	out[o] = 0;
	return (int)o;
}

/* ---- HTTP-date */
static const char wday_short[7][4] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
static const char *const wday_long[7] = { "Sunday", "Monday", "Tuesday", "Wednesday",
					  "Thursday", "Friday", "Saturday" };
static const char month_name[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					"Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

/* days since 1970-01-01 of a proleptic Gregorian date, and back (the
 * era arithmetic of Howard Hinnant's chrono algorithms) */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static void put2(char *o, unsigned v) { o[0] = (char)('0' + v / 10 % 10); o[1] = (char)('0' + v % 10); }

int httpd_date_format(int64_t t, char *out)
{
	/* years 0000..9999: -62167219200 .. 253402300799 */
	if (t < -62167219200LL || t > 253402300799LL)
		return -ERANGE;
	int64_t days = t / 86400, sec = t % 86400;
	if (sec < 0)
		sec += 86400, days--;
	int64_t y;
	unsigned m, d;
	civil_from_days(days, &y, &m, &d);
	int64_t wd = (days + 4) % 7;
	if (wd < 0)
		wd += 7;
	memcpy(out, wday_short[wd], 3);
	memcpy(out + 3, ", ", 2);
	put2(out + 5, d);
	out[7] = ' ';
	memcpy(out + 8, month_name[m - 1], 3);
	out[11] = ' ';
	put2(out + 12, (unsigned)(y / 100));
	put2(out + 14, (unsigned)(y % 100));
	out[16] = ' ';
	put2(out + 17, (unsigned)(sec / 3600));
	out[19] = ':';
	put2(out + 20, (unsigned)(sec / 60 % 60));
	out[22] = ':';
	put2(out + 23, (unsigned)(sec % 60));
	memcpy(out + 25, " GMT", 5);  /* and the NUL */
	return 0;
}

static int num(const char *s, size_t n)
{
	int v = 0;
	for (size_t i = 0; i < n; i++) {
		if (!is_digit(s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

static int month_of(const char *s)
{
	for (int i = 0; i < 12; i++)
		if (!memcmp(s, month_name[i], 3))
			return i + 1;
	return 0;
}

/* "HH:MM:SS" (second 60: a leap second, RFC 9110 §5.6.7) */
static int time_of_day(const char *s, int64_t *sec)
{
	if (s[2] != ':' || s[5] != ':')
		return -1;
	int h = num(s, 2), mi = num(s + 3, 2), se = num(s + 6, 2);
	if (h < 0 || mi < 0 || se < 0 || h > 23 || mi > 59 || se > 60)
		return -1;
	*sec = h * 3600 + mi * 60 + se;
	return 0;
}

static int days_in_month(int64_t y, int m)
{
	static const unsigned char dm[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return dm[m - 1] + (m == 2 && leap);
}

static int date_make(int64_t y, int m, int d, int64_t sec, int64_t *t)
{
	/* years 0000..9999, as httpd_date_format writes (an RFC 850 year
	 * read against an absurd clock could leave them) */
	if (y < 0 || y > 9999 || !m || d < 1 || d > days_in_month(y, m))
		return -EINVAL;
	*t = days_from_civil(y, (unsigned)m, (unsigned)d) * 86400 + sec;
	return 0;
}

static int wday_short_ok(const char *s)
{
	for (int i = 0; i < 7; i++)
		if (!memcmp(s, wday_short[i], 3))
			return 1;
	return 0;
}

int httpd_date_parse(const char *s0, size_t n0, int64_t now, int64_t *t)
{
	struct httpd_str v = trim((struct httpd_str){ s0, n0 });
	const char *s = v.p;
	size_t n = v.n;
	int64_t sec;
	if (!s)
		return -EINVAL;
	/* IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT" */
	if (n == 29 && wday_short_ok(s) && !memcmp(s + 3, ", ", 2) && s[7] == ' ' &&
	    s[11] == ' ' && s[16] == ' ' && !memcmp(s + 25, " GMT", 4)) {
		int d = num(s + 5, 2), y = num(s + 12, 4);
		if (d < 0 || y < 0 || time_of_day(s + 17, &sec))
			return -EINVAL;
		return date_make(y, month_of(s + 8), d, sec, t);
	}
	/* asctime: "Sun Nov  6 08:49:37 1994" */
	if (n == 24 && wday_short_ok(s) && s[3] == ' ' && s[7] == ' ' && s[10] == ' ' &&
	    s[19] == ' ') {
		int d = s[8] == ' ' ? num(s + 9, 1) : num(s + 8, 2), y = num(s + 20, 4);
		if (d < 0 || y < 0 || time_of_day(s + 11, &sec))
			return -EINVAL;
		return date_make(y, month_of(s + 4), d, sec, t);
	}
	/* RFC 850: "Sunday, 06-Nov-94 08:49:37 GMT" */
	for (int i = 0; i < 7; i++) {
		size_t l = strlen(wday_long[i]);
		if (n != l + 24 || memcmp(s, wday_long[i], l))
			continue;
		const char *r = s + l;
		if (memcmp(r, ", ", 2) || r[4] != '-' || r[8] != '-' || r[11] != ' ' ||
		    memcmp(r + 20, " GMT", 4))
			return -EINVAL;
		int d = num(r + 2, 2), yy = num(r + 9, 2);
		if (d < 0 || yy < 0 || time_of_day(r + 12, &sec))
			return -EINVAL;
		/* the two-digit year: the latest year with those digits not
		 * more than 50 years after now (RFC 9110 §5.6.7) */
		int64_t ny;
		unsigned nm, nd;
		civil_from_days(now / 86400 - (now % 86400 < 0), &ny, &nm, &nd);
		int64_t c = ny - ((ny % 100) + 100) % 100;
		int64_t y = c + yy;
		if (y > ny + 50)
			y -= 100;
		return date_make(y, month_of(r + 5), d, sec, t);
	}
	return -EINVAL;
}

/* ---- entity tags */

/* entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE at s[*i..n): 0 and its
 * opaque-tag (inside the quotes), or -1 */
static int etag_at(const char *s, size_t n, size_t *i, int *weak, struct httpd_str *opaque)
{
	size_t k = *i;
	*weak = 0;
	if (k + 1 < n && s[k] == 'W' && s[k + 1] == '/') {
		*weak = 1;
		k += 2;
	}
	if (k >= n || s[k] != '"')
		return -1;
	size_t b = ++k;
	/* etagc = %x21 / %x23-7E / obs-text */
	while (k < n && s[k] != '"') {
		int c = (unsigned char)s[k];
		if (c < 0x21 || c == 0x7f)
			return -1;
		k++;
	}
	if (k >= n)
		return -1;
	*opaque = (struct httpd_str){ s + b, k - b };
	*i = k + 1;
	return 0;
}

/* the whole of v is one entity-tag */
static int etag_one(struct httpd_str v, int *weak, struct httpd_str *opaque)
{
	size_t i = 0;
	if (!v.p)
		return -1;
	v = trim(v);
	return etag_at(v.p, v.n, &i, weak, opaque) || i != v.n ? -1 : 0;
}

static int opaque_eq(struct httpd_str a, struct httpd_str b)
{
	return a.n == b.n && !memcmp(a.p, b.p, a.n);
}

int httpd_etag_strong_eq(struct httpd_str a, struct httpd_str b)
{
	int wa, wb;
	struct httpd_str oa, ob;
	if (etag_one(a, &wa, &oa) || etag_one(b, &wb, &ob))
		return 0;
	return !wa && !wb && opaque_eq(oa, ob);
}

int httpd_etag_weak_eq(struct httpd_str a, struct httpd_str b)
{
	int wa, wb;
	struct httpd_str oa, ob;
	if (etag_one(a, &wa, &oa) || etag_one(b, &wb, &ob))
		return 0;
	return opaque_eq(oa, ob);
}

int httpd_etag_list_match(struct httpd_str list, struct httpd_str etag, int weak)
{
	struct httpd_str v = trim(list);
	if (!v.p)
		return -EINVAL;
	if (v.n == 1 && v.p[0] == '*')
		return 1;
	int rw, have = 0, match = 0;
	struct httpd_str ro;
	if (etag.p && !etag_one(etag, &rw, &ro))
		have = 1;
	/* #entity-tag: empty elements and whitespace around commas are
	 * allowed (RFC 9110 §5.6.1); every member must parse */
	size_t i = 0;
	while (i < v.n) {
		if (v.p[i] == ',' || is_ows(v.p[i])) {
			i++;
			continue;
		}
		int w;
		struct httpd_str o;
		if (etag_at(v.p, v.n, &i, &w, &o))
			return -EINVAL;
		if (have && opaque_eq(o, ro) && (weak || (!w && !rw)))
			match = 1;
		while (i < v.n && is_ows(v.p[i]))
			i++;
		if (i < v.n && v.p[i] != ',')
			return -EINVAL;
	}
	return match;
}

/* ---- Range */

/* 1*DIGIT at s[*i..n), saturating at UINT64_MAX; -1 if none */
static int u64_at(const char *s, size_t n, size_t *i, uint64_t *v)
{
	size_t k = *i;
	uint64_t x = 0;
	while (k < n && is_digit(s[k])) {
		unsigned d = (unsigned)(s[k] - '0');
		x = x > (UINT64_MAX - d) / 10 ? UINT64_MAX : x * 10 + d;
		k++;
	}
	if (k == *i)
		return -1;
	*i = k;
	*v = x;
	return 0;
}

static enum httpd_range_result range_parse(struct httpd_str v0, uint64_t len, struct httpd_ranges *out)
{
	struct httpd_str v = trim(v0);
	out->n = 0;
	if (!v.p)
		return HTTPD_RANGE_IGNORE;
	size_t i = 0;
	while (i < v.n && is_tchar((unsigned char)v.p[i]))
		i++;
	/* another unit, or no "=": not ours to read (RFC 9110 §14.2) */
	if (i != 5 || !eq_nocase(v.p, "bytes", 5) || i >= v.n || v.p[i] != '=')
		return HTTPD_RANGE_IGNORE;
	i++;
	const char *s = v.p;
	size_t n = v.n;
	uint64_t sum = 0;
	int specs = 0, zero_ok = 0;
	while (i < n) {
		if (s[i] == ',' || is_ows(s[i])) {
			i++;
			continue;
		}
		uint64_t first, last = UINT64_MAX;
		int suffix = s[i] == '-', sat;
		if (suffix) {
			i++;
			if (u64_at(s, n, &i, &last))
				return HTTPD_RANGE_IGNORE;
			/* a suffix-range: the last `last` bytes */
			sat = last > 0 && len > 0;
			zero_ok |= last > 0 && len == 0;
			first = last >= len ? 0 : len - last;
			last = len - 1;
		} else {
			if (u64_at(s, n, &i, &first) || i >= n || s[i] != '-')
				return HTTPD_RANGE_IGNORE;
			i++;
			if (i < n && is_digit(s[i])) {
				if (u64_at(s, n, &i, &last))
					return HTTPD_RANGE_IGNORE;
				if (last < first)
					return HTTPD_RANGE_IGNORE;      /* invalid (§14.1.1) */
			}
			sat = first < len;
			if (sat && last >= len)
				last = len - 1;
		}
		specs++;
		while (i < n && is_ows(s[i]))
			i++;
		if (i < n && s[i] != ',')
			return HTTPD_RANGE_IGNORE;
		if (!sat)
			continue;       /* dropped, as nginx does */
		uint64_t size = last - first + 1;
		/* nginx: more than max_ranges, or more bytes than the file
		 * (overlapping ranges): the whole file instead */
		if (out->n == HTTPD_RANGES_MAX || size > len - sum)
			return HTTPD_RANGE_IGNORE;
		sum += size;
		out->r[out->n++] = (struct httpd_range){ first, last };
	}
	if (!specs)
		return HTTPD_RANGE_IGNORE;      /* "bytes=" with no range-spec */
	if (out->n)
		return HTTPD_RANGE_PARTIAL;
	return len == 0 && zero_ok ? HTTPD_RANGE_IGNORE : HTTPD_RANGE_UNSATISFIABLE;
}

enum httpd_range_result httpd_range_parse(struct httpd_str v, uint64_t len, struct httpd_ranges *out)
{
	enum httpd_range_result r = range_parse(v, len, out);
	if (r != HTTPD_RANGE_PARTIAL)
		out->n = 0;
	return r;
}

/* ---- preconditions, then Range */
static int if_range_holds(struct httpd_str v, const struct httpd_rep *rep, int64_t now)
{
	struct httpd_str t = trim(v);
	int64_t d;
	/* an entity-tag starts with DQUOTE or W/ (§13.1.5) */
	if (t.n && (t.p[0] == '"' || (t.n > 1 && t.p[0] == 'W' && t.p[1] == '/')))
		return rep->etag.p && httpd_etag_strong_eq(t, rep->etag);
	return rep->has_mtime && !httpd_date_parse(t.p, t.n, now, &d) && d == rep->mtime;
}

int httpd_evaluate(enum httpd_method m, const struct httpd_cond *c, const struct httpd_rep *rep,
		   int64_t now, struct httpd_ranges *ranges)
{
	int64_t d;
	int get_head = m == HTTPD_GET || m == HTTPD_HEAD;
	ranges->n = 0;
	/* 1, 2: If-Match, else If-Unmodified-Since */
	if (c->if_match.p) {
		if (httpd_etag_list_match(c->if_match, rep->etag, 0) != 1)
			return 412;
	} else if (c->if_unmodified_since.p && rep->has_mtime &&
		   !httpd_date_parse(c->if_unmodified_since.p, c->if_unmodified_since.n, now, &d) &&
		   rep->mtime > d) {
		return 412;
	}
	/* 3, 4: If-None-Match, else If-Modified-Since (GET and HEAD only) */
	if (c->if_none_match.p) {
		if (httpd_etag_list_match(c->if_none_match, rep->etag, 1) == 1)
			return get_head ? 304 : 412;
	} else if (get_head && c->if_modified_since.p && rep->has_mtime &&
		   !httpd_date_parse(c->if_modified_since.p, c->if_modified_since.n, now, &d) &&
		   rep->mtime <= d) {
		return 304;
	}
	/* 5: Range, where If-Range lets it apply */
	if (!get_head || !c->range.p)
		return 200;
	if (c->if_range.p && !if_range_holds(c->if_range, rep, now))
		return 200;
	switch (httpd_range_parse(c->range, rep->len, ranges)) {
	case HTTPD_RANGE_PARTIAL:
		return 206;
	case HTTPD_RANGE_UNSATISFIABLE:
		return 416;
	default:
		return 200;
	}
}
