/*
 * boot.S — the PVH entry. The hypervisor enters pvh_entry in 32-bit
 * protected mode, paging off, with %ebx pointing at hvm_start_info. We
 * note the TSC (boot time is measured from here), identity-map the first
 * 4 GiB with 2 MiB pages, enable SSE (C code may use it anywhere), enter
 * long mode and call kmain(start_info) on the boot stack. Paging for RAM
 * above 4 GiB, the guard pages and per-CPU tables are set up in C.
 */
#define CR0_PE  (1 << 0)
#define CR0_MP  (1 << 1)
#define CR0_EM  (1 << 2)
#define CR0_TS  (1 << 3)
#define CR0_NE  (1 << 5)
#define CR0_WP  (1 << 16)
#define CR0_PG  (1 << 31)
#define CR4_PAE (1 << 5)
#define CR4_OSFXSR (1 << 9)
#define CR4_OSXMMEXCPT (1 << 10)
#define EFER_MSR 0xC0000080
#define EFER_SCE (1 << 0)
#define EFER_LME (1 << 8)

	/* Xen ELF note 18 (PHYS32_ENTRY); QEMU reads the value as 8 bytes. */
	.section .note.pvh, "a", @note
	.balign 4
	.long 4
	.long 8
	.long 18
	.asciz "Xen"
	.balign 4
	.quad pvh_entry

	.section .boot.text, "ax"
	.code32
	.globl pvh_entry
pvh_entry:
	cli
	cld
	rdtsc
	mov %eax, boot_tsc
	mov %edx, boot_tsc + 4
	mov %ebx, boot_start_info

	/* zero the boot page tables */
	mov $boot_pml4, %edi
	mov $((4096 * 6) / 4), %ecx
	xor %eax, %eax
	rep stosl

	mov $boot_pdpt, %eax
	or $3, %eax
	mov %eax, boot_pml4

	mov $boot_pd, %eax
	or $3, %eax
	mov $boot_pdpt, %edi
	mov $4, %ecx
1:	mov %eax, (%edi)
	add $4096, %eax
	add $8, %edi
	loop 1b

	mov $boot_pd, %edi
	mov $0x83, %eax                 /* present, writable, 2 MiB */
	mov $2048, %ecx
2:	mov %eax, (%edi)
	movl $0, 4(%edi)
	add $0x200000, %eax
	add $8, %edi
	loop 2b

	mov %cr4, %eax
	or $(CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT), %eax
	mov %eax, %cr4
	mov $boot_pml4, %eax
	mov %eax, %cr3
	mov $EFER_MSR, %ecx
	rdmsr
	or $(EFER_LME | EFER_SCE), %eax
	wrmsr
	mov %cr0, %eax
	and $~(CR0_EM | CR0_TS), %eax
	or $(CR0_PG | CR0_PE | CR0_MP | CR0_NE | CR0_WP), %eax
	mov %eax, %cr0
	lgdt boot_gdt_ptr
	ljmp $0x08, $long_entry

	.code64
long_entry:
	mov $0x10, %ax
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %ss
	xor %eax, %eax
	mov %ax, %fs
	mov %ax, %gs
	mov $boot_stack_top, %rsp
	/* clear .bss (the boot tables and stack live outside it) */
	mov $__bss_start, %rdi
	mov $__bss_end, %rcx
	sub %rdi, %rcx
	xor %eax, %eax
	rep stosb
	fninit
	mov boot_start_info, %edi
	xor %ebp, %ebp
	call kmain
3:	cli
	hlt
	jmp 3b

	.section .data
	.balign 8
	.globl boot_tsc, boot_start_info, boot_gdt
boot_tsc:        .quad 0
boot_start_info: .quad 0
boot_gdt:
	.quad 0
	.quad 0x00af9a000000ffff        /* 0x08: 64-bit code */
	.quad 0x00cf92000000ffff        /* 0x10: data */
	.quad 0x00cf9a000000ffff        /* 0x18: 32-bit code */
boot_gdt_ptr:
	.word 4 * 8 - 1
	.long boot_gdt

	.section .boot.bss, "aw", @nobits
	.balign 4096
	.globl boot_pml4
boot_pml4:  .skip 4096
boot_pdpt:  .skip 4096
boot_pd:    .skip 4096 * 4
	.globl boot_stack_bottom, boot_stack_top
boot_stack_bottom:
	.skip 65536
boot_stack_top:
