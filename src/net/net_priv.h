/*
 * net_priv.h — state shared by the files of src/net/ only.
 */
#ifndef POLLUX_NET_PRIV_H
#define POLLUX_NET_PRIV_H
#include <arpa/inet.h>
#include "core/core.h"
#include "net/net.h"
#include "net/proto.h"
#include "net/pktbuf.h"
#include "drivers/netdev.h"

struct net_if {
	/* immutable after net_init */
	int index;
	struct netdev *dev;
	uint8_t mac[ETH_ALEN];
	uint32_t addr, mask, gw;        /* network byte order; addr 0: unconfigured */
	uint8_t prefix;
	uint16_t mtu;
	uint16_t nq;                    /* queue pairs: flows hash over these */
};

#define NET_TX_BATCH 64

struct net_txq {                        /* per core, per interface */
	struct pktbuf *pkts[NET_TX_BATCH];
	uint16_t n;
};

#define NET_STATS_CTR(f) counter_t f;
struct net_counters { NET_STATS_FIELDS(NET_STATS_CTR) };

struct net_core {
	/* owner core only (counters: owner writes, anyone reads) */
	struct net_txq txq[NET_MAX_IFS];
	struct net_counters ctr;
	struct tcp_core *tcp;
} __attribute__((aligned(CACHE_LINE)));

extern struct net_if net_ifs[NET_MAX_IFS];
extern int net_nifs;
extern struct net_core net_cores[POLLUX_MAX_CORES];

static inline struct net_core *net_me(void) { return &net_cores[core_self()->id]; }

/* the owner core of a flow, from our side's view of it */
uint32_t net_flow_core(const struct net_if *ifc, uint32_t raddr, uint16_t rport, uint16_t lport);
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
int tcp_core_init(uint32_t core, uint32_t max_conns, uint32_t sndbuf);
uint32_t tcp_conns_open(uint32_t core);

#define NSTAT(field) counter_add(&net_me()->ctr.field, 1)
#endif
