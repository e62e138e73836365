/*
 * test_tcp.c — TCP on the host harness, segment by segment: a scripted
 * peer (struct h_peer) against the stack and the test app on H_PORT.
 *
 * Handshake and options; data both ways with delayed ACKs and segment
 * sizes; loss, RTO and its backoff; reordering; fast retransmit; window
 * scaling both ways; zero window and persist probes; passive, active and
 * simultaneous close; RST (RFC 5961); segments to closed ports; SYN
 * cookies; nonsense flags and bad checksums; the app's receive space;
 * apps that abort or update from their recv callback while the
 * out-of-order queue drains. Every test ends with every buffer home.
 *
 * Times: the initial RTO is 1 s (no RTT sample before the first ACK of
 * data), the delayed ACK 40 ms, TIME_WAIT 2 s; a timer fires at most one
 * wheel tick (65.5 us) after its deadline.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include "check.h"

TestSuite(tcp, .init = h_setup, .fini = h_teardown);

#define SMSS_TS 1448                    /* 1460 less the timestamp option */

static uint8_t D[200000];               /* the data: D[i] a function of i */
static struct h_pkt K;

static void fill(void)
{
	for (size_t i = 0; i < sizeof D; i++)
		D[i] = (uint8_t)((i * 131 + i / 251 + 7) & 0xff);
}

/* the next segment of p's flow, with sane checksums and addresses */
static struct h_pkt *seg(struct h_peer *p)
{
	cr_assert(h_peer_recv(p, &K), "no segment from the stack");
	cr_assert(K.ip_csum_ok, "bad IP checksum");
	cr_assert(K.l4_csum_ok, "bad TCP checksum");
	cr_assert_eq(ntohl(K.ip->src), H_OUR_IP);
	cr_assert_eq(memcmp(K.eth->dst, H_PEER_MAC, 6), 0);
	return &K;
}

static void no_seg(struct h_peer *p)
{
	struct h_pkt k;
	if (h_peer_recv(p, &k))
		cr_assert_fail("unexpected segment: flags %#x seq %u ack %u len %u", k.flags, k.seq, k.ack, k.plen);
}

/* connected: our side accepted by the app, nothing in flight */
static struct h_app_conn *connect_peer(struct h_peer *p, uint16_t port, int ws, uint8_t wscale, int ts)
{
	fill();
	h_peer_init(p, port, H_PORT, ws, wscale, ts);
	cr_assert_eq(h_peer_connect(p), 0, "handshake failed");
	no_seg(p);
	return p->app;
}

static void peer_ack(struct h_peer *p) { h_peer_send(p, TCP_ACK, NULL, 0); }

/* ---------------------------------------------------------------- handshake */
Test(tcp, handshake_with_options)
{
	struct h_peer p;
	h_peer_init(&p, 40000, H_PORT, 1, 7, 1);
	uint32_t peer_iss = p.seq, peer_tsval = (uint32_t)(h_now() / H_MS) + 7;
	h_peer_syn(&p);
	struct h_pkt *k = seg(&p);
	cr_assert_eq(k->flags, TCP_SYN | TCP_ACK);
	cr_assert_eq(k->ack, peer_iss + 1);
	cr_assert_eq(k->mss, 1460);
	cr_assert_eq(k->wscale, 3, "our window scale");
	cr_assert(k->ts, "no timestamps");
	cr_assert_eq(k->tsecr, peer_tsval, "TSecr is not the peer's TSval");
	cr_assert_eq(k->win, 65535, "a SYN's window is never scaled");
	cr_assert_eq(k->plen, 0);
	cr_assert_eq(ntohl(k->ip->dst), H_PEER_IP);
	cr_assert_eq(net_tcp_conns(0), 1, "SYN_RCVD holds a slot");
	cr_assert_null(h_app_last(), "accepted before the handshake ended");
	p.iss = k->seq;
	p.ack = k->seq + 1;
	peer_ack(&p);
	no_seg(&p);
	struct h_app_conn *a = h_app_last();
	cr_assert_not_null(a);
	cr_assert_not_null(a->c);
	uint32_t addr;
	uint16_t port;
	tcp_conn_peer(a->c, &addr, &port);
	cr_assert_eq(addr, H_PEER_IP);
	cr_assert_eq(port, 40000);
	cr_assert_eq(H_STAT(tcp_accepts), 1);
	cr_assert_eq(net_tcp_conns(0), 1);
}

Test(tcp, handshake_without_options)
{
	struct h_peer p;
	h_peer_init(&p, 40000, H_PORT, 0, 0, 0);
	p.offer_mss = 536;
	h_peer_syn(&p);
	struct h_pkt *k = seg(&p);
	cr_assert_eq(k->flags, TCP_SYN | TCP_ACK);
	cr_assert_eq(k->mss, 1460, "our MSS is ours, whatever the peer's");
	cr_assert_eq(k->wscale, -1, "window scale without the peer's");
	cr_assert_not(k->ts, "timestamps without the peer's");
	p.iss = k->seq;
	p.ack = k->seq + 1;
	peer_ack(&p);
	struct h_app_conn *a = h_app_last();
	cr_assert_not_null(a);
	fill();
	cr_assert_eq(h_app_send(a, D, 1000), 1000);
	k = seg(&p);
	cr_assert_eq(k->plen, 536, "the peer's MSS bounds our segments");
	cr_assert_not(k->ts);
	cr_assert_eq(k->win, 65535, "unscaled: 256 KiB capped at 65535");
	h_peer_take(&p, k);
	k = seg(&p);
	cr_assert_eq(k->plen, 1000 - 536);
	cr_assert(k->flags & TCP_PSH, "PSH on the last segment");
	h_peer_take(&p, k);
	peer_ack(&p);
	no_seg(&p);
}

Test(tcp, data_on_the_final_ack_is_delivered)
{
	struct h_peer p;
	h_peer_init(&p, 40000, H_PORT, 1, 7, 1);
	h_peer_syn(&p);
	struct h_pkt *k = seg(&p);
	p.iss = k->seq;
	p.ack = k->seq + 1;
	h_peer_send(&p, TCP_ACK | TCP_PSH, "GET /", 5);
	struct h_app_conn *a = h_app_last();
	cr_assert_not_null(a);
	cr_assert_eq(a->rxlen, 5);
	cr_assert_eq(memcmp(a->rx, "GET /", 5), 0);
}

Test(tcp, syn_ack_is_retransmitted_then_given_up)
{
	struct h_peer p;
	h_peer_init(&p, 40000, H_PORT, 1, 7, 1);
	h_peer_syn(&p);
	struct h_pkt *k = seg(&p);
	uint32_t iss = k->seq;
	h_advance_ms(999);
	no_seg(&p);
	h_advance_ms(2);
	k = seg(&p);
	cr_assert_eq(k->flags, TCP_SYN | TCP_ACK);
	cr_assert_eq(k->seq, iss);
	h_peer_send_at(&p, p.seq - 1, TCP_SYN, NULL, 0);   /* the SYN again */
	k = seg(&p);
	cr_assert_eq(k->flags, TCP_SYN | TCP_ACK, "a repeated SYN gets the SYN-ACK again");
	cr_assert_eq(k->seq, iss);
	h_advance_ms(600 * 1000);
	cr_assert_eq(net_tcp_conns(0), 0, "the half-open connection outlived its retries");
	cr_assert_eq(H_STAT(tcp_timeouts), 1);
	int rst = 0;
	while (h_peer_recv(&p, &K))
		rst = K.flags & TCP_RST;
	cr_assert(rst, "no RST when giving up");
}

