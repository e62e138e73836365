/*
 * apps.h — the appliances. The config's "app" names one row of the
 * appliance table (apps.c); apps_init sets it up on core 0 at start-up
 * (pollers on the data cores) before any core enters its loop.
 *
 * Adding an appliance: its own file (its settings' schema table and its
 * init, apply and stats functions) plus one row in apps_table; an
 * appliance with settings also declares its struct below and a member of
 * struct apps_config for it.
 *
 * Configuration reaches the appliances as typed structs filled by the
 * schema engine (core/schema.h) from a document that passed validation:
 * what is left for init to refuse depends on the machine (a device index
 * beyond the devices present) and is reported as "l2fwd.pairs[0][1]: no
 * device 3 (have 1)", the bad field's path first.
 */
#ifndef POLLUX_APPS_H
#define POLLUX_APPS_H
#include <stddef.h>
#include <stdint.h>
#include "core/schema.h"
#include "sched/timer.h"

#define APPS_MAX_PAIRS 8

/* "l2fwd": devices not in any pair forward to themselves */
struct l2fwd_config {
	uint32_t mode;                  /* 0: macswap, 1: io */
	uint32_t burst;
	struct l2fwd_pairs {
		uint32_t n;
		uint8_t dev[APPS_MAX_PAIRS][2];
	} pairs;
};

/* "echo" */
struct echo_config {
	uint32_t idle_timeout_s;        /* 0: none */
};

/* "iperf" */
struct iperf_config {
	uint32_t idle_timeout_s;        /* 0: none */
};

/* "web" */
struct web_config {
	uint16_t port;
	const char *body;               /* NULL: the default body */
	uint32_t idle_timeout_s;        /* 0: none */
};

/* "proxy" */
struct proxy_config {
	uint16_t listen;
	struct proxy_backend {
		uint32_t addr;          /* host byte order */
		uint16_t port;
	} backend;
	uint32_t idle_timeout_s;        /* 0: none */
};

/* "kv" (src/apps/kv.c, docs/kv.md) */
struct kv_config {
	uint16_t port;
	uint32_t memory_mb;             /* all shards together */
	uint32_t item_size_max;
	uint32_t evict;                 /* boolean */
	uint32_t max_conns;             /* all data cores together */
	uint32_t idle_timeout_s;        /* 0: none */
	uint32_t send_timeout_s;        /* held messages, no bytes taken: reset */
};

/* "httpd" (src/apps/httpd.c, docs/httpd.md) */
struct httpd_config {
	uint16_t port;
	const char *default_type;       /* NULL: application/octet-stream */
	const char *server;             /* NULL: "pollux"; "": no Server header */
	uint32_t max_conns;             /* all data cores together */
	uint32_t idle_timeout_s;        /* 0: none */
	uint32_t keepalive_requests;    /* per connection; 0: no limit */
	/* not from the document: the boot module when it is a tar archive
	 * (platform_boot_archive, set by the composition root); NULL: none */
	const void *archive;
	size_t archive_len;
};

/* "app" and each appliance's own section */
struct apps_config {
	int app;                        /* index in apps_table; -1: none (just the runtime) */
	struct l2fwd_config l2fwd;
	struct echo_config echo;
	struct iperf_config iperf;
	struct web_config web;
	struct proxy_config proxy;
	struct kv_config kv;
	struct httpd_config httpd;
};


/* One appliance. */
struct app {
	const char *name;               /* the value of "app" */
	/* its settings: an object row keyed by its name whose offset is the
	 * member of struct apps_config (NULL: it has none) */
	const struct schema_node *schema;
	int needs_net;                  /* needs "interfaces" (the TCP/IP stack) */
	/* core 0, start-up: returns 0, or -errno with the bad field's path
	 * (or the failing resource) in err */
	int (*init)(const struct apps_config *cfg, char *err, size_t errlen);
	/* core 0, run time, in two steps so that PUT /v1/config is all or
	 * nothing: prepare does everything that can fail (allocating what
	 * next's run-time settings, rows flagged SF_RUNTIME, need) and
	 * returns it in *pending (NULL: nothing to change), releasing what
	 * it took when it fails; then commit makes it live and cannot fail.
	 * NULL prepare: nothing can change at run time. */
	int (*prepare)(const struct apps_config *next, void **pending, char *err, size_t errlen);
	void (*commit)(void *pending);
	/* counters for telemetry; NULL: none beyond the stack's */
	void (*stats)(void *out);
};

