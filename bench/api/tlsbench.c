/*
 * tlsbench.c — the TLS client of bench/api (OpenSSL, Debian libssl-dev).
 * It only ever connects to 127.0.0.1, and every loop ends by count or time.
 *
 *   tlsbench hs  --port P --clients K --seconds T [--fp SHA256] [tls options]
 *	K threads, each one in a loop until T s have passed: connect, full
 *	TLS 1.2 handshake (no session is ever offered again: no tickets, no
 *	client cache, a fresh SSL object per connection), close_notify,
 *	close. Prints one JSON object: handshakes, failures, rate, the
 *	handshake latency (connect() to SSL_connect() done) median and p99,
 *	and what the first handshake negotiated.
 *
 *   tlsbench get --port P --token TOK [--path /metrics] --count N
 *		  [--interval-ms I] [--seconds T] [--fp SHA256] [tls options]
 *	One keep-alive connection, then N requests one after the other
 *	(every I ms when I > 0, on a fixed schedule), each timed from the
 *	write of the request to the last byte of the body (Content-Length).
 *	Stops after N requests, T s, or SIGTERM/SIGINT, and prints one JSON
 *	object: the latencies' median, p99, min, max and each one. With an
 *	interval, SIGUSR1 pauses the requests (the connection stays open)
 *	and SIGUSR2 resumes them; --paused 1 starts paused; --trace 1 prints
 *	"req STATUS MICROSECONDS" as each answer completes.
 *
 * TLS options: --cipher (default ECDHE-ECDSA-AES128-GCM-SHA256), --groups
 * (the ECDHE group, default P-256). The server's certificate is not
 * verified against a CA (the baseline and Pollux use the same self-signed
 * one); with --fp its SHA-256 fingerprint is checked on the first
 * handshake of each client, and a mismatch stops the run (exit 2).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CLIENTS 64
#define MAX_SAMPLES (1 << 20)
#define MAX_GETS 100000
#define RESP_MAX (1 << 20)

static struct {
	int port, clients, count, interval_ms, trace;
	double seconds;
	const char *token, *path, *fp, *cipher, *groups;
} opt = { .clients = 1, .count = 1, .seconds = 10, .path = "/metrics",
	  .cipher = "ECDHE-ECDSA-AES128-GCM-SHA256", .groups = "P-256" };

static SSL_CTX *ctx;
static atomic_int stop_flag;
static atomic_int paused;	/* get: SIGUSR1 pauses, SIGUSR2 resumes */
static atomic_int fp_mismatch;
static char negotiated[160];
static pthread_mutex_t neg_lock = PTHREAD_MUTEX_INITIALIZER;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void on_signal(int sig)
{
	if (sig == SIGUSR1 || sig == SIGUSR2)
		atomic_store(&paused, sig == SIGUSR1);
	else
		atomic_store(&stop_flag, 1);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Nearest-rank percentile of a sorted array. */
static double pct(const double *v, int n, double p)
{
	if (n == 0)
		return 0;
	int k = (int)(p / 100.0 * n + 0.999999) - 1;
	return v[k < 0 ? 0 : (k >= n ? n - 1 : k)];
}

static int tcp_connect(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return -1;
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(opt.port) };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);	/* 127.0.0.1 only */
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Checks the peer's certificate fingerprint (when --fp was given) and
 * records what was negotiated, once. 0 or -1 on a mismatch. */
