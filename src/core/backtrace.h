/*
 * backtrace.h — walking the frame-pointer chain and formatting it as one
 * console line ("bt: 0x... 0x..."), which tools/symbolize turns into
 * function names with addr2line. Pure logic, unit-tested on the host.
 */
#ifndef POLLUX_BACKTRACE_H
#define POLLUX_BACKTRACE_H
#include <stdint.h>
#include <stddef.h>

/* Follows saved frame pointers from `fp` while each frame lies inside
 * [lo, hi), is 8-byte aligned and above the previous one, so a corrupt
 * chain ends the walk instead of faulting. Returns the number of return
 * addresses written to pcs (at most max). */
size_t backtrace_walk(uintptr_t fp, uintptr_t lo, uintptr_t hi, uintptr_t *pcs, size_t max);
/* Writes "bt: 0x... 0x..." (NUL-terminated, truncated to len). Returns
 * the length written. */
size_t backtrace_format(char *buf, size_t len, const uintptr_t *pcs, size_t n);
#endif
