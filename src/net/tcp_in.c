/*
 * tcp_in.c — TCP segments in. tcp_input (from ip.c, on the flow's owner
 * core) runs a segment through one function per stage, in the order of
 * RFC 9293 3.10.7: validation and demultiplexing; CLOSED, LISTEN (with
 * SYN cookies) or SYN-SENT; then the acceptability, RST and SYN checks,
 * ACK processing (RTT samples, NewReno), the data and the FIN. In-order
 * data goes to the app straight from the packet (zero-copy), so the
 * receive window only has to cover reordering; out-of-order segments
 * wait in a bounded queue per connection.
 *
 * Every segment is counted (tcp_in, or its drop_* reason); a malformed
 * one is dropped without an answer. tcp_input consumes the buffer, or
 * keeps it on the out-of-order queue.
 */
#include <errno.h>
#include <string.h>
#include "net/tcp_priv.h"

/* ---- options */
struct tcp_opts { uint16_t mss; int ws; uint8_t wscale; int ts; uint32_t tsval, tsecr; };

static int parse_opts(const struct tcp_hdr *h, uint32_t hl, struct tcp_opts *o)
{
	memset(o, 0, sizeof *o);
	const uint8_t *p = (const uint8_t *)(h + 1), *end = (const uint8_t *)h + hl;
	while (p < end) {
		if (*p == TCPOPT_EOL)
			break;
		if (*p == TCPOPT_NOP) {
			p++;
			continue;
		}
		if (p + 2 > end || p[1] < 2 || p + p[1] > end)
			return -1;                      /* a malformed option list */
		if (p[0] == TCPOPT_MSS && p[1] == 4)
			o->mss = (uint16_t)(p[2] << 8 | p[3]);
		else if (p[0] == TCPOPT_WSCALE && p[1] == 3) {
			o->ws = 1;
			o->wscale = p[2] > 14 ? 14 : p[2];
		} else if (p[0] == TCPOPT_TS && p[1] == 10) {
			o->ts = 1;
			o->tsval = (uint32_t)p[2] << 24 | (uint32_t)p[3] << 16 | (uint32_t)p[4] << 8 | p[5];
			o->tsecr = (uint32_t)p[6] << 24 | (uint32_t)p[7] << 16 | (uint32_t)p[8] << 8 | p[9];
		}
		p += p[1];
	}
	return 0;
}

uint16_t tcp_peer_mss(uint16_t opt)
{
	if (!opt)
		return DEFAULT_MSS;
	if (opt < TCP_MIN_MSS) {
		NSTAT(tcp_mss_clamped);
		return TCP_MIN_MSS;
	}
	return opt;
}

/* ---- SYN cookies: isn = H(secret, tuple, slot)[31:8] | slot[5:0] << 2 | mss index,
 * H keyed SipHash (tcp_cookie_key) */

static const uint16_t cookie_mss[4] = { 536, 1220, 1440, 1460 };

static uint32_t cookie_hash(uint32_t a, uint16_t rp, uint16_t lp, uint32_t irs, uint32_t slot)
{
	return (uint32_t)siphash24_2u64(&tcp_cookie_key, (uint64_t)a << 32 | irs,
					(uint64_t)slot << 32 | (uint64_t)rp << 16 | lp);
}

static uint32_t cookie_make(uint32_t a, uint16_t rp, uint16_t lp, uint32_t irs, uint16_t mss)
{
	uint32_t slot = (uint32_t)(time_ns() >> 36) & 63;       /* ~69 s slots */
	uint32_t mi = 0;
	for (uint32_t i = 0; i < 4; i++)
		if (cookie_mss[i] <= mss)
			mi = i;
	return (cookie_hash(a, rp, lp, irs, slot) & 0xffffff00u) | slot << 2 | mi;
}

static int cookie_check(uint32_t a, uint16_t rp, uint16_t lp, uint32_t irs, uint32_t cookie, uint16_t *mss)
{
	uint32_t slot = (cookie >> 2) & 63, now = (uint32_t)(time_ns() >> 36) & 63;
	if (((now - slot) & 63) > 1)
		return 0;
	if ((cookie_hash(a, rp, lp, irs, slot) & 0xffffff00u) != (cookie & 0xffffff00u))
		return 0;
	*mss = cookie_mss[cookie & 3];
	return 1;
}

static void become_established(struct tcp_conn *c, struct listener *l)
{
	c->state = TCP_ESTABLISHED;
	c->cwnd = 10u * c->mss;                 /* RFC 6928 initial window */
	c->ssthresh = 0xffffffffu;
	NSTAT(tcp_accepts);
	if (l) {
		c->ops = l->ops;
		c->ctx = l->accept ? l->accept(c, l->arg) : NULL;
		if (l->accept && !c->ctx) {         /* the app refused it */
			c->app_gone = 1;                /* first: nothing may call the app now */
			tcp_send_segment(c, TCP_RST | TCP_ACK, c->snd_nxt, 0, 0);
			tcp_conn_free(c);
			return;
		}
	}
	if (tcp_keepalive_ms)
		sched_timer_arm(&c->keep, time_ns() + (uint64_t)tcp_keepalive_ms * 1000000ull, 0);
	if (!l && c->ops && c->ops->connected && !c->app_gone)
		c->ops->connected(c, c->ctx);   /* an active open */
}

/* ---- ACKs */
/* The peer's window is now w bytes (scaled); MAX.SND.WND (RFC 5961 5.2)
 * keeps the largest it ever offered. */
static void snd_wnd_set(struct tcp_conn *c, uint32_t w)
{
	c->snd_wnd = w;
	if (w > c->max_snd_wnd)
		c->max_snd_wnd = w;
}

static void rtt_sample(struct tcp_conn *c, int32_t r)
{
	if (r < 0 || r > RTO_MAX_MS)            /* a bogus echo (TSecr is the peer's word) */
		return;
	if (!c->srtt) {
		c->srtt = r ? r : 1;
		c->rttvar = r / 2;
	} else {
		int32_t d = c->srtt - r;
		c->rttvar = (3 * c->rttvar + (d < 0 ? -d : d)) / 4;
		c->srtt = (7 * c->srtt + r) / 8;
	}
	uint32_t rto = (uint32_t)(c->srtt + (4 * c->rttvar > 1 ? 4 * c->rttvar : 1));
	c->rto = rto < RTO_MIN_MS ? RTO_MIN_MS : rto > RTO_MAX_MS ? RTO_MAX_MS : rto;
}

