/*
 * platform.c — the hosted platform: Pollux as a Linux process
 * (build/pollux-hosted). The same runtime, config handling and appliances
 * as the VM image; only this file differs:
 *
 *   cores    one pthread per core, pinned to a host CPU (--cpus LIST)
 *   memory   two regions of --mem bytes each, carved by the same frame
 *            allocator as the VM's RAM: private anonymous memory for
 *            frame_alloc_pages (everything the program trusts), and one
 *            shared memfd (huge pages where the host has them) for
 *            frame_alloc_dma_pages (vrings, packet data) — the only
 *            memory a vhost-user backend is given to map
 *   time     CLOCK_MONOTONIC; the TSC rate is measured across start-up
 *   idle     a futex per core: core_kick() bumps and wakes it
 *   console  stdout; exit statuses as under QEMU's isa-debug-exit
 *            ((code << 1) | 1) except success, which is 0
 *   faults   SIGSEGV/SIGBUS/SIGILL/SIGFPE print the same report as a VM
 *            fault (on an alternate signal stack), then exit 33
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>
#include "core/core.h"
#include "core/cmdline.h"
#include "core/frame.h"
#include "core/backtrace.h"
#include "core/platform.h"

struct hosted_core {
	_Atomic uint32_t wake;          /* futex word: bumped by core_kick */
	/* a host fd the core also sleeps on (platform_idle_fd), and the
	 * eventfd that core_kick then writes to end that sleep; -1: none */
	_Atomic int idle_fd, kick_fd;
	int cpu;                        /* host CPU, -1: not pinned */
	uintptr_t stack_lo, stack_hi;
	void *altstack;
} __attribute__((aligned(CACHE_LINE)));

static struct core cores[POLLUX_MAX_CORES];
static struct hosted_core hcores[POLLUX_MAX_CORES];
static uint32_t ncores = 1;
static __thread struct core *self;

/* A region of memory carved in frames; `lock` covers its allocator. */
struct mem_region {
	struct frame_pool pool;
	pthread_mutex_t lock;
	uint8_t *base;
	size_t size;
};
static struct mem_region priv_mem = { .lock = PTHREAD_MUTEX_INITIALIZER };
static struct mem_region dma_mem = { .lock = PTHREAD_MUTEX_INITIALIZER };
static size_t mem_size;                 /* --mem, rounded: each region's size */
static int mem_fd = -1;                 /* dma_mem's memfd */
static int mem_huge;

#define MAX_VHOST_USER 16
static const char *vu_specs[MAX_VHOST_USER];       /* --vhost-user PATH[,queues=N] */
static int n_vu;

static struct timespec t_start;
static uint64_t tsc_start, tsc_hz;
static char *config_buf;
static size_t config_len;
static struct cmdline cmdline;
static char cmdline_text[CMDLINE_MAX_LEN];

int pollux_main(void);

/* ---- cores */
struct core *core_self(void) { return self; }
struct core *core_get(uint32_t id) { return id < ncores ? &cores[id] : NULL; }
uint32_t cores_count(void) { return ncores; }

static long futex(_Atomic uint32_t *w, int op, uint32_t val, const struct timespec *ts)
{
	return syscall(SYS_futex, (uint32_t *)w, op, val, ts, NULL, 0);
}

void core_kick(uint32_t id)
{
	if (id >= ncores)
		return;
	atomic_fetch_add_explicit(&hcores[id].wake, 1, memory_order_release);
	int kfd = atomic_load_explicit(&hcores[id].kick_fd, memory_order_acquire);
	if (kfd > 0) {
		uint64_t one = 1;
		ssize_t r = write(kfd, &one, sizeof one);       /* ends a poll() sleep */
		(void)r;
	} else {
		futex(&hcores[id].wake, FUTEX_WAKE_PRIVATE, 1, NULL);
	}
}

/* Hosted only: the calling core sleeps on fd too (its halting idle wait
 * returns when fd is readable, as a NIC interrupt would end a hlt), e.g.
 * the API listener's epoll fd on core 0. Kicks then go through an
 * eventfd. Returns 0 or -errno. */
