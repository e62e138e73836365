/*
 * smp.c — starting the application processors and handing them threads.
 *
 * smp_start_aps() copies the trampoline to TRAMP_BASE and sends INIT,
 * SIPI (and a second SIPI to any AP not up after 10 ms) to every CPU in
 * the MADT. Each AP sets up its own GDT/TSS/IDT/GS (cpu_init), marks
 * itself CORE_STARTED and sleeps in ap_idle_loop() until the boot CPU's
 * pthread_create() reaches it through the clone shim (syscall.c): that is
 * how each core gets its own musl thread (FS base, errno, canary).
 */
#include <string.h>
#include "core/metal/metal.h"

#define AP_BOOT_STACK (32 * 1024)

static uintptr_t ap_stacks;

struct core *smp_core_by_apic(uint32_t id)
{
	for (uint32_t i = 0; i < metal_ncores; i++)
		if (metal_cores[i].hw_id == id)
			return &metal_cores[i];
	return NULL;
}

static uint32_t my_apic_id(void)
{
	uint32_t r[4];
	if (apic_is_x2()) {
		cpuid(0xb, 0, r);
		return r[3];
	}
	cpuid(1, 0, r);
	return r[1] >> 24;
}

static void ap_entry(uint32_t ticket)
{
	struct core *c = smp_core_by_apic(my_apic_id());
	if (!c)
		halt_forever();                 /* a CPU we chose not to use */
	struct cpu *cpu = c->plat;
	cpu->boot_stack_hi = ap_stacks + (uintptr_t)(ticket + 1) * AP_BOOT_STACK;
	cpu->boot_stack_lo = cpu->boot_stack_hi - AP_BOOT_STACK;
	cpu_init(c);
	apic_init_ap();
	atomic_store_explicit(&c->state, CORE_STARTED, memory_order_release);
	ap_idle_loop(NULL);
}

void smp_start_aps(void)
{
	if (metal_ncores < 2)
		return;
	size_t n = metal_ncores - 1;
	ap_stacks = (uintptr_t)frame_alloc_pages(n * AP_BOOT_STACK / 4096);
	if (!ap_stacks)
		panic("no memory for AP boot stacks");
	memcpy((void *)TRAMP_BASE, ap_tramp_start, (size_t)(ap_tramp_end - ap_tramp_start));
#define MAILBOX(sym) ((void *)(TRAMP_BASE + ((char *)&(sym) - ap_tramp_start)))
	*(uint64_t *)MAILBOX(tramp_cr3) = read_cr3();
	*(uint64_t *)MAILBOX(tramp_entry) = (uint64_t)ap_entry;
	*(uint64_t *)MAILBOX(tramp_stacks) = ap_stacks;
	*(uint64_t *)MAILBOX(tramp_stack_size) = AP_BOOT_STACK;
	*(uint32_t *)MAILBOX(tramp_ticket) = 0;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	for (uint32_t i = 1; i < metal_ncores; i++)
		apic_send_init(metal_cores[i].hw_id);
	for (uint32_t i = 1; i < metal_ncores; i++)
		apic_send_sipi(metal_cores[i].hw_id, TRAMP_BASE >> 12);
}

void smp_wait_aps(uint64_t timeout_ns)
{
	uint64_t t0 = time_ns(), resent = 0;
	for (;;) {
		uint32_t up = 1;
		for (uint32_t i = 1; i < metal_ncores; i++)
			up += atomic_load_explicit(&metal_cores[i].state, memory_order_acquire) >= CORE_STARTED;
		if (up == metal_ncores)
			return;
		uint64_t dt = time_ns() - t0;
		if (!resent && dt > 10000000ull) {
			for (uint32_t i = 1; i < metal_ncores; i++)
				if (atomic_load(&metal_cores[i].state) < CORE_STARTED)
					apic_send_sipi(metal_cores[i].hw_id, TRAMP_BASE >> 12);
			resent = 1;
		}
		if (dt > timeout_ns)
			panic("only %u of %u CPUs started", up, metal_ncores);
		cpu_relax();
	}
}
