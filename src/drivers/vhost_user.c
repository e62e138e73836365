/*
 * vhost_user.c — the vhost-user frontend transport (hosted platform). See
 * vhost_user.h for the interface and docs/vhost-user.md for the protocol
 * walk-through; the wire formats follow QEMU's docs/interop/vhost-user.rst.
 *
 * One connection per device, driven synchronously from core 0: every
 * request is written whole with sendmsg (file descriptors ride along as
 * SCM_RIGHTS), and a request that has a reply — a GET_*, or any request
 * sent with NEED_REPLY once REPLY_ACK is negotiated — is answered before
 * the next is sent. Replies are checked (request, REPLY flag, version,
 * size) and time out after VU_REPLY_TIMEOUT_MS; after any broken exchange
 * the stream can no longer be trusted to be in step, so the device is
 * marked dead and every later request fails at once.
 *
 * Ownership: everything here is written by core 0 during start-up or
 * shutdown. The one data-path entry, notify(), reads a ring's kick fd,
 * written before DRIVER_OK and never while data cores run.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include "core/core.h"
#include "drivers/vhost_user.h"

/* ---- wire format (little-endian, native on x86) */
enum vu_request {
	VU_GET_FEATURES = 1,
	VU_SET_FEATURES = 2,
	VU_SET_OWNER = 3,
	VU_SET_MEM_TABLE = 5,
	VU_SET_VRING_NUM = 8,
	VU_SET_VRING_ADDR = 9,
	VU_SET_VRING_BASE = 10,
	VU_GET_VRING_BASE = 11,
	VU_SET_VRING_KICK = 12,
	VU_SET_VRING_CALL = 13,
	VU_GET_PROTOCOL_FEATURES = 15,
	VU_SET_PROTOCOL_FEATURES = 16,
	VU_GET_QUEUE_NUM = 17,
	VU_SET_VRING_ENABLE = 18,
};

#define VU_VERSION          0x1u        /* flags bits 0-1 */
#define VU_VERSION_MASK     0x3u
#define VU_FLAG_REPLY       (1u << 2)
#define VU_FLAG_NEED_REPLY  (1u << 3)

#define VU_F_PROTOCOL_FEATURES 30       /* in GET/SET_FEATURES */
#define VHOST_F_LOG_ALL        26       /* dirty logging: never wanted */
#define VU_PROTOCOL_F_MQ        0
#define VU_PROTOCOL_F_REPLY_ACK 3

#define VU_MAX_REGIONS 8
#define VU_MAX_RINGS (2 * VHOST_USER_MAX_QUEUE_PAIRS)
#define VU_REPLY_TIMEOUT_MS 30000       /* a busy-polling backend on a small host answers slowly */

struct vu_hdr {
	uint32_t request, flags, size;
};

struct vu_vring_state {
	uint32_t index, num;
};

struct vu_vring_addr {
	uint32_t index, flags;
	uint64_t desc, used, avail, log;    /* note the order: used before avail */
};

struct vu_mem_region {
	uint64_t guest_phys_addr, memory_size, userspace_addr, mmap_offset;
};

struct vu_mem_table {
	uint32_t nregions, padding;
	struct vu_mem_region regions[VU_MAX_REGIONS];
};

union vu_payload {
	uint64_t u64;
	struct vu_vring_state state;
	struct vu_vring_addr addr;
	struct vu_mem_table mem;
};

_Static_assert(sizeof(struct vu_hdr) == 12, "vhost-user header");
_Static_assert(sizeof(struct vu_vring_state) == 8, "vhost-user vring state");
_Static_assert(sizeof(struct vu_vring_addr) == 40, "vhost-user vring address");
_Static_assert(sizeof(struct vu_mem_region) == 32, "vhost-user memory region");

/* ---- the device */
struct vu_ring {
	int kickfd, callfd;             /* -1 until queue_enable */
	int started;
};

