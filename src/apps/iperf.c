/*
 * iperf.c — an iperf3-compatible server on TCP port 5201, so that Linux's
 * stock `iperf3 -c` runs its normal TCP tests against the appliance
 * (-P parallel streams, -R reverse).
 *
 * The protocol (iperf3's): the client opens a control connection and
 * sends a 37-byte cookie; the server walks it through states, one byte
 * each (PARAM_EXCHANGE, CREATE_STREAMS, TEST_START, TEST_RUNNING,
 * EXCHANGE_RESULTS, DISPLAY_RESULTS), exchanging length-prefixed JSON
 * for the parameters and the results; data connections open with the
 * same cookie.
 *
 * Cores: a connection lives on its flow's core like any other, so the
 * data streams of one test are spread over the data cores. The session
 * (the control connection's state) lives on the control connection's
 * core; a stream finds its session by cookie in a small table that the
 * session's core writes (registration) and the stream's core reads once
 * at accept; the stream's byte counter is owner-written and read relaxed
 * by the session for the results, and the start/stop of -R sending is a
 * call_on to the stream's core. The JSON (jansson, malloc) is control
 * path, once per test.
 *
 * The end of a -R test: the client sends TEST_END, turns its data sockets
 * back to blocking and keeps reading them whole blocks at a time while it
 * waits for EXCHANGE_RESULTS; its read position is not on a block boundary
 * (it read them non-blocking before), so a server that stops sending at
 * TEST_END can leave it blocked in a read forever, never answering
 * EXCHANGE_RESULTS. The streams therefore keep sending after TEST_END
 * until the client closes them or the session ends; the results report
 * the bytes sent up to TEST_END.
 *
 * A stream's context is freed on its own core after the session's core
 * has dropped it from the session (stream_forget): every call_on the
 * session sent it before comes first (channels are FIFO per sender).
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <jansson.h>
#include "apps/apps.h"
#include "core/core.h"
#include "net/net.h"
#include "sched/sched.h"

#define IPERF_PORT 5201
#define COOKIE_LEN 37
#define MAX_SESSIONS 8
#define MAX_STREAMS 64

enum { TEST_START = 1, TEST_RUNNING = 2, TEST_END = 4, PARAM_EXCHANGE = 9, CREATE_STREAMS = 10,
       EXCHANGE_RESULTS = 13, DISPLAY_RESULTS = 14, IPERF_DONE = 16, SERVER_ERROR = -2 };

struct session;

struct iconn {                          /* the context of every accepted connection */
	struct tcp_conn *c;
	struct apps_idle idle;          /* iperf.idle_timeout_s */
	uint32_t core;
	int kind;                       /* 0 unknown (reading cookie), 1 control, 2 stream */
	uint8_t cookie[COOKIE_LEN];
	uint32_t got;
	struct session *s;
	/* control connection: a message being read */
	uint8_t *msg;
	uint32_t msg_len, msg_got;
	int want;                       /* 0: a state byte, 1: length, 2: JSON */
	uint8_t lenbuf[4];
	/* stream */
	int id;
	counter_t bytes;
	_Atomic int sending;
	uint64_t queued, stop_at;       /* owner: bytes queued; send until stop_at */
	uint32_t blksize;
	int closed;
	uint32_t sess_core;             /* stream: its session's core */
};

struct session {
	_Atomic int used;
	uint8_t cookie[COOKIE_LEN];
	struct iconn *ctl;
	uint32_t ctl_core;
	int reverse, parallel;
	uint32_t blksize;               /* the client reads whole blocks of this */
	_Atomic int nstreams;
	struct iconn *streams[MAX_STREAMS];
	uint64_t start_ns, end_ns;
	uint64_t end_bytes[MAX_STREAMS];        /* each stream's count at TEST_END */
	int state;
};

static struct session sessions[MAX_SESSIONS];
static uint32_t iperf_idle_s;
static uint8_t pattern[16384];

static struct iconn *ic_new(struct tcp_conn *c)
{
	struct iconn *x = calloc(1, sizeof *x);
	if (x) {
		x->c = c;
		x->core = core_self()->id;
	}
	return x;
}

static void send_state(struct session *s, int8_t st)
{
	s->state = st;
	if (s->ctl && s->ctl->c)
		tcp_send(s->ctl->c, &st, 1);
}

