/*
 * test_kv_cores.c — the kv appliance (src/apps/kv.c) on several cores, on
 * the host. The net harness runs its stack on one core, so kv there has
 * one shard and nothing crosses; this file brings its own small platform
 * instead: TC cores (core 0 the control core, shards on 1..TC-1) stepped
 * in turn by one thread, each with its call_on queue, pollers and timers,
 * and a fake TCP under the connections (the client's bytes go in as the
 * app's recv_space allows, in segments of 1460; answers go out into the
 * client's window, which the test opens or shuts). Messages really cross:
 * a key of core 2's shard runs on core 2, in turn.
 *
 * What it pins down: a store whose key lives on another core and whose
 * value needs a big message waits for one when the core's few are taken
 * (its input held, nothing closed) and is stored whole; a client that
 * takes a big message for a value and stops sending it is reset after
 * kv.send_timeout_s, and the store waiting behind it goes on; afterwards
 * every message and slot is back.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "apps/apps.h"
#include "apps/kv.h"
#include "core/core.h"
#include "net/net.h"
#include "sched/sched.h"

/* ---------------------------------------------------------------- platform */
#define TC 3                    /* cores: 0 control, 1 and 2 data */
static struct core tcores[TC];
static uint32_t tcur;
static uint64_t tclock = 1000ull * 1000000000ull;

struct core *core_self(void) { return &tcores[tcur]; }
uint32_t cores_count(void) { return TC; }
uint64_t time_ns(void) { return tclock; }

void *frame_alloc_pages(size_t npages)
{
	void *p = aligned_alloc(4096, npages * 4096);
	if (p)
		memset(p, 0, npages * 4096);
	return p;
}

void klog(const char *fmt, ...) { (void)fmt; }      /* kv's start-up line: not under test */

_Noreturn void panic(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "panic on core %u: ", tcur);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

/* call_on: a bounded queue per core, as a channel (full: -ENOBUFS) */
#define TQ 512
static struct { void (*fn)(void *); void *arg; } tq[TC][TQ];
static unsigned tq_head[TC], tq_n[TC];

int call_on(uint32_t core, void (*fn)(void *), void *arg)
{
	cr_assert(core < TC);
	if (tq_n[core] == TQ)
		return -ENOBUFS;
	tq[core][(tq_head[core] + tq_n[core]) % TQ].fn = fn;
	tq[core][(tq_head[core] + tq_n[core]) % TQ].arg = arg;
	tq_n[core]++;
	return 0;
}

static struct { uint32_t core; sched_poll_fn fn; sched_flush_fn flush; void *arg; } tpoll[8];
static int tnpoll;

int sched_poller_add(uint32_t core, const char *name, sched_poll_fn fn, sched_flush_fn flush, void *arg)
{
	(void)name;
	cr_assert(tnpoll < 8);
	tpoll[tnpoll].core = core;
	tpoll[tnpoll].fn = fn;
	tpoll[tnpoll].flush = flush;
	tpoll[tnpoll].arg = arg;
	tnpoll++;
	return 0;
}

/* kv's arm hook only matters to a sleeping core; these cores never sleep */
int sched_poller_set_arm(uint32_t core, sched_poll_fn fn, void *arg, sched_arm_fn arm,
			 sched_flush_fn disarm)
{
	(void)core; (void)fn; (void)arg; (void)arm; (void)disarm;
	return 0;
}

/* timers: kv arms one periodic sweep per core; the core that arms owns it */
static struct { struct timer *t; uint32_t core; } ttim[8];
static int tntim;

void timer_init(struct timer *t, timer_fn fn, void *arg)
{
	memset(t, 0, sizeof *t);
	t->fn = fn;
	t->arg = arg;
}

void sched_timer_arm(struct timer *t, uint64_t deadline_ns, uint64_t period_ns)
{
	int i;
	for (i = 0; i < tntim && ttim[i].t != t; i++)
		;
	if (i == tntim) {
		cr_assert(tntim < 8);
		ttim[tntim].t = t;
		ttim[tntim++].core = tcur;
	}
	t->deadline_ns = deadline_ns;
	t->period_ns = period_ns;
}

/* idle timeouts are not under test here (kv.idle_timeout_s 0) */
void apps_idle_start(struct apps_idle *i, uint32_t timeout_s, void (*expired)(struct apps_idle *i))
{
	i->expired = expired;
	(void)timeout_s;
}
void apps_idle_stop(struct apps_idle *i) { (void)i; }

