/*
 * platform.h — what the composition root (src/appliance/) asks of the
 * platform layer beyond core.h: where the config document is, per-core
 * entry, the platform's own self-tests, and the facts device probing
 * needs. Implemented by src/core/metal/ and src/core/hosted/; a platform
 * exports facts and starts nothing (src/appliance/probe_*.c start the
 * devices).
 */
#ifndef POLLUX_PLATFORM_H
#define POLLUX_PLATFORM_H
#include <stddef.h>
#include <stdint.h>
#include "core/core.h"

/* The boot module (-initrd, or hosted --config FILE) is the JSON config,
 * or a tar archive holding it as pollux.json beside an appliance's files
 * (make site). platform_config returns the document (inside the archive
 * when the module is one); platform_boot_archive the whole archive, or
 * NULL when the module was plain JSON. An archive that is malformed or
 * lacks pollux.json stops the boot (EXIT_BAD_CONFIG) with the reason on
 * the console. Both borrowed for the life of the system. */
const char *platform_config(size_t *len);   /* the raw document, or NULL/0 */
/* The module as the platform got it (src/core/bootmod.c splits it). */
const char *platform_boot_module(size_t *len);
const void *platform_boot_archive(size_t *len);
void platform_core_enter(struct core *c);   /* on core c, before its loop */
void platform_ready(void);                  /* every core is in its loop */
/* The platform's own tests (test=NAME): 0 passed, -1 failed, -ENOENT
 * when the platform has no test of that name. */
int platform_selftest(const char *name);
/* Hosted only: the calling core's halting idle wait also ends when the
 * host fd is readable (e.g. the API listener's epoll fd on core 0), so a
 * request does not wait out halt_max_us. 0 or -errno. */
int platform_idle_fd(int fd);

/* ---- facts for device probing (each implemented by one platform) */

/* Metal: the PCI configuration window (ECAM base, 0: ports 0xcf8/0xcfc)
 * and where BARs the firmware left unassigned may go. */
struct platform_pci_window {
	uint64_t ecam, mmio_lo, mmio_hi;
};
void platform_pci_window(struct platform_pci_window *w);
/* Metal: the MSI/MSI-X message (address, data) that ends core `core`'s
 * idle `hlt`: a fixed, edge-triggered interrupt on the vector whose
 * handler only acknowledges it (cores take interrupts only while they
 * sleep). 0, -EINVAL (no such core) or -ENOTSUP (an APIC id an MSI
 * address cannot name). */
int platform_msi_wake(uint32_t core, uint64_t *addr, uint32_t *data);

/* Hosted: the i-th --vhost-user PATH[,queues=N] word (NULL past the
 * last), and the memfd device-visible frames (frame_alloc_dma_pages) come
 * from: the only memory a vhost-user backend is given to map. Private
 * frames are never in it. */
const char *platform_vhost_user_spec(int i);
int platform_dma_fd(void);
void *platform_dma_base(void);
size_t platform_dma_size(void);
#endif