int platform_idle_fd(int fd)
{
	int kfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (kfd < 0)
		return -errno;
	struct hosted_core *h = &hcores[self->id];
	atomic_store_explicit(&h->idle_fd, fd, memory_order_relaxed);
	/* release: a kicker that sees kick_fd writes to it; one that does not
	 * wakes the futex, and the wake word check below catches its bump */
	atomic_store_explicit(&h->kick_fd, kfd, memory_order_release);
	return 0;
}

uint64_t core_idle_prepare(void)
{
	return atomic_load_explicit(&hcores[self->id].wake, memory_order_acquire);
}

void core_idle_wait(uint64_t token, uint64_t deadline_ns)
{
	struct timespec ts, *tp = NULL;
	if (deadline_ns != UINT64_MAX) {
		uint64_t now = time_ns();
		if (deadline_ns <= now)
			return;
		uint64_t d = deadline_ns - now;
		ts.tv_sec = (time_t)(d / 1000000000ull);
		ts.tv_nsec = (long)(d % 1000000000ull);
		tp = &ts;
	}
	struct hosted_core *h = &hcores[self->id];
	int kfd = atomic_load_explicit(&h->kick_fd, memory_order_relaxed);
	if (kfd > 0) {
		if (atomic_load_explicit(&h->wake, memory_order_acquire) != (uint32_t)token)
			return;                 /* kicked since prepare */
		struct pollfd p[2] = { { .fd = kfd, .events = POLLIN },
				       { .fd = atomic_load_explicit(&h->idle_fd, memory_order_relaxed),
					 .events = POLLIN } };
		if (ppoll(p, 2, tp, NULL) > 0 && (p[0].revents & POLLIN)) {
			uint64_t n;
			ssize_t r = read(kfd, &n, sizeof n);
			(void)r;
		}
		return;
	}
	/* returns at once if a kick changed the word since prepare */
	futex(&h->wake, FUTEX_WAIT_PRIVATE, (uint32_t)token, tp);
}

/* ---- time */
uint64_t time_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)(t.tv_sec - t_start.tv_sec) * 1000000000ull + (uint64_t)t.tv_nsec - (uint64_t)t_start.tv_nsec;
}
uint64_t time_boot_ns(void) { return time_ns(); }
const char *time_source(void) { return "clock_gettime"; }
uint64_t time_tsc_hz(void) { return tsc_hz; }
void time_delay_ns(uint64_t ns)
{
	struct timespec ts = { (time_t)(ns / 1000000000ull), (long)(ns % 1000000000ull) };
	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* ---- memory: a private region and the shared memfd, carved in frames */
static int region_init(struct mem_region *r, uint8_t *base, size_t size)
{
	uint64_t *bits = malloc(frame_pool_bitmap_bytes((uintptr_t)base, (uintptr_t)base + size));
	if (!bits)
		return -ENOMEM;
	r->base = base;
	r->size = size;
	frame_pool_init(&r->pool, (uintptr_t)base, (uintptr_t)base + size, bits);
	frame_pool_add(&r->pool, (uintptr_t)base, (uintptr_t)base + size);
	return 0;
}

/* Private frames: anonymous memory no other process can map, 2 MiB
 * aligned so transparent huge pages can back it; touched only as frames
 * are handed out (frame_alloc_pages zeroes them). */
static int priv_init(size_t size)
{
	size_t huge = 2u << 20;
	uint8_t *m = mmap(NULL, size + huge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
			  -1, 0);
	if (m == MAP_FAILED)
		return -errno;
	uint8_t *base = (uint8_t *)(((uintptr_t)m + huge - 1) & ~(uintptr_t)(huge - 1));
	if (base > m)
		munmap(m, (size_t)(base - m));
	munmap(base + size, (size_t)(m + huge - base));
	madvise(base, size, MADV_HUGEPAGE);     /* a hint: fine if THP is off */
	return region_init(&priv_mem, base, size);
}

/* Device-visible frames: the memfd a vhost-user backend maps. */
static int dma_init(size_t size)
{
	uint8_t *base;
	mem_fd = memfd_create("pollux-dma", MFD_CLOEXEC | MFD_HUGETLB);
	mem_huge = mem_fd >= 0;
	if (mem_fd >= 0 && ftruncate(mem_fd, (off_t)size)) {
		close(mem_fd);
		mem_fd = -1;
		mem_huge = 0;
	}
	if (mem_fd < 0) {
		mem_fd = memfd_create("pollux-dma", MFD_CLOEXEC);
		if (mem_fd < 0 || ftruncate(mem_fd, (off_t)size))
			return -errno;
	}
	base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, mem_fd, 0);
	if (base == MAP_FAILED && mem_huge) {
		/* no huge pages reserved: fall back to ordinary pages */
		close(mem_fd);
		mem_huge = 0;
		mem_fd = memfd_create("pollux-dma", MFD_CLOEXEC);
		if (mem_fd < 0 || ftruncate(mem_fd, (off_t)size))
			return -errno;
		base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, mem_fd, 0);
	}
	if (base == MAP_FAILED)
		return -errno;
	return region_init(&dma_mem, base, size);
}

