/*
 * test_tcp_ref.c — zero-copy sends (tcp_send_ref) on the host harness:
 * referenced bytes reach the peer intact, in order with copied ones,
 * across many segments, loss and retransmission; the stack's references
 * all go (the count is back to the owner's 1) after the ACK, a reset, a
 * timeout and an abort; a shut window pins no more than the send
 * buffer's bound; an exhausted external-fragment pool is counted and
 * recovers; memory a device cannot see is sent as copies (counted).
 *
 * The suite runs again with the device's checksum offload and TSO
 * (H_OFFLOAD=tso, the Makefile's UNIT_OFFLOAD_BINS); without it every
 * segment's checksum is summed by the stack over the referenced memory
 * (the frames' l4_csum_ok is checked throughout).
 */
#include <stdio.h>
#include <string.h>
#include "check.h"

static uint8_t D[300000], D0[sizeof D];     /* the referenced memory, and a copy */
static uint8_t R[400000];              /* what the peer received, in order */
static size_t rlen;
static struct h_pkt K;
static struct pktbuf_ref REF;
static int released;

static void on_release(struct pktbuf_ref *r)
{
	cr_assert_eq(r, &REF);
	released++;
}

static void setup(void)
{
	h_setup();
	for (size_t i = 0; i < sizeof D; i++)
		D[i] = (uint8_t)((i * 131 + i / 251 + 7) & 0xff);
	memcpy(D0, D, sizeof D);
	pktbuf_ref_init(&REF, on_release, NULL);
	rlen = 0;
	released = 0;
}

static void teardown(void)
{
	h_app_abort_all();                      /* what is still queued goes with its connection */
	h_tx_drop_all();
	cr_assert_eq(memcmp(D, D0, sizeof D), 0, "the stack wrote into referenced memory");
	cr_assert_eq(pktbuf_ref_count(&REF), 1, "the stack still holds %u references",
		     pktbuf_ref_count(&REF) - 1);
	h_teardown();
}

TestSuite(tcp_ref, .init = setup, .fini = teardown);

static struct h_app_conn *connect_peer(struct h_peer *p, uint16_t port)
{
	h_peer_init(p, port, H_PORT, 1, 7, 1);
	cr_assert_eq(h_peer_connect(p), 0, "handshake failed");
	struct h_pkt k;
	cr_assert_eq(h_peer_recv(p, &k), 0, "a segment after the handshake");
	return p->app;
}

static size_t send_ref(struct h_app_conn *a, const void *d, size_t len)
{
	size_t n = a->c ? tcp_send_ref(a->c, d, len, &REF) : 0;
	h_turn();
	return n;
}

static void peer_ack(struct h_peer *p) { h_peer_send(p, TCP_ACK, NULL, 0); }

/* Pops what we sent; in-order segments go to R (every `lose`-th one is
 * dropped instead: lose 0 drops none). Returns segments popped. */
static int peer_drain(struct h_peer *p, int lose, int *nth)
{
	int n = 0;
	while (h_peer_recv(p, &K)) {
		n++;
		cr_assert(K.ip_csum_ok && K.l4_csum_ok, "a bad checksum (seq %u, %u bytes)", K.seq, K.plen);
		if (lose && ++*nth % lose == 0)
			continue;
		if (K.seq == p->ack && K.plen) {
			cr_assert_leq(rlen + K.plen, sizeof R);
			memcpy(R + rlen, K.payload, K.plen);
			rlen += K.plen;
		}
		h_peer_take(p, &K);
	}
	return n;
}

/* The peer takes and acknowledges what comes until it holds n bytes,
 * letting time pass (idle_ms) when nothing does; at most tries rounds. */
static void peer_take_until(struct h_peer *p, size_t n, int tries, uint64_t idle_ms)
{
	int nth = 0;
	for (int i = 0; i < tries && rlen < n; i++) {
		if (peer_drain(p, 0, &nth))
			peer_ack(p);
		else
			h_advance_ms(idle_ms);
	}
	cr_assert_eq(rlen, n, "%zu of %zu bytes arrived", rlen, n);
}

/* A response as the httpd sends one, many times over: a copied header of
 * odd length, then a referenced body, with loss; every byte arrives once,
 * in order, and the references all go once acknowledged. */
Test(tcp_ref, header_copied_body_referenced_with_loss)
{
	struct h_peer p;
	struct h_app_conn *a = connect_peer(&p, 42000);
	static uint8_t want[sizeof R];
	size_t wlen = 0, body_at = 0, hdr_at = 0, in_body = 0;
	const char *hdr = "HTTP/1.1 200 OK\r\nX: 1\r\n\r\n";     /* 25 bytes: odd */
	int nth = 0;
	for (int round = 0; round < 20000 && (wlen < 280000 || rlen < wlen); round++) {
		/* fill the queue: a header, then a body of 20011 bytes */
		while (wlen < 280000) {
			size_t n;
			if (!in_body) {
				size_t hl = strlen(hdr);
				n = a->c ? tcp_send(a->c, hdr + hdr_at, hl - hdr_at) : 0;
				memcpy(want + wlen, hdr + hdr_at, n);
				hdr_at += n;
				wlen += n;
				if (hdr_at == hl) {
					hdr_at = 0;
					in_body = 20011;
				}
			} else {
				size_t left = in_body < sizeof D - body_at ? in_body : sizeof D - body_at;
				n = a->c ? tcp_send_ref(a->c, D + body_at, left, &REF) : 0;
				memcpy(want + wlen, D + body_at, n);
				body_at = (body_at + n) % (sizeof D - 20011);
				in_body -= n;
				wlen += n;
			}
			if (!n)
				break;
		}
		h_turn();
		if (peer_drain(&p, 13, &nth))
			peer_ack(&p);
		else
			h_advance_ms(50);
	}
	cr_assert_eq(rlen, wlen, "%zu of %zu bytes arrived", rlen, wlen);
	size_t bad = 0;
	while (bad < wlen && R[bad] == want[bad])
		bad++;
	cr_assert_eq(bad, wlen, "the bytes differ from offset %zu", bad);
	cr_assert_gt(H_STAT(tcp_retrans), 0, "no loss was repaired");
	cr_assert_gt(H_STAT(tcp_ref_bytes), 200000);
	cr_assert_gt(H_STAT(tcp_copy_bytes), 0);
	cr_assert_eq(H_STAT(tcp_ref_copy_fallback), 0);
	cr_assert_eq(pktbuf_ref_count(&REF), 1, "references left after every byte was acknowledged");
	cr_assert_eq(tcp_send_space(a->c), 65536);
	pktbuf_ref_put(&REF);                   /* the owner's own: released now */
	cr_assert_eq(released, 1);
	pktbuf_ref_get(&REF);                   /* (for the teardown's check) */
}

/* Small pieces of both kinds, alternating: more extents than a
 * connection holds at once, and runs that continue the last extent. */
Test(tcp_ref, mixed_small_pieces_keep_byte_order)
{
	struct h_peer p;
	struct h_app_conn *a = connect_peer(&p, 42001);
	static uint8_t want[sizeof R];
	static uint8_t C[64];
	size_t wlen = 0, at = 0;
	int nth = 0, refused = 0;
	for (int i = 0; i < 3000 && wlen < 100000; i++) {
		size_t n;
		if (i % 3 == 0) {
			for (size_t j = 0; j < sizeof C; j++)
				C[j] = (uint8_t)(i + j);
			n = tcp_send(a->c, C, 1 + i % 61);
			memcpy(want + wlen, C, n);
		} else {
			/* i % 3 == 2 continues the extent i % 3 == 1 began */
			n = tcp_send_ref(a->c, D + at, 1 + (i * 7) % 997, &REF);
			memcpy(want + wlen, D + at, n);
			at += n;
			if (!n)
				refused++;
		}
		wlen += n;
		h_turn();
		if (i % 40 == 39 && peer_drain(&p, 0, &nth))
			peer_ack(&p);
	}
	peer_take_until(&p, wlen, 200, 50);
	cr_assert_gt(refused, 0, "the extents never ran out: the test misses that path");
	cr_assert_eq(memcmp(R, want, wlen), 0, "the bytes differ (order of copied and referenced runs)");
	cr_assert_eq(pktbuf_ref_count(&REF), 1);
}

Test(tcp_ref, references_go_on_reset)
{
	struct h_peer p;
	struct h_app_conn *a = connect_peer(&p, 42002);
	cr_assert_eq(send_ref(a, D, 50000), 50000);
	cr_assert_gt(pktbuf_ref_count(&REF), 1);
	h_tx_drop_all();                        /* the frames: reclaimed */
	cr_assert_eq(pktbuf_ref_count(&REF), 2, "one reference for the queued extent");
	h_peer_send(&p, TCP_RST, NULL, 0);
	cr_assert(a->gone);
	cr_assert_eq(pktbuf_ref_count(&REF), 1);
}

Test(tcp_ref, references_go_on_abort)
{
	struct h_peer p;
	struct h_app_conn *a = connect_peer(&p, 42003);
	cr_assert_eq(send_ref(a, D, 30000), 30000);
	h_app_abort(a);
	cr_assert(a->gone);
	h_tx_drop_all();
	cr_assert_eq(pktbuf_ref_count(&REF), 1);
}

Test(tcp_ref, references_go_on_timeout)
{
	struct h_peer p;
	struct h_app_conn *a = connect_peer(&p, 42004);
	cr_assert_eq(send_ref(a, D, 5000), 5000);
	for (int i = 0; i < 2000 && !a->gone; i++) {
		h_tx_drop_all();                /* every segment lost */
		h_advance_ms(1000);
	}
	cr_assert(a->gone, "no timeout");
	cr_assert_geq(H_STAT(tcp_timeouts), 1);
	h_tx_drop_all();
	cr_assert_eq(pktbuf_ref_count(&REF), 1);
}

/* A peer that shuts its window: the app offers a whole "file", the stack
 * takes no more than the send buffer's bound and sends no more than the
 * window; what it holds is one extent. */
Test(tcp_ref, shut_window_bounds_what_is_held)
{
	struct h_peer p;
	h_peer_init(&p, 42005, H_PORT, 0, 0, 1);
	p.win = 4000;                           /* unscaled */
	cr_assert_eq(h_peer_connect(&p), 0);
	struct h_app_conn *a = p.app;
	size_t took = 0;
	for (int i = 0; i < 10; i++)
		took += send_ref(a, D + took, sizeof D - took);
	cr_assert_eq(took, 65536, "took %zu bytes of a %zu-byte file", took, sizeof D);
	int nth = 0;
	peer_drain(&p, 0, &nth);
	cr_assert_leq(rlen, 4000, "sent past the window");
	p.win = 0;
	peer_ack(&p);                           /* acknowledges what came: room for as much */
	took += send_ref(a, D + took, sizeof D - took);
	cr_assert_eq(took, 65536 + rlen, "the queue is not bounded by the send buffer");
	cr_assert_eq(a->writable, 1, "the acknowledged room came back without writable");
	a->writable = 0;
	for (int i = 0; i < 20; i++) {
		h_advance_ms(1000);
		h_tx_drop_all();                /* probes: not taken */
		peer_ack(&p);
		cr_assert_eq(send_ref(a, D + took, 1000), 0);
	}
	h_tx_drop_all();
	cr_assert_eq(pktbuf_ref_count(&REF), 2, "one reference for the queue's one extent");
	cr_assert_eq(a->writable, 0);
	p.win = 65535;
	for (int i = 0; i < 100 && !a->writable; i++) {
		peer_drain(&p, 0, &nth);
		peer_ack(&p);
	}
	cr_assert(a->writable, "no writable once the window opened");
	cr_assert_eq(memcmp(R, D, rlen), 0);
}

/* Every external fragment of the core taken: the segment is not sent
 * (counted), and goes once fragments come back. */
Test(tcp_ref, ext_fragment_exhaustion_is_counted_and_recovers)
{
	struct h_peer p;
	struct h_app_conn *a = connect_peer(&p, 42006);
	struct pktbuf_pool *pool = pktbuf_pool_of(0);
	static struct pktbuf *held[4096];
	unsigned n = 0;
	struct pktbuf *f;
	while (n < 4096 && (f = pktbuf_ext_alloc(pool, D, 1, &REF)))
		held[n++] = f;
	cr_assert_eq(n, pool->ext_count);
	cr_assert_eq(pool->ext_alloc_fail, 1);
	cr_assert_eq(send_ref(a, D, 3000), 3000);
	h_advance_ms(5);
	int nth = 0;
	cr_assert_eq(peer_drain(&p, 0, &nth), 0, "a segment without an external fragment");
	cr_assert_gt(H_STAT(tcp_ref_ext_exhausted), 0);
	for (unsigned i = 0; i < n; i++)
		pktbuf_free(held[i]);
	h_advance_ms(1001);                     /* the retry (tcp_poll, else the timer) */
	peer_take_until(&p, 3000, 10, 100);
	cr_assert_eq(memcmp(R, D, 3000), 0);
	cr_assert_eq(pktbuf_ref_count(&REF), 1);
}

/* On hosted, memory outside the device-visible region: copied, counted */
Test(tcp_ref, memory_a_device_cannot_see_is_copied)
{
	struct h_peer p;
	struct h_app_conn *a = connect_peer(&p, 42007);
	h_mem_not_dma = 1;
	cr_assert_eq(send_ref(a, D, 10000), 10000);
	peer_take_until(&p, 10000, 20, 50);
	cr_assert_eq(memcmp(R, D, 10000), 0);
	cr_assert_eq(H_STAT(tcp_ref_bytes), 0);
	cr_assert_eq(H_STAT(tcp_ref_copy_fallback), 10000);
	cr_assert_eq(pktbuf_ref_count(&REF), 1);
}

/* With TSO (frames captured whole): a large referenced send leaves as
 * one TSO frame whose payload is external fragments, not copies. */
static void tso_setup(void)
{
	h_dev_offloads = NETDEV_TX_CSUM | NETDEV_TX_TSO4;
	h_tso_raw = 1;
	setup();
}

TestSuite(tcp_ref_tso, .init = tso_setup, .fini = teardown);

Test(tcp_ref_tso, large_send_is_one_tso_chain)
{
	struct h_peer p;
	struct h_app_conn *a = connect_peer(&p, 42008);
	cr_assert_eq(tcp_send(a->c, "GET", 3), 3);
	cr_assert_eq(send_ref(a, D + 1, 30000), 30000);
	cr_assert(h_peer_recv(&p, &K));         /* "GET" left at once */
	cr_assert_eq(K.plen, 3);
	h_peer_take(&p, &K);
	cr_assert(h_peer_recv(&p, &K));
	cr_assert(K.tso, "no TSO frame");
	cr_assert(K.l4_csum_ok && h_dev_bad_partial == 0);
	/* whole segments of the window (cwnd counts the MSS, 1460) */
	cr_assert_eq(K.plen, 10 * 1448, "%u", K.plen);
	cr_assert_eq(memcmp(K.payload, D + 1, K.plen), 0);
	cr_assert_eq(K.nbufs, 2, "the header, then one external fragment: %d buffers", K.nbufs);
	cr_assert_eq(H_STAT(tcp_ref_bytes), 10 * 1448);
	h_peer_take(&p, &K);
	peer_ack(&p);
	int nth = 0;
	for (int i = 0; i < 20 && p.ack - p.iss - 1 < 30003; i++) {
		peer_drain(&p, 0, &nth);
		peer_ack(&p);
	}
	cr_assert_eq(p.ack - p.iss - 1, 30003);
	cr_assert_eq(pktbuf_ref_count(&REF), 1);
}
