/*
 * test_vhost_user_live.c — the vhost-user transport (src/drivers/
 * vhost_user.c) against a real backend: DPDK's dpdk-testpmd serving a
 * net_vhost port, in io forwarding mode. With a single port, testpmd pairs
 * port 0 with itself, so every frame we put on the TX ring comes back on
 * the RX ring; the test checks each one byte for byte.
 *
 * A plain program (not Criterion): it needs dpdk-testpmd (Debian package
 * dpdk-dev), runs it as a child in its own process group under a hard
 * deadline, kills it by PID at the end and removes the socket and DPDK's
 * runtime folder. Prints one line per failure and "N passed, M failed";
 * exit status 0 only if nothing failed, 77 if dpdk-testpmd is missing.
 *
 * Memory: one 64 MiB memfd (rings and buffers), on huge pages where the
 * host has them, as the hosted platform does. testpmd runs on 2 MiB huge pages when at least 128 are free
 * (--in-memory --single-file-segments), else with --no-huge.
 *
 * Build (from the repository root):
 *   gcc -std=gnu11 -O1 -g -Wall -Wextra -Werror -Wno-unused-parameter -Isrc -D_GNU_SOURCE \
 *       -DPOLLUX_HOSTED -o build/unit/drivers/test_vhost_user_live \
 *       test/unit/drivers/test_vhost_user_live.c src/drivers/vhost_user.c \
 *       src/drivers/virtio.c src/drivers/virtq.c
 */
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include "core/core.h"
#include "drivers/vhost_user.h"
#include "drivers/virtio.h"
#include "drivers/virtq.h"

/* ---- the one core.h function the sources under test call */
void klog(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	printf("  klog: ");
	vprintf(fmt, ap);
	printf("\n");
	va_end(ap);
}

/* ---- checks */
static int passed, failed;
#define CHECK(c, ...) do { \
	if (c) { passed++; } \
	else { failed++; printf("FAIL %s:%d: ", __FILE__, __LINE__); printf(__VA_ARGS__); printf("\n"); } \
} while (0)

#define MEM_SIZE (64u << 20)
#define RING 1024
#define RX_BUF (sizeof(struct virtio_net_hdr) + 2048)
#define RX_SLOT 2304                    /* RX_BUF rounded up */
#define TX_SLOT 128
#define FRAME_LEN 64
#define PAIRS 2
#define NFRAMES 512                     /* per pair */
#define RX_POSTED 512
#define MAX_AHEAD 256                   /* frames in flight, < RX_POSTED */
#define DEADLINE_S 90
#define STR(x) #x
#define XSTR(x) STR(x)                   /* the whole test, testpmd included */

static pid_t tp_pid = -1;
static char sock_path[108], log_path[128], prefix[64], rundir[160];

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
	if (!d)
		return -1;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static void rm_rundir(void)
{
	if (!rundir[0])
		return;
	DIR *d = opendir(rundir);
	if (d) {
		struct dirent *e;
		char p[512];
		while ((e = readdir(d)))
			if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
				snprintf(p, sizeof p, "%s/%s", rundir, e->d_name);
				unlink(p);
			}
		closedir(d);
	}
	rmdir(rundir);
	rmdir("/var/run/dpdk");         /* only if testpmd left it empty */
}

/* Stops testpmd (SIGINT: it prints its forward statistics and exits),
 * then SIGKILL after 5 s; by PID, its own process group. */
static int stop_testpmd(void)
{
	int status = -1;
	if (tp_pid <= 0)
		return -1;
	kill(-tp_pid, SIGINT);
	for (int i = 0; i < 500; i++) {
		if (waitpid(tp_pid, &status, WNOHANG) == tp_pid) {
			tp_pid = -1;
			return status;
		}
		usleep(10000);
	}
	kill(-tp_pid, SIGKILL);
	waitpid(tp_pid, &status, 0);
	tp_pid = -1;
	return status;
}

static void on_deadline(int sig)
{
	static const char m[] = "FAIL: deadline passed; killing dpdk-testpmd\n";
	ssize_t n = write(1, m, sizeof m - 1);
	(void)n;
	if (tp_pid > 0) {
		kill(-tp_pid, SIGKILL);
		waitpid(tp_pid, NULL, 0);
	}
	unlink(sock_path);
	_exit(2);
}

