/*
 * siphash.c — SipHash-2-4. See siphash.h.
 *
 * State v0..v3 starts as the key XORed with the constants of the paper
 * ("somepseudorandomlygeneratedbytes"); each 8-byte little-endian word m
 * is absorbed with two SipRounds (v3 ^= m before, v0 ^= m after); the
 * last word holds the remaining bytes and the length's low byte in its
 * top byte; finalisation XORs 0xff into v2 and runs four SipRounds.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include "core/siphash.h"

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

struct sip {
	uint64_t v0, v1, v2, v3;
};

static inline void round1(struct sip *s)
{
	s->v0 += s->v1; s->v1 = ROTL(s->v1, 13); s->v1 ^= s->v0; s->v0 = ROTL(s->v0, 32);
	s->v2 += s->v3; s->v3 = ROTL(s->v3, 16); s->v3 ^= s->v2;
	s->v0 += s->v3; s->v3 = ROTL(s->v3, 21); s->v3 ^= s->v0;
	s->v2 += s->v1; s->v1 = ROTL(s->v1, 17); s->v1 ^= s->v2; s->v2 = ROTL(s->v2, 32);
}

static inline void start(struct sip *s, const struct siphash_key *k)
{
	s->v0 = k->k0 ^ 0x736f6d6570736575ull;
	s->v1 = k->k1 ^ 0x646f72616e646f6dull;
	s->v2 = k->k0 ^ 0x6c7967656e657261ull;
	s->v3 = k->k1 ^ 0x7465646279746573ull;
}

static inline void absorb(struct sip *s, uint64_t m)
{
	s->v3 ^= m;
	round1(s);
	round1(s);
	s->v0 ^= m;
}

static inline uint64_t finish(struct sip *s)
{
	s->v2 ^= 0xff;
	round1(s);
	round1(s);
	round1(s);
	round1(s);
	return s->v0 ^ s->v1 ^ s->v2 ^ s->v3;
}

static inline uint64_t load_le64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

uint64_t siphash24(const struct siphash_key *k, const void *data, size_t len)
{
	const uint8_t *p = data;
	struct sip s;
	start(&s, k);
	size_t whole = len & ~(size_t)7;
	for (size_t i = 0; i < whole; i += 8)
		absorb(&s, load_le64(p + i));
	uint64_t last = (uint64_t)(len & 0xff) << 56;
	for (size_t i = 0; i < (len & 7); i++)
		last |= (uint64_t)p[whole + i] << (8 * i);
	absorb(&s, last);
	return finish(&s);
}

uint64_t siphash24_2u64(const struct siphash_key *k, uint64_t a, uint64_t b)
{
	struct sip s;
	start(&s, k);
	absorb(&s, a);
	absorb(&s, b);
	absorb(&s, (uint64_t)16 << 56);
	return finish(&s);
}

int siphash_key_random(struct siphash_key *k)
{
	uint64_t w[2];
	if (getentropy(w, sizeof w))
		return -errno;
	k->k0 = w[0];
	k->k1 = w[1];
	return 0;
}
