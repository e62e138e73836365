/*
 * l2fwd_gen.c — the traffic generator and checker for the hosted l2fwd
 * functional test (test/hosted/test_l2fwd_vhost.py).
 *
 * Topology (the test starts all three):
 *
 *   l2fwd_gen ==vhost-user A== dpdk-testpmd (io: port 0 <-> port 1) ==vhost-user B== pollux-hosted l2fwd
 *
 * The generator is the vhost-user test frontend (test/lib/vu_frontend.c,
 * over Pollux's own transport and virtqueue code), as
 * test/unit/drivers/test_vhost_user_live.c is. It connects to A with N queue
 * pairs and on every pair sends numbered frames: sizes 60..1514 bytes
 * (a deterministic mix with the boundaries), dst = a unicast MAC, src =
 * ours; the payload carries the pair, a sequence number, the length and
 * a checksum, then bytes derived from (pair, seq). At most `window` data
 * frames per pair are in flight. testpmd's io forwarding keeps each queue
 * pair a separate FIFO (port 0 queue i -> port 1 queue i -> Pollux pair i
 * -> port 1 queue i -> port 0 queue i), so every frame must come back on
 * the pair it left on, in order, exactly once, with MACs swapped and
 * every other byte as sent.
 *
 * Interleaved in the stream, each pair also sends `runts` frames shorter
 * than 14 bytes and `long` frames over Pollux's 1518-byte limit (MTU
 * 1500 + 18); Pollux must drop and count them (runt, too_long), so they
 * never come back.
 *
 * Output: one "gen qN: ..." line per pair and a "gen total: ..." line
 * (parsed by the test), a line per failure, then "N passed, M failed".
 * Exit status 0 only if nothing failed; 2 if the deadline passed.
 *
 * Build (from the repository root):
 *   gcc -std=gnu11 -O2 -g -Wall -Wextra -Werror -Wno-unused-parameter -Isrc -Itest/lib \
 *       -D_GNU_SOURCE -DPOLLUX_HOSTED -o build/l2fwd_gen test/hosted/l2fwd_gen.c \
 *       test/lib/vu_frontend.c src/drivers/vhost_user.c src/drivers/virtio.c src/drivers/virtq.c
 *
 * Usage:
 *   build/l2fwd_gen --socket PATH [--queues N] [--frames TOTAL] [--window W]
 *                   [--runts R] [--long L] [--timeout S] [--connect-timeout S]
 * TOTAL data frames are split over the N pairs; R and L are per pair.
 */
#include <getopt.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "drivers/vhost_user.h"
#include "vu_frontend.h"

static int passed, failed;
#define CHECK(c, ...) do { \
	if (c) { passed++; } \
	else { failed++; printf("FAIL: "); printf(__VA_ARGS__); printf("\n"); } \
} while (0)

#define RING 1024
#define VHDR VU_HDR
#define BUF_DATA 2048                   /* frame bytes a buffer holds */
#define SLOT 2112                       /* VHDR + BUF_DATA, rounded up to 64 */
#define MAX_PAIRS 16
#define BURST 64

/* frame layout */
#define OFF_TYPE 14
#define OFF_PAIR 15
#define OFF_SEQ 16
#define OFF_LEN 20
#define OFF_CSUM 22
#define OFF_PAYLOAD 26
#define TYPE_DATA 0xd1
#define TYPE_LONG 0x10
#define MIN_LEN 60
#define MAX_LEN 1514

static const uint8_t dst_mac[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x0b };   /* some unicast peer */
static uint8_t src_mac(uint16_t pair, int i)                                  /* ours: 02:50:4c:58:47:<pair> */
{
	static const uint8_t m[5] = { 0x02, 0x50, 0x4c, 0x58, 0x47 };
	return i < 5 ? m[i] : (uint8_t)pair;
}
static const uint32_t runt_sizes[] = { 1, 7, 13 };        /* < 14: Pollux's runt */
static const uint32_t long_sizes[] = { 1519, 1600, 2000 }; /* > 1518: Pollux's too_long */
static const uint32_t edge_sizes[] = { 60, 61, 64, 127, 128, 512, 1024, 1513, 1514 };

