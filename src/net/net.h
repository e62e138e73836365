/*
 * net.h — the TCP/IP stack as appliances see it.
 *
 * Interfaces come from the config ("interfaces": [{"address":
 * "198.18.0.2/24", "gateway": "198.18.0.1", "mtu": 1500}] or
 * {"address": "dhcp"}, optionally "vlan": VID; one per network device in
 * discovery order: eth0, eth1, ...). Every data core
 * runs its own instance on the queue pairs it owns; a TCP connection or
 * UDP flow lives on exactly one core, chosen by a hash of its 4-tuple
 * (net_flow_core), and packets that arrive elsewhere are handed to it over
 * a channel. Nothing here blocks; every callback runs on the owner core.
 *
 * Buffers: receive callbacks get a view into the packet, valid only
 * during the call. tcp_send copies into the connection's bounded send
 * buffer and returns how much it took (back-pressure: 0 when full; the
 * `writable` callback says when room comes back); tcp_send_ref queues
 * immutable memory by reference instead, for zero-copy transmit.
 */
#ifndef POLLUX_NET_H
#define POLLUX_NET_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "core/schema.h"

#define NET_MAX_IFS 8

/* ---- configuration: "interfaces" and "tcp", filled by the schema engine
 * (core/schema.h) from net_schema (src/net/config.c). Addresses in host
 * byte order. */
#define NET_MAX_IF_ROUTES 16
#define NET_KEEPALIVE_S_DEFAULT 120     /* tcp.keepalive_s */
struct net_if_config {
	struct net_cidr {
		uint32_t addr;
		uint8_t prefix;
		uint8_t dhcp;           /* "address": "dhcp" */
	} address;
	uint32_t gateway;               /* 0: none */
	uint16_t mtu;                   /* 0: the device's */
	uint16_t vlan;                  /* 802.1Q id; 0: untagged */
	uint32_t nroutes;
	struct net_route_config {
		struct net_cidr to;
		uint32_t via;
	} routes[NET_MAX_IF_ROUTES];
};
struct net_config {
	uint8_t on;                     /* the config has "interfaces": run the stack */
	uint32_t nifs;
	struct net_if_config ifs[NET_MAX_IFS];
	struct net_tcp_config {
		uint32_t max_conns_per_core;
		uint32_t send_buffer;
		uint32_t send_buffers;  /* 0: the connection slots, at most 256 */
		uint32_t tso_max;
		uint32_t keepalive_s;   /* 0: no keepalive */
	} tcp;
};
/* The root object's rows that belong to the stack ("interfaces", "tcp"),
 * offsets from struct net_config. */
extern const struct schema_node net_schema[];

/* ---- set-up (core 0, start-up, after netdev_init_all) */
/* Runs the stack on the devices: cfg's interfaces (cfg filled from a
 * validated document, borrowed) on devices 0.., and the TCP limits.
 * Returns 0, or -errno with the reason in err: what only this machine can
 * refuse, e.g. "interfaces[1]: no network device for it (have 1)", or
 * memory for the connections. */
int net_init(const struct net_config *cfg, char *err, size_t errlen);
int net_if_count(void);
/* address/prefix in host byte order, for logs and telemetry (addr 0:
 * not configured yet, e.g. no DHCP lease) */
int net_if_info(int i, uint32_t *addr, uint8_t *prefix, uint32_t *gw, uint16_t *mtu);
/* DHCP client state of interface i (core 0, telemetry); addresses in
 * host byte order. -EINVAL: no such interface, -ENOENT: not DHCP. */
struct net_dhcp_info {
	const char *state;              /* "selecting", "bound", "renewing", ... */
	uint32_t server;                /* the lease's server, 0: none */
	uint32_t dns[3];
	uint8_t ndns;
	uint32_t lease_s;               /* as granted; 0xffffffff: infinite */
	uint32_t lease_left_s;
};
int net_dhcp_info(int i, struct net_dhcp_info *out);

