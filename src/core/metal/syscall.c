/*
 * syscall.c — the Linux system-call shim that musl's `syscall`
 * instructions land in (ring 0 to ring 0; entry.S saves the frame).
 *
 * Implemented: what musl needs for start-up, stdio, malloc, threads,
 * clocks and mbedTLS's entropy (list in docs/architecture.md). Anything
 * else returns -ENOSYS and is logged once per number. Threads: clone()
 * hands the child's registers to the next idle AP (ap_idle_loop), one
 * thread per core; futex waits spin briefly (every core polls anyway).
 */
#include <errno.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <sched.h>
#include <signal.h>
#include <sys/utsname.h>
#include "core/metal/metal.h"

#define SYS_read 0
#define SYS_write 1
#define SYS_close 3
#define SYS_mmap 9
#define SYS_mprotect 10
#define SYS_munmap 11
#define SYS_brk 12
#define SYS_rt_sigaction 13
#define SYS_rt_sigprocmask 14
#define SYS_ioctl 16
#define SYS_readv 19
#define SYS_writev 20
#define SYS_sched_yield 24
#define SYS_mremap 25
#define SYS_madvise 28
#define SYS_nanosleep 35
#define SYS_getpid 39
#define SYS_clone 56
#define SYS_exit 60
#define SYS_uname 63
#define SYS_arch_prctl 158
#define SYS_gettid 186
#define SYS_tkill 200
#define SYS_futex 202
#define SYS_sched_getaffinity 204
#define SYS_set_tid_address 218
#define SYS_clock_gettime 228
#define SYS_clock_nanosleep 230
#define SYS_exit_group 231
#define SYS_tgkill 234
#define SYS_getrandom 318

static _Atomic uint64_t unimplemented_seen[8];   /* one bit per number < 512 */
_Atomic uint64_t syscall_count;

static long sys_write(int fd, const void *buf, size_t n)
{
	if (fd != 1 && fd != 2)
		return -EBADF;
	console_write(buf, n);
	return (long)n;
}

static long sys_writev(int fd, const struct iovec *iov, int cnt)
{
	if (fd != 1 && fd != 2)
		return -EBADF;
	if (cnt < 0 || cnt > 1024)
		return -EINVAL;
	long total = 0;
	for (int i = 0; i < cnt; i++) {
		console_write(iov[i].iov_base, iov[i].iov_len);
		total += (long)iov[i].iov_len;
	}
	return total;
}

static long sys_mmap(uintptr_t addr, size_t len, int prot, int flags)
{
	if (!(flags & MAP_ANONYMOUS))
		return -ENODEV;
	if (len == 0)
		return -EINVAL;
	size_t n = (len + 4095) / 4096;
	if (flags & MAP_FIXED) {
		/* only over memory we handed out: change protection */
		if ((addr & 4095) || !memmap_is_ram(&metal_ram, addr, addr + n * 4096))
			return -ENOMEM;
		memset((void *)addr, 0, 0);
		paging_set_present(addr, n * 4096, prot != PROT_NONE);
		return (long)addr;
	}
	void *p = frame_alloc_pages(n);
	if (!p)
		return -ENOMEM;
	if (prot == PROT_NONE)
		paging_set_present((uintptr_t)p, n * 4096, 0);
	return (long)p;
}

static long sys_munmap(uintptr_t addr, size_t len)
{
	if ((addr & 4095) || len == 0)
		return -EINVAL;
	size_t n = (len + 4095) / 4096;
	paging_set_present(addr, n * 4096, 1);
	return frame_free_checked((void *)addr, n);
}

static long sys_mprotect(uintptr_t addr, size_t len, int prot)
{
	if (addr & 4095)
		return -EINVAL;
	if (paging_set_present(addr, (len + 4095) & ~4095ul, prot != PROT_NONE))
		return -ENOMEM;
	return 0;
}

static long sys_clock_gettime(int clk, struct timespec *ts)
{
	uint64_t ns = time_ns();
	if (clk == CLOCK_REALTIME || clk == CLOCK_REALTIME_COARSE)
		ns += time_realtime_base_ns();
	ts->tv_sec = (time_t)(ns / 1000000000ull);
	ts->tv_nsec = (long)(ns % 1000000000ull);
	return 0;
}

