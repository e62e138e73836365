/*
 * config.c — the "nic" section of the config: its schema table, bound to
 * struct netdev_config (netdev.h). The schema engine (core/schema.h)
 * validates, fills and documents it.
 */
#include <stddef.h>
#include "core/schema.h"
#include "drivers/netdev.h"

const struct schema_node netdev_schema[] = {
	{ .key = "rx_ring", .kind = SK_INTEGER, .min = 0, .max = 32768,
	  .type = ST_U32, .off = offsetof(struct netdev_config, rx_ring), .def = 0,
	  .doc = "RX buffers posted per queue (0: the device's ring size)." },
	{ .kind = SK_END }
};