static void ack_advance(struct tcp_conn *c, uint32_t ack, const struct tcp_opts *o)
{
	uint32_t acked = ack - c->snd_una;
	int fin_acked = c->fin_sent && ack == c->snd_max;
	uint32_t data = acked - (fin_acked ? 1 : 0);
	if (data > c->sb_len)
		data = c->sb_len;
	tcp_sq_drop(c, data);                   /* references on them dropped */
	if (!c->sb_len)
		tcp_sb_put(c);                      /* all acknowledged: back to the pool */
	c->snd_una = ack;
	if (SEQ_LT(c->snd_nxt, c->snd_una))
		c->snd_nxt = c->snd_una;
	c->retries = 0;
	c->zw_since_ns = 0;                     /* progress: the zero-window bound starts again */
	/* RTT: timestamps (RFC 7323) or one timed segment (Karn) */
	if (c->ts_ok && o->ts && o->tsecr)
		rtt_sample(c, (int32_t)(ts_now() - o->tsecr));
	else if (c->rtt_timing && SEQ_GT(ack, c->rtt_seq)) {
		rtt_sample(c, (int32_t)((time_ns() - c->rtt_start) / 1000000ull));
		c->rtt_timing = 0;
	}
	/* congestion control: NewReno */
	if (c->in_recovery) {
		if (SEQ_GEQ(ack, c->recover)) {
			c->cwnd = c->ssthresh;
			c->in_recovery = 0;
		} else {                                /* partial ack: next hole */
			uint32_t len = c->sb_len < tcp_seg_payload_max(c) ? c->sb_len : tcp_seg_payload_max(c);
			if (len)
				tcp_send_segment(c, TCP_ACK, c->snd_una, 0, len);
			c->cwnd = c->cwnd > acked ? c->cwnd - acked + c->mss : c->mss;
		}
	} else if (c->cwnd < c->ssthresh) {
		/* slow start by bytes acknowledged (RFC 3465, as Linux: no
		 * per-ACK limit, since one ACK may cover a whole TSO frame or a
		 * peer's GRO batch), not past ssthresh */
		uint32_t grow = acked, room = c->ssthresh - c->cwnd;
		c->cwnd += grow < room ? grow : room;
	} else {
		c->cwnd += (uint32_t)((uint64_t)c->mss * c->mss / c->cwnd) + 1;
	}
	c->dupacks = 0;
	sched_timer_cancel(&c->rtx);
	if (flight(c))
		tcp_rtx_arm(c);
	if (data && c->want_writable && c->ops && c->ops->writable) {
		c->want_writable = 0;
		c->ops->writable(c, c->ctx);
	}
	/* the app's room may depend on our send buffer (an echo): a peer
	 * stopped by our window must hear that it opened */
	if (data && c->ops && c->ops->recv_space)
		tcp_recv_update(c);
}

/* ---- data */
/* bytes we can take now: the reorder budget, and the app's room */
uint32_t tcp_rcv_space(struct tcp_conn *c)
{
	uint32_t w = RCV_WND - c->nooo * 1500u;
	if (c->ops && c->ops->recv_space && !c->app_gone) {
		size_t a = c->ops->recv_space(c, c->ctx);
		if (a < w)
			w = (uint32_t)a;
	}
	return w;
}

static void deliver(struct tcp_conn *c, const uint8_t *data, uint32_t len)
{
	if (len && c->ops && c->ops->recv && !c->app_gone)
		c->ops->recv(c, c->ctx, data, len);
}

/* what a queued buffer is charged: every buffer of it at its true size,
 * whatever payload it holds */
static uint32_t ooo_truesize(const struct pktbuf *b)
{
	uint32_t n = 1;
	for (const struct pktbuf *f = b->frag; f; f = f->frag)
		n++;
	return n * OOO_TRUESIZE;
}

/* b, at *p in the queue, off it (the caller frees it or puts it back) */
static void ooo_unlink(struct tcp_conn *c, struct pktbuf **p, struct pktbuf *b)
{
	uint32_t ts = ooo_truesize(b);
	*p = b->next;
	c->nooo--;
	c->ooo_mem -= ts;
	tc()->ooo_mem -= ts;
}

/* the queue's head b off it */
static void ooo_pop(struct tcp_conn *c, struct pktbuf *b)
{
	ooo_unlink(c, &c->ooo, b);
}

/* b into the queue at *p (seq order) */
static void ooo_link(struct tcp_conn *c, struct pktbuf **p, struct pktbuf *b)
{
	uint32_t ts = ooo_truesize(b);
	b->next = *p;
	*p = b;
	c->nooo++;
	c->ooo_mem += ts;
	tc()->ooo_mem += ts;
	if (!timer_armed(&c->ooo_t)) {
		c->ooo_mark = c->rcv_nxt;
		sched_timer_arm(&c->ooo_t, time_ns() + OOO_TIMEOUT_MS * 1000000ull, 0);
	}
}

void tcp_ooo_purge(struct tcp_conn *c)
{
	while (c->ooo) {
		struct pktbuf *b = c->ooo;
		ooo_pop(c, b);
		pktbuf_free(b);
	}
	sched_timer_cancel(&c->ooo_t);
}

void tcp_ooo_timeout(struct tcp_conn *c)
{
	if (!c->ooo)
		return;
	if (c->rcv_nxt != c->ooo_mark) {        /* it moves: wait on */
		c->ooo_mark = c->rcv_nxt;
		sched_timer_arm(&c->ooo_t, time_ns() + OOO_TIMEOUT_MS * 1000000ull, 0);
		return;
	}
	NSTAT(tcp_ooo_timeout);                 /* the hole never filled: the peer sends it all again */
	tcp_ooo_purge(c);
}