static const char *find_testpmd(void)
{
	const char *e = getenv("DPDK_TESTPMD");
	if (e && *e)
		return e;
	static const char *c[] = { "/usr/bin/dpdk-testpmd", "/usr/local/bin/dpdk-testpmd" };
	for (size_t i = 0; i < sizeof c / sizeof c[0]; i++)
		if (access(c[i], X_OK) == 0)
			return c[i];
	return NULL;
}

static long meminfo(const char *key)
{
	FILE *f = fopen("/proc/meminfo", "r");
	char line[128];
	long v = -1;
	size_t n = strlen(key);
	while (f && fgets(line, sizeof line, f))
		if (!strncmp(line, key, n) && line[n] == ':')
			v = atol(line + n + 1);
	if (f)
		fclose(f);
	return v;
}

static pid_t start_testpmd(const char *bin, int huge)
{
	char vdev[200], lcores[32];
	snprintf(vdev, sizeof vdev, "net_vhost0,iface=%s,queues=%d", sock_path, PAIRS);
	snprintf(lcores, sizeof lcores, "%s", sysconf(_SC_NPROCESSORS_ONLN) > 1 ? "0@0,1@1" : "0@0,1@0");
	const char *argv[32];
	int n = 0;
	argv[n++] = bin;
	argv[n++] = "--lcores";
	argv[n++] = lcores;
	argv[n++] = "--no-pci";
	argv[n++] = "-m";
	argv[n++] = "256";
	if (huge) {
		argv[n++] = "--in-memory";
		argv[n++] = "--single-file-segments";
	} else {
		argv[n++] = "--no-huge";
	}
	argv[n++] = "--file-prefix";        /* its runtime folder, removed at the end */
	argv[n++] = prefix;
	argv[n++] = "--vdev";
	argv[n++] = vdev;
	argv[n++] = "--";
	argv[n++] = "--forward-mode=io";
	argv[n++] = "--auto-start";
	argv[n++] = "--stats-period=1";
	argv[n++] = "--total-num-mbufs=8192";
	argv[n++] = "--rxq=" XSTR(PAIRS);
	argv[n++] = "--txq=" XSTR(PAIRS);
	argv[n] = NULL;
	printf("# ");
	for (int i = 0; i < n; i++)
		printf("%s%s", argv[i], i + 1 < n ? " " : "\n");
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		setpgid(0, 0);
		int in = open("/dev/null", O_RDONLY), out = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (in >= 0)
			dup2(in, 0);
		if (out >= 0) {
			dup2(out, 1);
			dup2(out, 2);
		}
		execv(bin, (char *const *)argv);
		_exit(127);
	}
	if (pid > 0)
		setpgid(pid, pid);
	return pid;
}

/* "RX-packets: N" from testpmd's closing "Accumulated forward statistics" */
static long log_count(const char *what)
{
	FILE *f = fopen(log_path, "r");
	char line[512];
	long v = -1;
	int in_acc = 0;
	while (f && fgets(line, sizeof line, f)) {
		if (strstr(line, "Accumulated forward statistics"))
			in_acc = 1;
		char *p = in_acc ? strstr(line, what) : NULL;
		if (p && v < 0)
			v = atol(p + strlen(what));
	}
	if (f)
		fclose(f);
	return v;
}

/* ---- the frames */
static const uint8_t our_mac[6] = { 0x02, 0x50, 0x4c, 0x58, 0x00, 0x01 };

static void make_frame(uint8_t *f, uint32_t seq, uint16_t pair)
{
	static const uint8_t dst[6] = { 0x02, 0x50, 0x4c, 0x58, 0x00, 0x02 };
	memcpy(f, dst, 6);
	memcpy(f + 6, our_mac, 6);
	f[12] = 0x88;                   /* local experimental ethertype */
	f[13] = 0xb5;
	f[14] = (uint8_t)(seq >> 24);
	f[15] = (uint8_t)(seq >> 16);
	f[16] = (uint8_t)(seq >> 8);
	f[17] = (uint8_t)seq;
	f[18] = (uint8_t)pair;
	for (int i = 19; i < FRAME_LEN; i++)
		f[i] = (uint8_t)(seq * 7u + (uint32_t)i);
}

