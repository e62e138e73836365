/*
 * l2fwd.c — the L2 forwarder: every frame received on a queue goes
 * straight back out, MACs swapped ("macswap", the default) or untouched
 * ("io"), on the same device or on its pair. One poller per queue pair on
 * the core that owns it; a frame the TX ring can't take is freed and
 * counted.
 *
 * Config:
 *   "l2fwd": { "mode": "macswap" | "io", "pairs": [[0, 1]], "burst": 32 }
 * Devices not in any pair forward to themselves.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <jansson.h>
#include "apps/apps.h"
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

int l2fwd_init(const void *cfg, char *err, size_t errlen)
{
	const json_t *c = json_object_get(cfg, "l2fwd");
	int peer[NETDEV_MAX];
	int macswap = 1;
	uint16_t burst = 32;
	for (int i = 0; i < NETDEV_MAX; i++)
		peer[i] = i;
	if (c && !json_is_object(c)) {
		snprintf(err, errlen, "l2fwd: must be an object");
		return -EINVAL;
	}
	const json_t *mode = json_object_get(c, "mode");
	if (mode) {
		const char *m = json_string_value(mode);
		if (!m || (strcmp(m, "macswap") && strcmp(m, "io"))) {
			snprintf(err, errlen, "l2fwd.mode: must be \"macswap\" or \"io\"");
			return -EINVAL;
		}
		macswap = !strcmp(m, "macswap");
	}
	const json_t *b = json_object_get(c, "burst");
	if (b) {
		if (!json_is_integer(b) || json_integer_value(b) < 1 || json_integer_value(b) > 64) {
			snprintf(err, errlen, "l2fwd.burst: must be 1..64");
			return -EINVAL;
		}
		burst = (uint16_t)json_integer_value(b);
	}
	const json_t *pairs = json_object_get(c, "pairs");
	if (pairs) {
		size_t i;
		const json_t *p;
		if (!json_is_array(pairs)) {
			snprintf(err, errlen, "l2fwd.pairs: must be a list of [a, b] device indices");
			return -EINVAL;
		}
		json_array_foreach(pairs, i, p) {
			json_int_t a = json_integer_value(json_array_get(p, 0));
			json_int_t z = json_integer_value(json_array_get(p, 1));
			if (!json_is_array(p) || json_array_size(p) != 2 ||
			    !json_is_integer(json_array_get(p, 0)) || !json_is_integer(json_array_get(p, 1))) {
				snprintf(err, errlen, "l2fwd.pairs[%zu]: must be [a, b] device indices", i);
				return -EINVAL;
			}
			if (a < 0 || a >= netdev_count()) {
				snprintf(err, errlen, "l2fwd.pairs[%zu][0]: no device %lld (have %d)", i, (long long)a, netdev_count());
				return -EINVAL;
			}
			if (z < 0 || z >= netdev_count()) {
				snprintf(err, errlen, "l2fwd.pairs[%zu][1]: no device %lld (have %d)", i, (long long)z, netdev_count());
				return -EINVAL;
			}
			peer[a] = (int)z;
			peer[z] = (int)a;
		}
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
