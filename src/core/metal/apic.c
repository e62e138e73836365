/*
 * apic.c — the local APIC: xAPIC through MMIO (QEMU's TCG has no x2APIC)
 * and x2APIC through MSRs where the CPU offers it. Used for IPIs (wake,
 * test, NMI on fault) and to start the application processors.
 */
#include "core/metal/metal.h"

#define REG_ID   0x20
#define REG_EOI  0xb0
#define REG_SVR  0xf0
#define REG_ICRL 0x300
#define REG_ICRH 0x310
#define REG_TPR  0x80
#define REG_LVT_TIMER 0x320
#define REG_TMR_ICR   0x380
#define REG_TMR_CCR   0x390
#define REG_TMR_DCR   0x3e0

static uint64_t timer_hz, cal_tsc;
static void timer_calibration_start(void);

static int x2;

int apic_is_x2(void) { return x2; }

static uint32_t rd(uint32_t reg)
{
	if (x2)
		return (uint32_t)rdmsr(0x800 + (reg >> 4));
	return mmio_read32(acpi.lapic_base + reg);
}

static void wr(uint32_t reg, uint32_t v)
{
	if (x2)
		wrmsr(0x800 + (reg >> 4), v);
	else
		mmio_write32(acpi.lapic_base + reg, v);
}

static void enable_here(void)
{
	uint64_t base = rdmsr(MSR_APIC_BASE) | (1 << 11);
	if (x2)
		base |= 1 << 10;
	wrmsr(MSR_APIC_BASE, base);
	wr(REG_TPR, 0);
	wr(REG_SVR, 0x100 | VEC_SPURIOUS);
}

void apic_init_bsp(void)
{
	uint32_t r[4];
	cpuid(1, 0, r);
	x2 = (r[2] >> 21) & 1;
	enable_here();
	timer_calibration_start();
}

void apic_init_ap(void) { enable_here(); }

uint32_t apic_id(void)
{
	return x2 ? rd(REG_ID) : rd(REG_ID) >> 24;
}

void apic_eoi(void) { wr(REG_EOI, 0); }

static void icr(uint32_t dest, uint32_t low)
{
	if (x2) {
		wrmsr(0x830, ((uint64_t)dest << 32) | low);
		return;
	}
	for (int i = 0; i < 1000000 && (rd(REG_ICRL) & (1 << 12)); i++)
		cpu_relax();
	wr(REG_ICRH, dest << 24);
	wr(REG_ICRL, low);
}

void apic_send_ipi(uint32_t dest, uint8_t vector) { icr(dest, vector | (1 << 14)); }
void apic_send_nmi_all_others(void) { icr(0, (4 << 8) | (1 << 14) | (3 << 18)); }
void apic_send_init(uint32_t dest) { icr(dest, (5 << 8) | (1 << 14)); }
void apic_send_sipi(uint32_t dest, uint8_t page) { icr(dest, (6 << 8) | (1 << 14) | page); }

/* The LAPIC timer wakes a halted core at its next timer deadline. Its
 * rate (the APIC bus clock / 16) is measured against the TSC across the
 * boot: counting starts in apic_init_bsp, is read in
 * apic_timer_calibrate(). */
static void timer_calibration_start(void)
{
	wr(REG_TMR_DCR, 0x3);                   /* divide by 16 */
	wr(REG_LVT_TIMER, (1 << 16) | VEC_TIMER);   /* masked */
	cal_tsc = rdtsc();
	wr(REG_TMR_ICR, 0xffffffffu);
}

void apic_timer_calibrate(void)
{
	uint32_t cur = rd(REG_TMR_CCR);
	uint64_t dt = rdtsc() - cal_tsc;
	wr(REG_TMR_ICR, 0);
	if (dt && cur < 0xffffffffu)
		timer_hz = (uint64_t)((unsigned __int128)(0xffffffffu - cur) * time_tsc_hz() / dt);
}

uint64_t apic_timer_hz(void) { return timer_hz; }

void apic_timer_oneshot(uint64_t ns)
{
	if (!timer_hz)
		return;
	if (ns > 10000000000ull)
		ns = 10000000000ull;
	uint64_t cnt = (uint64_t)((unsigned __int128)ns * timer_hz / 1000000000ull);
	if (cnt == 0)
		cnt = 1;
	if (cnt > 0xffffffffu)
		cnt = 0xffffffffu;
	wr(REG_TMR_DCR, 0x3);
	wr(REG_LVT_TIMER, VEC_TIMER);           /* one-shot, unmasked */
	wr(REG_TMR_ICR, (uint32_t)cnt);
}

void apic_timer_stop(void) { wr(REG_TMR_ICR, 0); }
