/*
 * harness.h — the network stack on the host, packets in and packets out,
 * no VM: the files of src/net/ and src/pkt/ and src/sched/timer.c over the stub
 * platform in harness.c.
 *
 * The world: one core (core 0 owns queue 0 of the only device), a fake
 * device eth0 (H_OUR_MAC, MTU 1500, one queue pair) whose tx_burst
 * captures frames (with h_ndevs = 2 set before h_init, a second one,
 * eth1, H_OUR_MAC1, for a config with two interfaces; h_pkt.ifindex
 * says which device sent a frame), a fake clock that only the test moves (h_advance_ms)
 * and a local timer wheel run as it moves, call_on queued and run by
 * h_turn(). The peer is 198.18.0.1 (H_PEER_MAC); we are 198.18.0.2/24.
 *
 * Receive: h_rx_*() build a frame in a buffer from core 0's pool (as a
 * device's RX ring would), hand it to net_input(0, b) and run one turn
 * (call_on queue, flush of the TX batch), so what the stack sent in
 * answer is captured when they return.
 *
 * Transmit: captured frames wait, in order, until h_next() pops one,
 * decodes it into a struct h_pkt (a copy) and frees the buffer;
 * h_tx_drop_all() frees the rest. h_pool_full() is then the leak check:
 * every buffer back in the pool.
 *
 * The app: tcp_listen on H_PORT (and H_PORT_SMALL, whose app takes at most
 * H_SMALL_ROOM bytes until h_app_read(): recv_space) collects what it
 * receives per connection in a struct h_app_conn and records peer_closed,
 * writable and gone; udp_bind on H_UDP_PORT echoes every datagram back
 * that udp_may_answer allows (as the echo appliance does).
 *
 * Offloads: h_dev_offloads (NETDEV_TX_CSUM, NETDEV_TX_TSO4) is what the
 * fake device offers; h_init takes it from the environment when
 * H_OFFLOAD is set ("csum" or "tso"), so a whole test binary runs with
 * offloads on. The device then does what QEMU and the host kernel do: it
 * checks that the checksum field holds the pseudo-header sum (counted in
 * h_dev_bad_partial when not) and completes it, and it cuts a TSO frame
 * into gso_size segments (IP length, id and checksum, TCP seq, PSH/FIN on
 * the last only) that h_next returns one by one. With h_tso_raw set, a
 * TSO frame is captured whole instead (h_pkt.tso and its fields).
 *
 * This file and harness.c use no Criterion, so the fuzzer links them too.
 */
#ifndef POLLUX_TEST_NET_HARNESS_H
#define POLLUX_TEST_NET_HARNESS_H
#include <stddef.h>
#include <stdint.h>
#include <arpa/inet.h>
#include "net/net.h"
#include "net/proto.h"
#include "pkt/pktbuf.h"
#include "drivers/netdev.h"

#define H_OUR_IP   0xc6120002u          /* 198.18.0.2, host order */
#define H_PEER_IP  0xc6120001u          /* 198.18.0.1 */
#define H_OTHER_IP 0xc6120007u          /* 198.18.0.7: on the subnet, not in ARP */
extern const uint8_t H_OUR_MAC[6], H_PEER_MAC[6];
extern const uint8_t H_OUR_MAC1[6];     /* eth1's, when h_ndevs is 2 */
#define H_MAX_DEVS 2
extern int h_ndevs;                     /* devices: set before h_init (default 1) */
extern uint32_t h_quiesces;             /* sched_quiesce_wait calls (publishes that waited) */
extern uint32_t h_quiesce_timeouts;     /* the next this many sched_quiesce_wait time out */
/* netdev_queue_core(d, q) answers q instead of 0 (steering tests that
 * hand net_flow_core an interface with several queues; set after h_init) */
extern int h_queue_core_is_q;

#define H_POOL 256                      /* pktbufs on core 0 */
#define H_PORT 5001                     /* the test app's TCP port */
#define H_PORT_SMALL 5002               /* the same app, with recv_space */
#define H_SMALL_ROOM 4096
#define H_UDP_PORT 7                    /* UDP echo */
#define H_T0_NS (1000ull * 1000000000ull)  /* the clock at h_init */
#define H_MS 1000000ull

/* The default config: eth0 198.18.0.2/24 via 198.18.0.1, 8 connection
 * slots (a half-open budget of 4), 64 KiB send buffers. */
#define H_CONFIG_DEFAULT \
	"{\"interfaces\": [{\"address\": \"198.18.0.2/24\", \"gateway\": \"198.18.0.1\"}]," \
	" \"tcp\": {\"max_conns_per_core\": 8, \"send_buffer\": 65536}}"

/* Builds the world from a JSON config (NULL: H_CONFIG_DEFAULT), binds the
 * app, then teaches the stack the peer's MAC by an ARP request from it
 * and drops what was sent so far (the gratuitous ARP and the reply).
 * Returns 0, or -errno with a message on stderr. */