static int check_peer(SSL *s)
{
	if (opt.fp) {
		X509 *c = SSL_get1_peer_certificate(s);
		unsigned char md[EVP_MAX_MD_SIZE];
		unsigned int n = 0;
		char hex[3 * EVP_MAX_MD_SIZE + 1] = "";
		if (c && X509_digest(c, EVP_sha256(), md, &n))
			for (unsigned int i = 0; i < n; i++)
				sprintf(hex + 3 * i, i + 1 < n ? "%02X:" : "%02X", md[i]);
		X509_free(c);
		if (strcasecmp(hex, opt.fp)) {
			fprintf(stderr, "tlsbench: certificate fingerprint %s, expected %s\n", hex, opt.fp);
			atomic_store(&fp_mismatch, 1);
			atomic_store(&stop_flag, 1);
			return -1;
		}
	}
	pthread_mutex_lock(&neg_lock);
	if (!negotiated[0]) {
		EVP_PKEY *tmp = NULL;
		char grp[32] = "?";
		if (SSL_get_peer_tmp_key(s, &tmp)) {
			int nid = EVP_PKEY_get_base_id(tmp);
			if (nid == EVP_PKEY_EC) {
				size_t l = 0;
				EVP_PKEY_get_utf8_string_param(tmp, "group", grp, sizeof(grp), &l);
			} else {
				snprintf(grp, sizeof(grp), "%s", OBJ_nid2sn(nid));
			}
			EVP_PKEY_free(tmp);
		}
		snprintf(negotiated, sizeof(negotiated), "%s %s %s", SSL_get_version(s),
			 SSL_get_cipher_name(s), grp);
	}
	pthread_mutex_unlock(&neg_lock);
	return 0;
}

/* ------------------------------------------------------------ handshakes */

struct hs_thread {
	pthread_t t;
	double deadline;
	long ok, fail;
	double *lat;		/* seconds, up to MAX_SAMPLES / clients */
	int nlat, maxlat;
};

static int hs_once(struct hs_thread *h, int first)
{
	double t0 = now_s();
	int fd = tcp_connect();
	if (fd < 0)
		return -1;
	SSL *s = SSL_new(ctx);
	int rc = -1;
	if (!s)
		goto out;
	SSL_set_fd(s, fd);
	if (SSL_connect(s) != 1)
		goto out;
	double dt = now_s() - t0;
	if (first && check_peer(s))
		goto out;
	if (h->nlat < h->maxlat)
		h->lat[h->nlat++] = dt;
	SSL_shutdown(s);	/* sends close_notify; the peer's is not awaited */
	rc = 0;
out:
	SSL_free(s);
	close(fd);
	return rc;
}

static void *hs_main(void *arg)
{
	struct hs_thread *h = arg;
	while (!atomic_load(&stop_flag) && now_s() < h->deadline) {
		if (hs_once(h, h->ok == 0) == 0) {
			h->ok++;
		} else {
			h->fail++;
			ERR_clear_error();
			usleep(1000);	/* a refused or failed attempt must not spin */
		}
	}
	return NULL;
}

static int run_hs(void)
{
	static struct hs_thread th[MAX_CLIENTS];
	double t0 = now_s();
	for (int i = 0; i < opt.clients; i++) {
		th[i].deadline = t0 + opt.seconds;
		th[i].maxlat = MAX_SAMPLES / opt.clients;
		th[i].lat = malloc(sizeof(double) * th[i].maxlat);
		if (!th[i].lat || pthread_create(&th[i].t, NULL, hs_main, &th[i])) {
			fprintf(stderr, "tlsbench: cannot start client %d\n", i);
			return 1;
		}
	}
	long ok = 0, fail = 0;
	int n = 0;
	for (int i = 0; i < opt.clients; i++) {
		pthread_join(th[i].t, NULL);
		ok += th[i].ok;
		fail += th[i].fail;
		n += th[i].nlat;
	}
	double el = now_s() - t0;
	double *all = malloc(sizeof(double) * (n ? n : 1));
	if (!all)
		return 1;
	for (int i = 0, k = 0; i < opt.clients; i++)
		for (int j = 0; j < th[i].nlat; j++)
			all[k++] = th[i].lat[j];
	qsort(all, n, sizeof(double), cmp_double);
	printf("{\"mode\": \"hs\", \"clients\": %d, \"seconds\": %.4f, \"handshakes\": %ld, \"failures\": %ld, "
	       "\"per_second\": %.1f, \"latency_us_median\": %.1f, \"latency_us_p99\": %.1f, "
	       "\"negotiated\": \"%s\"}\n", opt.clients, el, ok, fail, ok / el, pct(all, n, 50) * 1e6,
	       pct(all, n, 99) * 1e6, negotiated);
	return atomic_load(&fp_mismatch) ? 2 : 0;
}

