/*
 * tcp.c — TCP (RFC 9293) on the flow's owner core: the connection table
 * and its slots, the send buffers, the listeners, the app's entry points
 * (net.h), the waiting lists served every loop turn (tcp_poll) and the
 * active open. Segments in are tcp_in.c's, segments out tcp_out.c's,
 * timers tcp_timer.c's; what they share is in tcp_priv.h.
 *
 * What TCP does: the full state machine including simultaneous open and
 * close and RST handling; MSS negotiation; window scaling and timestamps
 * (RFC 7323); RTO per RFC 6298 (Karn's rule, exponential backoff, 200 ms
 * floor); NewReno fast retransmit/recovery (RFC 6582) with slow start and
 * congestion avoidance; delayed ACKs (every second segment or 40 ms);
 * zero-window probing; keepalive (off unless configured); a bounded
 * TIME_WAIT (2 s, and the oldest is recycled when slots run out);
 * out-of-order queueing (bounded per connection); SYN cookies when the
 * half-open count passes the backlog or slots run out.
 *
 * Memory: each core has max_conns connection slots and a pool of send
 * buffers of send_buffer bytes, made at start-up; no allocation
 * afterwards. A connection borrows a send buffer only while it has bytes
 * queued or unacknowledged, so an idle one costs its slot alone.
 *
 * Callers: tcp_listen on core 0 at start-up; every other entry point on
 * the connection's owner core (from the app's callbacks or its pollers),
 * tcp_connect on the core that is to own the connection.
 */
#include <errno.h>
#include <string.h>
#include "net/tcp_priv.h"

#define MAX_LISTENERS 16
static struct listener listeners[MAX_LISTENERS];        /* written at start-up only */
static int nlisteners;
uint32_t tcp_keepalive_ms;
uint32_t tcp_tso_max = TSO_MAX_DEFAULT;

static unsigned tcp_poll(void *arg);
static void tcp_poll_flush(void *arg) { tcp_poll(arg); }
/* Before a halting core sleeps: connections waiting for TX ring room
 * wait for completions, which raise no interrupt: poll on a timer. The
 * other waiting list (send buffers) is served by ACKs: received frames. */
static int tcp_arm(void *arg)
{
	const struct tcp_core *t = arg;
	return t->txw_head ? SCHED_ARM_TIMED : SCHED_ARM_SLEEP;
}

int tcp_core_init(uint32_t core, uint32_t max_conns, uint32_t sndbuf, uint32_t nbufs)
{
	struct tcp_core *t = frame_alloc_pages((sizeof *t + 4095) / 4096);
	if (!t)
		return -ENOMEM;
	t->max = max_conns;
	uint32_t hsize = 1;
	while (hsize < max_conns * 2)
		hsize <<= 1;
	t->hmask = hsize - 1;
	t->hash = frame_alloc_pages((hsize * sizeof(void *) + 4095) / 4096);
	t->conns = frame_alloc_pages((max_conns * sizeof(struct tcp_conn) + 4095) / 4096);
	uint8_t *bufs = frame_alloc_pages(((size_t)nbufs * sndbuf + 4095) / 4096);
	if (!t->hash || !t->conns || !bufs)
		return -ENOMEM;
	for (uint32_t i = 0; i < max_conns; i++) {
		t->conns[i].sb_size = sndbuf;
		t->conns[i].hnext = t->free;
		t->free = &t->conns[i];
	}
	t->sb_size = sndbuf;
	t->sb_count = t->sb_avail = nbufs;
	for (uint32_t i = 0; i < nbufs; i++) {
		void **b = (void **)(bufs + (size_t)i * sndbuf);
		*b = t->sb_free;
		t->sb_free = b;
	}
	/* after the queues' pollers: its flush runs after theirs (an empty
	 * TX batch), so what it lets out goes with the next turn's flush */
	int rc = sched_poller_add(core, "tcp", tcp_poll, tcp_poll_flush, t);
	if (!rc)
		rc = sched_poller_set_arm(core, tcp_poll, t, tcp_arm, NULL);
	if (rc)
		return rc;
	t->next_port = (uint16_t)(32768 + core * 1000);
	net_cores[core].tcp = t;
	tcp_keys_init();
	return 0;
}

