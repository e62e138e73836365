/*
 * virtio_pci.h — the modern virtio PCI transport (VM platform).
 */
#ifndef POLLUX_VIRTIO_PCI_H
#define POLLUX_VIRTIO_PCI_H
/* Registers every virtio PCI device found by pci_init(). Returns how many. */
int virtio_pci_probe(void);
#endif
