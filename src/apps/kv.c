/*
 * kv.c — the `kv` appliance: a memcached-compatible cache (docs/kv.md).
 * Each data core owns one shard of the store (kv_store.h) and listens on
 * kv.port; a connection's bytes go through kv_proto's parser, and each
 * op runs on the core that owns its key's shard:
 *
 *   "app": "kv", "kv": { "port": 11211, "memory_mb": 64, "item_size_max": 1048576,
 *                        "evict": true, "max_conns": 1024, "idle_timeout_s": 600,
 *                        "send_timeout_s": 30 }
 *
 * Ops on this core's shard run at once; the others travel in a message
 * (struct kv_msg, from this core's pool) over the sched channels
 * (call_on) to the owner core, run there into the message's buffer and
 * come back. A connection answers in request order: while anything of
 * it is in flight, every later answer (local ones too) waits in a message
 * on the connection's FIFO, and the FIFO is emitted from its head as
 * messages come back. The keys of one text multi-get line are batched:
 * one message per shard (up to KV_BATCH keys), sent when the line ends.
 *
 * Answers stream through a message: its shard runs its ops in order
 * while their answers fit and stops at the first that does not (ran);
 * once the FIFO sent those, the rest run again in the same message from
 * the start of its buffer (msg_more). So a batch needs one small
 * message however long its answers. The op that did not fit ran
 * nothing: the writer's room callback told kv_exec before the read
 * counted or changed anything (hits, the fetched bit, a gat's TTL, an
 * mg win token), so every op counts once however often it is tried. An
 * answer that alone overflows a small one (a large value) moves with the
 * ops after it into a big message; with none free it waits on the core's big-wait queue (FIFO,
 * served by the poller as big ones come back): the connection waits,
 * nothing is closed.
 *
 * A store's value is received straight into the item when the key is
 * ours, else into the message that carries it (staged at the end of its
 * buffer; one of the few big messages when it does not fit a small one).
 * With no big one free, or answers or stores already waiting for one, the
 * store waits its turn (vwait, on the core's store-wait queue, served by
 * the poller in one ticket order with the big-wait queue): the parser
 * holds the op with no destination yet, the connection's input waits.
 * A connection whose value is still arriving into a message
 * kv.send_timeout_s after it took it (seconds while kv itself held its
 * input not counted) is reset by the sweep (counted: value_timeouts), so
 * a client can't keep a big message by not sending.
 *
 * Bounds per connection: it holds at most KV_CONN_SHARE messages (then
 * its input waits: back-pressure on it alone), and past its first
 * KV_CONN_FEW only while more than KV_MSG_RESERVE of the core's pool
 * are free (pool_wait): clients that never read can't hold more than
 * KV_MSGS - KV_MSG_RESERVE beyond their few, and the reserve serves the
 * connections within theirs, so other clients of the core go on being
 * answered (it takes KV_MSGS / KV_CONN_FEW = 64 such clients to drain a
 * core). Connections waiting for the pool are resumed in turn by the
 * poller as the rule lets each on. One that holds messages while its
 * client takes no bytes for kv.send_timeout_s is reset by the sweep, its
 * messages freed (counted).
 *
 * Memory: everything is taken at start-up (the shards' arenas from
 * kv.memory_mb, per core: the connection slots, kv.max_conns split over
 * the data cores, and the messages); nothing on the data path allocates.
 * A connection that finds no slot is refused and counted; one quiet for
 * kv.idle_timeout_s is reset; one whose line runs past KV_LINE_MAX or
 * whose data block lies is closed after its error (the parser's
 * KV_OPF_CLOSE), and only it.
 *
 * Owners: a connection, its parser and FIFO belong to its core; a
 * message belongs to its home core's pool and is written by the shard's
 * core only while it is there (the channel hands it over and back, with
 * release/acquire: the shard's core writes buf, beg/end, ran, need_big,
 * len and back; the home core reads them only after the message came
 * back, i.e. once it set done itself). done, left, from, big_wait,
 * ticket, the FIFO, a connection's vwait and the core's wait queues are
 * the home core's alone; it reads done of a message that is out (it
 * wrote it before sending), never ran. Counters are per core
 * (counter_t), read by any core.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "apps/apps.h"
#include "apps/kv.h"
#include "apps/kv_proto.h"
#include "apps/kv_store.h"
#include "core/core.h"
#include "core/schema.h"
#include "core/siphash.h"
#include "net/net.h"
#include "sched/sched.h"

#define KV_CONN_OUT 8192        /* a connection's direct answers not yet sent */
#define KV_IN_MAX 4096          /* delivered while blocked, not yet parsed */
#define KV_FIFO 64              /* answers in flight per connection */
#define KV_BATCH 16             /* keys of one multi-get per message */
#define KV_MSG_BUF 8192         /* a small message's answer (and value) bytes */
#define KV_MSGS 128             /* small messages per core */
_Static_assert(KV_MSGS >= POLLUX_MAX_CORES, "a flush_all needs a message per shard");
#define KV_BIGS 4               /* big messages per core (item_size_max + room) */
#define KV_ANSWER_ROOM 1024     /* room beside a staged value for its answer */
#define KV_SWEEP_BUDGET 256     /* items a core's sweep looks at per second */
#define KV_CONN_SHARE 16        /* messages one connection may hold: then its input waits */
#define KV_CONN_FEW 2           /* ...of which it may take these whatever the others hold */
#define KV_MSG_RESERVE (KV_MSGS / 4)    /* beyond its few, only while more than this are free */
_Static_assert(KV_CONN_SHARE >= 2 && KV_CONN_SHARE * 4 <= KV_MSGS, "a share leaves the pool to the rest");
_Static_assert(KV_CONN_FEW >= 1 && KV_CONN_FEW < KV_CONN_SHARE && KV_MSG_RESERVE >= KV_CONN_SHARE,
	       "the reserve serves the connections within their few");

struct kv_msg {
	struct kv_msg *next;            /* free list, retry list, big-wait list: first */
	struct kv_conn *conn;           /* whose answers these are */
	uint32_t gen;                   /* conn's generation when sent */
	uint16_t home;                  /* the core whose pool it is */
	uint16_t core;                  /* retry: where it goes */
	uint16_t runs_on;               /* the core of its shard */
	uint8_t big, done, back, flush_only;
	uint8_t need_big, big_wait;     /* op `ran` alone overflows it; on the big-wait list */
	uint16_t nops, left;            /* ops; FIFO entries not yet emitted */
	uint16_t from, ran;             /* this run began at op `from`; ops < ran are answered */
	uint32_t ticket;                /* big-wait: its turn (stores wait in the same order) */
	uint32_t cap, len, stage;       /* buf bytes; answers; staged value at the end */
	uint32_t beg[KV_BATCH], end[KV_BATCH];  /* op i's answer: buf[beg[i], end[i]) */
	struct kv_op ops[KV_BATCH];
	uint8_t *buf;
};

struct kv_entry {
	struct kv_msg *m;
	uint16_t i;
};

