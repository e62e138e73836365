/*
 * app_fuzz.c — the engine of the appliance fuzz targets: scripted TCP
 * peers (clients of the appliance and the backends it opens) over the
 * net unit harness, driven by the records app_fuzz.h describes, and the
 * end-of-input checks (no slot held, every buffer home).
 *
 * The peers keep the sequence numbers right by themselves (they read every
 * segment the stack sends), so the fuzzer spends its bytes on the
 * appliance's protocol and on where the segments are cut, not on finding
 * a sequence number.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "harness.h"
#include "app_fuzz.h"

#define FUZZ_CONFIG \
	"{\"interfaces\": [{\"address\": \"198.18.0.2/24\", \"gateway\": \"198.18.0.1\"}]," \
	" \"tcp\": {\"max_conns_per_core\": 8, \"send_buffer\": 16384}}"
#define FUZZ_TIME_MS (15 * 60 * 1000ull)
/* at the end: longer than the idle timeout, every SYN(-ACK) retry and
 * TIME_WAIT */
#define TEARDOWN_MS (5 * 60 * 1000ull)
#define NFLOWS 8
#define NCLIENTS 4

enum { F_FREE, F_SYN_SENT, F_PENDING, F_OPEN, F_DEAD };

struct flow {
	struct h_peer p;
	int state;
	int auto_ack;
	int acked_to_date;              /* p.ack has been sent to the stack */
	uint32_t rcv;                   /* the stack's last ACK (its rcv_nxt) */
	int have_rcv;
	int syn_ts, syn_ws;             /* the stack's SYN offered them (backend) */
	uint32_t got;                   /* in-order bytes read (FUZZ_APP_TRACE) */
	char head[96];                  /* the first of them */
};

static struct flow F[NFLOWS];
static uint16_t gen;                    /* fresh client ports */
static int no_opts, small_win;

struct in {
	const uint8_t *p;
	size_t n;
};

static uint8_t u8(struct in *in)
{
	if (!in->n)
		return 0;
	in->n--;
	return *in->p++;
}
static uint16_t u16(struct in *in) { uint16_t lo = u8(in); return (uint16_t)(lo | u8(in) << 8); }

/* len bytes of the input (fewer when it ends) */
static size_t bytes(struct in *in, const uint8_t **out, size_t len)
{
	if (len > in->n)
		len = in->n;
	*out = in->p;
	in->p += len;
	in->n -= len;
	return len;
}

static struct flow *flow_of(const struct h_pkt *k)
{
	for (int i = 0; i < NFLOWS; i++)
		if (F[i].state != F_FREE && F[i].p.lport == k->sport && F[i].p.port == k->dport)
			return &F[i];
	return NULL;
}

/* a SYN the appliance sent out (the proxy's backend): a backend flow */
static void backend_syn(const struct app_fuzz *t, const struct h_pkt *k)
{
	if (!t->backend_port || k->dport != t->backend_port || (k->flags & (TCP_SYN | TCP_ACK)) != TCP_SYN)
		return;
	for (int i = NCLIENTS; i < NFLOWS; i++) {
		struct flow *f = &F[i];
		if (f->state != F_FREE && f->state != F_DEAD)
			continue;
		memset(f, 0, sizeof *f);
		h_peer_init(&f->p, k->dport, k->sport, !no_opts, 7, !no_opts);
		f->p.win = small_win ? 2048 : 65535;
		f->p.iss = k->seq;
		f->p.ack = k->seq + 1;
		f->syn_ts = k->ts;
		f->syn_ws = k->wscale >= 0;
		if (k->ts)
			f->p.tsecr = k->tsval;
		f->state = F_PENDING;
		return;
	}
}

