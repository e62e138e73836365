/*
 * dhcp.c — the DHCPv4 client (RFC 2131, options RFC 2132) of interfaces
 * configured "address": "dhcp". Core 0 only: its state, its timer, what
 * it sends (udp_send from core 0; eth_tx hands the frame to the queue's
 * owner) and what it receives (ip.c hands every UDP 67 -> 68 datagram
 * of a DHCP interface to core 0, whatever its destination address).
 *
 * States (RFC 2131 figure 5, without INIT-REBOOT):
 *
 *   INIT -> SELECTING: DISCOVER, broadcast from 0.0.0.0, retransmitted
 *     after 4, 8, 16, 32, 64, 64, ... s (each +-1 s at random) until an
 *     OFFER comes;
 *   the first valid OFFER -> REQUESTING: REQUEST (broadcast, requested
 *     address and server id), same backoff, DHCP_REQUEST_TRIES sends,
 *     then back to INIT;
 *   ACK -> BOUND: address, mask, router and MTU published
 *     (net_if_set_addr: see struct net_if for the ordering that lets
 *     data cores read them without a lock), a gratuitous ARP, and the
 *     console line "eth0: dhcp bound A/P router R dns D lease L s from S";
 *   T1 -> RENEWING: REQUEST unicast to the server (ciaddr set), again
 *     after half the time left to T2 (at least 60 s; 1 s once when the
 *     REQUEST was dropped for an ARP miss: the server's MAC comes soon);
 *   T2 -> REBINDING: REQUEST broadcast, again after half the time left
 *     of the lease (at least 60 s);
 *   lease end -> the address is withdrawn (IP traffic for the interface
 *     is dropped, drop_unbound) and INIT again.
 *   A NAK while requesting, renewing or rebinding withdraws the address
 *   and restarts after DHCP_NAK_WAIT_NS.
 *
 * A lease's times count from the first REQUEST of the exchange that got
 * it (RFC 2131 4.4.1). T1 and T2 default to 1/2 and 7/8 of the lease.
 *
 * Bad input (short, bad UDP length or checksum, not a BOOTREPLY for
 * Ethernet, wrong magic cookie, options running past the end or with
 * impossible lengths, no message type, an OFFER or ACK without what it
 * must carry) counts drop_bad_dhcp; a well-formed reply that is not ours
 * (xid, hardware address) or not expected in our state counts
 * drop_dhcp_stray. Neither changes anything. Messages sent and replies
 * acted on are counted by kind (dhcp_discover, dhcp_request, dhcp_offer,
 * dhcp_ack, dhcp_nak).
 *
 * What a server offers is checked before it is used (a server is
 * untrusted input too), each refusal counted by reason on top of the
 * drop counters:
 *  - the address: unicast (not 0, broadcast, multicast, loopback, class
 *    E or 0/8), and not the network or broadcast address of its subnet
 *    (prefix <= 30; a /31 has neither, RFC 3021) -> the reply is dropped
 *    as bad, dhcp_bad_addr;
 *  - the mask: contiguous and not 0 -> dropped as bad, dhcp_bad_mask;
 *  - the server identifier: unicast, as the address; an OFFER must carry
 *    one -> dropped as bad, dhcp_bad_server;
 *  - while REQUESTING or RENEWING only the server we asked may answer: an
 *    ACK or NAK naming another server identifier (or, without the option,
 *    sent from another address) is stray, dhcp_wrong_server. RFC 2131
 *    4.4.5 sends the renewing REQUEST to the server that granted the
 *    lease, and in REQUESTING the others read our REQUEST as a refusal
 *    of their offers (3.1, step 3): neither can answer it. (REBINDING asks
 *    every server, so any may answer.) Without this any host on the
 *    segment that saw the xid could NAK the lease away.
 *  - the router list: the first entry that is unicast, on the offered
 *    subnet, neither its network nor broadcast address nor the offered
 *    address itself; a skipped entry counts dhcp_bad_router once per
 *    ACK, and with none left the interface has no gateway;
 *  - the interface MTU: below DHCP_MIN_MTU (576) it is ignored and counts
 *    dhcp_small_mtu. RFC 2132 5.1 allows down to 68, but a DHCP message
 *    is up to 576 bytes (RFC 2131 2) and we send 576-byte datagrams: an
 *    MTU under 328 made every renewal fail to send. systemd-networkd
 *    does the same (sd-dhcp-lease.c: "MTU value of N too small", below
 *    576); Debian's dhclient-script drops 576 too, we keep 576 itself.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "net/net_priv.h"
#include "sched/sched.h"

struct dhcp_hdr {                       /* BOOTP, RFC 951/2131 */
	uint8_t op, htype, hlen, hops;
	uint32_t xid;
	uint16_t secs, flags;
	uint32_t ciaddr, yiaddr, siaddr, giaddr;
	uint8_t chaddr[16];
	uint8_t sname[64];
	uint8_t file[128];
	uint32_t magic;
} __attribute__((packed));
_Static_assert(sizeof(struct dhcp_hdr) == 240, "dhcp header");

