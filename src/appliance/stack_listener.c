/*
 * stack_listener.c — the API on the stack's management interface, for
 * the VM image: tcp_listen(api.port, default 443) on the interface that
 * api.interface names, TLS -> HTTP -> routes through the same
 * api_tls_conn / api_conn as the hosted listener. Only the image links
 * this file (the Makefile chooses it); main.c calls api_start() after
 * net_init and apps_init, before the other cores start.
 *
 * Where it runs: the management device has one queue pair, owned by
 * core 0 (netdev_set_control), so every connection to it is accepted,
 * fed and answered on core 0 and no data core ever touches TLS. The
 * stack listens on a port on every core and every interface, so accept
 * refuses (the stack resets, `refused` counts) a connection that lands
 * on another core or comes over another interface (one core owning
 * everything, a data interface's flow to the API port).
 *
 * Nothing blocks core 0, and a slow client costs only its own buffers:
 *  - at most SL_MAX_CONNS connections, and at most SL_MAX_PER_SOURCE from
 *    one address; further ones are refused (reset, counted). The slots
 *    and their handshake and silence deadlines are listener_slots.c's,
 *    shared with the hosted listener;
 *  - received ciphertext goes straight into the TLS connection, and the
 *    window we advertise is what it can take (recv_space), so a client
 *    whose answers are not read stops being read (TCP back-pressure);
 *  - output goes to tcp_send as far as the send buffer takes it; the
 *    rest waits in TLS for `writable`;
 *  - a sweep on core 0's timer wheel aborts a handshake older than
 *    SL_HANDSHAKE_NS and a connection that moved no byte for SL_IDLE_NS
 *    (half-open and stalled clients included);
 *  - a request must arrive whole in time from its first byte (headers
 *    API_HEADER_TIMEOUT_NS, all of it API_REQUEST_TIMEOUT_NS: see
 *    api_tls_conn_overdue), checked after every read and by the sweep:
 *    else it is aborted (request_timeouts), however often bytes come.
 * All of it runs in the stack's callbacks on core 0 and in one poller on
 * core 0 (window updates after back-pressure, shutdown).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "api/api.h"
#include "appliance/appliance.h"
#include "appliance/listener_slots.h"
#include "drivers/virtio_rng.h"
#include "core/cmdline.h"
#include "core/core.h"
#include "sched/sched.h"

#define SL_MAX_CONNS 64
/* One address may hold all but 8 slots, so a host that floods the API
 * (slowloris) leaves 8 for operators elsewhere. Not lower: every client
 * of QEMU's user networking comes from one address (10.0.2.2), and the
 * API contract holds 51 connections at once (test/lib/api_contract.py).
 * A constant until the config grows an api.max_conns_per_source key. */
#define SL_MAX_PER_SOURCE (SL_MAX_CONNS - 8)
_Static_assert(SL_MAX_CONNS <= LISTENER_SLOTS_MAX, "the slot table holds every connection");
#define SL_HANDSHAKE_NS (20 * 1000000000ull)    /* TCG on a loaded host is slow */
#define SL_IDLE_NS (60 * 1000000000ull)
#define SL_SWEEP_NS (250 * 1000000ull)
#define SL_SHUTDOWN_GRACE_NS (5 * 1000000000ull)
#define SL_DEFAULT_PORT 443

/* one per slot of S.slots, same index (peer, since, last are there) */
struct sconn {
	struct tcp_conn *tc;            /* NULL: free slot */
	struct api_tls_conn *tls;
	uint8_t peer_eof;               /* the peer sent FIN */
	uint8_t fin;                    /* tcp_close called */
	uint8_t starved;                /* recv_space said less than full */
	uint8_t stalled;                /* recv_space said 0 (counted once) */
};

/* refusals on cores other than 0: each core counts its own */
struct sl_core_ctr {
	counter_t refused;
} __attribute__((aligned(CACHE_LINE)));

static struct {
	/* immutable after api_start */
	int ifindex;
	uint16_t port;
	/* core 0 only */
	struct api_server srv;
	struct api_tls *tls;
	struct listener_slots slots;
	struct sconn conns[SL_MAX_CONNS];
	struct api_transport_stats x;   /* shown in /metrics */
	uint64_t refused0;              /* refused on core 0 */
	struct timer sweep;
	uint64_t shutdown_at;
	char token[2 * 24 + 1];         /* a generated token */
	/* written by their own core */
	struct sl_core_ctr per_core[POLLUX_MAX_CORES];
} S;

