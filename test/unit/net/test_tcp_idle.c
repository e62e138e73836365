/*
 * test_tcp_idle.c — what a silent or shut-out peer costs us, on the host
 * harness: keepalive (tcp.keepalive_s: probes after that long without a
 * segment, 5 of them 7.5 s apart, then a reset) and the connection that
 * is refused because every slot is taken (a SYN cookie's third step:
 * answered with a reset, not dropped, so the peer does not hang).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "check.h"

TestSuite(tcp_idle, .init = h_setup, .fini = h_teardown);

static struct h_pkt K;

static struct h_app_conn *connect_on(struct h_peer *p, uint16_t port)
{
	h_peer_init(p, port, H_PORT, 1, 7, 1);
	cr_assert_eq(h_peer_connect(p), 0, "handshake failed");
	return p->app;
}

static void no_seg(struct h_peer *p)
{
	struct h_pkt k;
	if (h_peer_recv(p, &k))
		cr_assert_fail("unexpected segment: flags %#x seq %u ack %u len %u", k.flags, k.seq, k.ack, k.plen);
}

/* a keepalive probe: an ACK one byte before what we sent, no data */
static void probe(struct h_peer *p)
{
	cr_assert(h_peer_recv(p, &K), "no keepalive probe");
	cr_assert_eq(K.flags, TCP_ACK);
	cr_assert_eq(K.seq, p->ack - 1, "a probe carries an old sequence number");
	cr_assert_eq(K.plen, 0);
}

/* ---------------------------------------------------------------- what the console shows */
Test(tcp_idle, a_quiet_passive_connection_shows_the_window_its_syn_ack_offered)
{
	/* the soak's netstat showed rcv_wnd 4035164773 for silent clients:
	 * the right edge we advertised (rcv_adv) was set by every segment but
	 * the SYN-ACK, the only one such a connection is ever sent */
	struct h_peer p;
	connect_on(&p, 40100);
	h_advance_ms(6000);
	struct net_tcp_conn_info q[2];
	cr_assert_eq(net_tcp_quiet_conns(0, 5000, q, 2), 1);
	cr_assert_eq(q[0].rport, 40100);
	cr_assert_eq(q[0].rcv_space, 65535, "rcv_space %u: the SYN-ACK offered 65535", q[0].rcv_space);
	h_app_abort_all();
	h_turn();
}

/* ---------------------------------------------------------------- keepalive */
Test(tcp_idle, keepalive_default_probes_after_120_s_and_an_answer_keeps_it)
{
	struct h_peer p;
	struct h_app_conn *a = connect_on(&p, 40000);
	h_advance_ms(NET_KEEPALIVE_S_DEFAULT * 1000 - 100);
	no_seg(&p);
	h_advance_ms(200);
	probe(&p);
	cr_assert_eq(H_STAT(tcp_keepalive_probes), 1);
	h_peer_send(&p, TCP_ACK, NULL, 0);              /* alive */
	h_advance_ms(20000);
	no_seg(&p);
	cr_assert_not_null(a->c, "an answered probe lost the connection");
	/* data counts as life too: the next probe is 120 s after it (all
	 * before the ARP entry's 300 s are up: a probe lost to that miss
	 * comes back as a plain ACK) */
	h_peer_send(&p, TCP_ACK | TCP_PSH, "x", 1);
	h_advance_ms(100);
	cr_assert(h_peer_recv(&p, &K) && K.ack == p.seq, "no ACK of the data");
	h_advance_ms(NET_KEEPALIVE_S_DEFAULT * 1000 - 300);
	no_seg(&p);
	h_advance_ms(400);
	cr_assert_eq(H_STAT(tcp_keepalive_probes), 2, "no second probe");
	probe(&p);
	h_app_abort_all();
	h_turn();
}

Test(tcp_idle, keepalive_resets_a_silent_peer_after_five_probes)
{
	h_fini();
	cr_assert_eq(h_init("{\"interfaces\": [{\"address\": \"198.18.0.2/24\", \"gateway\": \"198.18.0.1\"}],"
			    " \"tcp\": {\"max_conns_per_core\": 8, \"keepalive_s\": 10}}"), 0);
	struct h_peer p;
	struct h_app_conn *a = connect_on(&p, 40001);
	h_advance_ms(10001);                            /* a timer fires on the tick after */
	for (int i = 0; i < 5; i++) {
		probe(&p);
		h_advance_ms(7500);
	}
	cr_assert(h_peer_recv(&p, &K), "no reset after the last probe");
	cr_assert_eq(K.flags & TCP_RST, TCP_RST);
	cr_assert_eq(K.seq, p.ack);
	cr_assert(a->gone, "the app was not told");
	cr_assert_eq(a->gone_reason, ETIMEDOUT);
	cr_assert_eq(net_tcp_conns(0), 0, "the slot did not come back");
	cr_assert_eq(H_STAT(tcp_keepalive_probes), 5);
	cr_assert_eq(H_STAT(tcp_timeouts), 1);
}

Test(tcp_idle, keepalive_off_never_probes)
{
	h_fini();
	cr_assert_eq(h_init("{\"interfaces\": [{\"address\": \"198.18.0.2/24\", \"gateway\": \"198.18.0.1\"}],"
			    " \"tcp\": {\"max_conns_per_core\": 8, \"keepalive_s\": 0}}"), 0);
	struct h_peer p;
	struct h_app_conn *a = connect_on(&p, 40002);
	h_advance_ms(3600 * 1000);
	no_seg(&p);
	cr_assert_not_null(a->c);
	cr_assert_eq(H_STAT(tcp_keepalive_probes), 0);
	h_app_abort_all();
	h_turn();
}

/* the schema's bounds: 0 (off) or 10..86400 */
static int cfg_err(const char *tcp, char *err, size_t len)
{
	static struct net_config c;
	char doc[256];
	snprintf(doc, sizeof doc, "{\"interfaces\": [{\"address\": \"198.18.0.2/24\"}], \"tcp\": %s}", tcp);
	err[0] = 0;
	return h_net_config(doc, &c, err, len);
}

Test(tcp_idle, keepalive_bounds)
{
	char err[256];
	cr_assert_neq(cfg_err("{\"keepalive_s\": 5}", err, sizeof err), 0);
	cr_assert(strstr(err, "tcp.keepalive_s: must be 0 (off) or 10..86400"), "%s", err);
	cr_assert_neq(cfg_err("{\"keepalive_s\": 86401}", err, sizeof err), 0);
	cr_assert(strstr(err, "tcp.keepalive_s"), "%s", err);
	cr_assert_neq(cfg_err("{\"keepalive_s\": -1}", err, sizeof err), 0);
	cr_assert_eq(cfg_err("{\"keepalive_s\": 0}", err, sizeof err), 0, "%s", err);
	cr_assert_eq(cfg_err("{\"keepalive_s\": 10}", err, sizeof err), 0, "%s", err);
	cr_assert_eq(cfg_err("{\"keepalive_s\": 86400}", err, sizeof err), 0, "%s", err);
}

/* ---------------------------------------------------------------- slots full */
Test(tcp_idle, a_cookie_that_finds_every_slot_taken_is_reset)
{
	struct h_peer full[8], p;
	for (int i = 0; i < 8; i++)                     /* max_conns_per_core 8, all established */
		connect_on(&full[i], (uint16_t)(41000 + i));
	cr_assert_eq(net_tcp_conns(0), 8);
	h_peer_init(&p, 41010, H_PORT, 0, 0, 0);
	h_peer_syn(&p);
	cr_assert(h_peer_recv(&p, &K) && K.flags == (TCP_SYN | TCP_ACK), "no SYN-ACK (a cookie)");
	cr_assert_eq(H_STAT(tcp_syncookies), 1);
	p.iss = K.seq;
	p.ack = K.seq + 1;
	h_peer_send(&p, TCP_ACK | TCP_PSH, "GET", 3);   /* the third step: valid, no slot */
	cr_assert(h_peer_recv(&p, &K), "the refused connection was not told");
	cr_assert_eq(K.flags, TCP_RST, "flags %#x", K.flags);
	cr_assert_eq(K.seq, p.ack, "a reset at the ACK it answers");
	cr_assert_eq(H_STAT(drop_tcp_conns_full), 1);
	cr_assert_eq(H_STAT(tcp_rst_conns_full), 1);
	cr_assert_eq(net_tcp_conns(0), 8);
	no_seg(&p);
	h_app_abort_all();
	h_turn();
}
