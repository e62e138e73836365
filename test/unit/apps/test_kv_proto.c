/*
 * test_kv_proto.c — the kv appliance's request parser (src/apps/kv_proto.c)
 * alone: memcached's text, meta and binary requests into struct kv_op.
 *
 * What it pins down: the same ops come out however the bytes are cut
 * (every cut of each request, and one byte at a time); pipelined
 * requests come out in order; every command's fields, and every error
 * memcached gives at parse time, with its noreply rules; the bounds (a
 * line over KV_LINE_MAX closes, except a get/gets whose keys stream out;
 * a binary key over 250 bytes closes); values land in the destination
 * the appliance gives, or are swallowed.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include "apps/kv_proto.h"
#include "kv_feed.h"

static struct feed F, G;

static const char *parse(const char *s)
{
	feed_init(&F);
	feed_whole(&F, s, strlen(s));
	return F.trace;
}

static const char *parse_n(const void *s, size_t n)
{
	feed_init(&F);
	feed_whole(&F, s, n);
	return F.trace;
}

/* the trace of `in` whole must equal that of every two-piece cut and of
 * byte-at-a-time feeding */
static void same_every_cut(const void *in, size_t n)
{
	struct kv_parser *p = malloc(sizeof(*p));
	size_t *cuts = malloc(sizeof(size_t) * (n + 1));

	feed_init(&F);
	feed_whole(&F, in, n);
	for (size_t k = 0; k <= n; k += n > 3000 ? 37 : 1) {
		feed_init(&G);
		kv_parser_init(p);
		feed_run(&G, p, in, n, &k, 1);
		cr_assert_str_eq(G.trace, F.trace, "cut at %zu of %zu", k, n);
	}
	for (size_t k = 0; k < n; k++)
		cuts[k] = k + 1;
	feed_init(&G);
	kv_parser_init(p);
	feed_run(&G, p, in, n, cuts, n);
	cr_assert_str_eq(G.trace, F.trace, "byte at a time");
	free(cuts);
	free(p);
}

static int count(const char *hay, const char *needle)
{
	int c = 0;
	for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
		c++;
	return c;
}

#define HAS(t, s) cr_assert(strstr((t), (s)), "missing <%s> in:\n%s", (s), (t))
#define HASNT(t, s) cr_assert(!strstr((t), (s)), "unexpected <%s> in:\n%s", (s), (t))

Test(kv_proto, set_value_and_cuts)
{
	const char *in = "set foo 5 100 3\r\nbar\r\n";
	const char *t = parse(in);

	HAS(t, "value cmd=set proto=0 key=foo fl=0 cf=5 e=100");
	HAS(t, "v=3 bad=0");
	HAS(t, "  data=bar\n");
	cr_assert_eq(F.ops, 1);
	same_every_cut(in, strlen(in));
}

