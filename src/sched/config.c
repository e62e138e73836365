/*
 * config.c — the "cores" section of the config: its schema table, bound
 * to struct sched_config (sched.h). The schema engine (core/schema.h)
 * validates, fills and documents it; nothing else here reads the
 * document.
 */
#include <stddef.h>
#include <string.h>
#include "core/schema.h"
#include "sched/sched.h"

static const char *const idle_choices[] = { "poll", "halt", NULL };

#define END { .kind = SK_END }

static const struct schema_node idle_one[] = {
	{ .kind = SK_ENUM, .choices = idle_choices,
	  .doc = "Every core's idle policy: spin (poll) or sleep until work arrives (halt)." },
	{ .kind = SK_ARRAY, .max = POLLUX_MAX_CORES,
	  .sub = (const struct schema_node[]){
		  { .kind = SK_ENUM, .choices = idle_choices }, END },
	  .doc = "One idle policy per core, by core id; cores past the list keep the default." },
	END
};

/* cores.idle: one policy for every core, or one per core by id (cores
 * past the list keep the default: core 0 halts, data cores poll). */
static void idle_fill(void *field, const struct schema_val *v)
{
	enum sched_idle *idle = field;
	for (uint32_t i = 0; i < POLLUX_MAX_CORES; i++)
		idle[i] = i == 0 ? SCHED_IDLE_HALT : SCHED_IDLE_POLL;
	const char *one = schema_val_str(v);
	if (one) {
		for (uint32_t i = 0; i < POLLUX_MAX_CORES; i++)
			idle[i] = !strcmp(one, "halt") ? SCHED_IDLE_HALT : SCHED_IDLE_POLL;
		return;
	}
	for (size_t i = 0; i < schema_val_len(v) && i < POLLUX_MAX_CORES; i++)
		idle[i] = !strcmp(schema_val_str(schema_val_at(v, i)), "halt") ? SCHED_IDLE_HALT
										 : SCHED_IDLE_POLL;
}

#define F(x) .off = offsetof(struct sched_config, x)

const struct schema_node sched_schema[] = {
	{ .key = "idle", .kind = SK_ONE_OF, .sub = idle_one, .fill = idle_fill, F(idle),
	  .msg = "must be \"poll\", \"halt\" or a list of them",
	  .doc = "Idle policy (default: core 0 halts, data cores poll)." },
	{ .key = "halt_after", .kind = SK_INTEGER, .min = 1, .max = 1000000,
	  .type = ST_U32, F(halt_after), .def = 64,
	  .doc = "Idle turns before a halting core sleeps (default 64)." },
	{ .key = "halt_max_us", .kind = SK_INTEGER, .min = 10, .max = 1000000,
	  .type = ST_U32, F(halt_max_us), .def = 1000,
	  .doc = "Longest sleep of a halting core with a poller no interrupt can wake "
		 "(no MSI-X, hosted vhost-user, TX waiting for ring room), in microseconds "
		 "(default 1000)." },
	{ .key = "arena_kib", .kind = SK_INTEGER, .min = 64, .max = 1 << 20,
	  .type = ST_U32, F(arena_kib), .def = 1024,
	  .doc = "Each core's start-up arena in KiB (default 1024)." },
	{ .key = "channel_slots", .kind = SK_INTEGER, .flags = SF_POW2, .min = 4, .max = 65536,
	  .type = ST_U32, F(chan_slots), .def = 256,
	  .doc = "Slots of each inter-core channel (default 256)." },
	END
};
