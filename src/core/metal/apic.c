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
