/*
 * cpu.c — per-CPU hardware set-up: the GDT with this CPU's TSS, an IST
 * stack (with a guard page below it) for every kind of trap, the shared
 * IDT, GS base -> struct core, the `syscall` MSRs and the SSE control
 * word. Every CPU calls cpu_init() once on itself before it runs C code
 * that may fault.
 *
 * Every IDT entry names an IST slot: interrupts and exceptions never run
 * on the interrupted stack, so musl's red zone survives them.
 */
#include <string.h>
#include "core/metal/metal.h"

struct idt_entry {
	uint16_t off0, sel;
	uint8_t ist, type;
	uint16_t off1;
	uint32_t off2, zero;
} __attribute__((packed));

static struct idt_entry idt[256] __attribute__((aligned(16)));
static int idt_ready;

struct desc_ptr {
	uint16_t limit;
	uint64_t base;
} __attribute__((packed));

static int ist_for(int vec)
{
	switch (vec) {
	case 2: return IST_NMI;
	case 8: return IST_DF;
	case 18: return IST_MC;
	default: return vec < 32 ? IST_EXC : IST_IRQ;
	}
}

static void idt_build(void)
{
	for (int v = 0; v < 256; v++) {
		uint64_t a = (uint64_t)(isr_stubs + 16 * v);
		idt[v].off0 = a & 0xffff;
		idt[v].sel = 0x08;
		idt[v].ist = (uint8_t)ist_for(v);
		idt[v].type = 0x8e;             /* present, DPL 0, interrupt gate */
		idt[v].off1 = (a >> 16) & 0xffff;
		idt[v].off2 = (uint32_t)(a >> 32);
		idt[v].zero = 0;
	}
	idt_ready = 1;
}

void cpu_init(struct core *c)
{
	struct cpu *cpu = c->plat;

	if (c->id == 0 && !idt_ready)
		idt_build();

	/* IST stacks: [guard][stack] * IST_COUNT */
	size_t slot = IST_SIZE + 4096;
	uintptr_t base = (uintptr_t)frame_alloc_pages(IST_COUNT * slot / 4096);
	if (!base)
		panic("cpu %u: no memory for IST stacks", c->id);
	cpu->ist_lo = base;
	memset(&cpu->tss, 0, sizeof cpu->tss);
	for (int i = 0; i < IST_COUNT; i++) {
		uintptr_t g = base + (uintptr_t)i * slot;
		paging_set_present(g, 4096, 0);
		paging_note_guard(g, g + 4096, "an IST stack");
		cpu->tss.ist[i] = g + slot;     /* IST slot i+1 */
	}
	cpu->tss.iomap_base = sizeof cpu->tss;

	uint64_t t = (uint64_t)&cpu->tss, lim = sizeof cpu->tss - 1;
	cpu->gdt[0] = 0;
	cpu->gdt[1] = 0x00af9a000000ffffull;    /* 0x08 code64 */
	cpu->gdt[2] = 0x00cf92000000ffffull;    /* 0x10 data */
	cpu->gdt[3] = 0x00cf9a000000ffffull;    /* 0x18 code32 */
	cpu->gdt[4] = (lim & 0xffff) | ((t & 0xffffff) << 16) | (0x89ull << 40) |
		      (((lim >> 16) & 0xf) << 48) | (((t >> 24) & 0xff) << 56);
	cpu->gdt[5] = t >> 32;

	struct desc_ptr g = { sizeof cpu->gdt - 1, (uint64_t)cpu->gdt };
	struct desc_ptr i = { sizeof idt - 1, (uint64_t)idt };
	__asm__ volatile(
		"lgdt %0\n\t"
		"mov $0x10, %%ax\n\t"
		"mov %%ax, %%ds\n\t"
		"mov %%ax, %%es\n\t"
		"mov %%ax, %%ss\n\t"
		"pushq $0x08\n\t"
		"leaq 1f(%%rip), %%rax\n\t"
		"pushq %%rax\n\t"
		"lretq\n"
		"1:\n\t"
		"mov $0x20, %%ax\n\t"
		"ltr %%ax\n\t"
		"lidt %1"
		:: "m"(g), "m"(i) : "rax", "memory");

	wrmsr(MSR_GS_BASE, (uint64_t)c);
	wrmsr(MSR_KERNEL_GS_BASE, 0);
	wrmsr(MSR_EFER, rdmsr(MSR_EFER) | 1);                  /* SCE */
	wrmsr(MSR_STAR, (uint64_t)0x08 << 32);
	wrmsr(MSR_LSTAR, (uint64_t)syscall_entry);
	wrmsr(MSR_SFMASK, 0x40700);                             /* IF, TF, DF, AC */
	uint32_t mxcsr = 0x1f80;
	__asm__ volatile("ldmxcsr %0" :: "m"(mxcsr));
}

struct core *core_self(void)
{
	struct core *c;
	__asm__ volatile("mov %%gs:0, %0" : "=r"(c));
	return c;
}

void cpu_set_stack_bounds(uintptr_t lo, uintptr_t hi)
{
	struct cpu *cpu = core_self()->plat;
	cpu->stack_lo = lo;
	cpu->stack_hi = hi;
}