int h_init(const char *config_json);
/* What the appliance does before net_init: the document validated against
 * the stack's part of the schema (net_schema: "interfaces", "tcp") and
 * filled into *out. 0, or -EINVAL with "path: reason" in err. */
struct net_config;
int h_net_config(const char *config_json, struct net_config *out, char *err, size_t errlen);
/* Frees everything h_init made (the fuzzer re-initialises per input; a
 * Criterion test runs in its own process and need not call it). */
void h_fini(void);

/* The peer answers our ARP requests for it (the reply comes in at the
 * end of the turn that sent the request; the request is captured too).
 * Default 1; others' addresses are never answered. */
extern int h_peer_answers_arp;

/* ---- time */
uint64_t h_now(void);
/* Moves the clock forward by ms, stopping at every tick where a timer
 * may fire to run it (callbacks see time_ns() at their tick), then one
 * turn. */
void h_advance_ms(uint64_t ms);
void h_advance_ns(uint64_t ns);
/* One loop turn at the current time: the call_on queue, due timers,
 * every poller's flush (the TX batch). */
void h_turn(void);

/* ---- frames in (each consumes nothing of the caller's; runs a turn) */
void h_rx_raw(const void *frame, size_t len);
void h_rx_arp(uint16_t op, const uint8_t sha[6], uint32_t spa, const uint8_t tha[6], uint32_t tpa);
/* the device the h_rx_* helpers (but the _on ones) feed: default 0 */
extern int h_rx_dev;
/* the same on device ifindex (0 or 1); a reply goes to that device's MAC */
void h_rx_raw_on(int ifindex, const void *frame, size_t len);
void h_rx_arp_on(int ifindex, uint16_t op, const uint8_t sha[6], uint32_t spa, const uint8_t tha[6], uint32_t tpa);
/* An IPv4 packet from `src` to us (host order), valid header checksum. */
void h_rx_ip(uint32_t src, uint8_t proto, const void *l4, size_t len);
/* The same to dst (host order) instead of our address. */
void h_rx_ip_to(uint32_t src, uint32_t dst, uint8_t proto, const void *l4, size_t len);
void h_rx_icmp_echo(uint16_t id, uint16_t seq, const void *data, size_t len);
void h_rx_udp(uint16_t sport, uint16_t dport, const void *data, size_t len);

struct h_tcp {                          /* a segment from the peer */
	uint32_t src;                   /* host order; 0: H_PEER_IP */
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;
	uint16_t win;
	const uint8_t *opts;            /* raw option bytes, padded by the caller */
	uint8_t optlen;                 /* a multiple of 4, at most 40 */
	const void *data;
	size_t len;
	int bad_csum;                   /* flip the checksum */
};
void h_rx_tcp(const struct h_tcp *s);

/* ---- the device's offloads */
extern uint32_t h_dev_offloads;         /* NETDEV_TX_*: set before h_init */
extern uint32_t h_dev_tso_max;          /* netdev_tso_max(): default 65553 */
extern int h_tso_raw;                   /* capture TSO frames uncut */
extern uint32_t h_dev_tso_frames;       /* TSO frames the device took */
extern uint32_t h_dev_bad_partial;      /* NEEDS_CSUM without the pseudo sum, bad offsets */

/* frame_is_dma answers 0 for everything (hosted, memory the backend
 * does not map) while set */
extern int h_mem_not_dma;

/* ---- frames out */
#define H_FRAME_MAX (65535 + 18)
struct h_pkt {
	uint32_t len;                   /* the whole frame */
	int ifindex;                    /* the device that sent it */
	/* what the driver would put in the virtio-net header */
	int csum_partial;               /* NEEDS_CSUM */
	uint16_t csum_start, csum_offset;       /* from the frame's start */
	int tso;                        /* GSO_TCPV4 (h_tso_raw) */
	uint16_t gso_size, hdr_len;
	int nbufs;                      /* buffers in the frame's chain */
	int from_tso;                   /* a segment the device cut */
	uint8_t frame[H_FRAME_MAX];
	const struct eth_hdr *eth;
	uint16_t type;                  /* ethertype */
	const struct arp_hdr *arp;      /* ARP: else NULL */
	const struct ipv4_hdr *ip;      /* IPv4: else NULL */
	int ip_csum_ok;
	uint8_t proto;
	const uint8_t *l4;              /* IPv4: the L4 header */
	uint16_t l4len;
	int l4_csum_ok;                 /* ICMP/UDP/TCP checksum right */
	/* TCP, decoded (host order) */
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;
	uint16_t win;
	int mss;                        /* -1: no option */
	int wscale;                     /* -1: no option */
	int ts;
	uint32_t tsval, tsecr;
	int sack_ok;
	const uint8_t *payload;         /* TCP/UDP payload, ICMP past its header */
	uint16_t plen;
};
int h_tx_count(void);
/* Pops the oldest captured frame into *p (and frees its buffer). Returns
 * 1, or 0 when none is waiting. */
