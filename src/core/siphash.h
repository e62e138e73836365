/*
 * siphash.h — SipHash-2-4 (Aumasson and Bernstein, 2012): a keyed hash for
 * tables and choices an attacker can aim at (flow steering, connection
 * tables, initial sequence numbers). With a key drawn at boot an attacker
 * who does not know it cannot make flows collide or predict where they
 * land, however many packets they send.
 *
 * Pure logic, any core: the key is immutable after its owner drew it.
 * siphash_key_random draws a key from getrandom (the metal syscall
 * shim's RDSEED/RDRAND; the host's on hosted). Tested on the host against
 * the reference vectors (test/unit/core/test_siphash.c).
 */
#ifndef POLLUX_SIPHASH_H
#define POLLUX_SIPHASH_H
#include <stddef.h>
#include <stdint.h>

struct siphash_key {
	uint64_t k0, k1;                /* the 16 key bytes, little-endian halves */
};

/* A fresh random key: 0, or -errno when no entropy could be had. */
int siphash_key_random(struct siphash_key *k);
/* SipHash-2-4 of len bytes. */
uint64_t siphash24(const struct siphash_key *k, const void *data, size_t len);
/* The same over a few words, without a buffer (the 4-tuple of a flow:
 * a = address, b = the two ports): equal to siphash24 of the 16 bytes
 * a, b little-endian. */
uint64_t siphash24_2u64(const struct siphash_key *k, uint64_t a, uint64_t b);
#endif