/* ---- memory from the memfd, bump-allocated */
static uint8_t *mem;
static size_t mem_used;

static void *mem_take(size_t n, size_t align)
{
	mem_used = (mem_used + align - 1) & ~(align - 1);
	void *p = mem + mem_used;
	mem_used += n;
	if (mem_used > MEM_SIZE) {
		printf("FAIL: test memory exhausted\n");
		exit(1);
	}
	return p;
}

/* ---- one queue pair's traffic */
struct pair {
	struct virtq rx, tx;
	uint8_t *rxbuf, *txbuf;
	uint16_t tx_free[RING], ntx_free;
	uint8_t seen[NFRAMES];
	uint32_t sent, tx_done, got, bad_bytes, bad_len, dup, wrong_pair, out_of_order, next_seq, kicks;
};

/* One round: reclaim TX, send a burst of up to 32, receive and check,
 * re-post RX. Returns whether anything moved. */
static int pair_poll(struct virtio_dev *d, struct pair *q, uint16_t p)
{
	void *ck[32];
	uint32_t lens[32];
	uint8_t expect[FRAME_LEN];
	uint16_t n = virtq_get_used(&q->tx, ck, lens, 32);
	for (uint16_t i = 0; i < n; i++)
		q->tx_free[q->ntx_free++] = (uint16_t)((uintptr_t)ck[i] - 1);
	q->tx_done += n;
	uint32_t burst = 0;
	while (burst < 32 && q->sent < NFRAMES && q->sent - q->got < MAX_AHEAD && q->ntx_free) {
		uint16_t slot = q->tx_free[--q->ntx_free];
		uint8_t *b = q->txbuf + (size_t)slot * TX_SLOT;
		memset(b, 0, sizeof(struct virtio_net_hdr));
		make_frame(b + sizeof(struct virtio_net_hdr), q->sent, p);
		if (virtq_add1(&q->tx, (uint64_t)(uintptr_t)b, sizeof(struct virtio_net_hdr) + FRAME_LEN, 0,
			       (void *)(uintptr_t)(slot + 1))) {
			q->tx_free[q->ntx_free++] = slot;
			break;
		}
		q->sent++;
		burst++;
	}
	if (burst) {
		virtq_publish(&q->tx);
		if (virtq_kick_prepare(&q->tx)) {
			d->ops->notify(d, &q->tx);
			q->kicks++;
		}
	}
	uint16_t m = virtq_get_used(&q->rx, ck, lens, 32);
	for (uint16_t i = 0; i < m; i++) {
		uint32_t id = (uint32_t)((uintptr_t)ck[i] - 1);
		uint8_t *b = q->rxbuf + (size_t)id * RX_SLOT, *fr = b + sizeof(struct virtio_net_hdr);
		if (lens[i] != sizeof(struct virtio_net_hdr) + FRAME_LEN) {
			q->bad_len++;
		} else {
			uint32_t seq = (uint32_t)fr[14] << 24 | (uint32_t)fr[15] << 16 | (uint32_t)fr[16] << 8 | fr[17];
			make_frame(expect, seq, p);
			if (fr[18] != p)
				q->wrong_pair++;
			else if (seq >= NFRAMES || memcmp(fr, expect, FRAME_LEN))
				q->bad_bytes++;
			else if (q->seen[seq]++)
				q->dup++;
			else
				q->got++;
			if (seq != q->next_seq)
				q->out_of_order++;
			q->next_seq = seq + 1;
		}
		memset(b, 0xee, RX_BUF);        /* stale bytes can't pass the next check */
		virtq_add1(&q->rx, (uint64_t)(uintptr_t)b, RX_BUF, 1, ck[i]);
	}
	if (m) {
		virtq_publish(&q->rx);
		if (virtq_kick_prepare(&q->rx))
			d->ops->notify(d, &q->rx);
	}
	return n || burst || m;
}