/* A half-open connection is not the app's: no callback may reach the app
 * for it (the app's ctx comes from accept, at the end of the handshake). */
Test(tcp, rst_in_syn_rcvd_is_not_an_app_event)
{
	struct h_peer p;
	h_peer_init(&p, 40000, H_PORT_SMALL, 1, 7, 1);
	h_peer_syn(&p);
	struct h_pkt *k = seg(&p);
	p.iss = k->seq;
	p.ack = k->seq + 1;
	h_peer_send_at(&p, p.seq, TCP_RST, NULL, 0);
	cr_assert_eq(net_tcp_conns(0), 0);
	cr_assert_null(h_app_last());
	no_seg(&p);
}

Test(tcp, challenge_ack_in_syn_rcvd_is_not_an_app_event)
{
	struct h_peer p;
	h_peer_init(&p, 40000, H_PORT_SMALL, 1, 7, 1);   /* the app with recv_space */
	h_peer_syn(&p);
	struct h_pkt *k = seg(&p);
	p.iss = k->seq;
	p.ack = k->seq + 1;
	h_peer_send_at(&p, p.seq + 1000000, TCP_ACK, NULL, 0);   /* out of window */
	k = seg(&p);
	cr_assert_eq(k->flags, TCP_ACK);
	peer_ack(&p);                           /* and the handshake still ends */
	cr_assert_not_null(h_app_last());
}

/* ---------------------------------------------------------------- data */
Test(tcp, data_from_peer_with_delayed_acks)
{
	struct h_peer p;
	struct h_app_conn *a = connect_peer(&p, 40000, 1, 7, 1);
	h_peer_send(&p, TCP_ACK | TCP_PSH, D, 1000);
	cr_assert_eq(a->rxlen, 1000);
	no_seg(&p);                             /* one segment: the ACK waits */
	h_advance_ms(39);
	no_seg(&p);
	h_advance_ms(2);
	struct h_pkt *k = seg(&p);
	cr_assert_eq(k->flags, TCP_ACK);
	cr_assert_eq(k->ack, p.seq);
	cr_assert_eq(k->seq, p.ack);
	cr_assert_eq(k->win, (256 * 1024) >> 3, "our window, scaled by 3");
	h_peer_send(&p, TCP_ACK, D + 1000, 1000);
	no_seg(&p);
	h_peer_send(&p, TCP_ACK, D + 2000, 1000);
	k = seg(&p);                            /* every second segment: now */
	cr_assert_eq(k->ack, p.seq);
	cr_assert_eq(a->rxlen, 3000);
	cr_assert_eq(memcmp(a->rx, D, 3000), 0);
	h_advance_ms(100);
	no_seg(&p);
}

/* Receives everything the stack sends of D[start..total), p->ack being
 * at D[start], acking after each burst; checks order, content and that
 * no segment is shorter than a full one except the last of the data. */
static void drain_to_peer(struct h_peer *p, size_t start, size_t total, size_t smss)
{
	size_t got = start;
	uint32_t base = p->ack - (uint32_t)start;
	for (int rounds = 0; got < total; rounds++) {
		cr_assert_lt(rounds, 1000, "stuck at %zu of %zu", got, total);
		int any = 0;
		while (h_peer_recv(p, &K)) {
			cr_assert(K.l4_csum_ok);
			cr_assert_eq(K.seq, p->ack, "out of order or a repeat");
			cr_assert_leq(K.plen, smss);
			size_t off = K.seq - base;
			cr_assert_eq(memcmp(K.payload, D + off, K.plen), 0, "data at %zu", off);
			if (off + K.plen < total)
				cr_assert_eq(K.plen, smss, "a short segment (%u bytes at %zu) while more was queued",
					     K.plen, off);
			else
				cr_assert(K.flags & TCP_PSH, "no PSH at the end");
			h_peer_take(p, &K);
			got = off + K.plen;
			any = 1;
		}
		cr_assert(any, "nothing sent at %zu of %zu", got, total);
		peer_ack(p);
	}
}

Test(tcp, data_to_peer)
{
	struct h_peer p;
	struct h_app_conn *a = connect_peer(&p, 40000, 1, 7, 1);
	cr_assert_eq(h_app_send(a, D, 20000), 20000);
	/* the initial window is 10 * MSS (RFC 6928): 14600 bytes */
	size_t burst = 0;
	while (h_peer_recv(&p, &K)) {
		cr_assert_eq(K.seq, p.ack);
		cr_assert(K.ts);
		cr_assert_eq(K.win, (256 * 1024) >> 3);
		burst += K.plen;
		h_peer_take(&p, &K);
		if (K.plen < SMSS_TS)
			break;
	}
	cr_assert_leq(burst, 14600);
	cr_assert_eq(burst % SMSS_TS, 0, "the first burst ends in a runt (%zu bytes)", burst);
	peer_ack(&p);
	drain_to_peer(&p, burst, 20000, SMSS_TS);
	cr_assert_eq(tcp_send_space(a->c), 65536, "acked data not released");
	cr_assert_eq(a->writable, 0);
	no_seg(&p);
	h_advance_ms(5000);
	no_seg(&p);
}

Test(tcp, send_buffer_full_then_writable)
{
	struct h_peer p;
	struct h_app_conn *a = connect_peer(&p, 40000, 1, 7, 1);
	cr_assert_eq(h_app_send(a, D, 100000), 65536, "took more than the send buffer");
	cr_assert_eq(tcp_send_space(a->c), 0);
	cr_assert_eq(h_app_send(a, D, 10), 0);
	for (int i = 0; i < 100 && !a->writable; i++) {
		while (h_peer_recv(&p, &K))
			h_peer_take(&p, &K);
		peer_ack(&p);
	}
	cr_assert_eq(a->writable, 1, "no writable callback");
	cr_assert_gt(tcp_send_space(a->c), 0);
}

