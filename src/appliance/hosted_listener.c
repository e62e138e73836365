/*
 * hosted_listener.c — the API on a host socket, for build/pollux-hosted:
 * 127.0.0.1:api.port (default 8443), TLS -> HTTP -> routes through the
 * same api_tls_conn / api_conn as the stack's listener. Only the hosted
 * build links this file (the Makefile chooses it); main.c calls
 * api_start() at the same point as on the image.
 *
 * It runs as a poller on core 0: each turn one epoll_wait with a zero
 * timeout, then for each ready socket a bounded read into the TLS
 * connection and a non-blocking send of what it produced. Nothing
 * blocks, so a slow client costs only its own buffers:
 *  - at most LST_MAX_CONNS connections, and at most LST_MAX_PER_SOURCE
 *    from one address; further ones are accepted and closed at once
 *    (counted). The slots and their handshake and silence deadlines are
 *    listener_slots.c's, shared with the stack's listener;
 *  - reading stops while a connection's TLS input is full (its output
 *    is not being read by the client), so memory per connection is
 *    bounded by API_TLS_IN_MAX plus about twice API_OUT_HIGH_WATER;
 *  - a handshake must finish within LST_HANDSHAKE_NS, and a connection
 *    that moves no byte either way for LST_IDLE_NS is closed (half-open
 *    and stalled clients included);
 *  - a request must arrive whole in time from its first byte (headers
 *    API_HEADER_TIMEOUT_NS, all of it API_REQUEST_TIMEOUT_NS: see
 *    api_tls_conn_overdue), checked after every read and by the sweep,
 *    else the connection is closed (request_timeouts).
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>
#include "api/api.h"
#include "appliance/appliance.h"
#include "appliance/listener_slots.h"
#include "core/platform.h"
#include "core/core.h"
#include "sched/sched.h"

#define LST_MAX_CONNS 256
/* Every client of this listener comes from 127.0.0.1, so a per-source
 * limit only bounds what one client program can hold: a quarter of the
 * slots, above the 51 connections the API contract holds at once
 * (test/lib/api_contract.py). A constant until the config grows an
 * api.max_conns_per_source key. */
#define LST_MAX_PER_SOURCE 64
#define LST_HANDSHAKE_NS (10 * 1000000000ull)
#define LST_IDLE_NS (60 * 1000000000ull)
#define LST_SHUTDOWN_GRACE_NS (1000000000ull)
#define LST_LISTEN_ID UINT32_MAX
_Static_assert(LST_MAX_CONNS <= LISTENER_SLOTS_MAX, "the slot table holds every connection");

/* one per slot of L.slots, same index (peer, since, last are there) */
struct lconn {
	int fd;                         /* -1: free slot */
	struct api_tls_conn *tls;
	uint32_t events;                /* what epoll watches now */
	int peer_eof;
};

static struct {
	int lfd, ep;
	struct api_server srv;
	struct api_tls *tls;
	struct listener_slots slots;
	struct lconn conns[LST_MAX_CONNS];
	struct api_transport_stats x;   /* shown in /metrics */
	uint64_t next_sweep, shutdown_at;
} L = { .lfd = -1, .ep = -1 };