static uint64_t mix64(uint64_t x)       /* splitmix64's finalizer */
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static uint32_t frame_len(uint16_t pair, uint32_t seq)
{
	uint64_t h = mix64((uint64_t)pair << 40 ^ seq ^ 0x5a5a000000000000ull);
	if ((h & 15) == 0)
		return edge_sizes[(h >> 8) % (sizeof edge_sizes / sizeof edge_sizes[0])];
	return MIN_LEN + (uint32_t)((h >> 16) % (MAX_LEN - MIN_LEN + 1));
}

/* payload bytes [OFF_PAYLOAD, len): a stream of 64-bit words from (pair, seq) */
static void payload_fill(uint8_t *p, uint32_t n, uint64_t seed)
{
	uint64_t x = seed;
	uint32_t i = 0;
	for (; i + 8 <= n; i += 8) {
		x = mix64(x);
		memcpy(p + i, &x, 8);
	}
	if (i < n) {
		x = mix64(x);
		memcpy(p + i, &x, n - i);
	}
}

static int payload_ok(const uint8_t *p, uint32_t n, uint64_t seed)
{
	uint64_t x = seed, w;
	uint32_t i = 0;
	for (; i + 8 <= n; i += 8) {
		x = mix64(x);
		memcpy(&w, p + i, 8);
		if (w != x)
			return 0;
	}
	if (i < n) {
		x = mix64(x);
		return !memcmp(p + i, &x, n - i);
	}
	return 1;
}

/* FNV-1a over 8-byte words (then the tail), folded to 32 bits */
static uint32_t csum(const uint8_t *p, uint32_t n)
{
	uint64_t h = 0xcbf29ce484222325ull, w;
	uint32_t i = 0;
	for (; i + 8 <= n; i += 8) {
		memcpy(&w, p + i, 8);
		h = (h ^ w) * 0x100000001b3ull;
	}
	for (; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return (uint32_t)(h ^ (h >> 32));
}

static void put32(uint8_t *p, uint32_t v) { p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v; }
static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static uint32_t get32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }
static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint64_t seed_of(uint16_t pair, uint32_t seq) { return (uint64_t)pair << 32 | seq; }

/* the checksum covers the pair, seq and length fields and the payload */
static uint32_t frame_csum(const uint8_t *f, uint32_t len)
{
	return csum(f + OFF_PAIR, OFF_CSUM - OFF_PAIR) ^ csum(f + OFF_PAYLOAD, len - OFF_PAYLOAD);
}

static void make_header(uint8_t *f, uint16_t pair, uint8_t type, uint32_t seq, uint32_t len)
{
	memcpy(f, dst_mac, 6);
	for (int i = 0; i < 6; i++)
		f[6 + i] = src_mac(pair, i);
	f[12] = 0x88;                   /* local experimental ethertype */
	f[13] = 0xb5;
	f[OFF_TYPE] = type;
	f[OFF_PAIR] = (uint8_t)pair;
	put32(f + OFF_SEQ, seq);
	put16(f + OFF_LEN, (uint16_t)len);
}

static void make_data(uint8_t *f, uint16_t pair, uint32_t seq, uint32_t len)
{
	make_header(f, pair, TYPE_DATA, seq, len);
	payload_fill(f + OFF_PAYLOAD, len - OFF_PAYLOAD, seed_of(pair, seq));
	put32(f + OFF_CSUM, frame_csum(f, len));
}

/* ---- one queue pair */
struct pair {
	struct vu_pair vq;              /* rings, buffers, free TX slots, kicks */
	uint16_t index;
	uint8_t *seen;
	uint32_t nframes;               /* data frames to send */
	uint32_t nbad, next_bad;        /* runts + longs to inject, the next one */
	uint32_t nruns, nlongs;
	uint32_t sent;                  /* data frames sent (vq counts every TX chain) */
	uint32_t runts_sent, longs_sent;
	uint32_t returned, got, next_seq; /* RX frames, intact data frames */
	uint32_t bad_short, bad_type, bad_mac, bad_pair, bad_seq, bad_len, bad_csum, bad_payload, dup,
		 out_of_order, came_back_runt, came_back_long;
	int reported;                   /* first few errors printed */
};

static struct pair pr[MAX_PAIRS];
static uint16_t npairs = 1;
static uint32_t window = 512;

/* bad frame k goes out just before data frame bad_pos(k) */
static uint32_t bad_pos(const struct pair *q, uint32_t k)
{
	return (uint32_t)(((uint64_t)k + 1) * q->nframes / (q->nbad + 1));
}
static int bad_is_runt(const struct pair *q, uint32_t k)
{
	uint32_t both = 2 * (q->nruns < q->nlongs ? q->nruns : q->nlongs);
	return k < both ? (k & 1) == 0 : q->nruns > q->nlongs;
}

static void report(struct pair *q, uint16_t p, const char *what, uint32_t len, const uint8_t *f)
{
	if (q->reported++ >= 8)
		return;
	printf("# q%u: %s (len %u", p, what, len);
	if (len >= OFF_PAYLOAD)
		printf(", type 0x%02x pair %u seq %u", f[OFF_TYPE], f[OFF_PAIR], get32(f + OFF_SEQ));
	printf(")\n");
}

static void check_rx(struct pair *q, uint16_t p, const uint8_t *f, uint32_t len)
{
	q->returned++;
	if (len < 14) {
		q->came_back_runt++;
		report(q, p, "a runt came back", len, f);
		return;
	}
	if (len < OFF_PAYLOAD || f[12] != 0x88 || f[13] != 0xb5) {
		q->bad_short++;
		report(q, p, "not one of ours", len, f);
		return;
	}
	if (f[OFF_TYPE] == TYPE_LONG) {
		q->came_back_long++;
		report(q, p, "an over-MTU frame came back", len, f);
		return;
	}
	if (f[OFF_TYPE] != TYPE_DATA) {
		q->bad_type++;
		report(q, p, "bad type", len, f);
		return;
	}
	/* macswap: dst is our src, src is the dst we sent to */
	int mac_ok = !memcmp(f + 6, dst_mac, 6);
	for (int i = 0; i < 6; i++)
		mac_ok &= f[i] == src_mac(p, i);
	if (!mac_ok) {
		q->bad_mac++;
		report(q, p, "MACs not swapped", len, f);
		return;
	}
	if (f[OFF_PAIR] != p) {
		q->bad_pair++;
		report(q, p, "from another pair", len, f);
		return;
	}
	uint32_t seq = get32(f + OFF_SEQ);
	if (seq >= q->nframes) {
		q->bad_seq++;
		report(q, p, "sequence number out of range", len, f);
		return;
	}
	if (len != frame_len(p, seq) || get16(f + OFF_LEN) != len) {
		q->bad_len++;
		report(q, p, "size changed", len, f);
		return;
	}
	if (get32(f + OFF_CSUM) != frame_csum(f, len)) {
		q->bad_csum++;
		report(q, p, "checksum mismatch", len, f);
		return;
	}
	if (!payload_ok(f + OFF_PAYLOAD, len - OFF_PAYLOAD, seed_of(p, seq))) {
		q->bad_payload++;
		report(q, p, "payload differs", len, f);
		return;
	}
	if (q->seen[seq]++) {
		q->dup++;
		report(q, p, "duplicate", len, f);
		return;
	}
	if (seq != q->next_seq) {
		if (q->out_of_order++ < 4)
			printf("# q%u: seq %u arrived, expected %u\n", p, seq, q->next_seq);
	}
	q->next_seq = seq + 1;
	q->got++;
}

/* vu_pair_rx_poll's callback: buf is the RX slot, header first */
static void on_rx(void *ctx, const uint8_t *buf, uint32_t used)
{
	struct pair *q = ctx;
	if (used < VHDR) {
		q->returned++;
		q->bad_short++;
		report(q, q->index, "shorter than the virtio-net header", used, buf);
	} else {
		check_rx(q, q->index, buf + VHDR, used - VHDR);
	}
}

/* One round on a pair: reclaim TX, send up to BURST, receive and check up
 * to BURST, re-post RX. Returns whether anything moved. */
