/*
 * backtrace.c — frame-pointer walk and formatting. See backtrace.h.
 * Every kernel file is built with -fno-omit-frame-pointer; musl and the
 * Debian libraries are not, so a walk may stop early inside them.
 */
#include <stdio.h>
#include "core/backtrace.h"

size_t backtrace_walk(uintptr_t fp, uintptr_t lo, uintptr_t hi, uintptr_t *pcs, size_t max)
{
	size_t n = 0;
	while (n < max) {
		/* the whole frame, fp[0] and fp[1], inside [lo, hi); written
		 * without hi - 16, which wraps when hi < 16 */
		if (fp < lo || fp >= hi || hi - fp < 16 || (fp & 7))
			break;
		const uintptr_t *frame = (const uintptr_t *)fp;
		uintptr_t ret = frame[1], next = frame[0];
		if (ret == 0)
			break;
		pcs[n++] = ret;
		if (next <= fp)
			break;
		fp = next;
	}
	return n;
}

size_t backtrace_format(char *buf, size_t len, const uintptr_t *pcs, size_t n)
{
	size_t off = 0;
	if (len == 0)
		return 0;
	int w = snprintf(buf, len, "bt:");
	off = w < 0 ? 0 : (size_t)w;
	for (size_t i = 0; i < n && off < len; i++) {
		w = snprintf(buf + off, len - off, " 0x%lx", (unsigned long)pcs[i]);
		if (w < 0 || (size_t)w >= len - off) {
			buf[off] = 0;
			break;
		}
		off += (size_t)w;
	}
	if (off >= len)
		off = len - 1;
	buf[off] = 0;
	return off;
}
