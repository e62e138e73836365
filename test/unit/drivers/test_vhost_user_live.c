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
 * The frontend is test/lib/vu_frontend.c (shared with the hosted l2fwd
 * generator, test/hosted/l2fwd_gen.c); the transport's own calls (connect,
 * features, config, queue_enable, status, reset) are made here directly.
 *
 * Memory: one 64 MiB memfd (rings and buffers), on huge pages where the
 * host has them, as the hosted platform does. testpmd runs on 2 MiB huge pages when at least 128 are free
 * (--in-memory --single-file-segments), else with --no-huge.
 *
 * Build (from the repository root):
 *   gcc -std=gnu11 -O1 -g -Wall -Wextra -Werror -Wno-unused-parameter -Isrc -Itest/lib -D_GNU_SOURCE \
 *       -DPOLLUX_HOSTED -o build/unit/drivers/test_vhost_user_live \
 *       test/unit/drivers/test_vhost_user_live.c test/lib/vu_frontend.c src/drivers/vhost_user.c \
 *       src/drivers/virtio.c src/drivers/virtq.c
 */
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include "drivers/vhost_user.h"
#include "vu_frontend.h"

/* ---- checks */
static int passed, failed;
#define CHECK(c, ...) do { \
	if (c) { passed++; } \
	else { failed++; printf("FAIL %s:%d: ", __FILE__, __LINE__); printf(__VA_ARGS__); printf("\n"); } \
} while (0)

#define MEM_SIZE (64u << 20)
#define RING 1024
#define RX_BUF (VU_HDR + 2048)
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

static struct vu_mem mem;

/* ---- one queue pair's traffic */
struct pair {
	struct vu_pair vq;              /* rings, buffers, free TX slots, kicks */
	uint16_t index;
	uint8_t seen[NFRAMES];
	uint32_t sent, got, bad_bytes, bad_len, dup, wrong_pair, out_of_order, next_seq;
};