struct kv_conn {
	struct kv_conn *next;           /* free list: first */
	struct tcp_conn *c;
	struct apps_idle idle;
	uint32_t gen;
	_Atomic uint32_t open;          /* for `stats conns` from other cores */
	uint32_t id, peer_addr;
	uint16_t peer_port;
	_Atomic uint32_t last_cmd;      /* seconds since start */
	uint8_t blocked, closing, close_after, gone;
	uint8_t starved;                /* on its core's starved list */
	struct kv_conn *starve_next;
	uint32_t inflight;              /* messages out with its answers */
	uint32_t held;                  /* messages taken for it (<= KV_CONN_SHARE + 1) */
	uint8_t send_wait;              /* tcp_send took nothing since send_since */
	uint32_t send_since;            /* kv_now() then */
	/* a store whose value is arriving: where it goes */
	struct kv_item *vitem;
	struct kv_msg *vmsg;
	uint8_t verr;
	uint32_t vsince;                /* kv_now() when vmsg was taken, + seconds blocked */
	/* ...or waits for a big message to go into (vwait): the parser holds
	 * its op, the connection's input waits; served in ticket order with
	 * the answers on the big-wait list */
	uint8_t vwait;
	uint32_t vwait_len, vticket;
	struct kv_conn *vwait_next;
	/* the multi-get line being read: its open message per shard */
	struct kv_msg *batch[POLLUX_MAX_CORES];
	/* answers in order: direct bytes first, then the FIFO */
	struct kv_entry fifo[KV_FIFO];
	uint32_t fhead, ftail, fsent;   /* fsent: bytes of the head entry already sent */
	uint32_t out_len, out_sent;
	uint8_t out[KV_CONN_OUT];
	uint32_t in_len;
	uint8_t in[KV_IN_MAX];
	struct kv_parser p;
};

struct kv_core {
	struct kv_shard *shard;         /* NULL: not a data core */
	uint32_t shard_ix;
	struct kv_conn *conns, *free;
	uint32_t nconns;
	struct kv_msg *msg_free, *big_free, *retry;
	struct kv_msg *big_wait, *big_wait_tail;        /* answers waiting for a big message, FIFO */
	struct kv_conn *store_wait, *store_wait_tail;   /* stores' values waiting for one, FIFO */
	uint32_t big_ticket;                            /* the next waiter's turn (either list) */
	struct kv_conn *starved, *starved_tail; /* blocked for want of a message, FIFO: the poller resumes them */
	struct timer sweep;
	int timer_on;
	uint32_t next_id;
	/* owner writes, any core reads */
	counter_t curr_conns, total_conns, refused, idle_resets, closed_bad, answer_overflow;
	counter_t send_timeouts, share_waits, big_waits, reserve_waits, value_timeouts;
	counter_t ops, cross_core, cross_msgs, no_msg, retries, bytes_read, bytes_written;
	counter_t msgs_free, bigs_free;
	counter_t busy_ns;              /* in kv's receive and message handlers */
	_Atomic uint64_t mirror[sizeof(struct kv_shard_stats) / 8];     /* the shard's stats */
	struct kv_class_stats cls_mirror[KV_CLASSES_MAX];                /* once a second */
	_Atomic uint32_t cls_seq, cls_n;
} __attribute__((aligned(CACHE_LINE)));
_Static_assert(sizeof(struct kv_shard_stats) % 8 == 0, "stats are 64-bit words");

static struct kv_core cores[POLLUX_MAX_CORES];
static uint32_t nshards;
static uint16_t shard_core[POLLUX_MAX_CORES];
static struct kv_config cfgk;
static uint64_t start_ns;
static int64_t start_unix;
static uint32_t big_cap;

static uint32_t kv_now(void) { return (uint32_t)((time_ns() - start_ns) / 1000000000ull); }
static struct kv_core *me(void) { return &cores[core_self()->id]; }

/* ---------------------------------------------------------------- messages */

/* fewer free messages than shards: new input waits (conn_must_wait) */
static int msgs_short(const struct kv_core *k)
{
	return !k->msg_free || counter_get(&k->msgs_free) < nshards;
}

/* The pool's fairness rule: a connection takes its first KV_CONN_FEW
 * messages while the pool has a shard's worth free, the rest of its
 * share only while more than KV_MSG_RESERVE are free. So connections
 * that never read hold at most KV_MSGS - KV_MSG_RESERVE messages beyond
 * their few, and the reserve goes to those that hold fewer: it takes
 * KV_MSGS / KV_CONN_FEW such clients on one core (64) to starve the rest
 * until kv.send_timeout_s resets them. 1: this connection's input waits
 * for the pool (the poller resumes it when the rule lets it on). */
static int pool_wait(const struct kv_core *k, const struct kv_conn *kc)
{
	return msgs_short(k) ||
	       (kc->held >= KV_CONN_FEW && counter_get(&k->msgs_free) <= KV_MSG_RESERVE);
}

/* The core's FIFOs of connections (starved, store_wait), each chained
 * through its own field of struct kv_conn, at offset `off`: kc joins the
 * tail / leaves from wherever it is. */
#define CONN_NEXT(kc, off) (*(struct kv_conn **)((char *)(kc) + (off)))
static void conn_list_add(struct kv_conn **head, struct kv_conn **tail, struct kv_conn *kc, size_t off)
{
	CONN_NEXT(kc, off) = NULL;
	if (*tail)
		CONN_NEXT(*tail, off) = kc;
	else
		*head = kc;
	*tail = kc;
}

static void conn_list_del(struct kv_conn **head, struct kv_conn **tail, struct kv_conn *kc, size_t off)
{
	struct kv_conn **pp = head, *prev = NULL;
	while (*pp != kc) {
		prev = *pp;
		pp = &CONN_NEXT(*pp, off);
	}
	*pp = CONN_NEXT(kc, off);
	if (*tail == kc)
		*tail = prev;
}
#define STARVED offsetof(struct kv_conn, starve_next)
#define STORE_WAIT offsetof(struct kv_conn, vwait_next)

/* someone waits for a big message: a newcomer queues behind */
static int bigs_queued(const struct kv_core *k)
{
	return k->big_wait || k->store_wait;
}

static struct kv_msg *msg_take(struct kv_core *k, int big)
{
	struct kv_msg *m = apps_take(big ? (void **)&k->big_free : (void **)&k->msg_free);
	if (!m) {
		counter_add(&k->no_msg, 1);
		return NULL;
	}
	counter_add(big ? &k->bigs_free : &k->msgs_free, (uint64_t)-1);
	m->nops = m->left = m->from = m->ran = 0;
	m->len = m->stage = 0;
	m->done = m->back = m->flush_only = m->need_big = m->big_wait = 0;
	m->conn = NULL;
	return m;
}

/* m holds kc's answers from now on (counted in kc->held) */
static void msg_own(struct kv_msg *m, struct kv_conn *kc)
{
	m->conn = kc;
	m->gen = kc->gen;
	m->home = (uint16_t)core_self()->id;
	kc->held++;
}

static void msg_give(struct kv_core *k, struct kv_msg *m)
{
	if (m->conn)
		m->conn->held--;
	m->conn = NULL;
	counter_add(m->big ? &k->bigs_free : &k->msgs_free, 1);
	apps_give(m->big ? (void **)&k->big_free : (void **)&k->msg_free, m);
}

/* the writer kv_exec answers through */
struct kv_wr {
	struct kv_out o;
	uint8_t *buf;
	uint32_t len, cap, start;
	struct kv_conn *grow;           /* direct answers: may move to a big message */
	struct kv_msg *big;
};

/* room for n more bytes: 0, or -ENOBUFS (kv_exec then stops before its
 * read changed anything, so the op can run again, counted once) */
static int wr_room(struct kv_out *o, size_t n)
{
	struct kv_wr *w = (struct kv_wr *)o;
	if (w->len + n > w->cap && w->grow && !w->big) {
		/* this answer alone into a big message, to wait on the FIFO */
		struct kv_msg *b = msg_take(me(), 1);
		if (b) {
			uint32_t part = w->len - w->start;
			memcpy(b->buf, w->buf + w->start, part);
			w->big = b;
			w->buf = b->buf;
			w->len = part;
			w->cap = b->cap;
		}
	}
	return w->len + n <= w->cap ? 0 : -ENOBUFS;
}

