/*
 * appliance.h — the composition root's private interface (src/appliance/):
 * the one folder that includes every other. main.c starts the subsystems
 * in order; the files here are what it calls that no lower layer may own:
 * device probing per platform, the API's backend and listeners, the
 * telemetry snapshot, the self-test dispatcher. Nothing outside
 * src/appliance/ includes this.
 */
#ifndef POLLUX_APPLIANCE_H
#define POLLUX_APPLIANCE_H
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "api/api.h"
#include "apps/apps.h"
#include "drivers/netdev.h"
#include "net/net.h"
#include "pkt/pktbuf.h"
#include "sched/sched.h"
#include "core/schema.h"

/* config.c: the whole config, typed: each subsystem's struct, filled by
 * the schema engine from the root table appliance_schema (which assembles
 * every subsystem's own table). Strings are borrowed from the document. */
struct appliance_config {
	const char *name;               /* NULL: none */
	struct apps_config apps;        /* "app", "l2fwd", "web", "proxy" */
	struct sched_config sched;      /* "cores" */
	struct net_config net;          /* "interfaces", "tcp" */
	struct pkt_config pool;         /* "pool" */
	struct netdev_config nic;       /* "nic" */
	struct api_config api;          /* "api" */
};
extern const struct schema_node appliance_schema;
/* Validates the whole document and fills c from it (defaults where
 * absent). Returns 0, or -EINVAL with "path: reason" in err (the message
 * PUT /v1/config answers with 400, but printable: the console shows it,
 * so a control character from a key of the document becomes ?) and c
 * untouched. */
int appliance_config_read(const json_t *doc, struct appliance_config *c, char *err, size_t errlen);

/* probe_metal.c / probe_hosted.c (the Makefile picks one): finds the
 * platform's devices and registers them with their transports. Returns
 * how many network devices, or -errno with a message in err. */
int appliance_probe_devices(char *err, size_t errlen);

/* selftest.c: runs test NAME (sched's, the appliance's, the platform's),
 * prints "selftest NAME: ok" or "... FAILED"; 0 when it passed. */
int appliance_selftest(const char *name);

/* telemetry.c: fills *out whole with every counter of the running
 * appliance (pools, queues, cores), read by relaxed loads: what the API's
 * stats callback returns and netstat prints. Core 0 only; out is large
 * (tens of KiB): keep it on the heap, not on a stack. */
void appliance_telemetry_snapshot(struct api_stats *out);
/* The running appliance's own counters (kv's today) and actions, for the
 * API backend: what api_backend.app_stats / app_action say. */
struct api_app_stats;
void appliance_app_stats(struct api_app_stats *out);
int appliance_app_action(const char *app, const char *action, char *err, size_t errlen);
int appliance_app_log(const char *app, char **text, size_t *len);
/* httpd's site (api_backend.site_put / site_list, api.h): -ENOENT when
 * httpd is not running. Core 0 only. */
struct api_site_entry;
struct api_site_summary;
int appliance_site_put(const void *tar, size_t len, struct api_site_summary *sum, char *err, size_t errlen);
int appliance_site_list(void (*fn)(void *ctx, const struct api_site_entry *e), void *ctx,
			struct api_site_summary *sum);

/* netstat.c: core 0 prints every queue's counters and the buffer
 * accounting every period_ms (the `netstat=MS` command-line word), from
 * a telemetry snapshot. */
void appliance_netstat_start(uint64_t period_ms);

/* backend.c: the running appliance as the API sees it (control core);
 * the running config is the document config_root(). appliance_backend_init
 * reads what may change at run time from the schema (SF_RUNTIME rows),
 * once, before the API starts. */
extern const struct api_backend api_runtime_backend;
void appliance_backend_init(void);
int api_runtime_shutdown_asked(void);   /* POST /v1/system/shutdown was answered */

/* Starts the API's listener (main.c, core 0, after net_init and
 * apps_init, before the other cores run), one per platform (the Makefile
 * picks one):
 *  - the image (stack_listener.c): with an "api" object, tcp_listen
 *    (api.port, default 443) on the management interface (api.interface,
 *    an index in "interfaces", whose device netdev_set_control gave to
 *    core 0); no api.token and no api.client_ca: a token is generated
 *    and printed;
 *  - hosted (hosted_listener.c): a host socket on 127.0.0.1:api.port
 *    (default 8443) served from a poller on core 0.
 * Returns 0 (also without "api"), -EINVAL with "config: api...." in err
 * when the config is at fault for this machine (a port taken, a
 * certificate that doesn't parse), or another -errno when the machine is. */
int api_start(const struct appliance_config *cfg, char *err, size_t errlen);
#endif