/* /metrics reads S.x: fold the other cores' refusals in first */
static void stats_sync(void)
{
	uint64_t r = S.refused0;
	for (uint32_t i = 1; i < cores_count(); i++)
		r += counter_get(&S.per_core[i].refused);
	S.x.refused = r;
}

/* Sends what TLS produced, as far as the send buffer takes it, then
 * closes our side once TLS is done and everything went to the stack. */
static void conn_flush(struct sconn *c)
{
	for (;;) {
		size_t len;
		const void *p = api_tls_conn_output(c->tls, &len);
		if (!len)
			break;
		size_t n = tcp_send(c->tc, p, len);
		if (!n)
			return;                 /* `writable` follows */
		api_tls_conn_output_done(c->tls, n);
		listener_slots_touch(&S.slots, (uint32_t)(c - S.conns), time_ns());
	}
	if (!c->fin && (api_tls_conn_closing(c->tls) || c->peer_eof ||
			(S.shutdown_at && !api_tls_conn_handshaking(c->tls)))) {
		c->fin = 1;
		tcp_close(c->tc);
	}
}

static void *sl_accept(struct tcp_conn *tc, void *arg)
{
	uint32_t me = core_self()->id;
	if (me != 0) {                  /* not the management interface's flow */
		counter_add(&S.per_core[me].refused, 1);
		return NULL;
	}
	uint32_t peer;
	uint16_t port;
	tcp_conn_peer(tc, &peer, &port);
	int i = listener_slots_admit(&S.slots, peer, time_ns());
	if (i == -EDQUOT) {
		S.x.source_limited++;
		S.refused0++;
		return NULL;
	}
	struct api_tls_conn *t = NULL;
	if (i < 0 || tcp_conn_ifindex(tc) != S.ifindex || S.shutdown_at ||
	    !(t = api_tls_conn_new(S.tls, &S.srv))) {
		if (i >= 0)
			listener_slots_release(&S.slots, (uint32_t)i);
		S.refused0++;
		return NULL;
	}
	struct sconn *c = &S.conns[i];
	*c = (struct sconn){ .tc = tc, .tls = t };
	S.x.accepted++;
	S.x.open++;
	return c;
}

static void sl_recv(struct tcp_conn *tc, void *ctx, const uint8_t *data, size_t len)
{
	struct sconn *c = ctx;
	uint64_t now = time_ns();
	listener_slots_touch(&S.slots, (uint32_t)(c - S.conns), now);
	stats_sync();
	if (api_tls_conn_feed(c->tls, data, len) < len) {
		/* recv_space promised room: only a stack bug gets here */
		klog("api: more data than the window allowed: connection reset");
		tcp_abort(tc);          /* `gone` frees c */
		return;
	}
	if (api_tls_conn_overdue(c->tls, now)) {
		S.x.request_timeouts++;
		tcp_abort(tc);
		return;
	}
	conn_flush(c);
}

static void sl_peer_closed(struct tcp_conn *tc, void *ctx)
{
	struct sconn *c = ctx;
	c->peer_eof = 1;
	api_tls_conn_eof(c->tls);
	conn_flush(c);
}

static void sl_writable(struct tcp_conn *tc, void *ctx)
{
	conn_flush(ctx);
}

static void sl_gone(struct tcp_conn *tc, void *ctx, int reason)
{
	struct sconn *c = ctx;
	api_tls_conn_free(c->tls);
	c->tls = NULL;
	c->tc = NULL;
	listener_slots_release(&S.slots, (uint32_t)(c - S.conns));
	S.x.open--;
}

static size_t sl_recv_space(struct tcp_conn *tc, void *ctx)
{
	struct sconn *c = ctx;
	size_t room = api_tls_conn_room(c->tls);
	if (!room && !c->stalled)
		S.x.read_stalls++;
	c->stalled = !room;
	c->starved = room < API_TLS_IN_MAX;
	return room;
}

static const struct tcp_ops sl_ops = {
	.recv = sl_recv, .peer_closed = sl_peer_closed, .writable = sl_writable,
	.gone = sl_gone, .recv_space = sl_recv_space,
};

/* Handshakes that take too long, connections silent too long and
 * requests that take too long to arrive. */
