/*
 * test_apply.c — api_config_diff: which field of a new config differs
 * from the running one outside what can change at run time; and
 * api_config_apply, all or nothing, under an allocator that fails at
 * every step in turn.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
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

/* ---- all or nothing: a fake appliance whose running state is a config
 * document and a body, and an allocator (jansson's and the fake's own)
 * that fails at its n-th call */
static long alloc_left = -1;            /* -1: never fail */
static void *failing_malloc(size_t n)
{
	if (alloc_left == 0)
		return NULL;
	if (alloc_left > 0)
		alloc_left--;
	return malloc(n);
}

static json_t *run_cfg;
static char *run_body;
static int commits;

static int fake_prepare(void *arg, const json_t *next, void **pending, char *err, size_t errlen)
{
	const char *b = json_string_value(json_object_get(json_object_get(next, "web"), "body"));
	char *nb = failing_malloc(strlen(b ? b : "") + 1);
	if (!nb) {
		snprintf(err, errlen, "web.body: no memory");
		return -ENOMEM;
	}
	strcpy(nb, b ? b : "");
	*pending = nb;
	return 0;
}

static void fake_commit(void *arg, json_t *next, void *pending)
{
	free(run_body);
	run_body = pending;
	json_decref(run_cfg);
	run_cfg = next;
	commits++;
}

static const struct api_apply_ops fake_ops = { .prepare = fake_prepare, .commit = fake_commit };

Test(apply, out_of_memory_at_any_step_applies_nothing)
{
	static const char *const mut[] = { "name", "web.body", NULL };
	const char *old = "{\"name\": \"a\", \"web\": {\"port\": 80, \"body\": \"old body\"}}";
	const char *new = "{\"name\": \"b\", \"web\": {\"port\": 80, \"body\": \"the new body\"}}";
	int failures = 0, done = 0;
	for (long n = 0; n < 200 && !done; n++) {
		json_t *want_old = json_loads(old, 0, NULL), *doc = json_loads(new, 0, NULL);
		json_t *cur = json_deep_copy(want_old);
		cr_assert(want_old && doc && cur);
		run_cfg = cur;
		run_body = strdup("old body");
		commits = 0;
		char err[256] = "";
		json_set_alloc_funcs(failing_malloc, free);
		alloc_left = n;
		int rc = api_config_apply(run_cfg, doc, mut, "name, web.body", &fake_ops, err, sizeof err);
		alloc_left = -1;
		json_set_alloc_funcs(malloc, free);
		if (rc) {
			failures++;
			cr_assert_eq(rc, -ENOMEM, "allocation %ld: %d (%s)", n, rc, err);
			cr_assert(strstr(err, "memory"), "allocation %ld: %s", n, err);
			cr_assert_eq(commits, 0);
			cr_assert_eq(run_cfg, cur, "the running document was replaced");
			cr_assert(json_equal(run_cfg, want_old), "allocation %ld: the running config changed", n);
			cr_assert_str_eq(run_body, "old body", "allocation %ld: the body changed", n);
		} else {
			done = 1;
			cr_assert_eq(commits, 1);
			cr_assert(json_equal(run_cfg, doc), "the new config is not the running one");
			cr_assert_str_eq(run_body, "the new body");
		}
		json_decref(run_cfg);
		free(run_body);
		json_decref(want_old);
		json_decref(doc);
	}
	cr_assert(done, "never applied");
	cr_assert_gt(failures, 3, "the copy and the body should each fail at least once");
}

Test(apply, refusals_and_no_change_touch_nothing)
{
	static const char *const mut[] = { "name", "web.body", NULL };
	json_t *running = json_loads("{\"name\": \"a\", \"web\": {\"port\": 80}}", 0, NULL);
	json_t *same = json_loads("{\"web\": {\"port\": 80}, \"name\": \"a\"}", 0, NULL);
	json_t *bad = json_loads("{\"name\": \"b\", \"web\": {\"port\": 81}}", 0, NULL);
	char err[256];
	commits = 0;
	run_cfg = NULL;
	run_body = NULL;
	cr_assert_eq(api_config_apply(running, same, mut, "name, web.body", &fake_ops, err, sizeof err), 0);
	cr_assert_eq(api_config_apply(running, bad, mut, "name, web.body", &fake_ops, err, sizeof err), -EBUSY);
	cr_assert(strstr(err, "web.port: can't change at run time"), "%s", err);
	cr_assert(strstr(err, "what can: name, web.body"), "%s", err);
	cr_assert_eq(commits, 0);
	json_decref(running);
	json_decref(same);
	json_decref(bad);
}
