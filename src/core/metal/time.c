/*
 * time.c — monotonic nanoseconds from the TSC.
 *
 * The TSC frequency comes from the best source the machine offers, in
 * order: CPUID 0x15 (crystal ratio), the hypervisor leaf 0x40000010,
 * kvmclock's scale (KVM), else a calibration against the HPET, the ACPI PM
 * timer or, last, PIT channel 2. A calibration runs across the whole boot:
 * time_init_early() notes both counters, time_calibrate_finish() (just
 * before the ready line, at least CAL_MIN_NS later) divides. Until then
 * time_ns() counts the TSC at a provisional rate, measured against the
 * reference over PROV_NS at time_init_early(); the switch keeps time
 * continuous.
 *
 * Why not read the reference counter until calibration (as this did):
 * under QEMU's TCG an HPET or PM-timer read is an I/O exit that takes
 * QEMU's global lock, and during the boot every core spins on time_ns()
 * (the boot CPU waiting for the APs, sys_futex, the scheduler loop). A
 * vCPU thread woken from hlt must take that same lock to run again; on a
 * loaded host the spinning threads kept it, so an AP sat in hlt with its
 * wake-up pending until the boot's 60 s safety net fired ("core N did not
 * reach its loop", q35 only: microvm has no HPET and its time was
 * TSC-based from the start). docs/runtime.md has the numbers. The TSC
 * read is no exit at all. It also makes "only core 0 reads the reference"
 * (pm_read's unlocked 32-bit extension) true.
 *
 * ns = base_ns + ((tsc - base_tsc) * mult) >> 32, with no division. Every
 * core reads one immutable (mult, base) set through the pointer `cur`,
 * replaced once (provisional -> final), so no reader sees half of each.
 */
#include <string.h>
#include "core/metal/metal.h"

#define CAL_MIN_NS 2000000ull           /* calibrate across at least 2 ms */
#define PROV_NS 1000000ull              /* the provisional rate: over 1 ms */

enum src { SRC_NONE, SRC_CPUID15, SRC_HVLEAF, SRC_KVMCLOCK, SRC_HPET, SRC_PMTMR, SRC_PIT };
static const char *const src_names[] = {
	"none", "cpuid-0x15", "cpuid-0x40000010", "kvmclock", "hpet", "acpi-pm-timer", "pit",
};

static enum src source;
struct tparams { uint64_t mult, base_tsc, base_ns; };
static struct tparams prov, final;
static const struct tparams *_Atomic cur;      /* NULL: before time_init_early */
static uint64_t tsc_hz, mult;
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

/* A reference reading and the TSC at it: the best (shortest-bracketed)
 * of a few, so that a vCPU descheduled mid-read does not skew it. Core 0
 * only (pm_read's extension is unlocked). */
static void ref_sample(uint64_t *r, uint64_t *t)
{
	uint64_t best = UINT64_MAX;
	for (int i = 0; i < 8; i++) {
		uint64_t a = rdtsc(), v = ref_read(), b = rdtsc();
		if (b - a < best) {
			best = b - a;
			*r = v;
			*t = a + (b - a) / 2;
		}
	}
}

static uint64_t at(const struct tparams *p, uint64_t tsc)
{
	return p->base_ns + (uint64_t)(((unsigned __int128)(tsc - p->base_tsc) * p->mult) >> 32);
}

static void set_hz(uint64_t hz)
{
	tsc_hz = hz;
	mult = (uint64_t)(((unsigned __int128)1000000000ull << 32) / hz);
}

/* Fills *p from the current rate and makes it the one time_ns() uses
 * (release: the set is complete before a reader can see it). */
static void publish(struct tparams *p, uint64_t base_tsc, uint64_t base_ns)
{
	p->mult = mult;
	p->base_tsc = base_tsc;
	p->base_ns = base_ns;
	atomic_store_explicit(&cur, p, memory_order_release);
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
 * ports 0x40/0x43 (the PIC is masked, so its IRQ never arrives).
 *
 * Only the window's two ends need a read that was quick (pit_sample's
 * bracket: the vCPU was not descheduled in it); the reads between only
 * count the ticks. A read that took long is no reason to give up: this
 * used to abandon the attempt at the first one, and on a loaded host
 * (TCG, a 3 ms window, CFS slices of a few ms) all 5 attempts often
 * failed and the TSC was taken for 1 GHz: the clock ran 2.3 times fast
 * on this host, and every boot timeout with it. The one thing a long gap
 * between two reads can hide is a whole turn of the 16-bit counter
 * (55 ms), so the longest gap, timed at the rate of the rest of the
 * window, must be under 30000 ticks (25 ms), else the attempt is redone. */