struct siphash_key tcp_hash_key, tcp_iss_key, tcp_cookie_key, tcp_chack_key;

/* a key from the platform's entropy; without any, one from the cycle
 * counter (weaker, but never a fixed key) */
static void key_draw(struct siphash_key *k)
{
	if (siphash_key_random(k)) {
		k->k0 = cycles_now() * 0x9e3779b97f4a7c15ull;
		k->k1 = (cycles_now() ^ (uintptr_t)k) * 0xd6e8feb86659fd93ull;
	}
}

void tcp_keys_init(void)
{
	static int drawn;
	if (drawn)
		return;
	drawn = 1;
	key_draw(&tcp_hash_key);
	key_draw(&tcp_iss_key);
	key_draw(&tcp_cookie_key);
	key_draw(&tcp_chack_key);
}

uint32_t tcp_conns_open(uint32_t core)
{
	struct tcp_core *t = net_cores[core].tcp;
	return t ? __atomic_load_n(&t->open, __ATOMIC_RELAXED) : 0;
}

static const char *const state_names[] = {
	"CLOSED", "LISTEN", "SYN_SENT", "SYN_RCVD", "ESTABLISHED", "FIN_WAIT_1",
	"FIN_WAIT_2", "CLOSE_WAIT", "CLOSING", "LAST_ACK", "TIME_WAIT",
};

int net_tcp_quiet_conns(uint32_t core, uint32_t quiet_ms, struct net_tcp_conn_info *out, int max)
{
	struct tcp_core *t = core < POLLUX_MAX_CORES ? net_cores[core].tcp : NULL;
	uint64_t now = time_ns();
	int n = 0;
	for (uint32_t i = 0; t && i < t->max && n < max; i++) {
		const struct tcp_conn *c = &t->conns[i];
		enum tcp_state st = __atomic_load_n(&c->state, __ATOMIC_RELAXED);
		uint64_t last = __atomic_load_n(&c->last_rx_ns, __ATOMIC_RELAXED);
		if (st == TCP_CLOSED || st > TCP_TIME_WAIT || last > now || (now - last) / 1000000ull < quiet_ms)
			continue;
		struct net_tcp_conn_info *o = &out[n++];
		o->state = state_names[st];
		o->raddr = ntohl(c->raddr);
		o->rport = c->rport;
		o->lport = c->lport;
		o->quiet_ms = (uint32_t)((now - last) / 1000000ull);
		o->unacked = c->snd_max - c->snd_una;
		o->queued = c->sb_len;
		o->snd_wnd = c->snd_wnd;
		o->rcv_space = c->rcv_adv - c->rcv_nxt;
		o->fin_queued = (uint8_t)c->fin_queued;
		o->fin_sent = (uint8_t)c->fin_sent;
		o->app_gone = (uint8_t)c->app_gone;
		o->rtx_armed = (uint8_t)timer_armed(&c->rtx);
		o->tw_armed = (uint8_t)timer_armed(&c->tw);
		o->keep_armed = (uint8_t)timer_armed(&c->keep);
	}
	return n;
}

/* ---- the connection table */
static struct tcp_conn **slot_of(struct tcp_core *t, uint32_t a, uint16_t rp, uint16_t lp)
{
	return &t->hash[hash3(a, rp, lp) & t->hmask];
}

struct tcp_conn *tcp_conn_lookup(uint32_t a, uint16_t rp, uint16_t lp)
{
	struct tcp_core *t = tc();
	for (struct tcp_conn *c = *slot_of(t, a, rp, lp); c; c = c->hnext)
		if (c->raddr == a && c->rport == rp && c->lport == lp)
			return c;
	return NULL;
}

