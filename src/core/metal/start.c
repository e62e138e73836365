/*
 * start.c — the metal boot order, from the PVH entry to musl's main().
 *
 *   kmain(start_info)      on the boot stack, no libc yet
 *     serial, PVH start info (memory map, command line, config module)
 *     frame allocator, ACPI (CPUs, timers, power-off), time calibration
 *     paging (RAM above 4 GiB, device windows, page 0), this CPU's tables
 *     INIT-SIPI to every AP (they wait in their idle loop)
 *     switch to a guarded 1 MiB stack and enter musl: __libc_start_main
 *   main() -> pollux_main()  (src/appliance/main.c, shared with hosted)
 */
#include <errno.h>
#include <string.h>
#include <stdio.h>
#include <stdlib.h>
#include "core/metal/metal.h"
#include "core/cmdline.h"
#include "core/platform.h"

#define PVH_MAGIC 0x336ec578

struct hvm_start_info {
	uint32_t magic, version, flags, nr_modules;
	uint64_t modlist_paddr, cmdline_paddr, rsdp_paddr, memmap_paddr;
	uint32_t memmap_entries, reserved;
};
struct hvm_modlist_entry {
	uint64_t paddr, size, cmdline_paddr, reserved;
};

struct memmap metal_ram;
struct core metal_cores[POLLUX_MAX_CORES];
struct cpu metal_cpus[POLLUX_MAX_CORES];
uint32_t metal_ncores;
const char *metal_config_buf;
size_t metal_config_len;

static struct memmap_entry e820[128];

/* boot phases, stamped by the TSC; printed with `bootlog` */
static struct { const char *what; uint64_t tsc; } stamps[16];
static int nstamps;
static void stamp(const char *what)
{
	if (nstamps < 16) {
		stamps[nstamps].what = what;
		stamps[nstamps++].tsc = rdtsc();
	}
}

void metal_boot_stamps_print(void)
{
	uint64_t hz = time_tsc_hz(), prev = boot_tsc;
	for (int i = 0; i < nstamps; i++) {
		klog("boot: %-12s +%6llu us", stamps[i].what,
		     (unsigned long long)((stamps[i].tsc - prev) * 1000000ull / hz));
		prev = stamps[i].tsc;
	}
}
static char cmdline_buf[CMDLINE_MAX_LEN];
static struct cmdline cmdline;

#define MAIN_STACK (1u << 20)

int __libc_start_main(int (*main)(int, char **, char **), int argc, char **argv,
		      void (*init)(void), void (*fini)(void), void (*ldso)(void));
int pollux_main(void);

static int main_trampoline(int argc, char **argv, char **envp) { return pollux_main(); }

static void enter_libc(void *unused)
{
	static unsigned char at_random[16];
	for (int i = 0; i < 16; i += 8) {
		unsigned long long v = rdtsc();
		for (int t = 0; t < 10 && !rdrand64(&v); t++)
			;
		memcpy(at_random + i, &v, 8);
	}
	/* argv, envp, auxv as the Linux kernel would lay them out */
	static char name[] = "pollux";
	static uintptr_t block[] = {
		(uintptr_t)name, 0,                 /* argv */
		0,                                  /* envp */
		6, 4096,                            /* AT_PAGESZ */
		25, 0,                              /* AT_RANDOM (filled below) */
		11, 0, 12, 0, 13, 0, 14, 0,         /* AT_UID, AT_EUID, AT_GID, AT_EGID */
		23, 0,                              /* AT_SECURE */
		0, 0,                               /* AT_NULL */
	};
	block[6] = (uintptr_t)at_random;
	stamp("libc");
	__libc_start_main(main_trampoline, 1, (char **)block, 0, 0, 0);
	halt_forever();
}

static void reserve(uint64_t start, uint64_t end)
{
	memmap_reserve(&metal_ram, start, end);
}