static int wr_put(struct kv_out *o, const void *p, size_t n)
{
	struct kv_wr *w = (struct kv_wr *)o;
	if (wr_room(o, n))
		return -ENOBUFS;
	memcpy(w->buf + w->len, p, n);
	w->len += (uint32_t)n;
	return 0;
}

/* runs a message's ops on this core (their shard's owner) */
static void msg_exec(struct kv_msg *m)
{
	struct kv_core *k = me();
	uint32_t now = kv_now();
	struct kv_wr w = { .o = { .put = wr_put, .room = wr_room }, .buf = m->buf, .cap = m->cap - m->stage };
	unsigned i;
	/* ops from `from` on, in order, while their answers fit: the rest
	 * runs again (msg_more) once these answers went out */
	for (i = m->from; i < m->nops; i++) {
		w.start = w.len;
		struct kv_out *out = m->flush_only ? NULL : &w.o;
		if (kv_exec(k->shard, &m->ops[i], now, out) < 0) {
			w.len = w.start;
			break;
		}
		m->beg[i] = w.start;
		m->end[i] = w.len;
	}
	m->need_big = i == m->from && i < m->nops;      /* alone it does not fit */
	counter_add(&k->ops, i - m->from);
	m->ran = (uint16_t)i;
	m->len = w.len;
}

static void msg_home(void *arg);
static void msg_remote(void *arg);

/* call_on, or onto this core's retry list when the channel is full */
static void msg_send(struct kv_core *k, struct kv_msg *m, uint16_t core, int back)
{
	m->core = core;
	m->back = (uint8_t)back;
	if (call_on(core, back ? msg_home : msg_remote, m) < 0) {
		counter_add(&k->retries, 1);
		m->next = k->retry;
		k->retry = m;
	}
}

static void msg_remote(void *arg)
{
	struct kv_msg *m = arg;
	uint64_t t0 = time_ns();
	msg_exec(m);
	msg_send(me(), m, m->home, 1);
	counter_add(&me()->busy_ns, time_ns() - t0);
}

static void conn_pump(struct kv_conn *kc);
static void conn_resume(struct kv_conn *kc);
static struct kv_msg *msg_for(struct kv_core *k, struct kv_conn *kc, int big);
static void value_stage(struct kv_conn *kc, struct kv_msg *m, uint32_t vlen);
static void conn_release(struct kv_core *k, struct kv_conn *kc);

static int msg_more(struct kv_core *k, struct kv_msg *m, int turn);

/* m is done: the ops it could not answer go on once its answers went
 * out. 0, or -1 when the connection ended (kv_gone ran: touch neither m
 * nor the connection again). */
static int msg_settle(struct kv_core *k, struct kv_msg *m)
{
	if (m->ran < m->nops && m->left == m->nops - m->ran && !m->big_wait)
		return msg_more(k, m, 0);
	return 0;
}

/* runs m's ops from m->from on its shard's core: here at once, or sent */
static int msg_run(struct kv_core *k, struct kv_conn *kc, struct kv_msg *m)
{
	if (m->runs_on == core_self()->id) {
		msg_exec(m);
		m->done = 1;
		return msg_settle(k, m);
	}
	m->done = 0;
	kc->inflight++;
	msg_send(k, m, m->runs_on, 0);
	return 0;
}

/* Every answer m made went out and ops remain (from m->ran on). They run
 * again in m itself, from its start; or, when op `ran` alone overflows a
 * small message (a large value), they move to a big message, and with
 * none free m waits on the core's big-wait list, FIFO, for the poller to
 * serve it (turn: this is its turn). The connection waits meanwhile (its
 * FIFO's head is not ready); nothing is closed. */
static int msg_more(struct kv_core *k, struct kv_msg *m, int turn)
{
	struct kv_conn *kc = m->conn;
	if (!m->need_big) {
		m->from = m->ran;
		return msg_run(k, kc, m);
	}
	if (m->big || m->stage) {
		/* can't happen: a big message holds any item's answer, and a
		 * store's answer has KV_ANSWER_ROOM beside its value */
		counter_add(&k->answer_overflow, 1);
		kc->closing = 1;
		if (kc->c)
			tcp_abort(kc->c);
		return -1;
	}
	struct kv_msg *b = bigs_queued(k) && !turn ? NULL : msg_take(k, 1);
	if (!b) {
		counter_add(&k->big_waits, 1);
		m->big_wait = 1;
		m->ticket = k->big_ticket++;
		m->next = NULL;
		if (k->big_wait_tail)
			k->big_wait_tail->next = m;
		else
			k->big_wait = m;
		k->big_wait_tail = m;
		return 0;
	}
	msg_own(b, kc);
	b->runs_on = m->runs_on;
	unsigned n = m->nops - m->ran;
	for (unsigned j = 0; j < n; j++)
		b->ops[j] = m->ops[m->ran + j];
	b->nops = b->left = (uint16_t)n;
	for (uint32_t f = kc->fhead; f != kc->ftail; f++) {
		struct kv_entry *e = &kc->fifo[f % KV_FIFO];
		if (e->m == m && e->i >= m->ran)
			*e = (struct kv_entry){ b, (uint16_t)(e->i - m->ran) };
	}
	m->left = (uint16_t)(m->left - n);
	m->nops = m->ran;
	if (m->left == 0)
		msg_give(k, m);
	return msg_run(k, kc, b);
}

/* back home: its answers are ready */
static void msg_back(struct kv_msg *m)
{
	struct kv_core *k = me();
	struct kv_conn *kc = m->conn;
	if (m->flush_only || !kc) {
		msg_give(k, m);
		return;
	}
	kc->inflight--;
	m->done = 1;
	/* a slot waits (gone) while anything of it is out: never reused under us */
	ASSERT(kc->gen == m->gen);
	if (kc->gone) {
		/* the connection went meanwhile: kv_gone dropped its entries */
		msg_give(k, m);
		if (!kc->inflight)
			conn_release(k, kc);
		return;
	}
	if (msg_settle(k, m) < 0)
		return;         /* aborted: m went back in kv_gone */
	conn_pump(kc);
	conn_resume(kc);
}

static void msg_home(void *arg) { msg_back(arg); }

/* the poller: sends the retry list again, arms the sweep, mirrors stats */
static void kv_sweep_fire(struct timer *t, void *arg)
{
	struct kv_core *k = arg;
	uint32_t now = kv_now();
	/* a client that holds messages and takes no bytes for
	 * kv.send_timeout_s is reset: kv_gone gives its messages back */
	for (uint32_t i = 0; i < k->nconns; i++) {
		struct kv_conn *kc = &k->conns[i];
		if (kc->c && kc->held && kc->send_wait && now - kc->send_since >= cfgk.send_timeout_s) {
			counter_add(&k->send_timeouts, 1);
			tcp_abort(kc->c);
		} else if (kc->c && kc->vmsg && kc->blocked) {
			kc->vsince++;   /* a second kv held its input: not the client's */
		} else if (kc->c && kc->vmsg && (int32_t)(now - kc->vsince) >= (int32_t)cfgk.send_timeout_s) {
			/* a value still arriving into a message after as long:
			 * the message goes back (a big one is one of four) */
			counter_add(&k->value_timeouts, 1);
			tcp_abort(kc->c);
		}
	}
	kv_sweep(k->shard, now, KV_SWEEP_BUDGET);
	unsigned n = kv_class_stats(k->shard, k->cls_mirror, KV_CLASSES_MAX);
	atomic_store_explicit(&k->cls_n, n, memory_order_relaxed);
	atomic_fetch_add_explicit(&k->cls_seq, 1, memory_order_release);
}

