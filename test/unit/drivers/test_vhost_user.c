/*
 * test_vhost_user.c — the vhost-user transport (src/drivers/vhost_user.c)
 * against a scripted fake backend: a thread serving a UNIX socket that
 * records every message (header, payload, passed descriptors) and answers
 * as told. Checks the message sequence and formats, feature and queue
 * bounding, and every failure path: no backend, a late backend, a backend
 * without VERSION_1, one that hangs up, one that answers the wrong
 * request, one that refuses a request. test_vhost_user_live.c covers the
 * same transport against DPDK.
 *
 * Each Test runs in its own process (Criterion's default), so the global
 * virtio device registry starts empty in each.
 */
#include <errno.h>
#include <dirent.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <criterion/criterion.h>
#include "core/core.h"
#include "drivers/vhost_user.h"
#include "drivers/virtio.h"
#include "drivers/virtq.h"

void klog(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* the protocol, as the spec writes it (independent of vhost_user.c) */
enum {
	GET_FEATURES = 1, SET_FEATURES = 2, SET_OWNER = 3, SET_MEM_TABLE = 5, SET_VRING_NUM = 8,
	SET_VRING_ADDR = 9, SET_VRING_BASE = 10, GET_VRING_BASE = 11, SET_VRING_KICK = 12,
	SET_VRING_CALL = 13, GET_PROTOCOL_FEATURES = 15, SET_PROTOCOL_FEATURES = 16, GET_QUEUE_NUM = 17,
	SET_VRING_ENABLE = 18,
};
#define F_REPLY (1u << 2)
#define F_NEED_REPLY (1u << 3)
#define F_PROTOCOL (1ull << 30)
#define P_MQ (1ull << 0)
#define P_REPLY_ACK (1ull << 3)
#define P_CONFIG (1ull << 9)
#define BIT(b) (1ull << (b))

struct rec {
	uint32_t req, flags, size;
	uint8_t payload[256];
	int fd;                         /* the one passed descriptor, or -1 */
};

struct fake {
	char path[108];
	/* behaviour, set before fake_start */
	uint64_t features, protocol, queue_num;
	uint32_t hang_up_on;            /* close on receiving this request, unanswered */
	uint32_t refuse;                /* ack this request with status 1 */
	uint32_t wrong_reply_to;        /* answer this GET_* as if it were another request */
	int listen_after_ms;
	/* the thread */
	pthread_t th;
	int lfd, cfd;
	_Atomic int stop;
	int joined;
	pthread_mutex_t lock;
	struct rec msgs[64];
	int n;                          /* guarded by lock */
};

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;
	while (d && readdir(d))
		n++;
	if (d)
		closedir(d);
	return n;
}

static int read_full(int fd, void *b, size_t n, int *passed)
{
	size_t off = 0;
	while (off < n) {
		union {
			char buf[CMSG_SPACE(sizeof(int))];
			struct cmsghdr align;
		} c;
		struct iovec iov = { (char *)b + off, n - off };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = c.buf,
				     .msg_controllen = sizeof c.buf };
		ssize_t r = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
		if (r <= 0)
			return -1;
		struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
		if (cm && cm->cmsg_type == SCM_RIGHTS && passed)
			memcpy(passed, CMSG_DATA(cm), sizeof(int));
		off += (size_t)r;
	}
	return 0;
}

static void reply(struct fake *f, uint32_t req, const void *p, uint32_t size)
{
	uint8_t b[12 + 64];
	uint32_t h[3] = { req, 1 | F_REPLY, size };
	memcpy(b, h, 12);
	memcpy(b + 12, p, size);
	ssize_t w = send(f->cfd, b, 12 + size, MSG_NOSIGNAL);
	(void)w;
}

