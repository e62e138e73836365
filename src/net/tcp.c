/*
 * tcp.c — TCP (RFC 9293) on the flow's owner core.
 *
 * What is here: the full state machine including simultaneous open and
 * close and RST handling; MSS negotiation; window scaling and timestamps
 * (RFC 7323); RTO per RFC 6298 (Karn's rule, exponential backoff, 200 ms
 * floor); NewReno fast retransmit/recovery (RFC 6582) with slow start and
 * congestion avoidance; delayed ACKs (every second segment or 40 ms);
 * zero-window probing; keepalive (off unless configured); a bounded
 * TIME_WAIT (2 s, and the oldest is recycled when slots run out);
 * out-of-order queueing (bounded per connection); SYN cookies when the
 * half-open count passes the backlog or slots run out.
 *
 * Memory: each core has max_conns connection slots with a send buffer of
 * send_buffer bytes each, made at start-up; no allocation afterwards.
 * Received in-order data is handed to the app straight from the packet
 * (zero-copy), so the receive window only has to cover reordering.
 * Timers run on the owner core's wheel.
 *
 * Transmit offloads: where the device offers them (netdev_tx_offloads),
 * segments leave with the pseudo-header sum in the checksum field for
 * the device to complete (PKTBUF_F_TX_CSUM), and tcp_output builds TSO
 * frames of up to tso_max payload bytes (PKTBUF_F_TX_TSO) that the device
 * cuts into segments of seg_payload_max() bytes, each with our header and
 * options (timestamps included), PSH on the last only. A TSO frame is a
 * chain of pktbufs holding a copy of the send buffer's bytes (see
 * send_segment for why a copy). Retransmissions (RTO, fast retransmit,
 * NewReno's partial ACKs) and probes stay single segments.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include "net/net_priv.h"
#include "sched/sched.h"

#define SEQ_LT(a, b)  ((int32_t)((a) - (b)) < 0)
#define SEQ_LEQ(a, b) ((int32_t)((a) - (b)) <= 0)
#define SEQ_GT(a, b)  ((int32_t)((a) - (b)) > 0)
#define SEQ_GEQ(a, b) ((int32_t)((a) - (b)) >= 0)

#define RCV_WND (256u * 1024)
#define RCV_WSCALE 3
#define DEFAULT_MSS 536
#define RTO_MIN_MS 200
#define RTO_MAX_MS 60000
#define RTO_INIT_MS 1000
#define MAX_RETRIES 12
#define SYN_RETRIES 6                   /* Linux's tcp_syn_retries: ~127 s */
#define SYNACK_RETRIES 5                /* tcp_synack_retries: a half-open slot lasts ~63 s */
#define DELACK_MS 40
#define TIMEWAIT_MS 2000
#define FIN_WAIT2_MS 60000              /* Linux's tcp_fin_timeout */
#define OOO_MAX 64
#define KEEPALIVE_PROBES 5
#define TSO_MAX_DEFAULT 65536
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
	uint8_t *sb;                            /* send buffer: bytes from snd_una;
						 * NULL while empty (from the core's pool) */
	uint32_t sb_size, sb_head, sb_len;
	int fin_queued, fin_sent, want_writable;
	int ack_pending;                        /* an ACK was dropped (full TX): tcp_poll resends */
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
	uint32_t rcv_adv;                       /* right edge we advertised */
	struct pktbuf *ooo;                     /* sorted by seq (in b->rss) */
	uint32_t nooo;
	/* timers */
	struct timer rtx, delack, tw, keep;
	uint64_t last_rx_ns;
	uint32_t keep_probes;
	/* waiting lists (kept across reuse of the slot: see tcp_poll) */
	struct tcp_conn *txw_next, *sbw_next;
	uint8_t txw_on, sbw_on;
};

struct listener {
	uint16_t port;
	const struct tcp_ops *ops;
	tcp_accept_fn accept;
	void *arg;
};
#define MAX_LISTENERS 16
static struct listener listeners[MAX_LISTENERS];
static int nlisteners;
static uint64_t cookie_secret;
static uint32_t keepalive_ms;
static uint32_t tso_max = TSO_MAX_DEFAULT;      /* payload bytes per TSO frame; 0: off */

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
};

static uint64_t now_ms(void) { return time_ns() / 1000000ull; }

static uint32_t hash3(uint32_t a, uint16_t rp, uint16_t lp)
{
	uint64_t h = ((uint64_t)a << 32) ^ ((uint64_t)rp << 16) ^ lp;
	h ^= h >> 29;
	h *= 0xbf58476d1ce4e5b9ull;
	h ^= h >> 32;
	return (uint32_t)h;
}

static struct tcp_core *tc(void) { return net_me()->tcp; }

static unsigned tcp_poll(void *arg);
static void tcp_poll_flush(void *arg) { tcp_poll(arg); }

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
	if (rc)
		return rc;
	t->next_port = (uint16_t)(32768 + core * 1000);
	net_cores[core].tcp = t;
	if (!cookie_secret && getentropy(&cookie_secret, sizeof cookie_secret))
		cookie_secret = cycles_now() * 0x9e3779b97f4a7c15ull;
	return 0;
}

uint32_t tcp_conns_open(uint32_t core)
{
	struct tcp_core *t = net_cores[core].tcp;
	return t ? __atomic_load_n(&t->open, __ATOMIC_RELAXED) : 0;
}

static struct tcp_conn **slot_of(struct tcp_core *t, uint32_t a, uint16_t rp, uint16_t lp)
{
	return &t->hash[hash3(a, rp, lp) & t->hmask];
}

static struct tcp_conn *lookup(uint32_t a, uint16_t rp, uint16_t lp)
{
	struct tcp_core *t = tc();
	for (struct tcp_conn *c = *slot_of(t, a, rp, lp); c; c = c->hnext)
		if (c->raddr == a && c->rport == rp && c->lport == lp)
			return c;
	return NULL;
}

static void timers_init(struct tcp_conn *c);

static struct tcp_conn *conn_new(struct net_if *ifc, uint32_t a, uint16_t rp, uint16_t lp)
{
	struct tcp_core *t = tc();
	struct tcp_conn *c = t->free;
	if (!c) {
		/* recycle the oldest TIME_WAIT slot */
		struct tcp_conn *old = NULL;
		for (uint32_t i = 0; i < t->max; i++)
			if (t->conns[i].state == TCP_TIME_WAIT &&
			    (!old || t->conns[i].tw.deadline_ns < old->tw.deadline_ns))
				old = &t->conns[i];
		if (!old)
			return NULL;
		extern void tcp_conn_free(struct tcp_conn *c);
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
	timers_init(c);
	struct tcp_conn **s = slot_of(t, a, rp, lp);
	c->hnext = *s;
	*s = c;
	t->open++;
	return c;
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

static void sb_put(struct tcp_conn *c)
{
	struct tcp_core *t = tc();
	if (!c->sb)
		return;
	*(void **)c->sb = t->sb_free;
	t->sb_free = c->sb;
	t->sb_avail++;
	c->sb = NULL;
	c->sb_len = c->sb_head = 0;
}

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

void tcp_conn_free(struct tcp_conn *c)
{
	struct tcp_core *t = tc();
	sched_timer_cancel(&c->rtx);
	sched_timer_cancel(&c->delack);
	sched_timer_cancel(&c->tw);
	sched_timer_cancel(&c->keep);
	while (c->ooo) {
		struct pktbuf *b = c->ooo;
		c->ooo = b->next;
		pktbuf_free(b);
	}
	sb_put(c);
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
static void conn_gone(struct tcp_conn *c, int reason)
{
	if (!c->app_gone && c->ops && c->ops->gone) {
		c->app_gone = 1;
		c->ops->gone(c, c->ctx, reason);
	}
	c->app_gone = 1;
	tcp_conn_free(c);
}

/* ---- segment output */
static uint32_t ts_now(void) { return (uint32_t)now_ms(); }

/* bytes we can take now: the reorder budget, and the app's room */
static uint32_t rcv_space(struct tcp_conn *c)
{
	uint32_t w = RCV_WND - c->nooo * 1500u;
	if (c->ops && c->ops->recv_space && !c->app_gone) {
		size_t a = c->ops->recv_space(c, c->ctx);
		if (a < w)
			w = (uint32_t)a;
	}
	return w;
}

static uint16_t rcv_window(struct tcp_conn *c)
{
	uint32_t w = rcv_space(c), sh = c->ws_ok ? c->rcv_wscale : 0;
	w >>= sh;
	if (w > 65535)
		w = 65535;
	c->rcv_adv = c->rcv_nxt + (w << sh);
	return (uint16_t)w;
}

/* A pure ACK (or window update) that found no buffer or a full TX path
 * is not lost for good: the connection waits on the core's list and
 * tcp_poll sends an ACK again. (Data and FIN are resent by their own
 * bookkeeping; a SYN or RST by its timer or the peer.) */
static void ack_lost(struct tcp_conn *c, uint8_t flags, uint32_t len)
{
	if (len || (flags & (TCP_SYN | TCP_FIN | TCP_RST)) || !(flags & TCP_ACK) ||
	    c->state < TCP_ESTABLISHED || c->state == TCP_TIME_WAIT || !net_me()->tcp)
		return;
	c->ack_pending = 1;
	WAIT_ADD(tc(), c, txw);
}

static uint32_t seg_payload_max(const struct tcp_conn *c);

/* Copies n bytes of the send buffer from offset off (bytes past
 * snd_una) to dst, across the ring's wrap. */
static void sb_copy(const struct tcp_conn *c, uint32_t off, uint8_t *dst, uint32_t n)
{
	for (uint32_t i = 0; i < n; ) {
		uint32_t at = (c->sb_head + off + i) & (c->sb_size - 1);
		uint32_t chunk = c->sb_size - at < n - i ? c->sb_size - at : n - i;
		memcpy(dst + i, c->sb + at, chunk);
		i += chunk;
	}
}

/* Chains buffers behind head b for `len` payload bytes that do not fit
 * in it, copied from the send buffer at `off`. Returns 0, or -ENOBUFS
 * (nothing chained: the caller frees b alone). */
static int chain_payload(struct tcp_conn *c, struct pktbuf *b, uint32_t off, uint32_t len)
{
	struct pktbuf *frags[TSO_MAX_DEFAULT / PKTBUF_FRAG_ROOM + 2];
	unsigned n = (len + PKTBUF_FRAG_ROOM - 1) / PKTBUF_FRAG_ROOM;
	if (n > sizeof frags / sizeof frags[0] ||
	    pktbuf_alloc_bulk(pktbuf_pool_of((uint16_t)core_self()->id), frags, n) != n) {
		NSTAT(drop_no_buffer);
		return -ENOBUFS;
	}
	struct pktbuf **link = &b->frag;
	for (unsigned k = 0; k < n; k++) {
		struct pktbuf *f = frags[k];
		f->off = 0;
		f->len = (uint16_t)(len - k * PKTBUF_FRAG_ROOM < PKTBUF_FRAG_ROOM ? len - k * PKTBUF_FRAG_ROOM
										   : PKTBUF_FRAG_ROOM);
		sb_copy(c, off + k * PKTBUF_FRAG_ROOM, f->buf, f->len);
		*link = f;
		link = &f->frag;
	}
	b->frag_len = len;
	return 0;
}

/* Builds and sends one segment: flags, seq, payload from the send buffer
 * at offset `off` (bytes past snd_una), `len` bytes. With the device's
 * TSO, len may span many segments of seg_payload_max() bytes (tcp_output
 * sizes it by frame_payload_max): one TSO frame.
 *
 * The payload is copied out of the send buffer, into the frame's own
 * buffers, which the device reads until the driver reclaims the frame.
 * Pointing the device at the send buffer itself would save that copy,
 * but its bytes are not stable for as long: an ACK frees them (the ring
 * moves on and tcp_send writes there, or the buffer goes back to the
 * core's pool for another connection) while a retransmitted copy may
 * still sit in the TX ring or the batch, and reclaim is lazy. A copy
 * makes the frame's lifetime the frame's own business. */
static int send_segment(struct tcp_conn *c, uint8_t flags, uint32_t seq, uint32_t off, uint32_t len)
{
	struct pktbuf *b = net_alloc();
	if (!b) {
		ack_lost(c, flags, len);
		return -ENOBUFS;
	}
	b->off = PKTBUF_HEADROOM;
	struct tcp_hdr *h = (void *)pktbuf_data(b);
	uint8_t *o = (uint8_t *)(h + 1);
	int optlen = 0;
	if (flags & TCP_SYN) {
		uint16_t mss = (uint16_t)(c->ifc->mtu - 40);
		o[0] = TCPOPT_MSS; o[1] = 4; o[2] = (uint8_t)(mss >> 8); o[3] = (uint8_t)mss;
		optlen = 4;
		if (c->ws_ok || c->state == TCP_SYN_SENT) {
			o[optlen++] = TCPOPT_NOP;
			o[optlen++] = TCPOPT_WSCALE; o[optlen++] = 3; o[optlen++] = RCV_WSCALE;
		}
	}
	if (c->ts_ok || ((flags & TCP_SYN) && c->state == TCP_SYN_SENT)) {
		o[optlen++] = TCPOPT_NOP;
		o[optlen++] = TCPOPT_NOP;
		o[optlen++] = TCPOPT_TS;
		o[optlen++] = 10;
		uint32_t tsv = htonl(ts_now()), tse = htonl(c->ts_recent);
		memcpy(o + optlen, &tsv, 4);
		memcpy(o + optlen + 4, &tse, 4);
		optlen += 8;
	}
	uint32_t hl = (uint32_t)sizeof *h + (uint32_t)optlen;
	uint32_t in_head = len < PKTBUF_DATA - hl ? len : PKTBUF_DATA - hl;
	sb_copy(c, off, o + optlen, in_head);
	if (len > in_head && chain_payload(c, b, off + in_head, len - in_head)) {
		pktbuf_free(b);
		return -ENOBUFS;
	}
	h->sport = htons(c->lport);
	h->dport = htons(c->rport);
	h->seq = htonl(seq);
	h->ack = (flags & TCP_ACK) ? htonl(c->rcv_nxt) : 0;
	h->off = (uint8_t)((hl / 4) << 4);
	h->flags = flags;
	h->win = htons((flags & TCP_SYN) ? (uint16_t)(RCV_WND > 65535 ? 65535 : RCV_WND) : rcv_window(c));
	h->urg = 0;
	h->csum = 0;
	uint16_t tl = (uint16_t)(hl + len);
	uint32_t offl = netdev_tx_offloads(c->ifc->dev);
	if (offl & NETDEV_TX_CSUM) {
		/* the device sums header and payload onto the pseudo header */
		h->csum = (uint16_t)net_pseudo_sum(c->ifc->addr, c->raddr, IP_PROTO_TCP, tl);
		b->flags |= PKTBUF_F_TX_CSUM;
		b->csum_start = b->off;
		b->csum_offset = CSUM_OFFSET;
	} else {
		h->csum = net_csum(h, tl, net_pseudo_sum(c->ifc->addr, c->raddr, IP_PROTO_TCP, tl));
	}
	if (len > seg_payload_max(c)) {
		b->flags |= PKTBUF_F_TX_TSO;
		b->gso_size = (uint16_t)seg_payload_max(c);
		b->hdr_end = (uint16_t)(b->off + hl);
	}
	b->len = (uint16_t)(hl + in_head);
	if (flags & TCP_ACK) {
		c->acks_owed = 0;
		c->ack_pending = 0;
		sched_timer_cancel(&c->delack);
	}
	NSTAT(tcp_out);
	int rc = net_ip_output(c->ifc, b, c->raddr, IP_PROTO_TCP, 0);
	if (rc)
		ack_lost(c, flags, len);
	return rc;
}

/* RST for a segment that has no connection (RFC 9293 3.10.7.1) */
static void send_reset(struct net_if *ifc, uint32_t raddr, const struct tcp_hdr *in, uint32_t seglen)
{
	struct pktbuf *b = net_alloc();
	if (!b)
		return;
	b->off = PKTBUF_HEADROOM;
	struct tcp_hdr *h = (void *)pktbuf_data(b);
	memset(h, 0, sizeof *h);
	h->sport = in->dport;
	h->dport = in->sport;
	if (in->flags & TCP_ACK) {
		h->seq = in->ack;
		h->flags = TCP_RST;
	} else {
		h->ack = htonl(ntohl(in->seq) + seglen);
		h->flags = TCP_RST | TCP_ACK;
	}
	h->off = 5 << 4;
	h->csum = net_csum(h, sizeof *h, net_pseudo_sum(ifc->addr, raddr, IP_PROTO_TCP, sizeof *h));
	b->len = sizeof *h;
	NSTAT(tcp_rst_out);
	net_ip_output(ifc, b, raddr, IP_PROTO_TCP, 0);
}

static uint32_t flight(const struct tcp_conn *c) { return c->snd_nxt - c->snd_una; }

/* payload per segment: the peer's MSS less the options we put in every
 * segment (timestamps: 12 bytes), and never more than our MTU allows */
static uint32_t seg_payload_max(const struct tcp_conn *c)
{
	uint32_t m = c->mss, mtu_room = (uint32_t)c->ifc->mtu - 40;
	if (m > mtu_room)
		m = mtu_room;
	return c->ts_ok ? m - 12 : m;
}

/* Payload bytes tcp_output may put in one frame: one segment, or with
 * the device's TSO a whole number of segments up to the smallest of
 * tso_max, what the device takes (netdev_tso_max, less our headers),
 * half the send buffer (a frame as large as all of it would leave nothing
 * to send while its one ACK is awaited: two keep the pipe busy) and what
 * the core's pool can spare (a quarter stays for the RX rings). The
 * windows bound it further in tcp_output. */
static uint32_t frame_payload_max(const struct tcp_conn *c, uint32_t smss)
{
	const struct netdev *d = c->ifc->dev;
	if (!tso_max || !(netdev_tx_offloads(d) & NETDEV_TX_TSO4))
		return smss;
	uint32_t hdrs = ETH_HLEN + 4 + 20 + 20 + 40;    /* Ethernet, VLAN, IP, TCP with options */
	uint32_t m = tso_max, dev = netdev_tso_max(d);
	if (dev < hdrs + smss)
		return smss;
	if (m > dev - hdrs)
		m = dev - hdrs;
	if (m > 65535 - 20 - 60)
		m = 65535 - 20 - 60;
	if (m > c->sb_size / 2)
		m = c->sb_size / 2;
	const struct pktbuf_pool *p = pktbuf_pool_of((uint16_t)core_self()->id);
	uint32_t spare = pktbuf_pool_avail(p) > pktbuf_pool_size(p) / 4 ? pktbuf_pool_avail(p) - pktbuf_pool_size(p) / 4 : 0;
	uint32_t room = spare > 1 ? PKTBUF_DATA - 60 + (spare - 1) * PKTBUF_FRAG_ROOM : 0;
	if (m > room)
		m = room;
	m -= m % smss;
	return m > smss ? m : smss;
}

static void arm_rtx(struct tcp_conn *c)
{
	if (!timer_armed(&c->rtx))
		sched_timer_arm(&c->rtx, time_ns() + (uint64_t)c->rto * 1000000ull, 0);
}

/* Sends what the windows allow; ack_now forces an ACK if nothing else goes. */
static void tcp_output(struct tcp_conn *c, int ack_now)
{
	if (c->state < TCP_ESTABLISHED && c->state != TCP_SYN_RCVD)
		return;
	int sent = 0;
	if (c->state != TCP_SYN_RCVD) {
		uint32_t wnd = c->snd_wnd < c->cwnd ? c->snd_wnd : c->cwnd;
		for (;;) {
			uint32_t off = c->snd_nxt - c->snd_una;
			uint32_t data_off = off - (c->fin_sent ? 1 : 0);
			if (data_off >= c->sb_len || off >= wnd)
				break;
			uint32_t len = c->sb_len - data_off, smss = seg_payload_max(c);
			uint32_t fmax = frame_payload_max(c, smss);
			if (len > fmax)
				len = fmax;
			if (len > wnd - off)
				len = wnd - off;
			if (len < smss && data_off + len < c->sb_len && flight(c))
				break;                  /* SWS avoidance: wait for a full one */
			if (len > smss && data_off + len < c->sb_len)
				len -= len % smss;      /* TSO: full segments; the tail goes with more */
			uint8_t fl = TCP_ACK | (data_off + len == c->sb_len ? TCP_PSH : 0);
			if (net_tx_busy(c->ifc) || send_segment(c, fl, c->snd_nxt, data_off, len)) {
				/* the batch is full: tcp_poll goes again after the
				 * flush; the timer is the safety net */
				WAIT_ADD(tc(), c, txw);
				arm_rtx(c);
				break;
			}
			if (!c->rtt_timing && c->snd_nxt == c->snd_max && !c->ts_ok) {
				c->rtt_timing = 1;
				c->rtt_seq = c->snd_nxt;
				c->rtt_start = time_ns();
			}
			c->snd_nxt += len;
			if (SEQ_GT(c->snd_nxt, c->snd_max))
				c->snd_max = c->snd_nxt;
			sent = 1;
			arm_rtx(c);
		}
		uint32_t data_off = c->snd_nxt - c->snd_una;
		if (c->fin_queued && !c->fin_sent && data_off == c->sb_len &&
		    (c->state == TCP_ESTABLISHED || c->state == TCP_CLOSE_WAIT || c->state == TCP_FIN_WAIT_1 ||
		     c->state == TCP_LAST_ACK || c->state == TCP_CLOSING)) {
			if (send_segment(c, TCP_FIN | TCP_ACK, c->snd_nxt, 0, 0) == 0) {
				c->fin_sent = 1;
				c->snd_nxt++;
				if (SEQ_GT(c->snd_nxt, c->snd_max))
					c->snd_max = c->snd_nxt;
				if (c->state == TCP_ESTABLISHED)
					c->state = TCP_FIN_WAIT_1;
				else if (c->state == TCP_CLOSE_WAIT)
					c->state = TCP_LAST_ACK;
				sent = 1;
				arm_rtx(c);
			}
		}
		/* zero window with data waiting: the RTX timer doubles as the
		 * persist timer (probe below) */
		if (c->snd_wnd == 0 && c->sb_len > (c->snd_nxt - c->snd_una) && flight(c) == 0)
			arm_rtx(c);
	}
	if (!sent && ack_now)
		send_segment(c, TCP_ACK, c->snd_nxt, 0, 0);
}

/* ---- timers */
static void on_rtx(struct timer *t, void *arg)
{
	struct tcp_conn *c = arg;
	if (c->state >= TCP_ESTABLISHED && !flight(c) && c->snd_wnd &&
	    c->sb_len > c->snd_nxt - c->snd_una) {
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
				send_segment(c, TCP_RST | TCP_ACK, c->snd_nxt, 0, 0);
			conn_gone(c, ETIMEDOUT);
			return;
		}
		NSTAT(tcp_retrans);
		c->rto = c->rto * 2 > RTO_MAX_MS ? RTO_MAX_MS : c->rto * 2;
		c->rtt_timing = 0;
		if (c->state == TCP_SYN_RCVD || c->state == TCP_SYN_SENT) {
			send_segment(c, TCP_SYN | (c->state == TCP_SYN_RCVD ? TCP_ACK : 0), c->iss, 0, 0);
		} else if (flight(c) == 0) {
			/* zero-window probe: one byte past the window; a peer
			 * with room acks it, so it counts as sent */
			if (send_segment(c, TCP_ACK, c->snd_nxt, 0, 1) == 0 && SEQ_GT(c->snd_nxt + 1, c->snd_max))
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
		send_segment(c, TCP_ACK, c->snd_nxt, 0, 0);
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
		send_segment(c, TCP_RST | TCP_ACK, c->snd_nxt, 0, 0);
		conn_gone(c, ETIMEDOUT);
		return;
	}
	conn_gone(c, 0);
}

static void on_keepalive(struct timer *t, void *arg)
{
	struct tcp_conn *c = arg;
	if (c->state != TCP_ESTABLISHED || !keepalive_ms)
		return;
	uint64_t idle = (time_ns() - c->last_rx_ns) / 1000000ull;
	if (idle < keepalive_ms) {
		c->keep_probes = 0;
		sched_timer_arm(t, c->last_rx_ns + (uint64_t)keepalive_ms * 1000000ull, 0);
		return;
	}
	if (++c->keep_probes > KEEPALIVE_PROBES) {
		NSTAT(tcp_timeouts);
		send_segment(c, TCP_RST | TCP_ACK, c->snd_nxt, 0, 0);
		conn_gone(c, ETIMEDOUT);
		return;
	}
	send_segment(c, TCP_ACK, c->snd_una - 1, 0, 0);     /* probe: an old seq */
	sched_timer_arm(t, time_ns() + 75000000000ull / 10, 0);
}

static void timers_init(struct tcp_conn *c)
{
	timer_init(&c->rtx, on_rtx, c);
	timer_init(&c->delack, on_delack, c);
	timer_init(&c->tw, on_timewait, c);
	timer_init(&c->keep, on_keepalive, c);
}

static void enter_timewait(struct tcp_conn *c)
{
	c->state = TCP_TIME_WAIT;
	sched_timer_cancel(&c->rtx);
	sched_timer_cancel(&c->keep);
	sched_timer_cancel(&c->tw);             /* FIN_WAIT_2's bound */
	sched_timer_arm(&c->tw, time_ns() + TIMEWAIT_MS * 1000000ull, 0);
	if (!c->app_gone && c->ops && c->ops->gone) {
		c->app_gone = 1;
		c->ops->gone(c, c->ctx, 0);
	}
}

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

/* ---- SYN cookies: isn = H(secret, tuple, slot)[31:8] | slot[5:0] << 2 | mss index */
static const uint16_t cookie_mss[4] = { 536, 1220, 1440, 1460 };

static uint32_t cookie_hash(uint32_t a, uint16_t rp, uint16_t lp, uint32_t irs, uint32_t slot)
{
	uint64_t h = cookie_secret ^ ((uint64_t)a << 32 | (uint64_t)rp << 16 | lp);
	h ^= (uint64_t)irs * 0x9e3779b97f4a7c15ull ^ slot;
	h ^= h >> 31;
	h *= 0xd6e8feb86659fd93ull;
	h ^= h >> 32;
	return (uint32_t)h;
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

static struct listener *listener_of(uint16_t port)
{
	for (int i = 0; i < nlisteners; i++)
		if (listeners[i].port == port)
			return &listeners[i];
	return NULL;
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
			send_segment(c, TCP_RST | TCP_ACK, c->snd_nxt, 0, 0);
			tcp_conn_free(c);
			return;
		}
	}
	if (keepalive_ms)
		sched_timer_arm(&c->keep, time_ns() + (uint64_t)keepalive_ms * 1000000ull, 0);
	if (!l && c->ops && c->ops->connected && !c->app_gone)
		c->ops->connected(c, c->ctx);   /* an active open */
}

/* ---- input */
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
	c->sb_head = (c->sb_head + data) & (c->sb_size - 1);
	c->sb_len -= data;
	if (!c->sb_len)
		sb_put(c);                      /* all acknowledged: back to the pool */
	c->snd_una = ack;
	if (SEQ_LT(c->snd_nxt, c->snd_una))
		c->snd_nxt = c->snd_una;
	c->retries = 0;
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
			uint32_t len = c->sb_len < seg_payload_max(c) ? c->sb_len : seg_payload_max(c);
			if (len)
				send_segment(c, TCP_ACK, c->snd_una, 0, len);
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
		arm_rtx(c);
	if (data && c->want_writable && c->ops && c->ops->writable) {
		c->want_writable = 0;
		c->ops->writable(c, c->ctx);
	}
	/* the app's room may depend on our send buffer (an echo): a peer
	 * stopped by our window must hear that it opened */
	if (data && c->ops && c->ops->recv_space)
		tcp_recv_update(c);
}

void tcp_recv_update(struct tcp_conn *c);

static void deliver(struct tcp_conn *c, const uint8_t *data, uint32_t len)
{
	if (len && c->ops && c->ops->recv && !c->app_gone)
		c->ops->recv(c, c->ctx, data, len);
}

/* puts back, in seq order, a segment rcv_data took off the queue */
static void ooo_requeue(struct tcp_conn *c, struct pktbuf *b)
{
	struct pktbuf **p = &c->ooo;
	while (*p && SEQ_LT((*p)->rss, b->rss))
		p = &(*p)->next;
	b->next = *p;
	*p = b;
	c->nooo++;
}

/* in-order data at rcv_nxt, then whatever the OOO queue now continues,
 * never more than the app has room for (the rest stays queued) */
static void rcv_data(struct tcp_conn *c, const uint8_t *data, uint32_t len)
{
	c->rcv_nxt += len;
	deliver(c, data, len);
	while (c->ooo && !c->app_gone) {
		struct pktbuf *b = c->ooo;
		uint32_t seq = b->rss, end = seq + b->len;
		if (SEQ_GT(seq, c->rcv_nxt))
			break;
		if (SEQ_LEQ(end, c->rcv_nxt)) {         /* wholly old */
			c->ooo = b->next;
			c->nooo--;
			pktbuf_free(b);
			continue;
		}
		uint32_t skip = c->rcv_nxt - seq, avail = b->len - skip, room = rcv_space(c);
		if (room == 0)
			break;
		uint32_t take = avail < room ? avail : room;
		/* off the queue while the app looks at it: from recv it may
		 * abort (freeing the queue) or call tcp_recv_update (which
		 * runs this loop again) */
		c->ooo = b->next;
		c->nooo--;
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

static void ooo_insert(struct tcp_conn *c, struct pktbuf *b, uint32_t seq, uint32_t off, uint32_t len)
{
	if (c->nooo >= OOO_MAX) {
		NSTAT(drop_tcp_ooo_full);
		pktbuf_free(b);
		return;
	}
	NSTAT(tcp_ooo);
	b->off = (uint16_t)(b->off + off);
	b->len = (uint16_t)len;
	b->rss = seq;
	struct pktbuf **p = &c->ooo;
	while (*p && SEQ_LT((*p)->rss, seq))
		p = &(*p)->next;
	if (*p && (*p)->rss == seq && (*p)->len >= len) {     /* duplicate */
		pktbuf_free(b);
		return;
	}
	b->next = *p;
	*p = b;
	c->nooo++;
}

static void handle_listen(struct net_if *ifc, struct pktbuf *b, const struct ipv4_hdr *ip,
			  const struct tcp_hdr *h, const struct tcp_opts *o, struct listener *l,
			  uint32_t seglen)
{
	uint16_t rp = ntohs(h->sport), lp = ntohs(h->dport);
	uint32_t seq = ntohl(h->seq);
	struct tcp_core *t = tc();
	if (h->flags & TCP_RST)
		return;
	if (h->flags & TCP_ACK) {
		/* maybe the third step of a cookie handshake */
		uint16_t mss;
		if (!(h->flags & TCP_SYN) && cookie_check(ip->src, rp, lp, seq - 1, ntohl(h->ack) - 1, &mss)) {
			struct tcp_conn *c = conn_new(ifc, ip->src, rp, lp);
			if (!c) {
				NSTAT(drop_tcp_conns_full);
				return;
			}
			NSTAT(tcp_syncookies);
			c->irs = seq - 1;
			c->rcv_nxt = seq;
			c->iss = ntohl(h->ack) - 1;
			c->snd_una = c->snd_nxt = c->snd_max = ntohl(h->ack);
			c->mss = mss;
			c->snd_wnd = ntohs(h->win);
			c->snd_wl1 = seq;
			c->snd_wl2 = c->snd_una;
			become_established(c, l);
			if (c->state == TCP_ESTABLISHED) {
				uint32_t hl = (uint32_t)(h->off >> 4) * 4;
				if (seglen)
					rcv_data(c, (const uint8_t *)h + hl, seglen);
				tcp_output(c, seglen != 0);
			}
			return;
		}
		send_reset(ifc, ip->src, h, seglen);
		return;
	}
	if (!(h->flags & TCP_SYN))
		return;
	uint16_t peer_mss = o->mss ? o->mss : DEFAULT_MSS;
	struct tcp_conn *c = NULL;
	if (t->half_open < t->max / 2)
		c = conn_new(ifc, ip->src, rp, lp);
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
		send_segment(&tmp, TCP_SYN | TCP_ACK, isn, 0, 0);
		return;
	}
	t->half_open++;
	c->state = TCP_SYN_RCVD;
	c->irs = seq;
	c->rcv_nxt = seq + 1;
	c->iss = (uint32_t)(cycles_now() >> 4) ^ hash3(ip->src, rp, lp);
	c->snd_una = c->iss;
	c->snd_nxt = c->snd_max = c->iss + 1;
	c->mss = peer_mss < (uint16_t)(ifc->mtu - 40) ? peer_mss : (uint16_t)(ifc->mtu - 40);
	c->ws_ok = o->ws;
	c->snd_wscale = o->ws ? o->wscale : 0;
	c->rcv_wscale = o->ws ? RCV_WSCALE : 0;
	c->ts_ok = o->ts;
	c->ts_recent = o->tsval;
	c->snd_wnd = ntohs(h->win);                 /* never scaled in a SYN */
	c->snd_wl1 = seq;
	/* no ops until accept (become_established): the app has no ctx for
	 * a half-open connection, so it must hear nothing of it */
	send_segment(c, TCP_SYN | TCP_ACK, c->iss, 0, 0);
	arm_rtx(c);
}

void tcp_input(struct net_if *ifc, struct pktbuf *b, const struct ipv4_hdr *ip)
{
	const struct tcp_hdr *h = (const void *)pktbuf_data(b);
	uint32_t tl = b->len;
	if (tl < sizeof *h) {
		NSTAT(drop_bad_tcp);
		goto out;
	}
	uint32_t hl = (uint32_t)(h->off >> 4) * 4;
	if (hl < sizeof *h || hl > tl) {
		NSTAT(drop_bad_tcp);
		goto out;
	}
	/* the device checked it, or (NEEDS_CSUM) it came from a local peer
	 * that left it to be filled in: either way the data is intact */
	if (!(b->flags & (PKTBUF_F_CSUM_VALID | PKTBUF_F_CSUM_NEEDED)) &&
	    net_csum(h, tl, net_pseudo_sum(ip->src, ip->dst, IP_PROTO_TCP, (uint16_t)tl)) != 0) {
		NSTAT(drop_bad_tcp_csum);
		goto out;
	}
	uint8_t fl = h->flags;
	if (((fl & TCP_SYN) && (fl & TCP_FIN)) || ((fl & TCP_SYN) && (fl & TCP_RST)) || fl == 0) {
		NSTAT(drop_bad_tcp);                    /* nonsense flags */
		goto out;
	}
	struct tcp_opts o;
	if (parse_opts(h, hl, &o)) {
		NSTAT(drop_bad_tcp);
		goto out;
	}
	NSTAT(tcp_in);
	uint32_t seglen = tl - hl;
	const uint8_t *data = (const uint8_t *)h + hl;
	uint16_t rp = ntohs(h->sport), lp = ntohs(h->dport);
	struct tcp_conn *c = lookup(ip->src, rp, lp);
	if (!c) {
		struct listener *l = listener_of(lp);
		if (l) {
			handle_listen(ifc, b, ip, h, &o, l, seglen);
		} else {
			NSTAT(drop_tcp_no_conn);
			if (!(fl & TCP_RST))
				send_reset(ifc, ip->src, h, seglen + ((fl & TCP_SYN) ? 1 : 0) + ((fl & TCP_FIN) ? 1 : 0));
		}
		goto out;
	}
	uint32_t seq = ntohl(h->seq), ack = ntohl(h->ack);
	c->last_rx_ns = time_ns();

	if (c->state == TCP_SYN_SENT) {
		if ((fl & TCP_ACK) && (SEQ_LEQ(ack, c->iss) || SEQ_GT(ack, c->snd_max))) {
			if (!(fl & TCP_RST))
				send_reset(ifc, ip->src, h, seglen);
			goto out;
		}
		if (fl & TCP_RST) {
			if (fl & TCP_ACK)
				conn_gone(c, ECONNREFUSED);
			goto out;
		}
		if (!(fl & TCP_SYN))
			goto out;
		c->irs = seq;
		c->rcv_nxt = seq + 1;
		c->ws_ok = o.ws;
		c->snd_wscale = o.ws ? o.wscale : 0;
		c->rcv_wscale = o.ws ? RCV_WSCALE : 0;
		c->ts_ok = o.ts;
		c->ts_recent = o.tsval;
		if (o.mss && o.mss < c->mss)
			c->mss = o.mss;
		c->snd_wnd = ntohs(h->win);
		c->snd_wl1 = seq;
		c->snd_wl2 = ack;
		if (fl & TCP_ACK) {
			c->snd_una = ack;
			sched_timer_cancel(&c->rtx);
			become_established(c, NULL);
			tcp_output(c, 1);
		} else {                                /* simultaneous open */
			c->state = TCP_SYN_RCVD;
			tc()->half_open++;
			send_segment(c, TCP_SYN | TCP_ACK, c->iss, 0, 0);
		}
		goto out;
	}

	/* sequence acceptability (RFC 9293 3.10.7.4) */
	uint32_t wnd = RCV_WND;
	int ok;
	if (seglen == 0)
		ok = SEQ_GEQ(seq, c->rcv_nxt) && SEQ_LT(seq, c->rcv_nxt + wnd + 1);
	else
		ok = (SEQ_GEQ(seq, c->rcv_nxt) && SEQ_LT(seq, c->rcv_nxt + wnd)) ||
		     (SEQ_GEQ(seq + seglen - 1, c->rcv_nxt) && SEQ_LT(seq + seglen - 1, c->rcv_nxt + wnd));
	/* A keepalive or zero-window probe (Linux sends both one byte before
	 * rcv_nxt, no data) is unacceptable: the ACK below answers it, and that
	 * ACK carries our window. Taking it as acceptable left a peer probing
	 * our closed window unanswered, and stuck, when the window update that
	 * reopened it was lost. */
	if (c->state == TCP_SYN_RCVD && (fl & TCP_SYN) && seq == c->irs)
		ok = 1;                                 /* the SYN again: below */
	if (!ok) {
		if (!(fl & TCP_RST))
			send_segment(c, TCP_ACK, c->snd_nxt, 0, 0);
		goto out;
	}
	if (fl & TCP_RST) {
		if (seq == c->rcv_nxt || c->state == TCP_SYN_RCVD)
			conn_gone(c, c->state == TCP_SYN_RCVD ? ECONNREFUSED : ECONNRESET);
		else
			send_segment(c, TCP_ACK, c->snd_nxt, 0, 0);   /* challenge ACK (RFC 5961) */
		goto out;
	}
	if (fl & TCP_SYN) {
		if (c->state == TCP_SYN_RCVD && seq == c->irs) {  /* a retransmitted SYN */
			send_segment(c, TCP_SYN | TCP_ACK, c->iss, 0, 0);
			goto out;
		}
		send_segment(c, TCP_ACK, c->snd_nxt, 0, 0);       /* challenge ACK */
		goto out;
	}
	if (!(fl & TCP_ACK))
		goto out;
	if (c->ts_ok && o.ts && SEQ_LEQ(seq, c->rcv_nxt))
		c->ts_recent = o.tsval;

	if (c->state == TCP_SYN_RCVD) {
		if (SEQ_LEQ(ack, c->snd_una) || SEQ_GT(ack, c->snd_max)) {
			send_reset(ifc, ip->src, h, seglen);
			goto out;
		}
		tc()->half_open--;
		c->snd_una = ack;
		c->snd_wnd = (uint32_t)ntohs(h->win) << c->snd_wscale;
		c->snd_wl1 = seq;
		c->snd_wl2 = ack;
		sched_timer_cancel(&c->rtx);
		c->retries = 0;
		become_established(c, listener_of(c->lport));
		if (c->state != TCP_ESTABLISHED)
			goto out;
	}

	/* ACK processing */
	if (SEQ_GT(ack, c->snd_max)) {
		send_segment(c, TCP_ACK, c->snd_nxt, 0, 0);
		goto out;
	}
	uint32_t win = (uint32_t)ntohs(h->win) << c->snd_wscale;
	if (SEQ_GT(ack, c->snd_una)) {
		ack_advance(c, ack, &o);
	} else if (ack == c->snd_una && seglen == 0 && win == c->snd_wnd && flight(c) &&
		   !(fl & TCP_FIN)) {
		/* a duplicate ACK */
		if (++c->dupacks == 3 && !c->in_recovery) {
			uint32_t fl2 = flight(c);
			c->ssthresh = fl2 / 2 > 2u * c->mss ? fl2 / 2 : 2u * c->mss;
			c->cwnd = c->ssthresh + 3u * c->mss;
			c->recover = c->snd_max;
			c->in_recovery = 1;
			uint32_t len = c->sb_len < seg_payload_max(c) ? c->sb_len : seg_payload_max(c);
			NSTAT(tcp_retrans);
			if (len)
				send_segment(c, TCP_ACK, c->snd_una, 0, len);
			c->rtt_timing = 0;
		} else if (c->in_recovery) {
			c->cwnd += c->mss;
		}
	}
	if (SEQ_LT(c->snd_wl1, seq) || (c->snd_wl1 == seq && SEQ_LEQ(c->snd_wl2, ack))) {
		c->snd_wnd = win;
		c->snd_wl1 = seq;
		c->snd_wl2 = ack;
	}
	if (c->snd_wnd == 0)
		c->retries = 0;                 /* it answers the probes: keep probing */
	int fin_acked = c->fin_sent && c->snd_una == c->snd_max;
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
			enter_timewait(c);
			goto out;
		}
		break;
	case TCP_LAST_ACK:
		if (fin_acked) {
			conn_gone(c, 0);
			goto out;
		}
		break;
	case TCP_TIME_WAIT:
		if (fl & TCP_FIN)
			send_segment(c, TCP_ACK, c->snd_nxt, 0, 0);
		goto out;
	default:
		break;
	}