static unsigned kv_poll(void *arg)
{
	struct kv_core *k = arg;
	if (!k->timer_on) {
		k->timer_on = 1;
		timer_init(&k->sweep, kv_sweep_fire, k);
		sched_timer_arm(&k->sweep, time_ns() + 1000000000ull, 1000000000ull);
	}
	unsigned n = 0;
	struct kv_msg *r = k->retry;
	k->retry = NULL;
	while (r) {
		struct kv_msg *m = r;
		r = r->next;
		msg_send(k, m, m->core, m->back);
		n++;
	}
	/* answers and stores waiting for a big message, first come first
	 * served (by ticket across the two lists) */
	while (k->big_free && bigs_queued(k)) {
		struct kv_msg *m = k->big_wait;
		struct kv_conn *sc = k->store_wait;
		if (sc && (!m || (int32_t)(sc->vticket - m->ticket) < 0)) {
			conn_list_del(&k->store_wait, &k->store_wait_tail, sc, STORE_WAIT);   /* the head */
			sc->vwait = 0;
			if (sc->closing)
				continue;       /* parses nothing more: no destination needed */
			value_stage(sc, msg_for(k, sc, 1), sc->vwait_len);
			conn_resume(sc);
			n++;
			continue;
		}
		k->big_wait = m->next;
		if (!k->big_wait)
			k->big_wait_tail = NULL;
		m->big_wait = 0;
		struct kv_conn *kc = m->conn;
		if (msg_more(k, m, 1) == 0) {
			conn_pump(kc);
			conn_resume(kc);
		}
		n++;
	}
	/* connections that waited for the pool, in turn: each the fairness
	 * rule lets on now (one past its few waits on while the pool is at
	 * its reserve; one within them goes) */
	struct kv_conn *prev = NULL, *next;
	for (struct kv_conn *kc = k->starved; kc && !msgs_short(k); kc = next) {
		next = kc->starve_next;
		if (pool_wait(k, kc)) {
			prev = kc;
			continue;
		}
		if (prev)
			prev->starve_next = next;
		else
			k->starved = next;
		if (k->starved_tail == kc)
			k->starved_tail = prev;
		kc->starved = 0;
		conn_resume(kc);        /* may queue it again, at the tail */
		n++;
	}
	return n;
}

/* Before a halting core sleeps: messages to retry wait for room in a
 * full channel, which nobody signals: poll on a timer. Big messages and
 * starved connections are served by answers: call_on kicks. */
static int kv_arm(void *arg)
{
	const struct kv_core *k = arg;
	return k->retry || !k->timer_on ? SCHED_ARM_TIMED : SCHED_ARM_SLEEP;
}

/* end of every turn: the shard's counters for other cores to read */
static void kv_mirror(void *arg)
{
	struct kv_core *k = arg;
	struct kv_shard_stats st;
	kv_shard_stats(k->shard, &st);
	const uint64_t *w = (const uint64_t *)&st;
	for (size_t i = 0; i < sizeof st / 8; i++)
		atomic_store_explicit(&k->mirror[i], w[i], memory_order_relaxed);
}

/* ---------------------------------------------------------------- connections */

static int fifo_full(const struct kv_conn *kc) { return kc->ftail - kc->fhead >= KV_FIFO; }

/* tcp_send, noting when the client stops taking bytes (kv.send_timeout_s) */
static size_t conn_send(struct kv_core *k, struct kv_conn *kc, const uint8_t *p, size_t len)
{
	size_t n = tcp_send(kc->c, p, len);
	counter_add(&k->bytes_written, n);
	if (n)
		kc->send_wait = 0;
	else if (!kc->send_wait) {
		kc->send_wait = 1;
		kc->send_since = kv_now();
	}
	return n;
}

/* sends what is ready, in order: direct bytes, then the FIFO's head */
static void conn_pump(struct kv_conn *kc)
{
	struct kv_core *k = me();
	if (!kc->c)
		return;
	while (kc->out_sent < kc->out_len) {
		size_t n = conn_send(k, kc, kc->out + kc->out_sent, kc->out_len - kc->out_sent);
		kc->out_sent += (uint32_t)n;
		if (!n)
			return;
	}
	kc->out_len = kc->out_sent = 0;
	while (kc->fhead != kc->ftail) {
		struct kv_entry *e = &kc->fifo[kc->fhead % KV_FIFO];
		struct kv_msg *m = e->m;
		if (!m->done || e->i >= m->ran)
			return;         /* out, or not run yet (msg_more) */
		uint32_t a = m->beg[e->i], b = m->end[e->i];
		while (a + kc->fsent < b) {
			size_t n = conn_send(k, kc, m->buf + a + kc->fsent, b - a - kc->fsent);
			kc->fsent += (uint32_t)n;
			if (!n)
				return;
		}
		kc->fsent = 0;
		kc->fhead++;
		if (--m->left == 0)
			msg_give(k, m);
		else if (msg_settle(k, m) < 0)
			return;         /* aborted: everything went back in kv_gone */
	}
	if (kc->close_after && !kc->inflight) {
		kc->close_after = 0;
		tcp_close(kc->c);
	}
}

/* Input waits while the connection's answers back up, or while this
 * core has fewer free messages than there are shards: one op takes at
 * most one message per shard (a flush_all one for each other shard, a
 * multi-get key one batch), so an op parsed now always finds its
 * messages, and a flush_all reaches every shard (KV_MSGS >= the cores). */
static int conn_must_wait(const struct kv_conn *kc)
{
	struct kv_core *k = &cores[core_self()->id];
	return fifo_full(kc) || kc->out_len > KV_CONN_OUT / 2 || kc->held >= KV_CONN_SHARE ||
	       kc->vwait || pool_wait(k, kc);
}

static void fifo_push(struct kv_conn *kc, struct kv_msg *m, unsigned i)
{
	kc->fifo[kc->ftail++ % KV_FIFO] = (struct kv_entry){ m, (uint16_t)i };
	m->left++;
}

/* sends (or runs here) a message whose ops are all in; -1: the
 * connection ended */
static int msg_dispatch(struct kv_core *k, struct kv_conn *kc, struct kv_msg *m, uint32_t shard)
{
	uint16_t core = shard_core[shard];
	m->runs_on = core;
	if (core != core_self()->id) {
		counter_add(&k->cross_core, m->nops);
		counter_add(&k->cross_msgs, 1);
	}
	return msg_run(k, kc, m);
}

/* the open batches of a multi-get line go */
static int batch_flush(struct kv_core *k, struct kv_conn *kc)
{
	for (uint32_t s = 0; s < nshards; s++)
		if (kc->batch[s]) {
			struct kv_msg *m = kc->batch[s];
			kc->batch[s] = NULL;
			if (msg_dispatch(k, kc, m, s) < 0)
				return -1;
		}
	return 0;
}

static struct kv_msg *msg_for(struct kv_core *k, struct kv_conn *kc, int big)
{
	struct kv_msg *m = msg_take(k, big);
	if (m)
		msg_own(m, kc);
	return m;
}

/* one op, ready: at once when it is ours and nothing waits before it,
 * else in a message on the FIFO. 0, or -1 when the connection ended. */