static void sl_sweep(struct timer *t, void *arg)
{
	uint64_t now = time_ns();
	for (uint32_t i = 0; i < SL_MAX_CONNS; i++) {
		struct sconn *c = &S.conns[i];
		if (!c->tc)
			continue;
		if (listener_slots_expired(&S.slots, i, now, api_tls_conn_handshaking(c->tls))) {
			S.x.timed_out++;
			tcp_abort(c->tc);       /* `gone` frees the slot */
		} else if (api_tls_conn_overdue(c->tls, now)) {
			S.x.request_timeouts++;
			tcp_abort(c->tc);
		}
	}
}

/* After POST /v1/system/shutdown: close every connection once its answers
 * have gone to the stack, and power off when all are gone (their last
 * bytes acknowledged) or after a grace period. */
static unsigned sl_shutdown(uint64_t now)
{
	if (!S.shutdown_at) {
		S.shutdown_at = now + SL_SHUTDOWN_GRACE_NS;
		klog("api: shutdown requested");
	}
	if (S.x.open && now < S.shutdown_at)
		return 0;
	klog("pollux: powering off (API)");
	platform_poweroff();
}

/* Core 0, every turn: what the callbacks could not do from inside the
 * stack (a window update once TLS has room again, closes at shutdown). */
static unsigned sl_poll(void *arg)
{
	unsigned work = 0;
	for (uint32_t i = 0; i < SL_MAX_CONNS; i++) {
		struct sconn *c = &S.conns[i];
		if (!c->tc)
			continue;
		size_t pending;
		api_tls_conn_output(c->tls, &pending);
		if (pending || (S.shutdown_at && !c->fin)) {
			conn_flush(c);
			work++;
		}
		if (c->tc && c->starved && api_tls_conn_room(c->tls) == API_TLS_IN_MAX) {
			c->starved = 0;
			tcp_recv_update(c->tc);
			work++;
		}
	}
	if (api_runtime_shutdown_asked())
		work += sl_shutdown(time_ns());
	return work;
}

/* Before core 0 sleeps (cores.idle "halt"): the API's frames arrive on
 * the management queue, whose interrupt wakes core 0, and every request
 * is answered on core 0 itself. Output waiting for the stack's send
 * buffer, a starved window and a shutdown in progress are re-tried by
 * polling: while any is there, core 0 wakes on a timer. */
static int sl_arm(void *arg)
{
	if (S.shutdown_at || api_runtime_shutdown_asked())
		return SCHED_ARM_TIMED;
	for (uint32_t i = 0; i < SL_MAX_CONNS; i++) {
		const struct sconn *c = &S.conns[i];
		size_t pending = 0;
		if (!c->tc)
			continue;
		api_tls_conn_output(c->tls, &pending);
		if (pending || c->starved)
			return SCHED_ARM_TIMED;
	}
	return SCHED_ARM_SLEEP;
}

/* api.interface: the index in "interfaces" (default 0), which must have
 * a device */
static int mgmt_index(const struct appliance_config *cfg, char *err, size_t errlen)
{
	uint32_t i = cfg->api.interface;
	if (i >= cfg->net.nifs || (int)i >= net_if_count()) {
		snprintf(err, errlen, "config: api.interface: no interface %u (\"interfaces\" lists %u)",
			 i, cfg->net.nifs);
		return -EINVAL;
	}
	return (int)i;
}

/* No api.token: 24 random bytes in hex, printed on the console. */
static const char *token_generate(char *err, size_t errlen)
{
	uint8_t r[24];
	if (getentropy(r, sizeof r)) {
		snprintf(err, errlen, "api: no entropy for a token");
		return NULL;
	}
	for (size_t i = 0; i < sizeof r; i++)
		snprintf(S.token + 2 * i, 3, "%02x", r[i]);
	return S.token;
}

/* A line for the operator on the console only, in klog's format, that
 * never enters the log ring GET /v1/log reads: the generated token.
 * api_start runs before the other cores start, so no klog line of theirs
 * can interleave with it. */
static void console_only(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void console_only(const char *fmt, ...)
{
	char line[256];
	uint64_t t = time_ns();
	int n = snprintf(line, sizeof line, "[%4llu.%06llu] ", (unsigned long long)(t / 1000000000ull),
			 (unsigned long long)(t / 1000ull % 1000000ull));
	va_list ap;
	va_start(ap, fmt);
	int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
	va_end(ap);
	size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m < sizeof line - (size_t)n - 1 ? (size_t)m
						 : sizeof line - (size_t)n - 2);
	line[len++] = '\n';
	console_write(line, len);
}