/* puts back, in seq order, a segment tcp_rcv_data took off the queue */
static void ooo_requeue(struct tcp_conn *c, struct pktbuf *b)
{
	struct pktbuf **p = &c->ooo;
	while (*p && SEQ_LT((*p)->rss, b->rss))
		p = &(*p)->next;
	ooo_link(c, p, b);
}

/* in-order data at rcv_nxt, then whatever the OOO queue now continues,
 * never more than the app has room for (the rest stays queued) */
void tcp_rcv_data(struct tcp_conn *c, const uint8_t *data, uint32_t len)
{
	c->rcv_nxt += len;
	deliver(c, data, len);
	while (c->ooo && !c->app_gone) {
		struct pktbuf *b = c->ooo;
		uint32_t seq = b->rss, end = seq + b->len;
		if (SEQ_GT(seq, c->rcv_nxt))
			break;
		if (SEQ_LEQ(end, c->rcv_nxt)) {         /* wholly old */
			ooo_pop(c, b);
			pktbuf_free(b);
			continue;
		}
		uint32_t skip = c->rcv_nxt - seq, avail = b->len - skip, room = tcp_rcv_space(c);
		if (room == 0)
			break;
		uint32_t take = avail < room ? avail : room;
		/* off the queue while the app looks at it: from recv it may
		 * abort (freeing the queue) or call tcp_recv_update (which
		 * runs this loop again) */
		ooo_pop(c, b);
		c->rcv_nxt += take;
		deliver(c, pktbuf_data(b) + skip, take);
		if (take < avail && !c->app_gone) {     /* keep the rest queued */
			b->off = (uint16_t)(b->off + skip + take);
			b->len = (uint16_t)(avail - take);
			b->rss = seq + skip + take;
			ooo_requeue(c, b);
			break;
		}
		pktbuf_free(b);
	}
}

/* Copies the bytes of [seq, seq + len) (data) that follow q's last
 * byte into q's spare room, when q ends at or past seq and they fit.
 * 1: done (nothing was new, or it is all in q now); 0: q is untouched. */
static int ooo_append(struct pktbuf *q, uint32_t seq, const uint8_t *data, uint32_t len)
{
	uint32_t qend = q->rss + q->len;
	if (q->frag || SEQ_LT(qend, seq))
		return 0;
	if (SEQ_GEQ(qend, seq + len))
		return 1;                               /* nothing new */
	uint32_t skip = qend - seq, n = len - skip, used = (uint32_t)q->off + q->len;
	if (used > PKTBUF_SLOT || n > PKTBUF_SLOT - used)
		return 0;
	memcpy(q->buf + q->off + q->len, data + skip, n);
	q->len = (uint16_t)(q->len + n);
	return 1;
}

/* The same in front: the bytes of [seq, seq + len) before q's first byte
 * into q's head room (the headers that were there are spent), when the
 * segment reaches q and ends within it. */
static int ooo_prepend(struct pktbuf *q, uint32_t seq, const uint8_t *data, uint32_t len)
{
	if (q->frag || SEQ_GEQ(seq, q->rss) || SEQ_LT(seq + len, q->rss) ||
	    SEQ_GT(seq + len, q->rss + q->len))
		return 0;
	uint32_t n = q->rss - seq;
	if (n > q->off)
		return 0;
	q->off = (uint16_t)(q->off - n);
	memcpy(q->buf + q->off, data, n);
	q->len = (uint16_t)(q->len + n);
	q->rss = seq;
	return 1;
}

/* A segment past rcv_nxt, or at it for want of the app's room
 * (hold_rest), (seq, len payload bytes at off in b) onto c's queue,
 * within the window we advertised and within the budgets
 * (tcp_priv.h: OOO_*), which charge each queued buffer its true size,
 * not its payload. Bytes past rcv_edge are trimmed (the acceptability
 * test let the segment's start in): the queue never holds what we did
 * not offer room for. A small segment (OOO_SMALL payload bytes at most)
 * is copied into the buffer it continues or precedes, if that has room,
 * and its own buffer freed (tcp_ooo_coalesced): a run of tiny segments
 * costs one buffer, not one each. Otherwise the segment keeps its
 * buffer: over the connection's budget it is dropped
 * (drop_tcp_ooo_full), over the core's too (drop_tcp_ooo_budget); with
 * the pool short of buffers the connection's whole queue goes with it
 * (tcp_ooo_pruned): the peer sends it again, and a core's RX rings,
 * management NIC included, must not starve for reordering. Consumes b. */
static void ooo_insert(struct tcp_conn *c, struct pktbuf *b, uint32_t seq, uint32_t off, uint32_t len)
{
	struct tcp_core *t = tc();
	const struct pktbuf_pool *pool = pktbuf_pool_of((uint16_t)core_self()->id);
	uint64_t core_max = (uint64_t)pktbuf_pool_size(pool) / OOO_CORE_DIV * OOO_TRUESIZE;
	uint64_t conn_max = (uint64_t)OOO_MAX * OOO_TRUESIZE < core_max / 2 ? (uint64_t)OOO_MAX * OOO_TRUESIZE
									  : core_max / 2;
	if (pktbuf_pool_avail(pool) < pktbuf_pool_size(pool) / OOO_PRESSURE_DIV) {
		if (c->ooo)
			NSTAT(tcp_ooo_pruned);
		NSTAT(drop_tcp_ooo_budget);
		tcp_ooo_purge(c);
		pktbuf_free(b);
		return;
	}
	uint32_t wnd_left = c->rcv_edge - seq;          /* > 0: seg_check */
	if (SEQ_GEQ(seq, c->rcv_edge)) {
		NSTAT(drop_tcp_out_of_window);
		pktbuf_free(b);
		return;
	}
	if (len > wnd_left) {
		NSTAT(drop_tcp_out_of_window);
		len = wnd_left;
	}
	b->off = (uint16_t)(b->off + off);
	b->len = (uint16_t)len;
	b->rss = seq;
	struct pktbuf **p = &c->ooo, *prev = NULL;
	while (*p && SEQ_LT((*p)->rss, seq)) {
		prev = *p;
		p = &(*p)->next;
	}
	struct pktbuf *next = *p;
	if (len <= OOO_SMALL && !b->frag) {
		const uint8_t *d = pktbuf_data(b);
		if ((prev && ooo_append(prev, seq, d, len)) || (next && ooo_prepend(next, seq, d, len))) {
			NSTAT(tcp_ooo);
			NSTAT(tcp_ooo_coalesced);
			pktbuf_free(b);
			/* prev may now reach next: one buffer for both if it fits */
			if (prev && next && !next->frag && ooo_append(prev, next->rss, pktbuf_data(next), next->len)) {
				ooo_unlink(c, &prev->next, next);
				pktbuf_free(next);
			}
			return;
		}
	}
	if ((prev && SEQ_GEQ(prev->rss + prev->len, seq + len)) ||
	    (next && next->rss == seq && next->len >= len)) {    /* a duplicate */
		pktbuf_free(b);
		return;
	}
	uint32_t ts = ooo_truesize(b);
	if (c->ooo_mem + ts > conn_max) {
		NSTAT(drop_tcp_ooo_full);
		pktbuf_free(b);
		return;
	}
	if (t->ooo_mem + ts > core_max) {
		NSTAT(drop_tcp_ooo_budget);
		pktbuf_free(b);
		return;
	}
	NSTAT(tcp_ooo);
	ooo_link(c, p, b);
}