/* ------------------------------------------------------------ requests */

/* Reads one HTTP response (headers + Content-Length body). Returns the
 * status code, or -1. */
static int read_response(SSL *s, char *buf)
{
	int have = 0, hdr = -1;
	long clen = -1;
	for (;;) {
		if (have >= RESP_MAX)
			return -1;
		int n = SSL_read(s, buf + have, RESP_MAX - have);
		if (n <= 0)
			return -1;
		have += n;
		if (hdr < 0) {
			char *e = memmem(buf, have, "\r\n\r\n", 4);
			if (!e)
				continue;
			hdr = (int)(e - buf) + 4;
			char *cl = memmem(buf, hdr, "Content-Length:", 15);
			if (!cl)
				return -1;
			clen = strtol(cl + 15, NULL, 10);
		}
		if (clen >= 0 && have >= hdr + clen)
			return atoi(buf + 9);
	}
}

static int run_get(void)
{
	static double lat[MAX_GETS];
	static char resp[RESP_MAX];
	char req[512];
	int n = 0, bad = 0, rc = 1;
	long bytes = 0;
	snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n\r\n",
		 opt.path, opt.token ? opt.token : "");
	int fd = tcp_connect();
	if (fd < 0) {
		fprintf(stderr, "tlsbench: connect 127.0.0.1:%d: %s\n", opt.port, strerror(errno));
		return 1;
	}
	SSL *s = SSL_new(ctx);
	SSL_set_fd(s, fd);
	if (SSL_connect(s) != 1 || check_peer(s)) {
		fprintf(stderr, "tlsbench: handshake failed\n");
		ERR_print_errors_fp(stderr);
		goto out;
	}
	double t0 = now_s(), iv = opt.interval_ms / 1000.0;
	long slot = 0;
	while (n < opt.count && n < MAX_GETS && !atomic_load(&stop_flag) && now_s() - t0 <= opt.seconds) {
		if (opt.interval_ms > 0) {
			/* one sleep to the next slot (a signal ends it early):
			 * the scraper must not wake the generator's CPU more
			 * often than it scrapes; slots missed by a slow answer
			 * are skipped, not caught up */
			double next = t0 + slot * iv;
			struct timespec ts = { .tv_sec = (time_t)next,
					       .tv_nsec = (long)((next - (time_t)next) * 1e9) };
			clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
			double t = now_s();
			if (t < next)
				continue;	/* woken early by a signal */
			slot = (long)((t - t0) / iv) + 1;
			if (atomic_load(&paused))
				continue;
		}
		if (now_s() - t0 > opt.seconds || atomic_load(&stop_flag))
			break;
		double a = now_s();
		if (SSL_write(s, req, (int)strlen(req)) <= 0) {
			fprintf(stderr, "tlsbench: write failed after %d requests\n", n);
			goto out;
		}
		int st = read_response(s, resp);
		if (st < 0) {
			fprintf(stderr, "tlsbench: no complete response after %d requests\n", n);
			goto out;
		}
		lat[n++] = now_s() - a;
		if (st != 200)
			bad++;
		if (opt.trace) {
			printf("req %d %.1f\n", st, lat[n - 1] * 1e6);
			fflush(stdout);
		}
		bytes = 0;
		char *e = memmem(resp, RESP_MAX, "\r\n\r\n", 4);
		char *cl = e ? memmem(resp, e - resp, "Content-Length:", 15) : NULL;
		if (cl)
			bytes = strtol(cl + 15, NULL, 10);
	}
	rc = bad ? 3 : 0;