	/* data */
	int ack_now = 0;
	fl = h->flags;
	if (seglen && (c->state == TCP_ESTABLISHED || c->state == TCP_FIN_WAIT_1 || c->state == TCP_FIN_WAIT_2)) {
		if (seq == c->rcv_nxt) {
			uint32_t room = rcv_space(c), had_ooo = c->nooo;
			if (seglen > room) {            /* the app is full: hold back the rest */
				seglen = room;
				fl &= (uint8_t)~TCP_FIN;
				ack_now = 1;
			}
			rcv_data(c, data, seglen);
			if (c->state == TCP_CLOSED)
				goto out;
			c->acks_owed++;
			ack_now = ack_now || c->acks_owed >= 2 || had_ooo;   /* RFC 5681 4.2 */
		} else if (SEQ_LT(seq, c->rcv_nxt)) {   /* partly old: take the new part */
			uint32_t skip = c->rcv_nxt - seq;
			if (skip < seglen) {            /* as much as the app has room for */
				uint32_t n = seglen - skip, room = rcv_space(c);
				if (n > room) {
					n = room;
					fl &= (uint8_t)~TCP_FIN;
				}
				rcv_data(c, data + skip, n);
				if (c->state == TCP_CLOSED)
					goto out;
			}
			ack_now = 1;
		} else {
			uint32_t off = hl;
			ooo_insert(c, b, seq, off, seglen);
			b = NULL;
			ack_now = 1;                    /* a dup ACK tells the peer */
		}
	}
	if ((fl & TCP_FIN) && SEQ_LEQ(seq + seglen, c->rcv_nxt) && seq + seglen == c->rcv_nxt) {
		c->rcv_nxt++;
		ack_now = 1;
		switch (c->state) {
		case TCP_ESTABLISHED:
			c->state = TCP_CLOSE_WAIT;
			break;
		case TCP_FIN_WAIT_1:
			c->state = fin_acked ? TCP_TIME_WAIT : TCP_CLOSING;
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
			send_segment(c, TCP_ACK, c->snd_nxt, 0, 0);
			enter_timewait(c);
			goto out;
		}
	}
	if (c->state == TCP_CLOSED)
		goto out;
	tcp_output(c, ack_now);
	if (c->acks_owed && !timer_armed(&c->delack))
		sched_timer_arm(&c->delack, time_ns() + DELACK_MS * 1000000ull, 0);
out:
	if (b)
		pktbuf_free(b);
}

