/*
 * config.c — parsing the configuration document. See config.h.
 */
#include <errno.h>
#include <stdio.h>
#include "core/config.h"

static json_t *root;

int config_parse(const char *buf, size_t len, json_t **out, char *err, size_t errlen)
{
	json_error_t je;
	*out = NULL;
	if (len == 0) {
		*out = json_object();
		return 0;
	}
	json_t *j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
	if (!j) {
		snprintf(err, errlen, "config: line %d, column %d: %s", je.line, je.column, je.text);
		return -EINVAL;
	}
	if (!json_is_object(j)) {
		json_decref(j);
		/* no position: the document parsed, only its type is wrong */
		snprintf(err, errlen, "config: top level must be an object");
		return -EINVAL;
	}
	*out = j;
	return 0;
}

void config_set_root(json_t *r)
{
	json_t *old = root;
	root = r;
	if (old)
		json_decref(old);
}

json_t *config_root(void) { return root; }