/* ---------------------------------------------------------------- loss */
Test(tcp, loss_retransmits_with_backoff)
{
	struct h_peer p;
	struct h_app_conn *a = connect_peer(&p, 40000, 1, 7, 1);
	cr_assert_eq(h_app_send(a, D, 1000), 1000);
	struct h_pkt *k = seg(&p);              /* lost */
	uint32_t s0 = k->seq;
	cr_assert_eq(s0, p.ack);
	h_advance_ms(999);
	no_seg(&p);
	h_advance_ms(2);                        /* RTO 1 s */
	k = seg(&p);
	cr_assert_eq(k->seq, s0, "not the same sequence number");
	cr_assert_eq(k->plen, 1000);
	cr_assert_eq(memcmp(k->payload, D, 1000), 0);
	no_seg(&p);
	cr_assert_eq(H_STAT(tcp_retrans), 1);
	h_advance_ms(1997);
	no_seg(&p);
	h_advance_ms(3);                        /* backed off to 2 s */
	k = seg(&p);
	cr_assert_eq(k->seq, s0);
	cr_assert_eq(H_STAT(tcp_retrans), 2);
	h_advance_ms(3990);
	no_seg(&p);
	h_advance_ms(20);                       /* then 4 s */
	k = seg(&p);
	cr_assert_eq(k->seq, s0);
	h_peer_take(&p, k);
	peer_ack(&p);
	h_advance_ms(20000);
	no_seg(&p);
	cr_assert_eq(H_STAT(tcp_retrans), 3);
	cr_assert_eq(tcp_send_space(a->c), 65536);
}

Test(tcp, loss_after_rtt_samples_uses_the_floor)
{
	struct h_peer p;
	struct h_app_conn *a = connect_peer(&p, 40000, 1, 7, 1);
	/* an exchange gives an RTT sample of 0 ms: the RTO drops to 200 ms */
	cr_assert_eq(h_app_send(a, D, 100), 100);
	h_peer_take(&p, seg(&p));
	peer_ack(&p);
	cr_assert_eq(h_app_send(a, D + 100, 100), 100);
	uint32_t s = seg(&p)->seq;
	h_advance_ms(199);
	no_seg(&p);
	h_advance_ms(2);
	cr_assert_eq(seg(&p)->seq, s);
}

Test(tcp, absurd_tsecr_is_not_an_rtt)
{
	struct h_peer p;
	struct h_app_conn *a = connect_peer(&p, 40000, 1, 7, 1);
	cr_assert_eq(h_app_send(a, D, 100), 100);
	h_peer_take(&p, seg(&p));
	p.tsecr = (uint32_t)(h_now() / H_MS) - 0x7ff00000u;  /* "sent" 24 days ago */
	peer_ack(&p);
	cr_assert_eq(h_app_send(a, D + 100, 100), 100);
	uint32_t s = seg(&p)->seq;
	h_advance_ms(1001);                     /* the RTO is still at most 1 s */
	cr_assert_eq(seg(&p)->seq, s, "an absurd timestamp echo set the RTO");
}

/* ---------------------------------------------------------------- reordering */
Test(tcp, reordering_is_repaired_in_order)
{
	struct h_peer p;
	struct h_app_conn *a = connect_peer(&p, 40000, 1, 7, 1);
	uint32_t s = p.seq;
	h_peer_send_at(&p, s + 100, TCP_ACK, D + 100, 100);        /* segment 2 first */
	cr_assert_eq(a->rxlen, 0, "delivered out of order");
	struct h_pkt *k = seg(&p);
	cr_assert_eq(k->flags, TCP_ACK, "no duplicate ACK for the hole");
	cr_assert_eq(k->ack, s);
	cr_assert_eq(H_STAT(tcp_ooo), 1);
	h_peer_send_at(&p, s + 100, TCP_ACK, D + 100, 100);        /* again: a duplicate */
	cr_assert_eq(seg(&p)->ack, s);
	h_peer_send_at(&p, s, TCP_ACK, D, 100);                    /* segment 1 */
	p.seq = s + 200;
	cr_assert_eq(a->rxlen, 200);
	cr_assert_eq(memcmp(a->rx, D, 200), 0);
	k = seg(&p);                            /* filling a hole: ACK now */
	cr_assert_eq(k->ack, s + 200, "the ACK after the hole filled");
	no_seg(&p);
}

Test(tcp, reordering_with_overlaps)
{
	struct h_peer p;
	struct h_app_conn *a = connect_peer(&p, 40000, 1, 7, 1);
	uint32_t s = p.seq;
	h_peer_send_at(&p, s + 300, TCP_ACK, D + 300, 100);
	h_peer_send_at(&p, s + 150, TCP_ACK, D + 150, 200);        /* overlaps the next */
	h_peer_send_at(&p, s + 100, TCP_ACK, D + 100, 100);
	h_tx_drop_all();
	h_peer_send_at(&p, s, TCP_ACK, D, 120);                    /* overlaps one queued */
	p.seq = s + 400;
	cr_assert_eq(a->rxlen, 400);
	cr_assert_eq(memcmp(a->rx, D, 400), 0, "reassembled wrong");
	h_peer_send(&p, TCP_ACK, D + 400, 100);                    /* and on in order */
	cr_assert_eq(a->rxlen, 500);
	cr_assert_eq(memcmp(a->rx, D, 500), 0);
}

Test(tcp, app_aborts_while_the_ooo_queue_drains)
{
	struct h_peer p;
	struct h_app_conn *a = connect_peer(&p, 40000, 1, 7, 1);
	uint32_t s = p.seq;
	a->abort_on_recv = 2;                   /* on the queued segment's delivery */
	/* segments past OOO_SMALL (512 bytes), so that each keeps its own
	 * buffer and the second is still queued when the app aborts */
	h_peer_send_at(&p, s + 1000, TCP_ACK, D + 1000, 1000);
	h_peer_send_at(&p, s + 2000, TCP_ACK, D + 2000, 1000);
	h_tx_drop_all();
	h_peer_send_at(&p, s, TCP_ACK, D, 1000);
	cr_assert(a->gone, "abort did not end the connection");
	cr_assert_eq(a->gone_reason, ECONNABORTED);
	cr_assert_eq(a->rxlen, 2000);
	cr_assert_eq(net_tcp_conns(0), 0);
	h_assert_clean();
}

Test(tcp, app_updates_while_the_ooo_queue_drains)
{
	struct h_peer p;
	struct h_app_conn *a = connect_peer(&p, 40000, 1, 7, 1);
	uint32_t s = p.seq;
	a->update_on_recv = 1;                  /* tcp_recv_update from recv */
	h_peer_send_at(&p, s + 100, TCP_ACK, D + 100, 100);
	h_peer_send_at(&p, s, TCP_ACK, D, 100);
	cr_assert_eq(a->rxlen, 200);
	h_assert_clean();
	/* the queue still works: another hole, filled */
	uint64_t ooo0 = H_STAT(tcp_ooo);
	h_peer_send_at(&p, s + 300, TCP_ACK, D + 300, 100);
	cr_assert_eq(H_STAT(tcp_ooo), ooo0 + 1, "out-of-order segments refused after the drain");
	h_peer_send_at(&p, s + 200, TCP_ACK, D + 200, 100);
	p.seq = s + 400;
	cr_assert_eq(a->rxlen, 400);
	cr_assert_eq(memcmp(a->rx, D, 400), 0);
	cr_assert_eq(H_STAT(drop_tcp_ooo_full), 0);
}

