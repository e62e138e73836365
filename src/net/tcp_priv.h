/*
 * tcp_priv.h — what the files of TCP share, and nothing else: the
 * connection (struct tcp_conn) and a core's table of them (struct
 * tcp_core), the tunables, sequence arithmetic, the waiting lists, and
 * the functions one file calls in another. Included by tcp.c, tcp_in.c,
 * tcp_out.c and tcp_timer.c only; everything not declared here is static
 * to its file.
 *
 * Every function here runs on the connection's owner core (the core
 * whose struct tcp_core holds it) unless its comment says otherwise.
 */
#ifndef POLLUX_NET_TCP_PRIV_H
#define POLLUX_NET_TCP_PRIV_H
#include "core/siphash.h"
#include "net/net_priv.h"
#include "sched/sched.h"

#define SEQ_LT(a, b)  ((int32_t)((a) - (b)) < 0)
#define SEQ_LEQ(a, b) ((int32_t)((a) - (b)) <= 0)
#define SEQ_GT(a, b)  ((int32_t)((a) - (b)) > 0)
#define SEQ_GEQ(a, b) ((int32_t)((a) - (b)) >= 0)

#define RCV_WND (256u * 1024)
#define RCV_WSCALE 3
/* the window a SYN or SYN-ACK offers: unscaled (RFC 7323 2.2) */
#define SYN_WND (RCV_WND > 65535 ? 65535u : RCV_WND)
#define DEFAULT_MSS 536
#define TCP_MIN_MSS 88                  /* Linux's: a smaller MSS option is raised to it */
#define RTO_MIN_MS 200
#define RTO_MAX_MS 60000
#define RTO_INIT_MS 1000
#define MAX_RETRIES 12
#define SYN_RETRIES 6                   /* Linux's tcp_syn_retries: ~127 s */
#define SYNACK_RETRIES 5                /* tcp_synack_retries: a half-open slot lasts ~63 s */
#define DELACK_MS 40
#define TIMEWAIT_MS 2000
#define FIN_WAIT2_MS 60000              /* Linux's tcp_fin_timeout */
#define OOO_MAX 64                      /* out-of-order buffers per connection */
/* Out-of-order memory is charged at its buffers' true size
 * (OOO_TRUESIZE bytes each, however few payload bytes they hold), never
 * at the payload: per core at most 1/OOO_CORE_DIV of its pool, per
 * connection at most OOO_MAX buffers' worth and half the core's budget.
 * A segment of at most OOO_SMALL payload bytes is copied into the spare
 * room of the queued buffer it continues (or the head room of the one it
 * precedes) and its own buffer freed, so a run of tiny segments shares
 * one buffer. A queue that has not let rcv_nxt move for OOO_TIMEOUT_MS
 * is dropped, and so is the queue of a connection that finds the pool
 * under 1/OOO_PRESSURE_DIV free. */
#define OOO_TRUESIZE PKTBUF_BYTES
#define OOO_SMALL (PKTBUF_DATA / 4)
#define OOO_CORE_DIV 8
#define OOO_PRESSURE_DIV 32
#define OOO_TIMEOUT_MS 10000
#define KEEPALIVE_PROBES 5
/* A peer whose window stays shut while we have data for it is probed
 * for at most ZERO_WND_MAX_MS (ZERO_WND_ORPHAN_MS once the app closed the
 * connection), then reset: it pins a send buffer all that time. Window-0
 * answers to the probes don't extend it; data it acknowledges does. */
#define ZERO_WND_MAX_MS (20u * 60 * 1000)
#define ZERO_WND_ORPHAN_MS (2u * 60 * 1000)
/* RFC 5961 challenge ACKs (for an in-window RST not at rcv_nxt, a SYN
 * in a synchronized state, an ACK outside SND.UNA - MAX.SND.WND ..
 * SND.NXT) are limited per core to about CHALLENGE_ACK_LIMIT a second:
 * each second's allowance is drawn at random from [limit/2, 3*limit/2)
 * (Linux's answer to CVE-2016-5696, where a fixed global count let an
 * off-path host count the challenge ACKs a victim connection took and so
 * learn its sequence numbers). */
