/*
 * telemetry.c — the one walk over the running appliance's counters: the
 * packet pools, every NIC queue pair, each core's loop and stack. It
 * fills a struct api_stats (api/api.h), which the API renders as
 * /metrics, /v1/cores and /v1/interfaces (backend.c) and the console
 * prints as netstat (netstat.c).
 *
 * Control core only. Every counter belongs to the core that writes it;
 * this file reads them through each subsystem's own interface
 * (pktbuf_pool_usage, netdev_queue_stats, sched_stats, net_stats), all
 * relaxed loads, so a snapshot never stops or slows a data core. The
 * result is not one instant: the counters move while it is taken. The
 * pools are read first and the queues right after them, so the buffer
 * accounting (free + posted + held = total) holds whenever traffic is
 * still.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <stddef.h>
#include "api/api.h"
#include "appliance/appliance.h"
#include "apps/httpd.h"
#include "apps/httpd_site.h"
#include "apps/kv.h"
#include "core/config.h"
#include "core/core.h"
#include "core/frame.h"
#include "core/platform.h"
#include "drivers/netdev.h"
#include "net/net.h"
#include "pkt/pktbuf.h"
#include "sched/sched.h"

/* the snapshot holds everything there can be: netstat shows it all */
_Static_assert(API_MAX_CORES >= POLLUX_MAX_CORES, "a core the snapshot can't hold");
_Static_assert(API_MAX_IFS >= NETDEV_MAX, "a device the snapshot can't hold");
_Static_assert(API_MAX_QUEUES >= NETDEV_MAX_QUEUES, "a queue pair the snapshot can't hold");

static void iface_snapshot(int i, struct api_iface_stats *f)
{
	struct netdev *d = netdev_get(i);
	snprintf(f->name, sizeof f->name, "%s", netdev_name(d));
	netdev_mac(d, f->mac);
	f->mtu = netdev_mtu(d);
	f->link_up = netdev_link_up(d);
	f->nqueues = netdev_queues(d);
	if (f->nqueues > API_MAX_QUEUES)
		f->nqueues = API_MAX_QUEUES;
	if (i < net_if_count()) {
		uint16_t mtu;
		net_if_info(i, &f->addr, &f->prefix, &f->gw, &mtu);
	}
	for (uint16_t q = 0; q < f->nqueues; q++) {
		struct netdev_queue_stats s;
		struct api_queue_stats *o = &f->q[q];
		netdev_queue_stats(d, q, &s);
		o->core = netdev_queue_core(d, q);
#define COPY_QUEUE(field, ...) o->field = s.field;
		NETDEV_QUEUE_STATS_FIELDS(COPY_QUEUE)
#undef COPY_QUEUE
		o->broken = s.broken;
	}
}

static void core_snapshot(uint32_t c, struct api_core_stats *o)
{
	struct sched_stats ss;
	sched_stats(c, &ss);
	o->role = c == 0 ? "control" : "data";
	o->turns = ss.turns;
	o->busy_turns = ss.busy_turns;
	o->busy_cycles = ss.busy_cycles;
	o->idle_cycles = ss.idle_cycles;
	o->sleeps = ss.sleeps;
	o->sleeps_timed = ss.sleeps_timed;
	o->msgs_in = ss.msgs_in;
	o->msgs_out = ss.msgs_out;
	o->chan_full = ss.chan_full;
	o->timers_fired = ss.timers_fired;
	o->chan_depth_in = ss.chan_depth_in;
	o->timers_armed = (uint32_t)ss.timers_armed;
	if (net_if_count()) {
		net_stats(c, &o->net);
		o->tcp_conns = net_tcp_conns(c);
	}
}

void appliance_telemetry_snapshot(struct api_stats *st)
{
	memset(st, 0, sizeof *st);
	st->ncores = cores_count() < API_MAX_CORES ? cores_count() : API_MAX_CORES;
	for (uint32_t c = 0; c < st->ncores; c++) {
		struct pktbuf_pool_usage u;
		pktbuf_pool_usage((uint16_t)c, &u);
		st->pool_free += u.free;
		st->pool_total += u.total;
		st->pool_ext_free += u.ext_free;
		st->pool_ext_total += u.ext_total;
	}
	int n = netdev_count();
	st->nifs = n < API_MAX_IFS ? (uint32_t)n : API_MAX_IFS;
	for (uint32_t i = 0; i < st->nifs; i++)
		iface_snapshot((int)i, &st->ifs[i]);
	for (uint32_t c = 0; c < st->ncores; c++)
		core_snapshot(c, &st->core[c]);
}

/* ---- the appliances' own counters (GET /v1/<app>, pollux_<app>_*) */

/* kv: its shard's store counters and its connections' (apps/kv.h), per
 * data core; memcached's names where it has one. */
#define KVS(f, n, h, g) { { n, h, g }, offsetof(struct kv_core_stats, store.f), \
			  sizeof(((struct kv_core_stats *)0)->store.f) }
#define KVC(f, n, h, g) { { n, h, g }, offsetof(struct kv_core_stats, f), sizeof(((struct kv_core_stats *)0)->f) }
static const struct kv_metric {
	struct api_app_metric m;
	size_t off, size;
} kv_metrics[] = {
	KVS(curr_items, "curr_items", "Items stored now in this core's shard.", 1),
	KVS(total_items, "total_items_total", "Items ever stored in this core's shard.", 0),
	KVS(bytes, "bytes", "Bytes of keys and values stored now (memcached's bytes).", 1),
	KVS(limit_maxbytes, "limit_maxbytes", "This shard's share of kv.memory_mb, bytes.", 1),
	KVS(pages_total, "pages", "Pages of the shard's arena.", 1),
	KVS(pages_free, "pages_free", "Pages not yet given to a slab class.", 1),
	KVS(get_hits, "get_hits_total", "Reads that found their key.", 0),
	KVS(get_misses, "get_misses_total", "Reads that did not.", 0),
	KVS(get_expired, "get_expired_total", "Reads that found their key expired.", 0),
	KVS(get_flushed, "get_flushed_total", "Reads that found their key flushed.", 0),
	KVS(cmd_set, "cmd_set_total", "Store commands.", 0),
	KVS(cmd_touch, "cmd_touch_total", "Touch commands.", 0),
	KVS(cmd_flush, "cmd_flush_total", "flush_all commands.", 0),
	KVS(delete_hits, "delete_hits_total", "Deletes that found their key.", 0),
	KVS(delete_misses, "delete_misses_total", "Deletes that did not.", 0),
	KVS(incr_hits, "incr_hits_total", "incr that found their key.", 0),
	KVS(incr_misses, "incr_misses_total", "incr that did not.", 0),
	KVS(decr_hits, "decr_hits_total", "decr that found their key.", 0),
	KVS(decr_misses, "decr_misses_total", "decr that did not.", 0),
	KVS(cas_hits, "cas_hits_total", "cas that stored.", 0),
	KVS(cas_misses, "cas_misses_total", "cas of a missing key.", 0),
	KVS(cas_badval, "cas_badval_total", "cas with a stale unique.", 0),
	KVS(touch_hits, "touch_hits_total", "Touches that found their key.", 0),
	KVS(touch_misses, "touch_misses_total", "Touches that did not.", 0),
	KVS(evictions, "evictions_total", "Live items evicted for room (LRU).", 0),
	KVS(expired_unfetched, "expired_unfetched_total", "Items expired before anyone read them.", 0),
	KVS(evicted_unfetched, "evicted_unfetched_total", "Items evicted before anyone read them.", 0),
	KVS(reclaimed, "reclaimed_total", "Expired or flushed items whose memory was reused.", 0),
	KVS(out_of_memory, "out_of_memory_total", "Stores refused: no memory and no eviction.", 0),
	KVS(too_large, "too_large_total", "Stores refused: over kv.item_size_max.", 0),
	KVC(curr_conns, "connections", "Client connections open now on this core.", 1),
	KVC(total_conns, "connections_accepted_total", "Client connections accepted.", 0),
	KVC(refused, "connections_refused_total", "Connections refused: every slot of the core taken.", 0),
	KVC(idle_resets, "idle_resets_total", "Connections reset after kv.idle_timeout_s of silence.", 0),
	KVC(closed_bad, "closed_bad_input_total",
	    "Connections closed for bad input (a line too long, a data block whose length lied).", 0),
	KVC(answer_overflow, "answer_overflow_total", "Connections closed: an answer no buffer could hold.", 0),
	KVC(send_timeouts, "send_timeouts_total",
	    "Connections reset: they held messages and took no bytes for kv.send_timeout_s.", 0),
	KVC(share_waits, "share_waits_total", "Times a connection's input waited: it held its share of messages.", 0),
	KVC(reserve_waits, "reserve_waits_total",
	    "Times a connection's input waited: past its few messages, the pool at its reserve.", 0),
	KVC(big_waits, "big_waits_total", "Times an answer or a store's value waited for a large message.", 0),
	KVC(value_timeouts, "value_timeouts_total",
	    "Connections reset: a value still arriving into a message kv.send_timeout_s after it began.", 0),
	KVC(ops, "ops_total", "Operations executed on this core's shard.", 0),
	KVC(cross_core, "cross_core_ops_total", "Operations this core sent to another core's shard.", 0),
	KVC(cross_msgs, "cross_core_msgs_total", "Messages those took (a multi-get batches per shard).", 0),
	KVC(no_msg, "no_msg_total", "Times a message was wanted and none was free.", 0),
	KVC(chan_retries, "chan_retries_total", "Times a channel was full and the message went a turn later.", 0),
	KVC(bytes_read, "bytes_read_total", "Bytes received from clients.", 0),
	KVC(bytes_written, "bytes_written_total", "Bytes sent to clients.", 0),
	KVC(conn_slots, "conn_slots", "Connection slots of this core.", 1),
	KVC(conn_slots_free, "conn_slots_free", "Connection slots free now.", 1),
	KVC(msgs, "msgs", "Cross-core messages of this core.", 1),
	KVC(msgs_free, "msgs_free", "Cross-core messages free now.", 1),
	KVC(bigs, "big_msgs", "Large answer messages of this core.", 1),
	KVC(bigs_free, "big_msgs_free", "Large answer messages free now.", 1),
};
#define KV_NMETRICS (sizeof kv_metrics / sizeof kv_metrics[0])
_Static_assert(KV_NMETRICS <= API_APP_METRICS_MAX, "kv has more counters than the API holds");

