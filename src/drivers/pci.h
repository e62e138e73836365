/*
 * pci.h — PCI on the VM: enumeration through configuration space (ECAM
 * from the ACPI MCFG where present, else ports 0xCF8/0xCFC), BAR sizing
 * and assignment (qboot assigns none), capability lists. Control path,
 * core 0, start-up.
 */
#ifndef POLLUX_PCI_H
#define POLLUX_PCI_H
#include <stdint.h>

#define PCI_MAX_DEVS 64

struct pci_bar {
	uint64_t addr, size;
	int is_io, is_64;
};

struct pci_dev {
	uint8_t bus, dev, fn;
	uint16_t vendor, device, subsys;
	uint32_t class;                 /* class << 16 | subclass << 8 | prog-if */
	struct pci_bar bar[6];
	uint8_t msix_cap;               /* offset, 0 if none */
};

/* Scans every bus; sizes and (where the firmware didn't) assigns BARs;
 * enables memory decoding and bus mastering. Returns the device count. */
int pci_init(uint64_t ecam_base, uint64_t mmio_lo, uint64_t mmio_hi);
int pci_count(void);
struct pci_dev *pci_get(int i);
uint32_t pci_read32(const struct pci_dev *d, uint16_t off);
uint16_t pci_read16(const struct pci_dev *d, uint16_t off);
uint8_t pci_read8(const struct pci_dev *d, uint16_t off);
void pci_write32(const struct pci_dev *d, uint16_t off, uint32_t v);
void pci_write16(const struct pci_dev *d, uint16_t off, uint16_t v);
/* Walks the capability list: the offset of the first capability with id
 * `id` at or after `from` (0: from the start), or 0. */
uint8_t pci_find_cap(const struct pci_dev *d, uint8_t id, uint8_t from);
#define PCI_CAP_VENDOR 0x09
#define PCI_CAP_MSIX   0x11
#endif
