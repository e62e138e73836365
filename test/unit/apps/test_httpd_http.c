/*
 * test_httpd_http.c — the httpd appliance's HTTP semantics
 * (src/apps/httpd_http.c, httpd_head.c) alone: the request line, target
 * normalisation, HTTP-dates, entity-tags, Range, the preconditions in
 * RFC 9110 §13.2.2's order, and response heads byte for byte.
 *
 * The cases are the RFCs' own examples where they give some (RFC 9110
 * §5.6.7 dates, §8.8.3.2 the comparison table, §13.1 the If-* values,
 * §14.1.2 the byte ranges; RFC 3986 §5.4 dot segments), then the edges:
 * climbing above the root by every spelling, encoded slashes and NULs,
 * number overflow, zero-length files, nginx's limits on ranges.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "apps/httpd_http.h"

#define S(lit) ((struct httpd_str){ (lit), sizeof(lit) - 1 })
#define NONE ((struct httpd_str){ NULL, 0 })
#define RFC_DATE 784111777              /* Sun, 06 Nov 1994 08:49:37 GMT */
#define NOW_2026 1780000000             /* 2026-05-28 */

static struct httpd_str str(const char *s) { return (struct httpd_str){ s, strlen(s) }; }

/* ---- request line */
Test(method, get_and_head_are_served_the_rest_are_tokens_or_bad)
{
	cr_assert_eq(httpd_method_parse("GET", 3), HTTPD_GET);
	cr_assert_eq(httpd_method_parse("HEAD", 4), HTTPD_HEAD);
	cr_assert_eq(httpd_method_parse("POST", 4), HTTPD_OTHER);
	cr_assert_eq(httpd_method_parse("OPTIONS", 7), HTTPD_OTHER);
	cr_assert_eq(httpd_method_parse("get", 3), HTTPD_OTHER, "methods are case-sensitive");
	cr_assert_eq(httpd_method_parse("GETS", 4), HTTPD_OTHER);
	cr_assert_eq(httpd_method_parse("GE", 2), HTTPD_OTHER);
	cr_assert_eq(httpd_method_parse("", 0), HTTPD_BAD);
	cr_assert_eq(httpd_method_parse("GE T", 4), HTTPD_BAD);
	cr_assert_eq(httpd_method_parse("G\x01T", 3), HTTPD_BAD);
	cr_assert_eq(httpd_method_parse("GET\0", 4), HTTPD_BAD);
	cr_assert_eq(httpd_method_parse("G(T", 3), HTTPD_BAD);
}

Test(version, one_one_and_one_zero_later_minors_as_one_one_else_505_or_400)
{
	int minor = -1;
	cr_assert_eq(httpd_version_parse("HTTP/1.1", 8, &minor), 0);
	cr_assert_eq(minor, 1);
	cr_assert_eq(httpd_version_parse("HTTP/1.0", 8, &minor), 0);
	cr_assert_eq(minor, 0);
	cr_assert_eq(httpd_version_parse("HTTP/1.2", 8, &minor), 0);
	cr_assert_eq(minor, 1);
	cr_assert_eq(httpd_version_parse("HTTP/2.0", 8, &minor), 505);
	cr_assert_eq(httpd_version_parse("HTTP/0.9", 8, &minor), 505);
	cr_assert_eq(httpd_version_parse("HTTP/3.0", 8, &minor), 505);
	cr_assert_eq(httpd_version_parse("http/1.1", 8, &minor), 400);
	cr_assert_eq(httpd_version_parse("HTTP/1.10", 9, &minor), 400);
	cr_assert_eq(httpd_version_parse("HTTP/1", 6, &minor), 400);
	cr_assert_eq(httpd_version_parse("HTTP/a.1", 8, &minor), 400);
	cr_assert_eq(httpd_version_parse("HTTP/1,1", 8, &minor), 400);
	cr_assert_eq(httpd_version_parse("", 0, &minor), 400);
}

Test(keep_alive, one_one_unless_close_one_zero_only_if_asked)
{
	cr_assert_eq(httpd_keep_alive(1, NONE), 1);
	cr_assert_eq(httpd_keep_alive(1, S("close")), 0);
	cr_assert_eq(httpd_keep_alive(1, S("Keep-Alive, Close")), 0);
	cr_assert_eq(httpd_keep_alive(1, S(" upgrade ,CLOSE ")), 0);
	cr_assert_eq(httpd_keep_alive(1, S("closed")), 1);
	cr_assert_eq(httpd_keep_alive(0, NONE), 0);
	cr_assert_eq(httpd_keep_alive(0, S("keep-alive")), 1);
	cr_assert_eq(httpd_keep_alive(0, S("Keep-Alive")), 1);
	cr_assert_eq(httpd_keep_alive(0, S("upgrade, keep-alive")), 1);
	cr_assert_eq(httpd_keep_alive(0, S("keep-alive, close")), 0);
	cr_assert_eq(httpd_keep_alive(0, S("keep-alive-ish")), 0);
	cr_assert_eq(httpd_keep_alive(0, S(",,")), 0);
}

/* ---- request target */
struct tcase {
	const char *in;
	int status;
	const char *out;
	int slash;
};

static void check_targets(const struct tcase *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char out[256];
		struct httpd_target r;
		int st = httpd_target_normalize(c[i].in, strlen(c[i].in), 200, out, sizeof out, &r);
		cr_assert_eq(st, c[i].status, "%s: status %d, want %d", c[i].in, st, c[i].status);
		if (st)
			continue;
		cr_assert_str_eq(out, c[i].out, "%s", c[i].in);
		cr_assert_eq(r.len, strlen(c[i].out), "%s", c[i].in);
		cr_assert_eq(r.slash, c[i].slash, "%s: slash", c[i].in);
	}
}

Test(target, origin_form_paths_are_decoded_and_dot_free)
{
	static const struct tcase c[] = {
		{ "/", 0, "/", 1 },
		{ "/index.html", 0, "/index.html", 0 },
		{ "/a/b/", 0, "/a/b/", 1 },
		{ "/a//b", 0, "/a/b", 0 },
		{ "//a///b//", 0, "/a/b/", 1 },
		{ "/a/./b", 0, "/a/b", 0 },
		{ "/a/b/..", 0, "/a/", 1 },
		{ "/a/b/.", 0, "/a/b/", 1 },
		{ "/a/../b", 0, "/b", 0 },
		{ "/a/..", 0, "/", 1 },
		{ "/./", 0, "/", 1 },
		{ "/a/.../b", 0, "/a/.../b", 0 },
		{ "/..a/b..", 0, "/..a/b..", 0 },
		{ "/.hidden", 0, "/.hidden", 0 },
		/* RFC 3986 §5.2.4's worked examples, and §5.4's ending in dots */
		{ "/a/b/c/./../../g", 0, "/a/g", 0 },
		{ "/b/c/./g", 0, "/b/c/g", 0 },
		{ "/b/c/g/", 0, "/b/c/g/", 1 },
		{ "/b/c/d/../..", 0, "/b/", 1 },
		{ "/b/c/d/../../g", 0, "/b/g", 0 },
		{ "/b/c/g.", 0, "/b/c/g.", 0 },
		{ "/b/c/.g", 0, "/b/c/.g", 0 },
		{ "/b/c/g..", 0, "/b/c/g..", 0 },
		{ "/b/c/..g", 0, "/b/c/..g", 0 },
		{ "/b/c/./../g", 0, "/b/g", 0 },
		{ "/b/c/g/./h", 0, "/b/c/g/h", 0 },
		{ "/b/c/g/../h", 0, "/b/c/h", 0 },
		/* decoding: once, before the dots are looked at */
		{ "/a%20b", 0, "/a b", 0 },
		{ "/%25", 0, "/%", 0 },
		{ "/%2541", 0, "/%41", 0 },
		{ "/caf%C3%A9", 0, "/caf\xc3\xa9", 0 },
		{ "/caf\xc3\xa9", 0, "/caf\xc3\xa9", 0 },
		{ "/a/%2e%2E", 0, "/", 1 },
		{ "/a/%2E/b", 0, "/a/b", 0 },
		{ "/a%3Fb", 0, "/a?b", 0 },
		{ "/~user/", 0, "/~user/", 1 },
		/* the query goes */
		{ "/a?x=1", 0, "/a", 0 },
		{ "/a?x=/../..", 0, "/a", 0 },
		{ "/a/..?q", 0, "/", 1 },
		{ "/?", 0, "/", 1 },
	};
	check_targets(c, sizeof c / sizeof c[0]);
}