/* ---- segments in, stage by stage (RFC 9293 3.10.7, "SEGMENT ARRIVES")
 *
 * tcp_input runs a segment through the stages below in the RFC's order;
 * a stage that has dealt with the segment (answered, dropped or kept it)
 * returns SEG_DONE and the later ones don't run. All run on the flow's
 * owner core. An app callback a stage makes (accept, recv, writable,
 * peer_closed) may close or abort the connection, which frees its slot
 * (state TCP_CLOSED): seg_data checks for that after recv, seg_answer
 * before it sends. */

/* One segment on its way through the stages. */
struct tcp_seg {
	/* set by tcp_input */
	struct net_if *ifc;
	struct pktbuf *b;               /* the segment; NULL once a stage keeps it */
	const struct ipv4_hdr *ip;      /* a copy of its IP header */
	/* set by seg_validate */
	const struct tcp_hdr *h;
	struct tcp_opts o;
	uint32_t hl;                    /* TCP header bytes, options included */
	uint32_t seq, ack;              /* host order */
	const uint8_t *data;
	uint32_t seglen;                /* payload bytes; seg_data trims it to what the app took */
	uint8_t fl;                     /* the flags; seg_data drops FIN with a trimmed payload */
	/* set by seg_ack and seg_data */
	int fin_acked;                  /* our FIN is acknowledged */
	int ack_now;                    /* an ACK goes now, not delayed */
};

/* what a stage tells tcp_input */
enum seg_next { SEG_CONTINUE, SEG_DONE };

/* Validation: the header's length against the segment, the checksum
 * (unless the device vouched for it), the flags and the options. Fills
 * in s's header fields and counts tcp_in; SEG_DONE: malformed (counted by
 * reason and dropped, with no answer). */
static enum seg_next seg_validate(struct tcp_seg *s)
{
	struct pktbuf *b = s->b;
	const struct ipv4_hdr *ip = s->ip;
	const struct tcp_hdr *h = (const void *)pktbuf_data(b);
	uint32_t tl = b->len;
	if (tl < sizeof *h) {
		NSTAT(drop_bad_tcp);
		return SEG_DONE;
	}
	uint32_t hl = (uint32_t)(h->off >> 4) * 4;
	if (hl < sizeof *h || hl > tl) {
		NSTAT(drop_bad_tcp);
		return SEG_DONE;
	}
	/* the device checked it, or (NEEDS_CSUM) it came from a local peer
	 * that left it to be filled in: either way the data is intact */
	if (!(b->flags & (PKTBUF_F_CSUM_VALID | PKTBUF_F_CSUM_NEEDED)) &&
	    net_csum(h, tl, net_pseudo_sum(ip->src, ip->dst, IP_PROTO_TCP, (uint16_t)tl)) != 0) {
		NSTAT(drop_bad_tcp_csum);
		return SEG_DONE;
	}
	uint8_t fl = h->flags;
	if (((fl & TCP_SYN) && (fl & TCP_FIN)) || ((fl & TCP_SYN) && (fl & TCP_RST)) || fl == 0) {
		NSTAT(drop_bad_tcp);                    /* nonsense flags */
		return SEG_DONE;
	}
	if (parse_opts(h, hl, &s->o)) {
		NSTAT(drop_bad_tcp);
		return SEG_DONE;
	}
	NSTAT(tcp_in);
	s->h = h;
	s->hl = hl;
	s->seq = ntohl(h->seq);
	s->ack = ntohl(h->ack);
	s->data = (const uint8_t *)h + hl;
	s->seglen = tl - hl;
	s->fl = fl;
	return SEG_CONTINUE;
}

/* Demultiplexing: the connection of s's 4-tuple, its last_rx_ns noted
 * (keepalive, FIN_WAIT_2's bound); NULL when there is none, with *l the
 * listener on the destination port (NULL: none either). */
static struct tcp_conn *seg_demux(const struct tcp_seg *s, struct listener **l)
{
	uint16_t rp = ntohs(s->h->sport), lp = ntohs(s->h->dport);
	struct tcp_conn *c = tcp_conn_lookup(s->ip->src, rp, lp);
	if (!c) {
		*l = tcp_listener_of(lp);
		return NULL;
	}
	c->last_rx_ns = time_ns();
	return c;
}

/* CLOSED (3.10.7.1): no connection and no listener. Counted; anything but
 * a RST is answered with one. */
static void seg_closed(const struct tcp_seg *s)
{
	uint8_t fl = s->fl;
	NSTAT(drop_tcp_no_conn);
	if (!(fl & TCP_RST))
		tcp_send_reset(s->ifc, s->ip->src, s->h,
			       s->seglen + ((fl & TCP_SYN) ? 1 : 0) + ((fl & TCP_FIN) ? 1 : 0));
}

