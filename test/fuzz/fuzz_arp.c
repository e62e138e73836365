/*
 * fuzz_arp.c — libFuzzer target: ARP (src/net/arp.c) across two
 * interfaces on the host harness (test/unit/net/harness.c, two fake
 * devices), fed ARP frames whose senders, targets and MACs are drawn from
 * the cases that matter (ours, the other interface's, broadcasts, groups,
 * off-subnet, gateways, the peers) or raw, interleaved with raw frames,
 * pings that make the stack ask, datagrams the app sends, floods of new
 * senders and time. Nothing may crash (ASan, UBSan, the stack's
 * ASSERTs); after every input the table must hold no entry the rules
 * forbid (one of our addresses, a broadcast, multicast or loopback
 * sender, a group or zero MAC) and, with what was sent dropped, every
 * packet buffer must be back in its pool.
 *
 * Every frame the stack sends is checked against the interface it
 * leaves by: our MAC there, ARP for that interface's address only, and a
 * unicast destination only to a MAC heard as an ARP sender on that same
 * interface (an entry learned on one NIC and used on the other shows).
 * The reader, clock and end-of-input checks are test/fuzz/net_fuzz.h's.
 *
 * Each input gets a fresh world (h_fini/h_init; net_init empties the
 * table): eth0 198.18.0.2/24 via 198.18.0.1, eth1 198.18.1.2/24 with a
 * route to 10.0.0.0/8 via 198.18.1.1.
 *
 * Input: records until the input ends (256 at most).
 *   record: op = byte & 7, arg = byte >> 3 (bit 0: on eth1), then:
 *     0 ARP:   op8 (1 request, 2 reply, else as is), sha8, spa8, tpa8:
 *              each an index into the tables below (the last: raw bytes
 *              from the input)
 *     1 raw frame: len16, bytes -> the device
 *     2 time:  ms16 -> h_advance_ms (15 min per input at most)
 *     3 ping:  src8 (address index) to the interface's address
 *     4 app:   dst8 (address index): a UDP datagram out of the interface
 *     5 flood: (arg >> 1) * 8 requests for us from new senders on the
 *              interface's subnet
 */
#include "net_fuzz.h"
#include "net/net_priv.h"

#define FUZZ_CONFIG \
	"{\"interfaces\": [{\"address\": \"198.18.0.2/24\", \"gateway\": \"198.18.0.1\"}," \
	" {\"address\": \"198.18.1.2/24\", \"routes\": [{\"to\": \"10.0.0.0/8\", \"via\": \"198.18.1.1\"}]}]," \
	" \"tcp\": {\"max_conns_per_core\": 8, \"send_buffer\": 16384}}"
#define FUZZ_TIME_MS (15 * 60 * 1000ull)
#define ETH1_IP 0xc6120102u

/* host order; the last entry means "four raw bytes" */
static const uint32_t addrs[] = {
	0, 0xffffffffu, H_OUR_IP, ETH1_IP, H_PEER_IP, H_OTHER_IP, 0xc61200ffu, 0xc6120000u,
	0xc6120101u, 0xc6120107u, 0xc61201ffu, 0x0a010203u, 0x7f000001u, 0xe0000001u, 0xc0a80101u, 0,
};
#define NADDRS (sizeof addrs / sizeof addrs[0])

static const uint8_t macs[][6] = {
	{ 0x02, 0, 0, 0, 0, 0x01 }, { 0x02, 0, 0, 0, 0, 0x07 }, { 0x02, 0, 0, 0, 0, 0x99 },
	{ 0xff, 0xff, 0xff, 0xff, 0xff, 0xff }, { 0x01, 0x00, 0x5e, 0, 0, 1 }, { 0 },
	{ 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 }, { 0 },
};
#define NMACS (sizeof macs / sizeof macs[0])

static uint32_t addr_of(struct nf_in *in, uint8_t i)
{
	i %= NADDRS;
	return i == NADDRS - 1 ? nf_u32(in) : addrs[i];
}

static void mac_of(struct nf_in *in, uint8_t i, uint8_t out[6])
{
	i %= NMACS;
	if (i == NMACS - 1)
		nf_take(in, out, 6);
	else
		memcpy(out, macs[i], 6);
}

static void ping(int dev, uint32_t src)
{
	uint8_t m[12] = { 8, 0, 0, 0, 0, 1, 0, 1, 'f', 'u', 'z', 'z' };
	uint16_t c = net_csum(m, sizeof m, 0);
	memcpy(m + 2, &c, 2);
	h_rx_dev = dev;
	h_rx_ip_to(src, dev ? ETH1_IP : H_OUR_IP, IP_PROTO_ICMP, m, sizeof m);
	h_rx_dev = 0;
}

/* what the rules forbid in the table: checked for every address of the
 * tables on both interfaces */
static void check_table(void)
{
	static const uint8_t zero[6];
	for (int d = 0; d < 2; d++)
		for (size_t i = 0; i < NADDRS - 1; i++) {
			uint32_t a = addrs[i];
			const struct arp_entry *e = arp_lookup(&net_ifs[d], htonl(a));
			if (!e)
				continue;
			int bad_addr = a == 0 || a == 0xffffffffu || a == H_OUR_IP || a == ETH1_IP ||
				       (a >> 24) == 127 || (a >> 28) >= 14;
			if (bad_addr || (e->mac[0] & 1) || !memcmp(e->mac, zero, 6) || e->ifindex != d)
				nf_fail("arp", "a forbidden entry on eth%d: %08x", d, a);
		}
}

/* The MACs each interface has heard as an ARP sender (from frames the
 * input fed it): the only unicast destinations it may send to. A MAC
 * learned on one interface and used on the other shows here, whatever
 * address the table keyed it by. */
#define KNOWN_MAX 64
static struct {
	uint8_t mac[KNOWN_MAX][6];
	int n, overflow;
	int flooded;                    /* 02:42:00:00:xx:xx, the flood's senders */
} known[2];

static void known_add(int dev, const uint8_t mac[6])
{
	for (int i = 0; i < known[dev].n; i++)
		if (!memcmp(known[dev].mac[i], mac, 6))
			return;
	if (known[dev].n == KNOWN_MAX) {
		known[dev].overflow = 1;        /* too many to tell: stop checking */
		return;
	}
	memcpy(known[dev].mac[known[dev].n++], mac, 6);
}

static int known_has(int dev, const uint8_t mac[6])
{
	static const uint8_t flood[4] = { 0x02, 0x42, 0, 0 };
	if (known[dev].overflow || (known[dev].flooded && !memcmp(mac, flood, 4)))
		return 1;
	for (int i = 0; i < known[dev].n; i++)
		if (!memcmp(known[dev].mac[i], mac, 6))
			return 1;
	return 0;
}

/* a raw frame for dev: its ARP sender, untagged or 802.1Q-tagged */
static void known_raw(int dev, const uint8_t *f, size_t len)
{
	if (len >= ETH_HLEN + 14 && f[12] == 0x08 && f[13] == 0x06)
		known_add(dev, f + ETH_HLEN + 8);
	if (len >= ETH_HLEN + 18 && f[12] == 0x81 && f[13] == 0x00 && f[16] == 0x08 && f[17] == 0x06)
		known_add(dev, f + ETH_HLEN + 12);
}

/* Every frame the stack sent, against the interface it left by: from
 * that device's MAC; an ARP frame speaks for that interface's address
 * with its MAC; a unicast frame goes to a MAC heard on that interface. */
