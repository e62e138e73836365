/*
 * virtio_pci.c — the virtio 1.x "modern" PCI transport (virtio spec 4.1):
 * the common, notify, ISR and device configuration structures found
 * through vendor capabilities in configuration space. Legacy (0.9) devices
 * are not supported: a device without the modern capabilities is skipped
 * with a message.
 *
 * Interrupts: none, except for a queue whose driver names a core to wake
 * (virtq.wake_core: RX queues of virtio-net). Such a queue gets its own
 * MSI-X vector, aimed at that core's APIC with the platform's wake-up
 * vector (platform_msi_wake), whose handler only acknowledges it: it ends
 * the core's idle `hlt` and nothing else. The configuration change vector
 * stays NO_VECTOR. A device without MSI-X, without a free table entry, or
 * that does not read the vector back keeps the queue vectorless (polled
 * on a timer when its core halts), with a line on the console.
 */
#include <stdio.h>
#include <string.h>
#include "core/core.h"
#include "core/io.h"
#include "core/platform.h"
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
#define NO_VECTOR     0xffff

/* MSI-X (PCI 3.0, 6.8.2): message control at cap + 2, table offset/BIR at
 * cap + 4; 16-byte entries: address low, high, data, vector control */
#define MSIX_CTRL_ENABLE 0x8000
#define MSIX_CTRL_FMASK  0x4000
#define MSIX_ENTRY_MASKED 1

struct vpci {
	struct virtio_dev vdev;
	struct pci_dev *pci;
	uintptr_t common, notify, isr, device;
	uint32_t notify_mult;
	uintptr_t qnotify[64];           /* per queue index: its notify address */
	uintptr_t msix_table;            /* 0: no MSI-X */
	uint16_t msix_size, msix_next;   /* table entries, the next free one */
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

/* The vector for a queue that wakes q->wake_core, or NO_VECTOR (with the
 * reason in why). Programs the table entry and turns MSI-X on. */
static uint16_t msix_vector_for(struct vpci *v, const struct virtq *q, const char **why)
{
	uint64_t addr;
	uint32_t data;
	if (!v->msix_table) {
		*why = "the device has no MSI-X";
		return NO_VECTOR;
	}
	if (v->msix_next >= v->msix_size) {
		*why = "no free MSI-X table entry";
		return NO_VECTOR;
	}
	if (platform_msi_wake((uint32_t)q->wake_core, &addr, &data)) {
		*why = "the platform cannot aim an MSI at that core";
		return NO_VECTOR;
	}
	uint16_t vec = v->msix_next++;
	uintptr_t e = v->msix_table + 16u * vec;
	w32(e + 12, MSIX_ENTRY_MASKED);
	w32(e + 0, (uint32_t)addr);
	w32(e + 4, (uint32_t)(addr >> 32));
	w32(e + 8, data);
	w32(e + 12, 0);                            /* unmasked */
	uint16_t ctl = pci_read16(v->pci, (uint16_t)(v->pci->msix_cap + 2));
	if ((ctl & (MSIX_CTRL_ENABLE | MSIX_CTRL_FMASK)) != MSIX_CTRL_ENABLE)
		pci_write16(v->pci, (uint16_t)(v->pci->msix_cap + 2),
			    (uint16_t)((ctl | MSIX_CTRL_ENABLE) & ~MSIX_CTRL_FMASK));
	return vec;
}

static int vp_queue_enable(struct virtio_dev *d, struct virtq *q)
{
	struct vpci *v = V(d);
	uintptr_t c = v->common;
	if (q->qidx >= 64)
		return -1;
	w16(c + CC_QSELECT, q->qidx);
	w16(c + CC_QSIZE, q->size);
	uint16_t vec = NO_VECTOR;
	const char *why = NULL;
	if (q->wake_core >= 0)
		vec = msix_vector_for(v, q, &why);
	w16(c + CC_QMSIX, vec);                    /* NO_VECTOR: no interrupts, polled */
	if (vec != NO_VECTOR) {
		/* the device says NO_VECTOR when it could not take it */
		if (r16(c + CC_QMSIX) == vec)
			q->wakes = 1;
		else
			why = "the device refused the MSI-X vector";
	}
	if (why)
		klog("virtio-pci %02x:%02x.%x: queue %u: no interrupt (%s): its core wakes on a timer to poll",
		     v->pci->bus, v->pci->dev, v->pci->fn, q->qidx, why);
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
	if (p->msix_cap) {
		uint16_t ctl = pci_read16(p, (uint16_t)(p->msix_cap + 2));
		uint32_t tbl = pci_read32(p, (uint16_t)(p->msix_cap + 4));
		uint8_t bir = tbl & 7;
		uint16_t size = (uint16_t)((ctl & 0x7ff) + 1);
		/* the table must lie inside an assigned memory BAR */
		if (bir <= 5 && !p->bar[bir].is_io && p->bar[bir].addr &&
		    (uint64_t)(tbl & ~7u) + 16u * size <= p->bar[bir].size) {
			v->msix_table = (uintptr_t)p->bar[bir].addr + (tbl & ~7u);
			v->msix_size = size;
		}
	}
	w16(v->common + CC_MSIX, NO_VECTOR);      /* no configuration-change interrupts */
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