Test(kv_proto, pipeline_every_command)
{
	const char *in =
		"set a 1 2 3\r\nabc\r\n"
		"add b 0 0 1 noreply\r\nx\r\n"
		"replace c 0 0 0\r\n\r\n"
		"append d 0 0 2\r\nzz\r\n"
		"prepend e 0 0 2\r\nyy\r\n"
		"cas f 7 0 1 99\r\nq\r\n"
		"cas f 7 0 1 99 noreply\r\nq\r\n"
		"get a\r\n"
		"gets a b c\r\n"
		"gat 30 a\r\n"
		"gats -1 a b\r\n"
		"delete a\r\n"
		"delete a noreply\r\n"
		"delete a 0\r\n"
		"delete a 0 noreply\r\n"
		"incr n 5\r\n"
		"decr n 18446744073709551615 noreply\r\n"
		"touch a 10\r\n"
		"flush_all\r\n"
		"flush_all 10\r\n"
		"flush_all noreply\r\n"
		"flush_all 0 noreply\r\n"
		"version\r\n"
		"verbosity 1\r\n"
		"verbosity 1 noreply\r\n"
		"stats\r\n"
		"stats settings\r\n"
		"stats items\r\n"
		"stats slabs\r\n"
		"stats sizes\r\n"
		"stats conns\r\n"
		"mn\r\n"
		"quit\r\n"
		"get after_quit\r\n";
	const char *t = parse(in);

	HAS(t, "op cmd=set proto=0 key=a fl=0 cf=1 e=2 cas=0 d=0 i=0 viv=-1 v=3 bad=0");
	HAS(t, "data=abc");
	HAS(t, "op cmd=add proto=0 key=b fl=1 ");
	HAS(t, "op cmd=replace proto=0 key=c fl=0 cf=0 e=0 cas=0 d=0 i=0 viv=-1 v=0 bad=0");
	HAS(t, "op cmd=append proto=0 key=d");
	HAS(t, "op cmd=prepend proto=0 key=e");
	HAS(t, "op cmd=cas proto=0 key=f fl=0 cf=7 e=0 cas=99");
	HAS(t, "op cmd=cas proto=0 key=f fl=1 cf=7 e=0 cas=99");
	HAS(t, "op cmd=get proto=0 key=a fl=6 ");             /* get a: first|last */
	HAS(t, "op cmd=gets proto=0 key=a fl=2 ");             /* gets a b c */
	HAS(t, "op cmd=gets proto=0 key=b fl=0 ");
	HAS(t, "op cmd=gets proto=0 key=c fl=4 ");
	HAS(t, "op cmd=gat proto=0 key=a fl=6 cf=0 e=30");
	HAS(t, "op cmd=gats proto=0 key=a fl=2 cf=0 e=-1");
	HAS(t, "op cmd=gats proto=0 key=b fl=4 cf=0 e=-1");
	cr_assert_eq(count(t, "op cmd=delete proto=0 key=a fl=0 "), 2);
	cr_assert_eq(count(t, "op cmd=delete proto=0 key=a fl=1 "), 2);
	HAS(t, "op cmd=incr proto=0 key=n fl=0 cf=0 e=0 cas=0 d=5");
	HAS(t, "op cmd=decr proto=0 key=n fl=1 cf=0 e=0 cas=0 d=18446744073709551615");
	HAS(t, "op cmd=touch proto=0 key=a fl=0 cf=0 e=10");
	HAS(t, "op cmd=flush_all proto=0 key= fl=0 cf=0 e=0 ");
	HAS(t, "op cmd=flush_all proto=0 key= fl=0 cf=0 e=10 ");
	cr_assert_eq(count(t, "op cmd=flush_all proto=0 key= fl=1 cf=0 e=0 "), 2);
	HAS(t, "op cmd=version ");
	HAS(t, "op cmd=verbosity proto=0 key= fl=0 ");
	HAS(t, "op cmd=verbosity proto=0 key= fl=1 ");
	for (int g = 0; g <= 5; g++) {
		char s[32];
		snprintf(s, sizeof(s), "bad=0 st=%d\n", g);
		HAS(t, s);
	}
	HAS(t, "op cmd=mn proto=1");                        /* mn */
	HAS(t, "op cmd=quit proto=0 key= fl=10");             /* quit closes */
	HASNT(t, "after_quit");
	cr_assert(F.closed);
	same_every_cut(in, strlen(in));
}

