/*
 * rss.h — receive-side scaling as the virtio-net device defines it (virtio
 * 1.2, 5.1.6.4.3, the same as Microsoft's RSS): a Toeplitz hash over a
 * received IPv4 packet's (source address, destination address, source
 * port, destination port), bytes in wire order, and an indirection table
 * that turns the hash into a receive queue. Pure C, no platform: host
 * unit-tested against the published verification vectors.
 *
 * One struct rss_conf per device: the driver fills it (rss_conf_init) and
 * hands the same key and table to the device; the stack computes a
 * flow's queue from it (rss_flow_queue). Both sides read one object, so
 * they cannot drift apart.
 *
 * Rules: a struct rss_conf is written only by rss_conf_init, on core 0 at
 * start-up; afterwards it is immutable and any core reads it freely.
 * The stack hashes TCP and UDP by 4-tuple only: the driver turns device
 * RSS on only with the TCPv4 and UDPv4 hash types both enabled.
 */
#ifndef POLLUX_RSS_H
#define POLLUX_RSS_H
#include <stddef.h>
#include <stdint.h>

#define RSS_KEY_LEN 40                  /* the key virtio-net devices take */
#define RSS_TABLE_MAX 128               /* QEMU's largest indirection table */
#define RSS_TUPLE_V4 12                 /* bytes an IPv4 4-tuple hashes */

/* hash types, numbered as virtio-net numbers them (VIRTIO_NET_RSS_HASH_TYPE_*) */
#define RSS_TYPE_IPV4  (1u << 0)
#define RSS_TYPE_TCPV4 (1u << 1)
#define RSS_TYPE_UDPV4 (1u << 2)

struct rss_conf {
	/* immutable after rss_conf_init */
	uint32_t types;                 /* RSS_TYPE_* the device hashes */
	uint16_t table_len;             /* a power of two, <= RSS_TABLE_MAX */
	uint16_t nq;                    /* queues the table spreads over */
	uint16_t table[RSS_TABLE_MAX];  /* hash & (table_len - 1) -> queue */
	uint8_t key[RSS_KEY_LEN];
	/* per byte of the IPv4 4-tuple and per value: its share of the hash
	 * (Toeplitz is linear over XOR), so a hash is 12 loads, not 96 steps */
	uint32_t lut[RSS_TUPLE_V4][256];
};

/* Microsoft's published verification key (also the default of many
 * NICs); used when no random key could be had. */
extern const uint8_t rss_default_key[RSS_KEY_LEN];

/* The reference Toeplitz hash of len bytes (len <= RSS_KEY_LEN - 4),
 * bit by bit: each set input bit XORs in the 32 key bits starting at its
 * position. Slow; the fast path is rss_hash_v4. */
uint32_t rss_toeplitz(const uint8_t key[RSS_KEY_LEN], const uint8_t *in, size_t len);

/* Fills c: the key, the hash types, a table of table_len entries spread
 * round-robin over queues 0..nq-1 (entry i -> i % nq), and the lookup
 * table. Returns 0, or -EINVAL when table_len is not a power of two in
 * 1..RSS_TABLE_MAX or nq is 0. */
int rss_conf_init(struct rss_conf *c, const uint8_t key[RSS_KEY_LEN], uint16_t table_len,
		  uint16_t nq, uint32_t types);

/* The device's hash of an IPv4 packet from saddr:sport to daddr:dport
 * (addresses in network byte order, ports in host order). */
uint32_t rss_hash_v4(const struct rss_conf *c, uint32_t saddr, uint32_t daddr,
		     uint16_t sport, uint16_t dport);

static inline uint16_t rss_queue(const struct rss_conf *c, uint32_t hash)
{
	return c->table[hash & (uint32_t)(c->table_len - 1)];
}

/* The queue the device puts a flow's packets on, from our side's view
 * of the flow: they come from the remote end (raddr:rport) to us
 * (laddr:lport), so the remote end is the hash's source. */
static inline uint16_t rss_flow_queue(const struct rss_conf *c, uint32_t raddr, uint32_t laddr,
				      uint16_t rport, uint16_t lport)
{
	return rss_queue(c, rss_hash_v4(c, raddr, laddr, rport, lport));
}
#endif
