/*
 * serial.c — the console: COM1 (0x3f8), polled. console_write() holds a
 * spinlock so whole writes from different cores never interleave; the
 * fault path uses serial_write_raw()/raw_printf(), which take no lock (a
 * core may have faulted while holding it).
 */
#include <stdarg.h>
#include <stdio.h>
#include "core/metal/metal.h"

#define COM1 0x3f8

static atomic_flag lock = ATOMIC_FLAG_INIT;

void serial_init(void)
{
	outb(COM1 + 1, 0x00);   /* no interrupts */
	outb(COM1 + 3, 0x80);   /* DLAB */
	outb(COM1 + 0, 0x01);   /* 115200 */
	outb(COM1 + 1, 0x00);
	outb(COM1 + 3, 0x03);   /* 8N1 */
	outb(COM1 + 2, 0xc7);   /* FIFO */
	outb(COM1 + 4, 0x03);
}

static void put(char c)
{
	/* bounded wait for the transmitter; QEMU is always ready */
	for (int i = 0; i < 100000 && !(inb(COM1 + 5) & 0x20); i++)
		cpu_relax();
	outb(COM1, (uint8_t)c);
}

void serial_write_raw(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\n')
			put('\r');
		put(s[i]);
	}
}

void console_write(const char *s, size_t n)
{
	while (atomic_flag_test_and_set_explicit(&lock, memory_order_acquire))
		cpu_relax();
	serial_write_raw(s, n);
	atomic_flag_clear_explicit(&lock, memory_order_release);
}

void raw_printf(const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	serial_write_raw(buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}
