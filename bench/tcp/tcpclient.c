/*
 * tcpclient.c — the two TCP clients of bench/tcp/run, run inside the
 * benchmark's network namespace against either guest.
 *
 *   tcpclient rate HOST PORT INFLIGHT SECONDS
 *	New connections per second: keeps INFLIGHT connections in flight
 *	for SECONDS; each one connects, sends MSG_LEN bytes, reads them all
 *	back (an echo server), and closes (the client closes first, so the
 *	TIME_WAIT state stays here, not in the guest). Prints one line:
 *	"rate done D errors E timeouts T elapsed S conn_per_s R".
 *	A connection that has not completed within CONN_TIMEOUT_S is closed
 *	and counted as a timeout; one that is refused or reset, as an error.
 *
 *   tcpclient hold HOST PORT N
 *	Memory per idle connection: opens N connections one after the other
 *	(each within CONN_TIMEOUT_S), sends nothing, prints "hold open K"
 *	(K = how many are established), then waits until its standard input
 *	reaches end of file (or HOLD_MAX_S) and closes them all.
 *
 * Everything is bounded in time; nothing here loops forever.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MSG_LEN		16
#define MAX_INFLIGHT	1024
#define CONN_TIMEOUT_S	5.0
#define HOLD_MAX_S	600.0

static const char msg[MSG_LEN] = "pollux-bench-tcp";

struct slot {
	int fd;
	int got;		/* echoed bytes read back */
	double start;
};

static struct sockaddr_in dst;
static struct slot slots[MAX_INFLIGHT];
static long done, errors, timeouts;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void raise_nofile(void)
{
	struct rlimit r;
	if (getrlimit(RLIMIT_NOFILE, &r) == 0) {
		r.rlim_cur = r.rlim_max;
		setrlimit(RLIMIT_NOFILE, &r);
	}
}

/* Opens a non-blocking connection for slot i; -1 only if no socket could
 * be made at all (the caller counts it). */
static int slot_open(int ep, int i)
{
	struct slot *s = &slots[i];
	struct epoll_event ev = { .events = EPOLLOUT, .data.u32 = (uint32_t)i };

	s->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->fd < 0)
		return -1;
	s->got = 0;
	s->start = now();
	if (connect(s->fd, (struct sockaddr *)&dst, sizeof(dst)) < 0 && errno != EINPROGRESS) {
		close(s->fd);
		s->fd = -1;
		return -1;
	}
	epoll_ctl(ep, EPOLL_CTL_ADD, s->fd, &ev);
	return 0;
}

static void slot_close(int i)
{
	close(slots[i].fd);	/* also removes it from the epoll set */
	slots[i].fd = -1;
}

/* One readiness event on slot i: connected (send the message) or data
 * back (count it once all MSG_LEN bytes came). Returns 1 when the slot's
 * connection is finished, successfully or not. */
static int slot_event(int ep, int i, uint32_t events)
{
	struct slot *s = &slots[i];
	char buf[MSG_LEN];
	int err = 0;
	socklen_t len = sizeof(err);

	if (events & EPOLLOUT) {
		getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len);
		if (err || send(s->fd, msg, MSG_LEN, MSG_NOSIGNAL) != MSG_LEN) {
			errors++;
			return 1;
		}
		struct epoll_event ev = { .events = EPOLLIN, .data.u32 = (uint32_t)i };
		epoll_ctl(ep, EPOLL_CTL_MOD, s->fd, &ev);
		return 0;
	}
	ssize_t n = recv(s->fd, buf, sizeof(buf) - s->got, 0);
	if (n <= 0) {
		if (n < 0 && errno == EAGAIN)
			return 0;
		errors++;
		return 1;
	}
	s->got += (int)n;
	if (s->got < MSG_LEN)
		return 0;
	done++;
	return 1;
}