/* httpd: requests, bytes and responses by status class, connections
 * (apps/httpd.h), per data core */
#define HC(f, n, h, g) { { n, h, g }, offsetof(struct httpd_core_stats, f), \
			 sizeof(((struct httpd_core_stats *)0)->f) }
static const struct kv_metric httpd_metrics[] = {
	HC(requests, "requests_total", "Requests answered (every status).", 0),
	HC(status[1], "responses_1xx_total", "Responses with a 1xx status.", 0),
	HC(status[2], "responses_2xx_total", "Responses with a 2xx status.", 0),
	HC(status[3], "responses_3xx_total", "Responses with a 3xx status (301, 304).", 0),
	HC(status[4], "responses_4xx_total", "Responses with a 4xx status.", 0),
	HC(status[5], "responses_5xx_total", "Responses with a 5xx status.", 0),
	HC(bytes_out, "bytes_sent_total", "Bytes of heads and bodies taken by the stack.", 0),
	HC(body_bytes, "file_bytes_sent_total", "Bytes of files among them.", 0),
	HC(curr_conns, "connections", "Client connections open now on this core.", 1),
	HC(accepted, "connections_accepted_total", "Client connections accepted.", 0),
	HC(refused, "connections_refused_total", "Connections refused: every slot of the core taken.", 0),
	HC(idle_resets, "idle_resets_total", "Connections reset after httpd.idle_timeout_s of silence.", 0),
	HC(input_resets, "input_resets_total",
	   "Connections reset: pipelined input beyond the input buffer while an answer went out.", 0),
	HC(log_lines, "access_log_lines_total", "Access-log lines written (the ring keeps the last 64).", 0),
	HC(conn_slots, "conn_slots", "Connection slots of this core.", 1),
	HC(conn_slots_free, "conn_slots_free", "Connection slots free now.", 1),
	HC(sites_pinned, "responses_sending", "Responses sending file bytes now (each pins its site).", 1),
};
#define HTTPD_NMETRICS (sizeof httpd_metrics / sizeof httpd_metrics[0])
_Static_assert(HTTPD_NMETRICS <= API_APP_METRICS_MAX, "httpd has more counters than the API holds");

