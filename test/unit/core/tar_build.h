/*
 * tar_build.h — writes tar archives in memory for the tests of the tar
 * reader and the site index (test_tar.c, test_httpd_site.c, fuzz_tar.c):
 * POSIX ustar headers with correct checksums, pax records, GNU long
 * names, and helpers to break them (a byte changed with the checksum
 * fixed or not). Header-only, static functions; aborts on no memory.
 */
#ifndef POLLUX_TEST_TAR_BUILD_H
#define POLLUX_TEST_TAR_BUILD_H
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tb {
	uint8_t *buf;
	size_t len, cap;
};

static void tb_room(struct tb *t, size_t n)
{
	if (t->len + n <= t->cap)
		return;
	while (t->len + n > t->cap)
		t->cap = t->cap ? t->cap * 2 : 4096;
	t->buf = realloc(t->buf, t->cap);
	if (!t->buf)
		abort();
}

static __attribute__((unused)) void tb_free(struct tb *t)
{
	free(t->buf);
	t->buf = NULL;
	t->len = t->cap = 0;
}

/* Sets the checksum of the header at off from its bytes. */
static void tb_fix_checksum(struct tb *t, size_t off)
{
	uint8_t *h = t->buf + off;
	memset(h + 148, ' ', 8);
	unsigned sum = 0;
	for (int i = 0; i < 512; i++)
		sum += h[i];
	snprintf((char *)h + 148, 8, "%06o", sum);
	h[155] = ' ';
}

/* A header; names over 100 bytes go into the prefix field when they can
 * (split at a '/'), else are cut (use pax or GNU 'L' for them). Returns
 * the header's offset. */
static size_t tb_header(struct tb *t, const char *name, char type, uint64_t size, const char *link,
			int64_t mtime)
{
	tb_room(t, 512);
	size_t off = t->len;
	uint8_t *h = t->buf + off;
	memset(h, 0, 512);
	size_t n = strlen(name);
	if (n > 100) {
		size_t p = 0;                   /* the first '/' that leaves <= 100 after it */
		while (p < n && (name[p] != '/' || n - p - 1 > 100))
			p++;
		if (p < n && p <= 155) {
			memcpy(h + 345, name, p);
			memcpy(h, name + p + 1, n - p - 1);
		} else {
			memcpy(h, name, 100);
		}
	} else {
		memcpy(h, name, n);
	}
	snprintf((char *)h + 100, 8, "%07o", type == '5' ? 0755 : 0644);
	snprintf((char *)h + 108, 8, "%07o", 0);
	snprintf((char *)h + 116, 8, "%07o", 0);
	snprintf((char *)h + 124, 12, "%011llo", (unsigned long long)size);
	snprintf((char *)h + 136, 12, "%011llo", (unsigned long long)mtime);
	h[156] = (uint8_t)type;
	if (link)
		strncpy((char *)h + 157, link, 100);
	memcpy(h + 257, "ustar\0" "00", 8);
	tb_fix_checksum(t, off);
	t->len += 512;
	return off;
}

/* n bytes of data, padded to a block. */
static void tb_data(struct tb *t, const void *d, size_t n)
{
	size_t pad = (512 - n % 512) % 512;
	tb_room(t, n + pad);
	memcpy(t->buf + t->len, d, n);
	memset(t->buf + t->len + n, 0, pad);
	t->len += n + pad;
}

static __attribute__((unused)) size_t tb_file(struct tb *t, const char *name, const char *content)
{
	size_t off = tb_header(t, name, '0', strlen(content), NULL, 1700000000);
	tb_data(t, content, strlen(content));
	return off;
}

static __attribute__((unused)) size_t tb_dir(struct tb *t, const char *name)
{
	return tb_header(t, name, '5', 0, NULL, 1700000000);
}

static __attribute__((unused)) size_t tb_link(struct tb *t, const char *name, char type, const char *target)
{
	return tb_header(t, name, type, 0, target, 1700000000);
}

/* A pax header ('x' or 'g') with the records given as "key=value" pairs,
 * NULL-terminated; each record's length is computed. */
static __attribute__((unused)) size_t tb_pax(struct tb *t, char type, const char *const *kv)
{
	char data[8192];
	size_t n = 0;
	for (; *kv; kv++) {
		size_t body = strlen(*kv) + 2;      /* ' ' ... '\n' */
		size_t len = body + 1;
		while (len != body + (size_t)snprintf(NULL, 0, "%zu", len))
			len = body + (size_t)snprintf(NULL, 0, "%zu", len);
		n += (size_t)snprintf(data + n, sizeof data - n, "%zu %s\n", len, *kv);
	}
	size_t off = tb_header(t, "PaxHeader", type, n, NULL, 0);
	tb_data(t, data, n);
	return off;
}

/* Raw pax data (for malformed records). */
static __attribute__((unused)) size_t tb_pax_raw(struct tb *t, char type, const char *data)
{
	size_t off = tb_header(t, "PaxHeader", type, strlen(data), NULL, 0);
	tb_data(t, data, strlen(data));
	return off;
}

/* A GNU long name ('L') or link ('K') header, its data NUL-terminated. */
static __attribute__((unused)) size_t tb_gnu_long(struct tb *t, char type, const char *s)
{
	size_t off = tb_header(t, "././@LongLink", type, strlen(s) + 1, NULL, 0);
	tb_data(t, s, strlen(s) + 1);
	return off;
}

/* The end-of-archive marker: two zero blocks. */
static __attribute__((unused)) void tb_end(struct tb *t)
{
	tb_room(t, 1024);
	memset(t->buf + t->len, 0, 1024);
	t->len += 1024;
}
#endif
