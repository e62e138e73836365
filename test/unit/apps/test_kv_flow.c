/*
 * test_kv_flow.c — the kv appliance's connections (src/apps/kv.c) on the
 * host harness (test/unit/net/harness.h: one core, one shard, a scripted
 * peer through the real stack): how answers flow through its messages.
 *
 * What it pins down: a multi-get whose batch answers overflow their
 * 8 KiB message streams out whole and in order (the shard answers what
 * fits, the rest runs again once those went out) with no message lost;
 * each op of such a batch counted once in `stats`; a client that never
 * reads holds at most its share of the core's messages (its input waits:
 * share_waits), is reset after kv.send_timeout_s (send_timeouts) and
 * every message comes back; and clients that never read leave the
 * pool's reserve to one that does (reserve_waits).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../net/check.h"
#include "apps/apps.h"
#include "apps/kv.h"

TestSuite(kv_flow, .init = h_setup, .fini = h_teardown);

#define KV_PORT 11211
#define SHARE 16                /* kv.c's KV_CONN_SHARE */
static struct h_pkt K;

static void kv_start_conns(uint32_t send_timeout_s, uint32_t max_conns)
{
	struct apps_config cfg;
	char err[128];
	memset(&cfg, 0, sizeof cfg);
	cfg.kv.port = KV_PORT;
	cfg.kv.memory_mb = 4;
	cfg.kv.item_size_max = 1 << 20;
	cfg.kv.evict = 1;
	cfg.kv.max_conns = max_conns;
	cfg.kv.send_timeout_s = send_timeout_s;
	cr_assert_eq(kv_init(&cfg, err, sizeof err), 0, "kv_init: %s", err);
}

static void kv_start(uint32_t send_timeout_s)
{
	kv_start_conns(send_timeout_s, 8);
}

static void kv_connect(struct h_peer *p, uint16_t port)
{
	h_peer_init(p, port, KV_PORT, 1, 7, 1);
	cr_assert_eq(h_peer_handshake(p), 0, "no SYN-ACK");
}

/* sends in segments of at most 1400 bytes */
static void peer_send_all(struct h_peer *p, const char *data, size_t len)
{
	for (size_t o = 0; o < len; o += 1400) {
		size_t n = len - o < 1400 ? len - o : 1400;
		h_peer_send(p, TCP_ACK | TCP_PSH, data + o, n);
		h_turn();
	}
}

/* reads (and acknowledges) what comes until `want` bytes or nothing more */
static size_t peer_read(struct h_peer *p, char *out, size_t want)
{
	size_t n = 0;
	for (int idle = 0; n < want && idle < 50; idle++) {
		int got = 0;
		while (h_peer_recv(p, &K)) {
			if (K.seq == p->ack && K.plen) {
				cr_assert(n + K.plen <= want, "more than %zu bytes", want);
				memcpy(out + n, K.payload, K.plen);
				n += K.plen;
				got = 1;
			}
			h_peer_take(p, &K);
		}
		if (got) {
			idle = 0;
			h_peer_send(p, TCP_ACK, NULL, 0);
		}
		h_turn();
		h_advance_ms(10);
	}
	return n;
}

static void set_values(struct h_peer *p, const char *prefix, int n, size_t vlen)
{
	static char req[16384];
	for (int i = 0; i < n; i++) {
		int h = snprintf(req, sizeof req, "set %s%03d 0 0 %zu noreply\r\n", prefix, i, vlen);
		memset(req + h, 'a' + i % 26, vlen);
		memcpy(req + h + vlen, "\r\n", 2);
		peer_send_all(p, req, (size_t)h + vlen + 2);
	}
}

static uint32_t msgs_free(void)
{
	struct kv_core_stats st;
	kv_core_stats(0, &st);
	return st.msgs_free;
}

Test(kv_flow, a_100_key_get_of_1k_values_streams_whole)
{
	struct h_peer p;
	static char want[120000], got[120000], line[1024];
	kv_start(30);
	kv_connect(&p, 41000);
	set_values(&p, "kk", 100, 1000);
	size_t l = (size_t)snprintf(line, sizeof line, "get");
	size_t w = 0;
	for (int i = 0; i < 100; i++) {
		l += (size_t)snprintf(line + l, sizeof line - l, " kk%03d", i);
		w += (size_t)snprintf(want + w, sizeof want - w, "VALUE kk%03d 0 1000\r\n", i);
		memset(want + w, 'a' + i % 26, 1000);
		memcpy(want + w + 1000, "\r\n", 2);
		w += 1002;
	}
	memcpy(want + w, "END\r\n", 5);
	w += 5;
	memcpy(line + l, "\r\n", 2);
	peer_send_all(&p, line, l + 2);
	size_t n = peer_read(&p, got, w);
	struct kv_core_stats st;
	kv_core_stats(0, &st);
	cr_assert_eq(n, w, "%zu of %zu bytes (answer_overflow %lu)", n, w, (unsigned long)st.answer_overflow);
	cr_assert(!memcmp(got, want, w), "the answer differs");
	cr_assert_eq(st.answer_overflow, 0);
	cr_assert_eq(st.msgs_free, st.msgs, "%u of %u messages back", st.msgs_free, st.msgs);
	cr_assert_eq(st.bigs_free, st.bigs);
	h_peer_send(&p, TCP_RST | TCP_ACK, NULL, 0);
	h_turn();
	kv_core_stats(0, &st);
	cr_assert_eq(st.curr_conns, 0);
}