static void conn_close(struct lconn *c)
{
	epoll_ctl(L.ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	api_tls_conn_free(c->tls);
	c->fd = -1;
	c->tls = NULL;
	listener_slots_release(&L.slots, (uint32_t)(c - L.conns));
	L.x.open--;
}

static void conn_watch(struct lconn *c, uint32_t id)
{
	size_t pending;
	api_tls_conn_output(c->tls, &pending);
	uint32_t ev = (pending ? EPOLLOUT : 0) |
		      (!c->peer_eof && api_tls_conn_room(c->tls) ? EPOLLIN | EPOLLRDHUP : 0);
	if (ev == c->events)
		return;
	if ((c->events & EPOLLIN) && !(ev & EPOLLIN) && !c->peer_eof)
		L.x.read_stalls++;      /* stopped reading: answers not taken */
	struct epoll_event e = { .events = ev, .data.u32 = id };
	epoll_ctl(L.ep, EPOLL_CTL_MOD, c->fd, &e);
	c->events = ev;
}

/* Sends what the TLS side produced; -1 if the socket is gone. */
static int conn_flush(struct lconn *c, uint64_t now)
{
	for (;;) {
		size_t len;
		const void *p = api_tls_conn_output(c->tls, &len);
		if (!len)
			return 0;
		ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
		api_tls_conn_output_done(c->tls, (size_t)n);
		listener_slots_touch(&L.slots, (uint32_t)(c - L.conns), now);
	}
}

static int conn_read(struct lconn *c, uint64_t now)
{
	char buf[16384];
	for (int i = 0; i < 8 && !c->peer_eof; i++) {
		size_t room = api_tls_conn_room(c->tls);
		if (!room)
			return 0;
		ssize_t n = recv(c->fd, buf, room < sizeof buf ? room : sizeof buf, MSG_DONTWAIT);
		if (n == 0) {
			c->peer_eof = 1;
			api_tls_conn_eof(c->tls);
			return 0;
		}
		if (n < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
		listener_slots_touch(&L.slots, (uint32_t)(c - L.conns), now);
		api_tls_conn_feed(c->tls, buf, (size_t)n);
		if (api_tls_conn_overdue(c->tls, now)) {
			L.x.request_timeouts++;
			return -1;
		}
		if (conn_flush(c, now))
			return -1;
	}
	return 0;
}

static void conn_service(uint32_t id, uint32_t events, uint64_t now)
{
	struct lconn *c = &L.conns[id];
	if (c->fd < 0)
		return;
	if (((events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) && conn_read(c, now)) ||
	    conn_flush(c, now)) {
		conn_close(c);
		return;
	}
	size_t pending;
	api_tls_conn_output(c->tls, &pending);
	if (!pending && (api_tls_conn_closing(c->tls) || c->peer_eof)) {
		conn_close(c);
		return;
	}
	conn_watch(c, id);
}

static unsigned accept_some(uint64_t now)
{
	unsigned n = 0;
	for (; n < 16; n++) {
		struct sockaddr_in from;
		socklen_t fromlen = sizeof from;
		int fd = accept4(L.lfd, (struct sockaddr *)&from, &fromlen, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			break;
		uint32_t peer = fromlen >= sizeof from ? from.sin_addr.s_addr : 0;
		int id = listener_slots_admit(&L.slots, peer, now);
		if (id == -EDQUOT) {
			L.x.source_limited++;
			L.x.refused++;
			close(fd);
			continue;
		}
		struct api_tls_conn *t = id >= 0 ? api_tls_conn_new(L.tls, &L.srv) : NULL;
		if (!t) {
			if (id >= 0)
				listener_slots_release(&L.slots, (uint32_t)id);
			L.x.refused++;
			close(fd);
			continue;
		}
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		struct lconn *c = &L.conns[id];
		*c = (struct lconn){ .fd = fd, .tls = t, .events = EPOLLIN | EPOLLRDHUP };
		struct epoll_event e = { .events = c->events, .data.u32 = (uint32_t)id };
		if (epoll_ctl(L.ep, EPOLL_CTL_ADD, fd, &e)) {
			close(fd);
			api_tls_conn_free(t);
			c->fd = -1;
			c->tls = NULL;
			listener_slots_release(&L.slots, (uint32_t)id);
			continue;
		}
		L.x.open++;
		L.x.accepted++;
	}
	return n;
}

/* Handshakes that take too long, connections silent too long and
 * requests that take too long to arrive. */
static void sweep(uint64_t now)
{
	for (uint32_t i = 0; i < LST_MAX_CONNS; i++) {
		struct lconn *c = &L.conns[i];
		if (c->fd < 0)
			continue;
		if (listener_slots_expired(&L.slots, i, now, api_tls_conn_handshaking(c->tls))) {
			L.x.timed_out++;
			conn_close(c);
		} else if (api_tls_conn_overdue(c->tls, now)) {
			L.x.request_timeouts++;
			conn_close(c);
		}
	}
}

/* After POST /v1/system/shutdown: power off once every answer has gone
 * out, or after a grace period. */
static void maybe_shutdown(uint64_t now)
{
	if (!L.shutdown_at) {
		L.shutdown_at = now + LST_SHUTDOWN_GRACE_NS;
		klog("api: shutdown requested");
	}
	for (uint32_t i = 0; i < LST_MAX_CONNS && now < L.shutdown_at; i++) {
		size_t pending = 0;
		if (L.conns[i].fd >= 0)
			api_tls_conn_output(L.conns[i].tls, &pending);
		if (pending)
			return;
	}
	klog("pollux: powering off (API)");
	platform_poweroff();
}

static unsigned listener_poll(void *arg)
{
	struct epoll_event ev[32];
	uint64_t now = time_ns();
	unsigned work = 0;
	int n = epoll_wait(L.ep, ev, 32, 0);
	for (int i = 0; i < n; i++) {
		if (ev[i].data.u32 == LST_LISTEN_ID)
			work += accept_some(now);
		else
			conn_service(ev[i].data.u32, ev[i].events, now);
	}
	work += n > 0 ? (unsigned)n : 0;
	if (now >= L.next_sweep) {
		sweep(now);
		L.next_sweep = now + 100000000ull;
	}
	if (api_runtime_shutdown_asked())
		maybe_shutdown(now);
	return work;
}

static int listen_on(uint16_t port, char *err, size_t errlen)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int one = 1;
	L.lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (L.lfd < 0 || setsockopt(L.lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) ||
	    bind(L.lfd, (struct sockaddr *)&a, sizeof a) || listen(L.lfd, 128)) {
		snprintf(err, errlen, "api: cannot listen on 127.0.0.1:%u: %s", port, strerror(errno));
		return errno == EINVAL ? -EIO : -errno;     /* -EINVAL: the config's fault */
	}
	L.ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event e = { .events = EPOLLIN, .data.u32 = LST_LISTEN_ID };
	if (L.ep < 0 || epoll_ctl(L.ep, EPOLL_CTL_ADD, L.lfd, &e)) {
		snprintf(err, errlen, "api: epoll: %s", strerror(errno));
		return errno == EINVAL ? -EIO : -errno;
	}
	return 0;
}

int api_start(const struct appliance_config *cfg, char *err, size_t errlen)
{
	if (!cfg->api.on)
		return 0;
	struct api_tls_opts tls = { .cert_pem = cfg->api.cert, .key_pem = cfg->api.key,
				    .client_ca_pem = cfg->api.client_ca, .client_crl_pem = cfg->api.client_crl,
				    .admin_subjects = cfg->api.admin_subjects,
				    .nadmin_subjects = cfg->api.nadmin_subjects };
	const char *token = cfg->api.token;
	uint16_t port = cfg->api.port ? cfg->api.port : 8443;
	int rc;
	if (api_server_init(&L.srv, token, &api_runtime_backend)) {
		snprintf(err, errlen, "config: api.token: at most %d characters", API_TOKEN_MAX);
		return -EINVAL;
	}
	if (cfg->api.site_max_mb)
		L.srv.site_max_bytes = (uint64_t)cfg->api.site_max_mb << 20;
	if (api_server_set_monitor_token(&L.srv, cfg->api.monitor_token)) {
		snprintf(err, errlen, "config: api.monitor_token: at most %d characters, not api.token",
			 API_TOKEN_MAX);
		return -EINVAL;
	}
	if ((rc = api_tls_init(&L.tls, &tls, err, errlen)))
		return rc;
	L.srv.tls_stats = api_tls_stats(L.tls);
	L.srv.transport = &L.x;
	for (uint32_t i = 0; i < LST_MAX_CONNS; i++)
		L.conns[i].fd = -1;
	listener_slots_init(&L.slots, LST_MAX_CONNS, LST_MAX_PER_SOURCE, LST_HANDSHAKE_NS, LST_IDLE_NS);
	if ((rc = listen_on(port, err, errlen)))
		return rc;
	/* a halting core 0 wakes when a client knocks, not 1 ms later */
	if ((rc = platform_idle_fd(L.ep)))
		klog("api: idle wake-ups on the listener unavailable (%s): requests may wait up to halt_max_us",
		     strerror(-rc));
	if ((rc = sched_poller_add(0, "api", listener_poll, NULL, NULL))) {
		snprintf(err, errlen, "api: no poller slot on core 0");
		return rc;
	}
	if (!token && !tls.client_ca_pem)
		klog("api: no api.token and no api.client_ca: every request will get 401");
	klog("api: https://127.0.0.1:%u/ (TLS 1.2, %s certificate)", port,
	     api_tls_generated(L.tls) ? "generated self-signed" : "configured");
	klog("api: certificate sha256 Fingerprint=%s", api_tls_fingerprint(L.tls));
	return 0;
}
