/*
 * test_cmdline.c — parsing the kernel command line (src/core/cmdline.c).
 */
#include <errno.h>
#include <criterion/criterion.h>
#include "core/cmdline.h"
#include "stubs.h"

static struct cmdline c;

Test(cmdline, bare_keys_and_values)
{
	cr_assert_eq(cmdline_parse(&c, "quiet config=/x.json smp=4 debug"), 0);
	cr_assert_eq(c.n, 4);
	cr_assert_str_eq(c.key[0], "quiet");
	cr_assert_str_eq(c.val[0], "");
	cr_assert_str_eq(c.key[1], "config");
	cr_assert_str_eq(c.val[1], "/x.json");
	cr_assert_str_eq(c.key[2], "smp");
	cr_assert_str_eq(c.val[2], "4");
	cr_assert_str_eq(c.key[3], "debug");
	cr_assert_str_eq(c.val[3], "");

	cr_assert_str_eq(cmdline_lookup(&c, "quiet"), "");
	cr_assert_str_eq(cmdline_lookup(&c, "smp"), "4");
	cr_assert_null(cmdline_lookup(&c, "sm"), "a prefix is not a key");
	cr_assert_null(cmdline_lookup(&c, "smp=4"));
	cr_assert_null(cmdline_lookup(&c, "absent"));
	cr_assert_null(cmdline_lookup(&c, ""));
}

Test(cmdline, empty_value)
{
	cr_assert_eq(cmdline_parse(&c, "a= b"), 0);
	cr_assert_eq(c.n, 2);
	cr_assert_str_eq(cmdline_lookup(&c, "a"), "");
	cr_assert_str_eq(cmdline_lookup(&c, "b"), "");
}

Test(cmdline, repeated_key_last_wins)
{
	cr_assert_eq(cmdline_parse(&c, "log=1 x log=2 y log=3"), 0);
	cr_assert_eq(c.n, 5);
	cr_assert_str_eq(cmdline_lookup(&c, "log"), "3");
	cr_assert_eq(cmdline_parse(&c, "v=1 v"), 0);
	cr_assert_str_eq(cmdline_lookup(&c, "v"), "", "a later bare key wins too");
}

Test(cmdline, whitespace)
{
	cr_assert_eq(cmdline_parse(&c, "  \t a=1 \n\n b\t\tc=3   \n"), 0);
	cr_assert_eq(c.n, 3);
	cr_assert_str_eq(c.key[0], "a");
	cr_assert_str_eq(c.val[0], "1");
	cr_assert_str_eq(c.key[1], "b");
	cr_assert_str_eq(c.val[1], "");
	cr_assert_str_eq(c.key[2], "c");
	cr_assert_str_eq(c.val[2], "3");
}

Test(cmdline, empty_lines)
{
	cr_assert_eq(cmdline_parse(&c, ""), 0);
	cr_assert_eq(c.n, 0);
	cr_assert_eq(cmdline_parse(&c, " \t\n  "), 0);
	cr_assert_eq(c.n, 0);
	cr_assert_null(cmdline_lookup(&c, ""));
	cr_assert_eq(cmdline_parse(&c, NULL), 0);
	cr_assert_eq(c.n, 0);
}

Test(cmdline, value_containing_equals)
{
	cr_assert_eq(cmdline_parse(&c, "a=b=c root==x"), 0);
	cr_assert_eq(c.n, 2);
	cr_assert_str_eq(c.key[0], "a");
	cr_assert_str_eq(c.val[0], "b=c");
	cr_assert_str_eq(cmdline_lookup(&c, "root"), "=x");
}

Test(cmdline, empty_key_is_einval)
{
	cr_assert_eq(cmdline_parse(&c, "=x"), -EINVAL);
	cr_assert_eq(c.n, 0);
	cr_assert_eq(cmdline_parse(&c, "a=1 ="), -EINVAL);
	cr_assert_eq(c.n, 0, "nothing is kept");
	cr_assert_null(cmdline_lookup(&c, "a"));
	cr_assert_eq(cmdline_parse(&c, "a ==b"), -EINVAL);
}

Test(cmdline, word_count_limit)
{
	char line[CMDLINE_MAX_LEN];
	size_t off = 0;
	for (int i = 0; i < CMDLINE_MAX_ARGS; i++)
		off += (size_t)snprintf(line + off, sizeof line - off, "k%d=%d ", i, i);
	cr_assert_eq(cmdline_parse(&c, line), 0);
	cr_assert_eq(c.n, CMDLINE_MAX_ARGS);
	cr_assert_str_eq(cmdline_lookup(&c, "k0"), "0");
	cr_assert_str_eq(cmdline_lookup(&c, "k31"), "31");

	snprintf(line + off, sizeof line - off, "one_too_many");
	cr_assert_eq(cmdline_parse(&c, line), -E2BIG);
	cr_assert_eq(c.n, 0, "nothing is kept");
	cr_assert_null(cmdline_lookup(&c, "k0"));
}

Test(cmdline, line_length_limit)
{
	static char line[CMDLINE_MAX_LEN + 1];
	memset(line, 'a', CMDLINE_MAX_LEN - 1);                 /* the longest that fits */
	line[0] = 'k';
	line[1] = '=';
	line[CMDLINE_MAX_LEN - 1] = 0;
	cr_assert_eq(cmdline_parse(&c, line), 0);
	cr_assert_eq(c.n, 1);
	cr_assert_eq(strlen(cmdline_lookup(&c, "k")), CMDLINE_MAX_LEN - 3);

	line[CMDLINE_MAX_LEN - 1] = 'a';                        /* one byte more */
	line[CMDLINE_MAX_LEN] = 0;
	cr_assert_eq(cmdline_parse(&c, line), -E2BIG);
	cr_assert_eq(c.n, 0);
	cr_assert_null(cmdline_lookup(&c, "k"));
}

Test(cmdline, parse_copies_the_line)
{
	char line[] = "a=1 b";
	cr_assert_eq(cmdline_parse(&c, line), 0);
	cr_assert_str_eq(line, "a=1 b", "the input is not modified");
	line[2] = '9';
	cr_assert_str_eq(cmdline_lookup(&c, "a"), "1", "the result does not point into the input");
}

Test(cmdline, global)
{
	cmdline_set_global(NULL);
	cr_assert_null(cmdline_get("a"));
	cr_assert_not(cmdline_has("a"));

	static struct cmdline g;
	cr_assert_eq(cmdline_parse(&g, "a=1 quiet a=2"), 0);
	cmdline_set_global(&g);
	cr_assert_str_eq(cmdline_get("a"), "2");
	cr_assert(cmdline_has("a"));
	cr_assert(cmdline_has("quiet"));
	cr_assert_str_eq(cmdline_get("quiet"), "");
	cr_assert_null(cmdline_get("nope"));
	cr_assert_not(cmdline_has("nope"));

	/* the global reads the installed structure, not a copy */
	cr_assert_eq(cmdline_parse(&g, "b"), 0);
	cr_assert_not(cmdline_has("a"));
	cr_assert(cmdline_has("b"));

	cmdline_set_global(NULL);
	cr_assert_not(cmdline_has("b"));
}