static int conn_op(struct kv_core *k, struct kv_conn *kc, struct kv_op *op)
{
	uint32_t now = kv_now();
	enum kv_route r = kv_op_route(op);
	uint32_t shard = r == KV_ROUTE_KEY ? kv_shard_of(op->key, op->klen, nshards) : k->shard_ix;
	/* a key of a multi-key text get line: batched per shard */
	int multi = (op->cmd == KV_CMD_GET || op->cmd == KV_CMD_GETS || op->cmd == KV_CMD_GAT ||
		 op->cmd == KV_CMD_GATS) && op->proto == KV_PROTO_TEXT &&
		!((op->flags & KV_OPF_FIRST) && (op->flags & KV_OPF_LAST));
	atomic_store_explicit(&kc->last_cmd, now, memory_order_relaxed);
	if (op->flags & KV_OPF_CLOSE || op->bad_chunk) {
		kc->closing = 1;
		kc->close_after = 1;
		counter_add(&k->closed_bad, op->cmd != KV_CMD_QUIT);
	}
	if (r == KV_ROUTE_ALL) {
		/* flush_all: every other shard without a writer, this one answers */
		for (uint32_t s = 0; s < nshards; s++) {
			if (s == k->shard_ix)
				continue;
			struct kv_msg *f = msg_take(k, 0);
			if (!f)
				continue;       /* can't happen: conn_must_wait keeps one per shard */
			f->home = (uint16_t)core_self()->id;
			f->flush_only = 1;
			f->ops[0] = *op;
			f->nops = 1;
			msg_send(k, f, shard_core[s], 0);
		}
	}
	if (shard == k->shard_ix && kc->fhead == kc->ftail && !multi) {
		/* direct: into the connection's out buffer */
		/* a big message for a long answer, unless others wait for one */
		struct kv_wr w = { .o = { .put = wr_put, .room = wr_room }, .buf = kc->out, .len = kc->out_len,
				   .cap = KV_CONN_OUT, .start = kc->out_len,
				   .grow = bigs_queued(k) ? NULL : kc };
		int rc = kv_exec(k->shard, op, now, &w.o);
		if (rc >= 0 || w.big) {
			counter_add(&k->ops, 1);
			if (w.big) {
				kc->out_len = w.start;
				msg_own(w.big, kc);
				w.big->nops = w.big->ran = 1;
				w.big->beg[0] = 0;
				w.big->end[0] = w.len;
				w.big->done = 1;
				fifo_push(kc, w.big, 0);
			} else {
				kc->out_len = w.len;
			}
			if (rc < 0) {
				/* can't happen: a big message holds any item's answer */
				counter_add(&k->answer_overflow, 1);
				tcp_abort(kc->c);
				return -1;
			}
			return 0;
		}
		/* too long for the out buffer and no big message now: the op
		 * goes the message way, and waits its turn for one (msg_more) */
		kc->out_len = w.start;
	}
	struct kv_msg *m = kc->batch[shard];
	if (!m) {
		m = msg_for(k, kc, 0);
		if (!m) {
			/* can't happen: conn_must_wait holds input while the pool is empty */
			counter_add(&k->answer_overflow, 1);
			tcp_abort(kc->c);
			return -1;
		}
	}
	m->ops[m->nops] = *op;
	fifo_push(kc, m, m->nops);
	m->nops++;
	if (multi && !(op->flags & KV_OPF_LAST) && m->nops < KV_BATCH) {
		kc->batch[shard] = m;
		return 0;
	}
	kc->batch[shard] = NULL;
	if (msg_dispatch(k, kc, m, shard) < 0)
		return -1;
	if (op->flags & KV_OPF_LAST)
		return batch_flush(k, kc);
	return 0;
}

/* the value of kc's store (vlen bytes) goes into m, staged at its end */
static void value_stage(struct kv_conn *kc, struct kv_msg *m, uint32_t vlen)
{
	ASSERT(m);
	m->stage = vlen + 2;
	kc->vmsg = m;
	kc->vsince = kv_now();
	kv_parse_value_dst(&kc->p, m->buf + m->cap - m->stage);
}

/* Where a store's value goes (KV_PARSE_VALUE). A value for another core
 * too long for a small message waits for a big one when none is free (or
 * others wait): no destination yet, so the parser holds the op and the
 * connection's input waits (vwait) until the poller gives it one. */
static void conn_value(struct kv_core *k, struct kv_conn *kc, const struct kv_op *op)
{
	enum kv_status st = KV_OK;
	uint8_t *dst = NULL;
	kc->vitem = NULL;
	kc->vmsg = NULL;
	kc->verr = 0;
	uint32_t shard = kv_shard_of(op->key, op->klen, nshards);
	if (shard == k->shard_ix) {
		kc->vitem = kv_op_item_alloc(k->shard, op, kv_now(), &st);
		if (kc->vitem)
			dst = kv_item_data(kc->vitem);
		else
			kc->verr = (uint8_t)st;
	} else {
		uint64_t need = (uint64_t)op->vlen + 2 + KV_ANSWER_ROOM;
		int big = need > KV_MSG_BUF;
		struct kv_msg *m = NULL;
		if (need > big_cap) {
			kc->verr = KV_TOO_LARGE;
		} else if (big && (bigs_queued(k) || !k->big_free)) {
			counter_add(&k->big_waits, 1);
			kc->vwait = 1;
			kc->vwait_len = op->vlen;
			kc->vticket = k->big_ticket++;
			conn_list_add(&k->store_wait, &k->store_wait_tail, kc, STORE_WAIT);
			return;
		} else if (!(m = msg_for(k, kc, big))) {
			/* can't happen: a small one is free (conn_must_wait), a
			 * big one was just seen free */
			kc->verr = KV_NO_MEMORY;
		}
		if (m) {
			value_stage(kc, m, op->vlen);
			return;
		}
	}
	kv_parse_value_dst(&kc->p, dst);
}

/* a store op whose value is in: send its message (the op goes into the
 * message the value was staged in) */
static int conn_store(struct kv_core *k, struct kv_conn *kc, struct kv_op *op)
{
	if (kc->vitem) {
		op->item = kc->vitem;
		kc->vitem = NULL;
		return conn_op(k, kc, op);
	}
	if (!kc->vmsg) {
		op->store_err = kc->verr ? kc->verr : KV_NO_MEMORY;
		return conn_op(k, kc, op);
	}
	struct kv_msg *m = kc->vmsg;
	kc->vmsg = NULL;
	op->value = m->buf + m->cap - m->stage;
	if (op->flags & KV_OPF_CLOSE || op->bad_chunk) {
		kc->closing = 1;
		kc->close_after = 1;
		counter_add(&k->closed_bad, 1);
	}
	atomic_store_explicit(&kc->last_cmd, kv_now(), memory_order_relaxed);
	m->ops[0] = *op;
	m->nops = 1;
	fifo_push(kc, m, 0);
	return msg_dispatch(k, kc, m, kv_shard_of(op->key, op->klen, nshards));
}

/* Feeds bytes to the parser until they are used up or the connection
 * must wait; returns how many were used (the rest waits in kc->in), or
 * -1 when the connection ended. */
static long conn_feed(struct kv_core *k, struct kv_conn *kc, const uint8_t *data, size_t len)
{
	size_t used = 0;
	/* until the parser says MORE: it may hold an op back (a multi-get's
	 * last key) and give it out on a call with nothing left */
	for (unsigned guard = 0; !kc->closing && guard < 1u << 20; guard++) {
		if (conn_must_wait(kc)) {
			/* what waits in open batches must go, or the FIFO never drains */
			if (batch_flush(k, kc) < 0)
				return -1;
			int pool = pool_wait(k, kc);
			if (!kc->blocked && kc->held >= KV_CONN_SHARE)
				counter_add(&k->share_waits, 1);
			else if (!kc->blocked && pool && !msgs_short(k))
				counter_add(&k->reserve_waits, 1);
			kc->blocked = 1;
			if (pool && !kc->starved) {
				/* at the tail: the poller resumes them in turn */
				kc->starved = 1;
				conn_list_add(&k->starved, &k->starved_tail, kc, STARVED);
			}
			break;
		}
		struct kv_op op;
		enum kv_parse_ev ev;
		used += kv_parse(&kc->p, data + used, len - used, &op, &ev);
		if (ev == KV_PARSE_MORE)
			break;
		if (ev == KV_PARSE_VALUE) {
			conn_value(k, kc, &op);
		} else if (ev == KV_PARSE_OP) {
			int store = kc->vitem || kc->vmsg || kc->verr;
			if (store) {
				if (conn_store(k, kc, &op) < 0)
					return -1;
			} else if (conn_op(k, kc, &op) < 0) {
				return -1;
			}
		}
	}
	if (kc->closing)
		used = len;     /* after the op that closes: dropped */
	return (long)used;
}