#define CHALLENGE_ACK_LIMIT 1000
/* The ACK answering an out-of-window segment without data (RFC 9293
 * 3.10.7.4) is sent at most once per OOW_ACK_MS per connection (Linux's
 * tcp_invalid_ratelimit): two stacks that disagree on the window would
 * otherwise trade such ACKs as fast as the wire goes (an ACK loop), and a
 * host spoofing pure ACKs gets one answer each. A segment with data is
 * always answered (its sender needs our ACK to recover), and 500 ms is far
 * below any keepalive or zero-window probe interval. */
#define OOW_ACK_MS 500
#define TSO_MAX_DEFAULT 65536
/* referenced extents a connection's send queue may hold (tcp_send_ref):
 * a response is a copied header and one referenced body, so a few
 * pipelined responses fit; tcp_send_ref takes nothing more when full */
#define TCP_SREF_MAX 8
#define CSUM_OFFSET 16                  /* of the checksum in the TCP header */

enum tcp_state {
	TCP_CLOSED, TCP_LISTEN, TCP_SYN_SENT, TCP_SYN_RCVD, TCP_ESTABLISHED, TCP_FIN_WAIT_1,
	TCP_FIN_WAIT_2, TCP_CLOSE_WAIT, TCP_CLOSING, TCP_LAST_ACK, TCP_TIME_WAIT,
};

struct tcp_conn {
	/* owner core only */
	enum tcp_state state;
	struct net_if *ifc;
	uint32_t raddr;                         /* network order */
	uint16_t rport, lport;                  /* host order */
	struct tcp_conn *hnext;                 /* hash chain / free list */
	const struct tcp_ops *ops;
	void *ctx;
	int app_gone;                           /* `gone` delivered: no more callbacks */
	/* send side */
	uint32_t iss, snd_una, snd_nxt, snd_max, snd_wnd, snd_wl1, snd_wl2;
	uint16_t mss;
	uint8_t snd_wscale, rcv_wscale;
	int ws_ok, ts_ok;
	uint32_t ts_recent;
	uint32_t oow_ack_ms;                    /* ts_now() of the last out-of-window
						 * ACK (OOW_ACK_MS); 0: none yet */
	uint8_t *sb;                            /* send buffer: copied bytes from snd_una;
						 * NULL while empty (from the core's pool) */
	uint32_t sb_size, sb_head;              /* sb_head: ring offset of the first copied byte */
	uint32_t sb_len;                        /* the send queue's bytes from snd_una, both kinds */
	uint32_t sb_copied;                     /* ... of them in the ring (tcp_send) */
	/* The send queue is sb_len bytes in order: copied runs (in the ring,
	 * in order) and referenced extents (tcp_send_ref). Extent i follows
	 * `pre` copied bytes after extent i-1; sb_tail copied bytes follow
	 * the last one (without extents, sb_tail == sb_copied). Each extent
	 * holds one reference on ref until its bytes are acknowledged or the
	 * connection is freed (tcp_sb_put). */
	struct tcp_sref {
		const uint8_t *p;
		uint32_t len, pre;
		struct pktbuf_ref *ref;
	} sref[TCP_SREF_MAX];
	uint32_t sb_tail;
	uint8_t sref_head, sref_n;
	int fin_queued, fin_sent, want_writable;
	int ack_pending;                        /* an ACK was dropped (full TX): tcp_poll resends */
	uint32_t max_snd_wnd;                   /* the largest window the peer offered
						 * (RFC 5961's MAX.SND.WND) */
	uint32_t cwnd, ssthresh, recover;
	int dupacks, in_recovery;
	/* RTT (RFC 6298), ms */
	int32_t srtt, rttvar;
	uint32_t rto, retries;
	uint32_t rtt_seq;
	uint64_t rtt_start;
	int rtt_timing;
	/* receive side */
	uint32_t irs, rcv_nxt;
	uint32_t acks_owed;
	uint32_t rcv_adv;                       /* right edge we advertised last */
	uint32_t rcv_edge;                      /* the furthest we ever advertised */
	uint32_t rcv_buf;                       /* the most tcp_rcv_space ever offered:
						 * RCV.BUFF for SWS avoidance */
	struct pktbuf *ooo;                     /* sorted by seq (in b->rss), within
						 * rcv_nxt .. rcv_edge */
	uint32_t nooo;                          /* its buffers */
	uint32_t ooo_mem;                       /* their true size (OOO_TRUESIZE each) */
	uint32_t ooo_mark;                      /* rcv_nxt when the ooo timer was armed */
	/* timers */
	struct timer rtx, delack, tw, keep, ooo_t;
	uint64_t last_rx_ns;
	uint32_t keep_probes;
	uint64_t zw_since_ns;                   /* first probe of a shut window; 0: none */
	/* the core's TIME_WAIT list, oldest first (tw_on: on it) */
	struct tcp_conn *tw_prev, *tw_next;
	uint8_t tw_on;
	/* waiting lists (kept across reuse of the slot: see tcp_poll) */
	struct tcp_conn *txw_next, *sbw_next;
	uint8_t txw_on, sbw_on;
};