/* ---------------------------------------------------------------- fast retransmit */
Test(tcp, three_duplicate_acks_retransmit)
{
	struct h_peer p;
	struct h_app_conn *a = connect_peer(&p, 40000, 1, 7, 1);
	uint32_t s0 = p.ack;
	cr_assert_eq(h_app_send(a, D, 5 * SMSS_TS), 5 * SMSS_TS);
	int n = 0;
	while (h_peer_recv(&p, &K))
		n++;
	cr_assert_eq(n, 5);
	p.ack = s0 + SMSS_TS;                   /* the second segment was lost */
	peer_ack(&p);
	no_seg(&p);
	peer_ack(&p);                           /* dup 1 */
	peer_ack(&p);                           /* dup 2 */
	no_seg(&p);
	peer_ack(&p);                           /* dup 3 */
	struct h_pkt *k = seg(&p);
	cr_assert_eq(k->seq, s0 + SMSS_TS, "fast retransmit of the wrong segment");
	cr_assert_eq(k->plen, SMSS_TS);
	cr_assert_eq(memcmp(k->payload, D + SMSS_TS, SMSS_TS), 0);
	cr_assert_eq(H_STAT(tcp_retrans), 1);
	peer_ack(&p);                           /* dup 4: no second retransmit */
	no_seg(&p);
	p.ack = s0 + 5 * SMSS_TS;               /* everything */
	peer_ack(&p);
	no_seg(&p);
	h_advance_ms(5000);
	no_seg(&p);
	cr_assert_eq(H_STAT(tcp_retrans), 1);
	cr_assert_eq(tcp_send_space(a->c), 65536);
}

Test(tcp, partial_ack_in_recovery_retransmits_the_next_hole)
{
	struct h_peer p;
	struct h_app_conn *a = connect_peer(&p, 40000, 1, 7, 1);
	uint32_t s0 = p.ack;
	cr_assert_eq(h_app_send(a, D, 6 * SMSS_TS), 6 * SMSS_TS);
	while (h_peer_recv(&p, &K))
		;
	p.ack = s0 + SMSS_TS;                   /* segments 2 and 4 lost */
	for (int i = 0; i < 4; i++)
		peer_ack(&p);
	cr_assert_eq(seg(&p)->seq, s0 + SMSS_TS);
	p.ack = s0 + 3 * SMSS_TS;               /* a partial ACK: up to the next hole */
	peer_ack(&p);
	struct h_pkt *k = seg(&p);
	cr_assert_eq(k->seq, s0 + 3 * SMSS_TS, "NewReno: the next hole at once");
	p.ack = s0 + 6 * SMSS_TS;
	peer_ack(&p);
	h_advance_ms(5000);
	no_seg(&p);
}

/* ---------------------------------------------------------------- windows */
Test(tcp, window_scaling_both_ways)
{
	struct h_peer p;
	struct h_app_conn *a = connect_peer(&p, 40000, 1, 7, 1);
	p.win = 8;                              /* << 7: 1024 bytes */
	peer_ack(&p);
	cr_assert_eq(h_app_send(a, D, 3000), 3000);
	struct h_pkt *k = seg(&p);
	cr_assert_eq(k->plen, 1024, "the peer's window is 8 << 7");
	cr_assert_eq(k->win, 32768, "our window is 256 KiB >> 3");
	h_peer_take(&p, k);
	no_seg(&p);
	peer_ack(&p);
	k = seg(&p);
	cr_assert_eq(k->plen, 1024);
	h_peer_take(&p, k);
	no_seg(&p);
	p.win = 2;                              /* 256 bytes */
	peer_ack(&p);
	k = seg(&p);
	cr_assert_eq(k->plen, 256);
	h_peer_take(&p, k);
	p.win = 1000;
	peer_ack(&p);
	k = seg(&p);
	cr_assert_eq(k->plen, 3000 - 2304);
	h_peer_take(&p, k);
	peer_ack(&p);
	no_seg(&p);
}

Test(tcp, unscaled_peer_window)
{
	struct h_peer p;
	struct h_app_conn *a = connect_peer(&p, 40000, 0, 0, 1);
	p.win = 1000;
	peer_ack(&p);
	cr_assert_eq(h_app_send(a, D, 3000), 3000);
	struct h_pkt *k = seg(&p);
	cr_assert_eq(k->plen, 1000, "the peer's window, unscaled");
	cr_assert_eq(k->win, 65535);
	h_peer_take(&p, k);
	no_seg(&p);
}

Test(tcp, zero_window_probes_then_resumes)
{
	struct h_peer p;
	struct h_app_conn *a = connect_peer(&p, 40000, 1, 7, 1);
	p.win = 0;
	peer_ack(&p);
	cr_assert_eq(h_app_send(a, D, 1000), 1000);
	no_seg(&p);                             /* the window is shut */
	h_advance_ms(999);
	no_seg(&p);
	h_advance_ms(2);
	struct h_pkt *k = seg(&p);
	cr_assert_eq(k->seq, p.ack, "the probe");
	cr_assert_eq(k->plen, 1);
	cr_assert_eq(k->payload[0], D[0]);
	peer_ack(&p);                           /* still shut */
	no_seg(&p);
	h_advance_ms(1997);
	no_seg(&p);
	h_advance_ms(4);                        /* backed off */
	k = seg(&p);
	cr_assert_eq(k->seq, p.ack);
	cr_assert_eq(k->plen, 1);
	p.win = 65535;                          /* the window opens */
	peer_ack(&p);
	k = seg(&p);
	cr_assert_eq(k->seq, p.ack);
	cr_assert_eq(k->plen, 1000);
	cr_assert_eq(memcmp(k->payload, D, 1000), 0);
	h_peer_take(&p, k);
	peer_ack(&p);
	h_advance_ms(10000);
	no_seg(&p);
}

Test(tcp, zero_window_probe_byte_accepted)
{
	struct h_peer p;
	struct h_app_conn *a = connect_peer(&p, 40000, 1, 7, 1);
	p.win = 0;
	peer_ack(&p);
	cr_assert_eq(h_app_send(a, D, 1000), 1000);
	h_advance_ms(1001);
	struct h_pkt *k = seg(&p);
	cr_assert_eq(k->plen, 1);
	h_peer_take(&p, k);                     /* the peer had room for it */
	p.win = 65535;
	peer_ack(&p);
	k = seg(&p);
	cr_assert_eq(k->flags & (TCP_SYN | TCP_FIN | TCP_RST), 0);
	cr_assert_eq(k->seq, p.ack, "the ACK of the probe byte was refused");
	cr_assert_eq(k->plen, 999);
	cr_assert_eq(memcmp(k->payload, D + 1, 999), 0);
	h_peer_take(&p, k);
	peer_ack(&p);
	h_advance_ms(10000);
	no_seg(&p);
	cr_assert_eq(tcp_send_space(a->c), 65536);
}

