/*
 * test_schema.c — the schema engine (src/core/schema.c) on a table of its
 * own: filling a typed struct (widths, defaults where absent, nested
 * objects, lists of structs with a count, callbacks, included rows, enums
 * named by a table of structs, presence flags), validation (bounds,
 * unknown keys, required keys, the path of the first bad field), the
 * run-time paths and the JSON Schema rendering.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <criterion/criterion.h>
#include <jansson.h>
#include "core/schema.h"
#include "stubs.h"

struct item { uint16_t port; const char *host; };
struct inner { uint8_t small; uint64_t big; };
struct part_cfg { uint32_t level; };
struct kind_row { const char *name; const struct schema_node *schema; };
struct t_cfg {
	uint32_t count;
	int mode;
	const char *label;
	struct inner in;
	uint8_t has_items;
	uint32_t nitems;
	struct item items[4];
	uint32_t odd;                   /* filled by a callback */
	struct part_cfg part;
};

static const struct schema_node item_fields[] = {
	{ .key = "port", .kind = SK_INTEGER, .flags = SF_REQUIRED, .min = 1, .max = 65535,
	  .type = ST_U16, .off = offsetof(struct item, port) },
	{ .key = "host", .kind = SK_STRING, .min = 1, .max = 32, .type = ST_STR,
	  .off = offsetof(struct item, host), .def_str = "localhost" },
	{ .kind = SK_END }
};
static const struct schema_node item_node[] = {
	{ .kind = SK_OBJECT, .sub = item_fields }, { .kind = SK_END }
};
static const struct schema_node inner_fields[] = {
	{ .key = "small", .kind = SK_INTEGER, .min = 0, .max = 255, .type = ST_U8,
	  .off = offsetof(struct inner, small), .def = 7 },
	{ .key = "big", .kind = SK_INTEGER, .flags = SF_POW2 | SF_RUNTIME, .min = 1, .max = 1ll << 40,
	  .type = ST_U64, .off = offsetof(struct inner, big), .def = 1ll << 33 },
	{ .kind = SK_END }
};

/* "odd": a string "a-b" read as a * 100 + b, absent 42 */
static void odd_fill(void *field, const struct schema_val *v)
{
	uint32_t x = 42;
	if (v) {
		const char *s = schema_val_str(v);
		x = (uint32_t)((s[0] - '0') * 100 + (s[2] - '0'));
	}
	memcpy(field, &x, sizeof x);
}

static const char *odd_check(const struct schema_val *v, const struct schema_val *parent,
			     const struct schema_val *root)
{
	const char *s = schema_val_str(v);
	return strlen(s) == 3 && s[1] == '-' ? NULL : "must be \"a-b\"";
}

static const struct schema_node part_fields[] = {
	{ .key = "level", .kind = SK_INTEGER, .min = 0, .max = 9, .type = ST_U32,
	  .off = offsetof(struct part_cfg, level), .def = 3 },
	{ .kind = SK_END }
};
static const struct schema_node part_node = {
	.key = "part", .kind = SK_OBJECT, .sub = part_fields, .off = offsetof(struct t_cfg, part)
};
static const struct kind_row kinds[] = {
	{ "plain", NULL }, { "fancy", &part_node }, { NULL, NULL }
};
static const struct schema_node included[] = {
	{ .key = "mode", .kind = SK_ENUM, .choices = &kinds[0].name, .stride = sizeof(struct kind_row),
	  .type = ST_INT, .off = offsetof(struct t_cfg, mode), .def = -1 },
	{ .kind = SK_INCLUDE, .parts = &kinds[0].schema, .stride = sizeof(struct kind_row), .max = 2 },
	{ .kind = SK_END }
};