static void send_json(struct session *s, json_t *j)
{
	char *txt = json_dumps(j, JSON_COMPACT);
	if (!txt)
		return;
	uint32_t n = (uint32_t)strlen(txt), be = htonl(n);
	tcp_send(s->ctl->c, &be, 4);
	tcp_send(s->ctl->c, txt, n);
	free(txt);
}

/* ---- reverse (-R): streams send on their own cores */
/* The client reads in whole blocks (blksize, a blocking read): a test
 * ends only on a block boundary, or the client waits forever for the
 * rest of its last block. */
static void pump(struct iconn *x)
{
	while (x->c) {
		uint64_t limit = atomic_load_explicit(&x->sending, memory_order_relaxed) ? UINT64_MAX : x->stop_at;
		if (x->queued >= limit)
			return;
		uint64_t want = limit - x->queued < sizeof pattern ? limit - x->queued : sizeof pattern;
		size_t n = tcp_send(x->c, pattern, (size_t)want);
		x->queued += n;
		counter_add(&x->bytes, n);
		if (n < want)
			return;                 /* `writable` calls us again */
	}
}

static void stream_start(void *arg)
{
	struct iconn *x = arg;
	x->stop_at = UINT64_MAX;
	atomic_store(&x->sending, 1);
	pump(x);
}

static void stream_stop(void *arg)
{
	struct iconn *x = arg;
	uint64_t b = x->blksize ? x->blksize : 131072;
	x->stop_at = (x->queued + b - 1) / b * b;       /* finish the block */
	atomic_store(&x->sending, 0);
	pump(x);
}

static void stream_free(void *arg) { free(arg); }

/* on the session's core: a stream is gone; drop it from its session (if
 * that session still holds it), then free it on its own core */
static void stream_forget(void *arg)
{
	struct iconn *x = arg;
	struct session *s = x->s;
	int n = atomic_load(&s->nstreams);
	for (int i = 0; i < n; i++)
		if (s->streams[i] == x) {
			s->end_bytes[i] = s->end_ns ? s->end_bytes[i] : counter_get(&x->bytes);
			s->streams[i] = NULL;
		}
	if (call_on(x->core, stream_free, x))
		klog("iperf: stream context leaked (channel to core %u full)", x->core);
}

static void all_streams(struct session *s, void (*fn)(void *))
{
	int n = atomic_load(&s->nstreams);
	for (int i = 0; i < n; i++)
		if (s->streams[i])
			call_on(s->streams[i]->core, fn, s->streams[i]);
}

/* ---- the session, on the control connection's core */
static void begin_test(void *arg)
{
	struct session *s = arg;
	send_state(s, TEST_START);
	send_state(s, TEST_RUNNING);
	s->start_ns = time_ns();
	if (s->reverse)
		all_streams(s, stream_start);
}

static void stream_arrived(void *arg)
{
	struct session *s = arg;
	if (s->state == CREATE_STREAMS && atomic_load(&s->nstreams) >= s->parallel)
		begin_test(s);
}

static void on_params(struct session *s, const char *txt, size_t len)
{
	json_error_t e;
	json_t *j = json_loadb(txt, len, 0, &e);
	s->parallel = 1;
	if (j) {
		json_t *p = json_object_get(j, "parallel");
		if (json_is_integer(p) && json_integer_value(p) > 0 && json_integer_value(p) <= MAX_STREAMS)
			s->parallel = (int)json_integer_value(p);
		s->reverse = json_is_true(json_object_get(j, "reverse"));
		json_t *len = json_object_get(j, "len");
		s->blksize = json_is_integer(len) && json_integer_value(len) > 0 &&
			     json_integer_value(len) <= (16 << 20) ? (uint32_t)json_integer_value(len) : 131072;
		json_t *udp = json_object_get(j, "udp");
		json_decref(j);
		if (json_is_true(udp)) {            /* TCP only */
			send_state(s, SERVER_ERROR);
			return;
		}
	}
	send_state(s, CREATE_STREAMS);
	stream_arrived(s);
}