static int mem_init(size_t bytes)
{
	mem_size = (bytes + (2u << 20) - 1) & ~(size_t)((2u << 20) - 1);
	int rc = priv_init(mem_size);
	return rc ? rc : dma_init(mem_size);
}

uint64_t mem_total_bytes(void) { return mem_size; }

static void *region_alloc(struct mem_region *r, size_t n, uint64_t align)
{
	pthread_mutex_lock(&r->lock);
	uint64_t p = frame_pool_alloc(&r->pool, n, align);
	pthread_mutex_unlock(&r->lock);
	if (p)
		memset((void *)p, 0, n * FRAME_SIZE);
	return (void *)p;
}

static void region_free(struct mem_region *r, const char *fn, void *p, size_t n)
{
	pthread_mutex_lock(&r->lock);
	int rc = frame_pool_free(&r->pool, (uintptr_t)p, n);
	pthread_mutex_unlock(&r->lock);
	if (rc)
		panic("%s(%p, %zu): not allocated", fn, p, n);
}

void *frame_alloc_pages(size_t n) { return region_alloc(&priv_mem, n, FRAME_SIZE); }
void *frame_alloc_huge(void) { return region_alloc(&priv_mem, 512, 2u << 20); }
void frame_free_pages(void *p, size_t n) { region_free(&priv_mem, "frame_free_pages", p, n); }
void *frame_alloc_dma_pages(size_t n) { return region_alloc(&dma_mem, n, FRAME_SIZE); }
void frame_free_dma_pages(void *p, size_t n) { region_free(&dma_mem, "frame_free_dma_pages", p, n); }
/* base and size are fixed once region_init ran (start-up, before the
 * cores): read without the lock */
int frame_is_dma(const void *p, size_t len)
{
	uintptr_t a = (uintptr_t)p, b = (uintptr_t)dma_mem.base;
	return dma_mem.base && a >= b && len <= dma_mem.size && a - b <= dma_mem.size - len;
}

int platform_dma_fd(void) { return mem_fd; }
void *platform_dma_base(void) { return dma_mem.base; }
size_t platform_dma_size(void) { return dma_mem.size; }

/* ---- console, exit, faults */
void console_write(const char *s, size_t n)
{
	while (n) {
		ssize_t w = write(1, s, n);
		if (w <= 0) {
			if (w < 0 && errno == EINTR)
				continue;
			return;
		}
		s += w;
		n -= (size_t)w;
	}
}

static void raw(const char *fmt, ...)
{
	char b[256];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(b, sizeof b, fmt, ap);
	va_end(ap);
	if (n > 0)
		console_write(b, (size_t)n < sizeof b ? (size_t)n : sizeof b - 1);
}

_Noreturn void platform_exit(enum exit_code code)
{
	_exit(code == EXIT_OK ? 0 : (int)((code << 1) | 1));
}

_Noreturn void platform_poweroff(void) { _exit(0); }