static void conn_parse(struct kv_core *k, struct kv_conn *kc, const uint8_t *data, size_t len)
{
	long used = conn_feed(k, kc, data, len);
	if (used < 0)
		return;
	if ((size_t)used < len) {
		if (len - (size_t)used > KV_IN_MAX - kc->in_len) {
			counter_add(&k->closed_bad, 1);
			tcp_abort(kc->c);
			return;
		}
		memmove(kc->in + kc->in_len, data + used, len - (size_t)used);
		kc->in_len += (uint32_t)(len - (size_t)used);
	}
	conn_pump(kc);
}

/* Room came back (send space, a message home, answers sent): what
 * waited is parsed, as long as there is room for it. Every path that can
 * make room ends here, or a blocked connection would wait for ever. */
static void conn_resume(struct kv_conn *kc)
{
	struct kv_core *k = me();
	int was = kc->blocked;
	for (unsigned turn = 0; turn < 64 && kc->c && kc->blocked && !conn_must_wait(kc); turn++) {
		kc->blocked = 0;
		/* even with nothing waiting here: the parser may hold ops (the
		 * keys of a get line it took whole) */
		uint8_t tmp[KV_IN_MAX];
		size_t n = kc->in_len;
		memcpy(tmp, kc->in, n);
		kc->in_len = 0;
		conn_parse(k, kc, tmp, n);
	}
	if (was && kc->c && !kc->blocked)
		tcp_recv_update(kc->c);
}

static size_t kv_recv_space(struct tcp_conn *c, void *ctx)
{
	struct kv_conn *kc = ctx;
	return kc->blocked && !kc->closing ? 0 : 1u << 30;
}

static void kv_recv(struct tcp_conn *c, void *ctx, const uint8_t *data, size_t len)
{
	struct kv_conn *kc = ctx;
	struct kv_core *k = me();
	apps_idle_touch(&kc->idle);
	counter_add(&k->bytes_read, len);
	if (kc->closing)
		return;
	if (kc->blocked) {
		if (len > KV_IN_MAX - kc->in_len) {
			counter_add(&k->closed_bad, 1);
			tcp_abort(c);
			return;
		}
		memcpy(kc->in + kc->in_len, data, len);
		kc->in_len += (uint32_t)len;
		return;
	}
	uint64_t t0 = time_ns();
	conn_parse(k, kc, data, len);
	conn_resume(kc);        /* blocked, then its answers went at once */
	counter_add(&k->busy_ns, time_ns() - t0);
}

static void kv_writable(struct tcp_conn *c, void *ctx)
{
	struct kv_conn *kc = ctx;
	apps_idle_touch(&kc->idle);
	conn_pump(kc);
	conn_resume(kc);
}

static void kv_peer_closed(struct tcp_conn *c, void *ctx)
{
	struct kv_conn *kc = ctx;
	kc->closing = 1;
	kc->close_after = 1;
	conn_pump(kc);
}

/* its slot back once nothing of it is out on another core */
static void conn_release(struct kv_core *k, struct kv_conn *kc)
{
	kc->gone = 0;
	kc->gen++;
	apps_give((void **)&k->free, kc);
}

static void kv_gone(struct tcp_conn *c, void *ctx, int reason)
{
	struct kv_conn *kc = ctx;
	struct kv_core *k = me();
	apps_idle_stop(&kc->idle);
	kc->c = NULL;
	atomic_store_explicit(&kc->open, 0, memory_order_relaxed);
	counter_add(&k->curr_conns, (uint64_t)-1);
	/* what it holds here: the arriving value, open batches, answers */
	if (kc->vitem)
		kv_item_put(k->shard, kc->vitem);
	if (kc->vmsg)
		msg_give(k, kc->vmsg);
	kc->vitem = NULL;
	kc->vmsg = NULL;
	for (uint32_t s = 0; s < nshards; s++)
		if (kc->batch[s]) {
			kc->batch[s]->done = 1;         /* never sent: given back below */
			kc->batch[s] = NULL;
		}
	/* its store waiting for a big message, its answers waiting for one,
	 * leave their queues */
	if (kc->vwait) {
		conn_list_del(&k->store_wait, &k->store_wait_tail, kc, STORE_WAIT);
		kc->vwait = 0;
	}
	for (struct kv_msg **pp = &k->big_wait, *prev = NULL; *pp;) {
		struct kv_msg *m = *pp;
		if (m->conn == kc) {
			*pp = m->next;
			m->big_wait = 0;
		} else {
			prev = m;
			pp = &m->next;
		}
		if (!*pp)
			k->big_wait_tail = prev;
	}
	for (; kc->fhead != kc->ftail; kc->fhead++) {
		struct kv_msg *m = kc->fifo[kc->fhead % KV_FIFO].m;
		if (--m->left == 0 && m->done)
			msg_give(k, m);
		/* not done: it is out on another core, given back in msg_back */
	}
	if (kc->starved) {
		conn_list_del(&k->starved, &k->starved_tail, kc, STARVED);
		kc->starved = 0;
	}
	if (kc->inflight) {
		kc->gone = 1;
		return;
	}
	conn_release(k, kc);
}

static void kv_idle_expired(struct apps_idle *i)
{
	struct kv_conn *kc = (struct kv_conn *)((char *)i - offsetof(struct kv_conn, idle));
	counter_add(&me()->idle_resets, 1);
	tcp_abort_idle(kc->c);
}

static void *kv_accept(struct tcp_conn *c, void *arg)
{
	struct kv_core *k = me();
	struct kv_conn *kc = k->shard ? apps_take((void **)&k->free) : NULL;
	if (!kc) {
		counter_add(&k->refused, 1);
		return NULL;
	}
	uint32_t gen = kc->gen;
	memset(kc, 0, offsetof(struct kv_conn, out));
	kc->gen = gen;
	kc->c = c;
	kc->id = ++k->next_id;
	tcp_conn_peer(c, &kc->peer_addr, &kc->peer_port);
	atomic_store_explicit(&kc->last_cmd, kv_now(), memory_order_relaxed);
	atomic_store_explicit(&kc->open, 1, memory_order_release);
	kv_parser_init(&kc->p);
	apps_idle_start(&kc->idle, cfgk.idle_timeout_s, kv_idle_expired);
	counter_add(&k->curr_conns, 1);
	counter_add(&k->total_conns, 1);
	return kc;
}

static const struct tcp_ops kv_ops = {
	.recv = kv_recv, .writable = kv_writable, .peer_closed = kv_peer_closed,
	.gone = kv_gone, .recv_space = kv_recv_space,
};

/* ---------------------------------------------------------------- stats */

