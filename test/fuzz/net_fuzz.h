/*
 * net_fuzz.h — what the libFuzzer targets of the network stack share
 * (fuzz_net_rx, fuzz_dhcp, fuzz_arp, fuzz_tcp_syn, fuzz_tcp_conns): a
 * reader over the input, checksums for the frames they build, a bounded
 * clock, the world's set-up and the checks every input ends with (every
 * packet buffer home). All on the host harness (test/unit/net/harness.h).
 *
 * Rules for a target: one world per input (nf_world_init ... nf_world_end);
 * nothing the input says may crash the target itself (every read past the
 * input's end gives zeros); time moves only through nf_clock_advance, so
 * an input's simulated time stays within the budget the target declares.
 * A check that fails prints "fuzz_<name>: what" and aborts, which libFuzzer
 * reports as a crash with the input kept.
 *
 * Header only (static functions), so each target links nothing more.
 */
#ifndef POLLUX_TEST_FUZZ_NET_FUZZ_H
#define POLLUX_TEST_FUZZ_NET_FUZZ_H
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "harness.h"

/* ---- the input: a cursor; reads past its end give zeros */
struct nf_in {
	const uint8_t *p;
	size_t n;
};

/* k bytes into out, zero-filled past the input's end; returns how many
 * came from the input */
static inline size_t nf_take(struct nf_in *in, void *out, size_t k)
{
	size_t have = in->n < k ? in->n : k;
	memset(out, 0, k);
	if (have)
		memcpy(out, in->p, have);
	in->p += have;
	in->n -= have;
	return have;
}

/* little-endian, as the seed scripts write them */
static inline uint8_t nf_u8(struct nf_in *in) { uint8_t v; nf_take(in, &v, 1); return v; }
static inline uint16_t nf_u16(struct nf_in *in)
{
	uint8_t v[2];
	nf_take(in, v, 2);
	return (uint16_t)(v[0] | v[1] << 8);
}
static inline uint32_t nf_u32(struct nf_in *in) { return (uint32_t)nf_u16(in) | (uint32_t)nf_u16(in) << 16; }

/* len bytes (at most max) into buf: what the input has, then a pattern,
 * so a short input can still ask for a long payload. Returns the length. */
static inline size_t nf_data(struct nf_in *in, uint8_t *buf, size_t len, size_t max)
{
	if (len > max)
		len = max;
	size_t have = in->n < len ? in->n : len;
	if (have)
		memcpy(buf, in->p, have);
	in->p += have;
	in->n -= have;
	for (size_t i = have; i < len; i++)
		buf[i] = (uint8_t)(i * 131 + 7);
	return len;
}

/* ---- frames the targets build: the Internet checksum (host order) of
 * len bytes on top of sum, and big-endian stores */
static inline uint16_t nf_csum(const uint8_t *p, size_t len, uint32_t sum)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static inline void nf_put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static inline void nf_put32(uint8_t *p, uint32_t v) { nf_put16(p, (uint16_t)(v >> 16)); nf_put16(p + 2, (uint16_t)v); }

/* ---- failing: the message, then abort (libFuzzer keeps the input) */
__attribute__((format(printf, 2, 3), noreturn))
static inline void nf_fail(const char *target, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "fuzz_%s: ", target);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	abort();
}

/* ---- the world, one per input */
/* h_init from config (JSON); a world that cannot be made is the target's
 * own bug: abort */
static inline void nf_world_init(const char *target, const char *config)
{
	if (h_init(config))
		nf_fail(target, "h_init refused the target's config");
}

/* The end of every input: what was sent is dropped (a device done with
 * it), then every packet buffer must be back in the pool (no leak, no
 * double free), and the world goes. The caller has torn down first what
 * it needs to (the app's connections, TIME_WAIT run out). */
static inline void nf_world_end(const char *target)
{
	h_tx_drop_all();
	if (!h_pool_full())
		nf_fail(target, "pktbuf leak: %u of %u buffers home (or a double free)", h_pool_avail(), H_POOL);
	h_fini();
}

/* ---- time: at most budget_ms of simulated time per input */
struct nf_clock {
	uint64_t waited_ms, budget_ms;
};

/* moves the clock by ms, less whatever would pass the budget; returns
 * the ms it moved */
static inline uint64_t nf_clock_advance(struct nf_clock *c, uint64_t ms)
{
	if (ms > c->budget_ms - c->waited_ms)
		ms = c->budget_ms - c->waited_ms;
	c->waited_ms += ms;
	h_advance_ms(ms);
	return ms;
}

/* ---- what a seed reaches: with FUZZ_NET_STATS set in the environment,
 * the stack's non-zero counters on one line (the caller ends it, after
 * what it adds); returns 1 when printed */
static inline int nf_stats_print(void)
{
	if (!getenv("FUZZ_NET_STATS"))
		return 0;
	struct net_stats st = h_stats();
#define NF_PRINT(f) if (st.f) fprintf(stderr, " " #f "=%llu", (unsigned long long)st.f);
	NET_STATS_FIELDS(NF_PRINT)
#undef NF_PRINT
	return 1;
}
#endif