static int pair_poll(struct virtio_dev *d, struct pair *q, uint16_t p)
{
	uint16_t n = vu_pair_tx_reclaim(&q->vq);
	uint32_t burst = 0;
	uint8_t *f;
	while (burst < BURST && (f = vu_pair_tx_frame(&q->vq))) {
		uint32_t len;
		int bad = q->next_bad < q->nbad && q->sent >= bad_pos(q, q->next_bad);
		if (bad) {
			int runt = bad_is_runt(q, q->next_bad);
			if (runt) {
				len = runt_sizes[q->runts_sent % 3];
				memset(f, 0xa5, len);
				memcpy(f, dst_mac, len < 6 ? len : 6);
			} else {
				len = long_sizes[q->longs_sent % 3];
				make_header(f, p, TYPE_LONG, q->next_bad, len);
				memset(f + OFF_PAYLOAD, 0x5a, len - OFF_PAYLOAD);
			}
			if (vu_pair_tx_post(&q->vq, len))
				break;
			q->next_bad++;
			if (runt)
				q->runts_sent++;
			else
				q->longs_sent++;
		} else {
			if (q->sent >= q->nframes || q->sent >= q->returned + window)
				break;
			len = frame_len(p, q->sent);
			make_data(f, p, q->sent, len);
			if (vu_pair_tx_post(&q->vq, len))
				break;
			q->sent++;
		}
		burst++;
	}
	if (burst)
		vu_pair_tx_flush(d, &q->vq);
	uint16_t m = vu_pair_rx_poll(d, &q->vq, BURST, on_rx, q);
	return n || burst || m;
}

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void on_deadline(int sig)
{
	static const char m[] = "FAIL: l2fwd_gen: deadline passed\n0 passed, 1 failed\n";
	ssize_t n = write(1, m, sizeof m - 1);
	(void)n;
	_exit(2);
}