/* fixed after start-up (tcp_listen, core 0): read on any core */
struct listener {
	uint16_t port;
	const struct tcp_ops *ops;
	tcp_accept_fn accept;
	void *arg;
};

struct tcp_core {
	struct tcp_conn *conns;
	uint32_t max;
	struct tcp_conn *free;
	struct tcp_conn **hash;
	uint32_t hmask;
	uint32_t open, half_open;
	uint16_t next_port;
	/* send buffers: a free list linked through their first bytes */
	void *sb_free;
	uint32_t sb_size, sb_count, sb_avail;
	/* connections held back by a full TX batch, and those waiting for a
	 * send buffer; both served by tcp_poll */
	struct tcp_conn *txw_head, *txw_tail, *sbw_head, *sbw_tail;
	/* connections in TIME_WAIT in the order they entered it, which is
	 * the order of their deadlines (TIMEWAIT_MS each): the head is the
	 * slot tcp_conn_new recycles, found without a scan */
	struct tcp_conn *tw_head, *tw_tail;
	/* true size of this core's out-of-order queues (all connections) */
	uint64_t ooo_mem;
	/* the challenge ACKs this second (chack_sec) may still send */
	uint64_t chack_sec;
	uint32_t chack_left;
};

/* start-up settings (written on core 0 before the cores start, read anywhere) */
extern uint32_t tcp_keepalive_ms;       /* 0: no keepalive */
extern uint32_t tcp_tso_max;            /* payload bytes per TSO frame; 0: off */

/* the clock in ms, and as our TCP timestamp value */
static inline uint64_t now_ms(void) { return time_ns() / 1000000ull; }
static inline uint32_t ts_now(void) { return (uint32_t)now_ms(); }

/* TCP's keys, drawn once at start-up (tcp_keys_init) and read-only
 * after: the connection table's hash, the ISS (RFC 6528), SYN cookies */
extern struct siphash_key tcp_hash_key, tcp_iss_key, tcp_cookie_key;
/* ... and the one that draws each second's challenge-ACK allowance */
extern struct siphash_key tcp_chack_key;

/* the connection table's hash of a flow: keyed, so that a peer that
 * does not know the key cannot aim its flows at one chain */
static inline uint32_t hash3(uint32_t a, uint16_t rp, uint16_t lp)
{
	return (uint32_t)siphash24_2u64(&tcp_hash_key, a, (uint64_t)rp << 16 | lp);
}

/* The initial sequence number of a flow (addresses network order, ports
 * host order), RFC 6528: ISS = M + F(the 4-tuple, a secret key), M the
 * 4 us clock, F keyed SipHash. Off-path peers cannot predict it; the
 * same flow's ISS moves forward with time, past the old incarnation's
 * sequence space. */
static inline uint32_t tcp_iss(uint32_t laddr, uint16_t lport, uint32_t raddr, uint16_t rport)
{
	uint32_t m = (uint32_t)(time_ns() / 4000);
	return m + (uint32_t)siphash24_2u64(&tcp_iss_key, (uint64_t)laddr << 32 | raddr,
					    (uint64_t)lport << 16 | rport);
}

/* this core's TCP */
static inline struct tcp_core *tc(void) { return net_me()->tcp; }

/* c is one of this core's connection slots. The app entry points assert
 * it: a connection is used only on its owner core (the app got it from a
 * callback there), so a call from any other core is our own bug. */
static inline int tcp_conn_mine(const struct tcp_conn *c)
{
	const struct tcp_core *t = tc();
	return t && c >= t->conns && c < t->conns + t->max;
}

/* RCV.WND for the acceptability test (RFC 9293 3.10.7.4) and the bound
 * of the out-of-order queue: from rcv_nxt to the right edge we last
 * advertised, or to one we advertised before if that was further. The
 * window field may shrink (when the app's room does: tcp_ops.recv_space),
 * but what the peer was offered stays acceptable: its segments in flight
 * are not out-of-window for a shrink they could not have seen (RFC 1122
 * 4.2.2.16). 0 when rcv_nxt has reached the edge. */
static inline uint32_t tcp_rcv_wnd(const struct tcp_conn *c)
{
	return SEQ_GT(c->rcv_edge, c->rcv_nxt) ? c->rcv_edge - c->rcv_nxt : 0;
}

/* Receiver SWS avoidance (RFC 9293 3.8.6.2.2, RFC 1122 4.2.3.3): a
 * window increase is worth a segment of its own once it reaches
 * min(RCV.BUFF / 2, MSS), RCV.BUFF being the most the app has ever had
 * room for (an app with a buffer smaller than two segments still sees
 * its window reopen); never 0. */
static inline uint32_t tcp_rcv_sws_min(const struct tcp_conn *c)
{
	uint32_t half = c->rcv_buf / 2;
	if (half > c->mss)
		half = c->mss;
	return half ? half : 1;
}

/* sequence space sent and not yet acknowledged */
static inline uint32_t flight(const struct tcp_conn *c) { return c->snd_nxt - c->snd_una; }

/* c waits on a list (txw: output held back; sbw: no send buffer) */
#define WAIT_ADD(t, c, l) do { \
	if (!(c)->l##_on) { \
		(c)->l##_on = 1; \
		(c)->l##_next = NULL; \
		if ((t)->l##_tail) (t)->l##_tail->l##_next = (c); else (t)->l##_head = (c); \
		(t)->l##_tail = (c); \
	} } while (0)

/* the first connection waiting on list l, taken off it */
#define WAIT_POP(t, l) ({ \
	struct tcp_conn *c_ = (t)->l##_head; \
	if (c_) { \
		(t)->l##_head = c_->l##_next; \
		if (!(t)->l##_head) (t)->l##_tail = NULL; \
		c_->l##_on = 0; \
	} \
	c_; })

/* ---- tcp.c: the connection table, send buffers, listeners */
/* c's slot for (raddr, rport, lport) on this core: NULL when none */
struct tcp_conn *tcp_conn_lookup(uint32_t a, uint16_t rp, uint16_t lp);
/* A fresh slot for the flow, hashed and counted open, its timers ready
 * (none armed); the oldest TIME_WAIT slot is recycled when none is free.
 * O(1): a SYN or cookie ACK with every slot taken costs no scan.
 * NULL: every slot is in use and none is in TIME_WAIT. */
struct tcp_conn *tcp_conn_new(struct net_if *ifc, uint32_t a, uint16_t rp, uint16_t lp);
/* c, entering TIME_WAIT, goes to the tail of the core's TIME_WAIT list
 * (tcp_conn_free takes it off); once only. */
void tcp_tw_add(struct tcp_conn *c);
/* Frees c's slot at once: timers, queued segments, send buffer. The app
 * hears nothing (see tcp_conn_gone). */
void tcp_conn_free(struct tcp_conn *c);
/* The app hears `gone` (reason: 0 or an errno) exactly once, then the
 * slot is freed: c is invalid afterwards. */
