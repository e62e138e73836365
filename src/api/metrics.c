/*
 * metrics.c — the telemetry snapshot in the Prometheus text exposition
 * format (0.0.4): "# HELP", "# TYPE", then one line per sample,
 *   pollux_rx_packets_total{core="1",iface="eth0",queue="0"} 123
 *
 * Names follow Prometheus conventions: the "pollux_" prefix, base units
 * (bytes), "_total" on counters, reasons and places as labels rather than
 * in names. Families are tables so adding a counter is one line: the
 * per-core table below, the queue counters' list where they are declared
 * (NETDEV_QUEUE_STATS_FIELDS, drivers/netdev.h) and the stack's
 * (NET_STATS_FIELDS, net/net.h). Every family is written whole, HELP and
 * TYPE first, as the format requires.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "api/api_priv.h"

/* Label values escape backslash, double quote and newline. */
void api_metrics_label(struct api_buf *b, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\')
			api_buf_put(b, "\\\\", 2);
		else if (*v == '"')
			api_buf_put(b, "\\\"", 2);
		else if (*v == '\n')
			api_buf_put(b, "\\n", 2);
		else
			api_buf_put(b, v, 1);
	}
}

enum width { U64, U32 };

struct family {
	const char *name, *type, *help;
	size_t off;                     /* in the per-core or per-queue struct */
	enum width w;
	const char *reason;             /* a "reason" label, if any */
};

#define CORE(f) offsetof(struct api_core_stats, f)
static const struct family core_families[] = {
	{ "pollux_loop_turns_total", "counter", "Turns of the core's loop.", CORE(turns), U64, NULL },
	{ "pollux_loop_busy_turns_total", "counter", "Turns that found work.", CORE(busy_turns), U64, NULL },
	{ "pollux_loop_busy_cycles_total", "counter", "TSC cycles spent on turns that found work.",
	  CORE(busy_cycles), U64, NULL },
	{ "pollux_loop_idle_cycles_total", "counter", "TSC cycles spent idle.", CORE(idle_cycles), U64, NULL },
	{ "pollux_loop_sleeps_total", "counter", "Times the core halted until work arrived.", CORE(sleeps), U64, NULL },
	{ "pollux_channel_received_messages_total", "counter", "Messages the core took from its channels.",
	  CORE(msgs_in), U64, NULL },
	{ "pollux_channel_sent_messages_total", "counter", "Messages the core sent to other cores.",
	  CORE(msgs_out), U64, NULL },
	{ "pollux_channel_full_total", "counter", "Sends refused because a channel was full.",
	  CORE(chan_full), U64, NULL },
	{ "pollux_timers_fired_total", "counter", "Timers that fired on the core.", CORE(timers_fired), U64, NULL },
	{ "pollux_channel_depth_messages", "gauge", "Messages waiting for the core now.",
	  CORE(chan_depth_in), U32, NULL },
	{ "pollux_tcp_connections", "gauge", "TCP connections open on the core now.", CORE(tcp_conns), U32, NULL },
	{ "pollux_timers_armed", "gauge", "Timers armed on the core's wheel now.", CORE(timers_armed), U32, NULL },
};

/* The queue families: the rows of NETDEV_QUEUE_STATS_FIELDS
 * (drivers/netdev.h) that name a metric, in its order; a row with a help
 * text starts a family, the rows after it without one add samples to it. */