struct tcp_conn *tcp_conn_new(struct net_if *ifc, uint32_t a, uint16_t rp, uint16_t lp)
{
	struct tcp_core *t = tc();
	struct tcp_conn *c = t->free;
	if (!c) {
		/* recycle the oldest TIME_WAIT slot: the list's head (a scan of
		 * every slot here cost up to max_conns steps per SYN while
		 * the table was full) */
		struct tcp_conn *old = t->tw_head;
		if (!old)
			return NULL;
		tcp_conn_free(old);
		NSTAT(tcp_timewait_recycled);
		c = t->free;
	}
	t->free = c->hnext;
	/* the waiting-list links survive: the slot may still be on a list */
	struct tcp_conn *txw = c->txw_next, *sbw = c->sbw_next;
	uint8_t txw_on = c->txw_on, sbw_on = c->sbw_on;
	memset(c, 0, sizeof *c);
	c->txw_next = txw;
	c->sbw_next = sbw;
	c->txw_on = txw_on;
	c->sbw_on = sbw_on;
	c->sb_size = t->sb_size;
	c->ifc = ifc;
	c->raddr = a;
	c->rport = rp;
	c->lport = lp;
	c->mss = DEFAULT_MSS;
	c->rto = RTO_INIT_MS;
	c->snd_wnd = 1;
	c->last_rx_ns = time_ns();
	tcp_timers_init(c);
	struct tcp_conn **s = slot_of(t, a, rp, lp);
	c->hnext = *s;
	*s = c;
	t->open++;
	return c;
}

void tcp_tw_add(struct tcp_conn *c)
{
	struct tcp_core *t = tc();
	if (c->tw_on)
		return;
	c->tw_on = 1;
	c->tw_next = NULL;
	c->tw_prev = t->tw_tail;
	if (t->tw_tail)
		t->tw_tail->tw_next = c;
	else
		t->tw_head = c;
	t->tw_tail = c;
}

static void tw_del(struct tcp_core *t, struct tcp_conn *c)
{
	if (!c->tw_on)
		return;
	if (c->tw_prev)
		c->tw_prev->tw_next = c->tw_next;
	else
		t->tw_head = c->tw_next;
	if (c->tw_next)
		c->tw_next->tw_prev = c->tw_prev;
	else
		t->tw_tail = c->tw_prev;
	c->tw_on = 0;
	c->tw_prev = c->tw_next = NULL;
}

void tcp_conn_free(struct tcp_conn *c)
{
	struct tcp_core *t = tc();
	tw_del(t, c);
	sched_timer_cancel(&c->rtx);
	sched_timer_cancel(&c->delack);
	sched_timer_cancel(&c->tw);
	sched_timer_cancel(&c->keep);
	tcp_ooo_purge(c);
	tcp_sb_put(c);
	for (struct tcp_conn **p = slot_of(t, c->raddr, c->rport, c->lport); *p; p = &(*p)->hnext)
		if (*p == c) {
			*p = c->hnext;
			break;
		}
	if (c->state == TCP_SYN_RCVD)
		t->half_open--;
	c->state = TCP_CLOSED;
	c->hnext = t->free;
	t->free = c;
	t->open--;
}

/* the app hears `gone` exactly once, then the slot is freed */
void tcp_conn_gone(struct tcp_conn *c, int reason)
{
	if (!c->app_gone && c->ops && c->ops->gone) {
		c->app_gone = 1;
		c->ops->gone(c, c->ctx, reason);
	}
	c->app_gone = 1;
	tcp_conn_free(c);
}

/* ---- send buffers: a connection holds one only while it has bytes
 * queued or unacknowledged, so an idle connection costs its slot alone */
static void *sb_get(struct tcp_conn *c)
{
	struct tcp_core *t = tc();
	if (!c->sb && t->sb_free) {
		c->sb = t->sb_free;
		t->sb_free = *(void **)t->sb_free;
		t->sb_avail--;
		c->sb_head = 0;
	}
	return c->sb;
}

void tcp_sb_put(struct tcp_conn *c)
{
	struct tcp_core *t = tc();
	if (!c->sb)
		return;
	for (; c->sref_n; c->sref_n--) {
		struct tcp_sref *e = &c->sref[c->sref_head];
		c->sref_head = (uint8_t)((c->sref_head + 1) % TCP_SREF_MAX);
		pktbuf_ref_put(e->ref);
		e->ref = NULL;
	}
	c->sref_head = 0;
	*(void **)c->sb = t->sb_free;
	t->sb_free = c->sb;
	t->sb_avail++;
	c->sb = NULL;
	c->sb_len = c->sb_head = c->sb_copied = c->sb_tail = 0;
}