static long sys_getrandom(uint8_t *buf, size_t n)
{
	size_t i = 0;
	while (i < n) {
		unsigned long long v = 0;
		int ok = 0;
		for (int t = 0; t < 10 && !ok; t++)
			ok = rdrand64(&v);
		if (!ok)
			return i ? (long)i : -EAGAIN;
		size_t k = n - i < 8 ? n - i : 8;
		memcpy(buf + i, &v, k);
		i += k;
	}
	return (long)n;
}

static long sys_futex(_Atomic int *uaddr, int op, int val, const struct timespec *to)
{
	op &= 127;
	if (op == 0 || op == 9) {               /* WAIT, WAIT_BITSET */
		if (atomic_load(uaddr) != val)
			return -EAGAIN;
		/* every core polls: spin until the word changes (or a while) */
		uint64_t limit = time_ns() + (to ? (uint64_t)to->tv_sec * 1000000000ull + (uint64_t)to->tv_nsec : 1000000ull);
		while (atomic_load(uaddr) == val && time_ns() < limit)
			cpu_relax();
		return 0;
	}
	if (op == 1 || op == 10)                /* WAKE, WAKE_BITSET */
		return 0;
	return -ENOSYS;
}

/* clone: hand the child to the first idle AP */
static long sys_clone(struct trap_frame *f)
{
	unsigned long flags = f->rdi;
	uintptr_t stack = f->rsi;
	int *ptid = (int *)f->rdx, *ctid = (int *)f->r10;
	uint64_t tls = f->r8;
	smp_wait_aps(5000000000ull);            /* APs boot alongside core 0 */
	for (uint32_t i = 1; i < metal_ncores; i++) {
		struct core *c = &metal_cores[i];
		struct cpu *cpu = c->plat;
		uint32_t want = CORE_STARTED;
		if (!atomic_compare_exchange_strong(&c->state, &want, CORE_CLAIMED))
			continue;
		cpu->handoff_frame = *f;
		cpu->handoff_frame.rax = 0;
		cpu->handoff_frame.rsp = stack;
		cpu->handoff_frame.rcx = f->rip;
		cpu->handoff_fs = (flags & CLONE_SETTLS) ? tls : rdmsr(MSR_FS_BASE);
		cpu->tid = (int)i + 1;
		cpu->clear_tid = (flags & CLONE_CHILD_CLEARTID) ? ctid : NULL;
		cpu->stack_hi = stack;
		cpu->stack_lo = stack > (1u << 20) ? stack - (1u << 20) : 0;
		if (flags & CLONE_PARENT_SETTID)
			*ptid = cpu->tid;
		/* release: the frame above is complete before the AP sees it
		 * (pairs with the acquire in ap_idle_loop) */
		atomic_store_explicit(&cpu->handoff, &cpu->handoff_frame, memory_order_release);
		apic_send_ipi(c->hw_id, VEC_WAKE);
		return cpu->tid;
	}
	return -EAGAIN;
}

void ap_idle_loop(void *unused)
{
	struct core *c = core_self();
	struct cpu *cpu = c->plat;
	for (;;) {
		irq_disable();
		struct trap_frame *f = atomic_load_explicit(&cpu->handoff, memory_order_acquire);
		if (f) {
			atomic_store_explicit(&cpu->handoff, NULL, memory_order_relaxed);
			wrmsr(MSR_FS_BASE, cpu->handoff_fs);
			/* run the child on this core; copy the frame to our stack */
			struct trap_frame local = *f;
			context_resume(&local);
		}
		__asm__ volatile("sti; hlt" ::: "memory");
	}
}

static _Noreturn void thread_exit(void)
{
	struct core *c = core_self();
	struct cpu *cpu = c->plat;
	if (c->id == 0)
		platform_exit(EXIT_OK);
	if (cpu->clear_tid)
		__atomic_store_n(cpu->clear_tid, 0, __ATOMIC_RELEASE);
	cpu->clear_tid = NULL;
	atomic_store_explicit(&c->state, CORE_STARTED, memory_order_release);
	stack_switch_call((void *)cpu->boot_stack_hi, ap_idle_loop, NULL);
}