/* ---- the app's side */
int tcp_listen(uint16_t port, const struct tcp_ops *ops, tcp_accept_fn accept, void *arg)
{
	if (listener_of(port))
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

void tcp_set_keepalive_ms(uint32_t ms) { keepalive_ms = ms; }
void tcp_set_tso_max(uint32_t bytes) { tso_max = bytes; }

void tcp_recv_update(struct tcp_conn *c)
{
	if (c->state < TCP_ESTABLISHED || c->state == TCP_TIME_WAIT)
		return;
	if (c->ooo)
		rcv_data(c, NULL, 0);                   /* queued data the app can now take */
	/* a window update when it opened by at least a segment */
	uint32_t right = c->rcv_nxt + rcv_space(c);
	if (SEQ_GEQ(right, c->rcv_adv + c->mss))
		send_segment(c, TCP_ACK, c->snd_nxt, 0, 0);
}

void tcp_want_writable(struct tcp_conn *c)
{
	if (c->fin_queued || c->state < TCP_ESTABLISHED)
		return;
	c->want_writable = 1;
	if (!c->sb && !tc()->sb_free)
		WAIT_ADD(tc(), c, sbw);
}

size_t tcp_send_space(const struct tcp_conn *c)
{
	if (c->fin_queued)
		return 0;
	if (c->sb)
		return c->sb_size - c->sb_len;
	return tc()->sb_free ? c->sb_size : 0;
}

size_t tcp_send(struct tcp_conn *c, const void *data, size_t len)
{
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
		uint32_t at = (c->sb_head + c->sb_len + (uint32_t)i) & (c->sb_size - 1);
		size_t chunk = c->sb_size - at < n - i ? c->sb_size - at : n - i;
		memcpy(c->sb + at, (const uint8_t *)data + i, chunk);
		i += chunk;
	}
	c->sb_len += (uint32_t)n;
	if (n < len)
		c->want_writable = 1;
	tcp_output(c, 0);
	return n;
}