/* the value of `name` in the answer to `stats` on p (-1: absent) */
static long long stat_of(struct h_peer *p, const char *name)
{
	static char got[16384];
	char pat[80];
	peer_send_all(p, "stats\r\n", 7);
	size_t n = peer_read(p, got, sizeof got - 1);   /* until nothing more comes */
	got[n] = 0;
	cr_assert(n >= 5 && !memcmp(got + n - 5, "END\r\n", 5), "stats: %zu bytes", n);
	snprintf(pat, sizeof pat, "STAT %s ", name);
	const char *at = strstr(got, pat);
	return at ? atoll(at + strlen(pat)) : -1;
}

/* A batch whose answers overflow its message runs its remaining ops again
 * (msg_more): each op is counted once all the same */
Test(kv_flow, a_multi_get_that_overflows_its_message_counts_each_key_once)
{
	struct h_peer p;
	static char got[120000], line[1024];
	kv_start(30);
	kv_connect(&p, 41003);
	set_values(&p, "c", 40, 1000);
	size_t l = (size_t)snprintf(line, sizeof line, "get");
	for (int i = 0; i < 40; i++)
		l += (size_t)snprintf(line + l, sizeof line - l, " c%03d", i);
	for (int i = 0; i < 5; i++)
		l += (size_t)snprintf(line + l, sizeof line - l, " miss%d", i);
	memcpy(line + l, "\r\n", 2);
	peer_send_all(&p, line, l + 2);
	size_t w = 40 * (strlen("VALUE c000 0 1000\r\n") + 1002) + 5;
	cr_assert_eq(peer_read(&p, got, w), w);
	cr_assert_eq(stat_of(&p, "get_hits"), 40);
	cr_assert_eq(stat_of(&p, "get_misses"), 5);
	cr_assert_eq(stat_of(&p, "cmd_get"), 45);
	/* gat counts touches once as well */
	l = (size_t)snprintf(line, sizeof line, "gat 0");
	for (int i = 0; i < 40; i++)
		l += (size_t)snprintf(line + l, sizeof line - l, " c%03d", i);
	memcpy(line + l, "\r\n", 2);
	peer_send_all(&p, line, l + 2);
	cr_assert_eq(peer_read(&p, got, w), w);
	cr_assert_eq(stat_of(&p, "get_hits"), 80);
	cr_assert_eq(stat_of(&p, "touch_hits"), 40);
	cr_assert_eq(stat_of(&p, "cmd_touch"), 40);
	struct kv_core_stats st;
	kv_core_stats(0, &st);
	/* the sets, the get, the gat and the 6 stats: once each */
	cr_assert_eq(st.ops, 40 + 45 + 40 + 6, "ops %lu", (unsigned long)st.ops);
	cr_assert_eq(st.msgs_free, st.msgs);
	h_peer_send(&p, TCP_RST | TCP_ACK, NULL, 0);
	h_turn();
}

Test(kv_flow, a_client_that_never_reads_holds_its_share_then_is_reset)
{
	struct h_peer p;
	static char req[4096];
	kv_start(30);
	kv_connect(&p, 41001);
	set_values(&p, "s", 4, 6000);
	uint32_t all = msgs_free();
	/* it stops reading: a shut window, and gets of 2 x 6000 bytes (two
	 * keys: a batch, so each line takes a message) pipelined */
	p.win = 0;
	size_t l = 0;
	for (int i = 0; i < 60; i++)
		l += (size_t)snprintf(req + l, sizeof req - l, "get s%03d s%03d\r\n", i % 4, (i + 1) % 4);
	peer_send_all(&p, req, l);
	for (int i = 0; i < 20; i++) {
		h_turn();
		h_advance_ms(10);
	}
	h_tx_drop_all();
	struct kv_core_stats st;
	kv_core_stats(0, &st);
	cr_assert(all - st.msgs_free >= SHARE / 2 && all - st.msgs_free <= SHARE + 1,
		  "it holds %u messages", all - st.msgs_free);
	cr_assert(st.share_waits >= 1, "share_waits %lu", (unsigned long)st.share_waits);
	cr_assert_eq(st.send_timeouts, 0);
	/* no byte taken for kv.send_timeout_s: reset, its messages back */
	for (int s = 0; s < 33; s++) {
		h_advance_ms(1000);
		h_turn();
		h_tx_drop_all();
	}
	kv_core_stats(0, &st);
	cr_assert_eq(st.send_timeouts, 1);
	cr_assert_eq(st.curr_conns, 0);
	cr_assert_eq(st.msgs_free, st.msgs, "%u of %u messages back", st.msgs_free, st.msgs);
	cr_assert_eq(st.bigs_free, st.bigs);
}

