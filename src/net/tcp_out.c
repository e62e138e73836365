/*
 * tcp_out.c — TCP segments out, on the connection's owner core:
 * tcp_output sends what the send and congestion windows allow (sender
 * SWS avoidance, the FIN after the data, the persist timer while the
 * peer's window is shut); tcp_send_segment builds one segment, with our
 * options and the window we advertise; tcp_send_reset answers a segment
 * that has no connection.
 *
 * Transmit offloads: where the device offers them (netdev_tx_offloads),
 * segments leave with the pseudo-header sum in the checksum field for
 * the device to complete (PKTBUF_F_TX_CSUM), and tcp_output builds TSO
 * frames of up to tcp_tso_max payload bytes (PKTBUF_F_TX_TSO) that the
 * device cuts into segments of tcp_seg_payload_max() bytes, each with our
 * header and options (timestamps included), PSH on the last only. A TSO
 * frame is a chain of pktbufs holding a copy of the send buffer's bytes
 * (see tcp_send_segment for why a copy), and external fragments for
 * referenced bytes (tcp_send_ref: no copy). Retransmissions (RTO, fast
 * retransmit, NewReno's partial ACKs) and probes stay single segments.
 *
 * A segment that finds no buffer or a full transmit batch is not waited
 * for: data and FIN go again by their own bookkeeping (tcp_poll, the
 * retransmission timer), a pure ACK by tcp_poll (ack_lost).
 */
#include <errno.h>
#include <string.h>
#include "net/tcp_priv.h"

/* The window field of a segment: what tcp_rcv_space allows (the app's
 * room may shrink it), rcv_adv its right edge; rcv_edge keeps the
 * furthest edge ever offered, which the acceptability test and the
 * out-of-order queue are held to (tcp_rcv_wnd). */
