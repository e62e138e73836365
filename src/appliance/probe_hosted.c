/*
 * probe_hosted.c — the hosted process's devices: one virtio-net device
 * per --vhost-user PATH[,queues=N] (default 1 pair: N must not exceed the
 * backend's own queues=N, see docs/vhost-user.md), reached through the
 * vhost-user transport over the memfd the platform carves device-visible
 * memory from (the backend can map nothing else).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/core.h"
#include "core/platform.h"
#include "drivers/vhost_user.h"
#include "appliance/appliance.h"

int appliance_probe_devices(char *err, size_t errlen)
{
	int i;
	const char *spec;
	for (i = 0; (spec = platform_vhost_user_spec(i)); i++) {
		const char *comma = strchr(spec, ',');
		size_t n = comma ? (size_t)(comma - spec) : strlen(spec);
		char path[108], *end = NULL;
		long q = 1;
		if (n == 0 || n >= sizeof path) {
			snprintf(err, errlen, "--vhost-user %s: the socket path must be 1..%zu bytes", spec, sizeof path - 1);
			return -EINVAL;
		}
		memcpy(path, spec, n);
		path[n] = 0;
		if (comma && (strncmp(comma + 1, "queues=", 7) || (q = strtol(comma + 8, &end, 10)) < 1 ||
			      q > VHOST_USER_MAX_QUEUE_PAIRS || *end)) {
			snprintf(err, errlen, "--vhost-user %s: expected PATH[,queues=1..%d]", spec,
				 VHOST_USER_MAX_QUEUE_PAIRS);
			return -EINVAL;
		}
		uint8_t mac[6] = { 0x02, 0x50, 0x4c, 0x58, 0x01, (uint8_t)i };
		if (!vhost_user_connect(path, (uint16_t)q, platform_dma_fd(), platform_dma_base(),
					platform_dma_size(), mac, 10000, err, errlen))
			return -EIO;
	}
	return i;
}
