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

/* netstat.c: core 0 prints every queue's counters and the buffer
 * accounting every period_ms (the `netstat=MS` command-line word), from
 * a telemetry snapshot. */
void appliance_netstat_start(uint64_t period_ms);

/* backend.c: the running appliance as the API sees it (control core). */
extern const struct api_backend api_runtime_backend;
int api_runtime_shutdown_asked(void);   /* POST /v1/system/shutdown was answered */
struct api_runtime_opts {
	const char *token;              /* NULL: only client certificates */
	uint16_t port;
	struct api_tls_opts tls;
};
/* Reads the config's "api" object (strings borrowed from cfg): 1 when
 * present, 0 when absent (no API), -EINVAL with the field in err. */
int api_runtime_opts(const json_t *cfg, uint16_t default_port, struct api_runtime_opts *o,
		     char *err, size_t errlen);

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
 * Returns 0 (also without "api"), or -errno with a reason in err
 * ("config: ..." for a bad api section). */
int api_start(const json_t *cfg, char *err, size_t errlen);
#endif