static void check_sent(void)
{
	struct h_pkt k;
	while (h_next(&k)) {
		int d = k.ifindex;
		const uint8_t *mac = d ? H_OUR_MAC1 : H_OUR_MAC;
		uint32_t addr = d ? ETH1_IP : H_OUR_IP;
		if (k.len < ETH_HLEN)
			nf_fail("arp", "a frame of %u bytes on eth%d", k.len, d);
		if (memcmp(k.eth->src, mac, 6))
			nf_fail("arp", "a frame on eth%d from another MAC", d);
		if (k.arp && (memcmp(k.arp->sha, mac, 6) || k.arp->spa != htonl(addr)))
			nf_fail("arp", "an ARP frame on eth%d for another interface (spa %08x)", d, ntohl(k.arp->spa));
		if (!(k.eth->dst[0] & 1) && !known_has(d, k.eth->dst))
			nf_fail("arp", "a unicast frame on eth%d to %02x:%02x:%02x:%02x:%02x:%02x, never an ARP "
				"sender there (type %04x)", d, k.eth->dst[0], k.eth->dst[1], k.eth->dst[2],
				k.eth->dst[3], k.eth->dst[4], k.eth->dst[5], k.type);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *buf, size_t size)
{
	h_ndevs = 2;
	nf_world_init("arp", FUZZ_CONFIG);
	struct nf_in in = { buf, size };
	struct nf_clock clock = { 0, FUZZ_TIME_MS };
	static uint32_t flood_next;
	memset(known, 0, sizeof known);
	known_add(0, H_PEER_MAC);               /* h_init: its request, and its answers on eth0 */
	for (int records = 0; in.n && records < 256; records++) {
		uint8_t op = nf_u8(&in), arg = op >> 3;
		int dev = arg & 1;
		switch (op & 7) {
		case 0: {
			uint8_t aop = nf_u8(&in), si = nf_u8(&in), pi = nf_u8(&in), ti = nf_u8(&in);
			uint8_t sha[6], tha[6] = { 0 };
			mac_of(&in, si, sha);
			uint32_t spa = addr_of(&in, pi), tpa = addr_of(&in, ti);
			uint16_t o = aop == 0 ? ARP_REQUEST : aop == 1 ? ARP_REPLY : aop;
			if (o == ARP_REPLY)
				memcpy(tha, dev ? H_OUR_MAC1 : H_OUR_MAC, 6);
			known_add(dev, sha);
			h_rx_arp_on(dev, o, sha, spa, tha, tpa);
			break;
		}
		case 1: {
			static uint8_t f[PKTBUF_DATA];
			size_t len = nf_u16(&in) % (PKTBUF_DATA + 1);
			nf_take(&in, f, len);
			known_raw(dev, f, len);
			h_rx_raw_on(dev, f, len);
			break;
		}
		case 2:
			nf_clock_advance(&clock, nf_u16(&in));
			break;
		case 3:
			ping(dev, addr_of(&in, nf_u8(&in)));
			break;
		case 4: {
			struct udp_meta to = { .dst = htonl(addr_of(&in, nf_u8(&in))), .sport = 5353, .dport = 53,
					       .ifindex = dev };
			udp_send(&to, "fuzz", 4);
			h_turn();
			break;
		}
		case 5:
			known[dev].flooded |= arg >> 1 != 0;
			for (int i = 0; i < (arg >> 1) * 8; i++) {
				uint8_t mac[6] = { 0x02, 0x42, 0, 0, (uint8_t)(flood_next >> 8), (uint8_t)flood_next };
				uint32_t spa = (dev ? 0xc6120100u : 0xc6120000u) | (3 + flood_next % 250);
				flood_next++;
				h_rx_arp_on(dev, ARP_REQUEST, mac, spa, NULL, dev ? ETH1_IP : H_OUR_IP);
				check_sent();
			}
			break;
		default:
			break;
		}
		check_sent();
	}
	check_table();
	if (nf_stats_print())                   /* to check what a seed reaches */
		fprintf(stderr, " arp=%u\n", net_arp_entries());
	nf_world_end("arp");
	return 0;
}
