/*
 * compat.c — the glibc symbols that Debian's static mbedTLS, http-parser
 * and jansson archives reference and musl lacks: the _FORTIFY_SOURCE
 * checked variants. Each does the check glibc would and panics on
 * overflow (a bug in our caller, never input we don't control).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/select.h>
#include "core/core.h"

void *__memcpy_chk(void *d, const void *s, size_t n, size_t dn)
{
	if (n > dn) panic("__memcpy_chk: %zu > %zu", n, dn);
	return memcpy(d, s, n);
}

void *__memmove_chk(void *d, const void *s, size_t n, size_t dn)
{
	if (n > dn) panic("__memmove_chk: %zu > %zu", n, dn);
	return memmove(d, s, n);
}

void *__memset_chk(void *d, int c, size_t n, size_t dn)
{
	if (n > dn) panic("__memset_chk: %zu > %zu", n, dn);
	return memset(d, c, n);
}

char *__strncpy_chk(char *d, const char *s, size_t n, size_t dn)
{
	if (n > dn) panic("__strncpy_chk: %zu > %zu", n, dn);
	return strncpy(d, s, n);
}

char *__strcpy_chk(char *d, const char *s, size_t dn)
{
	if (strlen(s) >= dn) panic("__strcpy_chk: overflow");
	return strcpy(d, s);
}

int __vsnprintf_chk(char *s, size_t n, int flag, size_t sn, const char *fmt, va_list ap)
{
	if (n > sn) panic("__vsnprintf_chk: %zu > %zu", n, sn);
	return vsnprintf(s, n, fmt, ap);
}

int __snprintf_chk(char *s, size_t n, int flag, size_t sn, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = __vsnprintf_chk(s, n, flag, sn, fmt, ap);
	va_end(ap);
	return r;
}

int __vsprintf_chk(char *s, int flag, size_t sn, const char *fmt, va_list ap)
{
	int r = vsnprintf(s, sn, fmt, ap);
	if (r >= 0 && (size_t)r >= sn) panic("__vsprintf_chk: overflow");
	return r;
}

int __sprintf_chk(char *s, int flag, size_t sn, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = __vsprintf_chk(s, flag, sn, fmt, ap);
	va_end(ap);
	return r;
}

int __printf_chk(int flag, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = vprintf(fmt, ap);
	va_end(ap);
	return r;
}

int __fprintf_chk(FILE *f, int flag, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = vfprintf(f, fmt, ap);
	va_end(ap);
	return r;
}

int __vfprintf_chk(FILE *f, int flag, const char *fmt, va_list ap) { return vfprintf(f, fmt, ap); }

long __fdelt_chk(long d)
{
	if (d < 0 || d >= FD_SETSIZE) panic("__fdelt_chk: %ld", d);
	return d / (8 * (long)sizeof(long));
}
