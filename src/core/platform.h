/*
 * platform.h — what main.c asks of the platform layer beyond core.h:
 * where the config document is, per-core entry, and the built-in tests.
 * Implemented by src/core/metal/ (and later src/core/hosted/).
 */
#ifndef POLLUX_PLATFORM_H
#define POLLUX_PLATFORM_H
#include <stddef.h>
#include "core/core.h"

const char *platform_config(size_t *len);   /* the raw document, or NULL/0 */
void platform_core_enter(struct core *c);   /* on core c, before its loop */
void platform_ready(void);                  /* every core is in its loop */
int platform_selftest(const char *name);    /* 0 = passed */
/* Finds devices (PCI on the VM, vhost-user sockets hosted) and registers
 * them with their transports. Returns how many network devices, or
 * -errno with a message in err. */
int platform_probe_devices(char *err, size_t errlen);
/* Hosted only: the calling core's halting idle wait also ends when the
 * host fd is readable (e.g. the API listener's epoll fd on core 0), so a
 * request does not wait out halt_max_us. 0 or -errno. */
int platform_idle_fd(int fd);
#endif