#define BOOTREQUEST 1
#define BOOTREPLY 2
#define DHCP_MAGIC 0x63825363u
/* we send 576-byte IP datagrams (the size every host takes): some servers
 * (QEMU's) ignore BOOTP messages shorter than that */
#define DHCP_MSG_LEN (576 - 20 - 8)

enum { OPT_PAD = 0, OPT_MASK = 1, OPT_ROUTER = 3, OPT_DNS = 6, OPT_MTU = 26, OPT_REQ_ADDR = 50,
       OPT_LEASE = 51, OPT_TYPE = 53, OPT_SERVER = 54, OPT_PARAMS = 55, OPT_MAX_SIZE = 57,
       OPT_T1 = 58, OPT_T2 = 59, OPT_CLIENT_ID = 61, OPT_END = 255 };
enum { DHCPDISCOVER = 1, DHCPOFFER = 2, DHCPREQUEST = 3, DHCPACK = 5, DHCPNAK = 6 };

enum dhcp_state { DHCP_OFF, DHCP_INIT, DHCP_SELECTING, DHCP_REQUESTING, DHCP_BOUND,
		  DHCP_RENEWING, DHCP_REBINDING };
static const char *const dhcp_state_names[] = {
	"off", "init", "selecting", "requesting", "bound", "renewing", "rebinding",
};

#define SEC 1000000000ull
#define DHCP_BACKOFF_MAX_S 64
#define DHCP_REQUEST_TRIES 4
#define DHCP_RETRY_MIN_NS (60 * SEC)   /* renew/rebind retransmissions, at least */
#define DHCP_ARP_RETRY_NS SEC          /* a renew that waited for ARP */
#define DHCP_NAK_WAIT_NS SEC           /* a NAKing server can't make us spin */
#define DHCP_MIN_LEASE_S 10
/* the smallest interface MTU an offer may set: one of our messages fits */
#define DHCP_MIN_MTU 576
_Static_assert(DHCP_MIN_MTU >= 20 + 8 + DHCP_MSG_LEN, "a renewal must fit the MTU an offer sets");
#define DHCP_MAX_ROUTERS 4              /* router entries looked at, in order */
#define DHCP_INFINITE 0xffffffffu

/* A reply, decoded. Addresses in network order, times in seconds. */
struct dhcp_msg {
	uint8_t type;
	uint32_t xid, yiaddr;
	uint8_t chaddr[ETH_ALEN];
	uint32_t server, mask, dns[3];
	uint32_t routers[DHCP_MAX_ROUTERS];
	uint8_t ndns, nrouters;
	uint32_t lease, t1, t2;         /* 0: absent */
	uint16_t mtu;
	uint8_t has_mtu, has_mask;
};

