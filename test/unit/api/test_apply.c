/*
 * test_apply.c — api_config_diff: which field of a new config differs
 * from the running one outside what can change at run time.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include "api/api.h"

static const char *const MUT[] = { "name", "web.body", NULL };

/* the path reported for (old, new), "" when none; *changed out */
static const char *diff(const char *a, const char *b, int *changed)
{
	static char path[256];
	json_error_t e;
	json_t *ja = json_loads(a, 0, &e), *jb = json_loads(b, 0, &e);
	cr_assert(ja && jb, "bad test JSON");
	path[0] = 0;
	int r = api_config_diff(ja, jb, MUT, path, sizeof path, changed);
	json_decref(ja);
	json_decref(jb);
	cr_assert_eq(r, path[0] != 0);
	return path;
}

Test(apply, equal_documents_change_nothing)
{
	int ch;
	cr_assert_str_eq(diff("{\"name\": \"a\", \"tcp\": {\"send_buffer\": 4096}}",
			      "{\"tcp\": {\"send_buffer\": 4096}, \"name\": \"a\"}", &ch), "");
	cr_assert_eq(ch, 0);
}

Test(apply, mutable_fields_only)
{
	int ch;
	cr_assert_str_eq(diff("{\"name\": \"a\", \"web\": {\"port\": 80, \"body\": \"x\"}}",
			      "{\"name\": \"b\", \"web\": {\"port\": 80, \"body\": \"y\"}}", &ch), "");
	cr_assert_eq(ch, 1);
	cr_assert_str_eq(diff("{\"app\": \"web\"}", "{\"app\": \"web\", \"web\": {\"body\": \"new\"}}", &ch), "");
	cr_assert_eq(ch, 1, "a body where there was none");
	cr_assert_str_eq(diff("{\"name\": \"a\"}", "{}", &ch), "");
	cr_assert_eq(ch, 1, "a removed name");
}

Test(apply, the_first_immutable_difference_is_named)
{
	int ch;
	cr_assert_str_eq(diff("{\"interfaces\": [{\"address\": \"198.18.0.2/24\", \"mtu\": 1500}]}",
			      "{\"interfaces\": [{\"address\": \"198.18.0.2/24\", \"mtu\": 9000}]}", &ch),
			 "interfaces[0].mtu");
	cr_assert_str_eq(diff("{\"interfaces\": [{\"address\": \"dhcp\"}]}",
			      "{\"interfaces\": [{\"address\": \"dhcp\"}, {\"address\": \"dhcp\"}]}", &ch),
			 "interfaces[1].address");
	cr_assert_str_eq(diff("{\"web\": {\"port\": 80}}", "{\"web\": {\"port\": 81, \"body\": \"z\"}}", &ch),
			 "web.port");
	cr_assert_str_eq(diff("{\"tcp\": {}}", "{\"tcp\": {\"max_conns_per_core\": 8}}", &ch),
			 "tcp.max_conns_per_core", "a key added");
	cr_assert_str_eq(diff("{\"cores\": {\"idle\": [\"poll\", \"halt\"]}}", "{\"cores\": {\"idle\": \"halt\"}}",
			      &ch), "cores.idle");
	cr_assert_str_eq(diff("{\"name\": \"a\", \"app\": \"echo\"}", "{\"name\": \"b\", \"app\": \"web\"}", &ch),
			 "app");
}
