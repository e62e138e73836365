/*
 * time.c — monotonic nanoseconds from the TSC.
 *
 * The TSC frequency comes from the best source the machine offers, in
 * order: CPUID 0x15 (crystal ratio), the hypervisor leaf 0x40000010,
 * kvmclock's scale (KVM), else a calibration against the HPET, the ACPI PM
 * timer or, last, PIT channel 2. A calibration runs across the whole boot:
 * time_init_early() notes both counters, time_calibrate_finish() (just
 * before the ready line, at least CAL_MIN_NS later) divides. Until then
 * time_ns() reads the reference counter itself, so early log stamps are
 * right too; the switch keeps time continuous.
 *
 * After calibration: ns = base_ns + ((tsc - base_tsc) * mult) >> 32, with
 * no division. Every core reads the same immutable (mult, base) pair.
 */
#include <string.h>
#include "core/metal/metal.h"

#define CAL_MIN_NS 2000000ull           /* calibrate across at least 2 ms */

enum src { SRC_NONE, SRC_CPUID15, SRC_HVLEAF, SRC_KVMCLOCK, SRC_HPET, SRC_PMTMR, SRC_PIT };
static const char *const src_names[] = {
	"none", "cpuid-0x15", "cpuid-0x40000010", "kvmclock", "hpet", "acpi-pm-timer", "pit",
};

static enum src source;
static _Atomic int calibrated;
static uint64_t tsc_hz, mult, base_tsc, base_ns;
static uint64_t cal_tsc0, cal_ref0, ref_hz;    /* reference counter during calibration */
static uint64_t pm_last, pm_ext;                /* PM timer extension to 64 bits */
static uint64_t realtime_base;

static uint64_t hpet_read(void) { return mmio_read64(acpi.hpet_base + 0xf0); }

static uint64_t pm_read(void)
{
	/* extend the 24/32-bit counter; only core 0 reads it during boot */
	uint32_t mask = acpi.pm_tmr_32bit ? 0xffffffffu : 0xffffffu;
	uint64_t v = inl(acpi.pm_tmr_port) & mask;
	if (v < (pm_last & mask))
		pm_ext += (uint64_t)mask + 1;
	pm_last = v;
	return pm_ext + v;
}

static uint64_t ref_read(void) { return source == SRC_HPET ? hpet_read() : pm_read(); }

static void set_hz(uint64_t hz)
{
	tsc_hz = hz;
	mult = (uint64_t)(((unsigned __int128)1000000000ull << 32) / hz);
}

static int try_cpuid(void)
{
	uint32_t r[4];
	cpuid(0, 0, r);
	if (r[0] >= 0x15) {
		cpuid(0x15, 0, r);
		if (r[0] && r[1] && r[2]) {
			set_hz((uint64_t)r[2] * r[1] / r[0]);
			source = SRC_CPUID15;
			return 1;
		}
	}
	cpuid(1, 0, r);
	if (!(r[2] >> 31))                      /* no hypervisor */
		return 0;
	cpuid(0x40000000, 0, r);
	uint32_t max = r[0];
	char sig[13];
	memcpy(sig, &r[1], 4);
	memcpy(sig + 4, &r[2], 4);
	memcpy(sig + 8, &r[3], 4);
	sig[12] = 0;
	if (max >= 0x40000010) {
		cpuid(0x40000010, 0, r);
		if (r[0]) {
			set_hz((uint64_t)r[0] * 1000);
			source = SRC_HVLEAF;
			return 1;
		}
	}
	if (!strcmp(sig, "KVMKVMKVM") && max >= 0x40000001) {
		cpuid(0x40000001, 0, r);
		if (r[0] & (1 << 3)) {              /* KVM_FEATURE_CLOCKSOURCE2 */
			static volatile struct {
				uint32_t version, pad0;
				uint64_t tsc_timestamp, system_time;
				uint32_t mul;
				int8_t shift;
				uint8_t flags, pad[2];
			} __attribute__((aligned(64))) pv;
			wrmsr(0x4b564d01, (uint64_t)(uintptr_t)&pv | 1);
			uint32_t v, m;
			int8_t s;
			do {
				v = pv.version;
				m = pv.mul;
				s = pv.shift;
			} while ((v & 1) || v != pv.version);
			wrmsr(0x4b564d01, 0);
			if (m) {
				unsigned __int128 hz = ((unsigned __int128)1000000000ull << 32) / m;
				hz = s >= 0 ? hz >> s : hz << -s;
				set_hz((uint64_t)hz);
				source = SRC_KVMCLOCK;
				return 1;
			}
		}
	}
	return 0;
}

/* PIT channel 0 as a down-counter at 1.193182 MHz (mode 2, full count).
 * Channel 2 needs port 0x61, which microvm lacks; channel 0 needs only
 * ports 0x40/0x43 (the PIC is masked, so its IRQ never arrives). The
 * window is short and synchronous (CAL_PIT_TICKS), so the 55 ms wrap is
 * never missed; a read pair that took long (the vCPU was descheduled) is
 * retried. */
#define PIT_HZ 1193182ull
#define CAL_PIT_TICKS 3580u                 /* 3 ms */

static uint16_t pit_count(void)
{
	outb(0x43, 0x00);                       /* latch channel 0 */
	uint8_t lo = inb(0x40), hi = inb(0x40);
	return (uint16_t)(lo | (hi << 8));
}

