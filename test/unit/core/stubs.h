/*
 * stubs.h — the few platform functions the pure core files reference,
 * for the host unit tests. Include it from exactly one file per test
 * binary (each test_*.c is its own binary).
 *
 *  - console_write appends to stub_console (what klog printed);
 *  - time_ns returns a counter that advances by 1 ms per call;
 *  - panic fails the running Criterion test with the panic message.
 *
 * The definitions are weak, so a separate stubs object linked later would
 * take precedence without a clash.
 */
#ifndef POLLUX_TEST_STUBS_H
#define POLLUX_TEST_STUBS_H
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <criterion/criterion.h>
#include "core/core.h"

#define STUB_CONSOLE_MAX 65536

char stub_console[STUB_CONSOLE_MAX + 1];
size_t stub_console_len;
uint64_t stub_time;

__attribute__((weak, unused)) void console_write(const char *s, size_t n)
{
	size_t room = STUB_CONSOLE_MAX - stub_console_len;
	if (n > room)
		n = room;
	memcpy(stub_console + stub_console_len, s, n);
	stub_console_len += n;
	stub_console[stub_console_len] = 0;
}

__attribute__((weak, unused)) uint64_t time_ns(void)
{
	return stub_time += 1000000;
}

__attribute__((weak, unused)) _Noreturn void panic(const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	cr_assert_fail("panic: %s", msg);
	abort();        /* cr_assert_fail does not return; tell the compiler */
}

#endif