static void announce(const char *token, int generated_token)
{
	const char *url = cmdline_get("api_url");
	uint32_t a = 0, gw;
	uint8_t prefix;
	uint16_t mtu;
	net_if_info(S.ifindex, &a, &prefix, &gw, &mtu);
	char where[64];
	if (a)
		snprintf(where, sizeof where, "%u.%u.%u.%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255);
	else
		snprintf(where, sizeof where, "address from DHCP");
	klog("api: eth%d (%s) port %u, TLS 1.2, %s certificate", S.ifindex, where, S.port,
	     api_tls_generated(S.tls) ? "generated self-signed" : "configured");
	if (url && *url)
		klog("api: %s", url);
	if (generated_token)
		console_only("api: token %s (generated: the config has no api.token)", token);
	klog("api: certificate sha256 Fingerprint=%s", api_tls_fingerprint(S.tls));
}

/* TLS's extra entropy source: virtio-rng; should the device stop
 * answering, the platform's own getrandom (RDRAND on the VM) fills in,
 * so a reseed never fails for it. Core 0. */
static int rng_entropy(void *arg, unsigned char *out, size_t len)
{
	while (len) {
		long n = virtio_rng_read(out, len);
		if (n <= 0) {           /* no device (any more): getrandom fills in */
			size_t k = len > 256 ? 256 : len;
			if (getentropy(out, k))
				return -1;
			n = (long)k;
		}
		out += n;
		len -= (size_t)n;
	}
	return 0;
}

int api_start(const struct appliance_config *cfg, char *err, size_t errlen)
{
	if (!cfg->api.on)
		return 0;
	int rc = mgmt_index(cfg, err, errlen);
	if (rc < 0)
		return rc;
	struct api_tls_opts tls = { .cert_pem = cfg->api.cert, .key_pem = cfg->api.key,
				    .client_ca_pem = cfg->api.client_ca, .client_crl_pem = cfg->api.client_crl,
				    .admin_subjects = cfg->api.admin_subjects,
				    .nadmin_subjects = cfg->api.nadmin_subjects };
	const char *token = cfg->api.token;
	uint16_t port = cfg->api.port ? cfg->api.port : SL_DEFAULT_PORT;
	S.ifindex = rc;
	S.port = port;
	listener_slots_init(&S.slots, SL_MAX_CONNS, SL_MAX_PER_SOURCE, SL_HANDSHAKE_NS, SL_IDLE_NS);
	int generated_token = !token && !tls.client_ca_pem;
	if (generated_token && !(token = token_generate(err, errlen)))
		return -EIO;
	if (api_server_init(&S.srv, token, &api_runtime_backend)) {
		snprintf(err, errlen, "config: api.token: at most %d characters", API_TOKEN_MAX);
		return -EINVAL;
	}
	if (cfg->api.site_max_mb)
		S.srv.site_max_bytes = (uint64_t)cfg->api.site_max_mb << 20;
	if (api_server_set_monitor_token(&S.srv, cfg->api.monitor_token)) {
		snprintf(err, errlen, "config: api.monitor_token: at most %d characters, not api.token",
			 API_TOKEN_MAX);
		return -EINVAL;
	}
	if (virtio_rng_present()) {             /* the hypervisor's entropy, mixed in */
		tls.entropy = rng_entropy;
		tls.entropy_arg = NULL;
	}
	if ((rc = api_tls_init(&S.tls, &tls, err, errlen)))
		return rc;
	S.srv.tls_stats = api_tls_stats(S.tls);
	S.srv.transport = &S.x;
	if ((rc = tcp_listen(port, &sl_ops, sl_accept, NULL))) {
		snprintf(err, errlen, "config: api.port: %u is taken (%s)", port, strerror(-rc));
		return -EINVAL;
	}
	if ((rc = sched_poller_add(0, "api", sl_poll, NULL, NULL)) ||
	    (rc = sched_poller_set_arm(0, sl_poll, NULL, sl_arm, NULL))) {
		snprintf(err, errlen, "api: no poller slot on core 0");
		return rc;
	}
	timer_init(&S.sweep, sl_sweep, NULL);
	sched_timer_arm(&S.sweep, time_ns() + SL_SWEEP_NS, SL_SWEEP_NS);
	announce(token, generated_token);
	return 0;
}