/* ---- TCP */
struct tcp_conn;
struct tcp_ops {
	/* data from the peer, in order; the view is valid during the call */
	void (*recv)(struct tcp_conn *c, void *ctx, const uint8_t *data, size_t len);
	/* the peer sent FIN: no more data will come */
	void (*peer_closed)(struct tcp_conn *c, void *ctx);
	/* send-buffer space came back (after tcp_send returned less than asked) */
	void (*writable)(struct tcp_conn *c, void *ctx);
	/* the connection is gone (closed both ways, reset or timed out):
	 * the last callback; c is invalid afterwards */
	void (*gone)(struct tcp_conn *c, void *ctx, int reason);
	/* optional: how many more bytes recv may deliver now. The stack
	 * advertises no more than this and holds back (unacknowledged) what
	 * doesn't fit; call tcp_recv_update() when room comes back. */
	size_t (*recv_space)(struct tcp_conn *c, void *ctx);
	/* optional: an active open (tcp_connect) is established */
	void (*connected)(struct tcp_conn *c, void *ctx);
};
/* accept: on the connection's owner core; returns the app's context for
 * it, or NULL to refuse (the stack resets it). */
typedef void *(*tcp_accept_fn)(struct tcp_conn *c, void *arg);
/* Listens on port on every core (each accepts its own flows). Core 0,
 * start-up. Returns 0, -EADDRINUSE or -ENOSPC. */
int tcp_listen(uint16_t port, const struct tcp_ops *ops, tcp_accept_fn accept, void *arg);
/* Active open from the calling core, which must own a queue of the
 * interface that routes to addr (host byte order): the source port is
 * one whose flow hashes to this core, so the connection lives here.
 * ops->connected follows, or ops->gone (ECONNREFUSED, ETIMEDOUT). NULL
 * and *err (-ENETUNREACH, -EADDRNOTAVAIL, -ENOSPC) when it can't start. */
struct tcp_conn *tcp_connect(uint32_t addr, uint16_t port, const struct tcp_ops *ops, void *ctx, int *err);
/* Copies up to len bytes into the send buffer; returns how many. 0 when
 * it is full or when every send buffer of the core is in use (a
 * connection holds one only while it has bytes unacknowledged): `writable`
 * follows when room comes back. */
size_t tcp_send(struct tcp_conn *c, const void *data, size_t len);
/* Zero-copy: queues up to len bytes of data by reference instead of
 * copying them, in order with what tcp_send queued (headers copied,
 * bodies referenced), within the same bound (the send buffer's size,
 * both kinds counted: a slow reader pins at most that much of the
 * memory); returns how many, and `writable` follows as for tcp_send.
 * The stack takes a reference on ref (pkt/pktbuf.h: pktbuf_ref) per
 * queued extent and per frame that carries its bytes, and drops it when
 * the bytes are acknowledged and the frame is reclaimed, or when the
 * connection goes (reset, timeout, abort). The caller keeps its own
 * reference while it calls and must not change [data, data + len)
 * while any reference is held. Retransmissions read the memory again.
 * The memory must be device-visible (frame_is_dma: any RAM on metal;
 * on hosted only frame_alloc_dma_pages memory): segments whose bytes
 * are not are sent as copies (counted: tcp_ref_copy_fallback). */
struct pktbuf_ref;
size_t tcp_send_ref(struct tcp_conn *c, const void *data, size_t len, struct pktbuf_ref *ref);
size_t tcp_send_space(const struct tcp_conn *c);
/* Asks for `writable` when c's send room grows (an app whose receive room
 * on another connection depends on it, e.g. a relay) */
void tcp_want_writable(struct tcp_conn *c);
void tcp_recv_update(struct tcp_conn *c); /* the app has room again */
void tcp_close(struct tcp_conn *c);     /* FIN after what is queued */
void tcp_abort(struct tcp_conn *c);     /* RST now; `gone` follows */
/* tcp_abort for an app's idle timeout: counted (tcp_idle_aborts) */
void tcp_abort_idle(struct tcp_conn *c);
void tcp_conn_peer(const struct tcp_conn *c, uint32_t *addr, uint16_t *port);
/* the interface (index in "interfaces") the connection runs over */
int tcp_conn_ifindex(const struct tcp_conn *c);

/* ---- UDP */
struct udp_meta {
	uint32_t src, dst;              /* network byte order */
	uint16_t sport, dport;          /* host byte order */
	int ifindex;
};
typedef void (*udp_recv_fn)(void *arg, const struct udp_meta *m, const uint8_t *data, size_t len);
int udp_bind(uint16_t port, udp_recv_fn fn, void *arg);       /* core 0, start-up */
/* Sends from the calling core (which must own a queue of the interface).
 * to->dst/dport are the destination, to->sport our port. */