void kmain(uint32_t si_paddr)
{
	serial_init();
	outb(0x21, 0xff);                       /* mask both legacy PICs: */
	outb(0xa1, 0xff);                       /* we use the local APIC only */
	const struct hvm_start_info *si = (const void *)(uintptr_t)si_paddr;
	if (!si || si->magic != PVH_MAGIC) {
		raw_printf("pollux: not booted through PVH (no hvm_start_info); halting\n");
		platform_exit(EXIT_PANIC);
	}

	/* copy what we need out of the start info before low memory is reused */
	size_t n = si->memmap_entries < 128 ? si->memmap_entries : 128;
	if (si->memmap_paddr && n)
		memcpy(e820, (const void *)(uintptr_t)si->memmap_paddr, n * sizeof e820[0]);
	if (si->cmdline_paddr)
		strncpy(cmdline_buf, (const char *)(uintptr_t)si->cmdline_paddr, sizeof cmdline_buf - 1);
	if (si->nr_modules && si->modlist_paddr) {
		const struct hvm_modlist_entry *m = (const void *)(uintptr_t)si->modlist_paddr;
		metal_config_buf = (const char *)(uintptr_t)m[0].paddr;
		metal_config_len = m[0].size;
	}
	if (memmap_build(&metal_ram, e820, n)) {
		raw_printf("pollux: the PVH memory map holds no usable RAM; halting\n");
		platform_exit(EXIT_PANIC);
	}
	/* low 1 MiB (firmware, start info, AP trampoline), the image, the config */
	reserve(0, 1u << 20);
	reserve((uintptr_t)__image_start, (uintptr_t)__image_end);
	if (metal_config_buf)
		reserve((uintptr_t)metal_config_buf, (uintptr_t)metal_config_buf + metal_config_len);
	frames_init(&metal_ram);
	stamp("frames");

	int rc = cmdline_parse(&cmdline, cmdline_buf);
	if (rc) {
		raw_printf("pollux: bad kernel command line (%s)\n", rc == -E2BIG ? "too long" : "empty key");
		platform_exit(EXIT_BAD_CMDLINE);
	}
	cmdline_set_global(&cmdline);

	if (acpi_init(si->rsdp_paddr)) {
		acpi.ncpus = 1;
		acpi.apic_ids[0] = 0;
	}
	stamp("acpi");
	time_init_early();
	stamp("clock");
	if (paging_init(&metal_ram))
		panic("paging: out of memory for page tables");
	stamp("paging");

	/* cores: the MADT's CPUs, the boot CPU first, capped by cores=N */
	apic_init_bsp();
	uint32_t bsp = apic_id();
	metal_ncores = acpi.ncpus;
	const char *cap = cmdline_get("cores");
	if (cap && atoi(cap) > 0 && (uint32_t)atoi(cap) < metal_ncores)
		metal_ncores = (uint32_t)atoi(cap);
	uint32_t k = 1;
	metal_cores[0].hw_id = bsp;
	for (uint32_t i = 0; i < acpi.ncpus && k < metal_ncores; i++)
		if (acpi.apic_ids[i] != bsp)
			metal_cores[k++].hw_id = acpi.apic_ids[i];
	metal_ncores = k;
	for (uint32_t i = 0; i < metal_ncores; i++) {
		struct core *c = &metal_cores[i];
		c->self = c;
		c->id = i;
		c->role = i == 0 ? CORE_ROLE_CONTROL : CORE_ROLE_DATA;
		c->plat = &metal_cpus[i];
		metal_cpus[i].apic_id = c->hw_id;
		metal_cpus[i].tid = (int)i + 1;
	}
	metal_cpus[0].boot_stack_lo = (uintptr_t)boot_stack_bottom;
	metal_cpus[0].boot_stack_hi = (uintptr_t)boot_stack_top;
	cpu_init(&metal_cores[0]);
	atomic_store(&metal_cores[0].state, CORE_STARTED);
	stamp("cpu0");
	smp_start_aps();
	stamp("sipi");

	/* the control core's main stack: 1 MiB with a guard page below */
	uintptr_t st = (uintptr_t)frame_alloc_pages(MAIN_STACK / 4096 + 1);
	if (!st)
		panic("no memory for the main stack");
	paging_set_present(st, 4096, 0);
	paging_note_guard(st, st + 4096, "core 0's main stack");
	metal_cpus[0].stack_lo = st + 4096;
	metal_cpus[0].stack_hi = st + 4096 + MAIN_STACK;
	stamp("stack");
	stack_switch_call((void *)(st + 4096 + MAIN_STACK), enter_libc, NULL);
}

/* ---- the platform's core functions */

uint32_t cores_count(void) { return metal_ncores; }
struct core *core_get(uint32_t id) { return id < metal_ncores ? &metal_cores[id] : NULL; }
void core_kick(uint32_t id)
{
	if (id < metal_ncores && id != core_self()->id)
		apic_send_ipi(metal_cores[id].hw_id, VEC_WAKE);
}

/* Cores run with interrupts off; they are on only inside `sti; hlt`
 * (sti's one-instruction shadow means a wake IPI that arrived after
 * core_idle_prepare() ends the hlt instead of being lost). */
uint64_t core_idle_prepare(void)
{
	irq_disable();
	return 0;
}

void core_idle_wait(uint64_t token, uint64_t deadline_ns)
{
	if (deadline_ns != UINT64_MAX) {
		uint64_t now = time_ns();
		if (deadline_ns <= now)
			return;
		if (!apic_timer_hz())
			return;                 /* before calibration (boot): no wake-up timer yet */
		apic_timer_oneshot(deadline_ns - now);
	}
	__asm__ volatile("sti; hlt; cli" ::: "memory");
}

/* The raw boot module; src/core/bootmod.c splits it (platform.h). */
const char *platform_boot_module(size_t *len)
{
	*len = metal_config_len;
	return metal_config_buf;
}

void platform_core_enter(struct core *c) { }

void platform_ready(void)
{
	stamp("cores-up");
	time_calibrate_finish();
	apic_timer_calibrate();
	stamp("calibrated");
	if (cmdline_has("bootlog")) {
		metal_boot_stamps_print();
		klog("boot: tsc %llu Hz, lapic timer %llu Hz", (unsigned long long)time_tsc_hz(),
		     (unsigned long long)apic_timer_hz());
	}
}

int platform_msi_wake(uint32_t core, uint64_t *addr, uint32_t *data)
{
	if (core >= metal_ncores)
		return -EINVAL;
	uint32_t id = metal_cores[core].hw_id;
	if (id > 255)                           /* needs interrupt remapping */
		return -ENOTSUP;
	/* Intel SDM 11.11: 0xFEE, destination APIC id, physical mode;
	 * data: fixed delivery, edge, the vector */
	*addr = 0xfee00000u | id << 12;
	*data = VEC_WAKE;
	return 0;
}

/* PCI: BARs the firmware left unassigned go above low RAM and the ECAM
 * window (q35: 0xb0000000-0xbfffffff), below the IOAPIC. */
void platform_pci_window(struct platform_pci_window *w)
{
	uint64_t low_top = 0;
	for (int i = 0; i < metal_ram.n; i++)
		if (metal_ram.ram[i].end <= (4ull << 30) && metal_ram.ram[i].end > low_top)
			low_top = metal_ram.ram[i].end;
	uint64_t lo = (low_top + (256ull << 20) - 1) & ~((256ull << 20) - 1);
	w->ecam = acpi.mcfg_base;
	w->mmio_lo = lo < 0xc0000000ull ? 0xc0000000ull : lo;
	w->mmio_hi = 0xfec00000ull;
}