struct vu_dev {
	struct virtio_dev dev;
	/* immutable after vhost_user_connect */
	char path[108];
	int mem_fd;                     /* the caller's; never closed here */
	uintptr_t mem_base;
	size_t mem_size;
	uint64_t backend_features;      /* GET_FEATURES, as offered */
	uint64_t protocol_features;     /* negotiated; valid if has_protocol */
	int has_protocol, reply_ack;
	uint16_t queue_pairs;
	struct virtio_net_config cfg;   /* synthesized */
	/* core 0 */
	int sock;
	int dead;                       /* an exchange broke: the stream is out of step */
	int owner_set, mem_sent;
	uint8_t status;
	int ctx_ring;                   /* ring being set up, for messages; -1: none */
	char err[320];                  /* the last failure, one line */
	struct vu_ring ring[VU_MAX_RINGS];
};

static const char *req_name(uint32_t r)
{
	switch (r) {
	case VU_GET_FEATURES: return "GET_FEATURES";
	case VU_SET_FEATURES: return "SET_FEATURES";
	case VU_SET_OWNER: return "SET_OWNER";
	case VU_SET_MEM_TABLE: return "SET_MEM_TABLE";
	case VU_SET_VRING_NUM: return "SET_VRING_NUM";
	case VU_SET_VRING_ADDR: return "SET_VRING_ADDR";
	case VU_SET_VRING_BASE: return "SET_VRING_BASE";
	case VU_GET_VRING_BASE: return "GET_VRING_BASE";
	case VU_SET_VRING_KICK: return "SET_VRING_KICK";
	case VU_SET_VRING_CALL: return "SET_VRING_CALL";
	case VU_GET_PROTOCOL_FEATURES: return "GET_PROTOCOL_FEATURES";
	case VU_SET_PROTOCOL_FEATURES: return "SET_PROTOCOL_FEATURES";
	case VU_GET_QUEUE_NUM: return "GET_QUEUE_NUM";
	case VU_SET_VRING_ENABLE: return "SET_VRING_ENABLE";
	default: return "request";
	}
}

/* Records "vhost-user PATH: STEP: what" in v->err and returns rc. */
__attribute__((format(printf, 4, 5)))
static int vu_fail(struct vu_dev *v, int rc, const char *step, const char *fmt, ...)
{
	char what[160];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	if (v->ctx_ring >= 0)
		snprintf(v->err, sizeof v->err, "vhost-user %s: %s (ring %d): %s", v->path, step, v->ctx_ring, what);
	else
		snprintf(v->err, sizeof v->err, "vhost-user %s: %s: %s", v->path, step, what);
	return rc;
}

/* A broken exchange: the reply may still be on its way or half read. */
__attribute__((format(printf, 4, 5)))
static int vu_break(struct vu_dev *v, int rc, const char *step, const char *fmt, ...)
{
	char what[160];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	v->dead = 1;
	return vu_fail(v, rc, step, "%s", what);
}

static uint64_t now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000u + (uint64_t)t.tv_nsec / 1000000u;
}

static void sleep_ms(uint64_t ms)
{
	struct timespec t = { (time_t)(ms / 1000u), (long)(ms % 1000u) * 1000000L };
	while (nanosleep(&t, &t) && errno == EINTR)
		;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* ---- messages */

/* Writes one request whole, with `fd` attached when >= 0. */
static int vu_send(struct vu_dev *v, uint32_t req, uint32_t flags, const void *payload, uint32_t size, int fd)
{
	struct {
		struct vu_hdr hdr;
		union vu_payload p;
	} __attribute__((packed)) m;
	if (size > sizeof m.p)
		return vu_fail(v, -EINVAL, req_name(req), "payload of %u bytes is too large", size);
	m.hdr = (struct vu_hdr){ req, VU_VERSION | flags, size };
	if (size)
		memcpy(&m.p, payload, size);
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} c;
	struct iovec iov = { &m, sizeof m.hdr + size };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	if (fd >= 0) {
		memset(&c, 0, sizeof c);
		mh.msg_control = c.buf;
		mh.msg_controllen = sizeof c.buf;
		struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof fd);
	}
	size_t len = iov.iov_len, off = 0;
	while (off < len) {
		ssize_t n = sendmsg(v->sock, &mh, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return vu_break(v, -ETIMEDOUT, req_name(req), "the backend took no data for %d ms",
					VU_REPLY_TIMEOUT_MS);
		if (n < 0) {
			int e = errno;
			return vu_break(v, -e, req_name(req), "cannot send: %s", strerror(e));
		}
		off += (size_t)n;
		/* the rest of a short write, without the descriptor again */
		iov.iov_base = (char *)&m + off;
		iov.iov_len = len - off;
		mh.msg_control = NULL;
		mh.msg_controllen = 0;
	}
	return 0;
}

