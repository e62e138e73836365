/*
 * metal.h — private interface of the metal platform (src/core/metal/):
 * the per-CPU hardware state, the trap frame that entry.S builds, and the
 * x86 helpers the files here share. Nothing outside src/core/metal/
 * includes it.
 */
#ifndef POLLUX_METAL_H
#define POLLUX_METAL_H
#include <stdint.h>
#include <stddef.h>
#include "core/core.h"
#include "core/memmap.h"
#include "core/io.h"          /* port I/O, MMIO, cpu_relax */

/* ---- trap frame: the layout entry.S pushes (lowest address first) */
struct trap_frame {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8, rbp, rdi, rsi, rdx, rcx, rbx, rax;
	uint64_t vector, error;
	uint64_t rip, cs, rflags, rsp, ss;
};
_Static_assert(offsetof(struct trap_frame, rax) == 14 * 8, "entry.S pushes 15 GPRs");
_Static_assert(offsetof(struct trap_frame, rip) == 17 * 8, "entry.S frame layout");
_Static_assert(sizeof(struct trap_frame) == 22 * 8, "entry.S frame layout");
#define VECTOR_SYSCALL 0x100

/* ---- vectors */
#define VEC_WAKE      0x40   /* IPI: look at your mailbox; MSI-X: a NIC queue has frames */
#define VEC_TEST      0x41   /* IPI: self-test interrupt (red-zone test) */
#define VEC_TIMER     0x42   /* LAPIC timer: wake a halted core */
#define VEC_SPURIOUS  0xff

/* ---- IST slots */
#define IST_IRQ 1
#define IST_DF  2
#define IST_NMI 3
#define IST_MC  4
#define IST_EXC 5
#define IST_COUNT 5
#define IST_SIZE (16 * 1024)

struct tss {
	uint32_t reserved0;
	uint64_t rsp[3];
	uint64_t reserved1;
	uint64_t ist[7];
	uint64_t reserved2;
	uint16_t reserved3, iomap_base;
} __attribute__((packed));
_Static_assert(sizeof(struct tss) == 104, "TSS is 104 bytes");

/* Per-CPU hardware state; struct core.plat points here. */
struct cpu {
	/* immutable after this CPU's init */
	uint64_t gdt[7];                 /* null, code64, data, code32, TSS (2) */
	struct tss tss;
	uintptr_t ist_lo;                /* IST stacks, with guard pages below each */
	uintptr_t boot_stack_lo, boot_stack_hi;
	uint32_t apic_id;
	/* owner only */
	int *clear_tid;                  /* CLONE_CHILD_CLEARTID word */
	int tid;
	int in_fault;
	/* clone handoff: written by the cloning core (release), taken by the
	 * owner's idle loop (acquire) */
	struct trap_frame *_Atomic handoff;
	uint64_t handoff_fs;
	struct trap_frame handoff_frame;
	/* thread stack bounds for backtraces (owner) */
	uintptr_t stack_lo, stack_hi;
};

/* ---- x86 helpers */
static inline uint64_t rdmsr(uint32_t msr)
{
	uint32_t lo, hi;
	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return ((uint64_t)hi << 32) | lo;
}
static inline void wrmsr(uint32_t msr, uint64_t v)
{
	__asm__ volatile("wrmsr" :: "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)));
}
static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}
static inline void cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
	__asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(sub));
}
/* 1 when the CPU gave a random value (RDRAND may fail transiently) */
static inline int rdrand64(unsigned long long *v)
{
	unsigned char ok;
	__asm__ volatile("rdrand %0; setc %1" : "=r"(*v), "=qm"(ok) :: "cc");
	return ok;
}
static inline uint64_t read_cr2(void) { uint64_t v; __asm__ volatile("mov %%cr2, %0" : "=r"(v)); return v; }
static inline uint64_t read_cr3(void) { uint64_t v; __asm__ volatile("mov %%cr3, %0" : "=r"(v)); return v; }
static inline void irq_enable(void) { __asm__ volatile("sti" ::: "memory"); }
static inline void irq_disable(void) { __asm__ volatile("cli" ::: "memory"); }