#define PIT_HZ 1193182ull
#define CAL_PIT_TICKS 3580u                 /* 3 ms */
#define PIT_GAP_MAX 30000u                  /* ticks: half a turn, with room */
#define PIT_ATTEMPTS 20

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

/* One window: TSC cycles per CAL_PIT_TICKS or more, as Hz; 0 if no
 * quick read could start or end it, or a gap may hide a turn. */
static uint64_t pit_window(void)
{
	uint16_t c0, c = 0;
	uint64_t t0, t = 0;
	int quick = 0;
	for (int i = 0; i < 100 && !quick; i++)
		quick = pit_sample(&c0, &t0);
	if (!quick)
		return 0;
	uint32_t ticks = 0, gap_ticks = 0;
	uint64_t gap = 0, tprev = t0;
	uint16_t prev = c0;
	quick = 0;
	for (uint64_t i = 0; i < 10000000ull && !(quick && ticks >= CAL_PIT_TICKS); i++) {
		quick = pit_sample(&c, &t);
		uint16_t d = (uint16_t)(prev - c);      /* down-counter, wraps */
		if (t - tprev > gap) {
			gap = t - tprev;
			gap_ticks = d;
		}
		ticks += d;
		prev = c;
		tprev = t;
	}
	if (!quick || ticks < CAL_PIT_TICKS)
		return 0;
	/* the rest of the window (at least a few hundred ticks of it, for a
	 * rate worth the name) says how many ticks the longest gap took */
	uint64_t rest_t = (t - t0) - gap;
	uint32_t rest_ticks = ticks - gap_ticks;
	if (rest_ticks < 300 || !rest_t ||
	    (unsigned __int128)gap * rest_ticks >= (unsigned __int128)PIT_GAP_MAX * rest_t)
		return 0;
	return (t - t0) * PIT_HZ / ticks;
}

static void pit_calibrate(void)
{
	outb(0x43, 0x34);                       /* channel 0, lo/hi, mode 2 */
	outb(0x40, 0xff);
	outb(0x40, 0xff);
	uint64_t best = 0;
	for (int attempt = 0; attempt < PIT_ATTEMPTS && !best; attempt++)
		best = pit_window();
	/* a guess, and a bad one: the boot log's "tsc ... Hz" shows it */
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
		publish(&final, boot_tsc, 0);
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
		publish(&final, boot_tsc, 0);
		return;
	}
	ref_sample(&cal_ref0, &cal_tsc0);
	/* the provisional rate: the reference's ticks over PROV_NS against
	 * the TSC's. Only the two samples' own read times are error (each
	 * the best of a few); a preemption between them only lengthens the
	 * span. A few per cent off is fine: it only times the boot. */
	uint64_t r, t;
	do
		ref_sample(&r, &t);
	while ((r - cal_ref0) * 1000000000ull / ref_hz < PROV_NS);
	set_hz((uint64_t)((unsigned __int128)(t - cal_tsc0) * ref_hz / (r - cal_ref0)));
	/* time_ns() counts from cal_tsc0, as it did from cal_ref0 */
	publish(&prov, cal_tsc0, 0);
	/* the time between PVH entry and now is counted by the TSC later */
}

void time_calibrate_finish(void)
{
	if (atomic_load_explicit(&cur, memory_order_acquire) != &prov)
		return;                 /* calibrated at time_init_early */
	uint64_t r, t;
	do
		ref_sample(&r, &t);
	while ((r - cal_ref0) * 1000000000ull / ref_hz < CAL_MIN_NS);
	/* continuous: the final set starts where the provisional one is at t */
	uint64_t now_ns = at(&prov, t);
	set_hz((uint64_t)((unsigned __int128)(t - cal_tsc0) * ref_hz / (r - cal_ref0)));
	publish(&final, t, now_ns);
}

uint64_t time_ns(void)
{
	const struct tparams *p = atomic_load_explicit(&cur, memory_order_acquire);
	return p ? at(p, rdtsc()) : 0;
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