static void *fake_main(void *arg)
{
	struct fake *f = arg;
	if (f->listen_after_ms)
		usleep((useconds_t)f->listen_after_ms * 1000);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	strcpy(sa.sun_path, f->path);
	f->lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (bind(f->lfd, (struct sockaddr *)&sa, sizeof sa) || listen(f->lfd, 1))
		return NULL;
	struct pollfd p = { f->lfd, POLLIN, 0 };
	while (!f->stop && poll(&p, 1, 20) == 0)
		;
	if (f->stop)
		return NULL;
	f->cfd = accept(f->lfd, NULL, NULL);
	for (;;) {
		p = (struct pollfd){ f->cfd, POLLIN, 0 };
		int r = poll(&p, 1, 20);
		if (f->stop)
			break;
		if (r <= 0)
			continue;
		struct rec m = { .fd = -1 };
		uint32_t h[3];
		if (read_full(f->cfd, h, sizeof h, &m.fd) || h[2] > sizeof m.payload ||
		    read_full(f->cfd, m.payload, h[2], &m.fd))
			break;
		m.req = h[0];
		m.flags = h[1];
		m.size = h[2];
		pthread_mutex_lock(&f->lock);
		if (f->n < 64)
			f->msgs[f->n++] = m;
		pthread_mutex_unlock(&f->lock);
		if (m.req == f->hang_up_on)
			break;
		uint32_t as = m.req == f->wrong_reply_to ? m.req + 1 : m.req;
		uint64_t v;
		switch (m.req) {
		case GET_FEATURES: reply(f, as, &f->features, 8); break;
		case GET_PROTOCOL_FEATURES: reply(f, as, &f->protocol, 8); break;
		case GET_QUEUE_NUM: reply(f, as, &f->queue_num, 8); break;
		case GET_VRING_BASE: {
			uint32_t st[2];
			memcpy(st, m.payload, 8);
			st[1] = 42;
			reply(f, as, st, 8);
			break;
		}
		default:
			if (m.flags & F_NEED_REPLY) {
				v = m.req == f->refuse;
				reply(f, m.req, &v, 8);
			}
		}
	}
	close(f->cfd);
	f->cfd = -1;
	return NULL;
}

static struct fake *fake_new(void)
{
	struct fake *f = calloc(1, sizeof *f);
	snprintf(f->path, sizeof f->path, "/tmp/pollux-vu-fake-%d.sock", (int)getpid());
	unlink(f->path);
	f->features = BIT(VIRTIO_F_VERSION_1) | BIT(VIRTIO_RING_F_EVENT_IDX) | BIT(VIRTIO_NET_F_MRG_RXBUF) |
		      BIT(VIRTIO_NET_F_MQ) | BIT(VIRTIO_NET_F_CTRL_VQ) | BIT(26) | F_PROTOCOL;
	f->protocol = P_MQ | P_REPLY_ACK | P_CONFIG;
	f->queue_num = 4;
	f->lfd = f->cfd = -1;
	pthread_mutex_init(&f->lock, NULL);
	return f;
}

static void fake_start(struct fake *f) { pthread_create(&f->th, NULL, fake_main, f); }

/* The backend goes away (its connection closes). */
static void fake_halt(struct fake *f)
{
	if (f->joined)
		return;
	f->stop = 1;
	pthread_join(f->th, NULL);
	f->joined = 1;
}

static void fake_stop(struct fake *f)
{
	fake_halt(f);
	if (f->lfd >= 0)
		close(f->lfd);
	for (int i = 0; i < f->n; i++)
		if (f->msgs[i].fd >= 0)
			close(f->msgs[i].fd);
	unlink(f->path);
	free(f);
}

/* Waits until the fake has recorded n messages (those sent without a
 * reply may still be in flight). */
static int fake_wait(struct fake *f, int n)
{
	for (int i = 0; i < 200; i++) {
		pthread_mutex_lock(&f->lock);
		int have = f->n;
		pthread_mutex_unlock(&f->lock);
		if (have >= n)
			return have;
		usleep(5000);
	}
	return f->n;
}

static uint64_t u64_of(const struct rec *m)
{
	uint64_t v;
	memcpy(&v, m->payload, 8);
	return v;
}

/* ---- shared memory for rings */
#define MEM_SIZE (4u << 20)
static int mem_fd = -1;
static uint8_t *mem;
static const uint8_t mac[6] = { 0x02, 0x50, 0x4c, 0x58, 0, 7 };

static void mem_setup(void)
{
	mem_fd = memfd_create("vu-unit", MFD_CLOEXEC);
	cr_assert(mem_fd >= 0 && ftruncate(mem_fd, MEM_SIZE) == 0);
	mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, mem_fd, 0);
	cr_assert(mem != MAP_FAILED);
}

