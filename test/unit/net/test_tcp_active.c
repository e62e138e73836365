/*
 * test_tcp_active.c — the TCP features around the passive core of
 * test_tcp.c: active opens (tcp_connect: handshake, refusal, timeout, the
 * source port), send buffers lent per connection from the core's pool
 * (an idle connection holds none; a connection that finds the pool empty
 * hears `writable` when one comes back), and the FIN_WAIT_2 bound.
 */
#include <errno.h>
#include <string.h>
#include "check.h"

TestSuite(tcp_active, .init = h_setup, .fini = h_teardown);

static struct h_pkt K;

/* ---- an app of its own for active opens */
static struct {
	struct tcp_conn *c;
	int connected, gone, reason, writable, peer_closed;
	uint8_t rx[4096];
	size_t rxlen;
} A;

static void a_recv(struct tcp_conn *c, void *ctx, const uint8_t *d, size_t len)
{
	if (A.rxlen + len <= sizeof A.rx)
		memcpy(A.rx + A.rxlen, d, len);
	A.rxlen += len;
}
static void a_connected(struct tcp_conn *c, void *ctx) { A.connected++; }
static void a_gone(struct tcp_conn *c, void *ctx, int reason) { A.gone++; A.reason = reason; A.c = NULL; }
static void a_writable(struct tcp_conn *c, void *ctx) { A.writable++; }
static void a_peer_closed(struct tcp_conn *c, void *ctx) { A.peer_closed++; }
static const struct tcp_ops aops = {
	.recv = a_recv, .connected = a_connected, .gone = a_gone, .writable = a_writable,
	.peer_closed = a_peer_closed,
};

/* tcp_connect to the peer's port 80; returns our SYN in K */
static struct h_pkt *active_syn(void)
{
	memset(&A, 0, sizeof A);
	int err = 0;
	A.c = tcp_connect(H_PEER_IP, 80, &aops, NULL, &err);
	cr_assert_not_null(A.c, "tcp_connect: %d", err);
	h_turn();
	cr_assert(h_next_ip(&K), "no SYN");
	cr_assert(K.l4_csum_ok);
	cr_assert_eq(K.flags, TCP_SYN);
	cr_assert_eq(K.dport, 80);
	cr_assert(K.sport >= 32768 && K.sport <= 60999, "source port %u outside 32768..60999", K.sport);
	cr_assert_eq(K.mss, 1460);
	cr_assert_eq(K.wscale, 3);
	cr_assert(K.ts, "an active open offers timestamps");
	cr_assert_eq(ntohl(K.ip->dst), H_PEER_IP);
	cr_assert_eq(net_tcp_conns(0), 1);
	return &K;
}

/* the peer answers the SYN in K with a SYN-ACK */
static void peer_synack(struct h_peer *p)
{
	h_peer_init(p, 80, K.sport, 1, 7, 1);
	p->iss = K.seq;
	p->ack = K.seq + 1;
	p->tsecr = K.tsval;
	h_peer_send(p, TCP_SYN | TCP_ACK, NULL, 0);
}

Test(tcp_active, connect_exchange_and_close)
{
	active_syn();
	struct h_peer p;
	peer_synack(&p);
	cr_assert(h_peer_recv(&p, &K), "no ACK of the SYN-ACK");
	cr_assert_eq(K.flags, TCP_ACK);
	cr_assert_eq(K.ack, p.seq);
	cr_assert_eq(K.plen, 0);
	cr_assert_eq(A.connected, 1, "connected was not called");
	cr_assert_eq(H_STAT(tcp_connects), 1);

	cr_assert_eq(tcp_send(A.c, "GET / HTTP/1.0\r\n\r\n", 18), 18);
	h_turn();
	cr_assert(h_peer_recv(&p, &K));
	cr_assert_eq(K.plen, 18);
	cr_assert_eq(memcmp(K.payload, "GET / HTTP/1.0\r\n\r\n", 18), 0);
	cr_assert(K.ts);
	cr_assert_eq(K.tsecr != 0, 1);
	h_peer_take(&p, &K);
	h_peer_send(&p, TCP_ACK | TCP_PSH, "HTTP/1.0 200 OK\r\n\r\nhi", 21);
	cr_assert_eq(A.rxlen, 21);
	cr_assert_eq(memcmp(A.rx, "HTTP/1.0 200 OK\r\n\r\nhi", 21), 0);
	/* the server closes first; we close after it */
	h_peer_send(&p, TCP_ACK | TCP_FIN, NULL, 0);
	cr_assert_eq(A.peer_closed, 1);
	h_advance_ms(50);                       /* the delayed ACK, if any */
	while (h_peer_recv(&p, &K))
		;
	tcp_close(A.c);
	h_turn();
	cr_assert(h_peer_recv(&p, &K));
	cr_assert(K.flags & TCP_FIN, "no FIN after tcp_close");
	h_peer_take(&p, &K);
	h_peer_send(&p, TCP_ACK, NULL, 0);
	cr_assert_eq(A.gone, 1, "LAST_ACK acked: gone");
	cr_assert_eq(A.reason, 0);
	cr_assert_eq(net_tcp_conns(0), 0);
}

/* A SYN-ACK without an MSS option means 536 (RFC 9293 3.7.1, as Linux),
 * not our own MTU's: found by fuzz_tcp_syn, which saw 1460-byte segments */
Test(tcp_active, synack_without_mss_means_536)
{
	active_syn();
	struct h_peer p;
	h_peer_init(&p, 80, K.sport, 0, 0, 0);
	p.iss = K.seq;
	p.ack = K.seq + 1;
	struct h_tcp s = { .sport = 80, .dport = K.sport, .seq = p.seq, .ack = p.ack,
			   .flags = TCP_SYN | TCP_ACK, .win = 65535 };
	h_rx_tcp(&s);
	p.seq++;
	cr_assert_eq(A.connected, 1);
	while (h_peer_recv(&p, &K))
		;
	static uint8_t d[4000];
	cr_assert_eq(tcp_send(A.c, d, sizeof d), sizeof d);
	h_turn();
	int n = 0;
	while (h_peer_recv(&p, &K)) {
		cr_assert(K.plen <= 536, "a segment of %u bytes to a peer that gave no MSS", K.plen);
		n += K.plen > 0;
	}
	cr_assert(n > 0, "nothing sent");
	tcp_abort(A.c);
	h_turn();
}

Test(tcp_active, connect_refused)
{
	active_syn();
	struct h_peer p;
	h_peer_init(&p, 80, K.sport, 0, 0, 0);
	p.ack = K.seq + 1;
	p.seq = 0;
	h_peer_send(&p, TCP_RST | TCP_ACK, NULL, 0);
	cr_assert_eq(A.gone, 1);
	cr_assert_eq(A.reason, ECONNREFUSED);
	cr_assert_eq(A.connected, 0);
	cr_assert_eq(net_tcp_conns(0), 0);
}

Test(tcp_active, connect_rst_with_a_wrong_ack_is_ignored)
{
	active_syn();
	struct h_peer p;
	h_peer_init(&p, 80, K.sport, 0, 0, 0);
	p.ack = K.seq + 7;                      /* not our SYN's */
	h_peer_send(&p, TCP_RST | TCP_ACK, NULL, 0);
	cr_assert_eq(A.gone, 0, "a blind RST killed the connection");
	cr_assert_eq(net_tcp_conns(0), 1);
	tcp_abort(A.c);
	cr_assert_eq(A.gone, 1);
	cr_assert_eq(net_tcp_conns(0), 0);
}

Test(tcp_active, connect_times_out_with_backoff)
{
	struct h_pkt *k = active_syn();
	uint32_t iss = k->seq;
	uint64_t last = h_now();
	uint64_t gaps[16];
	int n = 0;
	for (int i = 0; i < 9000 && !A.gone; i++) {
		h_advance_ms(100);
		while (h_next_ip(&K)) {
			if (K.flags == TCP_SYN) {
				cr_assert_eq(K.seq, iss, "a retransmitted SYN has the same ISS");
				if (n < 16)
					gaps[n++] = (h_now() - last) / H_MS;
				last = h_now();
			}
		}
	}
	cr_assert_eq(A.gone, 1, "no timeout");
	cr_assert_eq(A.reason, ETIMEDOUT);
	cr_assert(n >= 6, "only %d retransmissions", n);
	cr_assert(gaps[0] >= 900 && gaps[0] <= 1200, "first RTO %llu ms", (unsigned long long)gaps[0]);
	cr_assert(gaps[1] >= 1800 && gaps[1] <= 2300, "second RTO %llu ms: no backoff", (unsigned long long)gaps[1]);
	cr_assert_eq(net_tcp_conns(0), 0);
}

Test(tcp_active, source_ports_differ_and_skip_listeners)
{
	memset(&A, 0, sizeof A);
	int err;
	struct tcp_conn *c1 = tcp_connect(H_PEER_IP, 80, &aops, NULL, &err);
	struct tcp_conn *c2 = tcp_connect(H_PEER_IP, 80, &aops, NULL, &err);
	cr_assert_not_null(c1);
	cr_assert_not_null(c2);
	uint32_t a1, a2;
	uint16_t p1, p2;
	tcp_conn_peer(c1, &a1, &p1);
	tcp_conn_peer(c2, &a2, &p2);
	cr_assert_eq(p1, 80);
	h_turn();
	struct h_pkt k1, k2;
	cr_assert(h_next_ip(&k1));
	cr_assert(h_next_ip(&k2));
	cr_assert_neq(k1.sport, k2.sport, "two connections on one 4-tuple");
	tcp_abort(c1);
	tcp_abort(c2);
	h_turn();
	cr_assert_eq(net_tcp_conns(0), 0);
}

Test(tcp_active, unreachable_and_no_slots)
{
	memset(&A, 0, sizeof A);
	int err = 0;
	/* no route: the config has a gateway, so only a config without one
	 * refuses; here every address routes, so fill the slots instead */
	struct tcp_conn *c[8];
	int n = 0;
	for (; n < 8; n++) {
		c[n] = tcp_connect(H_PEER_IP, 80, &aops, NULL, &err);
		if (!c[n])
			break;
	}
	cr_assert_eq(n, 8, "8 slots in the default config");
	cr_assert_null(tcp_connect(H_PEER_IP, 80, &aops, NULL, &err));
	cr_assert_eq(err, -ENOSPC);
	cr_assert_eq(H_STAT(drop_tcp_conns_full), 1);
	for (int i = 0; i < n; i++)
		tcp_abort(c[i]);
	h_turn();
	cr_assert_eq(net_tcp_conns(0), 0);
}

Test(tcp_active, no_route_without_a_gateway)
{
	h_fini();
	cr_assert_eq(h_init("{\"interfaces\": [{\"address\": \"198.18.0.2/24\"}],"
			    " \"tcp\": {\"max_conns_per_core\": 8, \"send_buffer\": 65536}}"), 0);
	int err = 0;
	cr_assert_null(tcp_connect(0x0a000001u, 80, &aops, NULL, &err), "10.0.0.1 has no route");
	cr_assert_eq(err, -ENETUNREACH);
	struct tcp_conn *c = tcp_connect(H_PEER_IP, 80, &aops, NULL, &err);
	cr_assert_not_null(c, "the subnet routes");
	tcp_abort(c);
	h_turn();
}

/* ---- send buffers lent from the core's pool */
#define ONE_BUFFER \
	"{\"interfaces\": [{\"address\": \"198.18.0.2/24\", \"gateway\": \"198.18.0.1\"}]," \
	" \"tcp\": {\"max_conns_per_core\": 8, \"send_buffer\": 65536, \"send_buffers\": 1}}"

Test(tcp_active, idle_connections_hold_no_send_buffer)
{
	h_fini();
	cr_assert_eq(h_init(ONE_BUFFER), 0);
	struct h_peer p1, p2;
	h_peer_init(&p1, 40001, H_PORT, 1, 7, 1);
	cr_assert_eq(h_peer_connect(&p1), 0);
	h_peer_init(&p2, 40002, H_PORT, 1, 7, 1);
	cr_assert_eq(h_peer_connect(&p2), 0);
	struct h_app_conn *a1 = p1.app, *a2 = p2.app;
	/* two idle connections and one buffer: whoever writes first has it */
	cr_assert_eq(tcp_send_space(a1->c), 65536);
	cr_assert_eq(h_app_send(a1, "0123456789", 10), 10);
	cr_assert_eq(tcp_send_space(a2->c), 0, "the only buffer is lent");
	cr_assert_eq(h_app_send(a2, "abc", 3), 0, "no buffer: nothing taken");
	cr_assert_eq(H_STAT(tcp_sndbuf_wait), 1);
	cr_assert_eq(a2->writable, 0);
	/* p1 acknowledges: the buffer goes home and a2 hears writable */
	cr_assert(h_peer_recv(&p1, &K));
	cr_assert_eq(K.plen, 10);
	h_peer_take(&p1, &K);
	h_peer_send(&p1, TCP_ACK, NULL, 0);
	h_turn();
	cr_assert_eq(a2->writable, 1, "writable after the buffer came back");
	cr_assert_eq(h_app_send(a2, "abc", 3), 3);
	cr_assert(h_peer_recv(&p2, &K));
	cr_assert_eq(K.plen, 3);
	cr_assert_eq(memcmp(K.payload, "abc", 3), 0);
	h_peer_take(&p2, &K);
	h_peer_send(&p2, TCP_ACK, NULL, 0);
	cr_assert_eq(tcp_send_space(a1->c), 65536, "both idle again: the buffer is free");
	h_app_abort_all();
}

Test(tcp_active, fin_wait_2_is_bounded)
{
	struct h_peer p;
	h_peer_init(&p, 40000, H_PORT, 1, 7, 1);
	cr_assert_eq(h_peer_connect(&p), 0);
	struct h_app_conn *a = p.app;
	h_app_close(a);
	cr_assert(h_peer_recv(&p, &K));
	cr_assert(K.flags & TCP_FIN);
	h_peer_take(&p, &K);
	h_peer_send(&p, TCP_ACK, NULL, 0);      /* FIN_WAIT_2: the peer never closes */
	cr_assert_eq(net_tcp_conns(0), 1);
	h_advance_ms(30000);
	h_peer_send(&p, TCP_ACK | TCP_PSH, "late", 4);   /* it still talks: the bound moves */
	cr_assert_eq(a->rxlen, 4);
	h_advance_ms(40000);
	cr_assert_eq(net_tcp_conns(0), 1, "cut 40 s after the peer last spoke");
	h_advance_ms(25000);
	cr_assert_eq(net_tcp_conns(0), 0, "FIN_WAIT_2 outlived 60 s of silence");
	cr_assert_eq(a->gone, 1);
	cr_assert_eq(a->gone_reason, ETIMEDOUT);
	int rst = 0;
	while (h_peer_recv(&p, &K))
		rst |= (K.flags & TCP_RST) != 0;
	cr_assert(rst, "the peer hears a RST");
}

/* ---- probes of our closed window */
Test(tcp_active, zero_window_probe_is_answered_with_the_window)
{
	struct h_peer p;
	h_peer_init(&p, 40000, H_PORT_SMALL, 1, 7, 1);
	cr_assert_eq(h_peer_connect(&p), 0);
	struct h_app_conn *a = p.app;
	static uint8_t d[H_SMALL_ROOM];
	memset(d, 'x', sizeof d);
	for (size_t off = 0; off < sizeof d; off += 1024)
		h_peer_send(&p, TCP_ACK, d + off, 1024);
	h_advance_ms(50);
	int zero = 0;
	while (h_peer_recv(&p, &K))
		zero = K.win == 0;
	cr_assert(zero, "the app's room is full: our window is closed");
	/* Linux's probe: one before our rcv_nxt, no data */
	h_peer_send_at(&p, p.seq - 1, TCP_ACK, NULL, 0);
	cr_assert(h_peer_recv(&p, &K), "a zero-window probe went unanswered");
	cr_assert_eq(K.flags, TCP_ACK);
	cr_assert_eq(K.ack, p.seq);
	cr_assert_eq(K.win, 0);
	/* the app reads; the window update is lost on the way */
	h_app_read(a);
	h_tx_drop_all();
	h_advance_ms(500);      /* probes back off from the RTO: at least this apart */
	h_peer_send_at(&p, p.seq - 1, TCP_ACK, NULL, 0);
	cr_assert(h_peer_recv(&p, &K), "the next probe went unanswered");
	cr_assert(K.win > 0, "the answer to a probe carries the reopened window");
	h_app_abort_all();
	h_turn();
}

Test(tcp_active, keepalive_probe_is_answered)
{
	struct h_peer p;
	h_peer_init(&p, 40000, H_PORT, 1, 7, 1);
	cr_assert_eq(h_peer_connect(&p), 0);
	h_peer_send_at(&p, p.seq - 1, TCP_ACK, NULL, 0);
	cr_assert(h_peer_recv(&p, &K), "a keepalive probe went unanswered");
	cr_assert_eq(K.flags, TCP_ACK);
	cr_assert_eq(K.ack, p.seq);
	cr_assert_eq(net_tcp_conns(0), 1);
	h_app_abort_all();
	h_turn();
}

/* An app with recv_space that refuses a connection hears nothing of it:
 * the reset's window must not ask the app (its context is NULL). */
Test(tcp_active, refusal_does_not_call_recv_space)
{
	struct h_peer p;
	h_app_refuse = 1;
	h_peer_init(&p, 40000, H_PORT_SMALL, 1, 7, 1);
	h_peer_syn(&p);
	cr_assert(h_peer_recv(&p, &K));
	p.iss = K.seq;
	p.ack = K.seq + 1;
	h_peer_send(&p, TCP_ACK, NULL, 0);
	cr_assert(h_peer_recv(&p, &K));
	cr_assert(K.flags & TCP_RST, "a refused connection is reset");
	cr_assert_eq(net_tcp_conns(0), 0);
}

/* A SYN-cookie connection's MSS is the cookie table's (536..1460) within
 * our MTU, like any other passive open's: with MTU 576 it kept 1460, and
 * its first flight (10 MSS, RFC 6928) was 14600 bytes. Found by
 * fuzz_tcp_syn (seed "cookies"). */
Test(tcp_active, syn_cookie_mss_within_our_mtu)
{
	h_tx_drop_all();
	h_fini();
	cr_assert_eq(h_init("{\"interfaces\": [{\"address\": \"198.18.0.2/24\", \"gateway\": \"198.18.0.1\","
			    " \"mtu\": 576}], \"tcp\": {\"max_conns_per_core\": 8, \"send_buffer\": 65536}}"), 0);
	struct h_peer half[4], p;
	for (int i = 0; i < 4; i++) {           /* the half-open budget: 4 of 8 slots */
		h_peer_init(&half[i], (uint16_t)(41000 + i), H_PORT, 0, 0, 0);
		h_peer_syn(&half[i]);
	}
	h_tx_drop_all();
	h_peer_init(&p, 41004, H_PORT, 0, 0, 0);
	h_peer_syn(&p);
	cr_assert(h_peer_recv(&p, &K), "no SYN-ACK");
	cr_assert_eq(K.flags, TCP_SYN | TCP_ACK);
	cr_assert_eq(H_STAT(tcp_syncookies), 1, "no cookie");
	p.iss = K.seq;
	p.ack = K.seq + 1;
	h_peer_send(&p, TCP_ACK, NULL, 0);
	struct h_app_conn *a = h_app_last();
	cr_assert(a && a->c, "the cookie was not accepted");
	static uint8_t d[16000];
	cr_assert_eq(h_app_send(a, d, sizeof d), sizeof d);
	uint32_t flight = 0;
	while (h_peer_recv(&p, &K)) {
		cr_assert(K.plen <= 536, "a segment of %u bytes, MTU 576", K.plen);
		flight += K.plen;
	}
	cr_assert(flight > 0 && flight <= 10 * 536, "a first flight of %u bytes: 10 MSS of 536 at most", flight);
	h_app_abort_all();
	h_advance_ms(70000);                    /* the half-open time out */
	cr_assert_eq(net_tcp_conns(0), 0);
}