/* ---------------------------------------------------------------- fake TCP */
static const struct tcp_ops *tops;
static tcp_accept_fn taccept;
static void *taccept_arg;

int tcp_listen(uint16_t port, const struct tcp_ops *ops, tcp_accept_fn accept, void *arg)
{
	(void)port;
	tops = ops;
	taccept = accept;
	taccept_arg = arg;
	return 0;
}

#define T_IN (2u << 20)         /* what a client may have queued to send */
#define T_RX (4u << 20)         /* what it received */
#define T_SNDBUF 65536          /* the connection's send buffer */
struct tcp_conn {
	uint32_t core;
	void *ctx;
	int gone, closed;
	uint8_t *in;                    /* client -> kv, not yet delivered */
	size_t in_len, in_off;
	uint32_t sndbuf;                /* bytes kv sent that the client has not taken */
	int reading;                    /* the client takes what comes (else its window is shut) */
	int short_send;                 /* tcp_send took less than asked: writable owed */
	uint8_t *rx;                    /* what the client took, in order */
	size_t rx_len;
	uint16_t port;
};

size_t tcp_send(struct tcp_conn *c, const void *data, size_t len)
{
	cr_assert(!c->gone && c->core == tcur, "tcp_send on core %u for a conn of %u", tcur, c->core);
	size_t n = T_SNDBUF - c->sndbuf < len ? T_SNDBUF - c->sndbuf : len;
	cr_assert(c->rx_len + c->sndbuf + n <= T_RX);
	memcpy(c->rx + c->rx_len + c->sndbuf, data, n);
	c->sndbuf += (uint32_t)n;
	if (n < len)
		c->short_send = 1;
	return n;
}

static void t_gone(struct tcp_conn *c)
{
	if (c->gone)
		return;
	c->gone = 1;
	uint32_t was = tcur;
	tcur = c->core;
	tops->gone(c, c->ctx, 0);
	tcur = was;
}

void tcp_recv_update(struct tcp_conn *c) { (void)c; }  /* the next turn delivers */
void tcp_close(struct tcp_conn *c) { c->closed = 1; }
void tcp_abort(struct tcp_conn *c) { t_gone(c); }
void tcp_abort_idle(struct tcp_conn *c) { t_gone(c); }
void tcp_conn_peer(const struct tcp_conn *c, uint32_t *addr, uint16_t *port)
{
	*addr = 0xc6120001u;
	*port = c->port;
}

static struct tcp_conn tconns[32];
static int tnconns;

static struct tcp_conn *t_connect(uint32_t core)
{
	cr_assert(tnconns < 32);
	struct tcp_conn *c = &tconns[tnconns];
	c->core = core;
	c->port = (uint16_t)(40000 + tnconns);
	c->in = malloc(T_IN);
	c->rx = malloc(T_RX);
	c->reading = 1;
	cr_assert(c->in && c->rx);
	tcur = core;
	c->ctx = taccept(c, taccept_arg);
	tcur = 0;
	cr_assert(c->ctx, "refused");
	tnconns++;
	return c;
}

static void t_send(struct tcp_conn *c, const void *data, size_t len)
{
	cr_assert(c->in_len + len <= T_IN);
	memcpy(c->in + c->in_len, data, len);
	c->in_len += len;
}

/* one loop turn on every core, in order: its channel, due timers, the
 * bytes of its connections (at most 16 segments each), send room back,
 * its pollers */