static void mem_teardown(void)
{
	munmap(mem, MEM_SIZE);
	close(mem_fd);
}

TestSuite(vhost_user, .init = mem_setup, .fini = mem_teardown, .timeout = 30);

static void check_state(const struct rec *m, uint32_t req, uint32_t index, uint32_t num)
{
	uint32_t st[2];
	memcpy(st, m->payload, 8);
	cr_expect_eq(m->req, req, "request %u, expected %u", m->req, req);
	cr_expect_eq(m->size, 8);
	cr_expect(st[0] == index && st[1] == num, "request %u: {%u, %u}, expected {%u, %u}", req, st[0], st[1],
		  index, num);
}

Test(vhost_user, handshake_rings_and_kick)
{
	struct fake *f = fake_new();
	fake_start(f);
	char err[256] = "";
	struct virtio_dev *d = vhost_user_connect(f->path, 2, mem_fd, mem, MEM_SIZE, mac, 2000, err, sizeof err);
	cr_assert(d, "%s", err);
	cr_expect_str_eq(d->ops->name, "vhost-user");
	cr_expect_eq(d->device_id, VIRTIO_ID_NET);
	cr_expect_eq(virtio_dev_get(0), d);
	cr_expect_eq(d->ops->max_queue_pairs(d), 2);
	cr_expect_eq(d->ops->queue_max(d, 3), VHOST_USER_RING_SIZE);
	cr_expect_eq(d->ops->queue_max(d, 4), 0, "no control queue after the data rings");

	/* the driver's view: no CTRL_VQ, MQ, log or protocol bit; MAC, STATUS synthesized */
	uint64_t f_drv = d->ops->get_features(d);
	cr_expect_eq(f_drv, BIT(VIRTIO_F_VERSION_1) | BIT(VIRTIO_RING_F_EVENT_IDX) | BIT(VIRTIO_NET_F_MRG_RXBUF) |
			    BIT(VIRTIO_NET_F_MAC) | BIT(VIRTIO_NET_F_STATUS), "0x%llx", (unsigned long long)f_drv);
	uint64_t wanted = BIT(VIRTIO_F_VERSION_1) | BIT(VIRTIO_NET_F_MAC) | BIT(VIRTIO_NET_F_STATUS) |
			  BIT(VIRTIO_RING_F_EVENT_IDX) | BIT(VIRTIO_NET_F_CTRL_VQ) | BIT(VIRTIO_NET_F_MQ);
	cr_assert_eq(virtio_negotiate(d, wanted, BIT(VIRTIO_F_VERSION_1), err, sizeof err), 0, "%s", err);
	cr_expect(d->ops->get_status(d) & VIRTIO_STATUS_FEATURES_OK);

	struct virtio_net_config cfg;
	d->ops->read_config(d, 0, &cfg, sizeof cfg);
	cr_expect(!memcmp(cfg.mac, mac, 6));
	cr_expect_eq(cfg.status, VIRTIO_NET_S_LINK_UP);
	cr_expect_eq(cfg.max_virtqueue_pairs, 2);
	cr_expect_eq(cfg.mtu, 1500);
	uint8_t tail[4] = { 9, 9, 9, 9 };
	d->ops->read_config(d, 10, tail, 4);
	cr_expect(tail[0] == 0xdc && tail[1] == 0x05 && tail[2] == 0 && tail[3] == 0, "mtu, then zeros past the end");

	struct virtq rx, tx;
	uint16_t size = 256;
	static struct virtq_slot rx_shadow[256], tx_shadow[256];
	virtq_init(&rx, 0, size, mem, rx_shadow, 1);
	virtq_init(&tx, 1, size, mem + (1u << 20), tx_shadow, 1);
	cr_assert_eq(d->ops->queue_enable(d, &rx), 0);
	cr_assert_eq(d->ops->queue_enable(d, &tx), 0);
	d->ops->set_status(d, VIRTIO_STATUS_ACK | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK |
			   VIRTIO_STATUS_DRIVER_OK);
	cr_expect_eq(d->ops->get_status(d) & VIRTIO_STATUS_DRIVER_OK, VIRTIO_STATUS_DRIVER_OK);

	int n = fake_wait(f, 19);
	cr_assert_eq(n, 19, "%d messages", n);
	struct rec *m = f->msgs;
	cr_expect_eq(m[0].req, GET_FEATURES);
	cr_expect_eq(m[0].flags, 1u, "version 1, no NEED_REPLY on a GET");
	cr_expect_eq(m[1].req, GET_PROTOCOL_FEATURES);
	cr_expect_eq(m[2].req, SET_PROTOCOL_FEATURES);
	cr_expect_eq(u64_of(&m[2]), P_MQ | P_REPLY_ACK, "only MQ and REPLY_ACK asked for");
	cr_expect_eq(m[3].req, GET_QUEUE_NUM);
	cr_expect_eq(m[4].req, SET_OWNER);
	cr_expect_eq(m[4].flags, 1u | F_NEED_REPLY);
	cr_expect_eq(m[5].req, SET_FEATURES);
	cr_expect_eq(u64_of(&m[5]), BIT(VIRTIO_F_VERSION_1) | BIT(VIRTIO_RING_F_EVENT_IDX) | F_PROTOCOL,
		     "synthesized bits stay local, the protocol bit goes: 0x%llx", (unsigned long long)u64_of(&m[5]));

	/* SET_MEM_TABLE: one region, guest address == our address, our memfd */
	cr_expect_eq(m[6].req, SET_MEM_TABLE);
	cr_expect_eq(m[6].size, 8 + 32);
	uint32_t nreg;
	uint64_t reg[4];
	memcpy(&nreg, m[6].payload, 4);
	memcpy(reg, m[6].payload + 8, 32);
	cr_expect_eq(nreg, 1);
	cr_expect(reg[0] == (uintptr_t)mem && reg[1] == MEM_SIZE && reg[2] == (uintptr_t)mem && reg[3] == 0);
	struct stat a, b;
	cr_assert(m[6].fd >= 0, "the memfd travels with SET_MEM_TABLE");
	fstat(m[6].fd, &a);
	fstat(mem_fd, &b);
	cr_expect(a.st_ino == b.st_ino && a.st_dev == b.st_dev, "it is our memfd");

	for (uint32_t q = 0; q < 2; q++) {
		struct rec *r = &m[7 + 6 * q];
		struct virtq *vq = q ? &tx : &rx;
		check_state(&r[0], SET_VRING_NUM, q, size);
		check_state(&r[1], SET_VRING_BASE, q, 0);
		cr_expect_eq(r[2].req, SET_VRING_ADDR);
		cr_expect_eq(r[2].size, 40);
		uint32_t ai[2];
		uint64_t aa[4];
		memcpy(ai, r[2].payload, 8);
		memcpy(aa, r[2].payload + 8, 32);
		cr_expect(ai[0] == q && ai[1] == 0);
		cr_expect(aa[0] == virtq_desc_addr(vq) && aa[1] == virtq_used_addr(vq) &&
			  aa[2] == virtq_avail_addr(vq) && aa[3] == 0, "desc, used, avail, log in that order");
		cr_expect(r[3].req == SET_VRING_KICK && u64_of(&r[3]) == q && r[3].fd >= 0);
		cr_expect(r[4].req == SET_VRING_CALL && u64_of(&r[4]) == q && r[4].fd >= 0);
		check_state(&r[5], SET_VRING_ENABLE, q, 1);
		for (int k = 0; k < 6; k++)
			cr_expect(r[k].flags & F_NEED_REPLY, "REPLY_ACK is used (request %u)", r[k].req);
	}
	cr_expect_eq(m[13].req, SET_VRING_NUM, "SET_MEM_TABLE only once");

	/* notify: one write of 1 to the ring's kick eventfd */
	d->ops->notify(d, &tx);
	uint64_t v = 0;
	cr_expect_eq(read(m[16].fd, &v, 8), 8);
	cr_expect_eq(v, 1);
	cr_expect_eq(read(m[10].fd, &v, 8), -1, "RX ring not kicked");

	/* reset stops both rings */
	d->ops->reset(d);
	n = fake_wait(f, 21);
	cr_expect_eq(n, 21);
	check_state(&m[19], GET_VRING_BASE, 0, 0);
	check_state(&m[20], GET_VRING_BASE, 1, 0);
	cr_expect_eq(d->ops->get_status(d), 0);
	fake_stop(f);
}