void kv_stats_collect(struct kv_stats_all *out)
{
	uint32_t self = core_self()->id;
	memset(out, 0, sizeof *out);
	for (uint32_t s = 0; s < nshards; s++) {
		struct kv_core *k = &cores[shard_core[s]];
		struct kv_shard_stats st;
		if (shard_core[s] == self) {
			kv_shard_stats(k->shard, &st);  /* ours: exact */
		} else {
			uint64_t *w = (uint64_t *)&st;
			for (size_t i = 0; i < sizeof st / 8; i++)
				w[i] = atomic_load_explicit(&k->mirror[i], memory_order_relaxed);
		}
		const uint64_t *a = (const uint64_t *)&st;
		uint64_t *sum = (uint64_t *)&out->sum;
		for (size_t i = 0; i < sizeof st / 8; i++)
			sum[i] += a[i];
		/* classes: this shard's own now, the others' from their last second */
		struct kv_class_stats cs[KV_CLASSES_MAX];
		unsigned n;
		if (shard_core[s] == self) {
			n = kv_class_stats(k->shard, cs, KV_CLASSES_MAX);
		} else {
			uint32_t seq = atomic_load_explicit(&k->cls_seq, memory_order_acquire);
			n = seq ? atomic_load_explicit(&k->cls_n, memory_order_relaxed) : 0;
			memcpy(cs, k->cls_mirror, n * sizeof cs[0]);
		}
		for (unsigned i = 0; i < n; i++) {
			unsigned j;
			for (j = 0; j < out->nclasses; j++)
				if (out->cls[j].id == cs[i].id)
					break;
			if (j == out->nclasses) {
				if (j == KV_CLASSES_MAX)
					continue;
				memset(&out->cls[j], 0, sizeof out->cls[j]);
				out->cls[j].id = cs[i].id;
				out->cls[j].chunk_size = cs[i].chunk_size;
				out->cls[j].chunks_per_page = cs[i].chunks_per_page;
				out->nclasses++;
			}
			struct kv_class_stats *d = &out->cls[j];
			d->total_pages += cs[i].total_pages;
			d->total_chunks += cs[i].total_chunks;
			d->used_chunks += cs[i].used_chunks;
			d->free_chunks += cs[i].free_chunks;
			d->number += cs[i].number;
			if (cs[i].age > d->age)
				d->age = cs[i].age;
			d->evicted += cs[i].evicted;
			d->evicted_nonzero += cs[i].evicted_nonzero;
			d->outofmemory += cs[i].outofmemory;
			d->reclaimed += cs[i].reclaimed;
			d->expired_unfetched += cs[i].expired_unfetched;
			d->evicted_unfetched += cs[i].evicted_unfetched;
			d->get_hits += cs[i].get_hits;
			d->cmd_set += cs[i].cmd_set;
			d->delete_hits += cs[i].delete_hits;
			d->incr_hits += cs[i].incr_hits;
			d->decr_hits += cs[i].decr_hits;
			d->cas_hits += cs[i].cas_hits;
			d->cas_badval += cs[i].cas_badval;
			d->touch_hits += cs[i].touch_hits;
			d->mem_requested += cs[i].mem_requested;
		}
	}
	/* sort classes by id */
	for (unsigned i = 1; i < out->nclasses; i++)
		for (unsigned j = i; j > 0 && out->cls[j - 1].id > out->cls[j].id; j--) {
			struct kv_class_stats t = out->cls[j];
			out->cls[j] = out->cls[j - 1];
			out->cls[j - 1] = t;
		}
	struct timespec ts;
	out->pid = (uint32_t)getpid();
	out->time = clock_gettime(CLOCK_REALTIME, &ts) ? start_unix + kv_now() : ts.tv_sec;
	out->uptime = kv_now();
	for (uint32_t c = 0; c < cores_count(); c++) {
		struct kv_core *k = &cores[c];
		out->curr_connections += counter_get(&k->curr_conns);
		out->total_connections += counter_get(&k->total_conns);
		out->rejected_connections += counter_get(&k->refused);
		out->connection_structures += k->nconns;
		out->bytes_read += counter_get(&k->bytes_read);
		out->bytes_written += counter_get(&k->bytes_written);
		out->cross_core += counter_get(&k->cross_core);
		out->rusage_user_us += counter_get(&k->busy_ns) / 1000;
	}
	out->cmd_get = out->sum.get_hits + out->sum.get_misses;
	out->cmd_touch = out->sum.cmd_touch;
	out->threads = nshards;
	out->settings.maxbytes = (uint64_t)cfgk.memory_mb << 20;
	out->settings.maxconns = cfgk.max_conns;
	out->settings.tcpport = cfgk.port;
	out->settings.item_size_max = cfgk.item_size_max;
	out->settings.evictions = cfgk.evict;
	out->settings.num_threads = nshards;
	out->settings.chunk_size = 48;
	out->settings.growth_factor = 1.25;
}

void kv_stats_conns(int (*each)(void *arg, const struct kv_conn_info *ci), void *arg)
{
	uint32_t now = kv_now();
	for (uint32_t c = 0; c < cores_count(); c++) {
		struct kv_core *k = &cores[c];
		for (uint32_t i = 0; i < k->nconns; i++) {
			struct kv_conn *kc = &k->conns[i];
			if (!atomic_load_explicit(&kc->open, memory_order_acquire))
				continue;
			struct kv_conn_info ci;
			memset(&ci, 0, sizeof ci);
			ci.id = c * 100000 + i + 1;
			snprintf(ci.addr, sizeof ci.addr, "tcp:%u.%u.%u.%u:%u", kc->peer_addr >> 24,
				 (kc->peer_addr >> 16) & 255, (kc->peer_addr >> 8) & 255,
				 kc->peer_addr & 255, kc->peer_port);
			snprintf(ci.listen_addr, sizeof ci.listen_addr, "tcp:0.0.0.0:%u", cfgk.port);
			ci.state = "conn_parse_cmd";
			uint32_t last = atomic_load_explicit(&kc->last_cmd, memory_order_relaxed);
			ci.secs_since_last_cmd = now > last ? now - last : 0;
			if (each(arg, &ci))
				return;
		}
	}
}

void kv_core_stats(uint32_t core, struct kv_core_stats *o)
{
	struct kv_core *k = &cores[core];
	memset(o, 0, sizeof *o);
	o->data = k->shard != NULL;
	if (!o->data)
		return;
	uint64_t *w = (uint64_t *)&o->store;
	for (size_t i = 0; i < sizeof o->store / 8; i++)
		w[i] = atomic_load_explicit(&k->mirror[i], memory_order_relaxed);
	o->curr_conns = counter_get(&k->curr_conns);
	o->total_conns = counter_get(&k->total_conns);
	o->refused = counter_get(&k->refused);
	o->idle_resets = counter_get(&k->idle_resets);
	o->closed_bad = counter_get(&k->closed_bad);
	o->answer_overflow = counter_get(&k->answer_overflow);
	o->send_timeouts = counter_get(&k->send_timeouts);
	o->share_waits = counter_get(&k->share_waits);
	o->big_waits = counter_get(&k->big_waits);
	o->reserve_waits = counter_get(&k->reserve_waits);
	o->value_timeouts = counter_get(&k->value_timeouts);
	o->ops = counter_get(&k->ops);
	o->cross_core = counter_get(&k->cross_core);
	o->cross_msgs = counter_get(&k->cross_msgs);
	o->no_msg = counter_get(&k->no_msg);
	o->chan_retries = counter_get(&k->retries);
	o->bytes_read = counter_get(&k->bytes_read);
	o->bytes_written = counter_get(&k->bytes_written);
	o->conn_slots = k->nconns;
	o->conn_slots_free = k->nconns - o->curr_conns;
	o->msgs = KV_MSGS;
	o->msgs_free = counter_get(&k->msgs_free);
	o->bigs = KV_BIGS;
	o->bigs_free = counter_get(&k->bigs_free);
}

int kv_running(void) { return nshards != 0; }

/* flush_all on every shard, from the control core (POST /v1/kv/flush) */
static void flush_here(void *arg)
{
	(void)arg;
	kv_flush(me()->shard, kv_now(), kv_now());
}

int kv_flush_all(void)
{
	if (!nshards)
		return -ENOENT;
	for (uint32_t s = 0; s < nshards; s++) {
		if (shard_core[s] == core_self()->id) {
			flush_here(NULL);
			continue;
		}
		int rc = call_on(shard_core[s], flush_here, NULL);
		if (rc)
			return rc;
	}
	return 0;
}

