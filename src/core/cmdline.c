/*
 * cmdline.c — parsing the kernel command line. See cmdline.h.
 */
#include <errno.h>
#include <string.h>
#include "core/core.h"
#include "core/cmdline.h"

static const struct cmdline *global;

int cmdline_parse(struct cmdline *c, const char *s)
{
	c->n = 0;
	if (!s)
		s = "";
	size_t len = strlen(s);
	if (len >= sizeof c->buf)
		return -E2BIG;
	memcpy(c->buf, s, len + 1);
	char *p = c->buf;
	while (*p) {
		while (*p == ' ' || *p == '\t' || *p == '\n')
			*p++ = 0;
		if (!*p)
			break;
		if (c->n == CMDLINE_MAX_ARGS) {
			c->n = 0;
			return -E2BIG;
		}
		char *word = p;
		while (*p && *p != ' ' && *p != '\t' && *p != '\n')
			p++;
		if (*p)
			*p++ = 0;
		char *eq = strchr(word, '=');
		if (eq == word) {
			c->n = 0;
			return -EINVAL;
		}
		c->key[c->n] = word;
		if (eq) {
			*eq = 0;
			c->val[c->n] = eq + 1;
		} else {
			c->val[c->n] = word + strlen(word);
		}
		c->n++;
	}
	return 0;
}

const char *cmdline_lookup(const struct cmdline *c, const char *key)
{
	/* the last occurrence wins, as on Linux */
	for (int i = c->n - 1; i >= 0; i--)
		if (!strcmp(c->key[i], key))
			return c->val[i];
	return NULL;
}

void cmdline_set_global(const struct cmdline *c) { global = c; }
const char *cmdline_get(const char *key) { return global ? cmdline_lookup(global, key) : NULL; }
int cmdline_has(const char *key) { return cmdline_get(key) != NULL; }