/* Eight clients that pipeline gets and never read would take the whole
 * pool at 16 messages each; the pool keeps its reserve for connections
 * within their few (KV_CONN_FEW), so a ninth that reads is answered all
 * along, and once kv.send_timeout_s resets the eight everything is back */
Test(kv_flow, clients_that_never_read_leave_the_pool_to_one_that_does)
{
	enum { GREEDY = 8 };
	struct h_peer g[GREEDY], good;
	static char req[4096], got[16384];
	h_fini();
	cr_assert_eq(h_init("{\"interfaces\": [{\"address\": \"198.18.0.2/24\", \"gateway\": \"198.18.0.1\"}],"
			    " \"tcp\": {\"max_conns_per_core\": 16, \"send_buffer\": 16384}}"), 0);
	kv_start_conns(30, 16);
	kv_connect(&good, 41100);
	set_values(&good, "s", 4, 6000);
	uint32_t all = msgs_free();
	size_t l = 0;
	for (int i = 0; i < 60; i++)
		l += (size_t)snprintf(req + l, sizeof req - l, "get s%03d s%03d\r\n", i % 4, (i + 1) % 4);
	for (int c = 0; c < GREEDY; c++) {
		kv_connect(&g[c], (uint16_t)(41010 + c));
		g[c].win = 0;
		peer_send_all(&g[c], req, l);
	}
	for (int i = 0; i < 20; i++) {
		h_turn();
		h_advance_ms(10);
	}
	struct kv_core_stats st;
	kv_core_stats(0, &st);
	uint32_t held = all - st.msgs_free;
	/* each at least its few (2); past those, only down to the reserve
	 * (128 / 4): at most 96 + 2 each */
	cr_assert(held >= GREEDY * 2 && held <= 128 - 128 / 4 + GREEDY * 2,
		  "the greedy hold %u messages", held);
	cr_assert(st.reserve_waits >= 1, "reserve_waits %lu", (unsigned long)st.reserve_waits);
	/* the good one: answered at once, again and again (each read is
	 * bounded: 50 idle turns of 10 ms) */
	size_t want = 2 * (strlen("VALUE s000 0 6000\r\n") + 6002) + 5;
	for (int r = 0; r < 10; r++) {
		peer_send_all(&good, "get s002 s003\r\n", 15);
		size_t n = peer_read(&good, got, want);
		cr_assert_eq(n, want, "round %d: %zu of %zu bytes", r, n, want);
		cr_assert(!memcmp(got, "VALUE s002 0 6000\r\n", 19));
	}
	kv_core_stats(0, &st);
	cr_assert_eq(st.send_timeouts, 0);
	cr_assert_eq(st.curr_conns, GREEDY + 1);
	/* the greedy take no byte for kv.send_timeout_s: reset, all back */
	for (int s = 0; s < 33; s++) {
		h_advance_ms(1000);
		h_turn();
		for (int c = 0; c < GREEDY; c++)
			while (h_peer_recv(&g[c], &K))
				;
	}
	kv_core_stats(0, &st);
	cr_assert_eq(st.send_timeouts, GREEDY);
	cr_assert_eq(st.curr_conns, 1);
	cr_assert_eq(st.msgs_free, st.msgs, "%u of %u messages back", st.msgs_free, st.msgs);
	cr_assert_eq(st.bigs_free, st.bigs);
	cr_assert_eq(st.conn_slots_free, st.conn_slots - 1);
	h_peer_send(&good, TCP_RST | TCP_ACK, NULL, 0);
	h_turn();
	kv_core_stats(0, &st);
	cr_assert_eq(st.curr_conns, 0);
	cr_assert_eq(st.conn_slots_free, st.conn_slots);
}

Test(kv_flow, a_client_that_reads_is_not_reset)
{
	struct h_peer p;
	static char got[8192];
	kv_start(5);
	kv_connect(&p, 41002);
	set_values(&p, "r", 1, 100);
	for (int s = 0; s < 4; s++) {
		peer_send_all(&p, "get r000 r000\r\n", 15);
		size_t n = peer_read(&p, got, 2 * 120 + 5);
		cr_assert_eq(n, 2 * 120 + 5, "round %d: %zu bytes", s, n);
		h_advance_ms(3000);
		h_turn();
	}
	struct kv_core_stats st;
	kv_core_stats(0, &st);
	cr_assert_eq(st.send_timeouts, 0);
	cr_assert_eq(st.curr_conns, 1);
	h_peer_send(&p, TCP_RST | TCP_ACK, NULL, 0);
	h_turn();
}