/* ---------------------------------------------------------------- settings */
#define F(x) .off = offsetof(struct kv_config, x)
static const struct schema_node fields[] = {
	{ .key = "port", .kind = SK_INTEGER, .min = 1, .max = 65535, .type = ST_U16, F(port),
	  .def = 11211, .doc = "TCP port of the memcached protocols (default 11211)." },
	{ .key = "memory_mb", .kind = SK_INTEGER, .min = 1, .max = 1 << 20, .type = ST_U32,
	  F(memory_mb), .def = 64,
	  .doc = "Item memory of the whole appliance in MiB (memcached's -m), split evenly "
		 "over the data cores' shards, at least 1 MiB each (default 64)." },
	{ .key = "item_size_max", .kind = SK_INTEGER, .min = 1024, .max = KV_PAGE_SIZE,
	  .type = ST_U32, F(item_size_max), .def = KV_PAGE_SIZE,
	  .doc = "Largest item, key and value and header, in bytes (memcached's -I; default "
		 "1048576); a bigger value gets SERVER_ERROR object too large for cache." },
	{ .key = "evict", .kind = SK_BOOLEAN, .type = ST_U32, F(evict), .def = 1,
	  .doc = "Evict the least recently used items when memory is full (default true); "
		 "false: refuse the store with SERVER_ERROR out of memory (memcached's -M)." },
	{ .key = "max_conns", .kind = SK_INTEGER, .min = 1, .max = 65536, .type = ST_U32,
	  F(max_conns), .def = 1024,
	  .doc = "Client connections of the whole appliance (memcached's -c), split evenly "
		 "over the data cores; one more on a full core is refused, counted (default 1024)." },
	APPS_IDLE_TIMEOUT_ROW(offsetof(struct kv_config, idle_timeout_s), 600, "a client connection"),
	{ .key = "send_timeout_s", .kind = SK_INTEGER, .min = 1, .max = 86400, .type = ST_U32,
	  F(send_timeout_s), .def = 30,
	  .doc = "Seconds a client connection that holds answer messages (a per-core pool) may "
		 "take no answer bytes before it is reset and its messages freed (counted: "
		 "send_timeouts; default 30)." },
	{ .kind = SK_END }
};
#undef F

const struct schema_node kv_schema = {
	.key = "kv", .kind = SK_OBJECT, .sub = fields, .off = offsetof(struct apps_config, kv),
	.doc = "The kv appliance: a memcached-compatible cache, one shard per data core."
};

/* ---------------------------------------------------------------- start-up */

static int core_setup(uint32_t c, uint32_t shard, size_t arena_len, uint32_t conns, char *err,
		      size_t errlen)
{
	struct kv_core *k = &cores[c];
	struct kv_shard_params p = { .item_size_max = cfgk.item_size_max, .evict = (int)cfgk.evict,
				     .shard = shard, .nshards = nshards };
	k->shard = frame_alloc_pages((kv_shard_size() + 4095) / 4096);
	void *arena = frame_alloc_pages(arena_len / 4096);
	if (!k->shard || !arena) {
		snprintf(err, errlen, "kv.memory_mb: no memory for a %zu-MiB shard on core %u",
			 arena_len >> 20, c);
		return -ENOMEM;
	}
	int rc = kv_shard_init(k->shard, arena, arena_len, &p);
	if (rc) {
		snprintf(err, errlen, "kv: shard on core %u: bad parameters (see the log)", c);
		return rc;
	}
	k->shard_ix = shard;
	k->nconns = conns;
	k->conns = frame_alloc_pages((conns * sizeof(struct kv_conn) + 4095) / 4096);
	struct kv_msg *msgs = frame_alloc_pages(((KV_MSGS + KV_BIGS) * sizeof(struct kv_msg) + 4095) / 4096);
	uint8_t *bufs = frame_alloc_pages((size_t)KV_MSGS * KV_MSG_BUF / 4096);
	uint8_t *bigs = frame_alloc_pages((size_t)KV_BIGS * big_cap / 4096);
	if (!k->conns || !msgs || !bufs || !bigs) {
		snprintf(err, errlen, "kv.max_conns: no memory for %u connections and %u messages "
			 "on core %u", conns, KV_MSGS + KV_BIGS, c);
		return -ENOMEM;
	}
	for (uint32_t i = conns; i-- > 0;)
		apps_give((void **)&k->free, &k->conns[i]);
	for (uint32_t i = 0; i < KV_MSGS + KV_BIGS; i++) {
		struct kv_msg *m = &msgs[i];
		m->home = (uint16_t)c;
		m->big = i >= KV_MSGS;
		m->buf = m->big ? bigs + (size_t)(i - KV_MSGS) * big_cap : bufs + (size_t)i * KV_MSG_BUF;
		m->cap = m->big ? big_cap : KV_MSG_BUF;
		apps_give(m->big ? (void **)&k->big_free : (void **)&k->msg_free, m);
	}
	counter_add(&k->msgs_free, KV_MSGS);
	counter_add(&k->bigs_free, KV_BIGS);
	rc = sched_poller_add(c, "kv", kv_poll, kv_mirror, k);
	if (!rc)
		rc = sched_poller_set_arm(c, kv_poll, k, kv_arm, NULL);
	if (rc) {
		snprintf(err, errlen, "kv: no room for a poller on core %u", c);
		return rc;
	}
	return 0;
}

int kv_init(const struct apps_config *cfg, char *err, size_t errlen)
{
	/* from nothing: the lists, counters and sweep timers of a former
	 * run (a test's earlier world) point into memory no longer ours */
	memset(cores, 0, sizeof cores);
	cfgk = cfg->kv;
	uint32_t n = cores_count();
	nshards = n > 1 ? n - 1 : 1;
	start_ns = time_ns();
	struct timespec ts;
	start_unix = clock_gettime(CLOCK_REALTIME, &ts) ? 0 : ts.tv_sec;
	kv_proto_setup(start_unix);
	struct siphash_key sk;
	uint8_t hk[16];
	if (siphash_key_random(&sk)) {
		snprintf(err, errlen, "kv: no entropy for the hash key");
		return -EIO;
	}
	for (int i = 0; i < 8; i++) {
		hk[i] = (uint8_t)(sk.k0 >> (8 * i));
		hk[8 + i] = (uint8_t)(sk.k1 >> (8 * i));
	}
	kv_hash_key_set(hk);
	size_t pages = ((size_t)cfgk.memory_mb << 20) / nshards / KV_PAGE_SIZE;
	if (pages == 0) {
		snprintf(err, errlen, "kv.memory_mb: %u MiB is less than 1 MiB for each of %u shards",
			 cfgk.memory_mb, nshards);
		nshards = 0;
		return -EINVAL;
	}
	uint32_t conns = cfgk.max_conns / nshards ? cfgk.max_conns / nshards : 1;
	big_cap = (cfgk.item_size_max + KV_ANSWER_ROOM + 4095) & ~4095u;
	for (uint32_t s = 0; s < nshards; s++) {
		uint32_t c = n > 1 ? s + 1 : 0;
		shard_core[s] = (uint16_t)c;
		int rc = core_setup(c, s, pages * KV_PAGE_SIZE, conns, err, errlen);
		if (rc) {
			nshards = 0;
			return rc;
		}
	}
	int rc = tcp_listen(cfgk.port, &kv_ops, kv_accept, NULL);
	if (rc) {
		snprintf(err, errlen, "kv.port: %u: %s", cfgk.port, strerror(-rc));
		nshards = 0;
		return rc;
	}
	klog("kv: memcached protocols on TCP port %u: %u shard(s) of %zu MiB, %u connections each, "
	     "item header %zu bytes", cfgk.port, nshards, pages, conns, kv_item_overhead());
	return 0;
}