/* Reads exactly len bytes of a reply. Descriptors a backend attaches to a
 * reply are never expected: they are closed. */
static int vu_read(struct vu_dev *v, const char *step, void *buf, size_t len)
{
	size_t off = 0;
	while (off < len) {
		union {
			char buf[CMSG_SPACE(4 * sizeof(int))];
			struct cmsghdr align;
		} c;
		struct iovec iov = { (char *)buf + off, len - off };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = c.buf,
				     .msg_controllen = sizeof c.buf };
		ssize_t n = recvmsg(v->sock, &mh, MSG_CMSG_CLOEXEC);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return vu_break(v, -ETIMEDOUT, step, "no reply within %d ms", VU_REPLY_TIMEOUT_MS);
		if (n < 0) {
			int e = errno;
			return vu_break(v, -e, step, "cannot read the reply: %s", strerror(e));
		}
		for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
			if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
				continue;
			size_t nfd = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			for (size_t i = 0; i < nfd; i++) {
				int fd;
				memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof fd);
				close(fd);
			}
		}
		if (n == 0)
			return vu_break(v, -ECONNRESET, step,
					"the backend closed the connection (short read: %zu of %zu bytes)", off, len);
		off += (size_t)n;
	}
	return 0;
}

/* Reads the reply to `req`, which must carry exactly `size` bytes. */
static int vu_reply(struct vu_dev *v, uint32_t req, void *payload, uint32_t size)
{
	const char *step = req_name(req);
	struct vu_hdr h;
	int rc = vu_read(v, step, &h, sizeof h);
	if (rc)
		return rc;
	if (h.request != req || !(h.flags & VU_FLAG_REPLY))
		return vu_break(v, -EPROTO, step, "unexpected message from the backend (request %u, flags 0x%x)",
				h.request, h.flags);
	if ((h.flags & VU_VERSION_MASK) != VU_VERSION)
		return vu_break(v, -EPROTO, step, "reply has protocol version %u, expected %u",
				h.flags & VU_VERSION_MASK, VU_VERSION);
	if (h.size != size)
		return vu_break(v, -EPROTO, step, "reply has %u bytes of payload, expected %u", h.size, size);
	return vu_read(v, step, payload, size);
}

/* One request. `reply`: a GET_* whose answer lands there (`rsize` bytes).
 * Otherwise, with REPLY_ACK negotiated, the request asks for an ack and a
 * non-zero one is a refusal. */
static int vu_call(struct vu_dev *v, uint32_t req, const void *payload, uint32_t size, int fd, void *reply,
		   uint32_t rsize)
{
	if (v->dead)
		return vu_fail(v, -EPIPE, req_name(req), "the connection is unusable after an earlier error");
	int ack = !reply && v->reply_ack;
	int rc = vu_send(v, req, ack ? VU_FLAG_NEED_REPLY : 0, payload, size, fd);
	if (rc)
		return rc;
	if (reply)
		return vu_reply(v, req, reply, rsize);
	if (ack) {
		uint64_t status;
		if ((rc = vu_reply(v, req, &status, sizeof status)))
			return rc;
		if (status)
			return vu_fail(v, -EREMOTEIO, req_name(req), "the backend refused it (status %llu)",
				       (unsigned long long)status);
	}
	return 0;
}

static int vu_get_u64(struct vu_dev *v, uint32_t req, uint64_t *out)
{
	return vu_call(v, req, NULL, 0, -1, out, sizeof *out);
}

static int vu_set_u64(struct vu_dev *v, uint32_t req, uint64_t val, int fd)
{
	return vu_call(v, req, &val, sizeof val, fd, NULL, 0);
}

