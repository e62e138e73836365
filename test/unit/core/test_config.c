/*
 * test_config.c — loading the configuration document (src/core/config.c):
 * what is accepted, the exact error line for what is not, and the
 * reference counting of the installed root.
 */
#include <errno.h>
#include <criterion/criterion.h>
#include "core/config.h"
#include "stubs.h"

static char err[256];
static json_t *j;

static int parse(const char *s)
{
	memset(err, 0, sizeof err);
	return config_parse(s, strlen(s), &j, err, sizeof err);
}

static void drop(void)
{
	json_decref(j);
	j = NULL;
}

TestSuite(config, .fini = drop);

Test(config, valid_object)
{
	cr_assert_eq(parse("{\n  \"name\": \"edge-1\",\n  \"cores\": 4,\n"
			   "  \"ports\": [{\"pci\": \"00:03.0\"}],\n  \"debug\": false\n}\n"), 0);
	cr_assert_not_null(j);
	cr_assert(json_is_object(j));
	cr_assert_eq(j->refcount, 1, "the caller gets exactly one reference");
	cr_assert_eq(json_object_size(j), 4);
	cr_assert_str_eq(json_string_value(json_object_get(j, "name")), "edge-1");
	cr_assert_eq(json_integer_value(json_object_get(j, "cores")), 4);
	cr_assert(json_is_false(json_object_get(j, "debug")));
	json_t *port = json_array_get(json_object_get(j, "ports"), 0);
	cr_assert_str_eq(json_string_value(json_object_get(port, "pci")), "00:03.0");
}

Test(config, only_len_bytes_are_read)
{
	const char buf[] = "{\"a\": 1}trailing garbage";
	cr_assert_eq(config_parse(buf, 8, &j, err, sizeof err), 0);
	cr_assert_eq(json_integer_value(json_object_get(j, "a")), 1);
}

Test(config, empty_buffer_is_an_empty_object)
{
	cr_assert_eq(config_parse("", 0, &j, err, sizeof err), 0);
	cr_assert(json_is_object(j));
	cr_assert_eq(json_object_size(j), 0);
	cr_assert_eq(j->refcount, 1);
	drop();
	/* no document at all (platform_config found none) */
	cr_assert_eq(config_parse(NULL, 0, &j, err, sizeof err), 0);
	cr_assert(json_is_object(j));
	cr_assert_eq(json_object_size(j), 0);
}

/* The message, split at the third colon: "config: line L, column C: what". */
static void expect_error_at(int line, int column)
{
	char want[64];
	snprintf(want, sizeof want, "config: line %d, column %d: ", line, column);
	cr_assert_eq(strncmp(err, want, strlen(want)), 0, "got \"%s\", want \"%s...\"", err, want);
	cr_assert_gt(strlen(err), strlen(want), "no reason after the position: \"%s\"", err);
	cr_assert_null(strchr(err, '\n'), "the message is one line");
	cr_assert_null(j, "no document on failure");
}

Test(config, missing_comma_error_position)
{
	/* line 3 lacks the comma between two members; jansson reports the
	 * token where it noticed: the closing quote of "c", column 12 */
	cr_assert_eq(parse("{\n  \"a\": 1,\n  \"b\": 2 \"c\": 3\n}\n"), -EINVAL);
	expect_error_at(3, 12);
	cr_assert_str_eq(err, "config: line 3, column 12: '}' expected near '\"c\"'");
}

Test(config, missing_comma_at_end_of_line)
{
	/* the comma missing at the end of line 3 is noticed at "c", on line 4 */
	cr_assert_eq(parse("{\n  \"a\": 1,\n  \"b\": 2\n  \"c\": 3\n}\n"), -EINVAL);
	expect_error_at(4, 5);
	cr_assert_not_null(strstr(err, "expected near '\"c\"'"), "%s", err);
}