int h_next(struct h_pkt *p);
/* Like h_next, skipping ARP frames (requests the stack sends when it
 * misses): the next IPv4 frame. */
int h_next_ip(struct h_pkt *p);
void h_tx_drop_all(void);

/* ---- the state the tests check */
struct net_stats h_stats(void);
/* every buffer (and external fragment) back in core 0's pool (after
 * h_tx_drop_all) */
int h_pool_full(void);
uint32_t h_pool_avail(void);

/* ---- the app */
#define H_APP_CONNS 16
#define H_APP_RX (256 * 1024)
struct h_app_conn {
	int used;
	struct tcp_conn *c;             /* NULL once gone */
	int small;                      /* accepted on H_PORT_SMALL */
	uint8_t *rx;                    /* what recv delivered, in order */
	size_t rxlen;
	size_t unread;                  /* small: delivered but not yet h_app_read */
	int peer_closed, writable, gone, gone_reason;
	int recvs;                      /* recv calls so far */
	int close_on_peer_close;        /* tcp_close from peer_closed */
	int abort_on_recv;              /* n > 0: tcp_abort from the n-th recv */
	int update_on_recv;             /* tcp_recv_update from every recv */
	/* small: recv_space says 0 while shut (an answer in progress), and
	 * the app holds at most room bytes (0: H_SMALL_ROOM) */
	int shut, shut_on_recv;         /* shut_on_recv: shut from every recv */
	size_t room;
};
extern struct h_app_conn h_app[H_APP_CONNS];
extern int h_app_refuse;                /* accept returns NULL */
/* the connection accepted most recently (NULL: none yet) */
struct h_app_conn *h_app_last(void);
/* small: the app consumes what it holds and tells the stack */
void h_app_read(struct h_app_conn *a);
/* small: the answer is out (shut cleared), then h_app_read */
void h_app_reopen(struct h_app_conn *a);
/* tcp_send / tcp_close / tcp_abort by the app, then a turn (so what
 * they sent is captured) */
size_t h_app_send(struct h_app_conn *a, const void *data, size_t len);
void h_app_close(struct h_app_conn *a);
void h_app_abort(struct h_app_conn *a);
/* tcp_abort on every connection the app holds (fuzzer teardown) */
void h_app_abort_all(void);
/* UDP datagrams the echo handler saw */
extern int h_udp_seen;

/* ---- a scripted peer for one TCP connection */
struct h_peer {
	uint16_t port, lport;           /* the peer's port, ours */
	uint32_t seq;                   /* the peer's next sequence number */
	uint32_t ack;                   /* what the peer acknowledges (our next) */
	uint32_t iss;                   /* ours, from the SYN-ACK */
	uint16_t win;                   /* the raw window the peer advertises */
	uint8_t wscale;                 /* the peer's shift (if ws) */
	int ws, ts;                     /* offered in the SYN / negotiated */
	uint32_t tsecr;                 /* our last TSval, echoed */
	uint16_t offer_mss;             /* the peer's MSS option (h_peer_init: 1460) */
	uint16_t mss;                   /* our MSS option, from the SYN-ACK */
	int our_wscale;                 /* from the SYN-ACK; -1 none */
	struct h_app_conn *app;
};
/* Sets up p (port, lport, iss of the peer, options offered) without
 * sending anything. */
void h_peer_init(struct h_peer *p, uint16_t port, uint16_t lport, int ws, uint8_t wscale, int ts);
/* Sends a segment from the peer at p->seq acking p->ack (when TCP_ACK is
 * in flags), with the timestamp option if ts; advances p->seq by the data
 * and SYN/FIN. */
void h_peer_send(struct h_peer *p, uint8_t flags, const void *data, size_t len);
/* Same, at an explicit seq, leaving p->seq alone. */
void h_peer_send_at(struct h_peer *p, uint32_t seq, uint8_t flags, const void *data, size_t len);
/* SYN (MSS offer_mss, and WS/TS/SACK-permitted as set up). */
void h_peer_syn(struct h_peer *p);
/* Pops the next TCP segment of p's flow (others are dropped: ARP,
 * other flows); records its TSval for echo. Returns 1 or 0 (none). */
int h_peer_recv(struct h_peer *p, struct h_pkt *k);
/* The whole handshake: SYN, SYN-ACK (checked loosely: returns -1 when
 * it is not one), ACK; the peer's MSS, window scale and timestamps taken
 * from the SYN-ACK. Returns 0. For any listener, an appliance's too. */
int h_peer_handshake(struct h_peer *p);
/* h_peer_handshake with the harness's own app: p->app is the app's side;
 * -1 when no such connection came up. */
int h_peer_connect(struct h_peer *p);
/* Our sequence space as the peer sees it: advances p->ack past k when k
 * starts at p->ack (in order). */
void h_peer_take(struct h_peer *p, const struct h_pkt *k);
#endif