/* LISTEN (3.10.7.2), for listener l: a SYN takes a slot in SYN_RCVD and
 * is answered with SYN-ACK, or with a SYN cookie when the half-open
 * budget (half the slots) or the slots run out; an ACK that returns a
 * valid cookie makes the connection (established at once, the app asked
 * to accept it, its data delivered); any other ACK is answered with RST,
 * a RST is ignored. A valid cookie that finds every slot taken (none in
 * TIME_WAIT either) is refused with a RST. Counted: tcp_syncookies,
 * drop_tcp_conns_full and tcp_rst_conns_full. */
static void seg_listen(const struct tcp_seg *s, struct listener *l)
{
	struct net_if *ifc = s->ifc;
	const struct ipv4_hdr *ip = s->ip;
	const struct tcp_hdr *h = s->h;
	const struct tcp_opts *o = &s->o;
	uint32_t seglen = s->seglen;
	uint16_t rp = ntohs(h->sport), lp = ntohs(h->dport);
	uint32_t seq = ntohl(h->seq);
	struct tcp_core *t = tc();
	if (h->flags & TCP_RST)
		return;
	if (h->flags & TCP_ACK) {
		/* maybe the third step of a cookie handshake */
		uint16_t mss;
		if (!(h->flags & TCP_SYN) && cookie_check(ip->src, rp, lp, seq - 1, ntohl(h->ack) - 1, &mss)) {
			struct tcp_conn *c = tcp_conn_new(ifc, ip->src, rp, lp);
			if (!c) {
				/* refused, and told so: dropped silently, the
				 * peer (established on its side) would wait
				 * for an answer that never comes */
				NSTAT(drop_tcp_conns_full);
				NSTAT(tcp_rst_conns_full);
				tcp_send_reset(ifc, ip->src, h, seglen);
				return;
			}
			NSTAT(tcp_syncookies);
			c->irs = seq - 1;
			c->rcv_nxt = seq;
			c->iss = ntohl(h->ack) - 1;
			c->snd_una = c->snd_nxt = c->snd_max = ntohl(h->ack);
			c->mss = mss < (uint16_t)(ifc->mtu - 40) ? mss : (uint16_t)(ifc->mtu - 40);
			snd_wnd_set(c, ntohs(h->win));
			c->snd_wl1 = seq;
			c->snd_wl2 = c->snd_una;
			c->rcv_adv = c->rcv_edge = c->rcv_nxt + SYN_WND;    /* the cookie's SYN-ACK's */
			become_established(c, l);
			if (c->state == TCP_ESTABLISHED) {
				uint32_t hl = (uint32_t)(h->off >> 4) * 4;
				if (seglen)
					tcp_rcv_data(c, (const uint8_t *)h + hl, seglen);
				tcp_output(c, seglen != 0);
			}
			return;
		}
		tcp_send_reset(ifc, ip->src, h, seglen);
		return;
	}
	if (!(h->flags & TCP_SYN))
		return;
	uint16_t peer_mss = tcp_peer_mss(o->mss);
	struct tcp_conn *c = NULL;
	if (t->half_open < t->max / 2)
		c = tcp_conn_new(ifc, ip->src, rp, lp);
	if (!c) {                                   /* backlog full: a cookie */
		struct tcp_conn tmp;
		memset(&tmp, 0, sizeof tmp);
		tmp.ifc = ifc;
		tmp.raddr = ip->src;
		tmp.rport = rp;
		tmp.lport = lp;
		tmp.rcv_nxt = seq + 1;
		tmp.state = TCP_SYN_RCVD;
		uint32_t isn = cookie_make(ip->src, rp, lp, seq, peer_mss);
		NSTAT(tcp_syncookies);
		tcp_send_segment(&tmp, TCP_SYN | TCP_ACK, isn, 0, 0);
		return;
	}
	t->half_open++;
	c->state = TCP_SYN_RCVD;
	c->irs = seq;
	c->rcv_nxt = seq + 1;
	c->iss = tcp_iss(ifc->addr, lp, ip->src, rp);
	c->snd_una = c->iss;
	c->snd_nxt = c->snd_max = c->iss + 1;
	c->mss = peer_mss < (uint16_t)(ifc->mtu - 40) ? peer_mss : (uint16_t)(ifc->mtu - 40);
	c->ws_ok = o->ws;
	c->snd_wscale = o->ws ? o->wscale : 0;
	c->rcv_wscale = o->ws ? RCV_WSCALE : 0;
	c->ts_ok = o->ts;
	c->ts_recent = o->tsval;
	snd_wnd_set(c, ntohs(h->win));              /* never scaled in a SYN */
	c->snd_wl1 = seq;
	/* no ops until accept (become_established): the app has no ctx for
	 * a half-open connection, so it must hear nothing of it */
	tcp_send_segment(c, TCP_SYN | TCP_ACK, c->iss, 0, 0);
	tcp_rtx_arm(c);
}


/* SYN-SENT (3.10.7.3), after our SYN: an ACK must be for it (else RST,
 * unless the segment is one); a RST with it refuses the connection
 * (`gone`, ECONNREFUSED); a SYN with the ACK establishes it (the app hears
 * `connected`) and is acknowledged, a SYN without one is a simultaneous
 * open (SYN_RCVD, our SYN-ACK). The segment ends here. */
