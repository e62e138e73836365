/*
 * fuzz_vhost_user.c — libFuzzer target: a hostile vhost-user backend
 * against the frontend (src/drivers/vhost_user.c). The backend is a
 * thread on a UNIX socket that answers every connection with the input's
 * bytes as its whole side of the conversation (replies to GET_FEATURES,
 * GET_PROTOCOL_FEATURES, GET_QUEUE_NUM, REPLY_ACK acks, GET_VRING_BASE,
 * or anything else), optionally with a descriptor attached, then hangs
 * up its side; it reads and drops whatever the frontend sends.
 *
 * The frontend connects (vhost_user_connect), and when that succeeds
 * negotiates features, enables the asked rings (rings in the shared
 * memfd, shadows private) and resets the device (GET_VRING_BASE per
 * started ring). Checked: nothing crashes (ASan, UBSan); a reply stream
 * that ends early is an error, never a hang (the frontend's 30 s reply
 * timeout would show as a slow unit); and after every input, with the
 * device freed, the frontend holds no descriptor (as many sockets and
 * eventfds open as before the input).
 *
 * Input: one set-up byte (bit 0: attach an eventfd to the first reply
 * bytes; bits 1-2: queue pairs asked, 1 + n; bit 3: stop after connect;
 * bit 4: enable only the first ring), then the backend's bytes.
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include "drivers/vhost_user.c"
#include "drivers/virtio.c"

/* FUZZ_VU_VERBOSE=1 prints the frontend's messages (to read a seed) */
void klog(const char *fmt, ...)
{
	if (!getenv("FUZZ_VU_VERBOSE"))
		return;
	va_list ap;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

#define MEM_SIZE (1u << 20)
#define RING 64

static char path[108];
static int lfd = -1, mem_fd = -1;
static uint8_t *mem;
static pthread_t th;
static sem_t done;
/* the current input's script, set before each connect */
static const uint8_t *script;
static size_t script_len;
static int script_fd;

/* One connection at a time: the script, our side shut, then drain. */
static void *backend(void *arg)
{
	(void)arg;
	for (;;) {
		int c = accept(lfd, NULL, NULL);
		if (c < 0)
			continue;
		size_t off = 0;
		if (script_fd && script_len) {
			union {
				char buf[CMSG_SPACE(sizeof(int))];
				struct cmsghdr align;
			} cb;
			memset(&cb, 0, sizeof cb);
			int efd = eventfd(0, EFD_CLOEXEC);
			struct iovec iov = { (void *)script, 1 };
			struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cb.buf,
					     .msg_controllen = sizeof cb.buf };
			struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
			cm->cmsg_level = SOL_SOCKET;
			cm->cmsg_type = SCM_RIGHTS;
			cm->cmsg_len = CMSG_LEN(sizeof(int));
			memcpy(CMSG_DATA(cm), &efd, sizeof efd);
			if (sendmsg(c, &mh, MSG_NOSIGNAL) == 1)
				off = 1;
			close(efd);
		}
		while (off < script_len) {
			ssize_t n = send(c, script + off, script_len - off, MSG_NOSIGNAL);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break;
			off += (size_t)n;
		}
		shutdown(c, SHUT_WR);
		char buf[4096];
		for (;;) {
			ssize_t n = read(c, buf, sizeof buf);
			if (n > 0 || (n < 0 && errno == EINTR))
				continue;
			break;
		}
		close(c);
		sem_post(&done);
	}
	return NULL;
}

static void cleanup(void)
{
	unlink(path);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	snprintf(path, sizeof path, "/tmp/pollux-fuzz-vu-%d.sock", (int)getpid());
	unlink(path);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	memcpy(sa.sun_path, path, strlen(path) + 1);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof sa) || listen(lfd, 4))
		abort();
	atexit(cleanup);
	mem_fd = memfd_create("fuzz-vu", MFD_CLOEXEC);
	if (mem_fd < 0 || ftruncate(mem_fd, MEM_SIZE))
		abort();
	mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, mem_fd, 0);
	if (mem == MAP_FAILED)
		abort();
	sem_init(&done, 0, 0);
	if (pthread_create(&th, NULL, backend, NULL))
		abort();
	return 0;
}

/* Sockets and eventfds this process holds: what the frontend opens. (A
 * plain descriptor count would race with libFuzzer's own thread, which
 * opens /proc files now and then.) */
static int our_fds(int print)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;
	struct dirent *e;
	while (d && (e = readdir(d))) {
		char l[300], t[64];
		snprintf(l, sizeof l, "/proc/self/fd/%s", e->d_name);
		ssize_t k = readlink(l, t, sizeof t - 1);
		if (k > 0 && (!strncmp(t, "socket:", 7) || !strncmp(t, "anon_inode:[eventfd]", 20))) {
			n++;
			if (print)
				fprintf(stderr, "  fd %s: %.*s\n", e->d_name, (int)k, t);
		}
	}
	if (d)
		closedir(d);
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t setup = data[0];
	script = data + 1;
	script_len = size - 1;
	script_fd = setup & 1;
	uint16_t pairs = (uint16_t)(1 + ((setup >> 1) & 3));
	int fds_before = our_fds(0);

	static const uint8_t mac[6] = { 2, 0, 0, 0, 0, 1 };
	char err[256];
	struct virtio_dev *d = vhost_user_connect(path, pairs, mem_fd, mem, MEM_SIZE, mac, 1000, err, sizeof err);
	if (!d)
		klog("%s", err);
	if (d && !(setup & 8)) {
		uint64_t wanted = VIRTIO_F_BIT(VIRTIO_F_VERSION_1) | VIRTIO_F_BIT(VIRTIO_NET_F_MAC) |
				  VIRTIO_F_BIT(VIRTIO_NET_F_STATUS) | VIRTIO_F_BIT(VIRTIO_RING_F_EVENT_IDX) |
				  VIRTIO_F_BIT(VIRTIO_NET_F_MRG_RXBUF);
		if (virtio_negotiate(d, wanted, VIRTIO_F_BIT(VIRTIO_F_VERSION_1), err, sizeof err) == 0) {
			static struct virtq q[2 * 4];
			static struct virtq_slot shadow[2 * 4][RING];
			uint16_t rings = (setup & 16) ? 1 : (uint16_t)(2 * d->ops->max_queue_pairs(d));
			for (uint16_t i = 0; i < rings && i < 8; i++) {
				if (virtq_init(&q[i], i, RING, mem + (size_t)i * virtq_memsize(RING), shadow[i], 1))
					abort();
				if (d->ops->queue_enable(d, &q[i]))
					break;
				klog("ring %u enabled", i);
			}
			d->ops->set_status(d, VIRTIO_STATUS_ACK | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK |
					   VIRTIO_STATUS_DRIVER_OK);
			(void)d->ops->get_status(d);
		} else {
			klog("%s", err);
		}
		d->ops->reset(d);               /* GET_VRING_BASE for each started ring */
	}
	if (d) {
		struct vu_dev *v = d->priv;
		vu_stop_rings(v);
		close_fd(&v->sock);
		free(v);
		ndevs = 0;                      /* the registry, for the next input */
	}
	/* the backend saw the hang-up. libFuzzer's SIGALRM (-timeout) ends a
	 * sem_wait early, SA_RESTART or not: an early return here once read
	 * as a descriptor leak */
	while (sem_wait(&done) && errno == EINTR)
		;
	int fds_after = our_fds(0);
	if (fds_after != fds_before) {
		fprintf(stderr, "descriptor leak: %d sockets and eventfds before, %d after\n", fds_before, fds_after);
		our_fds(1);
		abort();
	}
	return 0;
}
