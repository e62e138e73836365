/*
 * log.c — the kernel log: each line goes to the console and into a ring of
 * recent lines (for GET /v1/log). Lines from different cores never
 * interleave: a spinlock covers format-and-write. klog is for boot, the
 * control core and reports; the data path counts instead of logging.
 */
#include <stdio.h>
#include <string.h>
#include "core/core.h"

#define LOG_LINES 256
#define LOG_WIDTH 160

static char ring[LOG_LINES][LOG_WIDTH];
static uint64_t ring_next;              /* guarded by lock */
static atomic_flag lock = ATOMIC_FLAG_INIT;

static void lock_take(void)
{
	while (atomic_flag_test_and_set_explicit(&lock, memory_order_acquire))
		__builtin_ia32_pause();
}
static void lock_give(void) { atomic_flag_clear_explicit(&lock, memory_order_release); }

void klog_v(const char *fmt, va_list ap)
{
	char line[LOG_WIDTH + 32];
	uint64_t t = time_ns();
	int n = snprintf(line, sizeof line, "[%4llu.%06llu] ",
			 (unsigned long long)(t / 1000000000ull),
			 (unsigned long long)(t / 1000ull % 1000000ull));
	int m = vsnprintf(line + n, sizeof line - n - 1, fmt, ap);
	size_t len = (size_t)n + (m < 0 ? 0 : ((size_t)m < sizeof line - n - 1 ? (size_t)m : sizeof line - n - 2));
	line[len++] = '\n';
	lock_take();
	memcpy(ring[ring_next % LOG_LINES], line, len - 1 < LOG_WIDTH - 1 ? len - 1 : LOG_WIDTH - 1);
	ring[ring_next % LOG_LINES][len - 1 < LOG_WIDTH - 1 ? len - 1 : LOG_WIDTH - 1] = 0;
	ring_next++;
	console_write(line, len);
	lock_give();
}

void klog(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	klog_v(fmt, ap);
	va_end(ap);
}

size_t klog_recent(char (*lines)[LOG_WIDTH], size_t max)
{
	lock_take();
	uint64_t n = ring_next < LOG_LINES ? ring_next : LOG_LINES;
	if (n > max)
		n = max;
	for (uint64_t i = 0; i < n; i++)
		memcpy(lines[i], ring[(ring_next - n + i) % LOG_LINES], LOG_WIDTH);
	lock_give();
	return n;
}