static void seg_syn_sent(struct tcp_conn *c, const struct tcp_seg *s)
{
	const struct tcp_hdr *h = s->h;
	const struct tcp_opts *o = &s->o;
	uint32_t seq = s->seq, ack = s->ack;
	uint8_t fl = s->fl;
	if ((fl & TCP_ACK) && (SEQ_LEQ(ack, c->iss) || SEQ_GT(ack, c->snd_max))) {
		if (!(fl & TCP_RST))
			tcp_send_reset(s->ifc, s->ip->src, h, s->seglen);
		return;
	}
	if (fl & TCP_RST) {
		if (fl & TCP_ACK)
			tcp_conn_gone(c, ECONNREFUSED);
		return;
	}
	if (!(fl & TCP_SYN))
		return;
	c->irs = seq;
	c->rcv_nxt = seq + 1;
	c->ws_ok = o->ws;
	c->snd_wscale = o->ws ? o->wscale : 0;
	c->rcv_wscale = o->ws ? RCV_WSCALE : 0;
	c->ts_ok = o->ts;
	c->ts_recent = o->tsval;
	uint16_t peer_mss = tcp_peer_mss(o->mss);      /* none: 536 (RFC 9293 3.7.1), as Linux */
	if (peer_mss < c->mss)
		c->mss = peer_mss;
	snd_wnd_set(c, ntohs(h->win));
	c->snd_wl1 = seq;
	c->snd_wl2 = ack;
	c->rcv_adv = c->rcv_edge = c->rcv_nxt + SYN_WND;    /* what our SYN offered */
	if (fl & TCP_ACK) {
		c->snd_una = ack;
		sched_timer_cancel(&c->rtx);
		become_established(c, NULL);
		tcp_output(c, 1);
	} else {                                /* simultaneous open */
		c->state = TCP_SYN_RCVD;
		tc()->half_open++;
		tcp_send_segment(c, TCP_SYN | TCP_ACK, c->iss, 0, 0);
	}
}

/* The other states (3.10.7.4), first to fourth check. A SYN (but a
 * retransmitted one in SYN_RCVD, answered with our SYN-ACK again) gets a
 * challenge ACK whatever its sequence number (RFC 5961 4.2). Then the
 * acceptability test against RCV.NXT .. the furthest right edge we
 * advertised (tcp_rcv_wnd): a segment outside it is dropped
 * (drop_tcp_out_of_window; not a keepalive or zero-window probe, one
 * below rcv_nxt with no data) and answered with an ACK, but a RST
 * silently (RFC 5961 3.2). With the window shut, a segment with data at
 * rcv_nxt is taken for its ACK and its data dropped (RFC 9293's "special
 * allowance": else an ACK riding on a probe would be lost, and a peer
 * whose ACK frees our send buffer, and so the app's room, would deadlock
 * with us). A RST in the window closes the connection (`gone`:
 * ECONNRESET, or ECONNREFUSED in SYN_RCVD) when it is exactly at rcv_nxt
 * (in SYN_RCVD anywhere in the window, as Linux), else a challenge ACK
 * answers it (RFC 5961 3.2); a segment without ACK is dropped. What
 * passes updates the timestamp to echo (RFC 7323) and goes on. */
static enum seg_next seg_check(struct tcp_conn *c, const struct tcp_seg *s)
{
	uint32_t seq = s->seq, seglen = s->seglen;
	uint8_t fl = s->fl;
	if (fl & TCP_SYN) {
		if (c->state == TCP_SYN_RCVD && seq == c->irs)    /* a retransmitted SYN */
			tcp_send_segment(c, TCP_SYN | TCP_ACK, c->iss, 0, 0);
		else
			tcp_challenge_ack(c);
		return SEG_DONE;
	}
	/* sequence acceptability (RFC 9293 3.10.7.4). A segment without data
	 * may sit at the right edge (as Linux: the peer's pure ACK after it
	 * filled the window). */
	uint32_t wnd = tcp_rcv_wnd(c), nxt = c->rcv_nxt;
	int ok;
	if (seglen == 0)
		ok = SEQ_GEQ(seq, nxt) && SEQ_LEQ(seq, nxt + wnd);
	else
		ok = wnd && ((SEQ_GEQ(seq, nxt) && SEQ_LT(seq, nxt + wnd)) ||
			     (SEQ_GEQ(seq + seglen - 1, nxt) && SEQ_LT(seq + seglen - 1, nxt + wnd)));
	if (!ok && wnd == 0 && seglen && seq == nxt)
		ok = 1;                                 /* the data goes: seg_data */
	/* A keepalive or zero-window probe (Linux sends both one byte before
	 * rcv_nxt, no data) is unacceptable: the ACK below answers it, and that
	 * ACK carries our window. Taking it as acceptable left a peer probing
	 * our closed window unanswered, and stuck, when the window update that
	 * reopened it was lost. */
	if (!ok) {
		if (!(fl & TCP_RST)) {
			if (seglen || seq != nxt - 1)
				NSTAT(drop_tcp_out_of_window);
			if (!seglen) {
				/* no data: at most one ACK per OOW_ACK_MS (| 1: never 0) */
				uint32_t t = ts_now() | 1;
				if (c->oow_ack_ms && t - c->oow_ack_ms < OOW_ACK_MS) {
					NSTAT(tcp_oow_ack_limited);
					return SEG_DONE;
				}
				c->oow_ack_ms = t;
			}
			tcp_send_segment(c, TCP_ACK, c->snd_nxt, 0, 0);
		}
		return SEG_DONE;
	}
	if (fl & TCP_RST) {
		if (seq == nxt || c->state == TCP_SYN_RCVD)
			tcp_conn_gone(c, c->state == TCP_SYN_RCVD ? ECONNREFUSED : ECONNRESET);
		else
			tcp_challenge_ack(c);
		return SEG_DONE;
	}
	if (!(fl & TCP_ACK))
		return SEG_DONE;
	if (c->ts_ok && s->o.ts && SEQ_LEQ(seq, nxt))
		c->ts_recent = s->o.tsval;
	return SEG_CONTINUE;
}

/* The fifth check, ACK (3.10.7.4): in SYN_RCVD an ACK of our SYN
 * establishes the connection (the app is asked to accept it; a bad ACK
 * gets a RST); then an ACK past what we sent is answered and dropped, a
 * new one advances snd_una (ack_advance: RTT, congestion window, the
 * app's writable), a third duplicate starts fast retransmit (NewReno); the
 * send window is updated; our FIN acknowledged moves FIN_WAIT_1 to
 * FIN_WAIT_2, CLOSING to TIME_WAIT, and ends LAST_ACK (`gone`). Sets
 * s->fin_acked. SEG_DONE: nothing more to do with the segment (TIME_WAIT
 * only acknowledges a FIN again). */
