/*
 * kv.h — the `kv` appliance (kv.c) to the rest of the appliance: its
 * counters per core for telemetry (/metrics, GET /v1/kv) and flush_all
 * for the API (POST /v1/kv/flush). Its protocol side (the `stats`
 * family) is kv_proto.h's kv_stats_collect / kv_stats_conns, which kv.c
 * implements.
 *
 * Contract for readers: every function here may be called from any core
 * (the control core, or a data core answering `stats`). The counters are
 * single-writer (each data core writes its own) and read with relaxed
 * loads, so a reading is not one instant: sums move while they are taken.
 * A shard's store counters are mirrored by its core at the end of every
 * loop turn (and its slab classes once a second), so another core sees
 * them at most a turn (a second) late; the calling core's own shard is
 * read exact.
 */
#ifndef POLLUX_APPS_KV_H
#define POLLUX_APPS_KV_H
#include <stdint.h>
#include "apps/kv_store.h"

struct kv_core_stats {
	int data;                       /* 0: this core has no shard (the rest is 0) */
	struct kv_shard_stats store;    /* its shard's counters (kv_store.h) */
	uint64_t curr_conns, total_conns, refused, idle_resets;
	uint64_t closed_bad;            /* closed after a line too long, a lying data block... */
	uint64_t answer_overflow;       /* an answer no buffer could hold: closed (can't happen) */
	uint64_t send_timeouts;         /* reset: held messages, no bytes taken for kv.send_timeout_s */
	uint64_t share_waits;           /* input held: the connection had its share of messages */
	uint64_t reserve_waits;         /* input held: past its few, the pool at its reserve */
	uint64_t big_waits;             /* an answer or a store's value waited for a big message */
	uint64_t value_timeouts;        /* reset: a value still arriving kv.send_timeout_s on */
	uint64_t ops;                   /* ops executed on this shard */
	uint64_t cross_core;            /* ops this core sent to another core's shard */
	uint64_t cross_msgs;            /* ...in how many messages (multi-gets batch) */
	uint64_t no_msg;                /* a message wanted, none free */
	uint64_t chan_retries;          /* a channel was full: sent again next turn */
	uint64_t bytes_read, bytes_written;
	uint32_t conn_slots, conn_slots_free;
	uint32_t msgs, msgs_free, bigs, bigs_free;
};

/* whether the kv appliance runs */
int kv_running(void);
void kv_core_stats(uint32_t core, struct kv_core_stats *out);
/* Control core: flush_all now on every shard, each on its own core (the
 * call is queued: it takes effect within a loop turn there). 0, -ENOENT
 * (kv does not run) or -ENOBUFS (a channel was full: shards before it
 * were flushed; call again). */
int kv_flush_all(void);
#endif