Test(tcp, zero_window_persists_while_the_peer_answers)
{
	struct h_peer p;
	struct h_app_conn *a = connect_peer(&p, 40000, 1, 7, 1);
	p.win = 0;
	peer_ack(&p);
	cr_assert_eq(h_app_send(a, D, 1000), 1000);
	for (int probe = 0; probe < 20; probe++) {
		int seen = 0;
		for (int s = 0; s < 130 && !seen; s++) {   /* an ARP refresh may cost one */
			h_advance_ms(1000);
			seen = h_peer_recv(&p, &K);
		}
		cr_assert(seen, "no probe %d", probe);
		cr_assert_not(K.flags & TCP_RST, "reset a peer that answers every probe (probe %d)", probe);
		cr_assert_eq(K.plen, 1);
		peer_ack(&p);
	}
	cr_assert_not(a->gone);
	p.win = 65535;
	peer_ack(&p);
	cr_assert_eq(seg(&p)->plen, 1000);
}

Test(tcp, app_receive_space_bounds_the_window)
{
	struct h_peer p;
	fill();
	h_peer_init(&p, 40000, H_PORT_SMALL, 1, 7, 1);
	cr_assert_eq(h_peer_connect(&p), 0);
	struct h_app_conn *a = p.app;
	cr_assert(a->small);
	uint32_t base = p.seq;
	for (int i = 0; i < 4; i++)             /* 5600 bytes at a 4096-byte app */
		h_peer_send(&p, TCP_ACK, D + 1400 * i, 1400);
	cr_assert_eq(a->rxlen, H_SMALL_ROOM, "delivered past recv_space");
	cr_assert_eq(memcmp(a->rx, D, H_SMALL_ROOM), 0);
	uint32_t last_ack = 0;
	uint16_t last_win = 1;
	while (h_peer_recv(&p, &K)) {
		last_ack = K.ack;
		last_win = K.win;
	}
	cr_assert_eq(last_ack, base + H_SMALL_ROOM, "acked what it did not take");
	cr_assert_eq(last_win, 0, "the window is not shut");
	/* the peer retransmits the segment that was cut short: its new part
	 * must wait for room too */
	h_peer_send_at(&p, base + 2800, TCP_ACK, D + 2800, 1400);
	cr_assert_eq(a->rxlen, H_SMALL_ROOM, "a partly old segment went past recv_space");
	h_tx_drop_all();
	/* room again: what the window let in but the app had no room for
	 * was kept, and goes to it now, acknowledged with the window open */
	h_app_read(a);
	struct h_pkt *k = seg(&p);
	cr_assert_eq(k->ack, base + 5600, "what the window let in was not kept");
	cr_assert_gt(k->win, 0);
	cr_assert_eq(a->rxlen, 5600);
	cr_assert_eq(memcmp(a->rx, D, 5600), 0);
	cr_assert_eq(H_STAT(drop_tcp_out_of_window), 0);
}

/* the last segment the peer has from us, every one before it read */
static struct h_pkt *last_seg(struct h_peer *p)
{
	cr_assert(h_peer_recv(p, &K), "no segment");
	static struct h_pkt L;
	do
		L = K;
	while (h_peer_recv(p, &K));
	return &L;
}

/* An app whose room goes to 0 while it answers (httpd, web, kv) and
 * comes back: the requests a pipelining peer sent meanwhile, within the
 * window it was offered, are kept (not acknowledged) and given to the
 * app when it has room, and one ACK says so with the window open: no
 * timer (the peer's retransmission or persist, ours) has to fire. */
Test(tcp, shut_window_reopens_and_keeps_what_came)
{
	struct h_peer p;
	fill();
	h_peer_init(&p, 40000, H_PORT_SMALL, 1, 7, 1);
	cr_assert_eq(h_peer_connect(&p), 0);
	struct h_app_conn *a = p.app;
	a->shut_on_recv = 1;
	uint32_t base = p.seq;
	h_peer_send(&p, TCP_ACK | TCP_PSH, D, 300);     /* a request: an answer starts */
	cr_assert(a->shut);
	cr_assert_eq(a->rxlen, 300);
	h_peer_send(&p, TCP_ACK | TCP_PSH, D + 300, 300); /* two more, pipelined */
	h_peer_send(&p, TCP_ACK | TCP_PSH, D + 600, 300);
	cr_assert_eq(a->rxlen, 300, "delivered while recv_space said 0");
	struct h_pkt *k = last_seg(&p);
	cr_assert_eq(k->ack, base + 300, "acknowledged what the app did not take");
	cr_assert_eq(k->win, 0, "the window is not shut");
	a->shut_on_recv = 0;
	h_app_reopen(a);                        /* the answer is out */
	k = last_seg(&p);
	cr_assert_eq(k->ack, base + 900, "what came while shut was not kept");
	cr_assert_gt(k->win, 0, "no window update");
	cr_assert_eq(a->rxlen, 900);
	cr_assert_eq(memcmp(a->rx, D, 900), 0);
	cr_assert_eq(H_STAT(drop_tcp_out_of_window), 0);
	h_peer_send(&p, TCP_ACK | TCP_PSH, D + 900, 300);  /* and the flow goes on */
	cr_assert_eq(a->rxlen, 1200);
	cr_assert_eq(memcmp(a->rx, D, 1200), 0);
}

/* An app that holds less than a segment (1024 bytes, MSS 1460): the
 * window reopening from 0 to all of it is worth an update (RFC 9293
 * 3.8.6.2.2: min(RCV.BUFF / 2, MSS)), or the peer would wait for its
 * persist timer on every buffer's worth. */
Test(tcp, small_buffer_window_reopens_with_an_update)
{
	struct h_peer p;
	fill();
	h_peer_init(&p, 40000, H_PORT_SMALL, 1, 7, 1);
	cr_assert_eq(h_peer_connect(&p), 0);
	struct h_app_conn *a = p.app;
	a->room = 1024;
	uint32_t base = p.seq;
	h_peer_send(&p, TCP_ACK, D, 512);       /* two segments: the ACK goes now */
	h_peer_send(&p, TCP_ACK | TCP_PSH, D + 512, 512);
	cr_assert_eq(a->rxlen, 1024);
	struct h_pkt *k = last_seg(&p);
	cr_assert_eq(k->ack, base + 1024);
	cr_assert_eq(k->win, 0);
	h_app_read(a);
	k = last_seg(&p);
	cr_assert_eq(k->ack, base + 1024);
	cr_assert_eq((uint32_t)k->win << p.our_wscale, 1024, "no window update (win %u)", k->win);
	h_peer_send(&p, TCP_ACK | TCP_PSH, D + 1024, 1024);
	cr_assert_eq(a->rxlen, 2048);
	cr_assert_eq(memcmp(a->rx, D, 2048), 0);
}

/* Receiver SWS avoidance stays: a window that grows by less than a
 * segment (of a 4 KiB buffer) gets no update of its own; one that
 * reaches a segment, from 0 or from below one, does. */
Test(tcp, window_updates_avoid_silly_windows)
{
	struct h_peer p;
	fill();
	h_peer_init(&p, 40000, H_PORT_SMALL, 0, 0, 1);  /* no scaling: exact windows */
	cr_assert_eq(h_peer_connect(&p), 0);
	struct h_app_conn *a = p.app;
	for (int i = 0; i < 4; i++)
		h_peer_send(&p, TCP_ACK, D + 1024 * i, 1024);
	cr_assert_eq(a->rxlen, H_SMALL_ROOM);
	cr_assert_eq(last_seg(&p)->win, 0);
	a->unread = H_SMALL_ROOM - 100;         /* it reads 100 bytes */
	tcp_recv_update(a->c);
	h_turn();
	no_seg(&p);
	a->unread = H_SMALL_ROOM - 1460;        /* a segment's worth */
	tcp_recv_update(a->c);
	h_turn();
	cr_assert_eq(last_seg(&p)->win, 1460);
	a->unread = H_SMALL_ROOM - 2000;        /* 540 more: nothing */
	tcp_recv_update(a->c);
	h_turn();
	no_seg(&p);
	a->unread = 0;                          /* all of it */
	tcp_recv_update(a->c);
	h_turn();
	cr_assert_eq(last_seg(&p)->win, H_SMALL_ROOM);
}

/* ---------------------------------------------------------------- close */
Test(tcp, passive_close)
{
	struct h_peer p;
	struct h_app_conn *a = connect_peer(&p, 40000, 1, 7, 1);
	h_peer_send(&p, TCP_ACK | TCP_FIN, "bye", 3);
	cr_assert_eq(a->rxlen, 3);
	cr_assert_eq(a->peer_closed, 1);
	struct h_pkt *k = seg(&p);
	cr_assert_eq(k->flags, TCP_ACK);
	cr_assert_eq(k->ack, p.seq, "the FIN is not acked");
	no_seg(&p);
	cr_assert_eq(net_tcp_conns(0), 1, "CLOSE_WAIT");
	cr_assert_eq(h_app_send(a, "ok", 2), 2, "CLOSE_WAIT still sends");
	k = seg(&p);
	cr_assert_eq(k->plen, 2);
	h_peer_take(&p, k);
	h_app_close(a);
	k = seg(&p);
	cr_assert_eq(k->flags, TCP_FIN | TCP_ACK, "LAST_ACK: our FIN");
	cr_assert_eq(k->seq, p.ack);
	h_peer_take(&p, k);
	cr_assert_not(a->gone);
	peer_ack(&p);
	cr_assert(a->gone, "gone after the last ACK");
	cr_assert_eq(a->gone_reason, 0);
	cr_assert_eq(net_tcp_conns(0), 0);
	no_seg(&p);
}

Test(tcp, passive_close_from_the_callback)
{
	struct h_peer p;
	struct h_app_conn *a = connect_peer(&p, 40000, 1, 7, 1);
	a->close_on_peer_close = 1;
	h_peer_send(&p, TCP_ACK | TCP_FIN, NULL, 0);
	int fin = 0;
	while (h_peer_recv(&p, &K)) {
		cr_assert_eq(K.ack, p.seq);
		if (K.flags & TCP_FIN) {
			fin = 1;
			h_peer_take(&p, &K);
		}
	}
	cr_assert(fin, "no FIN");
	peer_ack(&p);
	cr_assert(a->gone);
	cr_assert_eq(net_tcp_conns(0), 0);
}

Test(tcp, active_close)
{
	struct h_peer p;
	struct h_app_conn *a = connect_peer(&p, 40000, 1, 7, 1);
	cr_assert_eq(h_app_send(a, D, 3000), 3000);
	h_app_close(a);
	cr_assert_eq(h_app_send(a, D, 10), 0, "sent after close");
	uint32_t fin_seq = p.ack + 3000;
	int fin = 0;
	while (h_peer_recv(&p, &K)) {
		cr_assert_eq(K.seq, p.ack);
		h_peer_take(&p, &K);
		if (K.flags & TCP_FIN) {
			cr_assert_eq(K.seq, fin_seq, "FIN before the data");
			fin = 1;
		}
	}
	cr_assert(fin, "FIN_WAIT_1: no FIN");
	peer_ack(&p);                           /* FIN_WAIT_2 */
	no_seg(&p);
	cr_assert_not(a->gone);
	h_peer_send(&p, TCP_ACK | TCP_PSH, "late", 4);   /* FIN_WAIT_2 still receives */
	cr_assert_eq(a->rxlen, 4);
	h_peer_send(&p, TCP_ACK | TCP_FIN, NULL, 0);
	struct h_pkt *k = NULL;
	while (h_peer_recv(&p, &K))
		k = &K;
	cr_assert_not_null(k, "the peer's FIN is not acked");
	cr_assert_eq(k->ack, p.seq);
	cr_assert(a->gone, "the app hears gone on entering TIME_WAIT");
	cr_assert_eq(a->peer_closed, 1);
	cr_assert_eq(net_tcp_conns(0), 1, "TIME_WAIT holds the slot");
	h_peer_send_at(&p, p.seq - 1, TCP_ACK | TCP_FIN, NULL, 0);   /* the FIN again */
	k = seg(&p);
	cr_assert_eq(k->flags, TCP_ACK, "TIME_WAIT re-acks a repeated FIN");
	cr_assert_eq(k->ack, p.seq);
	h_advance_ms(1990);
	cr_assert_eq(net_tcp_conns(0), 1);
	h_advance_ms(20);
	cr_assert_eq(net_tcp_conns(0), 0, "TIME_WAIT lasts 2 s");
	no_seg(&p);
}

Test(tcp, fin_is_retransmitted)
{
	struct h_peer p;
	struct h_app_conn *a = connect_peer(&p, 40000, 1, 7, 1);
	h_app_close(a);
	struct h_pkt *k = seg(&p);
	uint32_t s = k->seq;
	cr_assert_eq(k->flags, TCP_FIN | TCP_ACK);
	h_advance_ms(1001);
	k = seg(&p);
	cr_assert_eq(k->flags, TCP_FIN | TCP_ACK);
	cr_assert_eq(k->seq, s);
	h_peer_take(&p, k);
	h_peer_send(&p, TCP_ACK | TCP_FIN, NULL, 0);
	h_advance_ms(2010);
	cr_assert_eq(net_tcp_conns(0), 0);
}

Test(tcp, simultaneous_close)
{
	struct h_peer p;
	struct h_app_conn *a = connect_peer(&p, 40000, 1, 7, 1);
	h_app_close(a);
	struct h_pkt *k = seg(&p);              /* our FIN, still on its way */
	cr_assert_eq(k->flags, TCP_FIN | TCP_ACK);
	uint32_t our_fin = k->seq;
	h_peer_send(&p, TCP_ACK | TCP_FIN, NULL, 0);   /* theirs crosses it */
	k = seg(&p);
	cr_assert_eq(k->flags & (TCP_ACK | TCP_SYN | TCP_RST), TCP_ACK);
	cr_assert_eq(k->ack, p.seq, "CLOSING: their FIN acked");
	cr_assert_eq(a->peer_closed, 1);
	cr_assert_eq(net_tcp_conns(0), 1);
	p.ack = our_fin + 1;                    /* ours arrives; they ack it */
	peer_ack(&p);
	cr_assert(a->gone);
	cr_assert_eq(net_tcp_conns(0), 1, "TIME_WAIT");
	h_advance_ms(2010);
	cr_assert_eq(net_tcp_conns(0), 0);
	no_seg(&p);
}

Test(tcp, close_with_data_unacked_then_reset_by_app)
{
	struct h_peer p;
	struct h_app_conn *a = connect_peer(&p, 40000, 1, 7, 1);
	cr_assert_eq(h_app_send(a, D, 100), 100);
	h_app_abort(a);
	int rst = 0;
	while (h_peer_recv(&p, &K))
		if (K.flags & TCP_RST) {
			rst = 1;
			cr_assert_eq(K.seq, p.ack + 100);
		}
	cr_assert(rst, "tcp_abort sent no RST");
	cr_assert(a->gone);
	cr_assert_eq(a->gone_reason, ECONNABORTED);
	cr_assert_eq(net_tcp_conns(0), 0);
	h_advance_ms(10000);
	no_seg(&p);
}

/* ---------------------------------------------------------------- RST */
Test(tcp, rst_at_rcv_nxt_kills)
{
	struct h_peer p;
	struct h_app_conn *a = connect_peer(&p, 40000, 1, 7, 1);
	h_peer_send_at(&p, p.seq, TCP_RST, NULL, 0);
	cr_assert(a->gone);
	cr_assert_eq(a->gone_reason, ECONNRESET);
	cr_assert_eq(net_tcp_conns(0), 0);
	no_seg(&p);
}

Test(tcp, rst_in_window_but_not_exact_gets_a_challenge_ack)
{
	struct h_peer p;
	struct h_app_conn *a = connect_peer(&p, 40000, 1, 7, 1);
	h_peer_send_at(&p, p.seq + 1000, TCP_RST, NULL, 0);
	struct h_pkt *k = seg(&p);
	cr_assert_eq(k->flags, TCP_ACK, "RFC 5961: a challenge ACK");
	cr_assert_eq(k->ack, p.seq);
	cr_assert_eq(k->seq, p.ack);
	cr_assert_not(a->gone);
	h_peer_send_at(&p, p.seq, TCP_RST | TCP_ACK, NULL, 0);  /* the peer's answer */
	cr_assert(a->gone);
}

Test(tcp, rst_out_of_window_is_ignored)
{
	struct h_peer p;
	struct h_app_conn *a = connect_peer(&p, 40000, 1, 7, 1);
	h_peer_send_at(&p, p.seq + 1000000, TCP_RST, NULL, 0);
	h_peer_send_at(&p, p.seq - 1000, TCP_RST, NULL, 0);
	no_seg(&p);                             /* RFC 5961 3.2: silently dropped */
	cr_assert_not(a->gone);
	h_peer_send(&p, TCP_ACK, "x", 1);       /* still works */
	cr_assert_eq(a->rxlen, 1);
}

Test(tcp, out_of_window_data_and_syn_get_acks)
{
	struct h_peer p;
	struct h_app_conn *a = connect_peer(&p, 40000, 1, 7, 1);
	h_peer_send_at(&p, p.seq + 1000000, TCP_ACK, D, 10);
	struct h_pkt *k = seg(&p);
	cr_assert_eq(k->flags, TCP_ACK);
	cr_assert_eq(k->ack, p.seq);
	h_peer_send_at(&p, p.seq + 5, TCP_SYN, NULL, 0);   /* SYN in ESTABLISHED */
	k = seg(&p);
	cr_assert_eq(k->flags, TCP_ACK, "challenge ACK for a SYN");
	cr_assert_not(a->gone);
	p.ack += 5000;                          /* acks what we never sent */
	peer_ack(&p);
	k = seg(&p);
	cr_assert_eq(k->flags, TCP_ACK);
	cr_assert_eq(k->seq, p.ack - 5000);
	cr_assert_eq(a->rxlen, 0);
	cr_assert_not(a->gone);
}

Test(tcp, segments_to_a_closed_port_get_rst)
{
	struct h_peer q;
	h_peer_init(&q, 40000, 9, 0, 0, 0);
	h_peer_send_at(&q, 1000, TCP_SYN, NULL, 0);
	struct h_pkt *k = seg(&q);
	cr_assert_eq(k->flags, TCP_RST | TCP_ACK);
	cr_assert_eq(k->seq, 0);
	cr_assert_eq(k->ack, 1001);
	q.ack = 5555;
	h_peer_send_at(&q, 1001, TCP_ACK, D, 10);
	k = seg(&q);
	cr_assert_eq(k->flags, TCP_RST, "RST for an ACK: seq = its ack");
	cr_assert_eq(k->seq, 5555);
	h_peer_send_at(&q, 100, TCP_FIN | TCP_PSH, D, 10);
	k = seg(&q);
	cr_assert_eq(k->flags, TCP_RST | TCP_ACK);
	cr_assert_eq(k->ack, 100 + 10 + 1, "the FIN counts");
	h_peer_send_at(&q, 100, TCP_RST, NULL, 0);
	no_seg(&q);                             /* never a RST for a RST */
	cr_assert_eq(H_STAT(drop_tcp_no_conn), 4);
	cr_assert_eq(H_STAT(tcp_rst_out), 3);
	cr_assert_eq(net_tcp_conns(0), 0);
}

Test(tcp, stray_ack_to_the_listener_gets_rst)
{
	struct h_peer q;
	h_peer_init(&q, 40000, H_PORT, 0, 0, 0);
	q.ack = 0xdeadbeef;
	h_peer_send(&q, TCP_ACK, NULL, 0);
	struct h_pkt *k = seg(&q);
	cr_assert_eq(k->flags, TCP_RST);
	cr_assert_eq(k->seq, 0xdeadbeef);
	cr_assert_eq(net_tcp_conns(0), 0);
	h_peer_send(&q, TCP_ACK | TCP_FIN, NULL, 0);     /* no SYN, no conn: RST */
	cr_assert_eq(seg(&q)->flags, TCP_RST);
	h_peer_send(&q, TCP_PSH, "x", 1);                /* no ACK, no SYN: dropped */
	no_seg(&q);
}

Test(tcp, app_refusal_resets)
{
	struct h_peer p;
	h_app_refuse = 1;
	h_peer_init(&p, 40000, H_PORT, 1, 7, 1);
	h_peer_syn(&p);
	struct h_pkt *k = seg(&p);
	p.iss = k->seq;
	p.ack = k->seq + 1;
	peer_ack(&p);
	k = seg(&p);
	cr_assert(k->flags & TCP_RST, "a refused connection is reset");
	cr_assert_eq(k->seq, p.ack);
	cr_assert_eq(net_tcp_conns(0), 0);
	h_advance_ms(5000);
	no_seg(&p);
}