Test(config, other_syntax_errors)
{
	cr_assert_eq(parse("{\"a\": 1,}"), -EINVAL);          /* trailing comma */
	expect_error_at(1, 9);
	cr_assert_eq(parse("{\n\n\n\n  \"x\": [1, 2,, 3]\n}"), -EINVAL);
	expect_error_at(5, 14);
	cr_assert_eq(parse("{\"a\": 1} x"), -EINVAL);         /* trailing data */
	expect_error_at(1, 10);
	cr_assert_eq(parse("{\"a\": "), -EINVAL);             /* truncated */
	cr_assert_eq(strncmp(err, "config: line 1, column ", 23), 0, "%s", err);
	cr_assert_eq(parse("   "), -EINVAL, "only whitespace is not the empty document");
	cr_assert_eq(strncmp(err, "config: line 1, column ", 23), 0, "%s", err);
}

Test(config, duplicate_keys_rejected)
{
	cr_assert_eq(parse("{\n  \"a\": 1,\n  \"a\": 2\n}"), -EINVAL);
	expect_error_at(3, 5);
	cr_assert_not_null(strstr(err, "duplicate"), "%s", err);
	/* the same key in different objects is fine */
	cr_assert_eq(parse("{\"a\": {\"a\": 1}, \"b\": {\"a\": 2}}"), 0);
}

Test(config, top_level_must_be_an_object)
{
	cr_assert_eq(parse("[1, 2]"), -EINVAL);
	cr_assert_null(j);
	cr_assert_str_eq(err, "config: top level must be an object");
	cr_assert_eq(parse("\n\n[{\"a\": 1}]"), -EINVAL);
	cr_assert_str_eq(err, "config: top level must be an object");
	cr_assert_eq(parse("3"), -EINVAL);                     /* jansson's own check */
	expect_error_at(1, 1);
	cr_assert_eq(parse("\"text\""), -EINVAL);
	cr_assert_null(j);
}

Test(config, error_message_truncated_to_errlen)
{
	char small[16];
	memset(small, 'X', sizeof small);
	const char *doc = "{\"a\": 1,}";
	cr_assert_eq(config_parse(doc, strlen(doc), &j, small, 12), -EINVAL);
	cr_assert_str_eq(small, "config: lin");
	cr_assert_eq(small[12], 'X', "wrote past errlen");
	cr_assert_eq(config_parse("[]", 2, &j, small, 12), -EINVAL);
	cr_assert_str_eq(small, "config: top");
}

Test(config, root_reference_counting)
{
	cr_assert_null(config_root());

	json_t *a = json_pack("{s:i}", "n", 1);
	json_t *b = json_pack("{s:i}", "n", 2);
	json_t *c = json_pack("{s:i}", "n", 3);
	cr_assert(a && b && c);
	json_incref(a);                 /* keep our own reference to a */

	config_set_root(a);             /* takes one reference */
	cr_assert_eq(config_root(), a);
	cr_assert_eq(a->refcount, 2, "config_root borrows; set_root did not add one");

	config_set_root(b);             /* drops a's reference */
	cr_assert_eq(config_root(), b);
	cr_assert_eq(a->refcount, 1);
	cr_assert_eq(b->refcount, 1);
	cr_assert_eq(json_integer_value(json_object_get(config_root(), "n")), 2);

	config_set_root(c);             /* frees b (ASan catches a double free) */
	cr_assert_eq(config_root(), c);
	cr_assert_eq(c->refcount, 1);
	cr_assert_eq(json_integer_value(json_object_get(a, "n")), 1, "a is still ours");

	/* installing the root again with a fresh reference keeps it alive */
	json_incref(c);
	config_set_root(c);
	cr_assert_eq(config_root(), c);
	cr_assert_eq(c->refcount, 1);
	cr_assert_eq(json_integer_value(json_object_get(config_root(), "n")), 3);

	/* what config_parse returns can be installed as it is */
	cr_assert_eq(parse("{\"n\": 4}"), 0);
	config_set_root(j);
	j = NULL;
	cr_assert_eq(json_integer_value(json_object_get(config_root(), "n")), 4);

	config_set_root(NULL);          /* frees the parsed root */
	cr_assert_null(config_root());
	json_decref(a);
}