Test(kv_proto, text_errors)
{
	static const struct { const char *in, *want; } cases[] = {
		{ "\r\n", "err=ERROR\n" },
		{ "x\r\n", "err=ERROR\n" },
		{ "bogus command\r\n", "err=ERROR\n" },
		{ "get\r\n", "err=ERROR\n" },
		{ "gets\r\n", "err=ERROR\n" },
		{ "gxx a\r\n", "err=ERROR\n" },
		{ "set a 0 0\r\n", "err=ERROR\n" },
		{ "set a 0 0 1 noreply extra\r\n", "err=ERROR\n" },
		{ "cas a 0 0 1\r\n", "err=ERROR\n" },
		{ "incr a\r\n", "err=ERROR\n" },
		{ "touch a\r\n", "err=ERROR\n" },
		{ "delete\r\n", "err=ERROR\n" },
		{ "delete a 0 noreply x\r\n", "err=ERROR\n" },
		{ "verbosity\r\n", "err=ERROR\n" },
		{ "flush_all 1 noreply x\r\n", "err=ERROR\n" },
		{ "slabs reassign 1 2\r\n", "err=ERROR\n" },
		{ "mx a\r\n", "err=ERROR\n" },
		{ "mg\r\n", "err=ERROR\n" },
		{ "stats reset\r\n", "err=ERROR\n" },
		{ "stats noreply\r\n", "err=ERROR\n" },
		{ "shutdown\r\n", "err=ERROR: shutdown not enabled\n" },
		{ "set a x 0 1\r\n", "fl=0 cf=0 e=0 cas=0 d=0 i=0 viv=-1 v=0 bad=0 st=0 "
		  "err=CLIENT_ERROR bad command line format\n" },
		{ "set a x 0 1 noreply\r\n", "fl=1 cf=0 e=0 cas=0 d=0 i=0 viv=-1 v=0 bad=0 st=0 "
		  "err=CLIENT_ERROR bad command line format\n" },
		{ "set a -1 0 1\r\n", "err=CLIENT_ERROR bad command line format\n" },
		{ "set a 0 0 -1\r\n", "err=CLIENT_ERROR bad command line format\n" },
		{ "set a 0 0 2147483646\r\n", "err=CLIENT_ERROR bad command line format\n" },
		{ "set a 0 1x 1\r\n", "err=CLIENT_ERROR bad command line format\n" },
		{ "cas a 0 0 1 -5\r\n", "err=CLIENT_ERROR bad command line format\n" },
		{ "incr a x\r\n", "err=CLIENT_ERROR invalid numeric delta argument\n" },
		{ "incr a -1\r\n", "err=CLIENT_ERROR invalid numeric delta argument\n" },
		{ "decr a 18446744073709551616\r\n",
		  "err=CLIENT_ERROR invalid numeric delta argument\n" },
		{ "touch a x\r\n", "err=CLIENT_ERROR invalid exptime argument\n" },
		{ "gat x a\r\n", "err=CLIENT_ERROR invalid exptime argument\n" },
		{ "flush_all x\r\n", "err=CLIENT_ERROR invalid exptime argument\n" },
		{ "verbosity x\r\n", "err=CLIENT_ERROR bad command line format\n" },
		{ "delete a 1\r\n", "err=CLIENT_ERROR bad command line format.  "
		  "Usage: delete <key> [noreply]\n" },
		{ "delete a 1 noreply\r\n", "fl=1 " },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *t = parse(cases[i].in);
		cr_assert(strstr(t, cases[i].want), "%s: want <%s> in\n%s", cases[i].in,
			  cases[i].want, t);
		cr_assert_eq(F.ops, 1, "%s: %u ops", cases[i].in, F.ops);
		cr_assert(!F.closed, "%s", cases[i].in);
	}
}

Test(kv_proto, numbers_as_memcached)
{
	/* strtoul/strtol: leading white space, a sign, 32-bit truncation,
	 * white space and anything after it ignored */
	HAS(parse("set a 4294967301 0 1\r\nx\r\n"), "op cmd=set proto=0 key=a fl=0 cf=5 ");
	HAS(parse("set a \t7 -5 1\r\nx\r\n"), "cf=7 e=-5 ");
	HAS(parse("set a 7\tjunk 0 1\r\nx\r\n"), "cf=7 e=0 ");
	HAS(parse("set a +7 0 1\r\nx\r\n"), "cf=7 e=0 ");
	HAS(parse("set a -0 0 1\r\nx\r\n"), "cf=0 e=0 ");
	HAS(parse("touch a 4294967295\r\n"), "e=-1 ");
	HAS(parse("touch a -9223372036854775808\r\n"), "e=0 ");
	HAS(parse("touch a -9223372036854775809\r\n"), "invalid exptime");
	HAS(parse("incr a 18446744073709551615\r\n"), "d=18446744073709551615 ");
	HAS(parse("incr a -18446744073709551615\r\n"), "d=1 ");
	/* a value length that truncates to 1 reads one byte */
	HAS(parse("set a 0 0 4294967297\r\nx\r\n"), "v=1 bad=0");
}

