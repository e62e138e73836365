/*
 * trap.c — interrupts, exceptions and panics. Every exception is fatal:
 * the faulting core prints one report on the serial console (core,
 * vector, error code, RIP, registers, a backtrace of return addresses
 * that tools/symbolize turns into names), stops every other core with an
 * NMI, and exits through isa-debug-exit with EXIT_PANIC where QEMU has it
 * (then halts). Interrupts used on purpose: VEC_WAKE (a core's mailbox or
 * clone handoff is waiting, or an RX queue's MSI-X: platform_msi_wake),
 * VEC_TEST (the red-zone self-test).
 */
#include <stdarg.h>
#include <stdio.h>
#include "core/metal/metal.h"
#include "core/backtrace.h"

static _Atomic int stopping;          /* set once by the first core to fail */
_Atomic uint64_t trap_test_count[POLLUX_MAX_CORES];

static const char *const names[32] = {
	"divide error", "debug", "NMI", "breakpoint", "overflow", "bound range",
	"invalid opcode", "device not available", "double fault", "coprocessor",
	"invalid TSS", "segment not present", "stack fault", "general protection",
	"page fault", "reserved", "x87 error", "alignment check", "machine check",
	"SIMD error", "virtualization", "control protection",
};

void halt_forever(void)
{
	for (;;)
		__asm__ volatile("cli; hlt");
}

static struct core *self_or_null(void)
{
	return rdmsr(MSR_GS_BASE) ? core_self() : NULL;
}

/* The end of the mapped stack above sp (at most 1 MiB), so the walk can
 * never touch a guard page. */
static uintptr_t stack_top_guess(uintptr_t sp)
{
	struct core *c = self_or_null();
	if (c) {
		struct cpu *cpu = c->plat;
		if (sp >= cpu->stack_lo && sp < cpu->stack_hi)
			return cpu->stack_hi;
		if (sp >= cpu->boot_stack_lo && sp < cpu->boot_stack_hi)
			return cpu->boot_stack_hi;
	}
	uintptr_t p = sp & ~4095ul, end = p + (1u << 20);
	for (; p < end; p += 4096)
		if (paging_is_guard(p) || !memmap_is_ram(&metal_ram, p, p + 4096))
			break;
	return p;
}

static void report_backtrace(uintptr_t fp, uintptr_t sp)
{
	uintptr_t pcs[24];
	char line[24 * 20 + 8];
	/* sp may be in a guard page (overflow): find the stack from fp */
	size_t n = backtrace_walk(fp, sp & ~7ul, stack_top_guess(fp > sp ? fp : sp), pcs, 24);
	backtrace_format(line, sizeof line, pcs, n);
	raw_printf("%s\n", line);
}

/* Where each core was when the failing core's NMI stopped it: the report
 * names them, so a core stuck somewhere (a lost wake-up, a spin) shows
 * up in the same report. Written once per core by its NMI handler. */
static _Atomic uint64_t stopped_at[POLLUX_MAX_CORES];

static void report_others(unsigned me)
{
	uint64_t t0 = rdtsc();
	for (unsigned i = 0; i < metal_ncores; i++) {
		if (i == me)
			continue;
		/* give its NMI a moment (at most ~50 ms of a 1 GHz TSC in all) */
		while (!atomic_load(&stopped_at[i]) && rdtsc() - t0 < 50000000ull)
			cpu_relax();
		uint64_t rip = atomic_load(&stopped_at[i]);
		if (rip)
			raw_printf("core %u was at 0x%lx\n", i, (unsigned long)rip);
		else
			raw_printf("core %u did not answer the stop NMI\n", i);
	}
}

static void stop_others(void)
{
	int expected = 0;
	if (atomic_compare_exchange_strong(&stopping, &expected, 1))
		apic_send_nmi_all_others();
}