/* ---- the send queue: copied runs and referenced extents, in order */
void tcp_sq_drop(struct tcp_conn *c, uint32_t n)
{
	ASSERT(n <= c->sb_len);
	c->sb_len -= n;
	uint32_t ring = 0;                      /* copied bytes dropped */
	while (n && c->sref_n) {
		struct tcp_sref *e = &c->sref[c->sref_head];
		uint32_t k = n < e->pre ? n : e->pre;
		e->pre -= k;
		ring += k;
		n -= k;
		k = n < e->len ? n : e->len;
		e->p += k;
		e->len -= k;
		n -= k;
		if (e->pre || e->len)
			break;                  /* n is 0: this extent stays */
		pktbuf_ref_put(e->ref);         /* all its bytes acknowledged */
		e->ref = NULL;
		c->sref_head = (uint8_t)((c->sref_head + 1) % TCP_SREF_MAX);
		c->sref_n--;
	}
	if (n) {                                /* what is left: the tail's copied bytes */
		ASSERT(n <= c->sb_tail);
		c->sb_tail -= n;
		ring += n;
	}
	if (!c->sref_n)
		c->sb_tail = c->sb_copied - ring;
	c->sb_copied -= ring;
	c->sb_head = (c->sb_head + ring) & (c->sb_size - 1);
}

uint32_t tcp_sq_run(const struct tcp_conn *c, uint32_t off, const uint8_t **p, struct pktbuf_ref **ref)
{
	ASSERT(off < c->sb_len);
	uint32_t ring = 0, avail;
	for (uint32_t i = 0; i < c->sref_n; i++) {
		const struct tcp_sref *e = &c->sref[(c->sref_head + i) % TCP_SREF_MAX];
		if (off < e->pre) {
			avail = e->pre - off;
			goto copied;
		}
		off -= e->pre;
		ring += e->pre;
		if (off < e->len) {
			*p = e->p + off;
			*ref = e->ref;
			return e->len - off;
		}
		off -= e->len;
	}
	ASSERT(off < c->sb_tail);
	avail = c->sb_tail - off;
copied:;
	uint32_t at = (c->sb_head + ring + off) & (c->sb_size - 1);
	*p = c->sb + at;
	*ref = NULL;
	return c->sb_size - at < avail ? c->sb_size - at : avail;
}

/* ---- listeners */
struct listener *tcp_listener_of(uint16_t port)
{
	for (int i = 0; i < nlisteners; i++)
		if (listeners[i].port == port)
			return &listeners[i];
	return NULL;
}

/* ---- the app's side */
int tcp_listen(uint16_t port, const struct tcp_ops *ops, tcp_accept_fn accept, void *arg)
{
	if (tcp_listener_of(port))
		return -EADDRINUSE;
	if (nlisteners == MAX_LISTENERS)
		return -ENOSPC;
	listeners[nlisteners].port = port;
	listeners[nlisteners].ops = ops;
	listeners[nlisteners].accept = accept;
	listeners[nlisteners].arg = arg;
	nlisteners++;
	return 0;
}

void tcp_set_keepalive_ms(uint32_t ms) { tcp_keepalive_ms = ms; }
void tcp_set_tso_max(uint32_t bytes) { tcp_tso_max = bytes; }

/* The app has room again. What the out-of-order queue holds at rcv_nxt
 * (segments in our window that came while the app had no room) goes to
 * it first, and is acknowledged now. Then a window update, when the
 * window grew enough to be worth one (tcp_rcv_sws_min): by that much
 * past the right edge we advertised last, or from below that much (zero
 * included) to at least that much. Without it a peer that our window
 * stopped waits for its persist or retransmission timer (>= 200 ms on
 * Linux); a pipelining client would stall on every answer. */
void tcp_recv_update(struct tcp_conn *c)
{
	ASSERT(tcp_conn_mine(c));
	if (c->state < TCP_ESTABLISHED || c->state == TCP_TIME_WAIT)
		return;
	uint32_t nxt = c->rcv_nxt;
	if (c->ooo)
		tcp_rcv_data(c, NULL, 0);                   /* queued data the app can now take */
	if (c->state == TCP_CLOSED)
		return;                                     /* the app closed it from recv */
	uint32_t space = tcp_rcv_space(c);
	if (space > c->rcv_buf)
		c->rcv_buf = space;
	uint32_t min = tcp_rcv_sws_min(c);
	uint32_t cur = SEQ_GT(c->rcv_adv, c->rcv_nxt) ? c->rcv_adv - c->rcv_nxt : 0;
	if (c->rcv_nxt != nxt || space >= cur + min || (cur < min && space >= min))
		tcp_send_segment(c, TCP_ACK, c->snd_nxt, 0, 0);
}