out:;
	static double sorted[MAX_GETS];
	memcpy(sorted, lat, sizeof(double) * n);
	qsort(sorted, n, sizeof(double), cmp_double);
	printf("{\"mode\": \"get\", \"path\": \"%s\", \"requests\": %d, \"non_200\": %d, \"body_bytes\": %ld, "
	       "\"latency_us_median\": %.1f, \"latency_us_p99\": %.1f, \"latency_us_min\": %.1f, "
	       "\"latency_us_max\": %.1f, \"negotiated\": \"%s\", \"latencies_us\": [",
	       opt.path, n, bad, bytes, pct(sorted, n, 50) * 1e6, pct(sorted, n, 99) * 1e6,
	       n ? sorted[0] * 1e6 : 0, n ? sorted[n - 1] * 1e6 : 0, negotiated);
	for (int i = 0; i < n; i++)
		printf(i ? ", %.1f" : "%.1f", lat[i] * 1e6);
	printf("]}\n");
	SSL_shutdown(s);
	SSL_free(s);
	close(fd);
	return n ? rc : 1;
}

/* ------------------------------------------------------------ main */

static void usage(void)
{
	fprintf(stderr, "usage: tlsbench hs|get --port P [--clients K] [--seconds T] [--count N]\n"
			"       [--interval-ms I] [--paused 0|1] [--trace 0|1] [--token TOK] [--path P] [--fp SHA256] [--cipher C] [--groups G]\n");
	exit(64);
}

static SSL_CTX *make_ctx(void)
{
	SSL_CTX *c = SSL_CTX_new(TLS_client_method());
	if (!c || !SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION) ||
	    !SSL_CTX_set_max_proto_version(c, TLS1_2_VERSION) ||
	    !SSL_CTX_set_cipher_list(c, opt.cipher) || !SSL_CTX_set1_groups_list(c, opt.groups)) {
		ERR_print_errors_fp(stderr);
		return NULL;
	}
	SSL_CTX_set_options(c, SSL_OP_NO_TICKET);
	SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_verify(c, SSL_VERIFY_NONE, NULL);
	return c;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		usage();
	const char *mode = argv[1];
	for (int i = 2; i < argc; i++) {
		const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!v)
			usage();
		i++;
		if (!strcmp(k, "--port"))
			opt.port = atoi(v);
		else if (!strcmp(k, "--clients"))
			opt.clients = atoi(v);
		else if (!strcmp(k, "--seconds"))
			opt.seconds = atof(v);
		else if (!strcmp(k, "--count"))
			opt.count = atoi(v);
		else if (!strcmp(k, "--interval-ms"))
			opt.interval_ms = atoi(v);
		else if (!strcmp(k, "--paused"))
			atomic_store(&paused, atoi(v) != 0);
		else if (!strcmp(k, "--trace"))
			opt.trace = atoi(v);
		else if (!strcmp(k, "--token"))
			opt.token = v;
		else if (!strcmp(k, "--path"))
			opt.path = v;
		else if (!strcmp(k, "--fp"))
			opt.fp = v;
		else if (!strcmp(k, "--cipher"))
			opt.cipher = v;
		else if (!strcmp(k, "--groups"))
			opt.groups = v;
		else
			usage();
	}
	if (opt.port <= 0 || opt.port > 65535 || opt.clients < 1 || opt.clients > MAX_CLIENTS ||
	    opt.seconds <= 0 || opt.seconds > 3600 || opt.count < 1 || strlen(opt.path) > 200 ||
	    (opt.token && strlen(opt.token) > 256))
		usage();
	signal(SIGPIPE, SIG_IGN);
	/* no SA_RESTART: SIGTERM ends a sleep at once, and the summary is
	 * printed with the requests done so far */
	struct sigaction sa = { .sa_handler = on_signal };
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGUSR2, &sa, NULL);
	ctx = make_ctx();
	if (!ctx)
		return 1;
	if (!strcmp(mode, "hs"))
		return run_hs();
	if (!strcmp(mode, "get"))
		return run_get();
	usage();
	return 64;
}
