/*
 * harness.c — the stub platform under the host network tests and the
 * fuzzer, and the helpers of harness.h. See harness.h for the world it
 * makes.
 *
 * Stubs: one core; frame_alloc_pages and frame_alloc_dma_pages from
 * aligned_alloc (zeroed, freed by h_fini); time_ns() the fake clock;
 * sched_timer_* on a local wheel; call_on queued (bounded: a full queue answers -ENOBUFS, as a full
 * channel would) and run by h_turn(); sched_publish an atomic exchange
 * and sched_quiesce_wait immediate (no other core reads); the device
 * eth0 with one queue pair owned by core 0.
 *
 * Checksums of the frames built and decoded here are computed by this
 * file's own routine, not the stack's net_csum, so a bug there shows.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include "net/net_priv.h"
#include "sched/sched.h"
#include "core/config.h"
#include "core/schema.h"
#include "harness.h"

void net_input(int ifindex, struct pktbuf *b);  /* eth.c, for tests */

const uint8_t H_OUR_MAC[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
const uint8_t H_PEER_MAC[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 };
const uint8_t H_OUR_MAC1[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x57 };

/* ---------------------------------------------------------------- platform */
static struct core h_core0 = { .self = &h_core0, .id = 0 };
static uint64_t h_clock = H_T0_NS;

struct core *core_self(void) { return &h_core0; }
struct core *core_get(uint32_t id) { return id == 0 ? &h_core0 : NULL; }
uint32_t cores_count(void) { return 1; }
void core_kick(uint32_t id) { (void)id; }
uint64_t time_ns(void) { return h_clock; }

void console_write(const char *s, size_t n)
{
	static int verbose = -1;
	if (verbose < 0)
		verbose = getenv("H_VERBOSE") != NULL;
	if (verbose)
		fwrite(s, 1, n, stderr);
}

_Noreturn void panic(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "panic: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	abort();
}

/* every frame_alloc_pages block; h_fini retires them and the next world
 * reuses them by size (the fuzzer makes a world per input: mapping
 * and faulting in fresh megabytes each time was most of its system time) */
struct h_block { struct h_block *next; void *p; size_t npages; };
static struct h_block *h_blocks, *h_retired;

/* A reused block zeroed again (the platform's contract). A large one is
 * handed back to the kernel instead of cleared, its pages zeroed when
 * first touched: the echo appliance's 256 contexts of 64 KiB (16.8 MB,
 * one page in sixteen touched per world) took a third of
 * fuzz_app_echo's time to clear. Smaller blocks are cleared: the web
 * appliance's 1024 contexts of 8.9 KiB (9 MB, every other page touched)
 * cost more system time faulted back than cleared. The block is
 * page-aligned whole pages of anonymous private memory, so only its
 * own pages go. */
#define H_ZERO_BY_KERNEL (12u << 20)
static void h_zero_pages(void *p, size_t npages)
{
	if (npages * 4096 >= H_ZERO_BY_KERNEL && !madvise(p, npages * 4096, MADV_DONTNEED))
		return;
	memset(p, 0, npages * 4096);
}

void *frame_alloc_pages(size_t npages)
{
	if (!npages)
		return NULL;
	for (struct h_block **r = &h_retired; *r; r = &(*r)->next)
		if ((*r)->npages == npages) {
			struct h_block *b = *r;
			*r = b->next;
			h_zero_pages(b->p, npages);
			b->next = h_blocks;
			h_blocks = b;
			return b->p;
		}
	void *p = aligned_alloc(4096, npages * 4096);
	struct h_block *b = malloc(sizeof *b);
	if (!p || !b) {
		free(p);
		free(b);
		return NULL;
	}
	memset(p, 0, npages * 4096);
	b->p = p;
	b->npages = npages;
	b->next = h_blocks;
	h_blocks = b;
	return p;
}

void frame_free_pages(void *p, size_t npages)
{
	(void)npages;
	for (struct h_block **b = &h_blocks; *b; b = &(*b)->next)
		if ((*b)->p == p) {
			struct h_block *d = *b;
			*b = d->next;
			free(d->p);
			free(d);
			return;
		}
}

/* device-visible memory: the same blocks here (no device) */
void *frame_alloc_dma_pages(size_t npages) { return frame_alloc_pages(npages); }
void frame_free_dma_pages(void *p, size_t npages) { frame_free_pages(p, npages); }
/* as on hosted, when a test says so: no memory is device-visible */
int h_mem_not_dma;
int frame_is_dma(const void *p, size_t len) { (void)p; (void)len; return !h_mem_not_dma; }

/* ---- sched */
static struct timer_wheel h_wheel;

/* The clock's bookkeeping below scans every timer known; under libFuzzer
 * its comparisons, traced, took most of fuzz_tcp_conns's time (hundreds
 * of connections) and tell the fuzzer nothing about the stack. */
#ifdef __clang__
#define H_NO_COVERAGE __attribute__((no_sanitize("coverage")))
#else
#define H_NO_COVERAGE
#endif

/* every timer armed and not cancelled since (most live in the stack's
 * connection slots, which last until h_fini): h_advance_ns reads their
 * deadlines to jump
 * over idle time instead of walking the wheel tick by tick */
#define H_TIMERS 2048                   /* fuzz_tcp_conns: 300 slots x 5 timers, and the rest */
static struct timer *h_timers[H_TIMERS];
static int h_ntimers;

H_NO_COVERAGE void sched_timer_arm(struct timer *t, uint64_t deadline_ns, uint64_t period_ns)
{
	int i;
	for (i = 0; i < h_ntimers && h_timers[i] != t; i++)
		;
	if (i == h_ntimers && h_ntimers < H_TIMERS)     /* past it: h_advance_ns cannot jump */
		h_timers[h_ntimers++] = t;
	timer_arm(&h_wheel, t, deadline_ns, period_ns);
}

/* A cancelled timer is forgotten too: its memory may be freed next (an
 * appliance's malloc'd context, iperf's), and h_advance_ns must not read
 * it; arming it again puts it back. */
H_NO_COVERAGE void sched_timer_cancel(struct timer *t)
{
	timer_cancel(&h_wheel, t);
	for (int i = 0; i < h_ntimers; i++)
		if (h_timers[i] == t) {
			h_timers[i] = h_timers[--h_ntimers];
			break;
		}
}

#define H_POLLERS 16
static struct { sched_poll_fn fn; sched_flush_fn flush; void *arg; sched_arm_fn arm; sched_flush_fn disarm; } h_pollers[H_POLLERS];
static int h_npollers;

int sched_poller_add(uint32_t core, const char *name, sched_poll_fn fn, sched_flush_fn flush, void *arg)
{
	(void)name;
	if (core != 0 || h_npollers == H_POLLERS)
		return -ENOSPC;
	h_pollers[h_npollers].fn = fn;
	h_pollers[h_npollers].flush = flush;
	h_pollers[h_npollers].arg = arg;
	h_pollers[h_npollers].arm = NULL;
	h_pollers[h_npollers].disarm = NULL;
	h_npollers++;
	return 0;
}

int sched_poller_set_arm(uint32_t core, sched_poll_fn fn, void *arg, sched_arm_fn arm, sched_flush_fn disarm)
{
	for (int i = 0; i < h_npollers && core == 0; i++)
		if (h_pollers[i].fn == fn && h_pollers[i].arg == arg) {
			h_pollers[i].arm = arm;
			h_pollers[i].disarm = disarm;
			return 0;
		}
	return -ENOENT;
}

#define H_CALLQ 256
static struct { void (*fn)(void *); void *arg; } h_callq[H_CALLQ];
static unsigned h_callq_head, h_callq_n;

int call_on(uint32_t core, void (*fn)(void *), void *arg)
{
	if (core != 0 || h_callq_n == H_CALLQ)
		return -ENOBUFS;
	h_callq[(h_callq_head + h_callq_n) % H_CALLQ].fn = fn;
	h_callq[(h_callq_head + h_callq_n) % H_CALLQ].arg = arg;
	h_callq_n++;
	return 0;
}

void *sched_publish(void *_Atomic *slot, void *obj)
{
	return atomic_exchange_explicit(slot, obj, memory_order_acq_rel);
}

uint32_t h_quiesces;
uint32_t h_quiesce_timeouts;

int sched_quiesce_wait(uint64_t timeout_ns)
{
	(void)timeout_ns;
	h_quiesces++;
	if (h_quiesce_timeouts) {
		h_quiesce_timeouts--;
		return -ETIMEDOUT;
	}
	return 0;
}

/* ---- the device */
struct netdev {
	const char *name;
	uint8_t mac[6];
	uint16_t mtu;
};
static struct netdev h_eth[H_MAX_DEVS] = {
	{ "eth0", { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 }, 1500 },
	{ "eth1", { 0x52, 0x54, 0x00, 0x12, 0x34, 0x57 }, 1500 },
};
int h_ndevs = 1;

int netdev_count(void) { return h_ndevs; }
struct netdev *netdev_get(int i) { return i >= 0 && i < h_ndevs ? &h_eth[i] : NULL; }
const char *netdev_name(const struct netdev *d) { return d->name; }
void netdev_mac(const struct netdev *d, uint8_t mac[6]) { memcpy(mac, d->mac, 6); }
uint16_t netdev_mtu(const struct netdev *d) { return d->mtu; }
int netdev_link_up(const struct netdev *d) { (void)d; return 1; }
uint16_t netdev_queues(const struct netdev *d) { (void)d; return 1; }
int h_queue_core_is_q;
uint16_t netdev_queue_core(const struct netdev *d, uint16_t q) { (void)d; return h_queue_core_is_q ? q : 0; }
const struct rss_conf *netdev_rss(const struct netdev *d) { (void)d; return NULL; }  /* software steering */

uint16_t netdev_rx_burst(struct netdev *d, uint16_t q, struct pktbuf **pkts, uint16_t n)
{
	(void)d; (void)q; (void)pkts; (void)n;
	return 0;                       /* frames come in through net_input */
}
/* no interrupts here: a halting core would poll on a timer */
int netdev_rx_arm(struct netdev *d, uint16_t q) { (void)d; (void)q; return -EOPNOTSUPP; }
void netdev_rx_disarm(struct netdev *d, uint16_t q) { (void)d; (void)q; }

int h_peer_answers_arp = 1;
static int h_arp_owed;

#define H_TX_MAX 1024
/* a captured frame: the stack's buffer (until h_next), or a segment the
 * device cut from a TSO frame (a copy; the frame's buffers are freed) */
struct h_txe {
	int dev;                        /* the device that sent it */
	struct pktbuf *b;
	uint8_t *seg;
	uint32_t seglen;
};
static struct h_txe h_tx[H_TX_MAX];
static unsigned h_tx_head, h_tx_n;

uint32_t h_dev_offloads;
uint32_t h_dev_tso_max = 65535 + 18;
int h_tso_raw;
uint32_t h_dev_tso_frames, h_dev_bad_partial;

uint32_t netdev_tx_offloads(const struct netdev *d) { (void)d; return h_dev_offloads; }
uint32_t netdev_tso_max(const struct netdev *d)
{
	(void)d;
	return (h_dev_offloads & NETDEV_TX_TSO4) ? h_dev_tso_max : 0;
}

static uint16_t h_csum(const void *data, size_t len, uint32_t sum);
static uint32_t h_pseudo(uint32_t src, uint32_t dst, uint8_t proto, uint16_t len);

/* the frame's bytes, chain included, into out (H_FRAME_MAX) */
static uint32_t h_flatten(const struct pktbuf *b, uint8_t *out, int *nbufs)
{
	uint32_t n = 0;
	*nbufs = 0;
	for (const struct pktbuf *f = b; f; f = f->frag) {
		if (n + f->len > H_FRAME_MAX)
			panic("tx_burst: a frame over %u bytes", H_FRAME_MAX);
		memcpy(out + n, f->buf + f->off, f->len);
		n += f->len;
		++*nbufs;
	}
	if (n != pktbuf_frame_len(b))
		panic("tx_burst: frag_len %u, the chain holds %u", b->frag_len, n - b->len);
	return n;
}

/* where the IPv4 header starts (after an 802.1Q tag if any), 0: none */
static uint32_t h_ip_at(const uint8_t *f, uint32_t len)
{
	uint32_t at = ETH_HLEN;
	if (len >= 18 && f[12] == 0x81 && f[13] == 0x00)
		at += 4;
	return len >= at + 20 && f[at - 2] == 0x08 && f[at - 1] == 0x00 ? at : 0;
}

/* The device's side of NEEDS_CSUM: the field must hold the pseudo-header
 * sum (counted when not), then it gets the real checksum. Returns 1 when
 * the pseudo sum was there. */
static int h_csum_complete(uint8_t *f, uint32_t len, uint32_t start, uint32_t off)
{
	uint32_t ipat = h_ip_at(f, len);
	const struct ipv4_hdr *ip = (const void *)(f + ipat);
	uint32_t tot = ipat ? ntohs(ip->len) : 0, l4at = ipat + (ip->ver_ihl & 15) * 4u;
	if (!ipat || start != l4at || ipat + tot > len || start + off + 2 > ipat + tot) {
		h_dev_bad_partial++;
		return 0;
	}
	uint16_t l4len = (uint16_t)(ipat + tot - start), field;
	memcpy(&field, f + start + off, 2);
	uint32_t ps = h_pseudo(ip->src, ip->dst, ip->proto, l4len);
	while (ps >> 16)
		ps = (ps & 0xffff) + (ps >> 16);
	int ok = ntohs(field) == ps;
	if (!ok)
		h_dev_bad_partial++;
	memset(f + start + off, 0, 2);
	uint16_t c = h_csum(f + start, l4len, ps);
	memcpy(f + start + off, &c, 2);
	return ok;
}

/* The device's side of GSO_TCPV4: cuts the frame (f, len) into segments
 * of gso bytes after hdr bytes of headers, queued as copies. Returns 0,
 * or -1 when the queue has no room for them all. */
static int h_tso_cut(int dev, const uint8_t *f, uint32_t len, uint32_t hdr, uint32_t gso)
{
	uint32_t ipat = h_ip_at(f, len);
	const struct ipv4_hdr *ip = (const void *)(f + ipat);
	uint32_t l4at = ipat + (ip->ver_ihl & 15) * 4u;
	if (!ipat || ip->proto != IP_PROTO_TCP || hdr != l4at + ((f[l4at + 12] >> 4) * 4u) || hdr >= len || !gso) {
		h_dev_bad_partial++;
		return 0;                       /* a device would drop it */
	}
	uint32_t pay = len - hdr, nseg = (pay + gso - 1) / gso;
	if (h_tx_n + nseg > H_TX_MAX)
		return -1;
	for (uint32_t i = 0; i < nseg; i++) {
		uint32_t chunk = pay - i * gso < gso ? pay - i * gso : gso, sl = hdr + chunk;
		uint8_t *g = malloc(sl);
		if (!g)
			panic("harness: out of memory");
		memcpy(g, f, hdr);
		memcpy(g + hdr, f + hdr + i * gso, chunk);
		struct ipv4_hdr *sip = (void *)(g + ipat);
		struct tcp_hdr *th = (void *)(g + l4at);
		sip->len = htons((uint16_t)(sl - ipat));
		sip->id = htons((uint16_t)(ntohs(ip->id) + i));
		sip->csum = 0;
		sip->csum = h_csum(sip, l4at - ipat, 0);
		th->seq = htonl(ntohl(th->seq) + i * gso);
		if (i + 1 < nseg)
			th->flags &= (uint8_t)~(TCP_PSH | TCP_FIN);
		th->csum = 0;
		th->csum = h_csum(th, sl - l4at, h_pseudo(sip->src, sip->dst, IP_PROTO_TCP, (uint16_t)(sl - l4at)));
		struct h_txe *e = &h_tx[(h_tx_head + h_tx_n) % H_TX_MAX];
		e->dev = dev;
		e->b = NULL;
		e->seg = g;
		e->seglen = sl;
		h_tx_n++;
	}
	return 0;
}

static uint8_t h_cut_buf[H_FRAME_MAX];

/* Checks a frame's offload requests against what the device offers: the
 * stack must never ask for more (a broken promise is fatal here). */
static void h_check_offloads(const struct pktbuf *b)
{
	if ((b->flags & PKTBUF_F_TX_CSUM) && !(h_dev_offloads & NETDEV_TX_CSUM))
		panic("tx_burst: NEEDS_CSUM on a device without CSUM");
	if ((b->flags & PKTBUF_F_TX_TSO) && (!(h_dev_offloads & NETDEV_TX_TSO4) || !(b->flags & PKTBUF_F_TX_CSUM)))
		panic("tx_burst: TSO on a device without TSO4, or without NEEDS_CSUM");
	if (b->frag && !(b->flags & PKTBUF_F_TX_TSO) && pktbuf_frame_len(b) > 1500u + ETH_HLEN + 4)
		panic("tx_burst: a chain of %u bytes that is no TSO frame", pktbuf_frame_len(b));
	if (b->flags & PKTBUF_F_EXT)
		panic("tx_burst: an external fragment at a frame's head");
	for (const struct pktbuf *f = b->frag; f; f = f->frag)
		if ((f->flags & PKTBUF_F_EXT) && (f->magic != PKTBUF_EXT_MAGIC || !f->ext_ref || !f->len ||
						  pktbuf_ref_count(f->ext_ref) == 0))
			panic("tx_burst: an external fragment without its reference");
	if ((b->flags & PKTBUF_F_TX_TSO) && pktbuf_frame_len(b) > h_dev_tso_max)
		panic("tx_burst: a TSO frame of %u bytes, over the device's %u", pktbuf_frame_len(b), h_dev_tso_max);
}

uint16_t netdev_tx_burst(struct netdev *d, uint16_t q, struct pktbuf **pkts, uint16_t n)
{
	int dev = (int)(d - h_eth);
	if (q != 0)
		panic("tx_burst on queue %u", q);
	uint16_t k;
	for (k = 0; k < n && h_tx_n < H_TX_MAX; k++) {
		struct pktbuf *b = pkts[k];
		if (b->magic != PKTBUF_MAGIC || (b->len > PKTBUF_DATA && !(b->flags & PKTBUF_F_TX_TSO)) ||
		    b->off + b->len > PKTBUF_HEADROOM + PKTBUF_DATA)
			panic("tx_burst: a bad buffer (magic %x off %u len %u)", b->magic, b->off, b->len);
		h_check_offloads(b);
		if ((b->flags & PKTBUF_F_TX_TSO) && !h_tso_raw) {
			int nb;
			uint32_t len = h_flatten(b, h_cut_buf, &nb);
			if (!h_csum_complete(h_cut_buf, len, b->csum_start - b->off, b->csum_offset))
				panic("tx_burst: a TSO frame without the pseudo-header sum");
			if (h_tso_cut(dev, h_cut_buf, len, b->hdr_end - b->off, b->gso_size))
				break;                  /* no room for its segments: the caller keeps it */
			h_dev_tso_frames++;
			pktbuf_free(b);         /* a device done with it */
			continue;
		}
		struct h_txe *e = &h_tx[(h_tx_head + h_tx_n) % H_TX_MAX];
		e->dev = dev;
		e->b = b;
		e->seg = NULL;
		h_tx_n++;
		h_dev_tso_frames += (b->flags & PKTBUF_F_TX_TSO) != 0;
		/* the peer answers ARP for itself (after this turn) */
		const struct eth_hdr *e2 = (const void *)pktbuf_data(b);
		const struct arp_hdr *a = (const void *)(e2 + 1);
		if (h_peer_answers_arp && dev == 0 && b->len >= ETH_HLEN + sizeof *a && e2->type == htons(ETHERTYPE_ARP) &&
		    a->op == htons(ARP_REQUEST) && a->tpa == htonl(H_PEER_IP))
			h_arp_owed++;
	}
	return k;
}

/* ---------------------------------------------------------------- world */
void h_turn(void)
{
	for (int round = 0; round < 2; round++) {
		while (h_callq_n) {
			void (*fn)(void *) = h_callq[h_callq_head].fn;
			void *arg = h_callq[h_callq_head].arg;
			h_callq_head = (h_callq_head + 1) % H_CALLQ;
			h_callq_n--;
			fn(arg);
		}
		if (round == 0)
			timer_wheel_run(&h_wheel, h_clock);
	}
	for (int i = 0; i < h_npollers; i++) {
		if (h_pollers[i].fn)
			h_pollers[i].fn(h_pollers[i].arg);
		if (h_pollers[i].flush)
			h_pollers[i].flush(h_pollers[i].arg);
	}
	if (h_arp_owed) {
		h_arp_owed = 0;
		h_rx_arp(ARP_REPLY, H_PEER_MAC, H_PEER_IP, H_OUR_MAC, H_OUR_IP);
	}
}

uint64_t h_now(void) { return h_clock; }

/* Moves the wheel to `to` (later than now) without walking the ticks
 * between: nothing is due before `to`, so every armed timer is simply
 * armed again on a wheel that starts there. */
H_NO_COVERAGE static void wheel_jump(uint64_t to)
{
	static struct timer *armed[H_TIMERS];   /* not on the stack: ASan poisons a frame per call */
	int n = 0;
	for (int i = 0; i < h_ntimers; i++)
		if (timer_armed(h_timers[i])) {
			armed[n++] = h_timers[i];
			timer_cancel(&h_wheel, h_timers[i]);
		}
	if (h_wheel.armed)
		panic("harness: a timer armed behind its back");
	/* the wheel is empty now (every timer on it was cancelled, so every
	 * slot list is empty): only its tick moves, as timer_wheel_init would
	 * set it. Clearing its 1024 slots again on every jump was a third of
	 * fuzz_dhcp's time (the ARP sweep fires every minute of two days). */
	h_wheel.now = to >> TIMER_TICK_SHIFT;
	for (int i = 0; i < n; i++)
		timer_arm(&h_wheel, armed[i], armed[i]->deadline_ns, armed[i]->period_ns);
}

H_NO_COVERAGE void h_advance_ns(uint64_t ns)
{
	const uint64_t tick = 1ull << TIMER_TICK_SHIFT;
	uint64_t target = h_clock + ns;
	for (;;) {
		h_turn();
		if (h_clock >= target)
			break;
		uint64_t due = target;          /* the earliest deadline */
		for (int i = 0; i < h_ntimers; i++)
			if (timer_armed(h_timers[i]) && h_timers[i]->deadline_ns < due)
				due = h_timers[i]->deadline_ns;
		if (due > h_clock + 4 * tick) {  /* idle until then: jump */
			uint64_t to = due - 2 * tick;
			wheel_jump(to);
			h_clock = to;
			continue;
		}
		uint64_t nx = timer_wheel_next_ns(&h_wheel);
		if (nx <= h_clock)
			nx = h_clock + tick;
		h_clock = nx < target ? nx : target;
	}
}

void h_advance_ms(uint64_t ms) { h_advance_ns(ms * H_MS); }

/* ---------------------------------------------------------------- the app */
struct h_app_conn h_app[H_APP_CONNS];
static uint8_t h_app_rxbuf[H_APP_CONNS][H_APP_RX];
static struct h_app_conn *h_app_latest;
int h_app_refuse;
int h_udp_seen;

static void app_violation(const char *what)
{
	/* a broken promise of the API: fatal, so tests and the fuzzer see it */
	panic("app: %s", what);
}

/* every callback: for a connection the app accepted (ctx from accept) */
static struct h_app_conn *app_of(void *ctx, const char *cb)
{
	if (!ctx) {
		fprintf(stderr, "app: %s called for a connection never accepted (ctx NULL)\n", cb);
		app_violation("a callback before accept");
	}
	return ctx;
}

static void *app_accept(struct tcp_conn *c, void *arg)
{
	if (h_app_refuse)
		return NULL;
	for (int i = 0; i < H_APP_CONNS; i++)
		if (!h_app[i].used) {
			struct h_app_conn *a = &h_app[i];
			memset(a, 0, sizeof *a);
			a->used = 1;
			a->c = c;
			a->small = arg != NULL;
			a->rx = h_app_rxbuf[i];
			h_app_latest = a;
			return a;
		}
	return NULL;
}

/* what a small app holds at most */
static size_t app_room(const struct h_app_conn *a) { return a->room ? a->room : H_SMALL_ROOM; }

static void app_recv(struct tcp_conn *c, void *ctx, const uint8_t *data, size_t len)
{
	struct h_app_conn *a = app_of(ctx, "recv");
	if (a->gone || a->c != c)
		app_violation("recv after gone, or on another connection");
	if (!len)
		app_violation("recv of 0 bytes");
	if (a->small) {
		if (len > app_room(a) - a->unread)
			app_violation("recv delivered more than recv_space allowed");
		a->unread += len;
	}
	size_t n = len < H_APP_RX - a->rxlen ? len : H_APP_RX - a->rxlen;
	memcpy(a->rx + a->rxlen, data, n);     /* reads the whole view (ASan checks it) */
	a->rxlen += n;
	a->recvs++;
	if (a->shut_on_recv)
		a->shut = 1;
	if (a->abort_on_recv && a->recvs == a->abort_on_recv)
		tcp_abort(c);
	else if (a->update_on_recv)
		tcp_recv_update(c);
}

static void app_peer_closed(struct tcp_conn *c, void *ctx)
{
	struct h_app_conn *a = app_of(ctx, "peer_closed");
	if (a->gone || a->c != c)
		app_violation("peer_closed after gone");
	a->peer_closed++;
	if (a->close_on_peer_close)
		tcp_close(c);
}

static void app_writable(struct tcp_conn *c, void *ctx)
{
	struct h_app_conn *a = app_of(ctx, "writable");
	if (a->gone || a->c != c)
		app_violation("writable after gone");
	a->writable++;
}

static void app_gone(struct tcp_conn *c, void *ctx, int reason)
{
	struct h_app_conn *a = app_of(ctx, "gone");
	if (a->gone || a->c != c)
		app_violation("gone twice");
	a->gone = 1;
	a->gone_reason = reason;
	a->c = NULL;
}

static size_t app_recv_space(struct tcp_conn *c, void *ctx)
{
	struct h_app_conn *a = app_of(ctx, "recv_space");
	if (a->shut)
		return 0;
	return a->unread < app_room(a) ? app_room(a) - a->unread : 0;
}

static const struct tcp_ops app_ops = {
	.recv = app_recv, .peer_closed = app_peer_closed, .writable = app_writable, .gone = app_gone,
};
static const struct tcp_ops app_small_ops = {
	.recv = app_recv, .peer_closed = app_peer_closed, .writable = app_writable, .gone = app_gone,
	.recv_space = app_recv_space,
};

struct h_app_conn *h_app_last(void) { return h_app_latest; }

void h_app_read(struct h_app_conn *a)
{
	a->unread = 0;
	if (a->c)
		tcp_recv_update(a->c);
	h_turn();
}

void h_app_reopen(struct h_app_conn *a)
{
	a->shut = 0;
	h_app_read(a);
}

size_t h_app_send(struct h_app_conn *a, const void *data, size_t len)
{
	size_t n = a->c ? tcp_send(a->c, data, len) : 0;
	h_turn();
	return n;
}

void h_app_close(struct h_app_conn *a)
{
	if (a->c)
		tcp_close(a->c);
	h_turn();
}

void h_app_abort(struct h_app_conn *a)
{
	if (a->c)
		tcp_abort(a->c);
	h_turn();
}

void h_app_abort_all(void)
{
	for (int i = 0; i < H_APP_CONNS; i++)
		if (h_app[i].used && h_app[i].c)
			tcp_abort(h_app[i].c);
	h_turn();
}

static void udp_echo(void *arg, const struct udp_meta *m, const uint8_t *data, size_t len)
{
	(void)arg;
	h_udp_seen++;
	if (!udp_may_answer(m))                 /* as the echo appliance does */
		return;
	struct udp_meta to = { .dst = m->src, .sport = m->dport, .dport = m->sport, .ifindex = m->ifindex };
	udp_send(&to, data, len);
}

/* ---------------------------------------------------------------- frames in */
/* the four big-endian 16-bit words of 8 bytes loaded little-endian
 * (x86), summed */
static inline uint64_t h_words4(uint64_t le)
{
	uint64_t x = __builtin_bswap64(le);
	return (x >> 48) + (x >> 32 & 0xffff) + (x >> 16 & 0xffff) + (x & 0xffff);
}

static uint16_t h_csum(const void *data, size_t len, uint32_t sum0)
{
	const uint8_t *p = data;
	uint64_t sum = sum0, w[4];
	size_t i = 0;
	/* 32 bytes a step, loaded whole: under libFuzzer every comparison
	 * is traced, UBSan's pointer checks included, and a byte pair a step
	 * made this sum a fifth of the app_* targets' time (they send
	 * thousands of full segments) */
	for (; i + sizeof w <= len; i += sizeof w) {
		memcpy(w, p + i, sizeof w);
		sum += h_words4(w[0]) + h_words4(w[1]) + h_words4(w[2]) + h_words4(w[3]);
	}
	for (; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons((uint16_t)~sum);
}

/* the pseudo header's sum, for h_csum (addresses in network order) */
static uint32_t h_pseudo(uint32_t src, uint32_t dst, uint8_t proto, uint16_t len)
{
	uint32_t s = ntohl(src), d = ntohl(dst);
	return (s >> 16) + (s & 0xffff) + (d >> 16) + (d & 0xffff) + proto + len;
}

static uint32_t h_rx_nobuf;

int h_rx_dev;

void h_rx_raw(const void *frame, size_t len)
{
	h_rx_raw_on(h_rx_dev, frame, len);
}

void h_rx_raw_on(int ifindex, const void *frame, size_t len)
{
	struct pktbuf *b = pktbuf_alloc(pktbuf_pool_of(0));
	if (!b) {
		h_rx_nobuf++;                   /* a device would drop it */
		return;
	}
	if (len > PKTBUF_DATA)
		len = PKTBUF_DATA;
	memcpy(pktbuf_data(b), frame, len);
	b->len = (uint16_t)len;
	net_input(ifindex, b);
	h_turn();
}

void h_rx_arp(uint16_t op, const uint8_t sha[6], uint32_t spa, const uint8_t tha[6], uint32_t tpa)
{
	h_rx_arp_on(h_rx_dev, op, sha, spa, tha, tpa);
}

void h_rx_arp_on(int ifindex, uint16_t op, const uint8_t sha[6], uint32_t spa, const uint8_t tha[6], uint32_t tpa)
{
	uint8_t f[60] = { 0 };
	struct eth_hdr *e = (void *)f;
	struct arp_hdr *a = (void *)(e + 1);
	memcpy(e->dst, op == ARP_REQUEST ? (const uint8_t *)"\xff\xff\xff\xff\xff\xff" : h_eth[ifindex].mac, 6);
	memcpy(e->src, sha, 6);
	e->type = htons(ETHERTYPE_ARP);
	a->htype = htons(1);
	a->ptype = htons(ETHERTYPE_IPV4);
	a->hlen = 6;
	a->plen = 4;
	a->op = htons(op);
	memcpy(a->sha, sha, 6);
	a->spa = htonl(spa);
	if (tha)
		memcpy(a->tha, tha, 6);
	a->tpa = htonl(tpa);
	h_rx_raw_on(ifindex, f, sizeof f);
}

static uint16_t h_ip_id;

void h_rx_ip(uint32_t src, uint8_t proto, const void *l4, size_t len)
{
	h_rx_ip_to(src, H_OUR_IP, proto, l4, len);
}

void h_rx_ip_to(uint32_t src, uint32_t dst, uint8_t proto, const void *l4, size_t len)
{
	uint8_t f[PKTBUF_DATA];
	if (len > sizeof f - ETH_HLEN - 20)
		len = sizeof f - ETH_HLEN - 20;
	memset(f, 0, 60);
	struct eth_hdr *e = (void *)f;
	struct ipv4_hdr *ip = (void *)(e + 1);
	memcpy(e->dst, h_eth[h_rx_dev].mac, 6);
	memcpy(e->src, H_PEER_MAC, 6);
	e->type = htons(ETHERTYPE_IPV4);
	ip->ver_ihl = 0x45;
	ip->tos = 0;
	ip->len = htons((uint16_t)(20 + len));
	ip->id = htons(h_ip_id++);
	ip->frag = htons(0x4000);
	ip->ttl = 64;
	ip->proto = proto;
	ip->csum = 0;
	ip->src = htonl(src);
	ip->dst = htonl(dst);
	ip->csum = h_csum(ip, 20, 0);
	memcpy(ip + 1, l4, len);
	size_t flen = ETH_HLEN + 20 + len;
	h_rx_raw(f, flen < 60 ? 60 : flen);
}

void h_rx_icmp_echo(uint16_t id, uint16_t seq, const void *data, size_t len)
{
	uint8_t m[1500];
	if (len > sizeof m - 8)
		len = sizeof m - 8;
	struct icmp_hdr *h = (void *)m;
	h->type = ICMP_ECHO_REQUEST;
	h->code = 0;
	h->csum = 0;
	h->id = htons(id);
	h->seq = htons(seq);
	memcpy(h + 1, data, len);
	h->csum = h_csum(m, 8 + len, 0);
	h_rx_ip(H_PEER_IP, IP_PROTO_ICMP, m, 8 + len);
}

void h_rx_udp(uint16_t sport, uint16_t dport, const void *data, size_t len)
{
	uint8_t m[1500];
	if (len > sizeof m - 8)
		len = sizeof m - 8;
	struct udp_hdr *u = (void *)m;
	u->sport = htons(sport);
	u->dport = htons(dport);
	u->len = htons((uint16_t)(8 + len));
	u->csum = 0;
	memcpy(u + 1, data, len);
	u->csum = h_csum(m, 8 + len, h_pseudo(htonl(H_PEER_IP), htonl(H_OUR_IP), IP_PROTO_UDP, (uint16_t)(8 + len)));
	if (!u->csum)
		u->csum = 0xffff;
	h_rx_ip(H_PEER_IP, IP_PROTO_UDP, m, 8 + len);
}

void h_rx_tcp(const struct h_tcp *s)
{
	uint8_t m[PKTBUF_DATA];
	size_t ol = s->optlen > 40 ? 40 : s->optlen & ~3u;
	size_t len = s->len;
	if (len > sizeof m - 20 - ol - 20 - ETH_HLEN)
		len = sizeof m - 20 - ol - 20 - ETH_HLEN;
	struct tcp_hdr *h = (void *)m;
	uint32_t src = s->src ? s->src : H_PEER_IP;
	h->sport = htons(s->sport);
	h->dport = htons(s->dport);
	h->seq = htonl(s->seq);
	h->ack = htonl(s->ack);
	h->off = (uint8_t)(((20 + ol) / 4) << 4);
	h->flags = s->flags;
	h->win = htons(s->win);
	h->csum = 0;
	h->urg = 0;
	if (ol)
		memcpy(h + 1, s->opts, ol);
	if (len)
		memcpy((uint8_t *)(h + 1) + ol, s->data, len);
	uint16_t tl = (uint16_t)(20 + ol + len);
	h->csum = h_csum(m, tl, h_pseudo(htonl(src), htonl(H_OUR_IP), IP_PROTO_TCP, tl));
	if (s->bad_csum)
		h->csum ^= 0x5a5a;
	h_rx_ip(src, IP_PROTO_TCP, m, tl);
}

/* ---------------------------------------------------------------- frames out */
int h_tx_count(void) { return (int)h_tx_n; }

static void decode_tcp(struct h_pkt *p)
{
	const struct tcp_hdr *h = (const void *)p->l4;
	if (p->l4len < sizeof *h)
		return;
	unsigned hl = (h->off >> 4) * 4u;
	p->sport = ntohs(h->sport);
	p->dport = ntohs(h->dport);
	p->seq = ntohl(h->seq);
	p->ack = ntohl(h->ack);
	p->flags = h->flags;
	p->win = ntohs(h->win);
	if (hl < 20 || hl > p->l4len)
		return;
	p->payload = p->l4 + hl;
	p->plen = (uint16_t)(p->l4len - hl);
	const uint8_t *o = p->l4 + 20, *end = p->l4 + hl;
	while (o < end && *o != TCPOPT_EOL) {
		if (*o == TCPOPT_NOP) {
			o++;
			continue;
		}
		if (o + 2 > end || o[1] < 2 || o + o[1] > end)
			break;
		if (o[0] == TCPOPT_MSS && o[1] == 4)
			p->mss = o[2] << 8 | o[3];
		else if (o[0] == TCPOPT_WSCALE && o[1] == 3)
			p->wscale = o[2];
		else if (o[0] == TCPOPT_SACK_OK && o[1] == 2)
			p->sack_ok = 1;
		else if (o[0] == TCPOPT_TS && o[1] == 10) {
			p->ts = 1;
			p->tsval = (uint32_t)o[2] << 24 | (uint32_t)o[3] << 16 | (uint32_t)o[4] << 8 | o[5];
			p->tsecr = (uint32_t)o[6] << 24 | (uint32_t)o[7] << 16 | (uint32_t)o[8] << 8 | o[9];
		}
		o += o[1];
	}
}

static void decode(struct h_pkt *p)
{
	p->mss = p->wscale = -1;
	if (p->len < ETH_HLEN)
		return;
	p->eth = (const void *)p->frame;
	p->type = ntohs(p->eth->type);
	if (p->type == ETHERTYPE_ARP && p->len >= ETH_HLEN + sizeof(struct arp_hdr)) {
		p->arp = (const void *)(p->frame + ETH_HLEN);
		return;
	}
	if (p->type != ETHERTYPE_IPV4 || p->len < ETH_HLEN + 20)
		return;
	const struct ipv4_hdr *ip = (const void *)(p->frame + ETH_HLEN);
	unsigned hl = (ip->ver_ihl & 15) * 4u, tot = ntohs(ip->len);
	if (hl < 20 || tot < hl || ETH_HLEN + tot > p->len)
		return;
	p->ip = ip;
	p->ip_csum_ok = h_csum(ip, hl, 0) == 0;
	p->proto = ip->proto;
	p->l4 = (const uint8_t *)ip + hl;
	p->l4len = (uint16_t)(tot - hl);
	switch (p->proto) {
	case IP_PROTO_ICMP:
		p->l4_csum_ok = h_csum(p->l4, p->l4len, 0) == 0;
		if (p->l4len >= 8) {
			p->payload = p->l4 + 8;
			p->plen = (uint16_t)(p->l4len - 8);
		}
		break;
	case IP_PROTO_UDP:
		p->l4_csum_ok = h_csum(p->l4, p->l4len, h_pseudo(ip->src, ip->dst, IP_PROTO_UDP, p->l4len)) == 0;
		if (p->l4len >= 8) {
			const struct udp_hdr *u = (const void *)p->l4;
			p->sport = ntohs(u->sport);
			p->dport = ntohs(u->dport);
			p->payload = p->l4 + 8;
			p->plen = (uint16_t)(p->l4len - 8);
		}
		break;
	case IP_PROTO_TCP:
		p->l4_csum_ok = h_csum(p->l4, p->l4len, h_pseudo(ip->src, ip->dst, IP_PROTO_TCP, p->l4len)) == 0;
		decode_tcp(p);
		break;
	default:
		break;
	}
}

int h_next(struct h_pkt *p)
{
	if (!h_tx_n)
		return 0;
	struct h_txe e = h_tx[h_tx_head];
	h_tx_head = (h_tx_head + 1) % H_TX_MAX;
	h_tx_n--;
	memset(p, 0, offsetof(struct h_pkt, frame));
	memset((uint8_t *)p + offsetof(struct h_pkt, eth), 0, sizeof *p - offsetof(struct h_pkt, eth));
	if (e.seg) {                            /* cut by the device: complete */
		memcpy(p->frame, e.seg, e.seglen);
		p->len = e.seglen;
		p->ifindex = e.dev;
		p->from_tso = 1;
		free(e.seg);
		decode(p);
		return 1;
	}
	struct pktbuf *b = e.b;
	p->len = h_flatten(b, p->frame, &p->nbufs);
	p->ifindex = e.dev;
	if (b->flags & PKTBUF_F_TX_CSUM) {
		p->csum_partial = 1;
		p->csum_start = (uint16_t)(b->csum_start - b->off);
		p->csum_offset = b->csum_offset;
	}
	if (b->flags & PKTBUF_F_TX_TSO) {
		p->tso = 1;
		p->gso_size = b->gso_size;
		p->hdr_len = (uint16_t)(b->hdr_end - b->off);
	}
	pktbuf_free(b);                 /* the device is done with it */
	if (p->csum_partial)
		h_csum_complete(p->frame, p->len, p->csum_start, p->csum_offset);
	decode(p);
	return 1;
}

int h_next_ip(struct h_pkt *p)
{
	while (h_next(p))
		if (p->ip)
			return 1;
	return 0;
}

void h_tx_drop_all(void)
{
	while (h_tx_n) {
		if (h_tx[h_tx_head].b)
			pktbuf_free(h_tx[h_tx_head].b);
		free(h_tx[h_tx_head].seg);
		h_tx_head = (h_tx_head + 1) % H_TX_MAX;
		h_tx_n--;
	}
}

struct net_stats h_stats(void)
{
	struct net_stats s;
	net_stats(0, &s);
	return s;
}

uint32_t h_pool_avail(void) { return pktbuf_pool_avail(pktbuf_pool_of(0)); }

int h_pool_full(void)
{
	struct pktbuf_pool *p = pktbuf_pool_of(0);
	return pktbuf_pool_avail(p) == p->count && p->ext_top == p->ext_count;
}

/* ---------------------------------------------------------------- the peer */
void h_peer_init(struct h_peer *p, uint16_t port, uint16_t lport, int ws, uint8_t wscale, int ts)
{
	memset(p, 0, sizeof *p);
	p->port = port;
	p->lport = lport;
	p->seq = 0x10000000u + (uint32_t)port * 7919u;
	p->win = 65535;
	p->ws = ws;
	p->wscale = wscale;
	p->ts = ts;
	p->our_wscale = -1;
	p->offer_mss = 1460;
}

void h_peer_send_at(struct h_peer *p, uint32_t seq, uint8_t flags, const void *data, size_t len)
{
	uint8_t o[40];
	uint8_t ol = 0;
	uint32_t tsval = (uint32_t)(h_clock / H_MS) + 7;     /* the peer's clock, ms */
	if (flags & TCP_SYN) {
		o[ol++] = TCPOPT_MSS; o[ol++] = 4; o[ol++] = (uint8_t)(p->offer_mss >> 8); o[ol++] = (uint8_t)p->offer_mss;
		if (p->ts) {
			o[ol++] = TCPOPT_SACK_OK; o[ol++] = 2;
			o[ol++] = TCPOPT_TS; o[ol++] = 10;
		} else {
			o[ol++] = TCPOPT_NOP; o[ol++] = TCPOPT_NOP;
			o[ol++] = TCPOPT_SACK_OK; o[ol++] = 2;
		}
	} else if (p->ts) {
		o[ol++] = TCPOPT_NOP; o[ol++] = TCPOPT_NOP;
		o[ol++] = TCPOPT_TS; o[ol++] = 10;
	}
	if (p->ts) {
		uint32_t v = htonl(tsval), e = htonl(p->tsecr);
		memcpy(o + ol, &v, 4);
		memcpy(o + ol + 4, &e, 4);
		ol += 8;
	}
	if ((flags & TCP_SYN) && p->ws) {
		o[ol++] = TCPOPT_NOP; o[ol++] = TCPOPT_WSCALE; o[ol++] = 3; o[ol++] = p->wscale;
	}
	struct h_tcp s = {
		.sport = p->port, .dport = p->lport, .seq = seq,
		.ack = (flags & TCP_ACK) ? p->ack : 0, .flags = flags, .win = p->win,
		.opts = o, .optlen = ol, .data = data, .len = len,
	};
	h_rx_tcp(&s);
}

void h_peer_send(struct h_peer *p, uint8_t flags, const void *data, size_t len)
{
	uint32_t seq = p->seq;
	p->seq += (uint32_t)len + ((flags & TCP_SYN) ? 1 : 0) + ((flags & TCP_FIN) ? 1 : 0);
	h_peer_send_at(p, seq, flags, data, len);
}

void h_peer_syn(struct h_peer *p) { h_peer_send(p, TCP_SYN, NULL, 0); }

int h_peer_recv(struct h_peer *p, struct h_pkt *k)
{
	while (h_next(k)) {
		if (!k->ip || k->proto != IP_PROTO_TCP || k->sport != p->lport || k->dport != p->port)
			continue;
		if (k->ts)
			p->tsecr = k->tsval;
		return 1;
	}
	return 0;
}

void h_peer_take(struct h_peer *p, const struct h_pkt *k)
{
	if (k->seq == p->ack)
		p->ack += k->plen + ((k->flags & TCP_SYN) ? 1u : 0u) + ((k->flags & TCP_FIN) ? 1u : 0u);
}

int h_peer_connect(struct h_peer *p)
{
	struct h_app_conn *before = h_app_latest;
	if (h_peer_handshake(p))
		return -1;
	p->app = h_app_latest != before ? h_app_latest : NULL;
	return p->app && p->app->c ? 0 : -1;
}

int h_peer_handshake(struct h_peer *p)
{
	struct h_pkt k;
	h_peer_syn(p);
	if (!h_peer_recv(p, &k) || k.flags != (TCP_SYN | TCP_ACK) || k.ack != p->seq)
		return -1;
	p->iss = k.seq;
	p->ack = k.seq + 1;
	p->mss = (uint16_t)(k.mss < 0 ? 536 : k.mss);
	p->our_wscale = k.wscale;
	p->ws = p->ws && k.wscale >= 0;
	p->ts = p->ts && k.ts;
	h_peer_send(p, TCP_ACK, NULL, 0);
	return 0;
}

/* ---------------------------------------------------------------- set-up */
static json_t *h_cfg;
static struct net_config h_net;

int h_net_config(const char *config_json, struct net_config *out, char *err, size_t errlen)
{
	static const struct schema_node root = { .kind = SK_OBJECT, .sub = net_schema };
	json_t *j;
	int rc = config_parse(config_json, strlen(config_json), &j, err, errlen);
	if (rc)
		return rc;
	rc = schema_validate(&root, j, err, errlen);
	if (!rc) {
		memset(out, 0, sizeof *out);
		schema_fill(&root, j, out);
	}
	json_decref(j);                 /* the stack's config holds no strings */
	return rc;
}

int h_init(const char *config_json)
{
	char err[256];
	const char *txt = config_json ? config_json : H_CONFIG_DEFAULT;
	h_clock = H_T0_NS;
	timer_wheel_init(&h_wheel, h_clock);
	const char *off = getenv("H_OFFLOAD");
	if (off && !strcmp(off, "csum"))
		h_dev_offloads = NETDEV_TX_CSUM;
	else if (off && !strcmp(off, "tso"))
		h_dev_offloads = NETDEV_TX_CSUM | NETDEV_TX_TSO4;
	int rc = config_parse(txt, strlen(txt), &h_cfg, err, sizeof err);
	if (!rc)
		rc = h_net_config(txt, &h_net, err, sizeof err);
	if (rc) {
		fprintf(stderr, "h_init: %s\n", err);
		return rc;
	}
	rc = pktbuf_pools_init(H_POOL);
	if (!rc)
		rc = net_init(&h_net, err, sizeof err);
	if (rc) {
		fprintf(stderr, "h_init: %s (%d)\n", err, rc);
		return rc;
	}
	/* listeners and binds outlive h_fini (the stack has no unbind): the
	 * second time round they answer -EADDRINUSE with the same handlers */
	rc = tcp_listen(H_PORT, &app_ops, app_accept, NULL);
	if (rc && rc != -EADDRINUSE)
		return rc;
	rc = tcp_listen(H_PORT_SMALL, &app_small_ops, app_accept, (void *)1);
	if (rc && rc != -EADDRINUSE)
		return rc;
	rc = udp_bind(H_UDP_PORT, udp_echo, NULL);
	if (rc && rc != -EADDRINUSE)
		return rc;
	h_turn();
	h_rx_arp(ARP_REQUEST, H_PEER_MAC, H_PEER_IP, NULL, H_OUR_IP);
	h_tx_drop_all();
	return 0;
}

void h_fini(void)
{
	h_tx_drop_all();
	h_tx_head = 0;
	while (h_blocks) {
		struct h_block *b = h_blocks;
		h_blocks = b->next;
		b->next = h_retired;
		h_retired = b;
	}
	memset(net_cores, 0, sizeof net_cores);
	memset(net_ifs, 0, sizeof net_ifs);
	net_nifs = 0;
	memset(h_pollers, 0, sizeof h_pollers);
	h_npollers = 0;
	h_callq_head = h_callq_n = 0;
	h_ntimers = 0;
	memset(h_app, 0, sizeof h_app);
	h_app_latest = NULL;
	h_app_refuse = 0;
	h_udp_seen = 0;
	h_rx_nobuf = 0;
	h_arp_owed = 0;
	h_peer_answers_arp = 1;
	h_dev_offloads = 0;
	h_dev_tso_max = 65535 + 18;
	h_tso_raw = 0;
	h_dev_tso_frames = h_dev_bad_partial = 0;
	h_ndevs = 1;
	h_rx_dev = 0;
	h_quiesces = 0;
	h_quiesce_timeouts = 0;
	h_queue_core_is_q = 0;
	if (h_cfg)
		json_decref(h_cfg);
	h_cfg = NULL;
}