int udp_send(const struct udp_meta *to, const void *data, size_t len);
/* For a service that answers every datagram it gets (echo), on the core
 * of the receive callback: 1 when m may be answered; 0 (counted:
 * drop_udp_loop) when it came from a port whose service answers anything
 * too (0, 7 echo, 13 daytime, 17 qotd, 19 chargen, 37 time: with a
 * spoofed source the two would answer each other forever) or was sent to
 * a broadcast address (every host answering one spoofed victim). */
int udp_may_answer(const struct udp_meta *m);

/* ---- telemetry: per-core counters, by reason */
#define NET_STATS_FIELDS(X) \
	X(rx_frames) X(tx_frames) X(rx_arp) X(tx_arp) X(arp_miss_drop) \
	X(arp_refresh) X(arp_expired) X(drop_arp_bad) X(arp_conflict) X(arp_gw_kept) X(arp_learn_limited) \
	X(drop_vlan_untagged) X(drop_unbound) \
	X(dhcp_discover) X(dhcp_request) X(dhcp_offer) X(dhcp_ack) X(dhcp_nak) \
	X(drop_bad_dhcp) X(drop_dhcp_stray) \
	X(dhcp_bad_addr) X(dhcp_bad_mask) X(dhcp_bad_server) X(dhcp_wrong_server) \
	X(dhcp_bad_router) X(dhcp_small_mtu) \
	X(drop_vlan) X(drop_not_ipv4) X(drop_short) X(drop_bad_ip_hdr) X(drop_bad_ip_csum) \
	X(drop_ip_frag) X(drop_not_ours) X(drop_bad_src) X(drop_bcast_dst) X(drop_ttl) X(drop_proto) \
	X(icmp_echo) X(drop_bad_icmp) \
	X(udp_in) X(udp_out) X(drop_bad_udp) X(drop_udp_no_port) X(drop_udp_loop) \
	X(tcp_in) X(tcp_out) X(drop_bad_tcp) X(drop_bad_tcp_csum) X(tcp_rst_out) X(tcp_retrans) \
	X(tcp_accepts) X(tcp_connects) X(tcp_sndbuf_wait) X(tcp_syncookies) X(drop_tcp_no_conn) X(tcp_ooo) X(drop_tcp_ooo_full) \
	X(drop_tcp_conns_full) X(tcp_timewait_recycled) X(tcp_timeouts) \
	X(tcp_keepalive_probes) X(tcp_idle_aborts) X(tcp_rst_conns_full) \
	X(tcp_mss_clamped) X(drop_tcp_ooo_budget) X(tcp_ooo_pruned) X(tcp_ooo_timeout) \
	X(tcp_zero_window_timeouts) \
	X(drop_tcp_out_of_window) X(drop_tcp_bad_ack) X(tcp_challenge_acks) X(tcp_challenge_ack_limited) \
	X(tcp_oow_ack_limited) \
	X(tcp_ooo_coalesced) \
	X(tcp_ref_bytes) X(tcp_copy_bytes) X(tcp_ref_copy_fallback) X(tcp_ref_ext_exhausted) \
	X(steered_out) X(steered_in) X(tx_drop) X(drop_no_buffer)
#define NET_STATS_U64(f) uint64_t f;
struct net_stats { NET_STATS_FIELDS(NET_STATS_U64) };
void net_stats(uint32_t core, struct net_stats *out);
/* connections open on a core now */
uint32_t net_tcp_conns(uint32_t core);
/* One connection as the console shows it (net_tcp_quiet_conns). */
struct net_tcp_conn_info {
	const char *state;              /* "ESTABLISHED", "FIN_WAIT_2", ... */
	uint32_t raddr;                 /* host order */
	uint16_t rport, lport;
	uint32_t quiet_ms;              /* since its last segment in */
	uint32_t unacked, queued;       /* sequence space in flight; bytes in the send buffer */
	uint32_t snd_wnd, rcv_space;
	uint8_t fin_queued, fin_sent, app_gone;
	uint8_t rtx_armed, tw_armed, keep_armed;
};
/* Any core (core 0's console, for diagnosis): up to max of core's
 * connections that have heard nothing for quiet_ms or more, into out;
 * returns how many. A racy snapshot: the owner core writes those fields
 * meanwhile, so a line may mix two moments. */
int net_tcp_quiet_conns(uint32_t core, uint32_t quiet_ms, struct net_tcp_conn_info *out, int max);
/* memory one established, idle connection holds (its slot, its share of
 * the lookup table and any buffer it keeps while nothing is in flight) */
size_t net_tcp_idle_conn_bytes(void);
#endif