void tcp_want_writable(struct tcp_conn *c)
{
	ASSERT(tcp_conn_mine(c));
	if (c->fin_queued || c->state < TCP_ESTABLISHED)
		return;
	c->want_writable = 1;
	if (!c->sb && !tc()->sb_free)
		WAIT_ADD(tc(), c, sbw);
}

size_t tcp_send_space(const struct tcp_conn *c)
{
	ASSERT(tcp_conn_mine(c));
	if (c->fin_queued)
		return 0;
	if (c->sb)
		return c->sb_size - c->sb_len;
	return tc()->sb_free ? c->sb_size : 0;
}

size_t tcp_send(struct tcp_conn *c, const void *data, size_t len)
{
	ASSERT(tcp_conn_mine(c));
	if (c->fin_queued || (c->state != TCP_ESTABLISHED && c->state != TCP_CLOSE_WAIT) || !len)
		return 0;
	if (!sb_get(c)) {                       /* the core's buffers are all busy */
		NSTAT(tcp_sndbuf_wait);
		c->want_writable = 1;
		WAIT_ADD(tc(), c, sbw);
		return 0;
	}
	size_t room = c->sb_size - c->sb_len, n = len < room ? len : room;
	for (size_t i = 0; i < n; ) {
		uint32_t at = (c->sb_head + c->sb_copied + (uint32_t)i) & (c->sb_size - 1);
		size_t chunk = c->sb_size - at < n - i ? c->sb_size - at : n - i;
		memcpy(c->sb + at, (const uint8_t *)data + i, chunk);
		i += chunk;
	}
	c->sb_len += (uint32_t)n;
	c->sb_copied += (uint32_t)n;
	c->sb_tail += (uint32_t)n;
	if (n < len)
		c->want_writable = 1;
	tcp_output(c, 0);
	return n;
}

/* The queue's bound is the same as tcp_send's (sb_size bytes from
 * snd_una, both kinds counted), so a slow reader pins at most that much
 * of the referenced memory; and like tcp_send it needs one of the core's
 * send buffers while bytes are queued (the ring stays unused for
 * referenced bytes, but the core's count of busy connections holds). */
size_t tcp_send_ref(struct tcp_conn *c, const void *data, size_t len, struct pktbuf_ref *ref)
{
	ASSERT(tcp_conn_mine(c));
	ASSERT(ref && pktbuf_ref_count(ref) > 0);
	if (c->fin_queued || (c->state != TCP_ESTABLISHED && c->state != TCP_CLOSE_WAIT) || !len)
		return 0;
	if (!sb_get(c)) {
		NSTAT(tcp_sndbuf_wait);
		c->want_writable = 1;
		WAIT_ADD(tc(), c, sbw);
		return 0;
	}
	size_t room = c->sb_size - c->sb_len, n = len < room ? len : room;
	struct tcp_sref *last = c->sref_n ? &c->sref[(c->sref_head + c->sref_n - 1) % TCP_SREF_MAX] : NULL;
	if (n && last && !c->sb_tail && last->ref == ref && last->p + last->len == (const uint8_t *)data) {
		last->len += (uint32_t)n;       /* continues the last extent */
	} else if (n && c->sref_n < TCP_SREF_MAX) {
		struct tcp_sref *e = &c->sref[(c->sref_head + c->sref_n) % TCP_SREF_MAX];
		e->p = data;
		e->len = (uint32_t)n;
		e->pre = c->sb_tail;
		e->ref = ref;
		pktbuf_ref_get(ref);
		c->sref_n++;
		c->sb_tail = 0;
	} else {
		n = 0;                          /* no room, or every extent in use */
	}
	c->sb_len += (uint32_t)n;
	if (n < len)
		c->want_writable = 1;
	if (n)
		tcp_output(c, 0);
	return n;
}

void tcp_close(struct tcp_conn *c)
{
	ASSERT(tcp_conn_mine(c));
	if (c->fin_queued)
		return;
	c->fin_queued = 1;
	if (c->state == TCP_SYN_RCVD || c->state == TCP_SYN_SENT) {
		tcp_conn_gone(c, 0);
		return;
	}
	tcp_output(c, 0);
}

