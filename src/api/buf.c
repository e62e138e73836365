/*
 * buf.c — the growable byte buffer responses and the metrics text are
 * built in (control core, malloc). A failed append sets oom and leaves
 * the contents as they were, so a caller may append many pieces and
 * check once at the end.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "api/api_priv.h"

void api_buf_free(struct api_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof *b);
}

/* Room for n more bytes and a NUL; slides consumed bytes out first. */
static int reserve(struct api_buf *b, size_t n)
{
	if (b->off && b->len + n + 1 > b->cap) {
		memmove(b->p, b->p + b->off, b->len - b->off);
		b->len -= b->off;
		b->off = 0;
	}
	if (b->len + n + 1 <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < b->len + n + 1) {
		if (cap > ((size_t)1 << 40)) {
			b->oom = 1;
			return -1;
		}
		cap *= 2;
	}
	char *p = realloc(b->p, cap);
	if (!p) {
		b->oom = 1;
		return -1;
	}
	b->p = p;
	b->cap = cap;
	return 0;
}

int api_buf_reserve_exact(struct api_buf *b, size_t n)
{
	if (b->off || b->len + n + 1 <= b->cap)
		return reserve(b, n);
	char *p = realloc(b->p, b->len + n + 1);
	if (!p) {
		b->oom = 1;
		return -1;
	}
	b->p = p;
	b->cap = b->len + n + 1;
	return 0;
}

int api_buf_put(struct api_buf *b, const void *data, size_t n)
{
	if (reserve(b, n))
		return -1;
	memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = 0;
	return 0;
}

int api_buf_printf(struct api_buf *b, const char *fmt, ...)
{
	va_list ap;
	char small[256];
	va_start(ap, fmt);
	int n = vsnprintf(small, sizeof small, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->oom = 1;
		return -1;
	}
	if ((size_t)n < sizeof small)
		return api_buf_put(b, small, (size_t)n);
	if (reserve(b, (size_t)n))
		return -1;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

void api_buf_consume(struct api_buf *b, size_t n)
{
	size_t have = b->len - b->off;
	b->off += n < have ? n : have;
	if (b->off == b->len)
		b->off = b->len = 0;
}