static void report_bt(uintptr_t fp, uintptr_t sp)
{
	uintptr_t pcs[24], lo = sp, hi = sp + (1u << 20);
	struct core *c = self;
	if (c && hcores[c->id].stack_hi) {
		lo = hcores[c->id].stack_lo;
		hi = hcores[c->id].stack_hi;
	}
	char line[24 * 20 + 8];
	size_t n = backtrace_walk(fp, lo, hi, pcs, 24);
	backtrace_format(line, sizeof line, pcs, n);
	raw("%s\n", line);
}

_Noreturn void panic(const char *fmt, ...)
{
	char msg[200];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	raw("\n*** pollux panic on core %u: %s\n", self ? self->id : 0, msg);
	uintptr_t sp;
	__asm__ volatile("mov %%rsp, %0" : "=r"(sp));
	report_bt((uintptr_t)__builtin_frame_address(0), sp);
	raw("*** pollux halted: all cores stopped\n");
	platform_exit(EXIT_PANIC);
}

static void on_fault(int sig, siginfo_t *si, void *uc_)
{
	ucontext_t *uc = uc_;
	greg_t *g = uc->uc_mcontext.gregs;
	raw("\n*** pollux fault on core %u: signal %d (%s) at 0x%lx\n", self ? self->id : 0, sig,
	    strsignal(sig), (unsigned long)si->si_addr);
	raw("rip 0x%016lx rsp 0x%016lx rbp 0x%016lx\n", (unsigned long)g[REG_RIP],
	    (unsigned long)g[REG_RSP], (unsigned long)g[REG_RBP]);
	raw("at: 0x%lx\n", (unsigned long)g[REG_RIP]);
	report_bt((uintptr_t)g[REG_RBP], (uintptr_t)g[REG_RSP]);
	raw("*** pollux halted: all cores stopped\n");
	platform_exit(EXIT_PANIC);
}

static void thread_setup(struct core *c)
{
	self = c;
	struct hosted_core *h = &hcores[c->id];
	pthread_attr_t a;
	if (pthread_getattr_np(pthread_self(), &a) == 0) {
		void *addr;
		size_t size;
		pthread_attr_getstack(&a, &addr, &size);
		h->stack_lo = (uintptr_t)addr;
		h->stack_hi = (uintptr_t)addr + size;
		pthread_attr_destroy(&a);
	}
	stack_t ss = { .ss_sp = h->altstack = malloc(65536), .ss_size = 65536 };
	if (ss.ss_sp)
		sigaltstack(&ss, NULL);
	if (h->cpu >= 0) {
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(h->cpu, &set);
		if (pthread_setaffinity_np(pthread_self(), sizeof set, &set))
			klog("core %u: could not pin to CPU %d", c->id, h->cpu);
	}
}

void platform_core_enter(struct core *c) { thread_setup(c); }

void platform_ready(void)
{
	uint64_t ns = time_ns();
	if (ns)
		tsc_hz = (uint64_t)((unsigned __int128)(cycles_now() - tsc_start) * 1000000000ull / ns);
}

static int in_region(const struct mem_region *r, const void *p, size_t n)
{
	uintptr_t a = (uintptr_t)p, b = (uintptr_t)r->base;
	return a >= b && n <= r->size && a - b <= r->size - n;
}

/* "memory": device-visible frames come from the memfd and private frames
 * never do, nor does any core's arena; the memfd is exactly the region
 * a vhost-user backend is given. 0 or -1, each failure logged. */
static int test_memory(void)
{
	int bad = 0;
	struct stat st;
	void *p = frame_alloc_pages(3), *d = frame_alloc_dma_pages(3);
	if (!p || !d) {
		klog("selftest memory: no frames (private %p, device-visible %p)", p, d);
		return -1;
	}
	if (in_region(&dma_mem, p, 3 * FRAME_SIZE) || !in_region(&priv_mem, p, 3 * FRAME_SIZE))
		klog("selftest memory: private frames at %p lie in the memfd", p), bad++;
	if (!in_region(&dma_mem, d, 3 * FRAME_SIZE))
		klog("selftest memory: device-visible frames at %p lie outside the memfd", d), bad++;
	for (uint32_t i = 0; i < ncores; i++)
		if (cores[i].arena.base && in_region(&dma_mem, (void *)cores[i].arena.base,
						     cores[i].arena.end - cores[i].arena.base))
			klog("selftest memory: core %u's arena lies in the memfd", i), bad++;
	if (fstat(mem_fd, &st) || (size_t)st.st_size != dma_mem.size)
		klog("selftest memory: the memfd holds %lld bytes, the region %zu",
		     (long long)st.st_size, dma_mem.size), bad++;
	frame_free_pages(p, 3);
	frame_free_dma_pages(d, 3);
	if (!bad)
		klog("selftest memory: private and device-visible frames apart (memfd %zu MiB at %p)",
		     dma_mem.size >> 20, (void *)dma_mem.base);
	return bad ? -1 : 0;
}