_Noreturn void fault_report(struct trap_frame *f, const char *why)
{
	struct core *c = self_or_null();
	struct cpu *cpu = c ? c->plat : NULL;
	if (cpu && cpu->in_fault++) {
		raw_printf("\n*** pollux: fault while reporting a fault on core %u\n", c->id);
		platform_exit(EXIT_PANIC);
	}
	stop_others();
	unsigned id = c ? c->id : 0;
	const char *name = f->vector < 32 && names[f->vector] ? names[f->vector] : "interrupt";
	raw_printf("\n*** pollux fault on core %u: vector %lu (%s), error 0x%lx\n",
		   id, (unsigned long)f->vector, name, (unsigned long)f->error);
	if (why)
		raw_printf("*** %s\n", why);
	if (f->vector == 14) {
		uint64_t cr2 = read_cr2();
		const char *g = paging_guard_what(cr2);
		if (g)
			raw_printf("*** stack overflow: hit the guard page of %s at 0x%lx\n", g, (unsigned long)cr2);
		else if (cr2 < 4096)
			raw_printf("*** NULL pointer dereference at 0x%lx\n", (unsigned long)cr2);
		raw_printf("cr2 0x%016lx\n", (unsigned long)cr2);
	}
	raw_printf("rip 0x%016lx rsp 0x%016lx rflags 0x%08lx cs 0x%lx\n",
		   (unsigned long)f->rip, (unsigned long)f->rsp, (unsigned long)f->rflags, (unsigned long)f->cs);
	raw_printf("rax 0x%016lx rbx 0x%016lx rcx 0x%016lx rdx 0x%016lx\n",
		   (unsigned long)f->rax, (unsigned long)f->rbx, (unsigned long)f->rcx, (unsigned long)f->rdx);
	raw_printf("rsi 0x%016lx rdi 0x%016lx rbp 0x%016lx r8  0x%016lx\n",
		   (unsigned long)f->rsi, (unsigned long)f->rdi, (unsigned long)f->rbp, (unsigned long)f->r8);
	raw_printf("r9  0x%016lx r10 0x%016lx r11 0x%016lx r12 0x%016lx\n",
		   (unsigned long)f->r9, (unsigned long)f->r10, (unsigned long)f->r11, (unsigned long)f->r12);
	raw_printf("r13 0x%016lx r14 0x%016lx r15 0x%016lx\n",
		   (unsigned long)f->r13, (unsigned long)f->r14, (unsigned long)f->r15);
	raw_printf("at: 0x%lx\n", (unsigned long)f->rip);
	report_backtrace(f->rbp, f->rsp);
	report_others(id);
	raw_printf("*** pollux halted: all cores stopped\n");
	platform_exit(EXIT_PANIC);
}

_Noreturn void panic(const char *fmt, ...)
{
	char msg[200];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	irq_disable();
	struct core *c = self_or_null();
	stop_others();
	raw_printf("\n*** pollux panic on core %u: %s\n", c ? c->id : 0, msg);
	uintptr_t fp = (uintptr_t)__builtin_frame_address(0), sp;
	__asm__ volatile("mov %%rsp, %0" : "=r"(sp));
	report_backtrace(fp, sp);
	report_others(c ? c->id : 0);
	raw_printf("*** pollux halted: all cores stopped\n");
	platform_exit(EXIT_PANIC);
}

void trap_dispatch(struct trap_frame *f)
{
	uint64_t v = f->vector;
	if (v == 2) {                   /* NMI: another core failed; stop here */
		if (atomic_load(&stopping)) {
			struct core *c = self_or_null();
			if (c && c->id < POLLUX_MAX_CORES)
				atomic_store(&stopped_at[c->id], f->rip ? f->rip : 1);
			halt_forever();
		}
		return;
	}
	if (v < 32)
		fault_report(f, NULL);
	if (v == VEC_WAKE || v == VEC_TIMER) {
		apic_eoi();
		return;
	}
	if (v == VEC_TEST) {
		struct core *c = core_self();
		atomic_fetch_add_explicit(&trap_test_count[c->id], 1, memory_order_relaxed);
		apic_eoi();
		return;
	}
	if (v == VEC_SPURIOUS)
		return;
	apic_eoi();
}

_Noreturn void platform_exit(enum exit_code code)
{
	/* isa-debug-exit: QEMU exits with (code << 1) | 1; absent, nothing */
	outl(0xf4, code);
	if (code == EXIT_OK)
		platform_poweroff();
	halt_forever();
	__builtin_unreachable();
}
