/*
 * test_openapi.c — the OpenAPI document (src/api/openapi.c) is generated
 * from the route and schema tables: every route is in it with its
 * method and path parameters, every $ref resolves, and the Config schema
 * is exactly the validator's table.
 */
#include <string.h>
#include <criterion/criterion.h>
#include "api/api_priv.h"

static json_t *doc;

static void fini(void) { json_decref(doc); }
TestSuite(openapi, .fini = fini);

static const char *method_key(unsigned m)
{
	return m == API_GET ? "get" : m == API_PUT ? "put" : m == API_POST ? "post" : "delete";
}

Test(openapi, every_route_is_documented)
{
	doc = api_openapi();
	cr_assert_not_null(doc);
	cr_assert_str_eq(json_string_value(json_object_get(doc, "openapi")), "3.0.3");
	json_t *paths = json_object_get(doc, "paths");
	size_t ops = 0;
	for (size_t i = 0; i < api_nroutes; i++) {
		json_t *op = json_object_get(json_object_get(paths, api_routes[i].pattern),
					     method_key(api_routes[i].method));
		cr_assert_not_null(op, "%s %s missing", method_key(api_routes[i].method), api_routes[i].pattern);
		cr_assert_str_eq(json_string_value(json_object_get(op, "summary")), api_routes[i].summary);
		cr_assert_not_null(json_object_get(json_object_get(op, "responses"), "401"));
		ops++;
	}
	const char *k;
	json_t *v;
	size_t total = 0;
	json_object_foreach(paths, k, v)
		total += json_object_size(v);
	cr_assert_eq(total, ops, "the document has operations the table does not");
	json_t *p = json_object_get(json_object_get(paths, "/v1/interfaces/{name}"), "get");
	json_t *param = json_array_get(json_object_get(p, "parameters"), 0);
	cr_assert_str_eq(json_string_value(json_object_get(param, "name")), "name");
	cr_assert_str_eq(json_string_value(json_object_get(param, "in")), "path");
	json_t *put = json_object_get(json_object_get(paths, "/v1/config"), "put");
	cr_assert_not_null(json_object_get(json_object_get(put, "responses"), "400"));
	cr_assert_not_null(json_object_get(put, "requestBody"));
}

/* Walks the document; every "$ref" names a schema under components. */
static void refs_resolve(json_t *schemas, json_t *v, int *n)
{
	if (json_is_object(v)) {
		const char *k;
		json_t *x;
		json_object_foreach(v, k, x) {
			if (!strcmp(k, "$ref")) {
				const char *r = json_string_value(x);
				cr_assert(r && !strncmp(r, "#/components/schemas/", 21), "%s", r);
				cr_assert_not_null(json_object_get(schemas, r + 21), "dangling %s", r);
				(*n)++;
			}
			refs_resolve(schemas, x, n);
		}
	} else if (json_is_array(v)) {
		size_t i;
		json_t *x;
		json_array_foreach(v, i, x)
			refs_resolve(schemas, x, n);
	}
}

Test(openapi, refs_resolve_and_config_is_the_validator_table)
{
	doc = api_openapi();
	json_t *schemas = json_object_get(json_object_get(doc, "components"), "schemas");
	int n = 0;
	refs_resolve(schemas, doc, &n);
	cr_assert_gt(n, 10);
	for (const char *s = "Error\0System\0Cores\0Interface\0Interfaces\0Log\0Status\0"; *s; s += strlen(s) + 1)
		cr_assert(json_is_object(json_object_get(schemas, s)), "schema %s did not parse", s);
	json_t *cfg = api_config_schema();
	cr_assert(json_equal(json_object_get(schemas, "Config"), cfg));
	json_decref(cfg);
}