static int vu_set_state(struct vu_dev *v, uint32_t req, uint32_t index, uint32_t num)
{
	struct vu_vring_state s = { index, num };
	return vu_call(v, req, &s, sizeof s, -1, NULL, 0);
}

/* ---- connection */

/* Connects, retrying while the socket doesn't exist yet (ENOENT) or is a
 * leftover nobody listens on (ECONNREFUSED). */
static int vu_open(struct vu_dev *v, int timeout_ms)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	_Static_assert(sizeof sa.sun_path >= sizeof v->path, "a checked path fits");
	memcpy(sa.sun_path, v->path, strlen(v->path) + 1);
	uint64_t deadline = now_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);
	for (;;) {
		int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (s < 0) {
			int e = errno;
			return vu_fail(v, -e, "connect", "cannot create a socket: %s", strerror(e));
		}
		if (connect(s, (struct sockaddr *)&sa, sizeof sa) == 0) {
			v->sock = s;
			break;
		}
		int e = errno;
		close(s);
		if (e != ENOENT && e != ECONNREFUSED && e != EINTR && e != EAGAIN)
			return vu_fail(v, -e, "connect", "%s", strerror(e));
		uint64_t now = now_ms();
		if (now >= deadline)
			return vu_fail(v, -e, "connect", "no backend within %d ms: %s", timeout_ms > 0 ? timeout_ms : 0,
				       strerror(e));
		sleep_ms(deadline - now < 10 ? deadline - now : 10);
	}
	struct timeval tv = { VU_REPLY_TIMEOUT_MS / 1000, (VU_REPLY_TIMEOUT_MS % 1000) * 1000 };
	setsockopt(v->sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(v->sock, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	return 0;
}

/* The features the transport offers the driver: the backend's, without
 * what vhost-user can't carry (no control queue: CTRL_VQ, MQ; no IOTLB:
 * ACCESS_PLATFORM; no dirty log; the protocol bit is ours), plus the
 * config fields synthesized here. */
static uint64_t vu_offered(const struct vu_dev *v)
{
	uint64_t f = v->backend_features;
	f &= ~(VIRTIO_F_BIT(VIRTIO_NET_F_CTRL_VQ) | VIRTIO_F_BIT(VIRTIO_NET_F_MQ) |
	       VIRTIO_F_BIT(VU_F_PROTOCOL_FEATURES) | VIRTIO_F_BIT(VHOST_F_LOG_ALL) |
	       VIRTIO_F_BIT(VIRTIO_F_ACCESS_PLATFORM));
	return f | VIRTIO_F_BIT(VIRTIO_NET_F_MAC) | VIRTIO_F_BIT(VIRTIO_NET_F_STATUS);
}

/* [addr, addr+len) inside the shared memory the backend has mapped */
static int vu_in_mem(const struct vu_dev *v, uint64_t addr, uint64_t len)
{
	return addr >= v->mem_base && len <= v->mem_size && addr - v->mem_base <= v->mem_size - len;
}

/* GET_VRING_BASE stops a running ring; then its eventfds go. */
static void vu_stop_rings(struct vu_dev *v)
{
	for (uint32_t i = 0; i < VU_MAX_RINGS; i++) {
		struct vu_ring *r = &v->ring[i];
		if (r->started && !v->dead) {
			struct vu_vring_state s = { i, 0 };
			v->ctx_ring = (int)i;
			if (vu_call(v, VU_GET_VRING_BASE, &s, sizeof s, -1, &s, sizeof s))
				klog("%s", v->err);
			else if (s.index != i)
				klog("vhost-user %s: GET_VRING_BASE (ring %u): the reply names ring %u", v->path,
				     i, s.index);
			v->ctx_ring = -1;
		}
		r->started = 0;
		close_fd(&r->kickfd);
		close_fd(&r->callfd);
	}
}

/* ---- virtio_ops */

static struct vu_dev *vu_of(struct virtio_dev *d) { return d->priv; }

static void vu_reset(struct virtio_dev *d)
{
	struct vu_dev *v = vu_of(d);
	vu_stop_rings(v);
	v->status = 0;
}

static uint8_t vu_get_status(struct virtio_dev *d)
{
	struct vu_dev *v = vu_of(d);
	return (uint8_t)(v->status | (v->dead ? VIRTIO_STATUS_NEEDS_RESET : 0));
}

/* Kept here: the backend has no status register. The rings were set up
 * by queue_enable, so DRIVER_OK needs no message. */
static void vu_set_status(struct virtio_dev *d, uint8_t status)
{
	struct vu_dev *v = vu_of(d);
	if (status == 0) {
		vu_reset(d);
		return;
	}
	v->status = status;
}

static uint64_t vu_get_features(struct virtio_dev *d) { return vu_offered(vu_of(d)); }

static int vu_set_features(struct virtio_dev *d, uint64_t features)
{
	struct vu_dev *v = vu_of(d);
	int rc;
	if (features & ~vu_offered(v)) {
		vu_fail(v, -EINVAL, "SET_FEATURES", "features 0x%llx were not offered (offered 0x%llx)",
			(unsigned long long)features, (unsigned long long)vu_offered(v));
		klog("%s", v->err);
		return -EINVAL;
	}
	if (!v->owner_set) {
		if ((rc = vu_call(v, VU_SET_OWNER, NULL, 0, -1, NULL, 0)))
			goto fail;
		v->owner_set = 1;
	}
	/* the synthesized bits stay here unless the backend offered them too */
	uint64_t wire = (features & v->backend_features) |
			(v->has_protocol ? VIRTIO_F_BIT(VU_F_PROTOCOL_FEATURES) : 0);
	if ((rc = vu_set_u64(v, VU_SET_FEATURES, wire, -1)))
		goto fail;
	return 0;
fail:
	klog("%s", v->err);
	return rc;
}

static void vu_read_config(struct virtio_dev *d, uint32_t off, void *buf, uint32_t len)
{
	const uint8_t *c = (const uint8_t *)&vu_of(d)->cfg;
	uint8_t *b = buf;
	for (uint32_t i = 0; i < len; i++)
		b[i] = (uint64_t)off + i < sizeof(struct virtio_net_config) ? c[off + i] : 0;
}

static uint16_t vu_queue_max(struct virtio_dev *d, uint16_t idx)
{
	return idx < 2u * vu_of(d)->queue_pairs ? VHOST_USER_RING_SIZE : 0;
}

/* One region: the device-visible memfd, guest address == our address.
 * The backend translates every address it is given (rings, descriptors)
 * through this table and refuses what falls outside, so private memory
 * (shadows, pktbuf metadata, connections, arenas) is out of its reach:
 * it lives in anonymous memory that was never passed over the socket. */
static int vu_set_mem_table(struct vu_dev *v)
{
	struct vu_mem_table t;
	memset(&t, 0, sizeof t);
	t.nregions = 1;
	t.regions[0] = (struct vu_mem_region){
		.guest_phys_addr = v->mem_base,     /* guest address == our address */
		.memory_size = v->mem_size,
		.userspace_addr = v->mem_base,
		.mmap_offset = 0,
	};
	uint32_t size = (uint32_t)(offsetof(struct vu_mem_table, regions) + sizeof t.regions[0]);
	return vu_call(v, VU_SET_MEM_TABLE, &t, size, v->mem_fd, NULL, 0);
}

static int vu_queue_enable(struct virtio_dev *d, struct virtq *q)
{
	struct vu_dev *v = vu_of(d);
	uint32_t i = q->qidx;
	int kick = -1, call = -1, rc;
	const char *step = "queue_enable";
	v->ctx_ring = (int)i;
	if (i >= 2u * v->queue_pairs) {
		rc = vu_fail(v, -EINVAL, step, "no such ring (%u queue pairs)", v->queue_pairs);
		goto fail;
	}
	if (v->ring[i].started) {
		rc = vu_fail(v, -EBUSY, step, "already enabled");
		goto fail;
	}
	if (q->size == 0 || q->size > VHOST_USER_RING_SIZE || (q->size & (q->size - 1))) {
		rc = vu_fail(v, -EINVAL, step, "size %u is not a power of two up to %u", q->size,
			     VHOST_USER_RING_SIZE);
		goto fail;
	}
	uint64_t desc = virtq_desc_addr(q), avail = virtq_avail_addr(q), used = virtq_used_addr(q);
	if (!vu_in_mem(v, desc, 16ull * q->size) || !vu_in_mem(v, avail, 6ull + 2ull * q->size) ||
	    !vu_in_mem(v, used, 6ull + 8ull * q->size)) {
		rc = vu_fail(v, -EFAULT, step, "rings at 0x%llx are outside the shared memory 0x%llx+0x%zx",
			     (unsigned long long)desc, (unsigned long long)v->mem_base, v->mem_size);
		goto fail;
	}
	if (!v->mem_sent) {
		if ((rc = vu_set_mem_table(v)))
			goto fail;
		v->mem_sent = 1;
	}
	kick = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	call = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (kick < 0 || call < 0) {
		int e = errno;
		rc = vu_fail(v, -e, step, "eventfd: %s", strerror(e));
		goto fail;
	}
	struct vu_vring_addr a = { .index = i, .flags = 0, .desc = desc, .used = used, .avail = avail, .log = 0 };
	if ((rc = vu_set_state(v, VU_SET_VRING_NUM, i, q->size)) ||
	    (rc = vu_set_state(v, VU_SET_VRING_BASE, i, 0)) ||
	    (rc = vu_call(v, VU_SET_VRING_ADDR, &a, sizeof a, -1, NULL, 0)) ||
	    (rc = vu_set_u64(v, VU_SET_VRING_KICK, i, kick)) ||
	    (rc = vu_set_u64(v, VU_SET_VRING_CALL, i, call)))
		goto fail;
	/* with protocol features a ring starts disabled */
	if (v->has_protocol && (rc = vu_set_state(v, VU_SET_VRING_ENABLE, i, 1)))
		goto fail;
	v->ring[i].kickfd = kick;
	v->ring[i].callfd = call;
	v->ring[i].started = 1;
	v->ctx_ring = -1;
	return 0;
fail:
	if (kick >= 0)
		close(kick);
	if (call >= 0)
		close(call);
	v->ctx_ring = -1;
	klog("%s", v->err);
	return rc;
}

/* Data path, the queue's owner core: one eventfd write. EAGAIN means the
 * counter is saturated, i.e. a kick is already pending: nothing lost. */
static void vu_notify(struct virtio_dev *d, struct virtq *q)
{
	struct vu_dev *v = vu_of(d);
	if (q->qidx >= VU_MAX_RINGS)
		return;
	uint64_t one = 1;
	ssize_t n = write(v->ring[q->qidx].kickfd, &one, sizeof one);
	(void)n;
}

static uint16_t vu_max_queue_pairs(struct virtio_dev *d) { return vu_of(d)->queue_pairs; }

static const struct virtio_ops vu_ops = {
	.name = "vhost-user",
	.reset = vu_reset,
	.get_status = vu_get_status,
	.set_status = vu_set_status,
	.get_features = vu_get_features,
	.set_features = vu_set_features,
	.read_config = vu_read_config,
	.queue_max = vu_queue_max,
	.queue_enable = vu_queue_enable,
	.notify = vu_notify,
	.max_queue_pairs = vu_max_queue_pairs,
};

/* ---- set-up */

/* Features, then protocol features (MQ and REPLY_ACK where offered), then
 * how many queue pairs the backend has. */
static int vu_handshake(struct vu_dev *v, uint16_t *pairs)
{
	int rc;
	if ((rc = vu_get_u64(v, VU_GET_FEATURES, &v->backend_features)))
		return rc;
	if (!(v->backend_features & VIRTIO_F_BIT(VIRTIO_F_VERSION_1)))
		return vu_fail(v, -ENOTSUP, "GET_FEATURES", "the backend lacks VIRTIO_F_VERSION_1 (offers 0x%llx)",
			       (unsigned long long)v->backend_features);
	uint64_t max_pairs = 1;
	if (v->backend_features & VIRTIO_F_BIT(VU_F_PROTOCOL_FEATURES)) {
		uint64_t offered, want;
		if ((rc = vu_get_u64(v, VU_GET_PROTOCOL_FEATURES, &offered)))
			return rc;
		want = offered & (VIRTIO_F_BIT(VU_PROTOCOL_F_MQ) | VIRTIO_F_BIT(VU_PROTOCOL_F_REPLY_ACK));
		/* sent before REPLY_ACK is in force: no ack asked */
		if ((rc = vu_set_u64(v, VU_SET_PROTOCOL_FEATURES, want, -1)))
			return rc;
		v->has_protocol = 1;
		v->protocol_features = want;
		v->reply_ack = (want & VIRTIO_F_BIT(VU_PROTOCOL_F_REPLY_ACK)) != 0;
		if (want & VIRTIO_F_BIT(VU_PROTOCOL_F_MQ)) {
			if ((rc = vu_get_u64(v, VU_GET_QUEUE_NUM, &max_pairs)))
				return rc;
			if (max_pairs == 0)
				return vu_fail(v, -EPROTO, "GET_QUEUE_NUM", "the backend has no queues");
		}
	}
	if (*pairs > max_pairs) {
		klog("vhost-user %s: the backend has %llu queue pair%s: using %llu of the %u asked for", v->path,
		     (unsigned long long)max_pairs, max_pairs == 1 ? "" : "s", (unsigned long long)max_pairs, *pairs);
		*pairs = (uint16_t)max_pairs;
	}
	return 0;
}

struct virtio_dev *vhost_user_connect(const char *path, uint16_t queue_pairs, int mem_fd, void *mem_base,
				      size_t mem_size, const uint8_t mac[6], int timeout_ms, char *err,
				      size_t errlen)
{
	if (!path || !*path) {
		snprintf(err, errlen, "vhost-user: no socket path");
		return NULL;
	}
	if (strlen(path) >= sizeof ((struct vu_dev *)0)->path) {
		snprintf(err, errlen, "vhost-user %.60s...: connect: socket path longer than %zu bytes", path,
			 sizeof ((struct vu_dev *)0)->path - 1);
		return NULL;
	}
	if (queue_pairs == 0 || queue_pairs > VHOST_USER_MAX_QUEUE_PAIRS || mem_fd < 0 || !mem_base ||
	    !mem_size || !mac) {
		snprintf(err, errlen, "vhost-user %s: bad arguments (queue pairs %u, must be 1..%u; memfd %d, "
			 "%zu bytes at %p)", path, queue_pairs, VHOST_USER_MAX_QUEUE_PAIRS, mem_fd, mem_size,
			 mem_base);
		return NULL;
	}
	struct vu_dev *v = calloc(1, sizeof *v);
	if (!v) {
		snprintf(err, errlen, "vhost-user %s: out of memory", path);
		return NULL;
	}
	v->sock = -1;
	v->ctx_ring = -1;
	for (int i = 0; i < VU_MAX_RINGS; i++)
		v->ring[i].kickfd = v->ring[i].callfd = -1;
	snprintf(v->path, sizeof v->path, "%s", path);
	v->mem_fd = mem_fd;
	v->mem_base = (uintptr_t)mem_base;
	v->mem_size = mem_size;
	if (vu_open(v, timeout_ms) || vu_handshake(v, &queue_pairs))
		goto fail;
	v->queue_pairs = queue_pairs;
	memcpy(v->cfg.mac, mac, 6);
	v->cfg.status = VIRTIO_NET_S_LINK_UP;
	v->cfg.max_virtqueue_pairs = queue_pairs;
	v->cfg.mtu = 1500;
	v->dev.ops = &vu_ops;
	v->dev.priv = v;
	v->dev.device_id = VIRTIO_ID_NET;
	snprintf(v->dev.name, sizeof v->dev.name, "vhost-user %s", path);
	if (virtio_dev_register(&v->dev)) {
		vu_fail(v, -ENOSPC, "register", "more than %d virtio devices", VIRTIO_MAX_DEVS);
		goto fail;
	}
	return &v->dev;
fail:
	snprintf(err, errlen, "%s", v->err);
	close_fd(&v->sock);
	free(v);
	return NULL;
}