/* The hosted platform's own tests (src/appliance/selftest.c runs the
 * shared ones). */
int platform_selftest(const char *name)
{
	if (!strcmp(name, "memory"))
		return test_memory();
	return -ENOENT;
}

/* The raw boot module; src/core/bootmod.c splits it (platform.h). */
const char *platform_boot_module(size_t *len)
{
	*len = config_len;
	return config_buf;
}

/* ---- start-up */
/* The largest --config file: a JSON config, or a site archive. */
#define CONFIG_FILE_MAX (1024u << 20)
static int read_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return -errno;
	size_t cap = 4096, n = 0;
	char *b = malloc(cap);
	size_t r;
	while (b && (r = fread(b + n, 1, cap - n, f)) > 0) {
		n += r;
		if (n == cap) {
			if (cap >= CONFIG_FILE_MAX) {
				free(b);
				fclose(f);
				errno = EFBIG;
				return -EFBIG;
			}
			char *nb = realloc(b, cap *= 2);
			if (!nb) {
				free(b);
				b = NULL;
			}
			b = nb;
		}
	}
	fclose(f);
	if (!b)
		return -ENOMEM;
	config_buf = b;
	config_len = n;
	return 0;
}

static int parse_cpus(const char *s, int *cpus, int max)
{
	int n = 0;
	while (*s && n < max) {
		char *end;
		long a = strtol(s, &end, 10), b = a;
		if (end == s || a < 0)
			return -1;
		if (*end == '-') {
			s = end + 1;
			b = strtol(s, &end, 10);
			if (end == s || b < a)
				return -1;
		}
		for (long c = a; c <= b && n < max; c++)
			cpus[n++] = (int)c;
		s = *end == ',' ? end + 1 : end;
		if (*end && *end != ',')
			return -1;
	}
	return n;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: pollux-hosted [--config FILE] [--cores N] [--cpus LIST] [--mem MIB]\n"
		"                     [--test NAME] [--exit ready] [--append \"WORDS\"]\n"
		"  --cores N     cores (threads), core 0 is the control core (default 2)\n"
		"  --cpus LIST   host CPUs to pin them to, e.g. 0-3 or 2,4,6 (default: none)\n"
		"  --mem MIB     private memory, and as much device-visible memory (rings and\n"
		"                packet data, one memfd a backend maps) (default 256)\n"
		"  --test NAME   run a self-test after start-up (mesh, callon, timers, quiesce, sched,\n"
		"                memory)\n"
		"  --append W    kernel-style command-line words (e.g. \"test_n=100000\")\n"
		"  --vhost-user PATH[,queues=N]  a virtio-net device served by the vhost-user backend\n"
		"                at PATH (e.g. dpdk-testpmd --vdev net_vhost0,iface=PATH); repeatable\n");
}

