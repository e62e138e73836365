/*
 * l2fwd.c — the L2 forwarder: every frame received on a queue goes
 * straight back out, MACs swapped ("macswap", the default) or untouched
 * ("io"), on the same device or on its pair. One poller per queue pair on
 * the core that owns it; a frame the TX ring can't take is freed and
 * counted.
 *
 * Config (its schema table below, struct l2fwd_config in apps.h):
 *   "l2fwd": { "mode": "macswap" | "io", "pairs": [[0, 1]], "burst": 32 }
 * Devices not in any pair forward to themselves.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <stddef.h>
#include "apps/apps.h"
#include "core/schema.h"
#include "drivers/netdev.h"
#include "sched/sched.h"

struct l2fwd_q {
	struct netdev *in, *out;
	uint16_t q;
	uint16_t burst;
	int macswap;
	char name[24];
	counter_t fwd, dropped;
} __attribute__((aligned(CACHE_LINE)));

static struct l2fwd_q qs[NETDEV_MAX * NETDEV_MAX_QUEUES];
static int nqs;

static inline void macswap(struct pktbuf *b)
{
	uint8_t *e = pktbuf_data(b), t[6];
	memcpy(t, e, 6);
	memcpy(e, e + 6, 6);
	memcpy(e + 6, t, 6);
}

static unsigned l2fwd_poll(void *arg)
{
	struct l2fwd_q *f = arg;
	struct pktbuf *pkts[64];
	uint16_t n = netdev_rx_burst(f->in, f->q, pkts, f->burst);
	if (!n) {
		return 0;
	}
	if (f->macswap)
		for (uint16_t i = 0; i < n; i++)
			macswap(pkts[i]);
	uint16_t sent = netdev_tx_burst(f->out, f->q, pkts, n);
	for (uint16_t i = sent; i < n; i++)
		pktbuf_free(pkts[i]);
	counter_add(&f->fwd, sent);
	if (sent < n)
		counter_add(&f->dropped, (uint64_t)(n - sent));
	return n;
}

/* Before a halting core sleeps: the device interrupts it at the next
 * frame (or, without an interrupt, it wakes on a timer to poll) */
static int l2fwd_arm(void *arg)
{
	struct l2fwd_q *f = arg;
	int rc = netdev_rx_arm(f->in, f->q);
	return rc > 0 ? SCHED_ARM_WORK : rc < 0 ? SCHED_ARM_TIMED : SCHED_ARM_SLEEP;
}

static void l2fwd_disarm(void *arg)
{
	struct l2fwd_q *f = arg;
	netdev_rx_disarm(f->in, f->q);
}

/* ---- settings */
static const char *const modes[] = { "macswap", "io", NULL };

static const struct schema_node pair_item[] = {
	{ .kind = SK_INTEGER, .min = 0, .max = APPS_MAX_PAIRS - 1, .doc = "A device index." },
	{ .kind = SK_END }
};

static const struct schema_node pairs_item[] = {
	{ .kind = SK_ARRAY, .min = 2, .max = 2, .sub = pair_item,
	  .msg = "must be [a, b] device indices",
	  .doc = "Two devices that forward to each other." },
	{ .kind = SK_END }
};

/* l2fwd.pairs: [[a, b], ...] into n pairs of device indices */
static void pairs_fill(void *field, const struct schema_val *v)
{
	struct l2fwd_pairs *p = field;
	p->n = (uint32_t)schema_val_len(v);
	for (uint32_t i = 0; i < p->n; i++)
		for (int k = 0; k < 2; k++)
			p->dev[i][k] = (uint8_t)schema_val_int(schema_val_at(schema_val_at(v, i), (size_t)k));
}

#define F(x) .off = offsetof(struct l2fwd_config, x)
static const struct schema_node fields[] = {
	{ .key = "mode", .kind = SK_ENUM, .choices = modes, .type = ST_U32, F(mode), .def = 0,
	  .doc = "Swap MAC addresses (macswap, default) or forward as is (io)." },
	{ .key = "burst", .kind = SK_INTEGER, .min = 1, .max = 64, .type = ST_U32, F(burst), .def = 32,
	  .doc = "Packets per receive burst (default 32)." },
	{ .key = "pairs", .kind = SK_ARRAY, .max = APPS_MAX_PAIRS, .sub = pairs_item,
	  .fill = pairs_fill, F(pairs),
	  .doc = "Device pairs (default: each device back to itself)." },
	{ .kind = SK_END }
};

const struct schema_node l2fwd_schema = {
	.key = "l2fwd", .kind = SK_OBJECT, .sub = fields, .off = offsetof(struct apps_config, l2fwd),
	.doc = "The l2fwd appliance."
};

/* ---- start-up */
int l2fwd_init(const struct apps_config *cfg, char *err, size_t errlen)
{
	const struct l2fwd_config *c = &cfg->l2fwd;
	int peer[NETDEV_MAX];
	int macswap = c->mode == 0;
	uint16_t burst = (uint16_t)c->burst;
	for (int i = 0; i < NETDEV_MAX; i++)
		peer[i] = i;
	for (uint32_t i = 0; i < c->pairs.n; i++) {
		int a = c->pairs.dev[i][0], z = c->pairs.dev[i][1];
		for (int k = 0; k < 2; k++)
			if (c->pairs.dev[i][k] >= netdev_count()) {
				snprintf(err, errlen, "l2fwd.pairs[%u][%d]: no device %d (have %d)", i, k,
					 c->pairs.dev[i][k], netdev_count());
				return -EINVAL;
			}
		peer[a] = z;
		peer[z] = a;
	}
	if (netdev_count() == 0)
		klog("l2fwd: no network devices: nothing to forward");
	for (int i = 0; i < netdev_count(); i++) {
		struct netdev *in = netdev_get(i), *out = netdev_get(peer[i]);
		uint16_t nq = netdev_queues(in) < netdev_queues(out) ? netdev_queues(in) : netdev_queues(out);
		for (uint16_t q = 0; q < nq; q++) {
			struct l2fwd_q *f = &qs[nqs++];
			f->in = in;
			f->out = out;
			f->q = q;
			f->burst = burst;
			f->macswap = macswap;
			snprintf(f->name, sizeof f->name, "l2fwd %s q%u", netdev_name(in), q);
			int rc = sched_poller_add(netdev_queue_core(in, q), f->name, l2fwd_poll, NULL, f);
			if (!rc)
				rc = sched_poller_set_arm(netdev_queue_core(in, q), l2fwd_poll, f, l2fwd_arm,
							  l2fwd_disarm);
			if (rc) {
				snprintf(err, errlen, "l2fwd: no room for a poller on core %u", netdev_queue_core(in, q));
				return rc;
			}
		}
		klog("l2fwd: %s -> %s, %s, %u queue%s, burst %u", netdev_name(in), netdev_name(out),
		     macswap ? "macswap" : "io", nq, nq == 1 ? "" : "s", burst);
	}
	return 0;
}