Test(vhost_user, without_protocol_features)
{
	struct fake *f = fake_new();
	f->features = BIT(VIRTIO_F_VERSION_1) | BIT(VIRTIO_NET_F_MAC);
	fake_start(f);
	char err[256] = "";
	struct virtio_dev *d = vhost_user_connect(f->path, 4, mem_fd, mem, MEM_SIZE, mac, 2000, err, sizeof err);
	cr_assert(d, "%s", err);
	cr_expect_eq(d->ops->max_queue_pairs(d), 1, "no MQ: one pair whatever was asked");
	cr_expect_eq(d->ops->queue_max(d, 2), 0);
	cr_assert_eq(virtio_negotiate(d, BIT(VIRTIO_F_VERSION_1) | BIT(VIRTIO_NET_F_MAC), 0, err, sizeof err), 0);
	struct virtq rx;
	static struct virtq_slot shadow[64];
	virtq_init(&rx, 0, 64, mem, shadow, 0);
	cr_assert_eq(d->ops->queue_enable(d, &rx), 0);
	int n = fake_wait(f, 9);
	cr_assert_eq(n, 9, "GET_FEATURES SET_OWNER SET_FEATURES MEM_TABLE NUM BASE ADDR KICK CALL: %d", n);
	cr_expect_eq(f->msgs[1].req, SET_OWNER);
	cr_expect_eq(u64_of(&f->msgs[2]), BIT(VIRTIO_F_VERSION_1) | BIT(VIRTIO_NET_F_MAC),
		     "MAC offered by the backend goes to it; no protocol bit");
	cr_expect_eq(f->msgs[8].req, SET_VRING_CALL, "no SET_VRING_ENABLE without protocol features");
	for (int i = 0; i < 9; i++)
		cr_expect_eq(f->msgs[i].flags, 1u, "no NEED_REPLY without REPLY_ACK");
	fake_stop(f);
}