struct dhcp_if {
	/* core 0 only */
	struct net_if *ifc;
	enum dhcp_state state;
	struct timer tmr;               /* the next retransmission or lease event */
	uint32_t rng;
	uint32_t xid;
	unsigned tries;                 /* sends in this state */
	int arp_wait;                   /* the last renew went to ARP: retry soon, once */
	uint64_t start_ns;              /* this acquisition began: the secs field */
	uint64_t req_ns;                /* the first REQUEST of this exchange */
	/* the offer we request, then the lease (network order) */
	uint32_t addr, server, mask, router, dns[3];
	uint8_t ndns, prefix;
	uint16_t mtu;
	uint32_t lease_s;
	uint64_t t1_ns, t2_ns, end_ns;
};

static struct dhcp_if dhcp_ifs[NET_MAX_IFS];

static uint32_t dhcp_rand(struct dhcp_if *d)
{
	uint32_t x = d->rng;                    /* xorshift32: xids and jitter only */
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return d->rng = x;
}

static const char *ip_str(uint32_t a, char buf[16])
{
	a = ntohl(a);
	snprintf(buf, 16, "%u.%u.%u.%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255);
	return buf;
}

/* ---- sending */
static uint8_t *opt_u32(uint8_t *o, uint8_t code, uint32_t v_net)
{
	o[0] = code;
	o[1] = 4;
	memcpy(o + 2, &v_net, 4);
	return o + 6;
}

/* Builds and sends one DISCOVER or REQUEST for d's state. Returns
 * udp_send's result (-EHOSTUNREACH: a unicast renew waits for ARP). */
static int dhcp_send(struct dhcp_if *d, uint8_t type)
{
	uint8_t m[DHCP_MSG_LEN];
	struct dhcp_hdr *h = (void *)m;
	uint64_t secs = (time_ns() - d->start_ns) / SEC;
	int bound = d->state == DHCP_RENEWING || d->state == DHCP_REBINDING;
	memset(m, 0, sizeof m);
	h->op = BOOTREQUEST;
	h->htype = 1;
	h->hlen = ETH_ALEN;
	h->xid = htonl(d->xid);
	h->secs = htons(secs > 0xffff ? 0xffff : (uint16_t)secs);
	h->ciaddr = bound ? d->addr : 0;
	memcpy(h->chaddr, d->ifc->mac, ETH_ALEN);
	h->magic = htonl(DHCP_MAGIC);
	uint8_t *o = m + sizeof *h;
	*o++ = OPT_TYPE; *o++ = 1; *o++ = type;
	*o++ = OPT_CLIENT_ID; *o++ = 1 + ETH_ALEN; *o++ = 1;
	memcpy(o, d->ifc->mac, ETH_ALEN);
	o += ETH_ALEN;
	if (d->state == DHCP_REQUESTING) {
		o = opt_u32(o, OPT_REQ_ADDR, d->addr);
		o = opt_u32(o, OPT_SERVER, d->server);
	}
	*o++ = OPT_MAX_SIZE; *o++ = 2; *o++ = 576 >> 8; *o++ = 576 & 255;
	static const uint8_t params[] = { OPT_MASK, OPT_ROUTER, OPT_DNS, OPT_MTU, OPT_LEASE, OPT_T1, OPT_T2 };
	*o++ = OPT_PARAMS;
	*o++ = sizeof params;
	memcpy(o, params, sizeof params);
	o += sizeof params;
	*o++ = OPT_END;
	/* a small configured MTU: send less padding (options fit in 300) */
	size_t len = sizeof m, room = (size_t)net_ifa(d->ifc)->mtu - 28;
	if (room < len)
		len = room > 300 ? room : 300;
	struct udp_meta to = {
		.dst = d->state == DHCP_RENEWING ? d->server : 0xffffffffu,
		.sport = DHCP_CLIENT_PORT, .dport = DHCP_SERVER_PORT, .ifindex = d->ifc->index,
	};
	if (type == DHCPDISCOVER)
		NSTAT(dhcp_discover);
	else
		NSTAT(dhcp_request);
	return udp_send(&to, m, len);
}

static void arm_in(struct dhcp_if *d, uint64_t delay_ns)
{
	sched_timer_arm(&d->tmr, time_ns() + delay_ns, 0);
}

/* the SELECTING/REQUESTING backoff: 4, 8, ... 64 s, +-1 s */
static void arm_backoff(struct dhcp_if *d)
{
	unsigned shift = d->tries < 5 ? d->tries : 4;
	uint64_t base = (4ull << shift) * SEC;
	d->tries++;
	arm_in(d, base - SEC + dhcp_rand(d) % (2 * SEC));
}

static void dhcp_discover(struct dhcp_if *d)
{
	if (d->state != DHCP_SELECTING) {
		d->state = DHCP_SELECTING;
		d->xid = dhcp_rand(d);
		d->tries = 0;
		d->start_ns = time_ns();
	}
	if (d->tries == 4)
		klog("eth%d: dhcp: no offer after 4 DISCOVERs, asking every %d s", d->ifc->index,
		     DHCP_BACKOFF_MAX_S);
	dhcp_send(d, DHCPDISCOVER);
	arm_backoff(d);
}

/* back to INIT: withdraw the address (if any) and discover after delay */
static void dhcp_restart(struct dhcp_if *d, uint64_t delay_ns)
{
	if (net_ifa(d->ifc)->addr)
		net_if_set_addr(d->ifc, 0, 0, 0, 0);
	d->state = DHCP_INIT;
	d->addr = 0;
	arm_in(d, delay_ns);
}

/* RENEWING/REBINDING: send, then again after half the time left until
 * `limit` (T2 or the lease's end), at least DHCP_RETRY_MIN_NS, never
 * past limit */
static void dhcp_rerequest(struct dhcp_if *d, uint64_t limit)
{
	uint64_t now = time_ns();
	int rc = dhcp_send(d, DHCPREQUEST);
	uint64_t wait = (limit - now) / 2;
	if (wait < DHCP_RETRY_MIN_NS)
		wait = DHCP_RETRY_MIN_NS;
	/* dropped for ARP (the server's entry expired since the last try):
	 * the reply comes soon, send again then, but only once */
	d->arp_wait = rc == -EHOSTUNREACH && !d->arp_wait;
	if (d->arp_wait)
		wait = DHCP_ARP_RETRY_NS;
	d->tries++;
	sched_timer_arm(&d->tmr, now + wait < limit ? now + wait : limit, 0);
}

static void dhcp_expire(struct dhcp_if *d)
{
	char a[16];
	klog("eth%d: dhcp lease on %s expired: address withdrawn", d->ifc->index, ip_str(d->addr, a));
	dhcp_restart(d, 0);
}

static void dhcp_timer(struct timer *t, void *arg)
{
	struct dhcp_if *d = arg;
	uint64_t now = time_ns();
	switch (d->state) {
	case DHCP_OFF:
		return;
	case DHCP_INIT:
	case DHCP_SELECTING:
		dhcp_discover(d);
		return;
	case DHCP_REQUESTING:
		if (d->tries >= DHCP_REQUEST_TRIES) {
			klog("eth%d: dhcp: no answer to REQUEST: discovering again", d->ifc->index);
			d->state = DHCP_INIT;
			dhcp_discover(d);
			return;
		}
		dhcp_send(d, DHCPREQUEST);
		arm_backoff(d);
		return;
	case DHCP_BOUND:                        /* T1 */
		d->state = DHCP_RENEWING;
		d->xid = dhcp_rand(d);
		d->tries = 0;
		d->req_ns = d->start_ns = now;
		/* fall through */
	case DHCP_RENEWING:
		if (now < d->t2_ns) {
			dhcp_rerequest(d, d->t2_ns);
			return;
		}
		d->state = DHCP_REBINDING;      /* T2 */
		d->xid = dhcp_rand(d);
		d->tries = 0;
		d->req_ns = now;
		/* fall through */
	case DHCP_REBINDING:
		if (now < d->end_ns)
			dhcp_rerequest(d, d->end_ns);
		else
			dhcp_expire(d);
		return;
	}
}

/* ---- receiving */
static int usable_addr(uint32_t a_net)
{
	uint32_t a = ntohl(a_net);
	return a && a != 0xffffffffu && (a >> 24) != 0 && (a >> 24) != 127 && (a >> 28) != 0xe &&
	       (a >> 28) != 0xf;
}

/* the prefix of a contiguous mask, -1 otherwise */
static int mask_prefix(uint32_t m_net)
{
	uint32_t m = ntohl(m_net);
	int p = __builtin_popcount(m);
	return m == (p ? ~0u << (32 - p) : 0) && p > 0 ? p : -1;
}

/* One option of a reply into m. -1: a length the option can't have. */
static int dhcp_opt(struct dhcp_msg *m, uint8_t code, const uint8_t *v, uint8_t l)
{
	switch (code) {
	case OPT_TYPE:
		if (l != 1)
			return -1;
		m->type = v[0];
		return 0;
	case OPT_MASK:
		if (l != 4)
			return -1;
		memcpy(&m->mask, v, 4);
		m->has_mask = 1;
		return 0;
	case OPT_SERVER: if (l != 4) return -1; memcpy(&m->server, v, 4); return 0;
	case OPT_ROUTER:                        /* in order of preference */
		if (l < 4 || l % 4)
			return -1;
		for (m->nrouters = 0; m->nrouters < DHCP_MAX_ROUTERS && m->nrouters * 4 < l; m->nrouters++)
			memcpy(&m->routers[m->nrouters], v + 4 * m->nrouters, 4);
		return 0;
	case OPT_DNS:
		if (l < 4 || l % 4)
			return -1;
		for (m->ndns = 0; m->ndns < 3 && m->ndns * 4 < l; m->ndns++)
			memcpy(&m->dns[m->ndns], v + 4 * m->ndns, 4);
		return 0;
	case OPT_LEASE:
	case OPT_T1:
	case OPT_T2: {
		uint32_t x;
		if (l != 4)
			return -1;
		memcpy(&x, v, 4);
		x = ntohl(x);
		*(code == OPT_LEASE ? &m->lease : code == OPT_T1 ? &m->t1 : &m->t2) = x ? x : 1;
		return 0;
	}
	case OPT_MTU:
		if (l != 2)
			return -1;
		m->mtu = (uint16_t)(v[0] << 8 | v[1]);
		m->has_mtu = 1;
		return 0;
	default:
		return 0;                       /* not ours to use */
	}
}

/* Decodes a BOOTP/DHCP reply of len bytes. -1: malformed. */
static int dhcp_parse(const uint8_t *p, size_t len, struct dhcp_msg *m)
{
	const struct dhcp_hdr *h = (const void *)p;
	memset(m, 0, sizeof *m);
	if (len < sizeof *h + 1 || h->op != BOOTREPLY || h->htype != 1 || h->hlen != ETH_ALEN ||
	    ntohl(h->magic) != DHCP_MAGIC)
		return -1;
	m->xid = ntohl(h->xid);
	m->yiaddr = h->yiaddr;
	memcpy(m->chaddr, h->chaddr, ETH_ALEN);
	const uint8_t *o = p + sizeof *h;
	size_t n = len - sizeof *h, i = 0;
	while (i < n) {
		uint8_t code = o[i++];
		if (code == OPT_PAD)
			continue;
		if (code == OPT_END)
			return m->type ? 0 : -1;
		if (i >= n || o[i] > n - i - 1)
			return -1;              /* the option runs past the end */
		uint8_t l = o[i++];
		if (dhcp_opt(m, code, o + i, l))
			return -1;
		i += l;
	}
	return -1;                              /* no END: truncated */
}

static uint8_t classful_prefix(uint32_t a_net)
{
	uint32_t a = ntohl(a_net);
	return a < 0x80000000u ? 8 : a < 0xc0000000u ? 16 : 24;
}

/* The prefix an OFFER or ACK's address takes (its mask, or its class
 * without one); -1 when the mask is not contiguous. */
static int dhcp_msg_prefix(const struct dhcp_msg *m)
{
	return m->has_mask ? mask_prefix(m->mask) : classful_prefix(m->yiaddr);
}

/* a usable unicast address that is not the network or broadcast address
 * of the subnet a_net/prefix (prefix <= 30: a /31 or /32 has neither) */
static int host_addr(uint32_t a_net, int prefix)
{
	if (!usable_addr(a_net))
		return 0;
	if (prefix > 30)
		return 1;
	uint32_t host = ntohl(a_net) & (~0u >> prefix);
	return host && host != ~0u >> prefix;
}

/* An OFFER or ACK carries an address we can use with a contiguous mask;
 * an OFFER names its server; an ACK gives a lease; any reply's server
 * identifier is unicast. Returns 1, or 0 with the reason counted. */
static int dhcp_msg_ok(const struct dhcp_msg *m)
{
	if (m->server && !usable_addr(m->server)) {
		NSTAT(dhcp_bad_server);
		return 0;
	}
	if (m->type != DHCPOFFER && m->type != DHCPACK)
		return 1;
	int prefix = dhcp_msg_prefix(m);
	if (prefix < 0) {
		NSTAT(dhcp_bad_mask);
		return 0;
	}
	if (!host_addr(m->yiaddr, prefix)) {
		NSTAT(dhcp_bad_addr);
		return 0;
	}
	if (m->type == DHCPOFFER && !m->server) {
		NSTAT(dhcp_bad_server);
		return 0;
	}
	return m->type != DHCPACK || m->lease;
}

/* The first router of an ACK we can use on addr/prefix (see the top of
 * the file), or 0; a skipped entry counts dhcp_bad_router once. */
static uint32_t dhcp_pick_router(const struct dhcp_msg *m, uint32_t addr, int prefix)
{
	uint32_t mask = prefix ? htonl(~0u << (32 - prefix)) : 0;
	for (int i = 0; i < m->nrouters; i++) {
		uint32_t r = m->routers[i];
		if (host_addr(r, prefix) && (r & mask) == (addr & mask) && r != addr) {
			if (i)
				NSTAT(dhcp_bad_router);
			return r;
		}
	}
	if (m->nrouters)
		NSTAT(dhcp_bad_router);
	return 0;
}

static void dhcp_take_offer(struct dhcp_if *d, const struct dhcp_msg *m)
{
	char a[16], s[16];
	NSTAT(dhcp_offer);
	klog("eth%d: dhcp offer %s from %s", d->ifc->index, ip_str(m->yiaddr, a), ip_str(m->server, s));
	d->state = DHCP_REQUESTING;
	d->addr = m->yiaddr;
	d->server = m->server;
	d->tries = 0;
	d->req_ns = time_ns();
	sched_timer_cancel(&d->tmr);
	dhcp_send(d, DHCPREQUEST);
	arm_backoff(d);
}

static void dhcp_log_bound(struct dhcp_if *d)
{
	char line[200], a[16];
	int n = snprintf(line, sizeof line, "eth%d: dhcp bound %s/%u", d->ifc->index, ip_str(d->addr, a),
			 d->prefix);
	if (d->router)
		n += snprintf(line + n, sizeof line - (size_t)n, " router %s", ip_str(d->router, a));
	for (int i = 0; i < d->ndns; i++)
		n += snprintf(line + n, sizeof line - (size_t)n, "%s%s", i ? "," : " dns ", ip_str(d->dns[i], a));
	if (d->lease_s == DHCP_INFINITE)
		n += snprintf(line + n, sizeof line - (size_t)n, " lease infinite");
	else
		n += snprintf(line + n, sizeof line - (size_t)n, " lease %u s", d->lease_s);
	snprintf(line + n, sizeof line - (size_t)n, " from %s", ip_str(d->server, a));
	klog("%s", line);
}

/* An ACK: (re)bind, publish what changed, arm T1. */
static void dhcp_bind(struct dhcp_if *d, const struct dhcp_msg *m, uint32_t ip_src)
{
	NSTAT(dhcp_ack);
	int prefix = dhcp_msg_prefix(m);        /* contiguous: dhcp_msg_ok */
	uint32_t router = dhcp_pick_router(m, m->yiaddr, prefix);
	uint16_t mtu = m->has_mtu && m->mtu >= DHCP_MIN_MTU ? m->mtu : 0;
	if (m->has_mtu && !mtu)
		NSTAT(dhcp_small_mtu);
	const struct net_ifaddr *now_ifa = net_ifa(d->ifc);
	int changed = now_ifa->addr != m->yiaddr || now_ifa->prefix != prefix || now_ifa->gw != router ||
		      (mtu && mtu < d->ifc->base_mtu ? mtu : d->ifc->base_mtu) != now_ifa->mtu;
	d->addr = m->yiaddr;
	d->prefix = (uint8_t)prefix;
	d->mask = prefix ? htonl(~0u << (32 - prefix)) : 0;
	d->router = router;
	d->mtu = mtu;
	d->ndns = m->ndns;
	memcpy(d->dns, m->dns, sizeof d->dns);
	d->server = m->server ? m->server : ip_src;
	uint32_t lease = m->lease < DHCP_MIN_LEASE_S ? DHCP_MIN_LEASE_S : m->lease;
	d->lease_s = lease;
	sched_timer_cancel(&d->tmr);
	int renewed = d->state != DHCP_REQUESTING;
	d->state = DHCP_BOUND;
	d->tries = 0;
	if (lease != DHCP_INFINITE) {
		uint32_t t1 = m->t1 && m->t1 < lease ? m->t1 : lease / 2;
		uint32_t t2 = m->t2 && m->t2 < lease && m->t2 >= t1 ? m->t2 : lease - lease / 8;
		if (t2 < t1)
			t2 = t1;
		d->t1_ns = d->req_ns + t1 * SEC;
		d->t2_ns = d->req_ns + t2 * SEC;
		d->end_ns = d->req_ns + lease * SEC;
		sched_timer_arm(&d->tmr, d->t1_ns, 0);
	}
	if (changed) {
		net_if_set_addr(d->ifc, d->addr, d->prefix, d->router, mtu);
		net_arp_announce(d->ifc);       /* gratuitous: tell the segment */
	}
	if (changed || !renewed) {
		dhcp_log_bound(d);
	} else {
		char a[16];
		klog("eth%d: dhcp renewed %s lease %u s", d->ifc->index, ip_str(d->addr, a), d->lease_s);
	}
}

static int dhcp_requesting(const struct dhcp_if *d)
{
	return d->state == DHCP_REQUESTING || d->state == DHCP_RENEWING || d->state == DHCP_REBINDING;
}

/* An ACK or NAK from a server other than the one we asked, where only
 * that one may answer (REQUESTING, RENEWING: see the top of the file).
 * The server identifier names it, else the datagram's source. */
static int dhcp_wrong_server(const struct dhcp_if *d, const struct dhcp_msg *m, uint32_t ip_src)
{
	if (d->state != DHCP_REQUESTING && d->state != DHCP_RENEWING)
		return 0;
	return (m->server ? m->server : ip_src) != d->server;
}

/* b: at the IP header of a UDP datagram 67 -> 68; validated IP. */
void dhcp_input(struct net_if *ifc, struct pktbuf *b)
{
	struct dhcp_if *d = &dhcp_ifs[ifc->index];
	const struct ipv4_hdr *ip = (const void *)pktbuf_data(b);
	uint16_t hl = (uint16_t)((ip->ver_ihl & 15) * 4);
	const struct udp_hdr *u = (const void *)((const uint8_t *)ip + hl);
	uint16_t ulen = ntohs(u->len);
	uint32_t src = ip->src;
	struct dhcp_msg m;
	int bad = ulen < sizeof *u || ulen > b->len - hl ||
		  (u->csum && !(b->flags & (PKTBUF_F_CSUM_VALID | PKTBUF_F_CSUM_NEEDED)) &&
		   net_csum(u, ulen, net_pseudo_sum(ip->src, ip->dst, IP_PROTO_UDP, ulen)) != 0) ||
		  dhcp_parse((const uint8_t *)(u + 1), ulen - sizeof *u, &m) || !dhcp_msg_ok(&m);
	pktbuf_free(b);
	if (bad) {
		NSTAT(drop_bad_dhcp);
		return;
	}
	if (d->ifc != ifc || m.xid != d->xid || memcmp(m.chaddr, ifc->mac, ETH_ALEN)) {
		NSTAT(drop_dhcp_stray);         /* another client's, or an old exchange's */
		return;
	}
	char a[16];
	if ((m.type == DHCPACK || m.type == DHCPNAK) && dhcp_requesting(d) && dhcp_wrong_server(d, &m, src)) {
		NSTAT(dhcp_wrong_server);
		NSTAT(drop_dhcp_stray);         /* not the server we asked */
		return;
	}
	if (m.type == DHCPOFFER && d->state == DHCP_SELECTING) {
		dhcp_take_offer(d, &m);
	} else if (m.type == DHCPACK && dhcp_requesting(d)) {
		dhcp_bind(d, &m, src);
	} else if (m.type == DHCPNAK && dhcp_requesting(d)) {
		NSTAT(dhcp_nak);
		klog("eth%d: dhcp nak from %s: starting over", ifc->index, ip_str(m.server ? m.server : src, a));
		sched_timer_cancel(&d->tmr);
		dhcp_restart(d, DHCP_NAK_WAIT_NS);
	} else {
		NSTAT(drop_dhcp_stray);         /* not expected now */
	}
}

void dhcp_start(struct net_if *ifc)
{
	struct dhcp_if *d = &dhcp_ifs[ifc->index];
	uint32_t seed = 0;
	memset(d, 0, sizeof *d);
	d->ifc = ifc;
	if (getentropy(&seed, sizeof seed))
		seed = 0;
	for (int i = 0; i < ETH_ALEN; i++)
		seed = seed * 31 + ifc->mac[i];
	d->rng = (seed ^ (uint32_t)time_ns()) | 1;
	timer_init(&d->tmr, dhcp_timer, d);
	d->state = DHCP_INIT;
	/* a little later, not inside net_init, and not in step with every
	 * other VM booted at the same moment */
	arm_in(d, 1000000ull + dhcp_rand(d) % (100 * 1000000ull));
}

int net_dhcp_info(int i, struct net_dhcp_info *o)
{
	if (i < 0 || i >= net_nifs)
		return -EINVAL;
	if (!net_ifs[i].dhcp)
		return -ENOENT;
	const struct dhcp_if *d = &dhcp_ifs[i];
	uint64_t now = time_ns();
	int held = d->state >= DHCP_BOUND;
	memset(o, 0, sizeof *o);
	o->state = dhcp_state_names[d->state];
	o->server = held ? ntohl(d->server) : 0;
	o->ndns = held ? d->ndns : 0;
	for (int k = 0; k < o->ndns; k++)
		o->dns[k] = ntohl(d->dns[k]);
	o->lease_s = held ? d->lease_s : 0;
	if (held)
		o->lease_left_s = d->lease_s == DHCP_INFINITE ? DHCP_INFINITE
				: d->end_ns > now ? (uint32_t)((d->end_ns - now) / SEC) : 0;
	return 0;
}