static const struct schema_node fields[] = {
	{ .key = "count", .kind = SK_INTEGER, .min = 1, .max = 100, .type = ST_U32,
	  .off = offsetof(struct t_cfg, count), .def = 10 },
	{ .kind = SK_INCLUDE, .sub = included },
	{ .key = "label", .kind = SK_STRING, .flags = SF_RUNTIME, .min = 0, .max = 8, .type = ST_STR,
	  .off = offsetof(struct t_cfg, label) },
	{ .key = "in", .kind = SK_OBJECT, .sub = inner_fields, .off = offsetof(struct t_cfg, in) },
	{ .key = "items", .kind = SK_ARRAY, .flags = SF_HAS, .max = 4, .sub = item_node,
	  .off = offsetof(struct t_cfg, items), .size = sizeof(struct item),
	  .count_off = offsetof(struct t_cfg, nitems), .has_off = offsetof(struct t_cfg, has_items) },
	{ .key = "odd", .kind = SK_STRING, .min = 3, .max = 3, .check = odd_check, .fill = odd_fill,
	  .off = offsetof(struct t_cfg, odd) },
	{ .kind = SK_END }
};
static const struct schema_node root = { .kind = SK_OBJECT, .sub = fields, .doc = "test" };

static char err[256];
static json_t *doc;

static void fini(void) { json_decref(doc); }
TestSuite(schema, .fini = fini);

/* validates and, when valid, fills c from text */
static int load(const char *text, struct t_cfg *c)
{
	json_decref(doc);
	doc = json_loads(text, 0, NULL);
	cr_assert_not_null(doc, "bad test JSON: %s", text);
	memset(err, 0, sizeof err);
	int rc = schema_validate(&root, doc, err, sizeof err);
	if (!rc) {
		memset(c, 0xa5, sizeof *c);     /* the fill writes every field, defaults included */
		c->nitems = 0;
		schema_fill(&root, doc, c);
	}
	return rc;
}

Test(schema, defaults_fill_an_empty_document)
{
	struct t_cfg c;
	cr_assert_eq(load("{}", &c), 0, "%s", err);
	cr_assert_eq(c.count, 10);
	cr_assert_eq(c.mode, -1);
	cr_assert_null(c.label);
	cr_assert_eq(c.in.small, 7, "a nested object absent: its own defaults");
	cr_assert_eq(c.in.big, 1ull << 33);
	cr_assert_eq(c.has_items, 0);
	cr_assert_eq(c.nitems, 0);
	cr_assert_eq(c.odd, 42, "a callback writes its default when the key is absent");
	cr_assert_eq(c.part.level, 3, "an included part's defaults");
}

Test(schema, values_fill_their_fields_at_their_width)
{
	struct t_cfg c;
	cr_assert_eq(load("{\"count\": 100, \"mode\": \"fancy\", \"label\": \"ab\", \"odd\": \"3-4\","
			  " \"in\": {\"small\": 255, \"big\": 1099511627776}, \"part\": {\"level\": 9}}", &c), 0,
		     "%s", err);
	cr_assert_eq(c.count, 100);
	cr_assert_eq(c.mode, 1, "an enum fills its index in the table of structs");
	cr_assert_str_eq(c.label, "ab");
	cr_assert_eq(c.in.small, 255);
	cr_assert_eq(c.in.big, 1ull << 40);
	cr_assert_eq(c.odd, 304);
	cr_assert_eq(c.part.level, 9);
}

Test(schema, lists_of_structs_fill_with_a_count)
{
	struct t_cfg c;
	cr_assert_eq(load("{\"items\": [{\"port\": 80}, {\"port\": 443, \"host\": \"x\"}]}", &c), 0, "%s", err);
	cr_assert_eq(c.has_items, 1);
	cr_assert_eq(c.nitems, 2);
	cr_assert_eq(c.items[0].port, 80);
	cr_assert_str_eq(c.items[0].host, "localhost", "a default inside a list's element");
	cr_assert_eq(c.items[1].port, 443);
	cr_assert_str_eq(c.items[1].host, "x");
	cr_assert_eq(load("{\"items\": []}", &c), 0, "%s", err);
	cr_assert_eq(c.has_items, 1, "present, if empty");
	cr_assert_eq(c.nitems, 0);
}