static void on_client_results(struct session *s)
{
	json_t *r = json_object();
	json_object_set_new(r, "cpu_util_total", json_real(0));
	json_object_set_new(r, "cpu_util_user", json_real(0));
	json_object_set_new(r, "cpu_util_system", json_real(0));
	json_object_set_new(r, "sender_has_retransmits", json_integer(s->reverse ? 0 : -1));
	json_t *arr = json_array();
	double secs = (double)(s->end_ns - s->start_ns) / 1e9;
	int n = atomic_load(&s->nstreams);
	for (int i = 0; i < n; i++) {
		struct iconn *x = s->streams[i];
		json_t *st = json_object();
		json_object_set_new(st, "id", json_integer(x ? x->id : i + 1));
		json_object_set_new(st, "bytes", json_integer((json_int_t)s->end_bytes[i]));
		json_object_set_new(st, "retransmits", json_integer(s->reverse ? 0 : -1));
		json_object_set_new(st, "jitter", json_real(0));
		json_object_set_new(st, "errors", json_integer(0));
		json_object_set_new(st, "omitted_errors", json_integer(0));
		json_object_set_new(st, "packets", json_integer(0));
		json_object_set_new(st, "omitted_packets", json_integer(0));
		json_object_set_new(st, "start_time", json_real(0));
		json_object_set_new(st, "end_time", json_real(secs));
		json_array_append_new(arr, st);
	}
	json_object_set_new(r, "streams", arr);
	send_json(s, r);
	json_decref(r);
	send_state(s, DISPLAY_RESULTS);
}

static void session_end(struct session *s)
{
	all_streams(s, stream_stop);
	s->ctl = NULL;
	atomic_store(&s->used, 0);
}

/* the control connection's bytes */
static void ctl_recv(struct iconn *x, const uint8_t *d, size_t len)
{
	struct session *s = x->s;
	while (len) {
		if (x->want == 0) {                     /* a state byte from the client */
			int8_t st = (int8_t)*d++;
			len--;
			if (st == TEST_END) {
				s->end_ns = time_ns();
				int n = atomic_load(&s->nstreams);
				for (int i = 0; i < n; i++)
					if (s->streams[i])
						s->end_bytes[i] = counter_get(&s->streams[i]->bytes);
				/* -R: the streams keep sending (see the top) */
				send_state(s, EXCHANGE_RESULTS);
				x->want = 1;                    /* the client's results follow */
				x->got = 0;
			} else if (st == IPERF_DONE) {
				tcp_close(x->c);
			}
		} else if (x->want == 1) {              /* a 4-byte length */
			x->lenbuf[x->got++] = *d++;
			len--;
			if (x->got == 4) {
				x->msg_len = ntohl(*(uint32_t *)x->lenbuf);
				if (x->msg_len > (1u << 20)) {
					tcp_abort(x->c);
					return;
				}
				x->msg = malloc(x->msg_len + 1);
				x->msg_got = 0;
				x->want = 2;
			}
		} else {                                /* JSON */
			size_t take = x->msg_len - x->msg_got < len ? x->msg_len - x->msg_got : len;
			if (x->msg)
				memcpy(x->msg + x->msg_got, d, take);
			x->msg_got += (uint32_t)take;
			d += take;
			len -= take;
			if (x->msg_got == x->msg_len) {
				x->want = 0;
				if (s->state == PARAM_EXCHANGE)
					on_params(s, (const char *)x->msg, x->msg_len);
				else if (s->state == EXCHANGE_RESULTS)
					on_client_results(s);
				free(x->msg);
				x->msg = NULL;
			}
		}
	}
}

static void stream_register(void *arg);