static void httpd_app_stats(struct api_app_stats *out)
{
	static struct api_app_metric names[HTTPD_NMETRICS];
	for (size_t k = 0; k < HTTPD_NMETRICS; k++)
		names[k] = httpd_metrics[k].m;
	out->app = "httpd";
	out->m = names;
	out->nmetrics = HTTPD_NMETRICS;
	out->ncores = cores_count() < API_MAX_CORES ? cores_count() : API_MAX_CORES;
	for (uint32_t c = 0; c < out->ncores; c++) {
		struct httpd_core_stats hs;
		httpd_core_stats(c, &hs);
		if (!hs.data)
			continue;
		out->on[c] = 1;
		for (size_t k = 0; k < HTTPD_NMETRICS; k++) {
			const unsigned char *p = (const unsigned char *)&hs + httpd_metrics[k].off;
			uint64_t v;
			if (httpd_metrics[k].size == sizeof(uint64_t)) {
				memcpy(&v, p, sizeof v);
			} else {
				uint32_t v32;
				memcpy(&v32, p, sizeof v32);
				v = v32;
			}
			out->v[c][k] = v;
		}
	}
}

void appliance_app_stats(struct api_app_stats *out)
{
	static struct api_app_metric names[KV_NMETRICS];
	if (httpd_running()) {
		httpd_app_stats(out);
		return;
	}
	if (!kv_running())
		return;
	for (size_t k = 0; k < KV_NMETRICS; k++)
		names[k] = kv_metrics[k].m;
	out->app = "kv";
	out->m = names;
	out->nmetrics = KV_NMETRICS;
	out->ncores = cores_count() < API_MAX_CORES ? cores_count() : API_MAX_CORES;
	for (uint32_t c = 0; c < out->ncores; c++) {
		struct kv_core_stats ks;
		memset(&ks, 0, sizeof ks);
		kv_core_stats(c, &ks);
		if (!ks.data)
			continue;
		out->on[c] = 1;
		for (size_t k = 0; k < KV_NMETRICS; k++) {
			const unsigned char *p = (const unsigned char *)&ks + kv_metrics[k].off;
			uint64_t v;
			if (kv_metrics[k].size == sizeof(uint64_t)) {
				memcpy(&v, p, sizeof v);
			} else {
				uint32_t v32;
				memcpy(&v32, p, sizeof v32);
				v = v32;
			}
			out->v[c][k] = v;
		}
	}
}

int appliance_app_action(const char *app, const char *action, char *err, size_t errlen)
{
	if (strcmp(app, "kv") || !kv_running())
		return -ENOENT;
	if (strcmp(action, "flush")) {
		snprintf(err, errlen, "no action %s", action);
		return -EINVAL;
	}
	int rc = kv_flush_all();
	if (rc && rc != -ENOENT)
		snprintf(err, errlen, "a shard's channel was full: some shards were flushed, try again");
	return rc;
}

/* httpd's access log: every core's ring, core by core, oldest first */
int appliance_app_log(const char *app, char **text, size_t *len)
{
	if (strcmp(app, "httpd") || !httpd_running())
		return -ENOENT;
	size_t cap = (size_t)cores_count() * HTTPD_ACCESS_LOG_BYTES + 1;
	char *t = malloc(cap);
	if (!t)
		return -ENOMEM;
	size_t n = 0;
	t[0] = 0;
	for (uint32_t c = 0; c < cores_count(); c++)
		n += httpd_access_log(c, t + n, cap - n);
	*text = t;
	*len = n;
	return 0;
}

