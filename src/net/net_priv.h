/*
 * net_priv.h — state shared by the files of src/net/ only.
 *
 * The stack's files, from the wire up: eth.c (frames in and out, 802.1Q,
 * the transmit batch), arp.c (the ARP table), ip.c (checksums, steering,
 * routes, IPv4 in and out, ICMP echo), udp.c, TCP (tcp.c, tcp_in.c,
 * tcp_out.c and tcp_timer.c, which share tcp_priv.h), dhcp.c (the DHCP
 * client) and iface.c (the interfaces: net_init, addresses, telemetry).
 * What one of them exports to the others is declared here, by file.
 */
#ifndef POLLUX_NET_PRIV_H
#define POLLUX_NET_PRIV_H
#include <arpa/inet.h>
#include "core/core.h"
#include "net/net.h"
#include "net/proto.h"
#include "pkt/pktbuf.h"
#include "drivers/netdev.h"

/* An interface's addresses as one immutable object (see net_if.ifa). */
struct net_ifaddr {
	uint32_t addr, mask, gw;        /* network byte order; addr 0: unconfigured */
	uint8_t prefix;
	uint16_t mtu;
};

/* A static route of an interface (config "routes"), network byte order */
struct net_route {
	uint32_t net, mask, via;
	uint8_t prefix;
};
#define NET_MAX_ROUTES 16

struct net_if {
	/* immutable after net_init */
	int index;
	struct netdev *dev;
	uint8_t mac[ETH_ALEN];
	uint16_t base_mtu;              /* the device's, lowered by the config */
	uint16_t nq;                    /* queue pairs: flows hash over these */
	uint16_t vlan;                  /* 802.1Q VID we tag and accept; 0: untagged */
	uint8_t dhcp;                   /* "address": "dhcp" (dhcp.c) */
	uint8_t nroutes;
	struct net_route routes[NET_MAX_ROUTES];        /* immutable after net_init */
	/*
	 * Address, mask, gateway and MTU change at run time (DHCP bind,
	 * renew with new values, expiry), so they are no longer immutable
	 * after net_init. Core 0 alone changes them, with net_if_set_addr():
	 * it fills the spare of ifa_bufs, publishes it (sched_publish: an
	 * acq_rel exchange, the release half pairing with the acquire in
	 * net_ifa()), then waits until every core has passed a quiescent
	 * point (sched_quiesce_wait) before that older copy may be
	 * rewritten. A reader takes net_ifa() once per packet and sees addr,
	 * mask, gw and mtu of one and the same configuration, never a mix.
	 * When that wait times out (a vCPU the host did not run), ifa_owed
	 * makes the next change wait again before it rewrites the copy; if
	 * that wait too times out, the change goes ahead (DHCP's expiry must
	 * take the address away) and is logged: the late core's packet then
	 * may see a mix of the old and new values, plain integers (no
	 * pointer), for that one packet.
	 */
	void *_Atomic ifa;              /* struct net_ifaddr, published */
	struct net_ifaddr ifa_bufs[2];  /* core 0 only */
	uint8_t ifa_cur;                /* core 0 only: the one published */
	uint8_t ifa_owed;               /* core 0 only: the last publish's wait timed out */
	/* Single-value mirrors of ifa->addr and ifa->mtu for code that needs
	 * only one of them (TCP): stored by core 0 after the publish, read
	 * anywhere as plain (seq_cst, on x86 a mov) atomic loads; whole
	 * values, the old or the new one. */
	_Atomic uint32_t addr;
	_Atomic uint16_t mtu;
};

/* any core: this interface's addresses, valid until the end of the
 * caller's loop turn (acquire: pairs with net_if_set_addr's publish) */
static inline const struct net_ifaddr *net_ifa(struct net_if *ifc)
{
	return atomic_load_explicit(&ifc->ifa, memory_order_acquire);
}

#define NET_TX_BATCH 64

struct net_txq {                        /* per core, per interface */
	struct pktbuf *pkts[NET_TX_BATCH];
	uint16_t n;
};

#define NET_STATS_CTR(f) counter_t f;
struct net_counters { NET_STATS_FIELDS(NET_STATS_CTR) };

#define NET_ARP_ASKED 8

struct net_core {
	/* owner core only (counters: owner writes, anyone reads) */
	struct net_txq txq[NET_MAX_IFS];
	/* ARP requests this core asked core 0 for lately (by address hash):
	 * at most one per address per second, however busy the flow */
	struct { uint32_t ip; uint8_t ifindex; uint64_t ns; } arp_asked[NET_ARP_ASKED];
	struct net_counters ctr;
	struct tcp_core *tcp;
} __attribute__((aligned(CACHE_LINE)));

extern struct net_if net_ifs[NET_MAX_IFS];
extern int net_nifs;
extern struct net_core net_cores[POLLUX_MAX_CORES];

static inline struct net_core *net_me(void) { return &net_cores[core_self()->id]; }

/* The next hop for dst (network order) out of ifc: dst itself on the
 * interface's subnet (or broadcast), else the longest static route whose
 * gateway is on the subnet, else the default gateway, else dst (on-link). */
uint32_t net_next_hop(const struct net_if *ifc, const struct net_ifaddr *ifa, uint32_t dst);
/* The interface for a new flow to dst (network order): the one whose
 * subnet holds dst, else the one with the longest static route to it,
 * else the first with a default gateway; NULL: no route. */
