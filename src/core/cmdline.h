/*
 * cmdline.h — the kernel command line: space-separated `key` or
 * `key=value` words. Pure logic, unit-tested on the host.
 */
#ifndef POLLUX_CMDLINE_H
#define POLLUX_CMDLINE_H
#include <stddef.h>

#define CMDLINE_MAX_ARGS 32
#define CMDLINE_MAX_LEN 1024

struct cmdline {
	char buf[CMDLINE_MAX_LEN];
	const char *key[CMDLINE_MAX_ARGS];
	const char *val[CMDLINE_MAX_ARGS];  /* "" for a bare key */
	int n;
};

/* Returns 0, -E2BIG (line or word count too long: nothing is kept) or
 * -EINVAL (an empty key such as "=x"). */
int cmdline_parse(struct cmdline *c, const char *s);
const char *cmdline_lookup(const struct cmdline *c, const char *key);
/* Installs the parsed line that cmdline_get()/cmdline_has() read. */
void cmdline_set_global(const struct cmdline *c);
#endif