/* the peers read what the stack sent */
static void drain(const struct app_fuzz *t)
{
	struct h_pkt k;
	while (h_next(&k)) {
		if (!k.ip || k.proto != IP_PROTO_TCP)
			continue;
		struct flow *f = flow_of(&k);
		if (!f) {
			backend_syn(t, &k);
			continue;
		}
		if (k.ts)
			f->p.tsecr = k.tsval;
		if (k.flags & TCP_RST) {
			f->state = F_DEAD;
			continue;
		}
		if (f->state == F_SYN_SENT) {
			if (k.flags == (TCP_SYN | TCP_ACK) && k.ack == f->p.seq) {
				f->p.iss = k.seq;
				f->p.ack = k.seq + 1;
				f->p.ws = f->p.ws && k.wscale >= 0;
				f->p.ts = f->p.ts && k.ts;
				f->state = F_OPEN;
				f->rcv = k.ack;
				f->have_rcv = 1;
				h_peer_send(&f->p, TCP_ACK, NULL, 0);
			}
			continue;
		}
		if (k.flags & TCP_ACK) {
			f->rcv = k.ack;
			f->have_rcv = 1;
		}
		uint32_t before = f->p.ack;
		if (k.seq == f->p.ack && k.plen) {
			if (f->got < sizeof f->head - 1) {
				size_t c = sizeof f->head - 1 - f->got < k.plen ? sizeof f->head - 1 - f->got : k.plen;
				memcpy(f->head + f->got, k.payload, c);
			}
			f->got += k.plen;
		}
		h_peer_take(&f->p, &k);
		if (f->p.ack != before)
			f->acked_to_date = 0;
	}
}

/* drain, and the auto-ACKing peers acknowledge (which may release more
 * from the stack: a few rounds) */
static void settle(const struct app_fuzz *t)
{
	for (int round = 0; round < 8; round++) {
		drain(t);
		int sent = 0;
		for (int i = 0; i < NFLOWS; i++) {
			struct flow *f = &F[i];
			if (f->state == F_OPEN && f->auto_ack && !f->acked_to_date) {
				f->acked_to_date = 1;
				h_peer_send(&f->p, TCP_ACK, NULL, 0);
				sent = 1;
			}
		}
		if (!sent)
			break;
	}
}

static void op_connect(struct flow *f, int v)
{
	int auto_ack = f->auto_ack;
	memset(f, 0, sizeof *f);
	f->auto_ack = auto_ack;
	h_peer_init(&f->p, (uint16_t)(40000 + (gen++ % 20000)), 0, !no_opts, 7, !no_opts);
	f->p.win = small_win ? 2048 : 65535;
	if (v)
		f->p.offer_mss = 536;
	f->state = F_SYN_SENT;
}

