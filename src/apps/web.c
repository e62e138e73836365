/*
 * web.c — a tiny HTTP/1.1 responder: the appliance that `curl` and
 * connection-rate tests talk to. GET or HEAD of "/" answers 200 with the
 * configured body; another path 404; another method 405; a request that
 * does not parse 400 and the connection closes. Keep-alive and pipelining
 * as HTTP/1.1 says ("Connection: close" and HTTP/1.0 close after the
 * answer). Requests are parsed by Debian's http-parser.
 *
 *   "app": "web", "web": { "port": 80, "body": "hello from pollux\n", "idle_timeout_s": 60 }
 *
 * On the flow's owner core, no allocation after start-up: each core has
 * WEB_CONNS contexts; a connection that finds none is refused (reset,
 * counted). An answer the send buffer can't take waits in the
 * connection's pending buffer; until it is out, the parser is paused, the
 * rest of what was delivered waits in a small input buffer (a deeper
 * pipeline than WEB_IN_MAX bytes resets the connection, counted) and
 * recv_space is 0, so the stack holds the client's further requests.
 * Once the answer that closes is queued (400, "Connection: close", the
 * client's FIN) the connection is `closing`: it reads on and drops what
 * comes, with its window open, so the client's FIN can arrive. A
 * connection quiet for web.idle_timeout_s (default 60) is reset.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <http_parser.h>
#include "apps/apps.h"
#include "core/schema.h"
#include "core/core.h"
#include "net/net.h"
#include "sched/sched.h"

#define WEB_CONNS 1024
#define WEB_BODY_MAX 4096
#define WEB_PATH_MAX 256
#define WEB_IN_MAX 4096

struct web_conn {
	struct web_conn *next;          /* free list */
	struct tcp_conn *c;
	struct apps_idle idle;          /* web.idle_timeout_s */
	http_parser p;
	char path[WEB_PATH_MAX];
	uint32_t pathlen;
	int path_long;
	int keep;                       /* keep-alive after this answer */
	int blocked;                    /* an answer did not fit: reading stops */
	int closing;                    /* the answer that closes is queued: what
					 * comes in is read and dropped */
	char pending[WEB_BODY_MAX + 256];
	uint32_t pend_len;
	int close_after;
	char in[WEB_IN_MAX];            /* delivered, not yet parsed (paused) */
	uint32_t in_len;
};

struct web_core {
	struct web_conn *free;
	counter_t requests, refused, bad_requests, pipeline_resets;
} __attribute__((aligned(CACHE_LINE)));

static struct web_core cores[POLLUX_MAX_CORES];
static uint16_t web_port = 80;
static uint32_t web_idle_s;
/* The body, changed at run time by PUT /v1/config (web_prepare, web_commit): an
 * immutable object core 0 publishes; a data core takes it with
 * sched_deref once per answer (inside one loop turn), and core 0 frees
 * the old one after every core has passed a quiescent point. */
struct web_body {
	size_t len;
	char text[];
};
static void *_Atomic body_pub;
static int web_running;
#define WEB_DEFAULT_BODY "hello from pollux\n"
static http_parser_settings settings;

static void flush_pending(struct web_conn *w)
{
	size_t n = tcp_send(w->c, w->pending, w->pend_len);
	memmove(w->pending, w->pending + n, w->pend_len - n);
	w->pend_len -= (uint32_t)n;
	if (!w->pend_len && w->close_after) {
		w->close_after = 0;
		tcp_close(w->c);
	}
}

/* status line "HTTP/1.1 <status> <reason>"; the body: ours for 200, the
 * reason and a newline otherwise */
static void answer(struct web_conn *w, int status, const char *reason, int with_body)
{
	char why[64];
	snprintf(why, sizeof why, "%s\n", reason);
	const struct web_body *wb = sched_deref(&body_pub);
	const char *b = status == 200 ? wb->text : why;
	size_t blen = status == 200 ? wb->len : strlen(why);
	int n = snprintf(w->pending + w->pend_len, sizeof w->pending - w->pend_len,
			 "HTTP/1.1 %d %s\r\nServer: pollux\r\nContent-Type: text/plain\r\n"
			 "Content-Length: %zu\r\n%s\r\n", status, reason, blen,
			 w->keep ? "" : "Connection: close\r\n");
	if (n < 0 || (size_t)n + blen > sizeof w->pending - w->pend_len)
		return;                 /* can't happen: one answer is queued at a time */
	w->pend_len += (uint32_t)n;
	if (with_body) {
		memcpy(w->pending + w->pend_len, b, blen);
		w->pend_len += (uint32_t)blen;
	}
	if (!w->keep) {
		w->close_after = 1;
		w->closing = 1;
	}
	flush_pending(w);
}

static int on_url(http_parser *p, const char *at, size_t len)
{
	struct web_conn *w = p->data;
	if (w->pathlen + len >= WEB_PATH_MAX) {
		w->path_long = 1;
		return 0;
	}
	memcpy(w->path + w->pathlen, at, len);
	w->pathlen += (uint32_t)len;
	return 0;
}

