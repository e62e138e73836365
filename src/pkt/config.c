/*
 * config.c — the "pool" section of the config: its schema table, bound to
 * struct pkt_config (pktbuf.h). The schema engine (core/schema.h)
 * validates, fills and documents it.
 */
#include <stddef.h>
#include "core/schema.h"
#include "pkt/pktbuf.h"

const struct schema_node pkt_schema[] = {
	{ .key = "buffers_per_core", .kind = SK_INTEGER, .min = 64, .max = 1 << 20,
	  .type = ST_U32, .off = offsetof(struct pkt_config, buffers_per_core), .def = 0,
	  .doc = "Packet buffers in each core's pool (default 4096 with devices, else 256)." },
	{ .kind = SK_END }
};
