/*
 * virtio_pci.c — the virtio 1.x "modern" PCI transport (virtio spec 4.1):
 * the common, notify, ISR and device configuration structures found
 * through vendor capabilities in configuration space. Legacy (0.9) devices
 * are not supported: a device without the modern capabilities is skipped
 * with a message.
 */
#include <stdio.h>
#include <string.h>
#include "core/core.h"
#include "core/io.h"
#include "drivers/pci.h"
#include "drivers/virtio.h"
#include "drivers/virtio_pci.h"

/* common configuration layout (offsets) */
#define CC_DFSELECT   0x00
#define CC_DF         0x04
#define CC_GFSELECT   0x08
#define CC_GF         0x0c
#define CC_MSIX       0x10
#define CC_NUMQ       0x12
#define CC_STATUS     0x14
#define CC_GEN        0x15
#define CC_QSELECT    0x16
#define CC_QSIZE      0x18
#define CC_QMSIX      0x1a
#define CC_QENABLE    0x1c
#define CC_QNOTIFYOFF 0x1e
#define CC_QDESC      0x20
#define CC_QDRIVER    0x28
#define CC_QDEVICE    0x30

struct vpci {
	struct virtio_dev vdev;
	struct pci_dev *pci;
	uintptr_t common, notify, isr, device;
	uint32_t notify_mult;
	uintptr_t qnotify[64];           /* per queue index: its notify address */
};

static struct vpci vpcis[VIRTIO_MAX_DEVS];
static int nvpci;

static struct vpci *V(struct virtio_dev *d) { return d->priv; }
static uint8_t r8(uintptr_t a) { return *(volatile uint8_t *)a; }
static uint16_t r16(uintptr_t a) { return *(volatile uint16_t *)a; }
static uint32_t r32(uintptr_t a) { return *(volatile uint32_t *)a; }
static void w8(uintptr_t a, uint8_t v) { *(volatile uint8_t *)a = v; }
static void w16(uintptr_t a, uint16_t v) { *(volatile uint16_t *)a = v; }
static void w32(uintptr_t a, uint32_t v) { *(volatile uint32_t *)a = v; }
static void w64(uintptr_t a, uint64_t v) { w32(a, (uint32_t)v); w32(a + 4, (uint32_t)(v >> 32)); }

static void vp_set_status(struct virtio_dev *d, uint8_t s) { w8(V(d)->common + CC_STATUS, s); }
static uint8_t vp_get_status(struct virtio_dev *d) { return r8(V(d)->common + CC_STATUS); }

static void vp_reset(struct virtio_dev *d)
{
	vp_set_status(d, 0);
	for (int i = 0; i < 1000000 && vp_get_status(d); i++)  /* reset completes when it reads 0 */
		cpu_relax();
}

static uint64_t vp_get_features(struct virtio_dev *d)
{
	uintptr_t c = V(d)->common;
	w32(c + CC_DFSELECT, 0);
	uint64_t lo = r32(c + CC_DF);
	w32(c + CC_DFSELECT, 1);
	return lo | (uint64_t)r32(c + CC_DF) << 32;
}

static int vp_set_features(struct virtio_dev *d, uint64_t f)
{
	uintptr_t c = V(d)->common;
	w32(c + CC_GFSELECT, 0);
	w32(c + CC_GF, (uint32_t)f);
	w32(c + CC_GFSELECT, 1);
	w32(c + CC_GF, (uint32_t)(f >> 32));
	return 0;
}

static void vp_read_config(struct virtio_dev *d, uint32_t off, void *buf, uint32_t len)
{
	uint8_t gen;
	do {                                       /* retry if the device changed it meanwhile */
		gen = r8(V(d)->common + CC_GEN);
		for (uint32_t i = 0; i < len; i++)
			((uint8_t *)buf)[i] = r8(V(d)->device + off + i);
	} while (gen != r8(V(d)->common + CC_GEN));
}

static uint16_t vp_queue_max(struct virtio_dev *d, uint16_t idx)
{
	uintptr_t c = V(d)->common;
	if (idx >= r16(c + CC_NUMQ))
		return 0;
	w16(c + CC_QSELECT, idx);
	return r16(c + CC_QSIZE);
}

static int vp_queue_enable(struct virtio_dev *d, struct virtq *q)
{
	struct vpci *v = V(d);
	uintptr_t c = v->common;
	if (q->qidx >= 64)
		return -1;
	w16(c + CC_QSELECT, q->qidx);
	w16(c + CC_QSIZE, q->size);
	w16(c + CC_QMSIX, 0xffff);                 /* no interrupts: poll mode */
	w64(c + CC_QDESC, virtq_desc_addr(q));
	w64(c + CC_QDRIVER, virtq_avail_addr(q));
	w64(c + CC_QDEVICE, virtq_used_addr(q));
	v->qnotify[q->qidx] = v->notify + (uintptr_t)r16(c + CC_QNOTIFYOFF) * v->notify_mult;
	w16(c + CC_QENABLE, 1);
	return 0;
}

static void vp_notify(struct virtio_dev *d, struct virtq *q)
{
	w16(V(d)->qnotify[q->qidx], q->qidx);
}

static const struct virtio_ops vpci_ops = {
	.name = "pci",
	.reset = vp_reset,
	.get_status = vp_get_status,
	.set_status = vp_set_status,
	.get_features = vp_get_features,
	.set_features = vp_set_features,
	.read_config = vp_read_config,
	.queue_max = vp_queue_max,
	.queue_enable = vp_queue_enable,
	.notify = vp_notify,
};

static int attach(struct pci_dev *p)
{
	struct vpci *v = &vpcis[nvpci];
	memset(v, 0, sizeof *v);
	v->pci = p;
	for (uint8_t c = pci_find_cap(p, PCI_CAP_VENDOR, 0); c; c = pci_find_cap(p, PCI_CAP_VENDOR, c)) {
		uint8_t type = pci_read8(p, c + 3), bar = pci_read8(p, c + 4);
		uint32_t off = pci_read32(p, c + 8);
		if (bar > 5 || p->bar[bar].is_io || !p->bar[bar].addr)
			continue;
		uintptr_t a = (uintptr_t)p->bar[bar].addr + off;
		switch (type) {
		case 1: if (!v->common) v->common = a; break;
		case 2:
			if (!v->notify) {
				v->notify = a;
				v->notify_mult = pci_read32(p, c + 16);
			}
			break;
		case 3: if (!v->isr) v->isr = a; break;
		case 4: if (!v->device) v->device = a; break;
		}
	}
	if (!v->common || !v->notify || !v->device) {
		klog("virtio-pci %02x:%02x.%x: no modern capabilities (legacy device?): skipped",
		     p->bus, p->dev, p->fn);
		return -1;
	}
	v->vdev.ops = &vpci_ops;
	v->vdev.priv = v;
	v->vdev.device_id = p->device >= 0x1040 ? (uint16_t)(p->device - 0x1040) : p->subsys;
	snprintf(v->vdev.name, sizeof v->vdev.name, "pci %02x:%02x.%x", p->bus, p->dev, p->fn);
	if (virtio_dev_register(&v->vdev))
		return -1;
	nvpci++;
	return 0;
}

int virtio_pci_probe(void)
{
	int found = 0;
	for (int i = 0; i < pci_count() && nvpci < VIRTIO_MAX_DEVS; i++) {
		struct pci_dev *p = pci_get(i);
		if (p->vendor != 0x1af4 || p->device < 0x1000 || p->device > 0x107f)
			continue;
		if (attach(p) == 0)
			found++;
	}
	return found;
}