static int on_message_begin(http_parser *p)
{
	struct web_conn *w = p->data;
	w->pathlen = 0;
	w->path_long = 0;
	return 0;
}

static int on_message_complete(http_parser *p)
{
	struct web_conn *w = p->data;
	counter_add(&cores[core_self()->id].requests, 1);
	w->keep = http_should_keep_alive(p);
	w->path[w->pathlen] = 0;
	int head = p->method == HTTP_HEAD;
	if (p->method != HTTP_GET && !head)
		answer(w, 405, "Method Not Allowed", 1);
	else if (w->path_long)
		answer(w, 414, "URI Too Long", !head);
	else if (strcmp(w->path, "/") && strncmp(w->path, "/?", 2))
		answer(w, 404, "Not Found", !head);
	else
		answer(w, 200, "OK", !head);
	/* one answer waits at a time: the next request waits until it is
	 * out; after an answer that closes, nothing more is parsed */
	if (w->closing) {
		http_parser_pause(p, 1);
	} else if (w->pend_len) {
		w->blocked = 1;
		http_parser_pause(p, 1);
	}
	return 0;
}

/* A connection we are closing takes everything (and drops it): a shut
 * window there would hold back the peer's FIN (it needs a byte of window),
 * and the connection would sit in FIN_WAIT_2, answering the peer's
 * zero-window probes, long after the answer went. */
static size_t web_recv_space(struct tcp_conn *c, void *ctx)
{
	struct web_conn *w = ctx;
	return w->blocked && !w->closing ? 0 : 1u << 30;
}

/* Parses what arrived; returns 0, or -1 when the connection was reset */
static int parse(struct web_conn *w, const char *data, size_t len)
{
	size_t done = http_parser_execute(&w->p, &settings, data, len);
	enum http_errno e = HTTP_PARSER_ERRNO(&w->p);
	if (e == HPE_PAUSED) {
		http_parser_pause(&w->p, 0);
		if (done < len && !w->closing) {                /* pipelined: keep it */
			if (len - done > WEB_IN_MAX - w->in_len) {
				counter_add(&cores[core_self()->id].pipeline_resets, 1);
				tcp_abort(w->c);
				return -1;
			}
			memcpy(w->in + w->in_len, data + done, len - done);
			w->in_len += (uint32_t)(len - done);
		}
		return 0;
	}
	if (e != HPE_OK || done != len) {
		counter_add(&cores[core_self()->id].bad_requests, 1);
		w->keep = 0;
		answer(w, 400, "Bad Request", 1);       /* and it closes (closing) */
	}
	return 0;
}

static void web_recv(struct tcp_conn *c, void *ctx, const uint8_t *data, size_t len)
{
	struct web_conn *w = ctx;
	apps_idle_touch(&w->idle);
	if (w->closing)
		return;                         /* after the last answer: dropped */
	if (w->blocked) {                       /* delivered before recv_space said 0 */
		if (len > WEB_IN_MAX - w->in_len) {
			counter_add(&cores[core_self()->id].pipeline_resets, 1);
			tcp_abort(c);
			return;
		}
		memcpy(w->in + w->in_len, data, len);
		w->in_len += (uint32_t)len;
		return;
	}
	parse(w, (const char *)data, len);
}

static void web_writable(struct tcp_conn *c, void *ctx)
{
	struct web_conn *w = ctx;
	apps_idle_touch(&w->idle);
	flush_pending(w);
	while (!w->pend_len && !w->closing && w->blocked) {
		w->blocked = 0;
		if (w->in_len) {                /* the requests that waited */
			char tmp[WEB_IN_MAX];
			size_t n = w->in_len;
			memcpy(tmp, w->in, n);
			w->in_len = 0;
			if (parse(w, tmp, n))
				return;
		}
		if (!w->blocked)
			tcp_recv_update(c);
	}
}

static void web_peer_closed(struct tcp_conn *c, void *ctx)
{
	struct web_conn *w = ctx;
	w->closing = 1;                 /* nothing more to read */
	if (w->pend_len)
		w->close_after = 1;     /* after the answer */
	else
		tcp_close(c);
}

static void web_gone(struct tcp_conn *c, void *ctx, int reason)
{
	struct web_conn *w = ctx;
	apps_idle_stop(&w->idle);
	w->c = NULL;
	apps_give((void **)&cores[core_self()->id].free, w);
}

/* a keep-alive client that went quiet, or one that stopped reading */
static void web_idle_expired(struct apps_idle *i)
{
	struct web_conn *w = (struct web_conn *)((char *)i - offsetof(struct web_conn, idle));
	tcp_abort_idle(w->c);                   /* web_gone gives w back */
}

