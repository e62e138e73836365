/*
 * fuzz_api_config.c — libFuzzer target: the config validator
 * (src/api/schema.c) on any document config_parse accepts. Nothing may
 * crash; the result is 0 or -EINVAL, and -EINVAL always comes with a
 * one-line "path: reason" message; a document that passes still passes
 * after a dump and reload (the validator depends on nothing but the
 * document). Seeds: the files in configs/.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "api/api.h"
#include "core/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256];
	json_t *doc;
	if (config_parse((const char *)data, size, &doc, err, sizeof err))
		return 0;
	memset(err, 0, sizeof err);
	int rc = api_config_validate(doc, err, sizeof err);
	if (rc != 0 && rc != -EINVAL)
		abort();
	if (rc && !strstr(err, ": "))
		abort();
	if (rc == 0) {
		char *text = json_dumps(doc, JSON_COMPACT | JSON_ENCODE_ANY);
		json_t *again = text ? json_loads(text, JSON_ALLOW_NUL, NULL) : NULL;
		if (again && api_config_validate(again, err, sizeof err))
			abort();
		json_decref(again);
		free(text);
	}
	json_decref(doc);
	return 0;
}