static void on_recv(struct tcp_conn *c, void *ctx, const uint8_t *d, size_t len)
{
	struct iconn *x = ctx;
	apps_idle_touch(&x->idle);
	if (x->kind == 0) {                             /* the cookie first */
		size_t take = COOKIE_LEN - x->got < len ? COOKIE_LEN - x->got : len;
		memcpy(x->cookie + x->got, d, take);
		x->got += (uint32_t)take;
		d += take;
		len -= take;
		if (x->got < COOKIE_LEN)
			return;
		/* a known cookie makes this a stream; otherwise a new session */
		struct session *s = NULL;
		for (int i = 0; i < MAX_SESSIONS; i++)
			if (atomic_load_explicit(&sessions[i].used, memory_order_acquire) &&
			    !memcmp(sessions[i].cookie, x->cookie, COOKIE_LEN))
				s = &sessions[i];
		if (s) {
			x->kind = 2;
			x->s = s;
			x->sess_core = s->ctl_core;
			call_on(s->ctl_core, stream_register, x);
		} else {
			for (int i = 0; i < MAX_SESSIONS && !s; i++) {
				int expect = 0;
				if (atomic_compare_exchange_strong(&sessions[i].used, &expect, 2))
					s = &sessions[i];
			}
			if (!s) {
				tcp_abort(c);
				return;
			}
			memset((uint8_t *)s + sizeof s->used, 0, sizeof *s - sizeof s->used);
			memcpy(s->cookie, x->cookie, COOKIE_LEN);
			s->ctl = x;
			s->ctl_core = x->core;
			x->kind = 1;
			x->s = s;
			/* release: the cookie is written before streams look for it */
			atomic_store_explicit(&s->used, 1, memory_order_release);
			send_state(s, PARAM_EXCHANGE);
			x->want = 1;
			x->got = 0;
		}
	}
	if (!len)
		return;
	if (x->kind == 1)
		ctl_recv(x, d, len);
	else if (x->kind == 2)
		counter_add(&x->bytes, len);
}

/* on the session's core: number the stream in arrival order (iperf3's
 * own numbering: 1, 3, 4, 5, ...) */
static void stream_register(void *arg)
{
	struct iconn *x = arg;
	struct session *s = x->s;
	int n = atomic_load(&s->nstreams);
	if (n == MAX_STREAMS || !atomic_load(&s->used))
		return;
	x->id = n == 0 ? 1 : n + 2;
	x->blksize = s->blksize;
	s->streams[n] = x;
	atomic_store(&s->nstreams, n + 1);
	stream_arrived(s);
}

static void on_writable(struct tcp_conn *c, void *ctx)
{
	struct iconn *x = ctx;
	apps_idle_touch(&x->idle);
	if (x->kind == 2)
		pump(x);
}

static void on_peer_closed(struct tcp_conn *c, void *ctx)
{
	tcp_close(c);
}

static void on_gone(struct tcp_conn *c, void *ctx, int reason)
{
	struct iconn *x = ctx;
	apps_idle_stop(&x->idle);
	x->c = NULL;
	if (x->kind == 1) {
		session_end(x->s);
		free(x->msg);
		free(x);
	} else if (x->kind == 2) {
		atomic_store(&x->sending, 0);
		if (call_on(x->sess_core, stream_forget, x))
			klog("iperf: stream context leaked (channel to core %u full)", x->sess_core);
	} else {
		free(x);
	}
}

static void on_idle(struct apps_idle *i)
{
	struct iconn *x = (struct iconn *)((char *)i - offsetof(struct iconn, idle));
	tcp_abort_idle(x->c);                   /* on_gone frees x */
}

static void *on_accept(struct tcp_conn *c, void *arg)
{
	struct iconn *x = ic_new(c);
	if (x)
		apps_idle_start(&x->idle, iperf_idle_s, on_idle);
	return x;
}

static const struct tcp_ops iperf_ops = {
	.recv = on_recv, .peer_closed = on_peer_closed, .writable = on_writable, .gone = on_gone,
};

/* ---- settings (struct iperf_config, apps.h). The control connection is
 * silent while a test runs: the default leaves room for long tests. */
static const struct schema_node fields[] = {
	APPS_IDLE_TIMEOUT_ROW(offsetof(struct iperf_config, idle_timeout_s), 300,
			      "a connection (the control connection is quiet while a test runs)"),
	{ .kind = SK_END }
};

const struct schema_node iperf_schema = {
	.key = "iperf", .kind = SK_OBJECT, .sub = fields, .off = offsetof(struct apps_config, iperf),
	.doc = "The iperf3-compatible server."
};

int iperf_init(const struct apps_config *cfg, char *err, size_t errlen)
{
	iperf_idle_s = cfg->iperf.idle_timeout_s;
	for (size_t i = 0; i < sizeof pattern; i++)
		pattern[i] = (uint8_t)(i * 7);
	int rc = tcp_listen(IPERF_PORT, &iperf_ops, on_accept, NULL);
	if (rc) {
		snprintf(err, errlen, "iperf: port %d: %s", IPERF_PORT, strerror(-rc));
		return rc;
	}
	klog("iperf: iperf3-compatible server on TCP port %d", IPERF_PORT);
	return 0;
}