struct net_if *net_route_if(uint32_t dst);

/* the owner core of a flow, from our side's view of it (ip.c) */
uint32_t net_flow_core(const struct net_if *ifc, uint32_t raddr, uint16_t rport, uint16_t lport);
/* core 0, net_init before any flow: draws the software steering key */
void net_flow_init(void);
/* Sends an IPv4 packet whose payload (L4 header and data) starts at
 * pktbuf_data(b) with b->len bytes: prepends IP and Ethernet headers,
 * resolves the next hop, queues it on this core's TX batch. Consumes b. */
int net_ip_output(struct net_if *ifc, struct pktbuf *b, uint32_t dst, uint8_t proto, uint8_t tos);
struct pktbuf *net_alloc(void);
int net_tx_busy(const struct net_if *ifc);
uint16_t net_csum(const void *data, size_t len, uint32_t sum);
uint32_t net_pseudo_sum(uint32_t src, uint32_t dst, uint8_t proto, uint16_t len);
/* An IPv4 packet for us, L4 at pktbuf_data(b); hdr points at its IP header. */
void tcp_input(struct net_if *ifc, struct pktbuf *b, const struct ipv4_hdr *ip);
/* nbufs send buffers of sndbuf bytes, shared by the core's connections */
int tcp_core_init(uint32_t core, uint32_t max_conns, uint32_t sndbuf, uint32_t nbufs);
/* Start-up: the most payload bytes in one TSO frame (config tcp.tso_max;
 * 0: no TSO even where the device offers it). */
void tcp_set_tso_max(uint32_t bytes);
void tcp_set_keepalive_ms(uint32_t ms);      /* 0: no keepalive (start-up) */
uint32_t tcp_conns_open(uint32_t core);

/* Core 0: publishes new addresses for ifc (addr 0: unconfigured; mtu 0
 * or above base_mtu: base_mtu); see struct net_if. May wait up to 1 s
 * for the other cores to pass a quiescent point. */
void net_if_set_addr(struct net_if *ifc, uint32_t addr, uint8_t prefix, uint32_t gw, uint16_t mtu);
/* Core 0: a gratuitous ARP request for ifc's address. */
void net_arp_announce(struct net_if *ifc);
/* live entries in the published ARP table (tests, telemetry) */
uint32_t net_arp_entries(void);

/* ---- eth.c */
/* A received frame (b->len bytes from its Ethernet header) on the core
 * that polled it: to ARP or IPv4, or counted and dropped. Consumes b. */
void eth_input(struct net_if *ifc, struct pktbuf *b);
/* Queues a complete frame (Ethernet header, untagged) on this core's
 * batch for ifc. Consumes b; -ENOBUFS: dropped and counted. */
int eth_tx(struct net_if *ifc, struct pktbuf *b);
/* The end of a loop turn: hands nc's (this core's) batch for interface
 * i to the device; what its ring can't take waits for the next turn. */
void eth_tx_flush(struct net_core *nc, int i);

/* ---- arp.c: core 0 writes the table, every core reads it */
#define ARP_REFRESH_NS (60ull * 1000000000ull)  /* re-request an entry in use this long before it expires */
#define ARP_SWEEP_NS (60ull * 1000000000ull)    /* how often core 0 drops expired entries */
struct arp_entry { uint32_t ip; uint8_t mac[ETH_ALEN]; uint8_t ifindex; uint64_t expires; };
/* any core: the live entry for ip (network order) on ifc, valid until
 * the end of the caller's loop turn; NULL: none */
const struct arp_entry *arp_lookup(const struct net_if *ifc, uint32_t ip);
/* core 0, net_init before anything else: an empty table, a full learning
 * bucket */
void arp_init(void);
/* any core: have core 0 ask for ip (at most once per second per core) */
void arp_ask(struct net_if *ifc, uint32_t ip);
/* any core: an ARP frame received on ifc, at its Ethernet header; it goes
 * to core 0. Consumes b. */
void arp_input(struct net_if *ifc, struct pktbuf *b);
/* core 0, the timer net_init arms every ARP_SWEEP_NS: drops expired entries */
struct timer;
void arp_sweep(struct timer *t, void *arg);

/* ---- ip.c */
/* An IPv4 frame received on ifc, at its Ethernet header: validated,
 * steered to the flow's owner core and dispatched. Consumes b. */
void ip_input(struct net_if *ifc, struct pktbuf *b);

/* ---- udp.c */
/* On the flow's owner: a datagram for us, UDP header at pktbuf_data(b),
 * l4len bytes; ip is a copy of its IP header. Consumes b. */
void udp_input(struct net_if *ifc, struct pktbuf *b, const struct ipv4_hdr *ip, uint16_t l4len);

/* ---- dhcp.c: the DHCPv4 client of "address": "dhcp" interfaces, core 0 */
#define DHCP_SERVER_PORT 67
#define DHCP_CLIENT_PORT 68
/* net_init, on core 0: (re)starts acquisition on ifc. */
void dhcp_start(struct net_if *ifc);
/* Core 0: a UDP datagram 67 -> 68 received on a DHCP interface; b is at
 * its IP header (validated), b->len its IP total length. Consumes b. */
void dhcp_input(struct net_if *ifc, struct pktbuf *b);

#define NSTAT(field) counter_add(&net_me()->ctr.field, 1)
#define NSTAT_ADD(field, n) counter_add(&net_me()->ctr.field, (n))
#endif
