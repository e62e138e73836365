/*
 * test_tso.c — TCP with the device's transmit offloads, on the host
 * harness: the fake device offers CSUM and HOST_TSO4 and captures TSO
 * frames whole (h_tso_raw), so the tests see what the driver would put in
 * the virtio-net header (gso_size, hdr_len, csum_start/offset), the
 * pseudo-header sum the device expects in the checksum field (the harness
 * counts h_dev_bad_partial when it is wrong) and the frame's bytes, which
 * must be the send buffer's.
 *
 * The whole TCP suite also runs with offloads on (H_OFFLOAD=tso, the
 * device cutting the frames): see docs/net.md.
 */
#include <stdio.h>
#include <string.h>
#include "check.h"

#define SMSS_TS 1448                    /* 1460 less the timestamp option */
#define HDRS_TS (14 + 20 + 32)          /* Ethernet, IPv4, TCP with timestamps */

static uint8_t D[300000];
static struct h_pkt K;

static void fill(void)
{
	for (size_t i = 0; i < sizeof D; i++)
		D[i] = (uint8_t)((i * 131 + i / 251 + 7) & 0xff);
}

static void tso_setup(void)
{
	h_dev_offloads = NETDEV_TX_CSUM | NETDEV_TX_TSO4;
	h_tso_raw = 1;
	cr_assert_eq(h_init(NULL), 0, "h_init failed");
	fill();
}

TestSuite(tso, .init = tso_setup, .fini = h_teardown);

static struct h_app_conn *connect_peer(struct h_peer *p, uint16_t port, int ts)
{
	h_peer_init(p, port, H_PORT, 1, 7, ts);
	cr_assert_eq(h_peer_connect(p), 0, "handshake failed");
	struct h_pkt k;
	cr_assert_eq(h_peer_recv(p, &k), 0, "a segment after the handshake");
	return p->app;
}

static void peer_ack(struct h_peer *p) { h_peer_send(p, TCP_ACK, NULL, 0); }

/* the checks every frame of ours must pass; returns its stream offset */
static uint32_t check_frame(struct h_peer *p, const struct h_pkt *k, int ts)
{
	cr_assert(k->ip_csum_ok, "bad IP checksum");
	cr_assert(k->csum_partial, "the checksum was not left to the device");
	cr_assert_eq(k->csum_start, 14 + 20);
	cr_assert_eq(k->csum_offset, 16);
	cr_assert_eq(h_dev_bad_partial, 0, "the field did not hold the pseudo-header sum");
	cr_assert(k->l4_csum_ok, "the completed checksum is wrong");
	cr_assert_eq(ntohs(k->ip->len), k->len - 14, "IP length is not the whole frame's");
	uint32_t at = k->seq - p->iss - 1;
	cr_assert_eq(memcmp(k->payload, D + at, k->plen), 0, "frame bytes differ from the send buffer's");
	if (k->tso) {
		cr_assert_eq(k->gso_size, ts ? SMSS_TS : 1460);
		cr_assert_eq(k->hdr_len, ts ? HDRS_TS : HDRS_TS - 12);
		cr_assert_gt(k->plen, k->gso_size, "a TSO frame of one segment");
		if (k->hdr_len + k->plen > PKTBUF_DATA)
			cr_assert_gt(k->nbufs, 1, "a TSO frame larger than a buffer in one buffer");
	} else {
		cr_assert_leq(k->plen, ts ? SMSS_TS : 1460u);
	}
	return at;
}

Test(tso, bulk_data_leaves_in_tso_frames)
{
	struct h_peer p;
	struct h_app_conn *a = connect_peer(&p, 41000, 1);
	cr_assert_eq(h_app_send(a, D, 20000), 20000);
	/* the initial window (10 segments) in one frame, no PSH: more waits */
	cr_assert(h_peer_recv(&p, &K));
	check_frame(&p, &K, 1);
	cr_assert(K.tso);
	cr_assert_eq(K.seq, p.ack);
	cr_assert_eq(K.plen, 10 * SMSS_TS);
	cr_assert_eq(K.flags, TCP_ACK);
	cr_assert(K.ts);
	cr_assert_eq(h_tx_count(), 0, "more than one frame for the initial window");
	h_peer_take(&p, &K);
	peer_ack(&p);
	/* the rest, 5520 bytes: three full segments and a tail, PSH at the end */
	cr_assert(h_peer_recv(&p, &K));
	check_frame(&p, &K, 1);
	cr_assert(K.tso);
	cr_assert_eq(K.seq, p.ack);
	cr_assert_eq(K.plen, 20000 - 10 * SMSS_TS);
	cr_assert_eq(K.flags, TCP_ACK | TCP_PSH);
	h_peer_take(&p, &K);
	peer_ack(&p);
	cr_assert_eq(h_peer_recv(&p, &K), 0);
	cr_assert_eq(tcp_send_space(a->c), 65536, "acked data not released");
	cr_assert_eq(h_dev_tso_frames, 2);
}

Test(tso, without_timestamps)
{
	struct h_peer p;
	struct h_app_conn *a = connect_peer(&p, 41001, 0);
	cr_assert_eq(h_app_send(a, D, 8000), 8000);
	cr_assert(h_peer_recv(&p, &K));
	check_frame(&p, &K, 0);
	cr_assert(K.tso);
	cr_assert(!K.ts);
	cr_assert_eq(K.plen, 8000);
	cr_assert_eq(K.flags, TCP_ACK | TCP_PSH);
}

/* A long transfer through a 64 KiB send buffer: the ring wraps inside
 * frames, every byte arrives once and in order, frames stay within half
 * the send buffer, the peer's window and whole segments. */
Test(tso, long_transfer_across_the_send_buffer_wrap)
{
	struct h_peer p;
	struct h_app_conn *a = connect_peer(&p, 41002, 1);
	size_t sent = 0, got = 0;
	int frames = 0, tso = 0;
	for (int round = 0; round < 2000 && got < sizeof D; round++) {
		if (sent < sizeof D)
			sent += h_app_send(a, D + sent, sizeof D - sent);
		int any = 0;
		while (h_peer_recv(&p, &K)) {
			uint32_t at = check_frame(&p, &K, 1);
			cr_assert_eq(at, got, "out of order or resent: %u, expected %zu", at, got);
			cr_assert_leq(K.plen, 65536 / 2, "a frame over half the send buffer");
			if (K.tso && !(K.flags & TCP_PSH))
				cr_assert_eq(K.plen % SMSS_TS, 0, "a runt segment inside a stream");
			got += K.plen;
			frames++;
			tso += K.tso;
			h_peer_take(&p, &K);
			any = 1;
		}
		if (any)
			peer_ack(&p);           /* one ACK per burst, as a GRO receiver */
		else if (sent == got && sent == sizeof D)
			break;
		else
			h_advance_ms(1);
	}
	cr_assert_eq(got, sizeof D);
	cr_assert_gt(tso, 0);
	cr_assert_lt(frames, (int)(sizeof D / SMSS_TS / 4), "%d frames for %zu bytes: TSO barely used", frames, sizeof D);
	cr_assert_eq(H_STAT(tcp_retrans), 0);
	cr_assert_eq(tcp_send_space(a->c), 65536);
}

Test(tso, peer_window_bounds_a_frame)
{
	struct h_peer p;
	h_peer_init(&p, 41003, H_PORT, 0, 0, 1);
	p.win = 8000;                           /* unscaled */
	cr_assert_eq(h_peer_connect(&p), 0);
	cr_assert_eq(h_app_send(p.app, D, 30000), 30000);
	cr_assert(h_peer_recv(&p, &K));
	check_frame(&p, &K, 1);
	cr_assert(K.tso);
	cr_assert_eq(K.plen, 5 * SMSS_TS, "not the window's whole segments");
	cr_assert_eq(h_peer_recv(&p, &K), 0, "past the peer's window");
}

Test(tso, rto_resends_one_segment)
{
	struct h_peer p;
	struct h_app_conn *a = connect_peer(&p, 41004, 1);
	cr_assert_eq(h_app_send(a, D, 20000), 20000);
	cr_assert(h_peer_recv(&p, &K));         /* lost */
	cr_assert(K.tso);
	uint32_t s0 = K.seq;
	h_advance_ms(1001);
	cr_assert(h_peer_recv(&p, &K));
	check_frame(&p, &K, 1);
	cr_assert(!K.tso, "a whole frame resent after a timeout");
	cr_assert_eq(K.seq, s0);
	cr_assert_eq(K.plen, SMSS_TS);
	cr_assert_eq(h_peer_recv(&p, &K), 0);
	cr_assert_eq(H_STAT(tcp_retrans), 1);
	h_peer_take(&p, &K);
	peer_ack(&p);                           /* slow start again: 2 segments */
	cr_assert(h_peer_recv(&p, &K));
	check_frame(&p, &K, 1);
	cr_assert_eq(K.seq, s0 + SMSS_TS);
}

Test(tso, fast_retransmit_resends_one_segment)
{
	struct h_peer p;
	struct h_app_conn *a = connect_peer(&p, 41005, 1);
	uint32_t s0 = p.ack;
	cr_assert_eq(h_app_send(a, D, 10 * SMSS_TS), 10 * SMSS_TS);
	cr_assert(h_peer_recv(&p, &K));
	cr_assert(K.tso);
	p.ack = s0 + SMSS_TS;                   /* the second segment was lost */
	for (int i = 0; i < 4; i++)
		peer_ack(&p);                   /* an ACK, then three duplicates */
	cr_assert(h_peer_recv(&p, &K));
	check_frame(&p, &K, 1);
	cr_assert(!K.tso);
	cr_assert_eq(K.seq, s0 + SMSS_TS);
	cr_assert_eq(K.plen, SMSS_TS);
	cr_assert_eq(H_STAT(tcp_retrans), 1);
}

/* a device with CSUM and no TSO4: single segments, checksum offloaded */
Test(tso, csum_only_device)
{
	h_dev_offloads = NETDEV_TX_CSUM;
	struct h_peer p;
	struct h_app_conn *a = connect_peer(&p, 41006, 1);
	cr_assert_eq(h_app_send(a, D, 5000), 5000);
	int n = 0;
	while (h_peer_recv(&p, &K)) {
		check_frame(&p, &K, 1);
		cr_assert(!K.tso);
		cr_assert_eq(K.nbufs, 1);
		n++;
	}
	cr_assert_eq(n, 4);
	cr_assert_eq(h_dev_tso_frames, 0);
}

/* no offloads: the software checksum, as before */
Test(tso, no_offloads)
{
	h_dev_offloads = 0;
	struct h_peer p;
	struct h_app_conn *a = connect_peer(&p, 41007, 1);
	cr_assert_eq(h_app_send(a, D, 5000), 5000);
	int n = 0;
	while (h_peer_recv(&p, &K)) {
		cr_assert(!K.csum_partial);
		cr_assert(K.l4_csum_ok);
		cr_assert(!K.tso);
		n++;
	}
	cr_assert_eq(n, 4);
}

/* tcp.tso_max bounds the frame; 0 turns TSO off */
static void tso_init_cfg(const char *tcp)
{
	char cfg[256];
	snprintf(cfg, sizeof cfg, "{\"interfaces\": [{\"address\": \"198.18.0.2/24\", \"gateway\": "
		 "\"198.18.0.1\"}], \"tcp\": %s}", tcp);
	h_dev_offloads = NETDEV_TX_CSUM | NETDEV_TX_TSO4;
	h_tso_raw = 1;
	cr_assert_eq(h_init(cfg), 0);
	fill();
}
static void tso_setup_max5000(void) { tso_init_cfg("{\"max_conns_per_core\": 8, \"tso_max\": 5000}"); }
static void tso_setup_max0(void) { tso_init_cfg("{\"max_conns_per_core\": 8, \"tso_max\": 0}"); }

Test(tso_cfg, tso_max_bounds_a_frame, .init = tso_setup_max5000, .fini = h_teardown)
{
	struct h_peer p;
	struct h_app_conn *a = connect_peer(&p, 41008, 1);
	cr_assert_eq(h_app_send(a, D, 9 * SMSS_TS), 9 * SMSS_TS);
	int n = 0;
	while (h_peer_recv(&p, &K)) {
		check_frame(&p, &K, 1);
		cr_assert(K.tso);
		cr_assert_eq(K.plen, 3 * SMSS_TS, "frame of %u bytes with tso_max 5000", K.plen);
		n++;
	}
	cr_assert_eq(n, 3);
}

Test(tso_cfg, tso_max_0_turns_it_off, .init = tso_setup_max0, .fini = h_teardown)
{
	struct h_peer p;
	struct h_app_conn *a = connect_peer(&p, 41009, 1);
	cr_assert_eq(h_app_send(a, D, 5000), 5000);
	int n = 0;
	while (h_peer_recv(&p, &K)) {
		check_frame(&p, &K, 1);
		cr_assert(!K.tso);
		n++;
	}
	cr_assert_eq(n, 4);
}

/* the device takes less (a short TX ring): frames shrink to fit */
Test(tso, device_max_bounds_a_frame)
{
	h_dev_tso_max = 10000;
	struct h_peer p;
	struct h_app_conn *a = connect_peer(&p, 41010, 1);
	cr_assert_eq(h_app_send(a, D, 14480), 14480);
	while (h_peer_recv(&p, &K)) {
		check_frame(&p, &K, 1);
		cr_assert_leq(K.len, 10000u);
	}
}

/* frames dropped before the device (no ARP entry) give their whole
 * chain back: the teardown's leak check sees every buffer home */
Test(tso, dropped_frames_free_their_chains)
{
	struct h_peer p;
	struct h_app_conn *a = connect_peer(&p, 41011, 1);
	h_tx_drop_all();
	cr_assert_eq(h_app_send(a, D, 60000), 60000);
	h_tx_drop_all();                        /* every frame lost */
	h_advance_ms(1001);
	h_tx_drop_all();
	h_app_abort(a);
	h_assert_clean();
}