#define QUEUE_FAMILY(f, side, kind, metric, reason, help) \
	{ metric, #kind, help, offsetof(struct api_queue_stats, f), U64, reason },
static const struct family queue_families[] = { NETDEV_QUEUE_STATS_FIELDS(QUEUE_FAMILY) };

/* The stack's counters: those named drop_* or *_drop form one family
 * with a reason label, every other one a family of its own. */
struct net_field { const char *name; size_t off; };
#define NET_FIELD(f) { #f, offsetof(struct net_stats, f) },
static const struct net_field net_fields[] = { NET_STATS_FIELDS(NET_FIELD) };
#define NNET (sizeof net_fields / sizeof net_fields[0])

/* The reason of a drop counter ("drop_bad_ip_csum" -> "bad_ip_csum",
 * "arp_miss_drop" -> "arp_miss"), or NULL for other counters. */
static int net_reason(const char *f, char *out, size_t n)
{
	size_t len = strlen(f);
	if (!strncmp(f, "drop_", 5))
		snprintf(out, n, "%s", f + 5);
	else if (len > 5 && !strcmp(f + len - 5, "_drop"))
		snprintf(out, n, "%.*s", (int)(len - 5), f);
	else
		return 0;
	return 1;
}

static uint64_t field(const void *base, size_t off, enum width w)
{
	const char *p = (const char *)base + off;
	if (w == U32) {
		uint32_t v;
		memcpy(&v, p, sizeof v);
		return v;
	}
	uint64_t v;
	memcpy(&v, p, sizeof v);
	return v;
}

static void head(struct api_buf *b, const char *name, const char *type, const char *help)
{
	api_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void core_metrics(struct api_buf *b, const struct api_stats *st)
{
	for (size_t k = 0; k < sizeof core_families / sizeof core_families[0]; k++) {
		const struct family *f = &core_families[k];
		head(b, f->name, f->type, f->help);
		for (uint32_t c = 0; c < st->ncores; c++)
			api_buf_printf(b, "%s{core=\"%u\"} %llu\n", f->name, c,
				       (unsigned long long)field(&st->core[c], f->off, f->w));
	}
}

static void net_metrics(struct api_buf *b, const struct api_stats *st)
{
	char reason[48], name[96];
	for (size_t k = 0; k < NNET; k++) {
		if (net_reason(net_fields[k].name, reason, sizeof reason))
			continue;
		snprintf(name, sizeof name, "pollux_net_%s_total", net_fields[k].name);
		api_buf_printf(b, "# HELP %s The stack's %s counter.\n# TYPE %s counter\n",
			       name, net_fields[k].name, name);
		for (uint32_t c = 0; c < st->ncores; c++)
			api_buf_printf(b, "%s{core=\"%u\"} %llu\n", name, c,
				       (unsigned long long)field(&st->core[c].net, net_fields[k].off, U64));
	}
	head(b, "pollux_net_dropped_packets_total", "counter", "Packets the stack dropped, by reason.");
	for (size_t k = 0; k < NNET; k++) {
		if (!net_reason(net_fields[k].name, reason, sizeof reason))
			continue;
		for (uint32_t c = 0; c < st->ncores; c++)
			api_buf_printf(b, "pollux_net_dropped_packets_total{core=\"%u\",reason=\"%s\"} %llu\n",
				       c, reason, (unsigned long long)field(&st->core[c].net, net_fields[k].off, U64));
	}
}

static void queue_labels(struct api_buf *b, const struct api_iface_stats *f, uint16_t q)
{
	api_buf_printf(b, "{core=\"%u\",iface=\"", f->q[q].core);
	api_metrics_label(b, f->name);
	api_buf_printf(b, "\",queue=\"%u\"", q);
}

static void queue_metrics(struct api_buf *b, const struct api_stats *st)
{
	for (size_t k = 0; k < sizeof queue_families / sizeof queue_families[0]; k++) {
		const struct family *f = &queue_families[k];
		if (!f->name)                   /* shown on the console only */
			continue;
		if (f->help)                    /* the first row of its family */
			head(b, f->name, f->type, f->help);
		for (uint32_t i = 0; i < st->nifs; i++)
			for (uint16_t q = 0; q < st->ifs[i].nqueues; q++) {
				api_buf_printf(b, "%s", f->name);
				queue_labels(b, &st->ifs[i], q);
				if (f->reason)
					api_buf_printf(b, ",reason=\"%s\"", f->reason);
				api_buf_printf(b, "} %llu\n",
					       (unsigned long long)field(&st->ifs[i].q[q], f->off, f->w));
			}
	}
	head(b, "pollux_queue_broken", "gauge", "1 when the device misbehaved on the queue and it stopped.");
	for (uint32_t i = 0; i < st->nifs; i++)
		for (uint16_t q = 0; q < st->ifs[i].nqueues; q++) {
			api_buf_printf(b, "pollux_queue_broken");
			queue_labels(b, &st->ifs[i], q);
			api_buf_printf(b, "} %d\n", st->ifs[i].q[q].broken ? 1 : 0);
		}
}

static void iface_metrics(struct api_buf *b, const struct api_stats *st)
{
	head(b, "pollux_interface_up", "gauge", "1 when the interface's link is up.");
	for (uint32_t i = 0; i < st->nifs; i++) {
		api_buf_printf(b, "pollux_interface_up{iface=\"");
		api_metrics_label(b, st->ifs[i].name);
		api_buf_printf(b, "\"} %d\n", st->ifs[i].link_up ? 1 : 0);
	}
	head(b, "pollux_interface_mtu_bytes", "gauge", "The interface's MTU.");
	for (uint32_t i = 0; i < st->nifs; i++) {
		api_buf_printf(b, "pollux_interface_mtu_bytes{iface=\"");
		api_metrics_label(b, st->ifs[i].name);
		api_buf_printf(b, "\"} %u\n", st->ifs[i].mtu);
	}
}

static void one(struct api_buf *b, const char *name, const char *type, const char *help, uint64_t v)
{
	head(b, name, type, help);
	api_buf_printf(b, "%s %llu\n", name, (unsigned long long)v);
}

static void by_reason(struct api_buf *b, const char *name, const char *help, const char *const *reasons,
		      const uint64_t *v, int n)
{
	head(b, name, "counter", help);
	for (int i = 0; i < n; i++)
		api_buf_printf(b, "%s{reason=\"%s\"} %llu\n", name, reasons[i], (unsigned long long)v[i]);
}

/* The appliance's own counters, one line per core that serves it. The
 * names are the backend's (static, checked here: a name that is not
 * [a-z0-9_] is skipped rather than breaking the exposition format). */
static int metric_name_ok(const char *s)
{
	if (!s || !*s)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
			return 0;
	return 1;
}

void api_metrics_app(struct api_buf *b, const struct api_app_stats *a)
{
	if (!a->app || !metric_name_ok(a->app) || !a->m)
		return;
	uint32_t nm = a->nmetrics < API_APP_METRICS_MAX ? a->nmetrics : API_APP_METRICS_MAX;
	uint32_t nc = a->ncores < API_MAX_CORES ? a->ncores : API_MAX_CORES;
	for (uint32_t k = 0; k < nm; k++) {
		const struct api_app_metric *m = &a->m[k];
		if (!metric_name_ok(m->name))
			continue;
		char name[96];
		snprintf(name, sizeof name, "pollux_%s_%s", a->app, m->name);
		head(b, name, m->gauge ? "gauge" : "counter", m->help ? m->help : "");
		for (uint32_t c = 0; c < nc; c++)
			if (a->on[c])
				api_buf_printf(b, "%s{core=\"%u\"} %llu\n", name, c, (unsigned long long)a->v[c][k]);
	}
}

void api_metrics_server(struct api_buf *b, const struct api_server *s)
{
	one(b, "pollux_api_requests_total", "counter", "HTTP requests answered by the API.", s->requests);
	static const char *const classes[] = { "4xx", "5xx" };
	uint64_t errs[] = { s->responses_4xx, s->responses_5xx };
	head(b, "pollux_api_error_responses_total", "counter", "Error responses, by status class.");
	for (int i = 0; i < 2; i++)
		api_buf_printf(b, "pollux_api_error_responses_total{class=\"%s\"} %llu\n", classes[i],
			       (unsigned long long)errs[i]);
	one(b, "pollux_api_bad_requests_total", "counter", "Malformed or oversized requests (connection closed).",
	    s->bad_requests);
	const struct api_tls_stats *t = s->tls_stats;
	if (t) {
		static const char *const why[] = { "version", "cipher", "other" };
		uint64_t f[] = { t->hs_fail_version, t->hs_fail_cipher, t->hs_fail_other };
		one(b, "pollux_api_tls_handshakes_total", "counter", "TLS handshakes completed.", t->handshakes);
		by_reason(b, "pollux_api_tls_handshake_failures_total",
			  "TLS handshakes refused or abandoned, by reason.", why, f, 3);
		one(b, "pollux_api_tls_bad_records_total", "counter",
		    "TLS records that failed authentication or were malformed (connection closed).", t->bad_records);
		one(b, "pollux_api_tls_client_cert_auth_total", "counter",
		    "Handshakes authenticated by a client certificate.", t->client_cert_auth);
	}
	const struct api_transport_stats *x = s->transport;
	if (x) {
		one(b, "pollux_api_connections_accepted_total", "counter", "API connections accepted.", x->accepted);
		one(b, "pollux_api_connections_refused_total", "counter",
		    "API connections closed at once: no room for another, or not on the management interface.",
		    x->refused);
		one(b, "pollux_api_connections_timed_out_total", "counter",
		    "API connections closed for a slow handshake or silence.", x->timed_out);
		one(b, "pollux_api_request_timeouts_total", "counter",
		    "API connections closed because a request did not arrive whole in time "
		    "(headers 10 s, all of it 30 s from its first byte).", x->request_timeouts);
		one(b, "pollux_api_connections_source_limited_total", "counter",
		    "API connections refused because their source address held its share of the slots "
		    "(counted in refused too).", x->source_limited);
		one(b, "pollux_api_read_stalls_total", "counter",
		    "Times a connection stopped being read because its answers were not being taken.",
		    x->read_stalls);
		one(b, "pollux_api_connections", "gauge", "API connections open now.", x->open);
	}
}

char *api_metrics_render(const struct api_stats *in, size_t *len)
{
	struct api_stats *st = malloc(sizeof *st);
	if (!st)
		return NULL;
	/* bounds and names are the backend's word: clamp and terminate a copy */
	memcpy(st, in, sizeof *st);
	if (st->ncores > API_MAX_CORES)
		st->ncores = API_MAX_CORES;
	if (st->nifs > API_MAX_IFS)
		st->nifs = API_MAX_IFS;
	for (uint32_t i = 0; i < st->nifs; i++) {
		st->ifs[i].name[API_NAME_MAX - 1] = 0;
		if (st->ifs[i].nqueues > API_MAX_QUEUES)
			st->ifs[i].nqueues = API_MAX_QUEUES;
	}
	struct api_buf b = { 0 };
	core_metrics(&b, st);
	net_metrics(&b, st);
	queue_metrics(&b, st);
	iface_metrics(&b, st);
	head(&b, "pollux_pktbuf_free_buffers", "gauge", "Packet buffers free in the pools, all cores.");
	api_buf_printf(&b, "pollux_pktbuf_free_buffers %llu\n", (unsigned long long)st->pool_free);
	head(&b, "pollux_pktbuf_buffers", "gauge", "Packet buffers in the pools, all cores.");
	api_buf_printf(&b, "pollux_pktbuf_buffers %llu\n", (unsigned long long)st->pool_total);
	head(&b, "pollux_pktbuf_ext_frags_in_use", "gauge",
	     "External fragments (zero-copy sends) in frames not yet reclaimed, all cores.");
	api_buf_printf(&b, "pollux_pktbuf_ext_frags_in_use %llu\n",
		       (unsigned long long)(st->pool_ext_total - st->pool_ext_free));
	free(st);
	if (b.oom) {
		api_buf_free(&b);
		return NULL;
	}
	*len = b.len;
	return b.p ? b.p : strdup("");
}
