/*
 * pci.c — PCI enumeration and BAR assignment. See pci.h.
 *
 * BARs the firmware left at 0 get addresses from one bump window below
 * 4 GiB (naturally aligned, memory BARs only; I/O BARs are left alone: no
 * driver of ours uses port I/O). The window comes from the platform: above
 * low RAM and the ECAM region, below the IOAPIC.
 */
#include <string.h>
#include "core/core.h"
#include "core/io.h"
#include "drivers/pci.h"

static struct pci_dev devs[PCI_MAX_DEVS];
static int ndevs;
static uint64_t ecam;
static uint64_t win_next, win_end;

static uint32_t cfg_read32(uint8_t bus, uint8_t dev, uint8_t fn, uint16_t off)
{
	if (ecam)
		return mmio_read32(ecam + ((uint64_t)bus << 20 | (uint64_t)dev << 15 | (uint64_t)fn << 12 | off));
	outl(0xcf8, 0x80000000u | (uint32_t)bus << 16 | (uint32_t)dev << 11 | (uint32_t)fn << 8 | (off & 0xfc));
	return inl(0xcfc);
}

static void cfg_write32(uint8_t bus, uint8_t dev, uint8_t fn, uint16_t off, uint32_t v)
{
	if (ecam) {
		mmio_write32(ecam + ((uint64_t)bus << 20 | (uint64_t)dev << 15 | (uint64_t)fn << 12 | off), v);
		return;
	}
	outl(0xcf8, 0x80000000u | (uint32_t)bus << 16 | (uint32_t)dev << 11 | (uint32_t)fn << 8 | (off & 0xfc));
	outl(0xcfc, v);
}

uint32_t pci_read32(const struct pci_dev *d, uint16_t off) { return cfg_read32(d->bus, d->dev, d->fn, off); }
uint16_t pci_read16(const struct pci_dev *d, uint16_t off) { return (uint16_t)(pci_read32(d, off & ~3) >> ((off & 2) * 8)); }
uint8_t pci_read8(const struct pci_dev *d, uint16_t off) { return (uint8_t)(pci_read32(d, off & ~3) >> ((off & 3) * 8)); }
void pci_write32(const struct pci_dev *d, uint16_t off, uint32_t v) { cfg_write32(d->bus, d->dev, d->fn, off, v); }
void pci_write16(const struct pci_dev *d, uint16_t off, uint16_t v)
{
	uint32_t w = pci_read32(d, off & ~3), sh = (off & 2) * 8;
	w = (w & ~(0xffffu << sh)) | ((uint32_t)v << sh);
	pci_write32(d, off & ~3, w);
}

uint8_t pci_find_cap(const struct pci_dev *d, uint8_t id, uint8_t from)
{
	if (!(pci_read16(d, 0x06) & 0x10))
		return 0;
	uint8_t p = from ? pci_read8(d, from + 1) : pci_read8(d, 0x34);
	for (int guard = 0; p && guard < 48; guard++) {
		p &= 0xfc;
		if (p < 0x40)
			return 0;
		if (pci_read8(d, p) == id)
			return p;
		p = pci_read8(d, p + 1);
	}
	return 0;
}

static void size_bars(struct pci_dev *d)
{
	uint16_t cmd = pci_read16(d, 0x04);
	pci_write16(d, 0x04, cmd & ~3);          /* no decoding while sizing */
	for (int i = 0; i < 6; i++) {
		uint16_t off = (uint16_t)(0x10 + 4 * i);
		uint32_t orig = pci_read32(d, off);
		struct pci_bar *b = &d->bar[i];
		b->is_io = orig & 1;
		b->is_64 = !b->is_io && ((orig >> 1) & 3) == 2;
		pci_write32(d, off, 0xffffffffu);
		uint32_t lo = pci_read32(d, off);
		pci_write32(d, off, orig);
		uint64_t mask = b->is_io ? (lo & ~3u) : (lo & ~0xfu), hi_orig = 0;
		if (b->is_64) {
			hi_orig = pci_read32(d, off + 4);
			pci_write32(d, off + 4, 0xffffffffu);
			mask |= (uint64_t)pci_read32(d, off + 4) << 32;
			pci_write32(d, off + 4, (uint32_t)hi_orig);
		} else if (!b->is_io) {
			mask |= 0xffffffff00000000ull;
		} else {
			mask |= 0xffffffffffff0000ull;
		}
		if ((uint32_t)mask == 0 && !b->is_64) {
			b->size = 0;
			continue;
		}
		b->size = ~mask + 1;
		b->addr = b->is_io ? (orig & ~3u) : ((orig & ~0xfu) | (hi_orig << 32));
		if (!b->is_io && b->addr == 0 && b->size && b->size <= (1u << 30)) {
			uint64_t a = (win_next + b->size - 1) & ~(b->size - 1);
			if (a + b->size <= win_end) {
				b->addr = a;
				win_next = a + b->size;
				pci_write32(d, off, (uint32_t)a | (orig & 0xf));
				if (b->is_64)
					pci_write32(d, off + 4, (uint32_t)(a >> 32));
			}
		}
		if (b->is_64)
			i++;                          /* the upper half is not a BAR */
	}
	pci_write16(d, 0x04, cmd | 0x2 | 0x4);   /* memory decoding, bus master */
}

static void probe(uint8_t bus, uint8_t dev, uint8_t fn)
{
	uint32_t id = cfg_read32(bus, dev, fn, 0);
	if ((id & 0xffff) == 0xffff || ndevs == PCI_MAX_DEVS)
		return;
	struct pci_dev *d = &devs[ndevs++];
	memset(d, 0, sizeof *d);
	d->bus = bus;
	d->dev = dev;
	d->fn = fn;
	d->vendor = (uint16_t)id;
	d->device = (uint16_t)(id >> 16);
	d->class = pci_read32(d, 0x08) >> 8;
	d->subsys = (uint16_t)(pci_read32(d, 0x2c) >> 16);
	if ((pci_read8(d, 0x0e) & 0x7f) == 0)    /* ordinary device, not a bridge */
		size_bars(d);
	d->msix_cap = pci_find_cap(d, PCI_CAP_MSIX, 0);
	if (d->msix_cap)                         /* off until a driver programs vectors (virtio_pci) */
		pci_write16(d, d->msix_cap + 2, (uint16_t)(pci_read16(d, d->msix_cap + 2) & ~0x8000));
}

int pci_init(uint64_t ecam_base, uint64_t mmio_lo, uint64_t mmio_hi)
{
	ecam = ecam_base;
	win_next = mmio_lo;
	win_end = mmio_hi;
	ndevs = 0;
	for (unsigned bus = 0; bus < 256; bus++) {
		int any = 0;
		for (uint8_t dev = 0; dev < 32; dev++) {
			uint32_t id = cfg_read32((uint8_t)bus, dev, 0, 0);
			if ((id & 0xffff) == 0xffff)
				continue;
			any = 1;
			int multi = (cfg_read32((uint8_t)bus, dev, 0, 0x0c) >> 16) & 0x80;
			for (uint8_t fn = 0; fn < (multi ? 8 : 1); fn++)
				probe((uint8_t)bus, dev, fn);
		}
		if (!any && bus > 0)
			break;                           /* QEMU's buses are dense */
	}
	return ndevs;
}

int pci_count(void) { return ndevs; }
struct pci_dev *pci_get(int i) { return i >= 0 && i < ndevs ? &devs[i] : NULL; }