static void error_paths_before_backend(int mem_fd)
{
	char err[256];
	/* no backend at all: bounded retry, a message naming the path */
	int fds = count_fds();
	double t0 = now_s();
	struct virtio_dev *d = vhost_user_connect("/tmp/pollux-vu-nobody.sock", 1, mem_fd, mem, MEM_SIZE, our_mac,
						  300, err, sizeof err);
	double dt = now_s() - t0;
	CHECK(d == NULL, "connect to a missing socket returned a device");
	CHECK(strstr(err, "/tmp/pollux-vu-nobody.sock") && strstr(err, "connect"),
	      "message names the step and the path: '%s'", err);
	CHECK(dt >= 0.29 && dt < 2.0, "retried for the timeout (%.3f s)", dt);
	CHECK(count_fds() == fds, "no descriptor leaked (%d -> %d)", fds, count_fds());
	printf("# no backend: %s\n", err);
	/* bad arguments */
	d = vhost_user_connect("/tmp/x.sock", 0, mem_fd, mem, MEM_SIZE, our_mac, 0, err, sizeof err);
	CHECK(d == NULL && strstr(err, "queue pairs"), "0 queue pairs refused: '%s'", err);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	const char *bin = find_testpmd();
	if (!bin) {
		printf("SKIP: dpdk-testpmd not found (Debian package dpdk-dev)\n0 passed, 0 failed\n");
		return 77;
	}
	snprintf(sock_path, sizeof sock_path, "/tmp/pollux-vu-test-%d.sock", (int)getpid());
	snprintf(log_path, sizeof log_path, "/tmp/pollux-vu-test-%d.testpmd.log", (int)getpid());
	snprintf(prefix, sizeof prefix, "pollux-vu-%d", (int)getpid());
	signal(SIGALRM, on_deadline);
	alarm(DEADLINE_S);

	/* as the hosted platform does: huge pages where they are, else 4 KiB */
	int mem_huge = 1, mem_fd = memfd_create("pollux-vu-test", MFD_CLOEXEC | MFD_HUGETLB);
	mem = MAP_FAILED;
	if (mem_fd >= 0 && ftruncate(mem_fd, MEM_SIZE) == 0)
		mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, mem_fd, 0);
	if (mem == MAP_FAILED) {
		if (mem_fd >= 0)
			close(mem_fd);
		mem_huge = 0;
		mem_fd = memfd_create("pollux-vu-test", MFD_CLOEXEC);
		if (mem_fd < 0 || ftruncate(mem_fd, MEM_SIZE)) {
			printf("FAIL: memfd: %s\n", strerror(errno));
			return 1;
		}
		mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, mem_fd, 0);
	}
	if (mem == MAP_FAILED) {
		printf("FAIL: mmap: %s\n", strerror(errno));
		return 1;
	}
	printf("# memory: %u MiB memfd on %s pages\n", MEM_SIZE >> 20, mem_huge ? "2 MiB huge" : "4 KiB");
	error_paths_before_backend(mem_fd);

	long huge_free = meminfo("HugePages_Free"), huge_size = meminfo("Hugepagesize");
	int huge = huge_size == 2048 && huge_free >= 128 && !getenv("VU_NO_HUGE");
	printf("# huge pages: %ld free of %ld kB: testpmd runs %s\n", huge_free, huge_size,
	       huge ? "on huge pages" : "with --no-huge");
	snprintf(rundir, sizeof rundir, "/var/run/dpdk/%s", prefix);
	unlink(sock_path);
	tp_pid = start_testpmd(bin, huge);
	CHECK(tp_pid > 0, "fork: %s", strerror(errno));
	if (tp_pid <= 0)
		goto out;

	/* ---- connect and negotiate */
	char err[256] = "";
	double t0 = now_s();
	struct virtio_dev *d = vhost_user_connect(sock_path, PAIRS, mem_fd, mem, MEM_SIZE, our_mac, 30000, err,
						  sizeof err);
	CHECK(d != NULL, "vhost_user_connect: %s", err);
	if (!d)
		goto stop;
	printf("# connected after %.2f s: %s\n", now_s() - t0, d->name);
	CHECK(!strcmp(d->ops->name, "vhost-user") && d->device_id == VIRTIO_ID_NET, "device kind");
	CHECK(virtio_dev_count() == 1 && virtio_dev_get(0) == d, "registered");
	uint64_t f = d->ops->get_features(d);
	printf("# features offered to the driver: 0x%llx\n", (unsigned long long)f);
	CHECK(f & VIRTIO_F_BIT(VIRTIO_F_VERSION_1), "VERSION_1 offered");
	CHECK((f & VIRTIO_F_BIT(VIRTIO_NET_F_MAC)) && (f & VIRTIO_F_BIT(VIRTIO_NET_F_STATUS)), "MAC, STATUS");
	CHECK(!(f & (VIRTIO_F_BIT(VIRTIO_NET_F_CTRL_VQ) | VIRTIO_F_BIT(VIRTIO_NET_F_MQ) | (1ull << 30))),
	      "no CTRL_VQ, MQ or protocol bit");
	uint64_t wanted = VIRTIO_F_BIT(VIRTIO_F_VERSION_1) | VIRTIO_F_BIT(VIRTIO_NET_F_MAC) |
			  VIRTIO_F_BIT(VIRTIO_NET_F_STATUS) | VIRTIO_F_BIT(VIRTIO_RING_F_EVENT_IDX);
	int rc = virtio_negotiate(d, wanted, VIRTIO_F_BIT(VIRTIO_F_VERSION_1), err, sizeof err);
	CHECK(rc == 0, "virtio_negotiate: %d %s", rc, err);
	if (rc)
		goto stop;
	printf("# negotiated 0x%llx\n", (unsigned long long)d->features);
	CHECK(d->ops->get_status(d) & VIRTIO_STATUS_FEATURES_OK, "FEATURES_OK sticks");
	struct virtio_net_config cfg;
	d->ops->read_config(d, 0, &cfg, sizeof cfg);
	CHECK(!memcmp(cfg.mac, our_mac, 6) && cfg.status == VIRTIO_NET_S_LINK_UP &&
	      cfg.max_virtqueue_pairs == PAIRS && cfg.mtu == 1500, "config: mac, link up, %d pairs, mtu 1500", PAIRS);
	CHECK(d->ops->queue_max(d, 0) == RING && d->ops->queue_max(d, 2 * PAIRS - 1) == RING &&
	      d->ops->queue_max(d, 2 * PAIRS) == 0, "queue_max: %d rings, no control queue", 2 * PAIRS);
	CHECK(d->ops->max_queue_pairs(d) == PAIRS, "max_queue_pairs");

	/* ---- rings: PAIRS pairs, RX pre-posted */
	int eidx = (d->features & VIRTIO_F_BIT(VIRTIO_RING_F_EVENT_IDX)) != 0;
	static struct pair pr[PAIRS];
	for (uint16_t p = 0; p < PAIRS; p++) {
		struct pair *q = &pr[p];
		CHECK(virtq_init(&q->rx, (uint16_t)(2 * p), RING, mem_take(virtq_memsize(RING), 4096), eidx) == 0 &&
		      virtq_init(&q->tx, (uint16_t)(2 * p + 1), RING, mem_take(virtq_memsize(RING), 4096), eidx) == 0,
		      "virtq_init pair %u", p);
		virtq_disable_interrupts(&q->rx);
		virtq_disable_interrupts(&q->tx);
		q->rxbuf = mem_take((size_t)RING * RX_SLOT, 4096);
		q->txbuf = mem_take((size_t)RING * TX_SLOT, 4096);
		CHECK(d->ops->queue_enable(d, &q->rx) == 0, "rx queue_enable, pair %u", p);
		CHECK(d->ops->queue_enable(d, &q->tx) == 0, "tx queue_enable, pair %u", p);
	}
	struct virtq bad;
	CHECK(d->ops->queue_enable(d, &pr[0].rx) == -EBUSY, "a ring is enabled once");
	static uint8_t outside[65536] __attribute__((aligned(4096)));
	virtq_init(&bad, 2 * PAIRS, 64, outside, 0);
	CHECK(d->ops->queue_enable(d, &bad) == -EINVAL, "no ring %u (no control queue)", 2 * PAIRS);
	CHECK(!(d->ops->get_status(d) & VIRTIO_STATUS_NEEDS_RESET), "still healthy after refused calls");
	for (uint16_t p = 0; p < PAIRS; p++) {
		struct pair *q = &pr[p];
		for (uint32_t i = 0; i < RX_POSTED; i++)
			virtq_add1(&q->rx, (uint64_t)(uintptr_t)(q->rxbuf + (size_t)i * RX_SLOT), RX_BUF, 1,
				   (void *)(uintptr_t)(i + 1));
		virtq_publish(&q->rx);
		if (virtq_kick_prepare(&q->rx))
			d->ops->notify(d, &q->rx);
		for (uint16_t i = 0; i < RING; i++)
			q->tx_free[q->ntx_free++] = i;
	}
	d->ops->set_status(d, VIRTIO_STATUS_ACK | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK |
			   VIRTIO_STATUS_DRIVER_OK);
	CHECK(d->ops->get_status(d) & VIRTIO_STATUS_DRIVER_OK, "DRIVER_OK");

	/* ---- traffic: NFRAMES per pair out on TX, back on the same pair's RX */
	double start = now_s(), deadline = start + 30;
	d->ops->notify(d, &pr[0].tx);   /* one unconditional kick: the eventfd path works */
	uint32_t done = 0;
	while (done < PAIRS && now_s() < deadline) {
		int idle = 1;
		done = 0;
		for (uint16_t p = 0; p < PAIRS; p++) {
			idle &= !pair_poll(d, &pr[p], p);
			done += pr[p].got == NFRAMES;
		}
		if (idle)
			usleep(50);
	}
	/* the last TX completions */
	for (double t = now_s(); now_s() < t + 2;) {
		uint32_t left = 0;
		for (uint16_t p = 0; p < PAIRS; p++) {
			void *ck[32];
			pr[p].tx_done += virtq_get_used(&pr[p].tx, ck, NULL, 32);
			left += pr[p].sent - pr[p].tx_done;
		}
		if (!left)
			break;
	}
	double dt = now_s() - start;
	for (uint16_t p = 0; p < PAIRS; p++) {
		struct pair *q = &pr[p];
		printf("# pair %u: sent %u, tx completed %u, received %u intact in %.4f s (%u kicks, %u out of "
		       "order)\n", p, q->sent, q->tx_done, q->got, dt, q->kicks, q->out_of_order);
		CHECK(q->sent == NFRAMES, "pair %u: sent all %u frames (%u)", p, NFRAMES, q->sent);
		CHECK(q->tx_done == q->sent, "pair %u: every TX buffer came back (%u of %u)", p, q->tx_done, q->sent);
		CHECK(q->got == NFRAMES, "pair %u: received all %u frames back (%u)", p, NFRAMES, q->got);
		CHECK(q->bad_bytes == 0 && q->bad_len == 0 && q->dup == 0 && q->wrong_pair == 0,
		      "pair %u: frames intact (%u bad bytes, %u bad lengths, %u dups, %u from another pair)", p,
		      q->bad_bytes, q->bad_len, q->dup, q->wrong_pair);
		CHECK(!virtq_broken(&q->rx) && !virtq_broken(&q->tx), "pair %u: no queue broken", p);
	}

	/* ---- reset stops the rings (GET_VRING_BASE) and keeps the connection */
	d->ops->reset(d);
	CHECK(d->ops->get_status(d) == 0, "reset clears the status");

stop:;
	int st = stop_testpmd();
	CHECK(WIFEXITED(st), "testpmd exited on SIGINT (status 0x%x)", st);
	long rx = log_count("RX-packets:"), tx = log_count("TX-packets:");
	printf("# testpmd forward statistics: RX-packets %ld, TX-packets %ld\n", rx, tx);
	if (d) {
		CHECK(rx >= PAIRS * NFRAMES && tx >= PAIRS * NFRAMES, "testpmd saw every frame both ways (rx %ld, tx %ld)",
		      rx, tx);
		/* the backend is gone: a clean error, never a crash */
		rc = d->ops->set_features(d, d->features);
		CHECK(rc < 0, "a request to a vanished backend fails (rc %d)", rc);
		CHECK(d->ops->get_status(d) & VIRTIO_STATUS_NEEDS_RESET, "and the device reports NEEDS_RESET");
	}
out:
	unlink(sock_path);
	rm_rundir();
	if (failed)
		printf("# testpmd log kept: %s\n", log_path);
	else
		unlink(log_path);
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