static int pit_sample(uint16_t *c, uint64_t *t)
{
	uint64_t a = rdtsc();
	*c = pit_count();
	uint64_t b = rdtsc();
	*t = a + (b - a) / 2;
	return b - a < 200000;                  /* well under 0.1 ms */
}

static void pit_calibrate(void)
{
	outb(0x43, 0x34);                       /* channel 0, lo/hi, mode 2 */
	outb(0x40, 0xff);
	outb(0x40, 0xff);
	uint64_t best = 0;
	for (int attempt = 0; attempt < 5 && !best; attempt++) {
		uint16_t c0, c1;
		uint64_t t0, t1;
		if (!pit_sample(&c0, &t0))
			continue;
		int ok = 1;
		uint32_t ticks = 0;
		uint16_t prev = c0;
		for (uint64_t i = 0; i < 10000000ull && ticks < CAL_PIT_TICKS; i++) {
			ok = pit_sample(&c1, &t1);
			ticks += (uint16_t)(prev - c1);  /* down-counter, wraps at 65536 */
			prev = c1;
			if (!ok)
				break;
		}
		if (ok && ticks >= CAL_PIT_TICKS)
			best = (t1 - t0) * PIT_HZ / ticks;
	}
	set_hz(best ? best : 1000000000ull);
	source = SRC_PIT;
}

static uint64_t rtc_read(uint8_t reg) { outb(0x70, reg); return inb(0x71); }

static uint64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return (uint64_t)(era * 146097 + (int64_t)doe - 719468);
}

static void rtc_init(void)
{
	for (int i = 0; i < 1000 && (rtc_read(0x0a) & 0x80); i++)
		;
	uint64_t s = rtc_read(0), mi = rtc_read(2), h = rtc_read(4);
	uint64_t d = rtc_read(7), mo = rtc_read(8), y = rtc_read(9);
	if (!(rtc_read(0x0b) & 0x04)) {         /* BCD */
#define BCD(x) (((x) & 15) + ((x) >> 4) * 10)
		s = BCD(s); mi = BCD(mi); h = BCD(h & 0x7f); d = BCD(d); mo = BCD(mo); y = BCD(y);
	}
	if (mo < 1 || mo > 12 || d < 1 || d > 31)
		return;
	uint64_t days = days_from_civil(2000 + (int64_t)y, (unsigned)mo, (unsigned)d);
	realtime_base = ((days * 86400) + h * 3600 + mi * 60 + s) * 1000000000ull;
}

void time_init_early(void)
{
	rtc_init();
	if (try_cpuid()) {
		base_tsc = boot_tsc;
		atomic_store_explicit(&calibrated, 1, memory_order_release);
		return;
	}
	if (acpi.hpet_base) {
		uint64_t cap = mmio_read64(acpi.hpet_base);
		uint64_t period_fs = cap >> 32;
		if (period_fs && period_fs <= 100000000ull) {
			mmio_write64(acpi.hpet_base + 0x10, mmio_read64(acpi.hpet_base + 0x10) | 1);
			ref_hz = 1000000000000000ull / period_fs;
			source = SRC_HPET;
		}
	}
	if (source == SRC_NONE && acpi.pm_tmr_port) {
		ref_hz = 3579545;
		source = SRC_PMTMR;
		pm_last = inl(acpi.pm_tmr_port);
	}
	if (source == SRC_NONE) {
		pit_calibrate();
		base_tsc = boot_tsc;
		atomic_store_explicit(&calibrated, 1, memory_order_release);
		return;
	}
	cal_ref0 = ref_read();
	cal_tsc0 = rdtsc();
	/* the time between PVH entry and now is counted by the TSC later */
}

void time_calibrate_finish(void)
{
	if (atomic_load_explicit(&calibrated, memory_order_acquire))
		return;
	uint64_t r, t;
	do {
		r = ref_read();
		t = rdtsc();
	} while ((r - cal_ref0) * 1000000000ull / ref_hz < CAL_MIN_NS);
	uint64_t now_ns = time_ns();
	set_hz((uint64_t)((unsigned __int128)(t - cal_tsc0) * ref_hz / (r - cal_ref0)));
	base_tsc = t;
	base_ns = now_ns;
	atomic_store_explicit(&calibrated, 1, memory_order_release);
}

uint64_t time_ns(void)
{
	if (!atomic_load_explicit(&calibrated, memory_order_acquire)) {
		if (source == SRC_NONE)
			return 0;
		/* boot, core 0 only: reference counter since PVH entry is
		 * unknown before cal_ref0; count from there */
		return (uint64_t)((unsigned __int128)(ref_read() - cal_ref0) * 1000000000ull / ref_hz);
	}
	uint64_t d = rdtsc() - base_tsc;
	return base_ns + (uint64_t)(((unsigned __int128)d * mult) >> 32);
}

uint64_t time_boot_ns(void)
{
	/* PVH entry -> now, by the TSC */
	return (uint64_t)(((unsigned __int128)(rdtsc() - boot_tsc) * mult) >> 32);
}

const char *time_source(void) { return src_names[source]; }
uint64_t time_tsc_hz(void) { return tsc_hz; }
uint64_t time_realtime_base_ns(void) { return realtime_base; }

void time_delay_ns(uint64_t ns)
{
	uint64_t end = time_ns() + ns;
	while (time_ns() < end)
		cpu_relax();
}