Test(target, anything_that_climbs_or_hides_is_400)
{
	static const struct tcase c[] = {
		{ "/..", 400, NULL, 0 },
		{ "/../a", 400, NULL, 0 },
		{ "/a/../../b", 400, NULL, 0 },
		{ "/a/../..", 400, NULL, 0 },
		{ "//../etc/passwd", 400, NULL, 0 },
		{ "/%2e%2e/x", 400, NULL, 0 },
		{ "/%2E%2E", 400, NULL, 0 },
		{ "/.%2e/", 400, NULL, 0 },
		{ "/a/%2e%2e/%2E%2E/b", 400, NULL, 0 },
		{ "/a%2fb", 400, NULL, 0 },
		{ "/a%2F..%2F..%2Fb", 400, NULL, 0 },
		{ "/..%2f", 400, NULL, 0 },
		{ "/a%00b", 400, NULL, 0 },
		{ "/a%0ab", 400, NULL, 0 },
		{ "/a%0D%0Ab", 400, NULL, 0 },
		{ "/a%7f", 400, NULL, 0 },
		{ "/a%", 400, NULL, 0 },
		{ "/a%2", 400, NULL, 0 },
		{ "/a%zz", 400, NULL, 0 },
		{ "/a%g0", 400, NULL, 0 },
		{ "/a%%30", 400, NULL, 0 },
		{ "/a b", 400, NULL, 0 },
		{ "/a\tb", 400, NULL, 0 },
		{ "/a#frag", 400, NULL, 0 },
		{ "/a\x01", 400, NULL, 0 },
		{ "/a\x7f", 400, NULL, 0 },
		{ "/a?q\x01", 400, NULL, 0 },
		{ "", 400, NULL, 0 },
		{ "a/b", 400, NULL, 0 },
		{ "*", 400, NULL, 0 },
		{ "example.com:80", 400, NULL, 0 },
	};
	check_targets(c, sizeof c / sizeof c[0]);
	char out[16];
	struct httpd_target r;
	cr_assert_eq(httpd_target_normalize("/a\0b", 4, 100, out, sizeof out, &r), 400, "a raw NUL");
}

Test(target, absolute_form_takes_the_path_and_reports_the_authority)
{
	static const struct tcase c[] = {
		{ "http://example.com/a/b", 0, "/a/b", 0 },
		{ "HTTP://Example.com", 0, "/", 1 },
		{ "http://example.com?x", 0, "/", 1 },
		{ "https://h:8443/x/", 0, "/x/", 1 },
		{ "http://h/../a", 400, NULL, 0 },
		{ "http:///a", 400, NULL, 0 },
		{ "http://", 400, NULL, 0 },
		{ "ftp://h/a", 400, NULL, 0 },
		{ "http://u@h/a", 400, NULL, 0 },
		{ "http:/a", 400, NULL, 0 },
	};
	check_targets(c, sizeof c / sizeof c[0]);
	char out[64];
	struct httpd_target r;
	cr_assert_eq(httpd_target_normalize("http://h.example:81/p?q=1", 25, 100, out, sizeof out, &r), 0);
	cr_assert_eq(r.authority.n, 12);
	cr_assert_eq(memcmp(r.authority.p, "h.example:81", 12), 0);
	cr_assert_eq(r.query.n, 3);
	cr_assert_eq(memcmp(r.query.p, "q=1", 3), 0);
	cr_assert_eq(httpd_target_normalize("/p", 2, 100, out, sizeof out, &r), 0);
	cr_assert_null(r.authority.p);
	cr_assert_null(r.query.p, "no '?': no query");
	cr_assert_eq(httpd_target_normalize("/p?", 3, 100, out, sizeof out, &r), 0);
	cr_assert_not_null(r.query.p, "'?' alone: an empty query");
	cr_assert_eq(r.query.n, 0);
}

Test(target, the_bounds_give_414)
{
	char out[64];
	struct httpd_target r;
	cr_assert_eq(httpd_target_normalize("/0123456789", 11, 11, out, sizeof out, &r), 0);
	cr_assert_eq(httpd_target_normalize("/0123456789", 11, 10, out, sizeof out, &r), 414);
	/* the output buffer: "/abc" needs 5 bytes with its NUL, "/abc/" 6 */
	cr_assert_eq(httpd_target_normalize("/abc", 4, 100, out, 5, &r), 0);
	cr_assert_str_eq(out, "/abc");
	cr_assert_eq(httpd_target_normalize("/abc", 4, 100, out, 4, &r), 414);
	cr_assert_eq(httpd_target_normalize("/abc/", 5, 100, out, 5, &r), 414);
	cr_assert_eq(httpd_target_normalize("/abc/", 5, 100, out, 6, &r), 0);
	cr_assert_str_eq(out, "/abc/");
	cr_assert_eq(httpd_target_normalize("/", 1, 100, out, 2, &r), 0);
	cr_assert_str_eq(out, "/");
	cr_assert_eq(httpd_target_normalize("/", 1, 100, out, 1, &r), 414);
	/* a long target that dots make short fits where its result fits */
	cr_assert_eq(httpd_target_normalize("/aaaaaaaa/../b", 14, 100, out, 3, &r), 414);
}

Test(location, the_path_reencoded_with_its_slash_and_query)
{
	char out[64];
	cr_assert_eq(httpd_location_build("/dir", 4, NONE, out, sizeof out), 5);
	cr_assert_str_eq(out, "/dir/");
	cr_assert_eq(httpd_location_build("/my dir", 7, S("a=1&b"), out, sizeof out), 16);
	cr_assert_str_eq(out, "/my%20dir/?a=1&b");
	httpd_location_build("/caf\xc3\xa9", 6, NONE, out, sizeof out);
	cr_assert_str_eq(out, "/caf%C3%A9/");
	httpd_location_build("/100%/a?b#c", 11, S(""), out, sizeof out);
	cr_assert_str_eq(out, "/100%25/a%3Fb%23c/?");
	httpd_location_build("/a:b@c;d=e", 10, NONE, out, sizeof out);
	cr_assert_str_eq(out, "/a:b@c;d=e/");
	cr_assert_eq(httpd_location_build("/dir", 4, NONE, out, 5), -ENOSPC);
	cr_assert_eq(httpd_location_build("/dir", 4, NONE, out, 6), 5);
	cr_assert_eq(httpd_location_build("/ ", 2, NONE, out, 5), -ENOSPC);
	cr_assert_eq(httpd_location_build("/d", 2, S("xy"), out, 6), -ENOSPC);
}

