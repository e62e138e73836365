/*
 * echosrv.c — the Linux guest's TCP echo server (RFC 862, port 7) for
 * bench/tcp/run: the same job as Pollux's echo appliance, done the way
 * a Linux appliance would do it. Built with `gcc -static` by the
 * benchmark and put into the guest's initramfs.
 *
 * One thread per online CPU, each with its own SO_REUSEPORT listener and
 * epoll set (the kernel spreads new connections over them), so the guest
 * uses every vCPU it has. Per connection it keeps nothing but the socket:
 * data is read into a per-thread buffer and written straight back; if
 * the socket can't take it all, the rest waits in a buffer allocated for
 * that connection only until it is sent (never for the benchmark's
 * 16-byte messages or idle connections).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUF_LEN 65536

struct pending {
	int fd;
	size_t len, off;
	char data[];
};

static int port = 7;

static int listener(void)
{
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 4096) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void drop(int ep, int fd, struct pending *p)
{
	epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
	close(fd);
	free(p);
}

/* The socket became writable again: send what waits. */
static void flush_pending(int ep, struct epoll_event *ev)
{
	struct pending *p = ev->data.ptr;
	ssize_t n = send(p->fd, p->data + p->off, p->len - p->off, MSG_NOSIGNAL);

	if (n < 0 && errno != EAGAIN) {
		drop(ep, p->fd, p);
		return;
	}
	if (n > 0)
		p->off += (size_t)n;
	if (p->off < p->len)
		return;
	struct epoll_event e = { .events = EPOLLIN };
	e.data.u64 = (uint64_t)(unsigned)p->fd << 1;
	epoll_ctl(ep, EPOLL_CTL_MOD, p->fd, &e);
	free(p);
}

/* Readable: echo it back; what the socket can't take waits. */
static void echo(int ep, int fd, char *buf)
{
	ssize_t n = recv(fd, buf, BUF_LEN, 0);

	if (n == 0 || (n < 0 && errno != EAGAIN)) {
		drop(ep, fd, NULL);
		return;
	}
	if (n < 0)
		return;
	ssize_t w = send(fd, buf, (size_t)n, MSG_NOSIGNAL);
	if (w < 0 && errno != EAGAIN) {
		drop(ep, fd, NULL);
		return;
	}
	if (w < 0)
		w = 0;
	if (w == n)
		return;
	struct pending *p = malloc(sizeof(*p) + (size_t)(n - w));
	if (!p) {
		drop(ep, fd, NULL);
		return;
	}
	p->fd = fd;
	p->len = (size_t)(n - w);
	p->off = 0;
	memcpy(p->data, buf + w, p->len);
	struct epoll_event e = { .events = EPOLLOUT };
	e.data.u64 = (uint64_t)(uintptr_t)p | 1;
	epoll_ctl(ep, EPOLL_CTL_MOD, fd, &e);
}

/* epoll data: a listener or connection is its fd shifted left with the
 * low bit clear; a connection with pending output is its (aligned)
 * struct pending pointer with the low bit set. */
static void *serve(void *arg)
{
	int lfd = listener(), ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event evs[64], e = { .events = EPOLLIN };
	char *buf = malloc(BUF_LEN);

	if (lfd < 0 || ep < 0 || !buf) {
		perror("echosrv");
		exit(1);
	}
	e.data.u64 = (uint64_t)(unsigned)lfd << 1;
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &e);
	for (;;) {
		int n = epoll_wait(ep, evs, 64, -1);
		for (int k = 0; k < n; k++) {
			uint64_t d = evs[k].data.u64;
			if (d & 1) {
				evs[k].data.u64 = d & ~1ull;
				flush_pending(ep, &evs[k]);
				continue;
			}
			int fd = (int)(d >> 1);
			if (fd != lfd) {
				echo(ep, fd, buf);
				continue;
			}
			for (int c; (c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0;) {
				struct epoll_event ce = { .events = EPOLLIN };
				ce.data.u64 = (uint64_t)(unsigned)c << 1;
				epoll_ctl(ep, EPOLL_CTL_ADD, c, &ce);
			}
		}
	}
	return arg;
}

int main(int argc, char **argv)
{
	struct rlimit r = { 1 << 16, 1 << 16 };
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	pthread_t t;

	if (argc > 1)
		port = atoi(argv[1]);
	setrlimit(RLIMIT_NOFILE, &r);
	if (cpus < 1)
		cpus = 1;
	for (long i = 1; i < cpus; i++)
		pthread_create(&t, NULL, serve, NULL);
	printf("echosrv: port %d, %ld threads\n", port, cpus);
	fflush(stdout);
	serve(NULL);
	return 0;
}
