/*
 * trampoline.S — where application processors start. kmain copies
 * [ap_tramp_start, ap_tramp_end) to TRAMP_BASE (0x8000, SIPI vector 8)
 * and fills the mailbox at its end (page tables, entry, boot stacks).
 * Each AP goes real -> protected -> long mode, takes a ticket with
 * `lock xadd` (its boot-stack index) and calls entry(ticket) on it.
 */
#define TRAMP_BASE 0x8000
#define T(x) (TRAMP_BASE + ((x) - ap_tramp_start))

	.section .text
	.code16
	.globl ap_tramp_start, ap_tramp_end
	.globl tramp_cr3, tramp_entry, tramp_stacks, tramp_stack_size, tramp_ticket
ap_tramp_start:
	cli
	cld
	xor %ax, %ax
	mov %ax, %ds
	lgdtl T(tramp_gdt_ptr)
	mov %cr0, %eax
	or $1, %eax
	mov %eax, %cr0
	ljmpl $0x18, $T(ap32)

	.code32
ap32:
	mov $0x10, %ax
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %ss
	mov %cr4, %eax
	or $((1 << 5) | (1 << 9) | (1 << 10)), %eax     /* PAE, OSFXSR, OSXMMEXCPT */
	mov %eax, %cr4
	mov T(tramp_cr3), %eax
	mov %eax, %cr3
	mov $0xC0000080, %ecx
	rdmsr
	or $((1 << 8) | 1), %eax                        /* LME, SCE */
	wrmsr
	mov %cr0, %eax
	and $~((1 << 2) | (1 << 3)), %eax               /* EM, TS off */
	or $((1 << 31) | (1 << 16) | (1 << 5) | (1 << 1)), %eax  /* PG, WP, NE, MP */
	mov %eax, %cr0
	ljmp $0x08, $T(ap64)

	.code64
ap64:
	mov $0x10, %ax
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %ss
	xor %eax, %eax
	mov %ax, %fs
	mov %ax, %gs
	mov $1, %eax
	lock xadd %eax, T(tramp_ticket)
	mov %eax, %edi                  /* entry's argument: the ticket */
	lea 1(%rax), %rax
	imul T(tramp_stack_size), %rax
	add T(tramp_stacks), %rax
	mov %rax, %rsp
	fninit
	xor %ebp, %ebp
	mov T(tramp_entry), %rax
	call *%rax
1:	cli
	hlt
	jmp 1b

	.balign 8
tramp_gdt:
	.quad 0
	.quad 0x00af9a000000ffff
	.quad 0x00cf92000000ffff
	.quad 0x00cf9a000000ffff
tramp_gdt_ptr:
	.word 4 * 8 - 1
	.long T(tramp_gdt)
	.balign 8
tramp_cr3:        .quad 0
tramp_entry:      .quad 0
tramp_stacks:     .quad 0
tramp_stack_size: .quad 0
tramp_ticket:     .long 0
	.balign 8
ap_tramp_end:
