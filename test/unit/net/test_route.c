/*
 * test_route.c — static routes (interfaces[i].routes): the next hop of
 * replies and of active opens by longest prefix, the default gateway
 * after them, on-link without either; config errors name the field.
 *
 * The peer 198.18.0.1 answers ARP; 198.18.0.7 (H_OTHER_IP) never does, so
 * a frame routed through it shows up as an ARP request for it.
 */
#include <errno.h>
#include <string.h>
#include <jansson.h>
#include "check.h"
#include "core/config.h"
#include "net/net_priv.h"

TestSuite(route, .init = h_setup, .fini = h_teardown);

#define ROUTES \
	"{\"interfaces\": [{\"address\": \"198.18.0.2/24\", \"routes\": [" \
	"  {\"to\": \"10.0.0.0/8\", \"via\": \"198.18.0.7\"}," \
	"  {\"to\": \"10.9.0.0/16\", \"via\": \"198.18.0.1\"}]}]," \
	" \"tcp\": {\"max_conns_per_core\": 8, \"send_buffer\": 65536}}"

static struct h_pkt K;

static void reinit(const char *cfg)
{
	h_fini();
	cr_assert_eq(h_init(cfg), 0);
}

/* a ping from src (host order); what goes out in answer */
static int ping_from(uint32_t src)
{
	uint8_t icmp[12] = { 8, 0, 0, 0, 0, 1, 0, 1, 'p', 'i', 'n', 'g' };
	uint16_t c = net_csum(icmp, sizeof icmp, 0);
	memcpy(icmp + 2, &c, 2);
	h_rx_ip(src, IP_PROTO_ICMP, icmp, sizeof icmp);
	return h_next(&K);
}

Test(route, longest_prefix_wins)
{
	reinit(ROUTES);
	/* 10.9.1.1: the /16 via the peer, whose MAC is known */
	cr_assert(ping_from(0x0a090101u));
	cr_assert_not_null(K.ip, "the reply went out as IP");
	cr_assert_eq(ntohl(K.ip->dst), 0x0a090101u);
	cr_assert_eq(memcmp(K.eth->dst, H_PEER_MAC, 6), 0, "not through the /16's gateway");
	h_tx_drop_all();
	/* 10.1.1.1: only the /8 matches: its gateway is asked for */
	cr_assert(ping_from(0x0a010101u));
	cr_assert_not_null(K.arp, "expected an ARP request for the /8's gateway");
	cr_assert_eq(ntohl(K.arp->tpa), H_OTHER_IP);
	cr_assert_eq(H_STAT(arp_miss_drop), 1);
	h_tx_drop_all();
}

Test(route, no_route_and_no_gateway_is_on_link)
{
	reinit(ROUTES);
	cr_assert(ping_from(0xc0a80101u));       /* 192.168.1.1: no route matches */
	cr_assert_not_null(K.arp);
	cr_assert_eq(ntohl(K.arp->tpa), 0xc0a80101u, "asked for the destination itself");
	h_tx_drop_all();
}

Test(route, routes_before_the_default_gateway)
{
	reinit("{\"interfaces\": [{\"address\": \"198.18.0.2/24\", \"gateway\": \"198.18.0.7\","
	       " \"routes\": [{\"to\": \"10.9.0.0/16\", \"via\": \"198.18.0.1\"}]}]}");
	cr_assert(ping_from(0x0a090101u));
	cr_assert_not_null(K.ip);
	cr_assert_eq(memcmp(K.eth->dst, H_PEER_MAC, 6), 0);
	h_tx_drop_all();
	cr_assert(ping_from(0x08080808u));       /* elsewhere: the default gateway */
	cr_assert_not_null(K.arp);
	cr_assert_eq(ntohl(K.arp->tpa), H_OTHER_IP);
	h_tx_drop_all();
}

static void a_gone(struct tcp_conn *c, void *ctx, int reason) { }
static const struct tcp_ops aops = { .gone = a_gone };