static void t_turn(void)
{
	for (uint32_t k = 0; k < TC; k++) {
		tcur = k;
		for (unsigned n = tq_n[k]; n > 0; n--) {
			void (*fn)(void *) = tq[k][tq_head[k]].fn;
			void *arg = tq[k][tq_head[k]].arg;
			tq_head[k] = (tq_head[k] + 1) % TQ;
			tq_n[k]--;
			fn(arg);
		}
		for (int i = 0; i < tntim; i++) {
			struct timer *t = ttim[i].t;
			if (ttim[i].core == k && t->deadline_ns && t->deadline_ns <= tclock) {
				t->deadline_ns = t->period_ns ? t->deadline_ns + t->period_ns : 0;
				t->fn(t, t->arg);
			}
		}
		for (int i = 0; i < tnconns; i++) {
			struct tcp_conn *c = &tconns[i];
			if (c->core != k || c->gone)
				continue;
			if (c->reading && c->sndbuf) {
				c->rx_len += c->sndbuf;
				c->sndbuf = 0;
			}
			if (c->short_send && c->sndbuf < T_SNDBUF) {
				c->short_send = 0;
				tops->writable(c, c->ctx);
			}
			for (int seg = 0; seg < 16 && !c->gone && c->in_off < c->in_len; seg++) {
				size_t room = tops->recv_space(c, c->ctx);
				size_t n = c->in_len - c->in_off;
				if (n > 1460)
					n = 1460;
				if (n > room)
					n = room;
				if (!n)
					break;
				c->in_off += n;
				tops->recv(c, c->ctx, c->in + c->in_off - n, n);
			}
		}
		for (int i = 0; i < tnpoll; i++)
			if (tpoll[i].core == k) {
				tpoll[i].fn(tpoll[i].arg);
				if (tpoll[i].flush)
					tpoll[i].flush(tpoll[i].arg);
			}
	}
	tcur = 0;
}

static void t_turns(int n)
{
	for (int i = 0; i < n; i++)
		t_turn();
}

static void t_advance_s(int s)
{
	for (int i = 0; i < s * 10; i++) {
		tclock += 100000000ull;
		t_turn();
	}
}

/* ---------------------------------------------------------------- kv */
static void kv_start(uint32_t send_timeout_s)
{
	struct apps_config cfg;
	char err[128];
	for (uint32_t k = 0; k < TC; k++) {
		tcores[k].self = &tcores[k];
		tcores[k].id = k;
	}
	memset(&cfg, 0, sizeof cfg);
	cfg.kv.port = 11211;
	cfg.kv.memory_mb = 8;
	cfg.kv.item_size_max = 1 << 20;
	cfg.kv.evict = 1;
	cfg.kv.max_conns = 64;
	cfg.kv.send_timeout_s = send_timeout_s;
	cr_assert_eq(kv_init(&cfg, err, sizeof err), 0, "kv_init: %s", err);
	t_turns(2);
}

/* the i-th key (from `from`) whose shard lives on core `core` */
static void key_on(char *key, size_t n, const char *prefix, int i, uint32_t core)
{
	for (int j = 0, found = 0;; j++) {
		snprintf(key, n, "%s%d", prefix, j);
		if (kv_shard_of(key, strlen(key), TC - 1) + 1 == core && found++ == i)
			return;
	}
}

static uint8_t *value_of(int i, size_t len)
{
	uint8_t *v = malloc(len);
	cr_assert(v);
	for (size_t j = 0; j < len; j++)
		v[j] = (uint8_t)('a' + (i * 7 + j / 1000) % 26);
	return v;
}

static void store_req(struct tcp_conn *c, const char *key, const uint8_t *v, size_t len, size_t upto)
{
	char h[300];
	int hl = snprintf(h, sizeof h, "set %s 0 0 %zu\r\n", key, len);
	t_send(c, h, (size_t)hl);
	t_send(c, v, upto < len ? upto : len);
	if (upto >= len)
		t_send(c, "\r\n", 2);
}

static int rx_is(const struct tcp_conn *c, const char *want)
{
	return c->rx_len == strlen(want) && !memcmp(c->rx, want, c->rx_len);
}

/* gets key on c and checks the value came whole */
static void check_value(struct tcp_conn *c, const char *key, const uint8_t *v, size_t len)
{
	char h[300], req[300];
	int hl = snprintf(h, sizeof h, "VALUE %s 0 %zu\r\n", key, len);
	c->rx_len = 0;
	t_send(c, req, (size_t)snprintf(req, sizeof req, "get %s\r\n", key));
	for (int i = 0; i < 200 && c->rx_len < (size_t)hl + len + 7; i++)
		t_turn();
	cr_assert_eq(c->rx_len, (size_t)hl + len + 7, "%s: %zu bytes", key, c->rx_len);
	cr_assert(!memcmp(c->rx, h, (size_t)hl), "%s: %.*s", key, hl, (const char *)c->rx);
	cr_assert(!memcmp(c->rx + hl, v, len), "%s: the value differs", key);
	cr_assert(!memcmp(c->rx + hl + len, "\r\nEND\r\n", 7));
}