/* vu_pair_rx_poll's callback: one frame back, checked byte for byte */
static void on_rx(void *ctx, const uint8_t *buf, uint32_t used)
{
	struct pair *q = ctx;
	const uint8_t *fr = buf + VU_HDR;
	uint8_t expect[FRAME_LEN];
	if (used != VU_HDR + FRAME_LEN) {
		q->bad_len++;
		return;
	}
	uint32_t seq = (uint32_t)fr[14] << 24 | (uint32_t)fr[15] << 16 | (uint32_t)fr[16] << 8 | fr[17];
	make_frame(expect, seq, q->index);
	if (fr[18] != q->index)
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

/* One round: reclaim TX, send a burst of up to 32, receive and check,
 * re-post RX. Returns whether anything moved. */
static int pair_poll(struct virtio_dev *d, struct pair *q)
{
	uint16_t n = vu_pair_tx_reclaim(&q->vq);
	uint32_t burst = 0;
	uint8_t *f;
	while (burst < 32 && q->sent < NFRAMES && q->sent - q->got < MAX_AHEAD && (f = vu_pair_tx_frame(&q->vq))) {
		make_frame(f, q->sent, q->index);
		if (vu_pair_tx_post(&q->vq, FRAME_LEN))
			break;
		q->sent++;
		burst++;
	}
	if (burst)
		vu_pair_tx_flush(d, &q->vq);
	uint16_t m = vu_pair_rx_poll(d, &q->vq, 32, on_rx, q);
	return n || burst || m;
}

static void error_paths_before_backend(int mem_fd)
{
	char err[256];
	/* no backend at all: bounded retry, a message naming the path */
	int fds = count_fds();
	double t0 = now_s();
	struct virtio_dev *d = vhost_user_connect("/tmp/pollux-vu-nobody.sock", 1, mem_fd, mem.base, MEM_SIZE, our_mac,
						  300, err, sizeof err);
	double dt = now_s() - t0;
	CHECK(d == NULL, "connect to a missing socket returned a device");
	CHECK(strstr(err, "/tmp/pollux-vu-nobody.sock") && strstr(err, "connect"),
	      "message names the step and the path: '%s'", err);
	CHECK(dt >= 0.29 && dt < 2.0, "retried for the timeout (%.3f s)", dt);
	CHECK(count_fds() == fds, "no descriptor leaked (%d -> %d)", fds, count_fds());
	printf("# no backend: %s\n", err);
	/* bad arguments */
	d = vhost_user_connect("/tmp/x.sock", 0, mem_fd, mem.base, MEM_SIZE, our_mac, 0, err, sizeof err);
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
	char err[256] = "";
	if (vu_mem_open(&mem, "pollux-vu-test", MEM_SIZE, err, sizeof err)) {
		printf("FAIL: %s\n", err);
		return 1;
	}
	printf("# memory: %u MiB memfd on %s pages\n", MEM_SIZE >> 20, mem.huge ? "2 MiB huge" : "4 KiB");
	error_paths_before_backend(mem.fd);

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
	double t0 = now_s();
	struct virtio_dev *d = vhost_user_connect(sock_path, PAIRS, mem.fd, mem.base, MEM_SIZE, our_mac, 30000, err,
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
	int rc = vu_negotiate(d, err, sizeof err);
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
		q->index = p;
		CHECK(vu_pair_init(&q->vq, &mem, p, RING, RX_SLOT, RX_BUF, TX_SLOT, eidx) == 0, "virtq_init pair %u", p);
		CHECK(d->ops->queue_enable(d, &q->vq.rx) == 0, "rx queue_enable, pair %u", p);
		CHECK(d->ops->queue_enable(d, &q->vq.tx) == 0, "tx queue_enable, pair %u", p);
	}
	struct virtq bad;
	CHECK(d->ops->queue_enable(d, &pr[0].vq.rx) == -EBUSY, "a ring is enabled once");
	static uint8_t outside[65536] __attribute__((aligned(4096)));
	virtq_init(&bad, 2 * PAIRS, 64, outside, 0);
	CHECK(d->ops->queue_enable(d, &bad) == -EINVAL, "no ring %u (no control queue)", 2 * PAIRS);
	CHECK(!(d->ops->get_status(d) & VIRTIO_STATUS_NEEDS_RESET), "still healthy after refused calls");
	for (uint16_t p = 0; p < PAIRS; p++)
		vu_pair_post_rx(d, &pr[p].vq, RX_POSTED);
	d->ops->set_status(d, VIRTIO_STATUS_ACK | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK |
			   VIRTIO_STATUS_DRIVER_OK);
	CHECK(d->ops->get_status(d) & VIRTIO_STATUS_DRIVER_OK, "DRIVER_OK");

	/* ---- traffic: NFRAMES per pair out on TX, back on the same pair's RX */
	double start = now_s(), deadline = start + 30;
	d->ops->notify(d, &pr[0].vq.tx);        /* one unconditional kick: the eventfd path works */
	uint32_t done = 0;
	while (done < PAIRS && now_s() < deadline) {
		int idle = 1;
		done = 0;
		for (uint16_t p = 0; p < PAIRS; p++) {
			idle &= !pair_poll(d, &pr[p]);
			done += pr[p].got == NFRAMES;
		}
		if (idle)
			usleep(50);
	}
	/* the last TX completions */
	for (double t = now_s(); now_s() < t + 2;) {
		uint32_t left = 0;
		for (uint16_t p = 0; p < PAIRS; p++) {
			vu_pair_tx_reclaim(&pr[p].vq);
			left += pr[p].sent - pr[p].vq.tx_done;
		}
		if (!left)
			break;
	}
	double dt = now_s() - start;
	for (uint16_t p = 0; p < PAIRS; p++) {
		struct pair *q = &pr[p];
		printf("# pair %u: sent %u, tx completed %u, received %u intact in %.4f s (%u kicks, %u out of "
		       "order)\n", p, q->sent, q->vq.tx_done, q->got, dt, q->vq.kicks, q->out_of_order);
		CHECK(q->sent == NFRAMES, "pair %u: sent all %u frames (%u)", p, NFRAMES, q->sent);
		CHECK(q->vq.tx_done == q->sent, "pair %u: every TX buffer came back (%u of %u)", p, q->vq.tx_done,
		      q->sent);
		CHECK(q->got == NFRAMES, "pair %u: received all %u frames back (%u)", p, NFRAMES, q->got);
		CHECK(q->bad_bytes == 0 && q->bad_len == 0 && q->dup == 0 && q->wrong_pair == 0,
		      "pair %u: frames intact (%u bad bytes, %u bad lengths, %u dups, %u from another pair)", p,
		      q->bad_bytes, q->bad_len, q->dup, q->wrong_pair);
		CHECK(!virtq_broken(&q->vq.rx) && !virtq_broken(&q->vq.tx), "pair %u: no queue broken", p);
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
