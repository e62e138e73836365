/*
 * apply.c — what a new config changes, field by field, against the
 * running one: PUT /v1/config applies only documents whose differences
 * all lie in fields that can change at run time, and names the first
 * field that can't; api_config_apply runs the change as prepare (all
 * that can fail) then commit (nothing that can), so a failure half-way,
 * out of memory included, leaves the appliance as it was. Pure:
 * host-tested in test/unit/api/test_apply.c with a failing allocator.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "api/api.h"

static int is_mutable(const char *path, const char *const *mutable)
{
	for (; mutable && *mutable; mutable++)
		if (!strcmp(path, *mutable))
			return 1;
	return 0;
}

/* path + ".key" or path + "[i]" into buf */
static void child(char *buf, size_t len, const char *path, const char *key, size_t index)
{
	if (key)
		snprintf(buf, len, "%s%s%s", path, *path ? "." : "", key);
	else
		snprintf(buf, len, "%s[%zu]", path, index);
}

/* 1 with the path in out when a difference outside `mutable` is found */
static int walk(const json_t *a, const json_t *b, const char *path, const char *const *mutable,
		char *out, size_t outlen, int *changed)
{
	char sub[256];
	if (*path && is_mutable(path, mutable)) {
		if (!json_equal((json_t *)a, (json_t *)b) && (a || b))
			*changed = 1;
		return 0;
	}
	/* a missing object or array is walked as an empty one, so that the
	 * difference is named at its leaves (web.body, not web) */
	if ((json_is_object(a) || !a) && (json_is_object(b) || !b) && (a || b)) {
		const char *k;
		json_t *v;
		json_object_foreach((json_t *)a, k, v) {
			child(sub, sizeof sub, path, k, 0);
			if (walk(v, json_object_get(b, k), sub, mutable, out, outlen, changed))
				return 1;
		}
		json_object_foreach((json_t *)b, k, v) {
			if (json_object_get(a, k))
				continue;
			child(sub, sizeof sub, path, k, 0);
			if (walk(NULL, v, sub, mutable, out, outlen, changed))
				return 1;
		}
		return 0;
	}
	if ((json_is_array(a) || !a) && (json_is_array(b) || !b) && (a || b)) {
		size_t na = json_array_size(a), nb = json_array_size(b);
		for (size_t i = 0; i < (na > nb ? na : nb); i++) {
			child(sub, sizeof sub, path, NULL, i);
			if (walk(json_array_get(a, i), json_array_get(b, i), sub, mutable, out, outlen, changed))
				return 1;
		}
		return 0;
	}
	if (json_equal((json_t *)a, (json_t *)b))
		return 0;
	snprintf(out, outlen, "%s", *path ? path : "(the document)");
	return 1;
}

int api_config_diff(const json_t *running, const json_t *next, const char *const *mutable,
		    char *path, size_t pathlen, int *changed)
{
	*changed = 0;
	return walk(running, next, "", mutable, path, pathlen, changed);
}

int api_config_apply(const json_t *running, const json_t *doc, const char *const *mutable,
		     const char *mutable_words, const struct api_apply_ops *ops, char *err, size_t errlen)
{
	char path[200];
	int changed = 0;
	if (api_config_diff(running, doc, mutable, path, sizeof path, &changed)) {
		snprintf(err, errlen, "%s: can't change at run time (restart the appliance with the new "
			 "config); what can: %s", path, mutable_words ? mutable_words : "nothing");
		return -EBUSY;
	}
	if (!changed)
		return 0;
	/* ---- prepare: everything that can fail */
	json_t *next = json_deep_copy(doc);
	if (!next) {
		snprintf(err, errlen, "no memory for the new config");
		return -ENOMEM;
	}
	void *pending = NULL;
	int rc = ops->prepare(ops->arg, next, &pending, err, errlen);
	if (rc) {
		json_decref(next);
		return rc < 0 ? rc : -EINVAL;
	}
	/* ---- commit: nothing from here on can fail */
	ops->commit(ops->arg, next, pending);
	return 0;
}
