/*
 * httpd.h — the `httpd` appliance (httpd.c, docs/httpd.md "Appliance")
 * to the rest of the system: its counters per core for telemetry
 * (/metrics, GET /v1/httpd), its access log, and the site replacement.
 *
 * Contract for readers: httpd_core_stats and httpd_access_log may be
 * called from any core. The counters are single-writer (each data core
 * writes its own) and read with relaxed loads, so a reading is not one
 * instant. The access log is a ring of lines per core, each guarded by a
 * sequence number (a seqlock: the writer makes it odd, release fence,
 * writes the line, then stores it even with release; a reader loads it
 * with acquire, copies, fences with acquire and loads it again, and
 * drops a line whose number moved or was odd), so a reader never blocks
 * the data core and never returns a torn line.
 */
#ifndef POLLUX_APPS_HTTPD_H
#define POLLUX_APPS_HTTPD_H
#include <stddef.h>
#include <stdint.h>

struct httpd_core_stats {
	int data;                       /* 0: this core serves no connections (the rest is 0) */
	uint64_t requests;              /* answered (every status) */
	uint64_t status[6];             /* by class: [1] 1xx ... [5] 5xx ([0] unused) */
	uint64_t bytes_out;             /* heads and bodies taken by the stack */
	uint64_t body_bytes;            /* of those, file bytes */
	uint64_t curr_conns, accepted, refused, idle_resets;
	uint64_t input_resets;          /* pipelined input beyond the input buffer: reset */
	uint64_t log_lines;             /* access-log lines written (the ring keeps the last) */
	uint32_t conn_slots, conn_slots_free;
	uint32_t sites_pinned;          /* responses on this core sending from a site now */
};

/* whether the httpd appliance runs */
int httpd_running(void);
void httpd_core_stats(uint32_t core, struct httpd_core_stats *out);

/* The access log of one core, oldest line first, each in Combined Log
 * Format and ending "\n", into out (cap bytes, NUL-terminated; lines
 * that do not fit whole are left out). Returns the bytes written. */
size_t httpd_access_log(uint32_t core, char *out, size_t cap);
#define HTTPD_ACCESS_LOG_BYTES (64 * 320)  /* the most one core's ring holds */

/* Control core: indexes a new site from a tar archive (len bytes,
 * borrowed until archive_free(archive, ctx) is called, when the site is
 * freed; NULL: nothing) and publishes it: every request that starts
 * after this returns sees it; a response already sending from the old
 * site goes on from it, and the old site is freed (and its archive
 * handed back, on the control core) when the last reference to it goes:
 * the last such response's, or the stack's on its file bytes sent by
 * reference (dropped when acknowledged or when the connection goes).
 * 0, or -errno with the reason in err (nothing changed; archive_free
 * not called). */
int httpd_site_replace(const void *archive, size_t len, void (*archive_free)(const void *, void *),
		       void *ctx, char *err, size_t errlen);
#endif