Test(vhost_user, queue_pairs_bounded_by_backend)
{
	struct fake *f = fake_new();
	f->queue_num = 2;
	fake_start(f);
	char err[256] = "";
	struct virtio_dev *d = vhost_user_connect(f->path, 8, mem_fd, mem, MEM_SIZE, mac, 2000, err, sizeof err);
	cr_assert(d, "%s", err);
	cr_expect_eq(d->ops->max_queue_pairs(d), 2);
	struct virtio_net_config cfg;
	d->ops->read_config(d, 0, &cfg, sizeof cfg);
	cr_expect_eq(cfg.max_virtqueue_pairs, 2);
	fake_stop(f);
}

Test(vhost_user, no_backend_times_out)
{
	char err[256] = "";
	int fds = count_fds();
	double t0 = now_s();
	struct virtio_dev *d = vhost_user_connect("/tmp/pollux-vu-nothing-here.sock", 1, mem_fd, mem, MEM_SIZE,
						  mac, 150, err, sizeof err);
	double dt = now_s() - t0;
	cr_expect_null(d);
	cr_expect(strstr(err, "/tmp/pollux-vu-nothing-here.sock") && strstr(err, "connect"), "%s", err);
	cr_expect(dt >= 0.14 && dt < 1.5, "%.3f s", dt);
	cr_expect_eq(count_fds(), fds, "no descriptor leaked");
}

Test(vhost_user, late_backend_is_waited_for)
{
	struct fake *f = fake_new();
	f->listen_after_ms = 200;
	fake_start(f);
	char err[256] = "";
	struct virtio_dev *d = vhost_user_connect(f->path, 1, mem_fd, mem, MEM_SIZE, mac, 5000, err, sizeof err);
	cr_expect(d, "%s", err);
	fake_stop(f);
}