int main(int argc, char **argv)
{
	tsc_start = cycles_now();
	clock_gettime(CLOCK_MONOTONIC, &t_start);
	setvbuf(stdout, NULL, _IONBF, 0);
	static const struct option opts[] = {
		{ "config", required_argument, 0, 'c' }, { "cores", required_argument, 0, 'n' },
		{ "cpus", required_argument, 0, 'p' }, { "mem", required_argument, 0, 'm' },
		{ "test", required_argument, 0, 't' }, { "exit", required_argument, 0, 'x' },
		{ "append", required_argument, 0, 'a' }, { "help", no_argument, 0, 'h' },
		{ "vhost-user", required_argument, 0, 'v' }, { 0 },
	};
	int cpus[POLLUX_MAX_CORES], ncpus = 0;
	long mem_mib = 256;
	const char *config = NULL;
	ncores = 2;
	size_t off = 0;
	int o;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'c': config = optarg; break;
		case 'n': ncores = (uint32_t)atoi(optarg); break;
		case 'p':
			ncpus = parse_cpus(optarg, cpus, POLLUX_MAX_CORES);
			if (ncpus <= 0) {
				fprintf(stderr, "pollux-hosted: bad --cpus list '%s'\n", optarg);
				return EXIT_BAD_CMDLINE << 1 | 1;
			}
			break;
		case 'm': mem_mib = atol(optarg); break;
		case 't': off += (size_t)snprintf(cmdline_text + off, sizeof cmdline_text - off, " test=%s", optarg); break;
		case 'x': off += (size_t)snprintf(cmdline_text + off, sizeof cmdline_text - off, " exit=%s", optarg); break;
		case 'a': off += (size_t)snprintf(cmdline_text + off, sizeof cmdline_text - off, " %s", optarg); break;
		case 'h': usage(); return 0;
		case 'v':
			if (n_vu == MAX_VHOST_USER) {
				fprintf(stderr, "pollux-hosted: more than %d --vhost-user devices\n", MAX_VHOST_USER);
				return EXIT_BAD_CMDLINE << 1 | 1;
			}
			vu_specs[n_vu++] = optarg;
			break;
		default: usage(); return EXIT_BAD_CMDLINE << 1 | 1;
		}
		if (off >= sizeof cmdline_text) {
			fprintf(stderr, "pollux-hosted: command line too long\n");
			return EXIT_BAD_CMDLINE << 1 | 1;
		}
	}
	if (ncores < 1 || ncores > POLLUX_MAX_CORES || mem_mib < 8 || mem_mib > (1 << 20)) {
		fprintf(stderr, "pollux-hosted: --cores must be 1..%d and --mem 8..1048576 MiB\n", POLLUX_MAX_CORES);
		return EXIT_BAD_CMDLINE << 1 | 1;
	}
	if (cmdline_parse(&cmdline, cmdline_text)) {
		fprintf(stderr, "pollux-hosted: bad command-line words '%s'\n", cmdline_text);
		return EXIT_BAD_CMDLINE << 1 | 1;
	}
	cmdline_set_global(&cmdline);
	if (config && read_file(config)) {
		fprintf(stderr, "pollux-hosted: cannot read config %s: %s\n", config, strerror(errno));
		return EXIT_BAD_CONFIG << 1 | 1;
	}
	int rc = mem_init((size_t)mem_mib << 20);
	if (rc) {
		fprintf(stderr, "pollux-hosted: no memory (%ld MiB): %s\n", mem_mib, strerror(-rc));
		return EXIT_PANIC << 1 | 1;
	}
	for (uint32_t i = 0; i < ncores; i++) {
		cores[i].self = &cores[i];
		cores[i].id = i;
		cores[i].role = i == 0 ? CORE_ROLE_CONTROL : CORE_ROLE_DATA;
		cores[i].plat = &hcores[i];
		hcores[i].cpu = ncpus ? cpus[i % ncpus] : -1;
		cores[i].hw_id = (uint32_t)hcores[i].cpu;
	}
	struct sigaction sa = { .sa_sigaction = on_fault, .sa_flags = SA_SIGINFO | SA_ONSTACK };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
	sigaction(SIGILL, &sa, NULL);
	sigaction(SIGFPE, &sa, NULL);
	thread_setup(&cores[0]);
	atomic_store(&cores[0].state, CORE_STARTED);
	klog("pollux-hosted: memory %zu MiB from a memfd (%s pages)", mem_size >> 20,
	     mem_huge ? "2 MiB huge" : "4 KiB");
	return pollux_main();
}

const char *platform_vhost_user_spec(int i) { return i >= 0 && i < n_vu ? vu_specs[i] : NULL; }