int app_fuzz_one(const struct app_fuzz *t, const uint8_t *data, size_t size)
{
	static int first_done;
	char err[160];
	if (!first_done) {
		first_done = 1;
		if (t->first)
			t->first();
	}
	if (h_init(FUZZ_CONFIG))
		abort();
	int rc = t->init(err, sizeof err);
	if (rc && rc != -EADDRINUSE) {
		fprintf(stderr, "fuzz_app_%s: init: %s (%d)\n", t->name, err, rc);
		abort();
	}
	h_tx_drop_all();
	memset(F, 0, sizeof F);
	struct in in = { data, size };
	uint8_t setup = u8(&in);
	no_opts = !!(setup & 2);
	small_win = !!(setup & 4);
	for (int i = 0; i < NFLOWS; i++)
		F[i].auto_ack = !(setup & 1);
	uint64_t waited = 0;
	for (int r = 0; in.n && r < APP_FUZZ_RECORDS; r++) {
		uint8_t b = u8(&in), op = b & 15, v = b >> 7;
		struct flow *f = &F[(b >> 4) & 7];
		int open = f->state == F_OPEN;
		const uint8_t *d;
		switch (op) {
		case 0:
			if (f < &F[NCLIENTS]) {
				op_connect(f, v);
				f->p.lport = t->port;
				h_peer_syn(&f->p);
			}
			break;
		case 1: {
			size_t len = bytes(&in, &d, u16(&in) % 1461);
			if (open)
				h_peer_send(&f->p, (uint8_t)(TCP_ACK | TCP_PSH | (v ? TCP_FIN : 0)), d, len);
			break;
		}
		case 2: {
			uint32_t gap = u8(&in) + 1u;
			size_t len = bytes(&in, &d, u16(&in) % 1461);
			if (open && len)
				h_peer_send_at(&f->p, v ? f->p.seq - gap - (uint32_t)len : f->p.seq + gap,
					       TCP_ACK | TCP_PSH, d, len);
			break;
		}
		case 3:
			if (open)
				h_peer_send(&f->p, TCP_ACK | TCP_FIN, NULL, 0);
			break;
		case 4:
			if (open) {
				uint32_t seq = (f->have_rcv ? f->rcv : f->p.seq) + v;
				h_peer_send_at(&f->p, seq, TCP_RST, NULL, 0);
				if (!v)
					f->state = F_DEAD;
			}
			break;
		case 5: {
			uint16_t w = u16(&in);
			if (open) {
				f->p.win = v ? 0 : w;
				f->acked_to_date = 1;
				h_peer_send(&f->p, TCP_ACK, NULL, 0);
			}
			break;
		}
		case 6: {
			uint64_t ms = u16(&in);
			if (ms > FUZZ_TIME_MS - waited)
				ms = FUZZ_TIME_MS - waited;
			waited += ms;
			h_advance_ms(ms);
			break;
		}
		case 7:
			if (f->state == F_PENDING) {
				if (v) {
					h_peer_send_at(&f->p, 0, TCP_RST | TCP_ACK, NULL, 0);
					f->state = F_DEAD;
				} else {
					f->p.ts = f->p.ts && f->syn_ts;
					f->p.ws = f->p.ws && f->syn_ws;
					f->state = F_OPEN;
					f->acked_to_date = 1;
					h_peer_send(&f->p, TCP_SYN | TCP_ACK, NULL, 0);
				}
			}
			break;
		case 8:
			f->auto_ack = v;
			break;
		case 9: {
			uint16_t sport = u16(&in);
			size_t len = bytes(&in, &d, u16(&in) % 1473);
			h_rx_udp(sport, t->port, d, len);
			break;
		}
		case 10: {                      /* bulk: n segments of a pattern */
			static uint8_t pat[1460];
			uint8_t n = u8(&in);
			size_t len = u16(&in) % 1461;
			if (!pat[1])
				for (size_t i = 0; i < sizeof pat; i++)
					pat[i] = (uint8_t)(i * 131 + 7);
			for (int i = 0; i < n && f->state == F_OPEN; i++) {
				h_peer_send(&f->p, TCP_ACK | (v ? TCP_PSH : 0), pat, len);
				settle(t);
			}
			break;
		}
		default:
			break;
		}
		settle(t);
	}
	if (getenv("FUZZ_APP_TRACE")) {         /* to check what a seed reaches */
		struct net_stats st = h_stats();
#define PRINT(x) if (st.x) fprintf(stderr, " " #x "=%llu", (unsigned long long)st.x);
		NET_STATS_FIELDS(PRINT)
#undef PRINT
		fprintf(stderr, " conns=%u\n", net_tcp_conns(0));
		for (int i = 0; i < NFLOWS; i++)
			if (F[i].state != F_FREE) {
				fprintf(stderr, "  flow %d state %d got %u: ", i, F[i].state, F[i].got);
				for (size_t j = 0; j < sizeof F[i].head && F[i].head[j]; j++)
					fputc(F[i].head[j] >= 32 && F[i].head[j] < 127 ? F[i].head[j] : '.', stderr);
				fputc('\n', stderr);
			}
	}
	/* teardown: every peer resets what it has open (at the seq the stack
	 * expects), then every timeout runs; nothing may be held after */
	for (int i = 0; i < NFLOWS; i++) {
		struct flow *f = &F[i];
		if (f->state == F_OPEN)
			h_peer_send_at(&f->p, f->have_rcv ? f->rcv : f->p.seq, TCP_RST, NULL, 0);
		drain(t);
	}
	h_advance_ms(TEARDOWN_MS);
	h_tx_drop_all();
	if (net_tcp_conns(0)) {
		fprintf(stderr, "fuzz_app_%s: %u connection(s) still held after every peer reset and %llu s\n",
			t->name, net_tcp_conns(0), TEARDOWN_MS / 1000);
		abort();
	}
	if (!h_pool_full()) {
		fprintf(stderr, "fuzz_app_%s: pktbuf leak: %u of %u buffers home (or a double free)\n",
			t->name, h_pool_avail(), H_POOL);
		abort();
	}
	h_fini();
	return 0;
}