static enum seg_next seg_ack(struct tcp_conn *c, struct tcp_seg *s)
{
	const struct tcp_hdr *h = s->h;
	uint32_t seq = s->seq, ack = s->ack, seglen = s->seglen;
	uint8_t fl = s->fl;
	if (c->state == TCP_SYN_RCVD) {
		if (SEQ_LEQ(ack, c->snd_una) || SEQ_GT(ack, c->snd_max)) {
			tcp_send_reset(s->ifc, s->ip->src, h, seglen);
			return SEG_DONE;
		}
		tc()->half_open--;
		c->snd_una = ack;
		snd_wnd_set(c, (uint32_t)ntohs(h->win) << c->snd_wscale);
		c->snd_wl1 = seq;
		c->snd_wl2 = ack;
		sched_timer_cancel(&c->rtx);
		c->retries = 0;
		become_established(c, tcp_listener_of(c->lport));
		if (c->state != TCP_ESTABLISHED)
			return SEG_DONE;                /* the app refused it */
	}

	/* ACK processing: acceptable is SND.UNA - MAX.SND.WND <= SEG.ACK <=
	 * SND.NXT (RFC 5961 5.2; our SND.NXT is snd_max, the most we ever
	 * sent). Outside it the segment is dropped (drop_tcp_bad_ack) and a
	 * challenge ACK answers: a blind injector must guess the ACK field
	 * too, within a window of 2^32 / MAX.SND.WND guesses, not half the
	 * sequence space. */
	if (SEQ_GT(ack, c->snd_max) || SEQ_LT(ack, c->snd_una - c->max_snd_wnd)) {
		NSTAT(drop_tcp_bad_ack);
		tcp_challenge_ack(c);
		return SEG_DONE;
	}
	uint32_t win = (uint32_t)ntohs(h->win) << c->snd_wscale;
	if (SEQ_GT(ack, c->snd_una)) {
		ack_advance(c, ack, &s->o);
		/* its writable and tcp_recv_update (which gives the app data
		 * held for want of room) may let the app close or abort it */
		if (c->state == TCP_CLOSED)
			return SEG_DONE;
	} else if (ack == c->snd_una && seglen == 0 && win == c->snd_wnd && flight(c) &&
		   !(fl & TCP_FIN)) {
		/* a duplicate ACK */
		if (++c->dupacks == 3 && !c->in_recovery) {
			uint32_t fl2 = flight(c);
			c->ssthresh = fl2 / 2 > 2u * c->mss ? fl2 / 2 : 2u * c->mss;
			c->cwnd = c->ssthresh + 3u * c->mss;
			c->recover = c->snd_max;
			c->in_recovery = 1;
			uint32_t len = c->sb_len < tcp_seg_payload_max(c) ? c->sb_len : tcp_seg_payload_max(c);
			NSTAT(tcp_retrans);
			if (len)
				tcp_send_segment(c, TCP_ACK, c->snd_una, 0, len);
			c->rtt_timing = 0;
		} else if (c->in_recovery) {
			c->cwnd += c->mss;
		}
	}
	if (SEQ_LT(c->snd_wl1, seq) || (c->snd_wl1 == seq && SEQ_LEQ(c->snd_wl2, ack))) {
		snd_wnd_set(c, win);
		c->snd_wl1 = seq;
		c->snd_wl2 = ack;
	}
	if (c->snd_wnd == 0)
		c->retries = 0;                 /* it answers the probes: keep probing,
						 * within ZERO_WND_MAX_MS (on_rtx) */
	else
		c->zw_since_ns = 0;
	int fin_acked = c->fin_sent && c->snd_una == c->snd_max;
	s->fin_acked = fin_acked;
	switch (c->state) {
	case TCP_FIN_WAIT_1:
		if (fin_acked) {
			/* bounded: a peer that never closes its side loses the
			 * connection after FIN_WAIT2_MS without a segment */
			c->state = TCP_FIN_WAIT_2;
			sched_timer_arm(&c->tw, time_ns() + FIN_WAIT2_MS * 1000000ull, 0);
		}
		break;
	case TCP_CLOSING:
		if (fin_acked) {
			tcp_timewait_enter(c);
			return SEG_DONE;
		}
		break;
	case TCP_LAST_ACK:
		if (fin_acked) {
			tcp_conn_gone(c, 0);
			return SEG_DONE;
		}
		break;
	case TCP_TIME_WAIT:
		if (fl & TCP_FIN)
			tcp_send_segment(c, TCP_ACK, c->snd_nxt, 0, 0);
		return SEG_DONE;
	default:
		break;
	}
	return SEG_CONTINUE;
}

/* What of segment s, from rcv_nxt on, seg_data may deliver now: the
 * app's room, and never past the window we advertised (the rest is
 * trimmed, RFC 9293 3.10.7.4, and counted: drop_tcp_out_of_window) */
static uint32_t rcv_room(struct tcp_conn *c, const struct tcp_seg *s)
{
	uint32_t room = tcp_rcv_space(c), wnd = tcp_rcv_wnd(c);
	if (SEQ_GT(s->seq + s->seglen, c->rcv_nxt + wnd))
		NSTAT(drop_tcp_out_of_window);
	return room < wnd ? room : wnd;
}

/* The bytes of segment s from off on (len of them), which the app had no
 * room for, onto the out-of-order queue as far as they lie within the
 * window we advertised (ooo_insert's budgets apply): they are ours to
 * take (RFC 9293 3.10.7.4 trims only what lies past the window), and
 * tcp_recv_update gives them to the app and acknowledges them when it
 * has room. Dropping them instead left the peer to send them again from
 * its retransmission timer, a window update notwithstanding. Consumes
 * s->b. */
static void hold_rest(struct tcp_conn *c, struct tcp_seg *s, uint32_t off, uint32_t len)
{
	uint32_t seq = s->seq + off;
	if (!s->b || !len || c->app_gone || SEQ_GEQ(seq, c->rcv_edge))
		return;                         /* past the window: rcv_room counted it */
	if (SEQ_GT(seq + len, c->rcv_edge))
		len = c->rcv_edge - seq;
	ooo_insert(c, s->b, seq, s->hl + off, len);
	s->b = NULL;
}