static long unimplemented(uint64_t nr)
{
	if (nr < 512) {
		uint64_t bit = 1ull << (nr % 64);
		if (!(atomic_fetch_or(&unimplemented_seen[nr / 64], bit) & bit))
			klog("syscall %lu not implemented: returning -ENOSYS", (unsigned long)nr);
	}
	return -ENOSYS;
}

void syscall_dispatch(struct trap_frame *f)
{
	uint64_t nr = f->rax;
	long r;
	atomic_fetch_add_explicit(&syscall_count, 1, memory_order_relaxed);
	switch (nr) {
	case SYS_write: r = sys_write((int)f->rdi, (const void *)f->rsi, f->rdx); break;
	case SYS_writev: r = sys_writev((int)f->rdi, (const struct iovec *)f->rsi, (int)f->rdx); break;
	case SYS_read: case SYS_readv: r = (f->rdi == 0) ? 0 : -EBADF; break;
	case SYS_close: r = -EBADF; break;
	case SYS_ioctl: r = -ENOTTY; break;
	case SYS_mmap: r = sys_mmap(f->rdi, f->rsi, (int)f->rdx, (int)f->r10); break;
	case SYS_munmap: r = sys_munmap(f->rdi, f->rsi); break;
	case SYS_mprotect: r = sys_mprotect(f->rdi, f->rsi, (int)f->rdx); break;
	case SYS_brk: r = 0; break;             /* no heap by brk: malloc uses mmap */
	case SYS_madvise: r = 0; break;
	case SYS_mremap: r = -ENOMEM; break;
	case SYS_rt_sigaction: case SYS_rt_sigprocmask: r = 0; break;
	case SYS_sched_yield: cpu_relax(); r = 0; break;
	case SYS_getpid: r = 1; break;
	case SYS_gettid: r = ((struct cpu *)core_self()->plat)->tid; break;
	case SYS_set_tid_address:
		((struct cpu *)core_self()->plat)->clear_tid = (int *)f->rdi;
		r = ((struct cpu *)core_self()->plat)->tid;
		break;
	case SYS_arch_prctl:
		if (f->rdi == 0x1002) {             /* ARCH_SET_FS */
			wrmsr(MSR_FS_BASE, f->rsi);
			r = 0;
		} else {
			r = -EINVAL;
		}
		break;
	case SYS_clock_gettime: r = sys_clock_gettime((int)f->rdi, (struct timespec *)f->rsi); break;
	case SYS_nanosleep: case SYS_clock_nanosleep: {
		const struct timespec *ts = (const struct timespec *)(nr == SYS_nanosleep ? f->rdi : f->rdx);
		time_delay_ns((uint64_t)ts->tv_sec * 1000000000ull + (uint64_t)ts->tv_nsec);
		r = 0;
		break;
	}
	case SYS_getrandom: r = sys_getrandom((uint8_t *)f->rdi, f->rsi); break;
	case SYS_futex: r = sys_futex((_Atomic int *)f->rdi, (int)f->rsi, (int)f->rdx, (const struct timespec *)f->r10); break;
	case SYS_clone: r = sys_clone(f); break;
	case SYS_sched_getaffinity: {
		size_t sz = f->rsi < 8 ? f->rsi : 8;
		uint64_t mask = metal_ncores >= 64 ? ~0ull : (1ull << metal_ncores) - 1;
		memcpy((void *)f->rdx, &mask, sz);
		r = (long)sz;
		break;
	}
	case SYS_uname: {
		struct utsname *u = (struct utsname *)f->rdi;
		memset(u, 0, sizeof *u);
		strcpy(u->sysname, "Pollux");
		strcpy(u->nodename, "pollux");
		strcpy(u->release, POLLUX_VERSION);
		strcpy(u->machine, "x86_64");
		r = 0;
		break;
	}
	case SYS_tkill: case SYS_tgkill:
		panic("abort(): signal %ld raised", (long)(nr == SYS_tkill ? f->rsi : f->rdx));
	case SYS_exit: thread_exit();
	case SYS_exit_group:
		platform_exit(f->rdi == 0 ? EXIT_OK : EXIT_TEST_FAILED);
	default: r = unimplemented(nr);
	}
	f->rax = (uint64_t)r;
}
