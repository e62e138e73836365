/*
 * tcp_timer.c — TCP's timers, on the owner core's wheel: retransmission
 * (RFC 6298 backoff; it doubles as the persist timer that probes a shut
 * window), the delayed ACK, TIME_WAIT and FIN_WAIT_2's bound, keepalive.
 * A connection has its four timers from tcp_conn_new on, stopped by
 * tcp_conn_free. A callback may free its connection (tcp_conn_gone) and
 * then touches it no more.
 */
#include <errno.h>
#include "net/tcp_priv.h"

void tcp_rtx_arm(struct tcp_conn *c)
{
	if (!timer_armed(&c->rtx))
		sched_timer_arm(&c->rtx, time_ns() + (uint64_t)c->rto * 1000000ull, 0);
}

static void on_rtx(struct timer *t, void *arg)
{
	struct tcp_conn *c = arg;
	if (c->state >= TCP_ESTABLISHED && !flight(c) && c->snd_wnd &&
	    (c->sb_len > c->snd_nxt - c->snd_una || (c->fin_queued && !c->fin_sent))) {
		tcp_output(c, 0);               /* held back by a full TX batch: no loss */
		return;
	}
	if (c->state == TCP_SYN_RCVD || c->state == TCP_SYN_SENT || flight(c) ||
	    (c->snd_wnd == 0 && c->sb_len)) {
		uint32_t limit = c->state == TCP_SYN_SENT ? SYN_RETRIES :
				 c->state == TCP_SYN_RCVD ? SYNACK_RETRIES : MAX_RETRIES;
		if (++c->retries > limit) {
			NSTAT(tcp_timeouts);
			if (c->state != TCP_SYN_SENT)
				tcp_send_segment(c, TCP_RST | TCP_ACK, c->snd_nxt, 0, 0);
			tcp_conn_gone(c, ETIMEDOUT);
			return;
		}
		/* A shut window is bounded in time, not retries: a peer
		 * that answers every probe or retransmission with window 0
		 * resets the retries (seg_ack), and would pin the send
		 * buffer for ever */
		if (c->state >= TCP_ESTABLISHED && c->snd_wnd == 0 && c->sb_len) {
			uint64_t now = time_ns();
			uint64_t zw_limit = (c->fin_queued ? ZERO_WND_ORPHAN_MS : ZERO_WND_MAX_MS) * 1000000ull;
			if (!c->zw_since_ns) {
				c->zw_since_ns = now;
			} else if (now - c->zw_since_ns >= zw_limit) {
				NSTAT(tcp_timeouts);
				NSTAT(tcp_zero_window_timeouts);
				tcp_send_segment(c, TCP_RST | TCP_ACK, c->snd_nxt, 0, 0);
				tcp_conn_gone(c, ETIMEDOUT);
				return;
			}
		}
		NSTAT(tcp_retrans);
		c->rto = c->rto * 2 > RTO_MAX_MS ? RTO_MAX_MS : c->rto * 2;
		c->rtt_timing = 0;
		if (c->state == TCP_SYN_RCVD || c->state == TCP_SYN_SENT) {
			tcp_send_segment(c, TCP_SYN | (c->state == TCP_SYN_RCVD ? TCP_ACK : 0), c->iss, 0, 0);
		} else if (flight(c) == 0) {
			/* zero-window probe: one byte past the window; a peer
			 * with room acks it, so it counts as sent */
			if (tcp_send_segment(c, TCP_ACK, c->snd_nxt, 0, 1) == 0 && SEQ_GT(c->snd_nxt + 1, c->snd_max))
				c->snd_max = c->snd_nxt + 1;
		} else {
			uint32_t fl = flight(c);
			c->ssthresh = fl / 2 > 2u * c->mss ? fl / 2 : 2u * c->mss;
			c->cwnd = c->mss;
			c->in_recovery = 0;
			c->dupacks = 0;
			c->snd_nxt = c->snd_una;        /* go back */
			if (c->fin_sent && c->sb_len == 0) {
				c->fin_sent = 0;        /* the FIN goes again */
				c->snd_nxt = c->snd_una;
			} else if (c->fin_sent) {
				c->fin_sent = 0;
			}
			tcp_output(c, 0);
		}
		sched_timer_arm(t, time_ns() + (uint64_t)c->rto * 1000000ull, 0);
	}
}

static void on_delack(struct timer *t, void *arg)
{
	struct tcp_conn *c = arg;
	if (c->acks_owed)
		tcp_send_segment(c, TCP_ACK, c->snd_nxt, 0, 0);
}

static void on_timewait(struct timer *t, void *arg)
{
	struct tcp_conn *c = arg;
	if (c->state == TCP_FIN_WAIT_2) {
		uint64_t quiet_until = c->last_rx_ns + FIN_WAIT2_MS * 1000000ull;
		if (quiet_until > time_ns()) {          /* it still talks: wait on */
			sched_timer_arm(t, quiet_until, 0);
			return;
		}
		NSTAT(tcp_timeouts);
		tcp_send_segment(c, TCP_RST | TCP_ACK, c->snd_nxt, 0, 0);
		tcp_conn_gone(c, ETIMEDOUT);
		return;
	}
	tcp_conn_gone(c, 0);
}

static void on_keepalive(struct timer *t, void *arg)
{
	struct tcp_conn *c = arg;
	if (c->state != TCP_ESTABLISHED || !tcp_keepalive_ms)
		return;
	uint64_t idle = (time_ns() - c->last_rx_ns) / 1000000ull;
	if (idle < tcp_keepalive_ms) {
		c->keep_probes = 0;
		sched_timer_arm(t, c->last_rx_ns + (uint64_t)tcp_keepalive_ms * 1000000ull, 0);
		return;
	}
	if (++c->keep_probes > KEEPALIVE_PROBES) {
		NSTAT(tcp_timeouts);
		tcp_send_segment(c, TCP_RST | TCP_ACK, c->snd_nxt, 0, 0);
		tcp_conn_gone(c, ETIMEDOUT);
		return;
	}
	NSTAT(tcp_keepalive_probes);
	tcp_send_segment(c, TCP_ACK, c->snd_una - 1, 0, 0);     /* probe: an old seq */
	sched_timer_arm(t, time_ns() + 75000000000ull / 10, 0);
}

static void on_ooo(struct timer *t, void *arg)
{
	tcp_ooo_timeout(arg);
}

void tcp_timers_init(struct tcp_conn *c)
{
	timer_init(&c->ooo_t, on_ooo, c);
	timer_init(&c->rtx, on_rtx, c);
	timer_init(&c->delack, on_delack, c);
	timer_init(&c->tw, on_timewait, c);
	timer_init(&c->keep, on_keepalive, c);
}

void tcp_timewait_enter(struct tcp_conn *c)
{
	c->state = TCP_TIME_WAIT;
	sched_timer_cancel(&c->rtx);
	sched_timer_cancel(&c->keep);
	sched_timer_cancel(&c->tw);             /* FIN_WAIT_2's bound */
	sched_timer_arm(&c->tw, time_ns() + TIMEWAIT_MS * 1000000ull, 0);
	tcp_tw_add(c);
	if (!c->app_gone && c->ops && c->ops->gone) {
		c->app_gone = 1;
		c->ops->gone(c, c->ctx, 0);
	}
}