static void usage(void)
{
	fprintf(stderr, "usage: l2fwd_gen --socket PATH [--queues N] [--frames TOTAL] [--window W]\n"
			"                 [--runts R] [--long L] [--timeout S] [--connect-timeout S]\n");
	exit(64);
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	const char *sock = NULL;
	long frames = 1000000, runts = 5, longs = 5, timeout = 120, ctimeout = 10, stall = 10;
	static const struct option opts[] = {
		{ "socket", required_argument, 0, 's' }, { "queues", required_argument, 0, 'q' },
		{ "frames", required_argument, 0, 'f' }, { "window", required_argument, 0, 'w' },
		{ "runts", required_argument, 0, 'r' }, { "long", required_argument, 0, 'l' },
		{ "timeout", required_argument, 0, 't' }, { "connect-timeout", required_argument, 0, 'c' },
		{ "stall", required_argument, 0, 'S' }, { 0 },
	};
	int o;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 's': sock = optarg; break;
		case 'q': npairs = (uint16_t)atoi(optarg); break;
		case 'f': frames = atol(optarg); break;
		case 'w': window = (uint32_t)atol(optarg); break;
		case 'r': runts = atol(optarg); break;
		case 'l': longs = atol(optarg); break;
		case 't': timeout = atol(optarg); break;
		case 'c': ctimeout = atol(optarg); break;
		case 'S': stall = atol(optarg); break;
		default: usage();
		}
	}
	/* the window must stay below what both RX rings hold, else testpmd
	 * drops what it cannot enqueue */
	if (!sock || npairs < 1 || npairs > MAX_PAIRS || frames < npairs || window < 1 || window > RING - 2 * BURST ||
	    runts < 0 || longs < 0 || runts + longs > 100000 || timeout < 1)
		usage();
	signal(SIGALRM, on_deadline);
	alarm((unsigned)timeout);

	/* rings and buffers in one memfd (huge pages where the host has them) */
	struct vu_mem mem;
	char err[256] = "";
	size_t mem_size = (size_t)npairs * (2 * (size_t)RING * SLOT + 2 * virtq_memsize(RING) + 4 * 4096);
	mem_size = (mem_size + (4u << 20) - 1) & ~(size_t)((2u << 20) - 1);
	if (vu_mem_open(&mem, "l2fwd-gen", mem_size, err, sizeof err)) {
		printf("FAIL: %s\n0 passed, 1 failed\n", err);
		return 1;
	}
	printf("# l2fwd_gen: %s, %u queue pair%s, %ld data frames, window %u, %ld runts and %ld over-MTU per pair; "
	       "%zu MiB memfd on %s pages\n", sock, npairs, npairs == 1 ? "" : "s", frames, window, runts, longs,
	       mem_size >> 20, mem.huge ? "2 MiB huge" : "4 KiB");

	static const uint8_t mac[6] = { 0x02, 0x50, 0x4c, 0x58, 0x47, 0xff };
	double t0 = now_s();
	struct virtio_dev *d = vhost_user_connect(sock, npairs, mem.fd, mem.base, mem.size, mac,
						  (int)(ctimeout * 1000), err, sizeof err);
	if (!d) {
		printf("FAIL: vhost_user_connect: %s\n0 passed, 1 failed\n", err);
		return 1;
	}
	int rc = vu_negotiate(d, err, sizeof err);
	if (rc) {
		printf("FAIL: virtio_negotiate: %s\n0 passed, 1 failed\n", err);
		return 1;
	}
	uint16_t maxq = d->ops->max_queue_pairs ? d->ops->max_queue_pairs(d) : 1;
	if (maxq < npairs) {
		printf("FAIL: the backend offers %u queue pairs, %u wanted\n0 passed, 1 failed\n", maxq, npairs);
		return 1;
	}
	int eidx = (d->features & VIRTIO_F_BIT(VIRTIO_RING_F_EVENT_IDX)) != 0;
	for (uint16_t p = 0; p < npairs; p++) {
		struct pair *q = &pr[p];
		q->index = p;
		q->nframes = (uint32_t)(frames / npairs + (p < frames % npairs));
		q->nruns = (uint32_t)runts;
		q->nlongs = (uint32_t)longs;
		q->nbad = (uint32_t)(runts + longs);
		q->seen = calloc(q->nframes, 1);
		if (!q->seen) {
			printf("FAIL: out of memory\n0 passed, 1 failed\n");
			return 1;
		}
		rc = vu_pair_init(&q->vq, &mem, p, RING, SLOT, VHDR + BUF_DATA, SLOT, eidx);
		if (rc) {
			printf("FAIL: vu_pair_init pair %u: %d\n0 passed, 1 failed\n", p, rc);
			return 1;
		}
		int a = d->ops->queue_enable(d, &q->vq.rx), b = d->ops->queue_enable(d, &q->vq.tx);
		if (a || b) {
			printf("FAIL: queue_enable pair %u: %d %d\n0 passed, 1 failed\n", p, a, b);
			return 1;
		}
		vu_pair_post_rx(d, &q->vq, RING);
	}
	d->ops->set_status(d, VIRTIO_STATUS_ACK | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK |
			   VIRTIO_STATUS_DRIVER_OK);
	printf("# connected and set up in %.2f s (features 0x%llx)\n", now_s() - t0, (unsigned long long)d->features);

	/* ---- traffic */
	double start = now_s(), last_progress = start, next_note = start + 5;
	uint64_t last_total = 0;
	int stalled = 0;
	for (;;) {
		int moved = 0, done = 1;
		uint64_t total = 0;
		for (uint16_t p = 0; p < npairs; p++) {
			moved |= pair_poll(d, &pr[p], p);
			done &= pr[p].returned >= pr[p].nframes && pr[p].next_bad == pr[p].nbad;
			total += pr[p].returned;
		}
		if (done)
			break;
		double t = now_s();
		if (total != last_total) {
			last_total = total;
			last_progress = t;
		} else if (t - last_progress > (double)stall) {
			stalled = 1;
			break;
		}
		if (t >= next_note) {
			printf("# %.0f s: %llu frames back\n", t - start, (unsigned long long)total);
			next_note = t + 5;
		}
		if (!moved)
			sched_yield();          /* a shared, oversubscribed host: let the others run */
	}
	double dt = now_s() - start;
	/* linger: late duplicates or dropped-frames-that-come-back show up now;
	 * the last TX completions arrive */
	for (double t = now_s(); now_s() < t + 0.3;) {
		int moved = 0;
		for (uint16_t p = 0; p < npairs; p++)
			moved |= pair_poll(d, &pr[p], p);
		if (!moved)
			usleep(1000);
	}
	for (double t = now_s(); now_s() < t + 2;) {
		uint32_t left = 0;
		for (uint16_t p = 0; p < npairs; p++) {
			pair_poll(d, &pr[p], p);
			left += pr[p].vq.tx_posted - pr[p].vq.tx_done;
		}
		if (!left)
			break;
		usleep(1000);
	}

	/* ---- verdict */
	uint64_t tot_sent = 0, tot_got = 0, tot_runts = 0, tot_longs = 0;
	CHECK(!stalled, "no frame came back for %ld s: stalled", stall);
	for (uint16_t p = 0; p < npairs; p++) {
		struct pair *q = &pr[p];
		uint32_t missing = 0, first_missing = UINT32_MAX;
		for (uint32_t s = 0; s < q->nframes; s++)
			if (!q->seen[s] && !missing++)
				first_missing = s;
		uint32_t errors = q->bad_short + q->bad_type + q->bad_mac + q->bad_pair + q->bad_seq + q->bad_len +
				  q->bad_csum + q->bad_payload + q->dup + q->came_back_runt + q->came_back_long;
		printf("gen q%u: sent %u returned %u intact %u runts %u too_long %u errors %u missing %u "
		       "out_of_order %u kicks %u\n", p, q->sent, q->returned, q->got, q->runts_sent, q->longs_sent,
		       errors, missing, q->out_of_order, q->vq.kicks);
		CHECK(q->sent == q->nframes, "q%u: sent all %u data frames (%u)", p, q->nframes, q->sent);
		CHECK(q->runts_sent == q->nruns && q->longs_sent == q->nlongs, "q%u: sent %u runts and %u over-MTU "
		      "frames (%u, %u)", p, q->nruns, q->nlongs, q->runts_sent, q->longs_sent);
		CHECK(q->got == q->nframes && missing == 0, "q%u: every frame came back intact, exactly once "
		      "(%u of %u; %u missing, the first seq %u)", p, q->got, q->nframes, missing, first_missing);
		CHECK(q->returned == q->got, "q%u: nothing else came back (%u frames, %u intact)", p, q->returned,
		      q->got);
		CHECK(q->bad_mac == 0, "q%u: MACs swapped (%u not)", p, q->bad_mac);
		CHECK(q->bad_len == 0 && q->bad_csum == 0 && q->bad_payload == 0 && q->bad_short == 0 &&
		      q->bad_type == 0 && q->bad_seq == 0 && q->bad_pair == 0,
		      "q%u: sizes and bytes intact (%u sizes, %u checksums, %u payloads, %u garbled, %u types, "
		      "%u seqs, %u from another pair)", p, q->bad_len, q->bad_csum, q->bad_payload, q->bad_short,
		      q->bad_type, q->bad_seq, q->bad_pair);
		CHECK(q->dup == 0, "q%u: no duplicates (%u)", p, q->dup);
		CHECK(q->out_of_order == 0, "q%u: in order (%u out of order)", p, q->out_of_order);
		CHECK(q->came_back_runt == 0 && q->came_back_long == 0, "q%u: no runt or over-MTU frame came back "
		      "(%u, %u)", p, q->came_back_runt, q->came_back_long);
		CHECK(q->vq.tx_done == q->vq.tx_posted, "q%u: every TX buffer came back (%u of %u)", p, q->vq.tx_done,
		      q->vq.tx_posted);
		CHECK(!virtq_broken(&q->vq.rx) && !virtq_broken(&q->vq.tx), "q%u: no queue broken", p);
		tot_sent += q->sent;
		tot_got += q->got;
		tot_runts += q->runts_sent;
		tot_longs += q->longs_sent;
	}
	printf("gen total: sent %llu returned %llu runts %llu too_long %llu in %.3f s (%.0f frames/s)\n",
	       (unsigned long long)tot_sent, (unsigned long long)tot_got, (unsigned long long)tot_runts,
	       (unsigned long long)tot_longs, dt, dt > 0 ? (double)tot_got / dt : 0.0);
	d->ops->reset(d);               /* GET_VRING_BASE: the backend stops using our memory */
	/* not a check: a busy-polling dpdk-testpmd on a 2-CPU machine may leave
	 * its vhost message thread without CPU for longer than our 5 s wait */
	if (d->ops->get_status(d) & VIRTIO_STATUS_NEEDS_RESET)
		printf("# note: the backend did not answer the reset within 5 s (busy host)\n");
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