/* a target that normalises, re-encoded as a Location, normalises to the
 * same path (the redirect leads where the request was going) */
Test(location, round_trips_through_normalisation)
{
	static const char *const paths[] = { "/dir", "/my dir", "/caf\xc3\xa9", "/100%", "/a?b",
					     "/x#y", "/a/b/c" };
	for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
		char loc[64], back[64];
		struct httpd_target r;
		int n = httpd_location_build(paths[i], strlen(paths[i]), NONE, loc, sizeof loc);
		cr_assert_gt(n, 0);
		cr_assert_eq(httpd_target_normalize(loc, (size_t)n, 100, back, sizeof back, &r), 0, "%s", loc);
		cr_assert(r.slash);
		cr_assert_eq(r.len, strlen(paths[i]) + 1);
		cr_assert_eq(memcmp(back, paths[i], strlen(paths[i])), 0, "%s", loc);
	}
}

/* ---- HTTP-date */
static const char *fmt(int64_t t)
{
	static char b[HTTPD_DATE_LEN + 1];
	memset(b, 'x', sizeof b);
	cr_assert_eq(httpd_date_format(t, b), 0, "%lld", (long long)t);
	cr_assert_eq(strlen(b), HTTPD_DATE_LEN);
	return b;
}

Test(date, imf_fixdate_is_written_as_rfc_9110_shows)
{
	cr_assert_str_eq(fmt(RFC_DATE), "Sun, 06 Nov 1994 08:49:37 GMT");
	cr_assert_str_eq(fmt(0), "Thu, 01 Jan 1970 00:00:00 GMT");
	cr_assert_str_eq(fmt(-1), "Wed, 31 Dec 1969 23:59:59 GMT");
	cr_assert_str_eq(fmt(951782400), "Tue, 29 Feb 2000 00:00:00 GMT");
	cr_assert_str_eq(fmt(1709164800), "Thu, 29 Feb 2024 00:00:00 GMT");
	cr_assert_str_eq(fmt(253402300799LL), "Fri, 31 Dec 9999 23:59:59 GMT");
	cr_assert_str_eq(fmt(-62167219200LL), "Sat, 01 Jan 0000 00:00:00 GMT");
	char b[HTTPD_DATE_LEN + 1];
	cr_assert_eq(httpd_date_format(253402300800LL, b), -ERANGE);
	cr_assert_eq(httpd_date_format(-62167219201LL, b), -ERANGE);
	cr_assert_eq(httpd_date_format(INT64_MIN, b), -ERANGE);
	cr_assert_eq(httpd_date_format(INT64_MAX, b), -ERANGE);
}

static int64_t parse(const char *s, int64_t now)
{
	int64_t t = -12345;
	int r = httpd_date_parse(s, strlen(s), now, &t);
	return r ? (int64_t)r * 1000000000000LL : t;
}
#define BAD_DATE (-EINVAL * 1000000000000LL)

Test(date, all_three_formats_of_rfc_9110_are_read)
{
	cr_assert_eq(parse("Sun, 06 Nov 1994 08:49:37 GMT", NOW_2026), RFC_DATE);
	cr_assert_eq(parse("Sunday, 06-Nov-94 08:49:37 GMT", NOW_2026), RFC_DATE);
	cr_assert_eq(parse("Sun Nov  6 08:49:37 1994", NOW_2026), RFC_DATE);
	cr_assert_eq(parse("Thu Dec 31 23:59:59 1998", NOW_2026), 915148799);
	cr_assert_eq(parse("  Sun, 06 Nov 1994 08:49:37 GMT\t", NOW_2026), RFC_DATE, "OWS around");
	/* a leap second reads as the second after :59 */
	cr_assert_eq(parse("Sat, 31 Dec 2016 23:59:60 GMT", NOW_2026), 1483228800);
	cr_assert_eq(parse("Tue, 29 Feb 2000 00:00:00 GMT", NOW_2026), 951782400);
	cr_assert_eq(parse("Wed, 31 Dec 1969 23:59:59 GMT", NOW_2026), -1);
}

Test(date, rfc_850_years_are_the_latest_not_50_years_ahead)
{
	/* now is 2026: "76" is 2076 (50 years on), "77" is 1977 */
	cr_assert_eq(parse("Wednesday, 01-Jan-76 00:00:00 GMT", NOW_2026), 3345062400LL);
	cr_assert_eq(parse("Saturday, 01-Jan-77 00:00:00 GMT", NOW_2026), 220924800);
	cr_assert_eq(parse("Thursday, 01-Jan-26 00:00:00 GMT", NOW_2026), 1767225600);
	/* in 2090, "94" is 2094 */
	cr_assert_eq(parse("Sunday, 06-Nov-94 08:49:37 GMT", 3800000000LL), RFC_DATE + 3155760000LL);
	/* a clock before 1970 still reads: in 1969, "94" is 1994 */
	cr_assert_eq(parse("Sunday, 06-Nov-94 08:49:37 GMT", -100), RFC_DATE);
}

