/*
 * config.h — loading the appliance configuration (JSON, the schema of
 * configs/ and of /v1/config) with jansson. Pure logic, unit-tested on the
 * host. Loading only checks that the document is a JSON object; the schema
 * is validated by src/api/.
 */
#ifndef POLLUX_CONFIG_H
#define POLLUX_CONFIG_H
#include <stddef.h>
#include <jansson.h>

/* Parses `len` bytes. On success returns 0 and a new reference in *out.
 * On failure returns -EINVAL and writes a one-line message to err:
 * "config: line L, column C: what" (or "config: top level must be an
 * object"). An empty buffer means the built-in default {}. */
int config_parse(const char *buf, size_t len, json_t **out, char *err, size_t errlen);

void config_set_root(json_t *root);   /* takes the reference */
json_t *config_root(void);            /* borrowed; never NULL after boot */
#endif