void tcp_abort(struct tcp_conn *c)
{
	ASSERT(tcp_conn_mine(c));
	if (c->state >= TCP_SYN_RCVD)
		tcp_send_segment(c, TCP_RST | TCP_ACK, c->snd_nxt, 0, 0);
	tcp_conn_gone(c, ECONNABORTED);
}

void tcp_abort_idle(struct tcp_conn *c)
{
	NSTAT(tcp_idle_aborts);
	tcp_abort(c);
}

void tcp_conn_peer(const struct tcp_conn *c, uint32_t *addr, uint16_t *port)
{
	ASSERT(tcp_conn_mine(c));
	*addr = ntohl(c->raddr);
	*port = c->rport;
}

int tcp_conn_ifindex(const struct tcp_conn *c)
{
	ASSERT(tcp_conn_mine(c));
	return c->ifc->index;
}

size_t net_tcp_idle_conn_bytes(void)
{
	/* the slot and two lookup-table entries (the table has 2x the
	 * slots); an idle connection holds no send buffer */
	return sizeof(struct tcp_conn) + 2 * sizeof(struct tcp_conn *);
}

/* ---- the waiting lists, every turn. A slot on a list may have been
 * freed and reused since it was queued (the links survive tcp_conn_new):
 * what it gets then is one harmless output attempt or writable call that
 * its state allows. */
static unsigned tcp_poll(void *arg)
{
	struct tcp_core *t = arg;
	unsigned work = 0;
	for (uint32_t n = t->max; t->txw_head && n; n--) {
		struct tcp_conn *c = t->txw_head;
		if (c->ifc && net_tx_busy(c->ifc))
			break;
		WAIT_POP(t, txw);
		if (c->state >= TCP_ESTABLISHED && c->state != TCP_TIME_WAIT) {
			tcp_output(c, c->ack_pending);
			work++;
		}
	}
	while (t->sbw_head && t->sb_free) {
		struct tcp_conn *c = WAIT_POP(t, sbw);
		if ((c->state == TCP_ESTABLISHED || c->state == TCP_CLOSE_WAIT) && !c->sb &&
		    c->want_writable && !c->app_gone && c->ops && c->ops->writable) {
			c->want_writable = 0;
			c->ops->writable(c, c->ctx);
			work++;
		}
	}
	return work;
}

/* ---- active open */
struct tcp_conn *tcp_connect(uint32_t addr, uint16_t port, const struct tcp_ops *ops, void *ctx, int *err)
{
	uint32_t daddr = htonl(addr), me = core_self()->id;
	struct tcp_core *t = tc();
	struct net_if *ifc = t ? net_route_if(daddr) : NULL;
	int e = 0;
	struct tcp_conn *c = NULL;
	if (!ifc) {
		e = -ENETUNREACH;
		goto fail;
	}
	/* a local port whose flow this core owns (the device's RSS or our
	 * steering sends the answers here), free and not a listener's */
	uint16_t lp = 0;
	for (uint32_t tries = 0; tries < 28232 && !lp; tries++) {
		uint16_t cand = t->next_port;
		t->next_port = cand >= 60999 ? 32768 : (uint16_t)(cand + 1);
		if (net_flow_core(ifc, daddr, port, cand) == me && !tcp_conn_lookup(daddr, port, cand) && !tcp_listener_of(cand))
			lp = cand;
	}
	if (!lp) {
		e = -EADDRNOTAVAIL;
		goto fail;
	}
	c = tcp_conn_new(ifc, daddr, port, lp);
	if (!c) {
		NSTAT(drop_tcp_conns_full);
		e = -ENOSPC;
		goto fail;
	}
	c->ops = ops;
	c->ctx = ctx;
	c->state = TCP_SYN_SENT;
	c->iss = tcp_iss(ifc->addr, lp, daddr, port);
	c->snd_una = c->iss;
	c->snd_nxt = c->snd_max = c->iss + 1;
	c->mss = (uint16_t)(ifc->mtu - 40);
	NSTAT(tcp_connects);
	tcp_send_segment(c, TCP_SYN, c->iss, 0, 0);
	tcp_rtx_arm(c);
	return c;
fail:
	if (err)
		*err = e;
	return NULL;
}