static uint16_t rcv_window(struct tcp_conn *c)
{
	uint32_t w = tcp_rcv_space(c), sh = c->ws_ok ? c->rcv_wscale : 0;
	if (w > c->rcv_buf)
		c->rcv_buf = w;
	w >>= sh;
	if (w > 65535)
		w = 65535;
	c->rcv_adv = c->rcv_nxt + (w << sh);
	if (SEQ_GT(c->rcv_adv, c->rcv_edge))
		c->rcv_edge = c->rcv_adv;
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

/* The payload of a frame: len bytes of the send queue at off (bytes
 * past snd_una), after the header bytes already in head b (b->len).
 * Copied runs go into b's room, then into chained buffers; a referenced
 * run whose memory is device-visible becomes an external fragment (a
 * reference for the frame, dropped when the driver reclaims it), one
 * that is not is copied (counted: tcp_ref_copy_fallback, in bytes).
 * Returns 0, or -ENOBUFS with what was chained left on b (the caller
 * frees b whole): no buffer (drop_no_buffer) or no external fragment
 * (tcp_ref_ext_exhausted); the segment goes again by its bookkeeping. */
static int put_payload(struct tcp_conn *c, struct pktbuf *b, uint32_t off, uint32_t len)
{
	struct pktbuf_pool *pool = pktbuf_pool_of((uint16_t)core_self()->id);
	struct pktbuf *tail = b, **link = &b->frag;
	uint32_t frag_len = 0, by_ref = 0, copied = 0, fallback = 0;
	while (len) {
		const uint8_t *p;
		struct pktbuf_ref *r;
		uint32_t k = tcp_sq_run(c, off, &p, &r);
		if (k > len)
			k = len;
		off += k;
		len -= k;
		if (r && frame_is_dma(p, k)) {
			struct pktbuf *f = pktbuf_ext_alloc(pool, p, k, r);
			if (!f) {
				NSTAT(tcp_ref_ext_exhausted);
				return -ENOBUFS;
			}
			*link = tail = f;
			link = &f->frag;
			frag_len += k;
			by_ref += k;
			continue;
		}
		*(r ? &fallback : &copied) += k;
		while (k) {
			/* never into an external fragment: that memory is not ours */
			uint32_t cap = tail == b ? PKTBUF_DATA : PKTBUF_FRAG_ROOM;
			if ((tail->flags & PKTBUF_F_EXT) || tail->len == cap) {
				struct pktbuf *f = pktbuf_alloc(pool);
				if (!f) {
					NSTAT(drop_no_buffer);
					return -ENOBUFS;
				}
				f->off = 0;
				*link = tail = f;
				link = &f->frag;
				continue;
			}
			uint32_t m = cap - tail->len < k ? cap - tail->len : k;
			memcpy(pktbuf_data(tail) + tail->len, p, m);
			tail->len = (uint16_t)(tail->len + m);
			if (tail != b)
				frag_len += m;
			p += m;
			k -= m;
		}
	}
	b->frag_len = frag_len;
	if (by_ref)
		NSTAT_ADD(tcp_ref_bytes, by_ref);
	if (copied)
		NSTAT_ADD(tcp_copy_bytes, copied);
	if (fallback) {
		NSTAT_ADD(tcp_ref_copy_fallback, fallback);
		NSTAT_ADD(tcp_copy_bytes, fallback);
	}
	return 0;
}

/* The TCP checksum of frame b (the segment from b's data, chain
 * included) onto sum, for a device without checksum offload: external
 * fragments are read where they point (no copy). A run at an odd offset
 * is summed byte-swapped (RFC 1071: the sum is byte-order independent). */
static uint16_t frame_csum(struct pktbuf *b, uint32_t sum)
{
	uint64_t s = sum + (uint16_t)~net_csum(pktbuf_data(b), b->len, 0);
	uint32_t at = b->len;
	for (const struct pktbuf *f = b->frag; f; f = f->frag) {
		uint32_t x = (uint16_t)~net_csum(f->buf + f->off, f->len, 0);
		if (at & 1)
			x = (uint16_t)(x << 8 | x >> 8);
		s += x;
		at += f->len;
	}
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/* Builds and sends one segment: flags, seq, payload from the send queue
 * at offset `off` (bytes past snd_una), `len` bytes. With the device's
 * TSO, len may span many segments of tcp_seg_payload_max() bytes (tcp_output
 * sizes it by frame_payload_max): one TSO frame.
 *
 * Copied bytes (tcp_send) are copied out of the send buffer, into the
 * frame's own buffers, which the device reads until the driver reclaims
 * the frame. Pointing the device at the send buffer itself would save
 * that copy, but its bytes are not stable for as long: an ACK frees them
 * (the ring moves on and tcp_send writes there, or the buffer goes back
 * to the core's pool for another connection) while a retransmitted copy
 * may still sit in the TX ring or the batch, and reclaim is lazy. A copy
 * makes the frame's lifetime the frame's own business. Referenced bytes
 * (tcp_send_ref) need no copy for that: the frame holds its own
 * reference on their immutable memory (an external fragment). */
int tcp_send_segment(struct tcp_conn *c, uint8_t flags, uint32_t seq, uint32_t off, uint32_t len)
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
	b->len = (uint16_t)hl;
	if (len && put_payload(c, b, off, len)) {
		pktbuf_free(b);
		ack_lost(c, flags, len);
		return -ENOBUFS;
	}
	h->sport = htons(c->lport);
	h->dport = htons(c->rport);
	h->seq = htonl(seq);
	h->ack = (flags & TCP_ACK) ? htonl(c->rcv_nxt) : 0;
	h->off = (uint8_t)((hl / 4) << 4);
	h->flags = flags;
	if ((flags & (TCP_SYN | TCP_ACK)) == (TCP_SYN | TCP_ACK))      /* SYN_SENT's: tcp_in.c */
		c->rcv_adv = c->rcv_edge = c->rcv_nxt + SYN_WND;
	h->win = htons((flags & TCP_SYN) ? (uint16_t)SYN_WND : rcv_window(c));
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
		h->csum = frame_csum(b, net_pseudo_sum(c->ifc->addr, c->raddr, IP_PROTO_TCP, tl));
	}
	if (len > tcp_seg_payload_max(c)) {
		b->flags |= PKTBUF_F_TX_TSO;
		b->gso_size = (uint16_t)tcp_seg_payload_max(c);
		b->hdr_end = (uint16_t)(b->off + hl);
	}
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
void tcp_send_reset(struct net_if *ifc, uint32_t raddr, const struct tcp_hdr *in, uint32_t seglen)
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

void tcp_challenge_ack(struct tcp_conn *c)
{
	struct tcp_core *t = tc();
	uint64_t sec = time_ns() / 1000000000ull + 1;   /* + 1: never the initial 0 */
	if (sec != t->chack_sec) {
		/* this second's allowance, [limit/2, 3*limit/2): keyed, so an
		 * off-path host can neither predict nor exhaust it exactly */
		uint32_t r = (uint32_t)siphash24_2u64(&tcp_chack_key, sec, core_self()->id);
		t->chack_sec = sec;
		t->chack_left = CHALLENGE_ACK_LIMIT / 2 + r % CHALLENGE_ACK_LIMIT;
	}
	if (!t->chack_left) {
		NSTAT(tcp_challenge_ack_limited);
		return;
	}
	t->chack_left--;
	NSTAT(tcp_challenge_acks);
	tcp_send_segment(c, TCP_ACK, c->snd_nxt, 0, 0);
}

/* payload per segment: the peer's MSS less the options we put in every
 * segment (timestamps: 12 bytes), and never more than our MTU allows.
 * c->mss is at least TCP_MIN_MSS (tcp_peer_mss) and an MTU at least 68
 * (the config's floor), so m > 12 and the subtraction cannot wrap; the
 * floor here keeps that true whatever set c->mss. */
uint32_t tcp_seg_payload_max(const struct tcp_conn *c)
{
	uint32_t m = c->mss < TCP_MIN_MSS ? TCP_MIN_MSS : c->mss, mtu_room = (uint32_t)c->ifc->mtu - 40;
	if (m > mtu_room)
		m = mtu_room;
	return c->ts_ok ? m - 12 : m;
}

/* Payload bytes tcp_output may put in one frame: one segment, or with
 * the device's TSO a whole number of segments up to the smallest of
 * tcp_tso_max, what the device takes (netdev_tso_max, less our headers),
 * half the send buffer (a frame as large as all of it would leave nothing
 * to send while its one ACK is awaited: two keep the pipe busy) and what
 * the core's pool can spare (a quarter stays for the RX rings). The
 * windows bound it further in tcp_output. */
static uint32_t frame_payload_max(const struct tcp_conn *c, uint32_t smss)
{
	const struct netdev *d = c->ifc->dev;
	if (!tcp_tso_max || !(netdev_tx_offloads(d) & NETDEV_TX_TSO4))
		return smss;
	uint32_t hdrs = ETH_HLEN + 4 + 20 + 20 + 40;    /* Ethernet, VLAN, IP, TCP with options */
	uint32_t m = tcp_tso_max, dev = netdev_tso_max(d);
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

/* Sends what the windows allow; ack_now forces an ACK if nothing else goes. */
void tcp_output(struct tcp_conn *c, int ack_now)
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
			uint32_t len = c->sb_len - data_off, smss = tcp_seg_payload_max(c);
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
			if (net_tx_busy(c->ifc) || tcp_send_segment(c, fl, c->snd_nxt, data_off, len)) {
				/* the batch is full: tcp_poll goes again after the
				 * flush; the timer is the safety net */
				WAIT_ADD(tc(), c, txw);
				tcp_rtx_arm(c);
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
			tcp_rtx_arm(c);
		}
		uint32_t data_off = c->snd_nxt - c->snd_una;
		if (c->fin_queued && !c->fin_sent && data_off == c->sb_len &&
		    (c->state == TCP_ESTABLISHED || c->state == TCP_CLOSE_WAIT || c->state == TCP_FIN_WAIT_1 ||
		     c->state == TCP_LAST_ACK || c->state == TCP_CLOSING)) {
			if (tcp_send_segment(c, TCP_FIN | TCP_ACK, c->snd_nxt, 0, 0) == 0) {
				c->fin_sent = 1;
				c->snd_nxt++;
				if (SEQ_GT(c->snd_nxt, c->snd_max))
					c->snd_max = c->snd_nxt;
				if (c->state == TCP_ESTABLISHED)
					c->state = TCP_FIN_WAIT_1;
				else if (c->state == TCP_CLOSE_WAIT)
					c->state = TCP_LAST_ACK;
				sent = 1;
				tcp_rtx_arm(c);
			} else {
				/* no buffer or a full batch: tcp_poll tries again
				 * after the flush, and the timer is the safety net
				 * (an ACK that empties the flight cancels it: the
				 * FIN still owed must keep one) */
				WAIT_ADD(tc(), c, txw);
				tcp_rtx_arm(c);
			}
		}
		/* zero window with data waiting: the RTX timer doubles as the
		 * persist timer (probe below) */
		if (c->snd_wnd == 0 && c->sb_len > (c->snd_nxt - c->snd_una) && flight(c) == 0)
			tcp_rtx_arm(c);
	}
	if (!sent && ack_now)
		tcp_send_segment(c, TCP_ACK, c->snd_nxt, 0, 0);
}
