/*
 * acpi.c — what the kernel needs from the ACPI tables: the CPUs (MADT),
 * the local APIC address, the HPET, the PM timer and power-off registers
 * (FADT, \_S5 from the DSDT), and ECAM (MCFG). Tables are read in place
 * (firmware puts them below 4 GiB, identity-mapped); every length is
 * checked against the table's own header before a field is read.
 */
#include <string.h>
#include "core/metal/metal.h"

struct acpi_info acpi;

struct sdt {
	char sig[4];
	uint32_t len;
	uint8_t rev, csum;
	char oem[6], oem_table[8];
	uint32_t oem_rev, creator, creator_rev;
} __attribute__((packed));

static int csum_ok(const void *p, size_t n)
{
	uint8_t s = 0;
	for (size_t i = 0; i < n; i++)
		s += ((const uint8_t *)p)[i];
	return s == 0;
}

static uint32_t rd32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t rd64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

static void parse_madt(const struct sdt *t)
{
	const uint8_t *p = (const uint8_t *)t, *end = p + t->len;
	if (t->len < 44)
		return;
	acpi.lapic_base = rd32(p + 36);
	for (const uint8_t *e = p + 44; e + 2 <= end && e[1] >= 2 && e + e[1] <= end; e += e[1]) {
		uint32_t id, flags;
		if (e[0] == 0 && e[1] >= 8) {               /* processor local APIC */
			id = e[3];
			flags = rd32(e + 4);
		} else if (e[0] == 9 && e[1] >= 16) {       /* local x2APIC */
			id = rd32(e + 4);
			flags = rd32(e + 8);
		} else {
			if (e[0] == 5 && e[1] >= 12)        /* LAPIC address override */
				acpi.lapic_base = rd64(e + 4);
			continue;
		}
		if (!(flags & 3) || acpi.ncpus == POLLUX_MAX_CORES)
			continue;
		int dup = 0;
		for (uint32_t i = 0; i < acpi.ncpus; i++)
			dup |= acpi.apic_ids[i] == id;
		if (!dup)
			acpi.apic_ids[acpi.ncpus++] = id;
	}
}

/* \_S5: NameOp "_S5_" PackageOp PkgLength NumElements SLP_TYPa SLP_TYPb */
static void parse_s5(const struct sdt *dsdt)
{
	const uint8_t *p = (const uint8_t *)dsdt + sizeof *dsdt;
	const uint8_t *end = (const uint8_t *)dsdt + dsdt->len;
	for (; p + 12 < end; p++) {
		if (memcmp(p, "_S5_", 4) || p[4] != 0x12)
			continue;
		const uint8_t *q = p + 5;
		q += 1 + (*q >> 6);                 /* PkgLength */
		q++;                                /* NumElements */
		uint16_t v[2];
		for (int i = 0; i < 2; i++) {
			if (q >= end)
				return;
			if (*q == 0x0a) {               /* BytePrefix */
				v[i] = q[1];
				q += 2;
			} else {                        /* ZeroOp, OneOp */
				v[i] = *q == 0xff ? 0 : *q;
				q += 1;
			}
		}
		acpi.slp_typ_a = v[0];
		acpi.slp_typ_b = v[1];
		acpi.has_s5 = 1;
		return;
	}
}

static void parse_fadt(const struct sdt *t)
{
	const uint8_t *p = (const uint8_t *)t;
	uint64_t dsdt = 0;
	if (t->len >= 44)
		dsdt = rd32(p + 40);
	if (t->len >= 148 && rd64(p + 140))
		dsdt = rd64(p + 140);
	if (t->len >= 116) {
		acpi.pm1a_cnt = (uint16_t)rd32(p + 64);
		acpi.pm1b_cnt = (uint16_t)rd32(p + 68);
		acpi.pm_tmr_port = (uint16_t)rd32(p + 76);
		uint32_t flags = rd32(p + 112);
		acpi.pm_tmr_32bit = (flags >> 8) & 1;
	}
	if (t->len >= 256 && p[244 + 1]) {         /* SLEEP_CONTROL_REG (hw-reduced) */
		acpi.sleep_ctl_space = p[244];
		acpi.sleep_ctl_addr = rd64(p + 248);
	}
	if (dsdt) {
		const struct sdt *d = (const struct sdt *)(uintptr_t)dsdt;
		if (!memcmp(d->sig, "DSDT", 4) && d->len > sizeof *d)
			parse_s5(d);
	}
}

static void parse_table(const struct sdt *t)
{
	if (!csum_ok(t, t->len))
		return;
	const uint8_t *p = (const uint8_t *)t;
	if (!memcmp(t->sig, "APIC", 4))
		parse_madt(t);
	else if (!memcmp(t->sig, "FACP", 4))
		parse_fadt(t);
	else if (!memcmp(t->sig, "HPET", 4) && t->len >= 56)
		acpi.hpet_base = rd64(p + 44);
	else if (!memcmp(t->sig, "MCFG", 4) && t->len >= 60)
		acpi.mcfg_base = rd64(p + 44);
}

int acpi_init(uint64_t rsdp_paddr)
{
	acpi.lapic_base = 0xfee00000;
	const uint8_t *rsdp = (const uint8_t *)(uintptr_t)rsdp_paddr;
	if (!rsdp || memcmp(rsdp, "RSD PTR ", 8) || !csum_ok(rsdp, 20))
		return -1;
	uint64_t xsdt = rsdp[15] >= 2 ? rd64(rsdp + 24) : 0;
	uint64_t rsdt = rd32(rsdp + 16);
	const struct sdt *root = (const struct sdt *)(uintptr_t)(xsdt ? xsdt : rsdt);
	size_t esz = xsdt ? 8 : 4;
	if (!root || root->len < sizeof *root || !csum_ok(root, root->len))
		return -1;
	size_t n = (root->len - sizeof *root) / esz;
	const uint8_t *ents = (const uint8_t *)root + sizeof *root;
	for (size_t i = 0; i < n; i++) {
		uint64_t a = esz == 8 ? rd64(ents + 8 * i) : rd32(ents + 4 * i);
		if (a)
			parse_table((const struct sdt *)(uintptr_t)a);
	}
	return acpi.ncpus ? 0 : -1;
}

_Noreturn void platform_poweroff(void)
{
	irq_disable();
	if (acpi.sleep_ctl_addr) {                  /* hardware-reduced (microvm) */
		uint8_t v = (uint8_t)(((acpi.has_s5 ? acpi.slp_typ_a : 5) << 2) | (1 << 5));
		if (acpi.sleep_ctl_space == 1)
			outb((uint16_t)acpi.sleep_ctl_addr, v);
		else
			*(volatile uint8_t *)(uintptr_t)acpi.sleep_ctl_addr = v;
	}
	if (acpi.pm1a_cnt && acpi.has_s5) {
		outw(acpi.pm1a_cnt, (uint16_t)((acpi.slp_typ_a << 10) | (1 << 13)));
		if (acpi.pm1b_cnt)
			outw(acpi.pm1b_cnt, (uint16_t)((acpi.slp_typ_b << 10) | (1 << 13)));
	}
	/* the hypervisor acts on the write asynchronously: give it a second */
	time_delay_ns(1000000000ull);
	raw_printf("pollux: power-off did not take; halting\n");
	halt_forever();
	__builtin_unreachable();
}