Test(schema, bounds_are_refused_with_the_path)
{
	struct t_cfg c;
	cr_assert_eq(load("{\"count\": 0}", &c), -EINVAL);
	cr_assert_str_eq(err, "count: must be 1..100");
	cr_assert_eq(load("{\"count\": \"5\"}", &c), -EINVAL);
	cr_assert_str_eq(err, "count: must be 1..100");
	cr_assert_eq(load("{\"in\": {\"big\": 3}}", &c), -EINVAL);
	cr_assert_str_eq(err, "in.big: must be a power of two, 1..1099511627776");
	cr_assert_eq(load("{\"items\": [{\"port\": 1}, {\"port\": 70000}]}", &c), -EINVAL);
	cr_assert_str_eq(err, "items[1].port: must be 1..65535");
	cr_assert_eq(load("{\"items\": [{}, {}, {}, {}, {}]}", &c), -EINVAL);
	cr_assert_str_eq(err, "items: must be a list of at most 4 entries");
	cr_assert_eq(load("{\"items\": [{\"host\": \"y\"}]}", &c), -EINVAL);
	cr_assert_str_eq(err, "items[0].port: required");
	cr_assert_eq(load("{\"label\": \"123456789\"}", &c), -EINVAL);
	cr_assert_str_eq(err, "label: must be a string of 0..8 characters");
	cr_assert_eq(load("{\"mode\": \"dull\"}", &c), -EINVAL);
	cr_assert_str_eq(err, "mode: must be \"plain\" or \"fancy\"");
	cr_assert_eq(load("{\"odd\": \"345\"}", &c), -EINVAL);
	cr_assert_str_eq(err, "odd: must be \"a-b\"", "a row's own check");
	cr_assert_eq(load("{\"part\": {\"level\": 10}}", &c), -EINVAL);
	cr_assert_str_eq(err, "part.level: must be 0..9", "an included part is validated");
}

Test(schema, unknown_keys_are_refused)
{
	struct t_cfg c;
	cr_assert_eq(load("{\"cuont\": 1}", &c), -EINVAL);
	cr_assert_str_eq(err, "cuont: unknown key");
	cr_assert_eq(load("{\"in\": {\"smal\": 1}}", &c), -EINVAL);
	cr_assert_str_eq(err, "in.smal: unknown key");
	cr_assert_eq(load("{\"items\": [{\"port\": 1, \"hots\": \"a\"}]}", &c), -EINVAL);
	cr_assert_str_eq(err, "items[0].hots: unknown key");
}

Test(schema, the_first_bad_field_in_table_order)
{
	struct t_cfg c;
	cr_assert_eq(load("{\"odd\": \"x\", \"count\": 0}", &c), -EINVAL);
	cr_assert_str_eq(err, "count: must be 1..100");
}

Test(schema, runtime_paths_come_from_the_flags)
{
	char paths[8][SCHEMA_PATH_MAX];
	size_t n = schema_runtime_paths(&root, paths, 8);
	cr_assert_eq(n, 2);
	cr_assert_str_eq(paths[0], "label");
	cr_assert_str_eq(paths[1], "in.big");
	cr_assert_eq(schema_runtime_paths(&root, paths, 1), 1, "at most max");
}

Test(schema, rendering_follows_the_table)
{
	json_t *s = schema_render(&root);
	json_t *props = json_object_get(s, "properties");
	cr_assert(json_is_false(json_object_get(s, "additionalProperties")));
	cr_assert_eq(json_object_size(props), 7, "count, mode, part, label, in, items, odd");
	cr_assert_eq(json_array_size(json_object_get(json_object_get(props, "mode"), "enum")), 2);
	cr_assert_not_null(json_object_get(props, "part"), "an included part is a property");
	json_t *item = json_object_get(json_object_get(props, "items"), "items");
	cr_assert_str_eq(json_string_value(json_array_get(json_object_get(item, "required"), 0)), "port");
	cr_assert_eq(json_integer_value(json_object_get(json_object_get(props, "count"), "maximum")), 100);
	json_decref(s);
}

Test(schema, addresses_parse_strictly)
{
	uint32_t a;
	int p;
	cr_assert_eq(schema_parse_ipv4("198.18.0.2/24", &a, &p), 0);
	cr_assert_eq(a, 0xc6120002);
	cr_assert_eq(p, 24);
	cr_assert_eq(schema_parse_ipv4("10.0.0.1", &a, NULL), 0);
	cr_assert_eq(schema_parse_ipv4("10.0.0.1x", &a, NULL), -1);
	cr_assert_eq(schema_parse_ipv4("10.0.0.1/33", &a, &p), -1);
	cr_assert_eq(schema_parse_ipv4("10.0.0.1", &a, &p), -1, "a prefix was asked for");
	cr_assert_eq(schema_parse_ipv4(NULL, &a, NULL), -1);
}