/* ---------------------------------------------------------------- SYN cookies */
Test(tcp, syn_cookies_when_the_backlog_is_full)
{
	struct h_peer half[4], p;
	fill();
	/* max_conns_per_core 8: cookies past 4 half-open connections */
	for (int i = 0; i < 4; i++) {
		h_peer_init(&half[i], (uint16_t)(41000 + i), H_PORT, 1, 7, 1);
		h_peer_syn(&half[i]);
		struct h_pkt *k = seg(&half[i]);
		cr_assert_eq(k->flags, TCP_SYN | TCP_ACK);
		cr_assert_eq(k->wscale, 3);
	}
	cr_assert_eq(net_tcp_conns(0), 4);
	cr_assert_eq(H_STAT(tcp_syncookies), 0);
	h_peer_init(&p, 41004, H_PORT, 1, 7, 1);
	h_peer_syn(&p);
	struct h_pkt *k = seg(&p);
	cr_assert_eq(k->flags, TCP_SYN | TCP_ACK);
	cr_assert_eq(k->ack, p.seq);
	cr_assert_eq(k->mss, 1460, "the cookie keeps the MSS");
	cr_assert_eq(k->wscale, -1, "a cookie SYN-ACK offers no options it cannot keep");
	cr_assert_not(k->ts);
	cr_assert_eq(H_STAT(tcp_syncookies), 1);
	cr_assert_eq(net_tcp_conns(0), 4, "a cookie holds no state");
	p.iss = k->seq;
	p.ack = k->seq + 1;
	p.ws = p.ts = 0;
	h_peer_send(&p, TCP_ACK, "hi", 2);      /* the third step, with data */
	struct h_app_conn *a = h_app_last();
	cr_assert_not_null(a, "the cookie was not accepted");
	cr_assert_not_null(a->c);
	cr_assert_eq(a->rxlen, 2);
	cr_assert_eq(net_tcp_conns(0), 5);
	cr_assert_eq(H_STAT(tcp_syncookies), 2, "counted when made and when used");
	k = seg(&p);
	cr_assert_eq(k->ack, p.seq);
	cr_assert_eq(h_app_send(a, D, 2000), 2000);
	k = seg(&p);
	cr_assert_eq(k->seq, p.ack);
	cr_assert_eq(k->plen, 1460, "the cookie's MSS, no timestamps");
	cr_assert_eq(k->win, 65535, "no window scaling");
	h_peer_take(&p, k);
	k = seg(&p);
	cr_assert_eq(k->plen, 540);
	h_peer_take(&p, k);
	peer_ack(&p);
	no_seg(&p);

	/* a forged third step is reset */
	struct h_peer f;
	h_peer_init(&f, 41005, H_PORT, 0, 0, 0);
	h_peer_syn(&f);
	k = seg(&f);
	f.ack = k->seq + 2;
	peer_ack(&f);
	k = seg(&f);
	cr_assert_eq(k->flags, TCP_RST);
	cr_assert_eq(net_tcp_conns(0), 5);
}

/* ---------------------------------------------------------------- bad input */
Test(tcp, nonsense_flags_and_bad_checksums_are_dropped)
{
	struct h_tcp s = { .sport = 40000, .dport = H_PORT, .seq = 1000, .win = 65535 };
	s.flags = TCP_SYN | TCP_FIN;
	h_rx_tcp(&s);
	s.flags = TCP_SYN | TCP_RST;
	h_rx_tcp(&s);
	s.flags = 0;
	h_rx_tcp(&s);
	cr_assert_eq(H_STAT(drop_bad_tcp), 3);
	s.flags = TCP_SYN;
	s.bad_csum = 1;
	h_rx_tcp(&s);
	cr_assert_eq(H_STAT(drop_bad_tcp_csum), 1);
	cr_assert_eq(h_tx_count(), 0, "answered nonsense");
	cr_assert_eq(net_tcp_conns(0), 0);
	cr_assert_eq(H_STAT(tcp_in), 0);

	static const uint8_t bad_opts[][4] = {
		{ TCPOPT_MSS, 0, 0, 0 },        /* length 0 */
		{ TCPOPT_MSS, 8, 0, 0 },        /* past the header */
		{ TCPOPT_NOP, TCPOPT_NOP, TCPOPT_NOP, TCPOPT_TS },  /* cut short */
	};
	s.bad_csum = 0;
	for (int i = 0; i < 3; i++) {
		s.opts = bad_opts[i];
		s.optlen = 4;
		h_rx_tcp(&s);
	}
	cr_assert_eq(H_STAT(drop_bad_tcp), 6);
	cr_assert_eq(h_tx_count(), 0);

	/* data offsets under 20 and past the segment */
	uint8_t m[20] = { 0 };
	struct tcp_hdr *h = (void *)m;
	h->sport = htons(40000);
	h->dport = htons(H_PORT);
	h->flags = TCP_SYN;
	h->off = 4 << 4;
	h_rx_ip(H_PEER_IP, IP_PROTO_TCP, m, 20);
	h->off = 6 << 4;
	h_rx_ip(H_PEER_IP, IP_PROTO_TCP, m, 20);
	h_rx_ip(H_PEER_IP, IP_PROTO_TCP, m, 12);          /* shorter than a header */
	cr_assert_eq(H_STAT(drop_bad_tcp), 9);
	cr_assert_eq(h_tx_count(), 0);
}

Test(tcp, bad_segments_on_a_connection_are_dropped)
{
	struct h_peer p;
	struct h_app_conn *a = connect_peer(&p, 40000, 1, 7, 1);
	struct h_tcp s = { .sport = 40000, .dport = H_PORT, .seq = p.seq, .ack = p.ack,
			   .flags = TCP_ACK, .win = 100, .data = "data", .len = 4, .bad_csum = 1 };
	h_rx_tcp(&s);
	s.bad_csum = 0;
	s.flags = TCP_ACK | TCP_SYN | TCP_FIN;
	h_rx_tcp(&s);
	s.flags = 0;
	h_rx_tcp(&s);
	s.flags = TCP_ACK;
	s.len = 0;
	s.seq = p.seq;
	no_seg(&p);
	cr_assert_eq(a->rxlen, 0);
	cr_assert_eq(H_STAT(drop_bad_tcp_csum), 1);
	cr_assert_eq(H_STAT(drop_bad_tcp), 2);
	cr_assert_not(a->gone);
	h_peer_send(&p, TCP_ACK, "ok", 2);
	cr_assert_eq(a->rxlen, 2);
}

/* The app entry points belong to the connection's owner core: a
 * connection that is not one of this core's slots (another core's, or
 * none at all) is our own bug and stops the core before it is touched. */
static struct tcp_conn *not_a_slot(void)
{
	static uint64_t fake[1024];             /* outside every core's table */
	return (struct tcp_conn *)fake;
}

Test(tcp, send_on_a_foreign_connection_stops_the_core, .signal = SIGABRT)
{
	tcp_send(not_a_slot(), "x", 1);
	cr_assert_fail("tcp_send came back");
}

Test(tcp, close_on_a_foreign_connection_stops_the_core, .signal = SIGABRT)
{
	tcp_close(not_a_slot());
	cr_assert_fail("tcp_close came back");
}

Test(tcp, abort_on_a_foreign_connection_stops_the_core, .signal = SIGABRT)
{
	tcp_abort(not_a_slot());
	cr_assert_fail("tcp_abort came back");
}