Test(date, anything_else_is_invalid)
{
	static const char *const bad[] = {
		"",
		"Sun, 06 Nov 1994 08:49:37 UTC",
		"Sun, 06 Nov 1994 08:49:37 gmt",
		"sun, 06 Nov 1994 08:49:37 GMT",
		"Sun, 06 nov 1994 08:49:37 GMT",
		"Sun, 6 Nov 1994 08:49:37 GMT",
		"Sun, 06 Nov 94 08:49:37 GMT",
		"Sun, 31 Feb 1994 08:49:37 GMT",
		"Sun, 29 Feb 1900 08:49:37 GMT",
		"Sun, 00 Nov 1994 08:49:37 GMT",
		"Sun, 06 Nov 1994 24:00:00 GMT",
		"Sun, 06 Nov 1994 08:60:00 GMT",
		"Sun, 06 Nov 1994 08:49:61 GMT",
		"Sun, 06 Nov 1994 08-49-37 GMT",
		"Sun, 06 Nov 1994 08:49:37 GMT, Mon, 07 Nov 1994 08:49:37 GMT",
		"Sun, 06 Nov 1994 08:49:37 GMT,",
		"Xyz, 06 Nov 1994 08:49:37 GMT",
		"Sun, 06 Xyz 1994 08:49:37 GMT",
		"Sun,06 Nov 1994 08:49:37 GMT ",
		"Sunday, 06 Nov 1994 08:49:37 GMT",
		"Sunday, 06-Nov-1994 08:49:37 GMT",
		"Sun, 06-Nov-94 08:49:37 GMT",
		"Funday, 06-Nov-94 08:49:37 GMT",
		"Sun Nov 6 08:49:37 1994",
		"Sun Nov 06 08:49:37 94",
		"Sun Nov  0 08:49:37 1994",
		"Sun Nov 31 08:49:37 1994",
		"Sun Nov  6 08:49:37 1994 GMT",
		"784111777",
		"\"abc\"",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		cr_assert_eq(parse(bad[i], NOW_2026), BAD_DATE, "%s", bad[i]);
	int64_t t;
	cr_assert_eq(httpd_date_parse(NULL, 0, 0, &t), -EINVAL);
}

Test(date, formatting_then_parsing_gives_the_time_back)
{
	for (int64_t t = -62167219200LL; t <= 253402300799LL; t += 86400LL * 367 + 3601 * 7 + 13) {
		char b[HTTPD_DATE_LEN + 1];
		int64_t back;
		cr_assert_eq(httpd_date_format(t, b), 0);
		cr_assert_eq(httpd_date_parse(b, HTTPD_DATE_LEN, 0, &back), 0, "%s", b);
		cr_assert_eq(back, t, "%s", b);
	}
}

/* ---- entity tags: RFC 9110 §8.8.3.2's table */
Test(etag, the_comparison_table_of_rfc_9110)
{
	cr_assert_eq(httpd_etag_strong_eq(S("W/\"1\""), S("W/\"1\"")), 0);
	cr_assert_eq(httpd_etag_weak_eq(S("W/\"1\""), S("W/\"1\"")), 1);
	cr_assert_eq(httpd_etag_strong_eq(S("W/\"1\""), S("W/\"2\"")), 0);
	cr_assert_eq(httpd_etag_weak_eq(S("W/\"1\""), S("W/\"2\"")), 0);
	cr_assert_eq(httpd_etag_strong_eq(S("W/\"1\""), S("\"1\"")), 0);
	cr_assert_eq(httpd_etag_weak_eq(S("W/\"1\""), S("\"1\"")), 1);
	cr_assert_eq(httpd_etag_strong_eq(S("\"1\""), S("\"1\"")), 1);
	cr_assert_eq(httpd_etag_weak_eq(S("\"1\""), S("\"1\"")), 1);
}

Test(etag, malformed_tags_match_nothing)
{
	static const char *const bad[] = { "1", "\"1", "W/1", "w/\"1\"", "\"1\"x", "\"a b\"", "W/ \"1\"",
					   "", "\"\x01\"" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		cr_assert_eq(httpd_etag_weak_eq(str(bad[i]), str(bad[i])), 0, "%s", bad[i]);
		cr_assert_eq(httpd_etag_strong_eq(str(bad[i]), S("\"1\"")), 0, "%s", bad[i]);
	}
	cr_assert_eq(httpd_etag_strong_eq(S("\"\""), S("\"\"")), 1, "the empty opaque-tag is a tag");
	cr_assert_eq(httpd_etag_strong_eq(S("\"caf\xc3\xa9\""), S("\"caf\xc3\xa9\"")), 1, "obs-text");
	cr_assert_eq(httpd_etag_strong_eq(NONE, NONE), 0);
}

Test(etag, if_match_and_if_none_match_lists_of_rfc_9110)
{
	struct httpd_str tag = S("\"xyzzy\"");
	/* §13.1.1 and §13.1.2's examples */
	cr_assert_eq(httpd_etag_list_match(S("\"xyzzy\""), tag, 0), 1);
	cr_assert_eq(httpd_etag_list_match(S("\"xyzzy\", \"r2d2xxxx\", \"c3piozzzz\""), tag, 0), 1);
	cr_assert_eq(httpd_etag_list_match(S("\"r2d2xxxx\", \"c3piozzzz\", \"xyzzy\""), tag, 0), 1);
	cr_assert_eq(httpd_etag_list_match(S("*"), tag, 0), 1);
	cr_assert_eq(httpd_etag_list_match(S("W/\"xyzzy\""), tag, 1), 1);
	cr_assert_eq(httpd_etag_list_match(S("W/\"xyzzy\", W/\"r2d2xxxx\", W/\"c3piozzzz\""), tag, 1), 1);
	cr_assert_eq(httpd_etag_list_match(S("W/\"xyzzy\""), tag, 0), 0, "strong: never a weak tag");
	cr_assert_eq(httpd_etag_list_match(S("W/\"xyzzy\""), S("W/\"xyzzy\""), 0), 0);
	cr_assert_eq(httpd_etag_list_match(S("\"r2d2xxxx\""), tag, 1), 0);
	cr_assert_eq(httpd_etag_list_match(S(" ,, \"a\" ,\t\"xyzzy\" , "), tag, 1), 1, "empty elements");
	cr_assert_eq(httpd_etag_list_match(S(" * "), tag, 1), 1);
	cr_assert_eq(httpd_etag_list_match(S(""), tag, 1), 0, "no member");
	cr_assert_eq(httpd_etag_list_match(S("\"a,b\", \"xyzzy\""), tag, 1), 1, "a comma inside a tag");
	/* a representation without an ETag: only "*" */
	cr_assert_eq(httpd_etag_list_match(S("*"), NONE, 0), 1);
	cr_assert_eq(httpd_etag_list_match(S("\"xyzzy\""), NONE, 1), 0);
}

Test(etag, malformed_lists_are_einval)
{
	static const char *const bad[] = { "\"a\" \"xyzzy\"", "\"a\",*", "*, *", "**", "\"a",
					   "xyzzy", "\"xyzzy\";", "W/", "\"xyzzy\"x" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		cr_assert_eq(httpd_etag_list_match(str(bad[i]), S("\"xyzzy\""), 1), -EINVAL, "%s", bad[i]);
	cr_assert_eq(httpd_etag_list_match(NONE, S("\"xyzzy\""), 1), -EINVAL);
}

/* ---- Range */
static enum httpd_range_result rp(const char *v, uint64_t len, struct httpd_ranges *r)
{
	return httpd_range_parse(str(v), len, r);
}

static void want(const struct httpd_ranges *r, unsigned n, const uint64_t *fl)
{
	cr_assert_eq(r->n, n);
	for (unsigned i = 0; i < n; i++) {
		cr_assert_eq(r->r[i].first, fl[2 * i], "range %u first %llu", i,
			     (unsigned long long)r->r[i].first);
		cr_assert_eq(r->r[i].last, fl[2 * i + 1], "range %u last %llu", i,
			     (unsigned long long)r->r[i].last);
	}
}

Test(range, the_examples_of_rfc_9110_14_1_2)
{
	struct httpd_ranges r;
	cr_assert_eq(rp("bytes=0-499", 10000, &r), HTTPD_RANGE_PARTIAL);
	want(&r, 1, (uint64_t[]){ 0, 499 });
	cr_assert_eq(rp("bytes=500-999", 10000, &r), HTTPD_RANGE_PARTIAL);
	want(&r, 1, (uint64_t[]){ 500, 999 });
	cr_assert_eq(rp("bytes=-500", 10000, &r), HTTPD_RANGE_PARTIAL);
	want(&r, 1, (uint64_t[]){ 9500, 9999 });
	cr_assert_eq(rp("bytes=9500-", 10000, &r), HTTPD_RANGE_PARTIAL);
	want(&r, 1, (uint64_t[]){ 9500, 9999 });
	cr_assert_eq(rp("bytes=0-0,-1", 10000, &r), HTTPD_RANGE_PARTIAL);
	want(&r, 2, (uint64_t[]){ 0, 0, 9999, 9999 });
	cr_assert_eq(rp("bytes=500-600,601-999", 10000, &r), HTTPD_RANGE_PARTIAL);
	want(&r, 2, (uint64_t[]){ 500, 600, 601, 999 });
	cr_assert_eq(rp("bytes=500-700,601-999", 10000, &r), HTTPD_RANGE_PARTIAL);
	want(&r, 2, (uint64_t[]){ 500, 700, 601, 999 });
	/* §14.2's example, with whitespace around the commas */
	cr_assert_eq(rp("bytes=0-999, 4500-5499, -1000", 10000, &r), HTTPD_RANGE_PARTIAL);
	want(&r, 3, (uint64_t[]){ 0, 999, 4500, 5499, 9000, 9999 });
}

Test(range, clipped_to_the_length_or_dropped_beyond_it)
{
	struct httpd_ranges r;
	cr_assert_eq(rp("bytes=50-1000", 100, &r), HTTPD_RANGE_PARTIAL);
	want(&r, 1, (uint64_t[]){ 50, 99 });
	cr_assert_eq(rp("bytes=-500", 100, &r), HTTPD_RANGE_PARTIAL);
	want(&r, 1, (uint64_t[]){ 0, 99 });
	cr_assert_eq(rp("bytes=99-99", 100, &r), HTTPD_RANGE_PARTIAL);
	want(&r, 1, (uint64_t[]){ 99, 99 });
	cr_assert_eq(rp("bytes=100-,0-5,200-300", 100, &r), HTTPD_RANGE_PARTIAL);
	want(&r, 1, (uint64_t[]){ 0, 5 });
	cr_assert_eq(rp("bytes=100-", 100, &r), HTTPD_RANGE_UNSATISFIABLE);
	cr_assert_eq(rp("bytes=200-300", 100, &r), HTTPD_RANGE_UNSATISFIABLE);
	cr_assert_eq(rp("bytes=-0", 100, &r), HTTPD_RANGE_UNSATISFIABLE);
	cr_assert_eq(rp("bytes=100-200,-0", 100, &r), HTTPD_RANGE_UNSATISFIABLE);
	cr_assert_eq(r.n, 0);
	/* numbers past 2^64 saturate: still a valid, and maybe unsatisfiable, range */
	cr_assert_eq(rp("bytes=99999999999999999999999-", 100, &r), HTTPD_RANGE_UNSATISFIABLE);
	cr_assert_eq(rp("bytes=0-99999999999999999999999", 100, &r), HTTPD_RANGE_PARTIAL);
	want(&r, 1, (uint64_t[]){ 0, 99 });
	cr_assert_eq(rp("bytes=-99999999999999999999", 100, &r), HTTPD_RANGE_PARTIAL);
	want(&r, 1, (uint64_t[]){ 0, 99 });
	cr_assert_eq(rp("bytes=18446744073709551614-18446744073709551615", UINT64_MAX, &r),
		     HTTPD_RANGE_PARTIAL);
	want(&r, 1, (uint64_t[]){ UINT64_MAX - 1, UINT64_MAX - 1 });
}

Test(range, a_zero_length_file_has_no_range_to_send)
{
	struct httpd_ranges r;
	cr_assert_eq(rp("bytes=-5", 0, &r), HTTPD_RANGE_IGNORE, "a suffix: the whole (empty) file");
	cr_assert_eq(rp("bytes=0-", 0, &r), HTTPD_RANGE_UNSATISFIABLE);
	cr_assert_eq(rp("bytes=0-0", 0, &r), HTTPD_RANGE_UNSATISFIABLE);
	cr_assert_eq(rp("bytes=-0", 0, &r), HTTPD_RANGE_UNSATISFIABLE);
}

Test(range, invalid_values_and_other_units_are_ignored)
{
	static const char *const bad[] = {
		"bytes=5-1", "bytes=a-b", "bytes=", "bytes= ,, ", "bytes=1", "bytes=--1", "bytes=1-2-3",
		"bytes=1- 2", "bytes=1 -2", "bytes=-", "bytes=0-1;x", "bytes 0-1", "bytes", "bytes =0-1",
		"items=0-1", "byte=0-1", "=0-1", "", "bytes=0-1,5-2", "bytes=0x10-20", "bytes=+1-2",
		"bytes=0-1,,junk",
	};
	struct httpd_ranges r;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		r.n = 77;
		cr_assert_eq(rp(bad[i], 1000, &r), HTTPD_RANGE_IGNORE, "%s", bad[i]);
		cr_assert_eq(r.n, 0, "%s", bad[i]);
	}
	cr_assert_eq(httpd_range_parse(NONE, 1000, &r), HTTPD_RANGE_IGNORE);
	cr_assert_eq(rp("Bytes=0-1", 1000, &r), HTTPD_RANGE_PARTIAL, "the unit is case-insensitive");
	cr_assert_eq(rp(" bytes=,0-1,,2-3, ", 1000, &r), HTTPD_RANGE_PARTIAL, "empty elements");
	want(&r, 2, (uint64_t[]){ 0, 1, 2, 3 });
}

Test(range, at_most_16_ranges_and_no_more_bytes_than_the_file_as_nginx)
{
	struct httpd_ranges r;
	char v[512];
	int o = snprintf(v, sizeof v, "bytes=0-0");
	for (int i = 1; i < 16; i++)
		o += snprintf(v + o, sizeof v - (size_t)o, ",%d-%d", 2 * i, 2 * i);
	cr_assert_eq(rp(v, 1000, &r), HTTPD_RANGE_PARTIAL);
	cr_assert_eq(r.n, 16);
	snprintf(v + o, sizeof v - (size_t)o, ",40-40");
	cr_assert_eq(rp(v, 1000, &r), HTTPD_RANGE_IGNORE, "17 ranges: the whole file");
	cr_assert_eq(r.n, 0);
	/* unsatisfiable ones do not count */
	snprintf(v + o, sizeof v - (size_t)o, ",4000-5000,6000-");
	cr_assert_eq(rp(v, 1000, &r), HTTPD_RANGE_PARTIAL);
	cr_assert_eq(r.n, 16);
	/* overlap: more bytes asked than the file has */
	cr_assert_eq(rp("bytes=0-99,0-99", 100, &r), HTTPD_RANGE_IGNORE);
	cr_assert_eq(rp("bytes=0-59,40-99", 100, &r), HTTPD_RANGE_IGNORE);
	cr_assert_eq(rp("bytes=0-49,40-89", 100, &r), HTTPD_RANGE_PARTIAL, "overlapping within the length");
	want(&r, 2, (uint64_t[]){ 0, 49, 40, 89 });
	cr_assert_eq(rp("bytes=-1,-1,-1", 2, &r), HTTPD_RANGE_IGNORE);
}

/* ---- preconditions and Range together */
static struct httpd_rep REP = { { "\"abc\"", 5 }, 1, RFC_DATE, 1000 };

static int ev(enum httpd_method m, struct httpd_cond c, struct httpd_ranges *r)
{
	return httpd_evaluate(m, &c, &REP, NOW_2026, r);
}

Test(evaluate, if_match_then_if_unmodified_since_give_412)
{
	struct httpd_ranges r;
	cr_assert_eq(ev(HTTPD_GET, (struct httpd_cond){ 0 }, &r), 200);
	cr_assert_eq(ev(HTTPD_GET, (struct httpd_cond){ .if_match = S("\"abc\"") }, &r), 200);
	cr_assert_eq(ev(HTTPD_GET, (struct httpd_cond){ .if_match = S("\"x\", \"abc\"") }, &r), 200);
	cr_assert_eq(ev(HTTPD_GET, (struct httpd_cond){ .if_match = S("*") }, &r), 200);
	cr_assert_eq(ev(HTTPD_GET, (struct httpd_cond){ .if_match = S("\"x\"") }, &r), 412);
	cr_assert_eq(ev(HTTPD_GET, (struct httpd_cond){ .if_match = S("W/\"abc\"") }, &r), 412);
	cr_assert_eq(ev(HTTPD_GET, (struct httpd_cond){ .if_match = S("abc") }, &r), 412, "malformed");
	cr_assert_eq(ev(HTTPD_HEAD, (struct httpd_cond){ .if_match = S("\"x\"") }, &r), 412);
	/* If-Unmodified-Since: 412 only if modified after the date */
	cr_assert_eq(ev(HTTPD_GET, (struct httpd_cond){
			.if_unmodified_since = S("Sun, 06 Nov 1994 08:49:37 GMT") }, &r), 200);
	cr_assert_eq(ev(HTTPD_GET, (struct httpd_cond){
			.if_unmodified_since = S("Sun, 06 Nov 1994 08:49:36 GMT") }, &r), 412);
	cr_assert_eq(ev(HTTPD_GET, (struct httpd_cond){
			.if_unmodified_since = S("Sun, 06 Nov 1994 08:49:36 GMT, x") }, &r), 200, "invalid: ignored");
	cr_assert_eq(ev(HTTPD_GET, (struct httpd_cond){
			.if_unmodified_since = S("yesterday") }, &r), 200);
	/* ... and not looked at when If-Match is there */
	cr_assert_eq(ev(HTTPD_GET, (struct httpd_cond){ .if_match = S("\"abc\""),
			.if_unmodified_since = S("Sun, 06 Nov 1994 08:49:36 GMT") }, &r), 200);
	/* 412 comes before 304 */
	cr_assert_eq(ev(HTTPD_GET, (struct httpd_cond){ .if_match = S("\"x\""),
			.if_none_match = S("\"abc\"") }, &r), 412);
}

Test(evaluate, if_none_match_then_if_modified_since_give_304)
{
	struct httpd_ranges r;
	cr_assert_eq(ev(HTTPD_GET, (struct httpd_cond){ .if_none_match = S("\"abc\"") }, &r), 304);
	cr_assert_eq(ev(HTTPD_HEAD, (struct httpd_cond){ .if_none_match = S("\"abc\"") }, &r), 304);
	cr_assert_eq(ev(HTTPD_GET, (struct httpd_cond){ .if_none_match = S("W/\"abc\"") }, &r), 304,
		     "weak comparison");
	cr_assert_eq(ev(HTTPD_GET, (struct httpd_cond){ .if_none_match = S("*") }, &r), 304);
	cr_assert_eq(ev(HTTPD_GET, (struct httpd_cond){ .if_none_match = S("\"x\"") }, &r), 200);
	cr_assert_eq(ev(HTTPD_GET, (struct httpd_cond){ .if_none_match = S("\"abc") }, &r), 200, "malformed");
	cr_assert_eq(ev(HTTPD_OTHER, (struct httpd_cond){ .if_none_match = S("\"abc\"") }, &r), 412);
	/* If-Modified-Since: 304 unless modified after the date */
	cr_assert_eq(ev(HTTPD_GET, (struct httpd_cond){
			.if_modified_since = S("Sun, 06 Nov 1994 08:49:37 GMT") }, &r), 304);
	cr_assert_eq(ev(HTTPD_GET, (struct httpd_cond){
			.if_modified_since = S("Sunday, 06-Nov-94 08:49:38 GMT") }, &r), 304);
	cr_assert_eq(ev(HTTPD_GET, (struct httpd_cond){
			.if_modified_since = S("Sun Nov  6 08:49:36 1994") }, &r), 200);
	cr_assert_eq(ev(HTTPD_GET, (struct httpd_cond){ .if_modified_since = S("0") }, &r), 200);
	cr_assert_eq(ev(HTTPD_OTHER, (struct httpd_cond){
			.if_modified_since = S("Sun, 06 Nov 1994 08:49:37 GMT") }, &r), 200);
	/* ... and not looked at when If-None-Match is there */
	cr_assert_eq(ev(HTTPD_GET, (struct httpd_cond){ .if_none_match = S("\"x\""),
			.if_modified_since = S("Sun, 06 Nov 1994 08:49:37 GMT") }, &r), 200);
	/* preconditions come before Range */
	cr_assert_eq(ev(HTTPD_GET, (struct httpd_cond){ .if_none_match = S("\"abc\""),
			.range = S("bytes=0-9") }, &r), 304);
	cr_assert_eq(r.n, 0);
}

Test(evaluate, a_file_without_a_date_ignores_the_dates)
{
	struct httpd_rep rep = { NONE, 0, 0, 10 };
	struct httpd_ranges r;
	struct httpd_cond c = { .if_modified_since = S("Sun, 06 Nov 2094 08:49:37 GMT"),
				.if_unmodified_since = S("Sun, 06 Nov 1904 08:49:37 GMT") };
	cr_assert_eq(httpd_evaluate(HTTPD_GET, &c, &rep, NOW_2026, &r), 200);
	c = (struct httpd_cond){ .if_match = S("*"), .if_none_match = S("\"a\"") };
	cr_assert_eq(httpd_evaluate(HTTPD_GET, &c, &rep, NOW_2026, &r), 200);
	c = (struct httpd_cond){ .range = S("bytes=0-1"), .if_range = S("Sun, 06 Nov 1994 08:49:37 GMT") };
	cr_assert_eq(httpd_evaluate(HTTPD_GET, &c, &rep, NOW_2026, &r), 200);
}

Test(evaluate, range_where_if_range_lets_it)
{
	struct httpd_ranges r;
	cr_assert_eq(ev(HTTPD_GET, (struct httpd_cond){ .range = S("bytes=0-9") }, &r), 206);
	want(&r, 1, (uint64_t[]){ 0, 9 });
	cr_assert_eq(ev(HTTPD_HEAD, (struct httpd_cond){ .range = S("bytes=0-9") }, &r), 206);
	cr_assert_eq(ev(HTTPD_OTHER, (struct httpd_cond){ .range = S("bytes=0-9") }, &r), 200);
	cr_assert_eq(ev(HTTPD_GET, (struct httpd_cond){ .range = S("bytes=1000-") }, &r), 416);
	cr_assert_eq(ev(HTTPD_GET, (struct httpd_cond){ .range = S("bytes=9-0") }, &r), 200);
	cr_assert_eq(ev(HTTPD_GET, (struct httpd_cond){ .range = S("bytes=0-9,20-29") }, &r), 206);
	cr_assert_eq(r.n, 2);
	/* If-Range: the strong ETag, or exactly the Last-Modified date */
	cr_assert_eq(ev(HTTPD_GET, (struct httpd_cond){ .range = S("bytes=0-9"),
			.if_range = S("\"abc\"") }, &r), 206);
	cr_assert_eq(ev(HTTPD_GET, (struct httpd_cond){ .range = S("bytes=0-9"),
			.if_range = S("\"x\"") }, &r), 200);
	cr_assert_eq(r.n, 0);
	cr_assert_eq(ev(HTTPD_GET, (struct httpd_cond){ .range = S("bytes=0-9"),
			.if_range = S("W/\"abc\"") }, &r), 200, "a weak tag never matches");
	cr_assert_eq(ev(HTTPD_GET, (struct httpd_cond){ .range = S("bytes=0-9"),
			.if_range = S("Sun, 06 Nov 1994 08:49:37 GMT") }, &r), 206);
	cr_assert_eq(ev(HTTPD_GET, (struct httpd_cond){ .range = S("bytes=0-9"),
			.if_range = S("Sun, 06 Nov 1994 08:49:38 GMT") }, &r), 200, "not earlier: exact");
	cr_assert_eq(ev(HTTPD_GET, (struct httpd_cond){ .range = S("bytes=0-9"),
			.if_range = S("Sun, 06 Nov 1994 08:49:36 GMT") }, &r), 200);
	cr_assert_eq(ev(HTTPD_GET, (struct httpd_cond){ .range = S("bytes=0-9"),
			.if_range = S("garbage") }, &r), 200);
	cr_assert_eq(ev(HTTPD_GET, (struct httpd_cond){ .range = S("bytes=0-9"),
			.if_range = S("\"abc\", \"def\"") }, &r), 200, "one tag, not a list");
	cr_assert_eq(ev(HTTPD_GET, (struct httpd_cond){ .if_range = S("\"abc\"") }, &r), 200);
	cr_assert_eq(ev(HTTPD_GET, (struct httpd_cond){ .range = S("bytes=1000-"),
			.if_range = S("\"x\"") }, &r), 200, "no range applies, so no 416");
}

/* ---- the response */
static char H[2048];

static const char *head(const struct httpd_head *h)
{
	int n = httpd_head_build(h, H, sizeof H - 1);
	cr_assert_gt(n, 0, "status %d: %d", h->status, n);
	H[n] = 0;
	cr_assert_eq(strlen(H), (size_t)n, "no NUL inside");
	return H;
}

static struct httpd_head base(int status)
{
	return (struct httpd_head){ .status = status, .minor = 1, .keep = 1, .date = RFC_DATE + 60,
				    .server = "pollux", .content_type = "text/html; charset=utf-8",
				    .rep = &REP };
}

Test(head, two_hundred_with_every_validator)
{
	struct httpd_head h = base(200);
	cr_assert_str_eq(head(&h),
			 "HTTP/1.1 200 OK\r\n"
			 "Server: pollux\r\n"
			 "Date: Sun, 06 Nov 1994 08:50:37 GMT\r\n"
			 "Content-Type: text/html; charset=utf-8\r\n"
			 "Content-Length: 1000\r\n"
			 "Last-Modified: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
			 "ETag: \"abc\"\r\n"
			 "Accept-Ranges: bytes\r\n"
			 "\r\n");
	cr_assert_eq(httpd_body_length(&h), 1000);
	h.extra = S("Cache-Control: max-age=60\r\nVary: Accept-Encoding\r\n");
	h.keep = 0;
	h.server = NULL;
	cr_assert_str_eq(head(&h),
			 "HTTP/1.1 200 OK\r\n"
			 "Date: Sun, 06 Nov 1994 08:50:37 GMT\r\n"
			 "Content-Type: text/html; charset=utf-8\r\n"
			 "Content-Length: 1000\r\n"
			 "Last-Modified: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
			 "Connection: close\r\n"
			 "ETag: \"abc\"\r\n"
			 "Accept-Ranges: bytes\r\n"
			 "Cache-Control: max-age=60\r\nVary: Accept-Encoding\r\n"
			 "\r\n");
}

Test(head, http_1_0_answered_as_1_0_keep_alive_only_when_asked)
{
	struct httpd_head h = base(200);
	h.minor = 0;
	cr_assert(strstr(head(&h), "HTTP/1.0 200 OK\r\n") == H);
	cr_assert_not_null(strstr(H, "\r\nConnection: keep-alive\r\n"));
	h.keep = 0;
	cr_assert_not_null(strstr(head(&h), "\r\nConnection: close\r\n"));
	cr_assert_null(strstr(H, "keep-alive"));
	h.minor = 1;
	h.keep = 1;
	cr_assert_null(strstr(head(&h), "Connection:"));
}

Test(head, one_range_206_with_content_range)
{
	struct httpd_ranges r = { 1, { { 500, 999 } } };
	struct httpd_head h = base(206);
	h.ranges = &r;
	h.content_type = "image/png";
	cr_assert_str_eq(head(&h),
			 "HTTP/1.1 206 Partial Content\r\n"
			 "Server: pollux\r\n"
			 "Date: Sun, 06 Nov 1994 08:50:37 GMT\r\n"
			 "Content-Type: image/png\r\n"
			 "Content-Length: 500\r\n"
			 "Last-Modified: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
			 "ETag: \"abc\"\r\n"
			 "Content-Range: bytes 500-999/1000\r\n"
			 "Accept-Ranges: bytes\r\n"
			 "\r\n");
	cr_assert_eq(httpd_body_length(&h), 500);
}

/* the multipart body, assembled as the appliance streams it, for a file
 * of bytes 'a'.. : every byte counted by Content-Length */
static size_t multipart(const struct httpd_head *h, const char *file, char *out, size_t cap)
{
	size_t o = 0;
	for (unsigned i = 0; i < h->ranges->n; i++) {
		int n = httpd_part_head(h, i, out + o, cap - o);
		cr_assert_gt(n, 0);
		cr_assert_leq(n, HTTPD_PART_HEAD_MAX);
		o += (size_t)n;
		size_t len = h->ranges->r[i].last - h->ranges->r[i].first + 1;
		memcpy(out + o, file + h->ranges->r[i].first, len);
		o += len;
	}
	int n = httpd_part_trailer(h, out + o, cap - o);
	cr_assert_gt(n, 0);
	o += (size_t)n;
	out[o] = 0;
	return o;
}

Test(head, multipart_byteranges_framed_and_counted_exactly)
{
	static const char file[] = "0123456789abcdefghijklmnopqrstuvwxyz";
	struct httpd_rep rep = { S("\"f\""), 1, RFC_DATE, 36 };
	struct httpd_ranges r = { 2, { { 0, 3 }, { 30, 35 } } };
	char b[HTTPD_BOUNDARY_LEN + 1], body[1024];
	httpd_boundary_make(4059001474081193105ULL, b);
	cr_assert_str_eq(b, "04059001474081193105");
	struct httpd_head h = base(206);
	h.rep = &rep;
	h.ranges = &r;
	h.boundary = b;
	h.content_type = "text/plain";
	size_t n = multipart(&h, file, body, sizeof body);
	cr_assert_str_eq(body,
			 "\r\n--04059001474081193105\r\n"
			 "Content-Type: text/plain\r\n"
			 "Content-Range: bytes 0-3/36\r\n"
			 "\r\n"
			 "0123"
			 "\r\n--04059001474081193105\r\n"
			 "Content-Type: text/plain\r\n"
			 "Content-Range: bytes 30-35/36\r\n"
			 "\r\n"
			 "uvwxyz"
			 "\r\n--04059001474081193105--\r\n");
	cr_assert_eq(httpd_body_length(&h), n);
	char want_head[512];
	snprintf(want_head, sizeof want_head,
		 "HTTP/1.1 206 Partial Content\r\n"
		 "Server: pollux\r\n"
		 "Date: Sun, 06 Nov 1994 08:50:37 GMT\r\n"
		 "Content-Type: multipart/byteranges; boundary=04059001474081193105\r\n"
		 "Content-Length: %zu\r\n"
		 "Last-Modified: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
		 "ETag: \"f\"\r\n"
		 "Accept-Ranges: bytes\r\n"
		 "\r\n", n);
	cr_assert_str_eq(head(&h), want_head);
	/* without a content type the parts have none; 16 ranges of a big
	 * file: the arithmetic still matches what is written */
	static char big[100000];
	memset(big, 'z', sizeof big);
	struct httpd_rep brep = { S("\"b\""), 0, 0, sizeof big };
	struct httpd_ranges br = { 16, { { 0 } } };
	for (unsigned i = 0; i < 16; i++)
		br.r[i] = (struct httpd_range){ i * 6000 + i, i * 6000 + i * i * 7 };
	h.rep = &brep;
	h.ranges = &br;
	h.content_type = NULL;
	static char out[200000];
	n = multipart(&h, big, out, sizeof out);
	cr_assert_eq(httpd_body_length(&h), n);
	cr_assert_null(strstr(out, "Content-Type"));
	cr_assert_null(strstr(head(&h), "Last-Modified"));
}

Test(head, not_modified_has_validators_and_no_length)
{
	struct httpd_head h = base(304);
	h.extra = S("Cache-Control: no-cache\r\n");
	cr_assert_str_eq(head(&h),
			 "HTTP/1.1 304 Not Modified\r\n"
			 "Server: pollux\r\n"
			 "Date: Sun, 06 Nov 1994 08:50:37 GMT\r\n"
			 "Last-Modified: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
			 "ETag: \"abc\"\r\n"
			 "Cache-Control: no-cache\r\n"
			 "\r\n");
	cr_assert_eq(httpd_body_length(&h), 0);
}

Test(head, errors_carry_their_fixed_bodies_and_headers)
{
	struct httpd_head h = base(416);
	h.extra = S("X-Not: here\r\n");
	size_t blen;
	const char *body = httpd_status_body(416, &blen);
	char want_head[512];
	snprintf(want_head, sizeof want_head,
		 "HTTP/1.1 416 Range Not Satisfiable\r\n"
		 "Server: pollux\r\n"
		 "Date: Sun, 06 Nov 1994 08:50:37 GMT\r\n"
		 "Content-Type: text/html\r\n"
		 "Content-Length: %zu\r\n"
		 "Content-Range: bytes */1000\r\n"
		 "\r\n", blen);
	cr_assert_str_eq(head(&h), want_head);
	cr_assert_eq(httpd_body_length(&h), blen);
	cr_assert_eq(strlen(body), blen);
	cr_assert_not_null(strstr(body, "<h1>416 Requested Range Not Satisfiable</h1>"));

	h = base(405);
	h.rep = NULL;
	cr_assert_not_null(strstr(head(&h), "\r\nAllow: GET, HEAD\r\n"));
	cr_assert(strstr(H, "HTTP/1.1 405 Method Not Allowed\r\n") == H);
	cr_assert_null(strstr(H, "ETag"));

	h = base(301);
	h.location = S("/dir/?a=1");
	h.keep = 1;
	cr_assert_not_null(strstr(head(&h), "\r\nLocation: /dir/?a=1\r\n"));
	httpd_status_body(301, &blen);
	cr_assert_eq(httpd_body_length(&h), blen);
	cr_assert_null(strstr(H, "Last-Modified"));

	static const int codes[] = { 301, 400, 404, 405, 412, 414, 416, 431, 500, 503, 505 };
	for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
		char want[64];
		body = httpd_status_body(codes[i], &blen);
		cr_assert_not_null(body);
		snprintf(want, sizeof want, "<title>%d ", codes[i]);
		cr_assert_not_null(strstr(body, want), "%d", codes[i]);
		cr_assert_lt(blen, 256);
		cr_assert_not_null(httpd_status_reason(codes[i]));
	}
	cr_assert_null(httpd_status_body(200, &blen));
	cr_assert_eq(blen, 0);
	cr_assert_null(httpd_status_body(299, &blen));
	cr_assert_null(httpd_status_reason(299));
	cr_assert(httpd_status_closes(400) && httpd_status_closes(414) && httpd_status_closes(431) &&
		  httpd_status_closes(505));
	cr_assert(!httpd_status_closes(404) && !httpd_status_closes(405) && !httpd_status_closes(416));
}