Test(kv_proto, keys)
{
	char line[600];
	char key[260];

	memset(key, 'k', 250);
	key[250] = 0;
	snprintf(line, sizeof(line), "get %s\r\n", key);
	HAS(parse(line), "op cmd=get ");
	HASNT(F.trace, "err=");
	snprintf(line, sizeof(line), "get a %sk b\r\n", key);
	HAS(parse(line), "err=CLIENT_ERROR bad command line format");
	cr_assert_eq(F.ops, 1);         /* only the error, as memcached */
	/* a set with a long key: the error, then its data is a command */
	snprintf(line, sizeof(line), "set %sk 0 0 1\r\nx\r\n", key);
	HAS(parse(line), "err=CLIENT_ERROR bad command line format");
	HAS(F.trace, "err=ERROR");
	cr_assert_eq(F.ops, 2);
	/* control bytes and a tab are part of a key (memcached checks
	 * neither); a NUL ends the line */
	HAS(parse_n("get a\tb\x01\r\n", 10), "key=a\\x09b\\x01 ");
	HAS(parse_n("get ab\0cd ef\r\n", 14), "key=ab fl=6");
	/* extra spaces between tokens are nothing */
	HAS(parse("get    a     b   \r\n"), "key=a fl=2");
	HAS(F.trace, "key=b fl=4");
	/* "\n" alone ends a line too */
	HAS(parse("get a\nget b\n"), "key=b fl=6");
	/* gat without keys: just END */
	HAS(parse("gat 10\r\n"), "op cmd=gat proto=0 key= fl=6 cf=0 e=10");
}

Test(kv_proto, data_block_lies)
{
	/* 5 bytes read for a 3-byte value: "de" is not "\r\n"; what is
	 * left is the next command (memcached answers ERROR to it) */
	const char *in = "set a 0 0 3\r\nabcde\r\nget a\r\n";
	const char *t = parse(in);

	HAS(t, "op cmd=set proto=0 key=a fl=0 cf=0 e=0 cas=0 d=0 i=0 viv=-1 v=3 bad=1");
	HAS(t, "err=ERROR");
	HAS(t, "op cmd=get proto=0 key=a fl=6");
	same_every_cut(in, strlen(in));
	/* short: the next line is taken as data */
	t = parse("set a 0 0 10\r\nabc\r\nget a\r\nxx\r\n");
	HAS(t, "v=10 bad=0 st=0\n  data=abc\\x0d\\x0aget a\n");
	HAS(t, "err=ERROR");
	cr_assert_eq(F.ops, 2);
}

Test(kv_proto, swallow_without_destination)
{
	const char *in = "set a 0 0 5\r\nhello\r\nget a\r\n";

	feed_init(&F);
	F.swallow = 1;
	feed_whole(&F, in, strlen(in));
	HAS(F.trace, "op cmd=set proto=0 key=a fl=0 cf=0 e=0 cas=0 d=0 i=0 viv=-1 v=5 bad=0");
	HASNT(F.trace, "data=");
	HAS(F.trace, "op cmd=get ");
}

Test(kv_proto, long_lines)
{
	static char in[8192];
	size_t n;

	/* 2048 bytes before "\r\n" is fine; 2049 closes */
	n = (size_t)snprintf(in, sizeof(in), "get ");
	memset(in + n, 'x', 2048 - n);
	memcpy(in + 2048, "\r\n", 3);
	HAS(parse(in), "err=CLIENT_ERROR bad command line format");    /* a 2044-byte key */
	cr_assert(!F.closed);
	n = (size_t)snprintf(in, sizeof(in), "set ");
	memset(in + n, 'x', 2049 - n);
	memcpy(in + 2049, "\r\nversion\r\n", 12);
	parse(in);
	cr_assert(F.closed);
	cr_assert_eq(F.ops, 1);
	HASNT(F.trace, "cmd=version");
	same_every_cut(in, strlen(in));
	/* no newline at all: closed once past the bound */
	memset(in, 'y', 4000);
	parse_n(in, 4000);
	cr_assert(F.closed);
}

Test(kv_proto, long_multiget_streams)
{
	static char in[16384];
	size_t n = 0;
	const int keys = 700;

	n += (size_t)snprintf(in + n, sizeof(in) - n, "gets");
	for (int i = 0; i < keys; i++)
		n += (size_t)snprintf(in + n, sizeof(in) - n, " key%08d", i);
	n += (size_t)snprintf(in + n, sizeof(in) - n, "\r\nget z\r\n");
	cr_assert_gt(n, 4 * KV_LINE_MAX);
	parse_n(in, n);
	cr_assert(!F.closed);
	cr_assert_eq(F.ops, keys + 1);
	HAS(F.trace, "op cmd=gets proto=0 key=key00000000 fl=2 ");
	HAS(F.trace, "op cmd=gets proto=0 key=key00000001 fl=0 ");
	HAS(F.trace, "op cmd=gets proto=0 key=key00000699 fl=4 ");
	HAS(F.trace, "op cmd=get proto=0 key=z fl=6 ");
	/* in order */
	{
		const char *prev = F.trace;
		for (int i = 0; i < keys; i++) {
			char k[32];
			snprintf(k, sizeof(k), "key=key%08d ", i);
			const char *at = strstr(prev, k);
			cr_assert(at, "key %d", i);
			prev = at;
		}
	}
	same_every_cut(in, n);
}

