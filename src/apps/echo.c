/*
 * echo.c — the echo appliance (RFC 862): TCP and UDP port 7, every byte
 * straight back. On the flow's owner core, no allocation after start-up.
 * A datagram from a port that answers too (7, 19, ...: udp_may_answer)
 * or to a broadcast is not answered: a spoofed one would start a loop.
 *
 * TCP back-pressure: what tcp_send can't take waits in the connection's
 * pending buffer (ECHO_PENDING bytes) and goes out when the stack says
 * the connection is writable; a peer that sends faster than it reads
 * until even that is full is reset (counted).
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include "apps/apps.h"
#include "core/core.h"
#include "net/net.h"

#define ECHO_PORT 7
#define ECHO_PENDING 65536
#define ECHO_CONNS 256

struct echo_conn {
	struct echo_conn *next;         /* free list */
	struct tcp_conn *c;
	struct apps_idle idle;          /* echo.idle_timeout_s */
	uint32_t head, len;
	int closing;                    /* the peer is done: close once pending is out */
	uint8_t buf[ECHO_PENDING];
};

struct echo_core {
	struct echo_conn *free;
	counter_t accepted, overflow_resets, udp_echoed;
} __attribute__((aligned(CACHE_LINE)));

static struct echo_core cores[POLLUX_MAX_CORES];
static uint32_t echo_idle_s;

static void push(struct echo_conn *e)
{
	while (e->len) {
		uint32_t chunk = ECHO_PENDING - e->head < e->len ? ECHO_PENDING - e->head : e->len;
		size_t n = tcp_send(e->c, e->buf + e->head, chunk);
		e->head = (e->head + (uint32_t)n) % ECHO_PENDING;
		e->len -= (uint32_t)n;
		if (n < chunk)
			return;
	}
}

static void on_recv(struct tcp_conn *c, void *ctx, const uint8_t *data, size_t len)
{
	struct echo_conn *e = ctx;
	apps_idle_touch(&e->idle);
	if (!e->len) {
		size_t n = tcp_send(c, data, len);
		data += n;
		len -= n;
	}
	if (!len)
		return;
	if (len > ECHO_PENDING - e->len) {
		counter_add(&cores[core_self()->id].overflow_resets, 1);
		tcp_abort(c);
		return;
	}
	for (size_t i = 0; i < len; i++)
		e->buf[(e->head + e->len + i) % ECHO_PENDING] = data[i];
	e->len += (uint32_t)len;
}

static void on_writable(struct tcp_conn *c, void *ctx)
{
	struct echo_conn *e = ctx;
	apps_idle_touch(&e->idle);
	push(e);
	if (e->closing && !e->len)
		tcp_close(c);
	else
		tcp_recv_update(c);     /* we can take more from the peer */
}

/* what we can echo: the stack's send room plus our pending buffer */
static size_t recv_space(struct tcp_conn *c, void *ctx)
{
	struct echo_conn *e = ctx;
	return (size_t)(ECHO_PENDING - e->len) + (e->len ? 0 : tcp_send_space(c));
}

static void on_peer_closed(struct tcp_conn *c, void *ctx)
{
	struct echo_conn *e = ctx;
	if (e->len)
		e->closing = 1;         /* our FIN goes after the pending bytes */
	else
		tcp_close(c);
}

static void on_gone(struct tcp_conn *c, void *ctx, int reason)
{
	struct echo_conn *e = ctx;
	apps_idle_stop(&e->idle);
	e->c = NULL;
	apps_give((void **)&cores[core_self()->id].free, e);
}

static void on_idle(struct apps_idle *i)
{
	struct echo_conn *e = (struct echo_conn *)((char *)i - offsetof(struct echo_conn, idle));
	tcp_abort_idle(e->c);                   /* on_gone gives e back */
}

static const struct tcp_ops echo_ops = {
	.recv = on_recv, .peer_closed = on_peer_closed, .writable = on_writable, .gone = on_gone,
	.recv_space = recv_space,
};

static void *on_accept(struct tcp_conn *c, void *arg)
{
	struct echo_core *ec = &cores[core_self()->id];
	struct echo_conn *e = apps_take((void **)&ec->free);
	if (!e)
		return NULL;                    /* refused: the stack resets it */
	e->c = c;
	e->head = e->len = 0;
	e->closing = 0;
	apps_idle_start(&e->idle, echo_idle_s, on_idle);
	counter_add(&ec->accepted, 1);
	return e;
}

static void on_udp(void *arg, const struct udp_meta *m, const uint8_t *data, size_t len)
{
	if (!udp_may_answer(m))
		return;                         /* another echo, chargen, ... or a broadcast: no loop */
	struct udp_meta to = { m->dst, m->src, m->dport, m->sport, m->ifindex };
	if (udp_send(&to, data, len) == 0)
		counter_add(&cores[core_self()->id].udp_echoed, 1);
}

/* ---- settings (struct echo_config, apps.h) */
static const struct schema_node fields[] = {
	APPS_IDLE_TIMEOUT_ROW(offsetof(struct echo_config, idle_timeout_s), 60, "a TCP connection"),
	{ .kind = SK_END }
};

const struct schema_node echo_schema = {
	.key = "echo", .kind = SK_OBJECT, .sub = fields, .off = offsetof(struct apps_config, echo),
	.doc = "The echo appliance."
};

int echo_init(const struct apps_config *cfg, char *err, size_t errlen)
{
	echo_idle_s = cfg->echo.idle_timeout_s;
	for (uint32_t i = 0; i < cores_count(); i++)
		if (!(cores[i].free = apps_free_list(sizeof(struct echo_conn), ECHO_CONNS))) {
			snprintf(err, errlen, "echo: no memory for %d connections on core %u", ECHO_CONNS, i);
			return -ENOMEM;
		}
	int rc = tcp_listen(ECHO_PORT, &echo_ops, on_accept, NULL);
	if (!rc)
		rc = udp_bind(ECHO_PORT, on_udp, NULL);
	if (rc) {
		snprintf(err, errlen, "echo: port %d: %s", ECHO_PORT, strerror(-rc));
		return rc;
	}
	klog("echo: TCP and UDP port %d", ECHO_PORT);
	return 0;
}
