/*
 * proxy.c — a TCP relay: every connection accepted on `listen` is paired
 * with an active open to `backend`, and bytes flow both ways until both
 * sides have closed. The nginx-style front of an appliance, and the app
 * that exercises tcp_connect:
 *
 *   "app": "proxy", "proxy": { "listen": 8080, "backend": "198.18.0.1:9000" }
 *
 * Both halves of a pair live on one core: the client's flow is accepted
 * on its owner core, and tcp_connect picks a source port whose flow that
 * same core owns (RSS or our steering), so a pair is never touched by two
 * cores and needs no lock.
 *
 * No copy of its own: each side's recv_space is the other side's send
 * room, so the stack delivers only what tcp_send will take and holds the
 * rest back in the sender's window (back-pressure end to end); when that
 * room runs low the proxy asks for the other side's `writable`, which
 * reopens this side's window. Before the backend answers, the client's
 * recv_space is 0.
 *
 * Closing: a FIN from one side becomes a FIN to the other once what came
 * before it is queued; a reset or a timeout on one side aborts the other.
 * The pair's context goes back to the core's free list when both sides
 * are gone. Per core PROXY_PAIRS contexts made at start-up; a client that
 * finds none, or whose backend can't be opened, is reset (counted).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <stddef.h>
#include "apps/apps.h"
#include "core/schema.h"
#include "core/core.h"
#include "net/net.h"

#define PROXY_PAIRS 1024

struct side {
	struct tcp_conn *c;             /* NULL once gone */
	int peer_closed;                /* FIN received: no more data from it */
	int closed;                     /* tcp_close sent to it */
};

struct pair {
	struct pair *next;              /* free list */
	struct side s[2];               /* 0: the client, 1: the backend */
	struct apps_idle idle;          /* proxy.idle_timeout_s, both sides */
	int up;                         /* the backend connected */
};

struct proxy_core {
	struct pair *free;
	counter_t accepted, refused, backend_failed, lost_bytes;
} __attribute__((aligned(CACHE_LINE)));

static struct proxy_core cores[POLLUX_MAX_CORES];
static uint16_t listen_port;
static uint32_t backend_addr;           /* host order */
static uint16_t backend_port;
static uint32_t proxy_idle_s;

/* the side of p that c is, and the other one */
static int side_of(const struct pair *p, const struct tcp_conn *c) { return p->s[1].c == c; }

static void maybe_free(struct pair *p)
{
	if (!p->s[0].c && !p->s[1].c) {
		apps_idle_stop(&p->idle);
		apps_give((void **)&cores[core_self()->id].free, p);
	}
}

static size_t p_recv_space(struct tcp_conn *c, void *ctx)
{
	struct pair *p = ctx;
	struct side *o = &p->s[!side_of(p, c)];
	if (!p->up || !o->c || o->closed)
		return 0;
	size_t room = tcp_send_space(o->c);
	if (room < 65536)
		tcp_want_writable(o->c);        /* p_writable reopens this side */
	return room;
}

static void p_recv(struct tcp_conn *c, void *ctx, const uint8_t *data, size_t len)
{
	struct pair *p = ctx;
	struct side *o = &p->s[!side_of(p, c)];
	apps_idle_touch(&p->idle);
	size_t n = o->c && !o->closed ? tcp_send(o->c, data, len) : 0;
	if (n < len) {
		/* recv_space promised room: only a vanished peer gets here */
		counter_add(&cores[core_self()->id].lost_bytes, len - n);
		tcp_abort(c);
	}
}

/* the other side has room again: this side may deliver more */
static void p_writable(struct tcp_conn *c, void *ctx)
{
	struct pair *p = ctx;
	struct side *o = &p->s[!side_of(p, c)];
	apps_idle_touch(&p->idle);
	if (o->c)
		tcp_recv_update(o->c);
}

static void p_peer_closed(struct tcp_conn *c, void *ctx)
{
	struct pair *p = ctx;
	int i = side_of(p, c);
	struct side *o = &p->s[!i];
	p->s[i].peer_closed = 1;
	if (o->c && !o->closed) {               /* pass the FIN on */
		o->closed = 1;
		tcp_close(o->c);
	}
	if (p->s[i].closed || !o->c) {          /* both directions done here */
		p->s[i].closed = 1;
		tcp_close(c);
	}
}

static void p_gone(struct tcp_conn *c, void *ctx, int reason)
{
	struct pair *p = ctx;
	int i = side_of(p, c);
	struct side *o = &p->s[!i];
	p->s[i].c = NULL;
	if (i == 1 && !p->up)
		counter_add(&cores[core_self()->id].backend_failed, 1);
	if (o->c) {
		if (reason || !p->up) {
			struct tcp_conn *oc = o->c;
			tcp_abort(oc);          /* its `gone` frees the pair */
			return;
		}
		if (!o->closed) {
			o->closed = 1;
			tcp_close(o->c);
		}
	}
	maybe_free(p);
}

static void p_connected(struct tcp_conn *c, void *ctx)
{
	struct pair *p = ctx;
	p->up = 1;
	if (p->s[0].c)
		tcp_recv_update(p->s[0].c);     /* the client may send now */
}

static const struct tcp_ops proxy_ops = {
	.recv = p_recv, .peer_closed = p_peer_closed, .writable = p_writable, .gone = p_gone,
	.recv_space = p_recv_space, .connected = p_connected,
};

/* neither side moved a byte for the timeout: the client's reset aborts
 * the backend too (p_gone), and the last `gone` frees the pair */
static void p_idle(struct apps_idle *i)
{
	struct pair *p = (struct pair *)((char *)i - offsetof(struct pair, idle));
	tcp_abort_idle(p->s[0].c ? p->s[0].c : p->s[1].c);
}

static void *p_accept(struct tcp_conn *c, void *arg)
{
	struct proxy_core *k = &cores[core_self()->id];
	struct pair *p = apps_take((void **)&k->free);
	if (!p) {
		counter_add(&k->refused, 1);
		return NULL;
	}
	int err = 0;
	memset(p->s, 0, sizeof p->s);
	p->up = 0;
	p->s[0].c = c;
	p->s[1].c = tcp_connect(backend_addr, backend_port, &proxy_ops, p, &err);
	if (!p->s[1].c) {
		counter_add(&k->backend_failed, 1);
		apps_give((void **)&k->free, p);
		return NULL;                    /* the stack resets the client */
	}
	apps_idle_start(&p->idle, proxy_idle_s, p_idle);
	counter_add(&k->accepted, 1);
	return p;
}

/* ---- settings (struct proxy_config, apps.h) */
static int parse_backend(const char *s, uint32_t *addr, uint16_t *port)
{
	unsigned a, b, c, d, pt;
	char tail;
	if (!s || sscanf(s, "%u.%u.%u.%u:%u%c", &a, &b, &c, &d, &pt, &tail) != 5 ||
	    a > 255 || b > 255 || c > 255 || d > 255 || pt == 0 || pt > 65535)
		return -EINVAL;
	*addr = a << 24 | b << 16 | c << 8 | d;
	*port = (uint16_t)pt;
	return 0;
}

static const char *check_backend(const struct schema_val *v, const struct schema_val *parent,
				 const struct schema_val *root)
{
	uint32_t a;
	uint16_t p;
	return parse_backend(schema_val_str(v), &a, &p) ? "must be \"a.b.c.d:port\"" : NULL;
}

static void backend_fill(void *field, const struct schema_val *v)
{
	struct proxy_backend *b = field;
	if (!v || parse_backend(schema_val_str(v), &b->addr, &b->port))
		b->addr = b->port = 0;
}

#define F(x) .off = offsetof(struct proxy_config, x)
static const struct schema_node fields[] = {
	{ .key = "listen", .kind = SK_INTEGER, .flags = SF_REQUIRED, .min = 1, .max = 65535,
	  .type = ST_U16, F(listen),
	  .doc = "TCP port the proxy accepts on." },
	{ .key = "backend", .kind = SK_STRING, .flags = SF_REQUIRED, .min = 9, .max = 21,
	  .check = check_backend, .format = "^[0-9]{1,3}(\\.[0-9]{1,3}){3}:[0-9]{1,5}$",
	  .fill = backend_fill, F(backend),
	  .doc = "Where each accepted connection is relayed to, \"a.b.c.d:port\"." },
	APPS_IDLE_TIMEOUT_ROW(offsetof(struct proxy_config, idle_timeout_s), 60, "a client and its backend"),
	{ .kind = SK_END }
};

const struct schema_node proxy_schema = {
	.key = "proxy", .kind = SK_OBJECT, .sub = fields, .off = offsetof(struct apps_config, proxy),
	.doc = "The TCP proxy appliance."
};

/* ---- start-up */
int proxy_init(const struct apps_config *cfg, char *err, size_t errlen)
{
	if (!cfg->proxy.listen) {
		snprintf(err, errlen, "proxy: must be an object with \"listen\" and \"backend\"");
		return -EINVAL;
	}
	listen_port = cfg->proxy.listen;
	backend_addr = cfg->proxy.backend.addr;
	backend_port = cfg->proxy.backend.port;
	proxy_idle_s = cfg->proxy.idle_timeout_s;
	for (uint32_t c = 0; c < cores_count(); c++)
		if (!(cores[c].free = apps_free_list(sizeof(struct pair), PROXY_PAIRS))) {
			snprintf(err, errlen, "proxy: no memory for %d pairs on core %u", PROXY_PAIRS, c);
			return -ENOMEM;
		}
	int rc = tcp_listen(listen_port, &proxy_ops, p_accept, NULL);
	if (rc) {
		snprintf(err, errlen, "proxy: port %u: %s", listen_port, strerror(-rc));
		return rc;
	}
	klog("proxy: TCP port %u -> %u.%u.%u.%u:%u", listen_port, backend_addr >> 24, (backend_addr >> 16) & 255,
	     (backend_addr >> 8) & 255, backend_addr & 255, backend_port);
	return 0;
}