/* (descriptors are counted with the fake's own closed too: it shares the process) */
Test(vhost_user, backend_without_version_1)
{
	int fds = count_fds();
	struct fake *f = fake_new();
	f->features = BIT(VIRTIO_NET_F_MAC) | F_PROTOCOL;
	fake_start(f);
	char err[256] = "";
	struct virtio_dev *d = vhost_user_connect(f->path, 1, mem_fd, mem, MEM_SIZE, mac, 2000, err, sizeof err);
	cr_expect_null(d);
	cr_expect(strstr(err, f->path) && strstr(err, "GET_FEATURES") && strstr(err, "VIRTIO_F_VERSION_1"), "%s",
		  err);
	cr_expect_eq(virtio_dev_count(), 0);
	fake_stop(f);
	cr_expect_eq(count_fds(), fds, "socket closed");
}

Test(vhost_user, backend_hangs_up)
{
	int fds = count_fds();
	struct fake *f = fake_new();
	f->hang_up_on = GET_PROTOCOL_FEATURES;
	fake_start(f);
	char err[256] = "";
	struct virtio_dev *d = vhost_user_connect(f->path, 1, mem_fd, mem, MEM_SIZE, mac, 2000, err, sizeof err);
	cr_expect_null(d);
	cr_expect(strstr(err, f->path) && strstr(err, "GET_PROTOCOL_FEATURES") && strstr(err, "closed"), "%s", err);
	fake_stop(f);
	cr_expect_eq(count_fds(), fds, "socket closed");
}

Test(vhost_user, reply_to_the_wrong_request)
{
	struct fake *f = fake_new();
	f->wrong_reply_to = GET_QUEUE_NUM;
	fake_start(f);
	char err[256] = "";
	struct virtio_dev *d = vhost_user_connect(f->path, 1, mem_fd, mem, MEM_SIZE, mac, 2000, err, sizeof err);
	cr_expect_null(d);
	cr_expect(strstr(err, "GET_QUEUE_NUM") && strstr(err, "unexpected"), "%s", err);
	fake_stop(f);
}

Test(vhost_user, refused_request_and_lost_backend)
{
	struct fake *f = fake_new();
	f->refuse = SET_VRING_ADDR;
	fake_start(f);
	char err[256] = "";
	struct virtio_dev *d = vhost_user_connect(f->path, 1, mem_fd, mem, MEM_SIZE, mac, 2000, err, sizeof err);
	cr_assert(d, "%s", err);
	cr_assert_eq(virtio_negotiate(d, BIT(VIRTIO_F_VERSION_1), 0, err, sizeof err), 0, "%s", err);
	struct virtq rx, outside;
	static struct virtq_slot shadow[64], shadow2[64];
	virtq_init(&rx, 0, 64, mem, shadow, 0);
	cr_expect_eq(d->ops->queue_enable(d, &rx), -EREMOTEIO, "a refusal is an error");
	cr_expect_eq(d->ops->get_status(d) & VIRTIO_STATUS_NEEDS_RESET, 0, "but the connection is still good");
	static uint8_t elsewhere[65536] __attribute__((aligned(4096)));
	virtq_init(&outside, 1, 64, elsewhere, shadow2, 0);
	cr_expect_eq(d->ops->queue_enable(d, &outside), -EFAULT, "rings outside the shared memory");
	/* the backend goes away: errors, never a crash */
	fake_halt(f);
	cr_expect_lt(d->ops->set_features(d, BIT(VIRTIO_F_VERSION_1)), 0);
	cr_expect(d->ops->get_status(d) & VIRTIO_STATUS_NEEDS_RESET);
	cr_expect_lt(d->ops->set_features(d, BIT(VIRTIO_F_VERSION_1)), 0, "and stays failed");
	fake_stop(f);
}

Test(vhost_user, bad_arguments)
{
	char err[256] = "";
	cr_expect_null(vhost_user_connect("/tmp/x.sock", 0, mem_fd, mem, MEM_SIZE, mac, 0, err, sizeof err));
	cr_expect(strstr(err, "queue pairs"), "%s", err);
	cr_expect_null(vhost_user_connect("/tmp/x.sock", 1, -1, mem, MEM_SIZE, mac, 0, err, sizeof err));
	char longp[200];
	memset(longp, 'a', sizeof longp - 1);
	longp[0] = '/';
	longp[sizeof longp - 1] = 0;
	cr_expect_null(vhost_user_connect(longp, 1, mem_fd, mem, MEM_SIZE, mac, 0, err, sizeof err));
	cr_expect(strstr(err, "longer"), "%s", err);
}