/* The appliance table, ending with a row whose name is NULL. */
extern const struct app apps_table[];

/* The rows of the config's root object that belong to the appliances
 * ("app" and every appliance's section), offsets from struct apps_config. */
extern const struct schema_node apps_schema[];

/* Sets up cfg->app's appliance (none: returns 0). Returns 0 or -errno with
 * the reason in err; an error is the config's (for this machine). */
int apps_init(const struct apps_config *cfg, char *err, size_t errlen);
/* Core 0, run time: next's run-time settings for the running appliance,
 * in two steps (the row's prepare and commit). apps_prepare returns 0
 * with *pending for the apps_commit that must follow, or -errno with the
 * reason in err and nothing held or changed; apps_commit cannot fail. */
int apps_prepare(const struct apps_config *next, void **pending, char *err, size_t errlen);
void apps_commit(const struct apps_config *next, void *pending);

/* each appliance's entry points (its row in apps_table) */
extern const struct schema_node l2fwd_schema, echo_schema, iperf_schema, web_schema, proxy_schema,
	kv_schema, httpd_schema;
int l2fwd_init(const struct apps_config *cfg, char *err, size_t errlen);
int echo_init(const struct apps_config *cfg, char *err, size_t errlen);
int iperf_init(const struct apps_config *cfg, char *err, size_t errlen);
int web_init(const struct apps_config *cfg, char *err, size_t errlen);
int web_prepare(const struct apps_config *next, void **pending, char *err, size_t errlen);
void web_commit(void *pending);
int proxy_init(const struct apps_config *cfg, char *err, size_t errlen);
int kv_init(const struct apps_config *cfg, char *err, size_t errlen);
int httpd_init(const struct apps_config *cfg, char *err, size_t errlen);

/* Idle timeouts: a silent peer must not hold a connection (and its slot)
 * for ever. An appliance keeps one struct apps_idle in each connection's
 * (or pair's) context: apps_idle_start at accept, apps_idle_touch on
 * every sign of life (bytes in, send room back), apps_idle_stop before
 * the context is given back. When nothing has touched it for the timeout,
 * `expired` runs (on the owner core, from its timer wheel): the appliance
 * ends its connection(s) there, with tcp_abort_idle (counted). The check
 * is lazy (one timer per connection, re-armed at the last touch plus the
 * timeout when it fires early), so a touch is a store. Owner core only. */
struct apps_idle {
	struct timer t;
	uint64_t last_ns, timeout_ns;
	void (*expired)(struct apps_idle *i);
};
/* timeout_s 0: never expires (touch and stop still may be called) */
void apps_idle_start(struct apps_idle *i, uint32_t timeout_s, void (*expired)(struct apps_idle *i));
static inline void apps_idle_touch(struct apps_idle *i) { i->last_ns = time_ns(); }
void apps_idle_stop(struct apps_idle *i);
/* The schema row "idle_timeout_s" of an appliance's table, at offset off
 * of its config struct, default def seconds. */
#define APPS_IDLE_TIMEOUT_ROW(off_, def_, what_) \
	{ .key = "idle_timeout_s", .kind = SK_INTEGER, .min = 0, .max = 86400, .type = ST_U32, \
	  .off = (off_), .def = (def_), \
	  .doc = "Seconds " what_ " may go without a byte in or send room back before it is " \
		 "reset (counted: tcp_idle_aborts); 0: never (default " #def_ ")." }

/* Per-core free lists of an app's connection contexts, made at start-up:
 * n objects of `size` bytes from frame memory, chained through their
 * first member (a pointer). NULL when memory runs out. */
void *apps_free_list(size_t size, unsigned n);
/* the owner core's list: take one (NULL: none left) / give one back */
static inline void *apps_take(void **head)
{
	void *o = *head;
	if (o)
		*head = *(void **)o;
	return o;
}
static inline void apps_give(void **head, void *o)
{
	*(void **)o = *head;
	*head = o;
}
#endif