static void *web_accept(struct tcp_conn *c, void *arg)
{
	struct web_core *k = &cores[core_self()->id];
	struct web_conn *w = apps_take((void **)&k->free);
	if (!w) {
		counter_add(&k->refused, 1);
		return NULL;
	}
	memset(w, 0, offsetof(struct web_conn, pending));
	w->pend_len = 0;
	w->close_after = 0;
	w->in_len = 0;
	w->c = c;
	apps_idle_start(&w->idle, web_idle_s, web_idle_expired);
	http_parser_init(&w->p, HTTP_REQUEST);
	w->p.data = w;
	return w;
}

static const struct tcp_ops web_ops = {
	.recv = web_recv, .writable = web_writable, .peer_closed = web_peer_closed,
	.gone = web_gone, .recv_space = web_recv_space,
};

/* A new body object (the one step that can fail: malloc). NULL with the
 * reason in err. */
static struct web_body *web_body_new(const char *txt, char *err, size_t errlen)
{
	if (!txt)
		txt = WEB_DEFAULT_BODY;
	size_t len = strlen(txt);
	if (len > WEB_BODY_MAX) {
		snprintf(err, errlen, "web.body: must be a string of at most %d bytes", WEB_BODY_MAX);
		return NULL;
	}
	struct web_body *nb = malloc(sizeof *nb + len + 1);
	if (!nb) {
		snprintf(err, errlen, "web.body: no memory");
		return NULL;
	}
	nb->len = len;
	memcpy(nb->text, txt, len + 1);
	return nb;
}

/* Makes nb the body the data cores answer with; cannot fail. */
static void web_body_publish(struct web_body *nb)
{
	struct web_body *old = sched_publish(&body_pub, nb);
	if (old) {
		if (sched_quiesce_wait(1000000000ull))
			klog("web: a core did not pass a quiescent point in 1 s: the old body (%zu bytes) is kept",
			     old->len);
		else
			free(old);
		klog("web: body changed (%zu bytes)", nb->len);
	}
}

/* ---- settings (struct web_config, apps.h) */
#define F(x) .off = offsetof(struct web_config, x)
static const struct schema_node fields[] = {
	{ .key = "port", .kind = SK_INTEGER, .min = 1, .max = 65535, .type = ST_U16, F(port), .def = 80,
	  .doc = "TCP port the web appliance answers on (default 80)." },
	{ .key = "body", .kind = SK_STRING, .flags = SF_RUNTIME, .min = 0, .max = WEB_BODY_MAX,
	  .type = ST_STR, F(body),
	  .doc = "The body every GET gets (default \"hello from pollux\\n\")." },
	APPS_IDLE_TIMEOUT_ROW(offsetof(struct web_config, idle_timeout_s), 60, "a connection"),
	{ .kind = SK_END }
};

const struct schema_node web_schema = {
	.key = "web", .kind = SK_OBJECT, .sub = fields, .off = offsetof(struct apps_config, web),
	.doc = "The web appliance."
};

/* Core 0, run time (PUT /v1/config), all or nothing: prepare allocates
 * the new body (the only step that can fail), commit publishes it to the
 * data cores and frees the old one once they have moved on. */
int web_prepare(const struct apps_config *next, void **pending, char *err, size_t errlen)
{
	const char *nb = next->web.body ? next->web.body : WEB_DEFAULT_BODY;
	const struct web_body *cur = sched_deref(&body_pub);
	*pending = NULL;
	if (!web_running || (cur && cur->len == strlen(nb) && !memcmp(cur->text, nb, cur->len)))
		return 0;
	struct web_body *b = web_body_new(nb, err, errlen);
	if (!b)
		return strlen(nb) > WEB_BODY_MAX ? -EINVAL : -ENOMEM;
	*pending = b;
	return 0;
}

void web_commit(void *pending)
{
	if (pending)
		web_body_publish(pending);
}

int web_init(const struct apps_config *cfg, char *err, size_t errlen)
{
	const char *txt = cfg->web.body ? cfg->web.body : WEB_DEFAULT_BODY;
	web_port = cfg->web.port;
	web_idle_s = cfg->web.idle_timeout_s;
	struct web_body *b0 = web_body_new(txt, err, errlen);
	if (!b0)
		return strlen(txt) > WEB_BODY_MAX ? -EINVAL : -ENOMEM;
	web_body_publish(b0);
	memset(&settings, 0, sizeof settings);
	settings.on_message_begin = on_message_begin;
	settings.on_url = on_url;
	settings.on_message_complete = on_message_complete;
	for (uint32_t c = 0; c < cores_count(); c++)
		if (!(cores[c].free = apps_free_list(sizeof(struct web_conn), WEB_CONNS))) {
			snprintf(err, errlen, "web: no memory for %d connections on core %u", WEB_CONNS, c);
			return -ENOMEM;
		}
	int rc = tcp_listen(web_port, &web_ops, web_accept, NULL);
	if (rc) {
		snprintf(err, errlen, "web: port %u: %s", web_port, strerror(-rc));
		return rc;
	}
	web_running = 1;
	klog("web: HTTP/1.1 responder on TCP port %u (%zu-byte body)", web_port,
	     ((const struct web_body *)sched_deref(&body_pub))->len);
	return 0;
}
