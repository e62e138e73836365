/*
 * proto.h — wire formats: Ethernet, ARP, IPv4, ICMP, UDP, TCP. Structs
 * and constants only; multi-byte fields are big-endian on the wire (use
 * ntohs/htons and friends).
 */
#ifndef POLLUX_PROTO_H
#define POLLUX_PROTO_H
#include <stdint.h>

#define ETH_ALEN 6
#define ETH_HLEN 14
#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_ARP  0x0806
#define ETHERTYPE_VLAN 0x8100

struct eth_hdr {
	uint8_t dst[ETH_ALEN], src[ETH_ALEN];
	uint16_t type;
} __attribute__((packed));

struct arp_hdr {
	uint16_t htype, ptype;
	uint8_t hlen, plen;
	uint16_t op;
	uint8_t sha[ETH_ALEN];
	uint32_t spa;
	uint8_t tha[ETH_ALEN];
	uint32_t tpa;
} __attribute__((packed));
#define ARP_REQUEST 1
#define ARP_REPLY   2

struct ipv4_hdr {
	uint8_t ver_ihl, tos;
	uint16_t len, id, frag;
	uint8_t ttl, proto;
	uint16_t csum;
	uint32_t src, dst;
} __attribute__((packed));
#define IP_PROTO_ICMP 1
#define IP_PROTO_TCP  6
#define IP_PROTO_UDP  17
#define IP_FRAG_MF     0x2000
#define IP_FRAG_OFFSET 0x1fff

struct icmp_hdr {
	uint8_t type, code;
	uint16_t csum;
	uint16_t id, seq;
} __attribute__((packed));
#define ICMP_ECHO_REPLY   0
#define ICMP_ECHO_REQUEST 8

struct udp_hdr {
	uint16_t sport, dport, len, csum;
} __attribute__((packed));

struct tcp_hdr {
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t off;                    /* data offset << 4 */
	uint8_t flags;
	uint16_t win, csum, urg;
} __attribute__((packed));
#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_PSH 0x08
#define TCP_ACK 0x10
#define TCP_URG 0x20
#define TCP_ECE 0x40
#define TCP_CWR 0x80
#define TCPOPT_EOL 0
#define TCPOPT_NOP 1
#define TCPOPT_MSS 2
#define TCPOPT_WSCALE 3
#define TCPOPT_SACK_OK 4
#define TCPOPT_TS 8

_Static_assert(sizeof(struct eth_hdr) == 14, "eth");
_Static_assert(sizeof(struct arp_hdr) == 28, "arp");
_Static_assert(sizeof(struct ipv4_hdr) == 20, "ipv4");
_Static_assert(sizeof(struct udp_hdr) == 8, "udp");
_Static_assert(sizeof(struct tcp_hdr) == 20, "tcp");
#endif
