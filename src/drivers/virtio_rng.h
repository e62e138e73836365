/*
 * virtio_rng.h — the virtio entropy device, read by the control core.
 */
#ifndef POLLUX_VIRTIO_RNG_H
#define POLLUX_VIRTIO_RNG_H
#include <stddef.h>

/* Core 0, start-up, after the transports registered their devices: sets
 * up the first virtio-rng device. 1 when there is one, 0 when none, or
 * -errno with a message in err. */
int virtio_rng_init(char *err, size_t errlen);
int virtio_rng_present(void);
/* Core 0: up to len (at most 4096) bytes; > 0, or -ENODEV, -ETIMEDOUT,
 * -EIO (the device stops being used). Bounded: at most 1 s. */
long virtio_rng_read(void *out, size_t len);
#endif