static void all_back(void)
{
	for (uint32_t k = 1; k < TC; k++) {
		struct kv_core_stats st;
		kv_core_stats(k, &st);
		cr_assert_eq(st.msgs_free, st.msgs, "core %u: %u of %u messages", k, st.msgs_free, st.msgs);
		cr_assert_eq(st.bigs_free, st.bigs, "core %u: %u of %u big ones", k, st.bigs_free, st.bigs);
		cr_assert_eq(st.conn_slots_free, st.conn_slots, "core %u: slots", k);
	}
}

TestSuite(kv_cores);

/* 10 stores of 100 KB from core 1 to keys of core 2's shard at once: each
 * takes one of core 1's 4 big messages for its value; the rest wait for
 * one (their input held) and all are STORED, whole */
Test(kv_cores, more_large_cross_core_stores_than_big_messages_all_store)
{
	enum { N = 10, LEN = 100000 };
	struct tcp_conn *c[N];
	char key[N][32];
	uint8_t *v[N];
	kv_start(30);
	for (int i = 0; i < N; i++) {
		c[i] = t_connect(1);
		key_on(key[i], sizeof key[i], "big", i, 2);
		v[i] = value_of(i, LEN);
		store_req(c[i], key[i], v[i], LEN, LEN);
	}
	for (int t = 0; t < 400; t++)
		t_turn();
	struct kv_core_stats st;
	kv_core_stats(1, &st);
	for (int i = 0; i < N; i++)
		cr_assert(rx_is(c[i], "STORED\r\n"), "store %d: <%.*s>", i, (int)c[i]->rx_len,
			  (const char *)c[i]->rx);
	cr_assert(st.big_waits >= N - 4, "big_waits %lu", (unsigned long)st.big_waits);
	cr_assert_eq(st.cross_core, N, "cross_core %lu", (unsigned long)st.cross_core);
	cr_assert_eq(st.closed_bad + st.answer_overflow + st.value_timeouts, 0);
	/* intact, read from core 2 (the shard's own) and from core 1 */
	struct tcp_conn *r2 = t_connect(2), *r1 = t_connect(1);
	for (int i = 0; i < N; i++) {
		check_value(r2, key[i], v[i], LEN);
		check_value(r1, key[i], v[i], LEN);
	}
	for (int i = 0; i < tnconns; i++)
		t_gone(&tconns[i]);
	t_turns(4);
	all_back();
	for (int i = 0; i < N; i++)
		free(v[i]);
}

/* 4 clients take core 1's 4 big messages for values they stop sending;
 * a fifth store waits behind them; kv.send_timeout_s later the 4 are
 * reset (value_timeouts), the fifth stores whole, nothing leaks */
Test(kv_cores, a_value_that_stops_coming_gives_its_big_message_back)
{
	enum { LEN = 200000 };
	struct tcp_conn *stall[4], *late;
	char key[5][32];
	uint8_t *v = value_of(3, LEN);
	kv_start(5);
	for (int i = 0; i < 4; i++) {
		stall[i] = t_connect(1);
		key_on(key[i], sizeof key[i], "stall", i, 2);
		store_req(stall[i], key[i], v, LEN, LEN / 2);
	}
	t_turns(100);
	struct kv_core_stats st;
	kv_core_stats(1, &st);
	cr_assert_eq(st.bigs_free, 0, "the 4 hold the 4 big messages: %u free", st.bigs_free);
	late = t_connect(1);
	key_on(key[4], sizeof key[4], "late", 0, 2);
	store_req(late, key[4], v, LEN, LEN);
	t_turns(100);
	cr_assert_eq(late->rx_len, 0, "it waits");
	kv_core_stats(1, &st);
	cr_assert(st.big_waits >= 1);
	cr_assert_eq(st.value_timeouts, 0);
	t_advance_s(7);
	kv_core_stats(1, &st);
	cr_assert_eq(st.value_timeouts, 4, "value_timeouts %lu", (unsigned long)st.value_timeouts);
	for (int i = 0; i < 4; i++)
		cr_assert(stall[i]->gone);
	cr_assert(rx_is(late, "STORED\r\n"), "<%.*s>", (int)late->rx_len, (const char *)late->rx);
	check_value(late, key[4], v, LEN);
	t_gone(late);
	t_turns(4);
	kv_core_stats(1, &st);
	cr_assert_eq(st.curr_conns, 0);
	all_back();
	free(v);
}