Test(kv_proto, long_multiget_bad_key)
{
	static char in[8192];
	size_t n = 0;

	n += (size_t)snprintf(in + n, sizeof(in) - n, "get");
	for (int i = 0; i < 300; i++)
		n += (size_t)snprintf(in + n, sizeof(in) - n, " k%05d", i);
	in[n++] = ' ';
	memset(in + n, 'L', 300);
	n += 300;
	n += (size_t)snprintf(in + n, sizeof(in) - n, " more keys\r\nversion\r\n");
	parse_n(in, n);
	HAS(F.trace, "err=CLIENT_ERROR bad command line format");
	HAS(F.trace, "op cmd=version ");     /* the next line is read */
	HASNT(F.trace, "key=more");
	same_every_cut(in, n);
}

Test(kv_proto, http_closes)
{
	parse("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
	cr_assert(F.closed);
	cr_assert_eq(F.ops, 1);
}

/* --- meta ---------------------------------------------------------- */

Test(kv_proto, meta_commands)
{
	const char *in =
		"mg foo v f t c k s Oab12 q T30 N60 R10 h l u E77\r\n"
		"ms foo 3 T10 F5 c k I C9 MA\r\nbar\r\n"
		"ms Zm9v 2 b\r\nhi\r\n"
		"md foo q C4 I T5 O1\r\n"
		"ma foo N0 J10 D5 MD v t c\r\n"
		"ma foo M+\r\n"
		"mn\r\n"
		"me foo\r\n"
		"me Zm9v b\r\n";
	const char *t = parse(in);

	HAS(t, "op cmd=mg proto=1 key=foo fl=1 cf=0 e=30 cas=0 d=0 i=0 viv=60 v=0 bad=0 st=0 "
	       "mf=vftcksOqTNRhluE O=ab12");
	HAS(t, "value cmd=ms proto=1 key=foo fl=0 cf=5 e=10 cas=9 d=0 i=0 viv=-1 v=3 bad=0 "
	       "st=0 mf=TFckICM M=A");
	HAS(t, "data=bar");
	HAS(t, "op cmd=ms proto=1 key=foo fl=20 cf=0 e=0 cas=0 d=0 i=0 viv=-1 v=2");  /* b */
	HAS(t, "data=hi");
	HAS(t, "op cmd=md proto=1 key=foo fl=1 cf=0 e=5 cas=4 d=0 i=0 viv=-1 v=0 bad=0 st=0 "
	       "mf=qCITO O=1");
	HAS(t, "op cmd=ma proto=1 key=foo fl=0 cf=0 e=0 cas=0 d=5 i=10 viv=0 v=0 bad=0 st=0 "
	       "mf=NJDMvtc M=D");
	HAS(t, "op cmd=ma proto=1 key=foo fl=0 cf=0 e=0 cas=0 d=1 i=0 viv=-1 v=0 bad=0 st=0 "
	       "mf=M M=I");
	HAS(t, "op cmd=mn proto=1");
	HAS(t, "op cmd=me proto=1 key=foo fl=0 ");
	HAS(t, "op cmd=me proto=1 key=foo fl=20 ");
	same_every_cut(in, strlen(in));
}

Test(kv_proto, meta_errors)
{
	static const struct { const char *in, *want; int ops; } cases[] = {
		{ "mg foo v v\r\n", "err=CLIENT_ERROR duplicate flag\n", 1 },
		{ "mg foo Z\r\n", "err=CLIENT_ERROR invalid flag\n", 1 },
		{ "mg foo Tx\r\n", "err=CLIENT_ERROR bad token in command line format\n", 1 },
		{ "mg foo q Tx\r\n", "fl=0 ", 1 },      /* q does not hide an error */
		{ "mg foo Oaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n",
		  "err=CLIENT_ERROR opaque token too long\n", 1 },
		{ "mg !!!! b\r\n", "err=CLIENT_ERROR error decoding key\n", 1 },
		{ "mg a 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8\r\n",
		  "err=CLIENT_ERROR options flags are too long\n", 1 },
		{ "md foo Z\r\n", "err=CLIENT_ERROR invalid or duplicate flag\n", 1 },
		{ "ma foo q q\r\n", "err=CLIENT_ERROR invalid or duplicate flag\n", 1 },
		{ "ma foo MX\r\n", "err=CLIENT_ERROR invalid mode for ma M token\n", 1 },
		{ "ma foo Dx\r\n", "err=CLIENT_ERROR invalid or duplicate flag\n", 1 },
		{ "ms foo\r\n", "err=CLIENT_ERROR bad command line format\n", 1 },
		{ "ms foo x\r\n", "err=CLIENT_ERROR bad command line format\n", 1 },
		{ "ms foo -1\r\n", "err=CLIENT_ERROR bad command line format\n", 1 },
		/* a bad flag on ms: its data block is swallowed, what follows read */
		{ "ms foo 3 Z\r\nbar\r\nmn\r\n", "err=CLIENT_ERROR invalid flag\n", 2 },
		{ "ms foo 3 MX\r\nbar\r\nmn\r\n", "err=CLIENT_ERROR invalid mode for ms M token\n", 2 },
		{ "ms foo 3 MAA\r\nbar\r\nmn\r\n", "err=CLIENT_ERROR incorrect length for M token\n", 2 },
		{ "me\r\n", "err=CLIENT_ERROR bad command line format\n", 1 },
		{ "me !!! b\r\n", "err=CLIENT_ERROR bad command line format\n", 1 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *t = parse(cases[i].in);
		cr_assert(strstr(t, cases[i].want), "%s: want <%s> in\n%s", cases[i].in,
			  cases[i].want, t);
		cr_assert_eq(F.ops, (unsigned)cases[i].ops, "%s: %u ops\n%s", cases[i].in, F.ops, t);
		same_every_cut(cases[i].in, strlen(cases[i].in));
	}
	HAS(parse("ms foo 3 Z\r\nbar\r\nmn\r\n"), "op cmd=mn ");
}

Test(kv_proto, meta_bad_chunk_always_answers)
{
	const char *t = parse("ms foo 3 q\r\nbarxx\r\n");
	HAS(t, "op cmd=ms proto=1 key=foo fl=0 ");
	HAS(t, "bad=1");
}

/* --- binary --------------------------------------------------------- */

Test(kv_proto, binary_commands)
{
	static uint8_t in[4096];
	size_t n = 0;
	const uint8_t setx[8] = { 0, 0, 0, 7, 0, 0, 0, 100 };
	const uint8_t incx[20] = { 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 9,
				   0xff, 0xff, 0xff, 0xff };
	const uint8_t gatx[4] = { 0, 0, 0, 60 };
	const uint8_t flx[4] = { 0, 0, 0, 5 };

	n += bin_req(in + n, 0x01, setx, 8, "foo", "bar", 3, 1, 0);
	n += bin_req(in + n, 0x11, setx, 8, "foo", "baz", 3, 2, 42);        /* setq, cas */
	n += bin_req(in + n, 0x00, NULL, 0, "foo", NULL, 0, 3, 0);
	n += bin_req(in + n, 0x0d, NULL, 0, "foo", NULL, 0, 4, 0);          /* getkq */
	n += bin_req(in + n, 0x05, incx, 20, "n", NULL, 0, 5, 0);
	n += bin_req(in + n, 0x0e, NULL, 0, "foo", "++", 2, 6, 0);          /* append */
	n += bin_req(in + n, 0x1d, gatx, 4, "foo", NULL, 0, 7, 0);          /* gat */
	n += bin_req(in + n, 0x1c, gatx, 4, "foo", NULL, 0, 8, 0);          /* touch */
	n += bin_req(in + n, 0x14, NULL, 0, "foo", NULL, 0, 9, 0);          /* deleteq */
	n += bin_req(in + n, 0x08, flx, 4, NULL, NULL, 0, 10, 0);           /* flush 5 */
	n += bin_req(in + n, 0x10, NULL, 0, "items", NULL, 0, 11, 0);       /* stat items */
	n += bin_req(in + n, 0x10, NULL, 0, NULL, NULL, 0, 12, 0);
	n += bin_req(in + n, 0x0b, NULL, 0, NULL, NULL, 0, 13, 0);          /* version */
	n += bin_req(in + n, 0x0a, NULL, 0, NULL, NULL, 0, 14, 0);          /* noop */
	n += bin_req(in + n, 0x10, NULL, 0, "nope", NULL, 0, 15, 0);        /* ENOENT */
	n += bin_req(in + n, 0x55, NULL, 0, NULL, NULL, 0, 16, 0);          /* unknown */
	n += bin_req(in + n, 0x17, NULL, 0, NULL, NULL, 0, 17, 0);          /* quitq */
	n += bin_req(in + n, 0x0a, NULL, 0, NULL, NULL, 0, 18, 0);          /* ignored */

	const char *t = parse_n(in, n);
	HAS(t, "op cmd=set proto=2 key=foo fl=0 cf=7 e=100 cas=0 d=0 i=0 viv=-1 v=3 bad=0 st=0 "
	       "bin=01/0/1\n  data=bar");
	HAS(t, "op cmd=set proto=2 key=foo fl=1 cf=7 e=100 cas=42 ");
	HAS(t, "op cmd=get proto=2 key=foo fl=0 cf=0 e=0 cas=0 d=0 i=0 viv=-1 v=0 bad=0 st=0 "
	       "bin=00/0/3");
	HAS(t, "op cmd=get proto=2 key=foo fl=9 ");
	HAS(t, "op cmd=incr proto=2 key=n fl=0 cf=0 e=4294967295 cas=0 d=3 i=9 viv=-1 ");
	HAS(t, "op cmd=append proto=2 key=foo fl=0 cf=0 e=0 cas=0 d=0 i=0 viv=-1 v=2 ");
	HAS(t, "data=++");
	HAS(t, "op cmd=gat proto=2 key=foo fl=0 cf=0 e=60 ");
	HAS(t, "op cmd=touch proto=2 key=foo fl=0 cf=0 e=60 ");
	HAS(t, "op cmd=delete proto=2 key=foo fl=1 ");
	HAS(t, "op cmd=flush_all proto=2 key= fl=0 cf=0 e=5 ");
	HAS(t, "op cmd=stats proto=2 key= fl=0 cf=0 e=0 cas=0 d=0 i=0 viv=-1 v=0 bad=0 st=2 ");
	HAS(t, "bad=0 st=0 bin=10/0/c");
	HAS(t, "op cmd=version proto=2 ");
	HAS(t, "op cmd=noop proto=2 key= fl=0 cf=0 e=0 cas=0 d=0 i=0 viv=-1 v=0 bad=0 st=0 bin=0a/0/e");
	HAS(t, "op cmd=error proto=2 key= fl=0 cf=0 e=0 cas=0 d=0 i=0 viv=-1 v=0 bad=0 st=0 bin=10/1/f");
	HAS(t, "op cmd=error proto=2 key= fl=0 cf=0 e=0 cas=0 d=0 i=0 viv=-1 v=0 bad=0 st=0 bin=55/81/10");
	HAS(t, "bin=17/0/11");
	HASNT(t, "bin=0a/0/12");
	cr_assert(F.closed);
	same_every_cut(in, n);
}

Test(kv_proto, binary_errors)
{
	uint8_t in[1024];
	size_t n;
	const uint8_t ext[4] = { 0 };
	const uint8_t setx[8] = { 0 };

	/* bad magic: closed, no answer */
	memset(in, 0, 24);
	in[0] = 0x80;
	n = bin_req(in, 0x0a, NULL, 0, NULL, NULL, 0, 1, 0);
	in[n] = 0x81;
	memset(in + n + 1, 0, 23);
	parse_n(in, n + 24);
	cr_assert(F.closed);
	cr_assert_eq(F.ops, 2);
	HAS(F.trace, "bin=00/0/0");
	/* a get with extras: EINVAL and closed */
	n = bin_req(in, 0x00, ext, 4, "k", NULL, 0, 1, 0);
	parse_n(in, n);
	HAS(F.trace, "cmd=error proto=2 key= fl=10 ");
	HAS(F.trace, "bin=00/4/1");
	/* a key over 250 bytes: EINVAL, closed at once */
	memset(in, 0, 24);
	in[0] = 0x80;
	in[2] = 0x01;                   /* keylen 256 */
	in[10] = 0x01;                  /* bodylen 256 */
	parse_n(in, 24);
	HAS(F.trace, "bin=00/4/0");
	cr_assert(F.closed);
	/* keylen past the body: unknown command, closed */
	memset(in, 0, 24);
	in[0] = 0x80;
	in[3] = 10;
	in[11] = 5;
	parse_n(in, 24);
	HAS(F.trace, "bin=00/81/0");
	cr_assert(F.closed);
	/* an unknown opcode swallows its body; the next request is read */
	n = bin_req(in, 0x60, NULL, 0, NULL, "zzzz", 4, 1, 0);
	n += bin_req(in + n, 0x0a, NULL, 0, NULL, NULL, 0, 2, 0);
	parse_n(in, n);
	HAS(F.trace, "bin=60/81/1");
	HAS(F.trace, "bin=0a/0/2");
	cr_assert(!F.closed);
	/* a set's value of 0 bytes, and set without a key is EINVAL */
	n = bin_req(in, 0x01, setx, 8, "k", NULL, 0, 1, 0);
	n += bin_req(in + n, 0x01, setx, 8, NULL, NULL, 0, 2, 0);
	parse_n(in, n);
	HAS(F.trace, "op cmd=set proto=2 key=k ");
	HAS(F.trace, "bin=01/4/2");
	same_every_cut(in, n);
	/* SASL is not there: unknown command */
	n = bin_req(in, 0x20, NULL, 0, NULL, NULL, 0, 1, 0);
	parse_n(in, n);
	HAS(F.trace, "bin=20/81/1");
}

/* the appliance's loop: the bytes of a multi-get line are all consumed
 * with its first key; the rest come from calls with nothing left */
Test(kv_proto, keys_after_the_bytes)
{
	struct kv_parser p;
	struct kv_op op;
	enum kv_parse_ev ev;
	const char *in = "get a b c\r\n";
	size_t used;

	kv_parser_init(&p);
	used = kv_parse(&p, (const uint8_t *)in, strlen(in), &op, &ev);
	cr_assert_eq(used, strlen(in));
	cr_assert(ev == KV_PARSE_OP && op.key[0] == 'a' && (op.flags & KV_OPF_FIRST));
	cr_assert_eq(kv_parse(&p, NULL, 0, &op, &ev), 0);
	cr_assert(ev == KV_PARSE_OP && op.key[0] == 'b' && op.flags == 0);
	cr_assert_eq(kv_parse(&p, NULL, 0, &op, &ev), 0);
	cr_assert(ev == KV_PARSE_OP && op.key[0] == 'c' && (op.flags & KV_OPF_LAST));
	cr_assert_eq(kv_parse(&p, NULL, 0, &op, &ev), 0);
	cr_assert_eq(ev, KV_PARSE_MORE);
	/* a binary set of an empty value completes with nothing more sent */
	static const uint8_t set0[] = { 0x80, 0x01, 0, 1, 8, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 0,
					0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 'k' };
	kv_parser_init(&p);
	used = kv_parse(&p, set0, sizeof(set0), &op, &ev);
	cr_assert(used == sizeof(set0) && ev == KV_PARSE_VALUE && op.vlen == 0);
	kv_parse_value_dst(&p, NULL);
	cr_assert_eq(kv_parse(&p, NULL, 0, &op, &ev), 0);
	cr_assert(ev == KV_PARSE_OP && op.cmd == KV_CMD_SET && op.klen == 1);
	cr_assert_eq(kv_parse(&p, NULL, 0, &op, &ev), 0);
	cr_assert_eq(ev, KV_PARSE_MORE);
}

Test(kv_proto, routes)
{
	struct kv_op op;

	memset(&op, 0, sizeof(op));
	op.cmd = KV_CMD_GET;
	op.klen = 1;
	cr_assert_eq(kv_op_route(&op), KV_ROUTE_KEY);
	op.klen = 0;
	cr_assert_eq(kv_op_route(&op), KV_ROUTE_LOCAL);
	op.cmd = KV_CMD_FLUSH_ALL;
	cr_assert_eq(kv_op_route(&op), KV_ROUTE_ALL);
	op.cmd = KV_CMD_STATS;
	cr_assert_eq(kv_op_route(&op), KV_ROUTE_LOCAL);
	op.cmd = KV_CMD_MS;
	cr_assert_eq(kv_op_route(&op), KV_ROUTE_KEY);
}