Test(head, bad_heads_and_small_buffers_are_refused)
{
	char b[512];
	struct httpd_head h = base(299);
	cr_assert_eq(httpd_head_build(&h, b, sizeof b), -EINVAL);
	h = base(206);
	cr_assert_eq(httpd_head_build(&h, b, sizeof b), -EINVAL, "206 without ranges");
	struct httpd_ranges r = { 2, { { 0, 1 }, { 3, 4 } } };
	h.ranges = &r;
	cr_assert_eq(httpd_head_build(&h, b, sizeof b), -EINVAL, "multipart without a boundary");
	cr_assert_eq(httpd_part_head(&h, 0, b, sizeof b), -EINVAL);
	cr_assert_eq(httpd_part_trailer(&h, b, sizeof b), -EINVAL);
	h.boundary = "0123";
	cr_assert_eq(httpd_part_head(&h, 2, b, sizeof b), -EINVAL);
	cr_assert_eq(httpd_part_head(&h, 1, b, 10), -ENOSPC);
	cr_assert_eq(httpd_part_trailer(&h, b, 10), -ENOSPC);
	h = base(200);
	h.rep = NULL;
	cr_assert_eq(httpd_head_build(&h, b, sizeof b), -EINVAL);
	h = base(301);
	cr_assert_eq(httpd_head_build(&h, b, sizeof b), -EINVAL, "301 without a Location");
	struct httpd_rep bad = { S("\"a\"\r\nSet-Cookie: x"), 0, 0, 1 };
	h = base(200);
	h.rep = &bad;
	cr_assert_eq(httpd_head_build(&h, b, sizeof b), -EINVAL, "a malformed ETag");
	h = base(200);
	int n = httpd_head_build(&h, b, sizeof b);
	cr_assert_gt(n, 0);
	for (size_t cap = 0; cap < (size_t)n; cap++)
		cr_assert_eq(httpd_head_build(&h, b, cap), -ENOSPC, "cap %zu", cap);
	cr_assert_eq(httpd_head_build(&h, b, (size_t)n), n);
}