#define MSR_FS_BASE        0xC0000100
#define MSR_GS_BASE        0xC0000101
#define MSR_KERNEL_GS_BASE 0xC0000102
#define MSR_EFER           0xC0000080
#define MSR_STAR           0xC0000081
#define MSR_LSTAR          0xC0000082
#define MSR_SFMASK         0xC0000084
#define MSR_APIC_BASE      0x1B

/* ---- boot.S / trampoline.S / entry.S */
extern uint64_t boot_tsc, boot_start_info;
extern uint64_t boot_pml4[];
extern char boot_stack_bottom[], boot_stack_top[];
extern char __image_start[], __image_end[];
extern char ap_tramp_start[], ap_tramp_end[];
extern uint64_t tramp_cr3, tramp_entry, tramp_stacks, tramp_stack_size;
extern uint32_t tramp_ticket;
extern char isr_stubs[];
void syscall_entry(void);
_Noreturn void context_resume(struct trap_frame *f);
_Noreturn void stack_switch_call(void *top, void (*fn)(void *), void *arg);
#define TRAMP_BASE 0x8000

/* ---- start.c */
extern struct memmap metal_ram;
extern struct core metal_cores[POLLUX_MAX_CORES];
extern struct cpu metal_cpus[POLLUX_MAX_CORES];
extern uint32_t metal_ncores;
extern const char *metal_config_buf;
extern size_t metal_config_len;

/* ---- serial.c */
void serial_init(void);
void serial_write_raw(const char *s, size_t n);   /* no lock: fault path */
/* printf straight to the serial port, for the fault path */
void raw_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- cpu.c */
void cpu_init(struct core *c);       /* GDT, TSS+IST, IDT, GS, MSRs, SSE */
void cpu_set_stack_bounds(uintptr_t lo, uintptr_t hi);

/* ---- paging.c */
int paging_init(const struct memmap *ram);
int paging_set_present(uintptr_t va, size_t len, int present);  /* 4 KiB granular */
int paging_is_guard(uintptr_t va);
void paging_note_guard(uintptr_t lo, uintptr_t hi, const char *what);
const char *paging_guard_what(uintptr_t va);
void frames_init(struct memmap *ram);
size_t frames_free_count(void);
int frame_free_checked(void *p, size_t n);   /* -EINVAL if not allocated */

/* ---- acpi.c */
struct acpi_info {
	uint32_t ncpus;
	uint32_t apic_ids[POLLUX_MAX_CORES];
	uintptr_t lapic_base;
	uintptr_t hpet_base;
	uint16_t pm_tmr_port;
	int pm_tmr_32bit;
	uint16_t pm1a_cnt, pm1b_cnt;
	uint16_t slp_typ_a, slp_typ_b;
	int has_s5;
	int sleep_ctl_space;             /* hw-reduced: 0 = memory, 1 = I/O */
	uint64_t sleep_ctl_addr;
	uint64_t mcfg_base;
	const char *oem;
};
extern struct acpi_info acpi;
int acpi_init(uint64_t rsdp_paddr);

/* ---- apic.c */
void apic_init_bsp(void);
void apic_init_ap(void);
uint32_t apic_id(void);
void apic_eoi(void);
void apic_send_ipi(uint32_t apic_id, uint8_t vector);
void apic_send_nmi_all_others(void);
void apic_send_init(uint32_t apic_id);
void apic_send_sipi(uint32_t apic_id, uint8_t page);
int apic_is_x2(void);
void apic_timer_calibrate(void);
uint64_t apic_timer_hz(void);
void apic_timer_oneshot(uint64_t ns);
void apic_timer_stop(void);

/* ---- smp.c */
void smp_start_aps(void);           /* INIT-SIPI: APs reach their idle loop */
void smp_wait_aps(uint64_t timeout_ns);
struct core *smp_core_by_apic(uint32_t apic_id);

/* ---- time.c */
void time_init_early(void);         /* choose the source, start calibrating */
void time_calibrate_finish(void);   /* end calibration (by the ready line) */
uint64_t time_realtime_base_ns(void);

/* ---- trap.c */
void trap_dispatch(struct trap_frame *f);
_Noreturn void fault_report(struct trap_frame *f, const char *why);
void halt_forever(void);

/* ---- syscall.c */
void syscall_dispatch(struct trap_frame *f);
void syscall_init_cpu(void);
void ap_idle_loop(void *unused);

/* ---- selftest.c */
int selftest_run(const char *name);
#endif