Test(route, active_opens_follow_the_routes)
{
	reinit(ROUTES);
	int err = 0;
	struct tcp_conn *c = tcp_connect(0x0a090101u, 80, &aops, NULL, &err);
	cr_assert_not_null(c, "10.9.1.1 has a route: %d", err);
	h_turn();
	cr_assert(h_next_ip(&K));
	cr_assert_eq(K.flags, TCP_SYN);
	cr_assert_eq(memcmp(K.eth->dst, H_PEER_MAC, 6), 0, "the SYN did not go to the route's gateway");
	tcp_abort(c);
	cr_assert_null(tcp_connect(0xc0a80101u, 80, &aops, NULL, &err), "192.168.1.1 has no route");
	cr_assert_eq(err, -ENETUNREACH);
	h_turn();
}

/* the schema (or net_init after it) refuses cfg, naming the field */
static void bad(const char *cfg, const char *want)
{
	static struct net_config c;
	char err[256] = "";
	int rc = h_net_config(cfg, &c, err, sizeof err);
	if (!rc)
		rc = net_init(&c, err, sizeof err);
	cr_assert_neq(rc, 0, "accepted: %s", cfg);
	cr_assert(strstr(err, want), "error \"%s\" does not say \"%s\"", err, want);
}

Test(route, bad_routes_are_refused)
{
	h_fini();
	bad("{\"interfaces\": [{\"address\": \"198.18.0.2/24\", \"routes\": {}}]}",
	    "interfaces[0].routes: must be a list");
	bad("{\"interfaces\": [{\"address\": \"198.18.0.2/24\", \"routes\": [{\"to\": \"10.0.0.0/8\"}]}]}",
	    "interfaces[0].routes[0].via: required");
	bad("{\"interfaces\": [{\"address\": \"198.18.0.2/24\", \"routes\": [{\"to\": \"10.9.0.0/16\","
	    " \"via\": \"198.18.0.1\"}, {\"to\": \"10.0.0.1/8\", \"via\": \"198.18.0.1\"}]}]}",
	    "interfaces[0].routes[1].to: host bits set");
	bad("{\"interfaces\": [{\"address\": \"198.18.0.2/24\", \"routes\": [{\"to\": \"10.0.0.0/8\","
	    " \"via\": \"10.0.0.1\"}]}]}", "interfaces[0].routes[0].via: must be an address on the interface's subnet");
	bad("{\"interfaces\": [{\"address\": \"198.18.0.2/24\", \"routes\": [{\"to\": \"10.0.0.0/33\","
	    " \"via\": \"198.18.0.1\"}]}]}", "interfaces[0].routes[0].to: must be \"a.b.c.d/prefix\"");
	memset(net_ifs, 0, sizeof net_ifs);
	cr_assert_eq(h_init(NULL), 0);
}

/* net_if_set_addr waits for every core after publishing; when that wait
 * times out, the next change waits again before it rewrites the copy a
 * late core may still read (and, should that time out too, goes ahead). */
Test(route, an_address_change_after_a_late_core_waits_again)
{
	struct net_if *ifc = &net_ifs[0];
	uint32_t a = ifc->addr, gw = net_ifa(ifc)->gw;
	uint32_t q0 = h_quiesces;
	net_if_set_addr(ifc, a, 24, gw, 0);
	cr_assert_eq(h_quiesces - q0, 1, "one wait, after the publish");
	h_quiesce_timeouts = 1;
	net_if_set_addr(ifc, a, 25, gw, 0);
	cr_assert_eq(h_quiesces - q0, 2);
	cr_assert_eq(ifc->ifa_owed, 1);
	const struct net_ifaddr *cur = net_ifa(ifc);
	net_if_set_addr(ifc, a, 26, gw, 0);
	cr_assert_eq(h_quiesces - q0, 4, "waited again before rewriting the late copy");
	cr_assert_eq(ifc->ifa_owed, 0);
	cr_assert_eq(net_ifa(ifc)->prefix, 26);
	cr_assert_neq(net_ifa(ifc), cur);
	cr_assert_eq(cur->prefix, 25, "the copy published before is left as it was");
	/* both waits late: the change still happens */
	h_quiesce_timeouts = 2;
	net_if_set_addr(ifc, a, 24, gw, 0);
	net_if_set_addr(ifc, a, 23, gw, 0);
	cr_assert_eq(net_ifa(ifc)->prefix, 23);
	cr_assert_eq(h_quiesces - q0, 7);
}
