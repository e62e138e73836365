/*
 * rss.c — the Toeplitz hash and indirection table of receive-side
 * scaling. See rss.h.
 */
#include <errno.h>
#include <string.h>
#include "pkt/rss.h"

const uint8_t rss_default_key[RSS_KEY_LEN] = {
	0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67,
	0x25, 0x3d, 0x43, 0xa3, 0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb,
	0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30,
	0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
};

uint32_t rss_toeplitz(const uint8_t key[RSS_KEY_LEN], const uint8_t *in, size_t len)
{
	/* win: the 32 key bits that line up with the current input bit;
	 * each step shifts the next key bit in from below */
	uint32_t win = (uint32_t)key[0] << 24 | (uint32_t)key[1] << 16 | (uint32_t)key[2] << 8 | key[3];
	uint32_t h = 0;
	for (size_t i = 0; i < len; i++) {
		uint8_t next = i + 4 < RSS_KEY_LEN ? key[i + 4] : 0;
		for (int bit = 7; bit >= 0; bit--) {
			if (in[i] >> bit & 1)
				h ^= win;
			win = win << 1 | (uint32_t)(next >> bit & 1);
		}
	}
	return h;
}

int rss_conf_init(struct rss_conf *c, const uint8_t key[RSS_KEY_LEN], uint16_t table_len,
		  uint16_t nq, uint32_t types)
{
	if (!nq || !table_len || table_len > RSS_TABLE_MAX || (table_len & (table_len - 1)))
		return -EINVAL;
	memset(c, 0, sizeof *c);
	c->types = types;
	c->table_len = table_len;
	c->nq = nq;
	memcpy(c->key, key, RSS_KEY_LEN);
	for (uint16_t i = 0; i < table_len; i++)
		c->table[i] = (uint16_t)(i % nq);
	/* linearity: hash(x) is the XOR of the hashes of x's bytes, each
	 * alone in its place */
	uint8_t in[RSS_TUPLE_V4];
	memset(in, 0, sizeof in);
	for (int i = 0; i < RSS_TUPLE_V4; i++) {
		for (int v = 0; v < 256; v++) {
			in[i] = (uint8_t)v;
			c->lut[i][v] = rss_toeplitz(c->key, in, sizeof in);
		}
		in[i] = 0;
	}
	return 0;
}

uint32_t rss_hash_v4(const struct rss_conf *c, uint32_t saddr, uint32_t daddr,
		     uint16_t sport, uint16_t dport)
{
	uint8_t in[RSS_TUPLE_V4];
	memcpy(in, &saddr, 4);                  /* network order: wire order in memory */
	memcpy(in + 4, &daddr, 4);
	in[8] = (uint8_t)(sport >> 8);
	in[9] = (uint8_t)sport;
	in[10] = (uint8_t)(dport >> 8);
	in[11] = (uint8_t)dport;
	uint32_t h = 0;
	for (int i = 0; i < RSS_TUPLE_V4; i++)
		h ^= c->lut[i][in[i]];
	return h;
}