void tcp_close(struct tcp_conn *c)
{
	if (c->fin_queued)
		return;
	c->fin_queued = 1;
	if (c->state == TCP_SYN_RCVD || c->state == TCP_SYN_SENT) {
		conn_gone(c, 0);
		return;
	}
	tcp_output(c, 0);
}

void tcp_abort(struct tcp_conn *c)
{
	if (c->state >= TCP_SYN_RCVD)
		send_segment(c, TCP_RST | TCP_ACK, c->snd_nxt, 0, 0);
	conn_gone(c, ECONNABORTED);
}

void tcp_conn_peer(const struct tcp_conn *c, uint32_t *addr, uint16_t *port)
{
	*addr = ntohl(c->raddr);
	*port = c->rport;
}

int tcp_conn_ifindex(const struct tcp_conn *c)
{
	return c->ifc->index;
}

size_t net_tcp_idle_conn_bytes(void)
{
	/* the slot and two lookup-table entries (the table has 2x the
	 * slots); an idle connection holds no send buffer */
	return sizeof(struct tcp_conn) + 2 * sizeof(struct tcp_conn *);
}

/* ---- the waiting lists, every turn. A slot on a list may have been
 * freed and reused since it was queued (the links survive conn_new):
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
		if (net_flow_core(ifc, daddr, port, cand) == me && !lookup(daddr, port, cand) && !listener_of(cand))
			lp = cand;
	}
	if (!lp) {
		e = -EADDRNOTAVAIL;
		goto fail;
	}
	c = conn_new(ifc, daddr, port, lp);
	if (!c) {
		NSTAT(drop_tcp_conns_full);
		e = -ENOSPC;
		goto fail;
	}
	c->ops = ops;
	c->ctx = ctx;
	c->state = TCP_SYN_SENT;
	c->iss = (uint32_t)(cycles_now() >> 4) ^ hash3(daddr, port, lp);
	c->snd_una = c->iss;
	c->snd_nxt = c->snd_max = c->iss + 1;
	c->mss = (uint16_t)(ifc->mtu - 40);
	NSTAT(tcp_connects);
	send_segment(c, TCP_SYN, c->iss, 0, 0);
	arm_rtx(c);
	return c;
fail:
	if (err)
		*err = e;
	return NULL;
}