/* The seventh step, segment text (3.10.7.4), in ESTABLISHED, FIN_WAIT_1
 * and FIN_WAIT_2: data at rcv_nxt goes to the app, as much as it has room
 * for (the rest waits on the out-of-order queue, unacknowledged, as far
 * as our window covered it: hold_rest; a FIN behind it is left for the
 * peer to send again); data partly old gives its new part the same way;
 * data beyond rcv_nxt waits on the out-of-order queue (which keeps the
 * buffer: s->b becomes NULL).
 * Sets s->ack_now where the ACK must not wait (RFC 5681 4.2: every
 * second segment, data while out-of-order data waits, old or
 * out-of-order data, an app without room). SEG_DONE: the app closed or
 * aborted the connection from recv. */
static enum seg_next seg_data(struct tcp_conn *c, struct tcp_seg *s)
{
	uint32_t seq = s->seq;
	s->ack_now = 0;
	if (s->seglen && (c->state == TCP_ESTABLISHED || c->state == TCP_FIN_WAIT_1 || c->state == TCP_FIN_WAIT_2)) {
		if (seq == c->rcv_nxt) {
			uint32_t room = rcv_room(c, s), had_ooo = c->nooo, all = s->seglen;
			if (s->seglen > room) {         /* the app is full: hold back the rest */
				s->seglen = room;
				s->fl &= (uint8_t)~TCP_FIN;
				s->ack_now = 1;
			}
			tcp_rcv_data(c, s->data, s->seglen);
			if (c->state == TCP_CLOSED)
				return SEG_DONE;
			hold_rest(c, s, s->seglen, all - s->seglen);
			c->acks_owed++;
			s->ack_now = s->ack_now || c->acks_owed >= 2 || had_ooo;   /* RFC 5681 4.2 */
		} else if (SEQ_LT(seq, c->rcv_nxt)) {   /* partly old: take the new part */
			uint32_t skip = c->rcv_nxt - seq;
			if (skip < s->seglen) {         /* as much as the app has room for */
				uint32_t n = s->seglen - skip, room = rcv_room(c, s), all = n;
				if (n > room) {
					n = room;
					s->fl &= (uint8_t)~TCP_FIN;
				}
				tcp_rcv_data(c, s->data + skip, n);
				if (c->state == TCP_CLOSED)
					return SEG_DONE;
				hold_rest(c, s, skip + n, all - n);
			}
			s->ack_now = 1;
		} else {
			ooo_insert(c, s->b, seq, s->hl, s->seglen);
			s->b = NULL;
			s->ack_now = 1;                 /* a dup ACK tells the peer */
		}
	}
	return SEG_CONTINUE;
}

/* The eighth step, FIN (3.10.7.4): a FIN right at rcv_nxt (all data
 * before it taken) is acknowledged now and moves ESTABLISHED to
 * CLOSE_WAIT, FIN_WAIT_1 to CLOSING (or to TIME_WAIT when our FIN is
 * acknowledged too), FIN_WAIT_2 to TIME_WAIT; the app hears peer_closed.
 * SEG_DONE: the connection is in TIME_WAIT (the ACK went already). */
static enum seg_next seg_fin(struct tcp_conn *c, struct tcp_seg *s)
{
	uint32_t seq = s->seq, seglen = s->seglen;
	if ((s->fl & TCP_FIN) && SEQ_LEQ(seq + seglen, c->rcv_nxt) && seq + seglen == c->rcv_nxt) {
		c->rcv_nxt++;
		s->ack_now = 1;
		switch (c->state) {
		case TCP_ESTABLISHED:
			c->state = TCP_CLOSE_WAIT;
			break;
		case TCP_FIN_WAIT_1:
			c->state = s->fin_acked ? TCP_TIME_WAIT : TCP_CLOSING;
			break;
		case TCP_FIN_WAIT_2:
			c->state = TCP_TIME_WAIT;
			break;
		default:
			break;
		}
		if (c->ops && c->ops->peer_closed && !c->app_gone)
			c->ops->peer_closed(c, c->ctx);
		if (c->state == TCP_TIME_WAIT) {
			tcp_send_segment(c, TCP_ACK, c->snd_nxt, 0, 0);
			tcp_timewait_enter(c);
			return SEG_DONE;
		}
	}
	return SEG_CONTINUE;
}

/* The answer, unless the connection is gone meanwhile (the app closed or
 * aborted it from a callback): what the windows now let out, with an ACK
 * if s->ack_now and nothing else carries one; an ACK owed otherwise
 * waits for the delayed-ACK timer (DELACK_MS). */
static void seg_answer(struct tcp_conn *c, const struct tcp_seg *s)
{
	if (c->state == TCP_CLOSED)
		return;
	tcp_output(c, s->ack_now);
	if (c->acks_owed && !timer_armed(&c->delack))
		sched_timer_arm(&c->delack, time_ns() + DELACK_MS * 1000000ull, 0);
}

/* A segment for us, on the flow's owner core, TCP header at
 * pktbuf_data(b) with b->len bytes; ip is a copy of its IP header.
 * Consumes b (or keeps it on a connection's out-of-order queue). */
void tcp_input(struct net_if *ifc, struct pktbuf *b, const struct ipv4_hdr *ip)
{
	struct tcp_seg s = { .ifc = ifc, .b = b, .ip = ip };
	struct listener *l = NULL;
	struct tcp_conn *c;
	if (seg_validate(&s) == SEG_DONE)
		goto done;
	c = seg_demux(&s, &l);
	if (!c) {
		if (l)
			seg_listen(&s, l);
		else
			seg_closed(&s);
		goto done;
	}
	if (c->state == TCP_SYN_SENT) {
		seg_syn_sent(c, &s);
		goto done;
	}
	if (seg_check(c, &s) == SEG_DONE || seg_ack(c, &s) == SEG_DONE ||
	    seg_data(c, &s) == SEG_DONE || seg_fin(c, &s) == SEG_DONE)
		goto done;
	seg_answer(c, &s);
done:
	if (s.b)
		pktbuf_free(s.b);
}