static int run_rate(int inflight, double seconds)
{
	struct epoll_event evs[64];
	int ep = epoll_create1(EPOLL_CLOEXEC);
	double t0 = now(), end = t0 + seconds, last_sweep = t0;

	for (int i = 0; i < inflight; i++)
		if (slot_open(ep, i) < 0)
			errors++;
	while (now() < end) {
		int n = epoll_wait(ep, evs, 64, 100);
		for (int k = 0; k < n; k++) {
			int i = (int)evs[k].data.u32;
			if (slots[i].fd >= 0 && slot_event(ep, i, evs[k].events)) {
				slot_close(i);
				if (now() < end && slot_open(ep, i) < 0)
					errors++;
			}
		}
		double t = now();
		if (t - last_sweep < 0.5)
			continue;
		last_sweep = t;
		for (int i = 0; i < inflight; i++) {
			if (slots[i].fd < 0) {
				if (t < end && slot_open(ep, i) < 0)
					errors++;
			} else if (t - slots[i].start > CONN_TIMEOUT_S) {
				timeouts++;
				slot_close(i);
				if (t < end && slot_open(ep, i) < 0)
					errors++;
			}
		}
	}
	double el = now() - t0;
	for (int i = 0; i < inflight; i++)
		if (slots[i].fd >= 0)
			slot_close(i);
	printf("rate done %ld errors %ld timeouts %ld elapsed %.3f conn_per_s %.1f\n",
	       done, errors, timeouts, el, done / el);
	return 0;
}

/* A blocking connect bounded by CONN_TIMEOUT_S. */
static int connect_bounded(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int err = 0;
	socklen_t len = sizeof(err);
	struct pollfd p = { .fd = fd, .events = POLLOUT };

	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&dst, sizeof(dst)) < 0 && errno != EINPROGRESS)
		goto fail;
	if (poll(&p, 1, (int)(CONN_TIMEOUT_S * 1000)) != 1)
		goto fail;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err)
		goto fail;
	return fd;
fail:
	close(fd);
	return -1;
}

static int run_hold(int n)
{
	int *fds = calloc((size_t)n, sizeof(int));
	int open_n = 0;
	char c;
	struct pollfd in = { .fd = 0, .events = POLLIN };
	double end;

	if (!fds)
		return 1;
	for (int i = 0; i < n; i++) {
		int fd = connect_bounded();
		if (fd < 0) {
			errors++;
			continue;
		}
		fds[open_n++] = fd;
	}
	printf("hold open %d errors %ld\n", open_n, errors);
	fflush(stdout);
	end = now() + HOLD_MAX_S;
	while (now() < end) {
		if (poll(&in, 1, 1000) == 1 && read(0, &c, 1) <= 0)
			break;
	}
	for (int i = 0; i < open_n; i++)
		close(fds[i]);
	printf("hold closed %d\n", open_n);
	free(fds);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 6 && !(argc == 5 && !strcmp(argv[1], "hold"))) {
		fprintf(stderr, "usage: tcpclient rate HOST PORT INFLIGHT SECONDS\n"
				"       tcpclient hold HOST PORT N\n");
		return 2;
	}
	dst.sin_family = AF_INET;
	dst.sin_port = htons((uint16_t)atoi(argv[3]));
	if (inet_pton(AF_INET, argv[2], &dst.sin_addr) != 1) {
		fprintf(stderr, "tcpclient: bad address %s\n", argv[2]);
		return 2;
	}
	raise_nofile();
	for (int i = 0; i < MAX_INFLIGHT; i++)
		slots[i].fd = -1;
	if (!strcmp(argv[1], "hold"))
		return run_hold(atoi(argv[4]));
	int inflight = atoi(argv[4]);
	double secs = atof(argv[5]);
	if (strcmp(argv[1], "rate") || inflight < 1 || inflight > MAX_INFLIGHT ||
	    secs <= 0 || secs > 600) {
		fprintf(stderr, "tcpclient: bad arguments\n");
		return 2;
	}
	return run_rate(inflight, secs);
}