/* ---- httpd's site through the API (PUT and GET /v1/site), core 0 only.
 *
 * A new site's archive is copied out of the request into device-visible
 * frames (frame_alloc_dma_pages: the memfd a vhost-user backend maps on
 * hosted, any frames on metal), so the stack can point descriptors at
 * its file bytes without copying them; when those frames run out it is
 * copied into the heap instead (correct, the sends then copy). httpd
 * indexes and publishes it (httpd_site_replace: publish-and-quiesce) and
 * hands the archive back through site_copy_free when the last response
 * sending from it ends, on whichever core that is (both frees take a
 * lock). site_cur is the archive being served: the last one published
 * here, or the boot module's; it is never freed while it is current
 * (only a later PUT retires it, on this core), so GET can index it
 * again to list it. */
struct site_copy {
	void *p;
	size_t npages;                  /* 0: malloc'd */
};
static struct {
	const void *ar;                 /* NULL: the boot module's (or none) */
	size_t len;
} site_cur;
static const uint8_t site_empty[1024];  /* an archive of nothing */

static void site_copy_free(const void *archive, void *ctx)
{
	struct site_copy *k = ctx;
	if (k->npages)
		frame_free_dma_pages(k->p, k->npages);
	else
		free(k->p);
	free(k);
}

static const char *site_default_type(void)
{
	json_t *t = json_object_get(json_object_get(config_root(), "httpd"), "default_type");
	return json_is_string(t) ? json_string_value(t) : NULL;
}

/* the archive being served, indexed again (a new block, freed here) */
int appliance_site_list(void (*fn)(void *ctx, const struct api_site_entry *e), void *ctx,
			struct api_site_summary *sum)
{
	if (!httpd_running())
		return -ENOENT;
	const void *ar = site_cur.ar;
	size_t len = site_cur.len;
	if (!ar && !(ar = platform_boot_archive(&len))) {
		ar = site_empty;
		len = sizeof site_empty;
	}
	struct httpd_site_opts o = { .default_type = site_default_type() };
	struct httpd_site *s;
	char err[160];
	int rc = httpd_site_build(ar, len, &o, &s, err, sizeof err);
	if (rc)         /* it was indexed when it was published: only memory can fail */
		return -ENOMEM;
	const struct httpd_site_stats *st = httpd_site_stats(s);
	sum->files = st->files;
	sum->dirs = st->dirs;
	sum->bytes = st->bytes;
	for (size_t i = 0; fn && i < httpd_site_count(s); i++) {
		const struct httpd_site_file *f = httpd_site_at(s, i);
		if (f->kind != HTTPD_SITE_FILE)
			continue;
		struct api_site_entry e = { .path = f->path, .size = f->size, .etag = f->etag,
					    .type = f->type, .mtime = f->mtime };
		fn(ctx, &e);
	}
	httpd_site_free(s);
	return 0;
}

int appliance_site_put(const void *tar, size_t len, struct api_site_summary *sum, char *err, size_t errlen)
{
	if (!httpd_running())
		return -ENOENT;
	struct site_copy *k = calloc(1, sizeof *k);
	if (!k) {
		snprintf(err, errlen, "no memory for the site");
		return -ENOMEM;
	}
	size_t npages = (len + FRAME_SIZE - 1) / FRAME_SIZE;
	if ((k->p = frame_alloc_dma_pages(npages))) {
		k->npages = npages;
	} else if (!(k->p = malloc(len))) {
		free(k);
		snprintf(err, errlen, "no memory for a site of %zu bytes", len);
		return -ENOMEM;
	} else {
		klog("httpd: no device-visible frames for a %zu-byte site: it is sent by copying", len);
	}
	memcpy(k->p, tar, len);
	int rc = httpd_site_replace(k->p, len, site_copy_free, k, err, errlen);
	if (rc) {
		site_copy_free(k->p, k);
		return rc;
	}
	site_cur.ar = k->p;
	site_cur.len = len;
	/* the summary: an index of the same archive (cannot be refused now) */
	if (appliance_site_list(NULL, NULL, sum))
		memset(sum, 0, sizeof *sum);
	return 0;
}