void tcp_conn_gone(struct tcp_conn *c, int reason);
/* Gives c's send buffer, if it holds one, back to the core's pool; what
 * was in it is forgotten (sb_len 0) and the references of its extents
 * dropped. */
void tcp_sb_put(struct tcp_conn *c);
/* The first n bytes of the send queue are gone (acknowledged): the ring
 * moves on, extents consumed whole drop their reference. */
void tcp_sq_drop(struct tcp_conn *c, uint32_t n);
/* The contiguous run of the send queue at off (bytes past snd_una,
 * off < sb_len): *p its first byte, returns its length (>= 1); *ref the
 * extent's reference for a referenced run, NULL for one in the ring. */
uint32_t tcp_sq_run(const struct tcp_conn *c, uint32_t off, const uint8_t **p, struct pktbuf_ref **ref);
/* the listener on port, NULL: none (any core: listeners are fixed after
 * start-up) */
struct listener *tcp_listener_of(uint16_t port);

/* ---- tcp_in.c: segments received */
/* Bytes c can take now: the reorder budget and the app's room. */
uint32_t tcp_rcv_space(struct tcp_conn *c);
/* In-order data at rcv_nxt to the app, then what the out-of-order queue
 * now continues, within the app's room. The app may abort c from recv:
 * callers check c->state (TCP_CLOSED) afterwards. */
void tcp_rcv_data(struct tcp_conn *c, const uint8_t *data, uint32_t len);
/* Drops c's out-of-order queue (its buffers back to the pool, the core's
 * count down). */
void tcp_ooo_purge(struct tcp_conn *c);
/* the ooo timer: a queue that made no progress for OOO_TIMEOUT_MS goes */
void tcp_ooo_timeout(struct tcp_conn *c);
/* start-up (tcp_core_init, core 0): TCP's keys, drawn once */
void tcp_keys_init(void);

/* The peer's MSS option (0: none, RFC 9293's 536) as we use it: raised
 * to TCP_MIN_MSS (counted, tcp_mss_clamped), so that a SYN cannot make
 * every segment tiny, nor smaller than our options. */
uint16_t tcp_peer_mss(uint16_t opt);

/* ---- tcp_out.c: segments sent */
/* Payload bytes per segment: the peer's MSS less our options, within our MTU. */
uint32_t tcp_seg_payload_max(const struct tcp_conn *c);
/* One segment (with TSO, one frame of many): flags, seq, and len payload
 * bytes copied from the send buffer at off (bytes past snd_una); an ACK
 * in it settles the ACKs owed. 0, or -errno when it could not go (a pure
 * ACK is then sent again by tcp_poll). */
int tcp_send_segment(struct tcp_conn *c, uint8_t flags, uint32_t seq, uint32_t off, uint32_t len);
/* RST for segment `in` from raddr that has no connection (RFC 9293
 * 3.10.7.1); without an ACK in `in`, the RST acknowledges its seq +
 * seglen. Counted (tcp_rst_out); nothing happens when no buffer is free. */
void tcp_send_reset(struct net_if *ifc, uint32_t raddr, const struct tcp_hdr *in, uint32_t seglen);
/* A challenge ACK (RFC 5961 3-5): an ACK of rcv_nxt from snd_nxt, within
 * the core's allowance for this second (CHALLENGE_ACK_LIMIT; counted in
 * tcp_challenge_acks, or tcp_challenge_ack_limited when over it). */
void tcp_challenge_ack(struct tcp_conn *c);
/* Sends what the windows allow; ack_now forces an ACK if nothing else goes. */
void tcp_output(struct tcp_conn *c, int ack_now);

/* ---- tcp_timer.c: retransmission, delayed ACK, TIME_WAIT, keepalive */
/* Arms the retransmission timer for c->rto unless it runs already. */
void tcp_rtx_arm(struct tcp_conn *c);
/* tcp_conn_new: c's five timers, unarmed. */
void tcp_timers_init(struct tcp_conn *c);
/* c enters TIME_WAIT: retransmission and keepalive stop, the tw timer
 * frees the slot after TIMEWAIT_MS; the app hears `gone` now (once). */
void tcp_timewait_enter(struct tcp_conn *c);
#endif
