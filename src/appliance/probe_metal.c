/*
 * probe_metal.c — finding the VM's devices: PCI (ECAM or the legacy
 * configuration ports, BARs assigned where the firmware left them empty)
 * and the virtio devices on it. The metal platform says where the window
 * is (platform_pci_window); starting the devices is the composition
 * root's job, here.
 */
#include "core/core.h"
#include "core/platform.h"
#include "drivers/pci.h"
#include "drivers/virtio.h"
#include "drivers/virtio_pci.h"
#include "appliance/appliance.h"

int appliance_probe_devices(char *err, size_t errlen)
{
	struct platform_pci_window w;
	platform_pci_window(&w);
	int n = pci_init(w.ecam, w.mmio_lo, w.mmio_hi);
	int v = virtio_pci_probe();
	if (n)
		klog("pci: %d devices (%s), %d virtio", n, w.ecam ? "ECAM" : "ports 0xcf8/0xcfc", v);
	int nets = 0;
	for (int i = 0; i < virtio_dev_count(); i++)
		nets += virtio_dev_get(i)->device_id == VIRTIO_ID_NET;
	return nets;
}
