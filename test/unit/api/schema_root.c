/*
 * schema_root.c — linked into the API's unit tests and fuzz targets: the
 * appliance's config schema (src/appliance/config.c, every subsystem's
 * table) handed to the API before main, as main.c does at boot with
 * api_config_use. The tests then see the very table the appliance
 * validates with.
 */
#include "api/api.h"
#include "appliance/appliance.h"

__attribute__((constructor)) static void schema_root_use(void)
{
	api_config_use(&appliance_schema);
}
