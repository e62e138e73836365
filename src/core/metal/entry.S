/*
 * entry.S — every way into the kernel after boot: the 256 interrupt and
 * exception stubs, the `syscall` entry that musl's system calls land in,
 * and context_resume (how a cloned thread starts on its core).
 *
 * Both paths build the same struct trap_frame (metal.h) and save the XMM
 * state with fxsave64, so C handlers may use SSE. Interrupts and
 * exceptions always arrive on an IST stack, so the interrupted code's red
 * zone is never touched. `syscall` in ring 0 keeps the caller's stack: we
 * step 128 bytes below it first, and on the way out restore RFLAGS before
 * giving those bytes back, then `jmp *%rcx` (sysretq would drop to ring 3).
 */
	.section .text

.macro PUSH_GPRS
	push %rax
	push %rbx
	push %rcx
	push %rdx
	push %rsi
	push %rdi
	push %rbp
	push %r8
	push %r9
	push %r10
	push %r11
	push %r12
	push %r13
	push %r14
	push %r15
.endm

.macro POP_GPRS
	pop %r15
	pop %r14
	pop %r13
	pop %r12
	pop %r11
	pop %r10
	pop %r9
	pop %r8
	pop %rbp
	pop %rdi
	pop %rsi
	pop %rdx
	pop %rcx
	pop %rbx
	pop %rax
.endm

/* one 16-byte stub per vector; the CPU pushes an error code for these */
	.balign 16
	.globl isr_stubs
isr_stubs:
vec = 0
.rept 256
	.balign 16
.if (vec == 8) || (vec == 10) || (vec == 11) || (vec == 12) || (vec == 13) || (vec == 14) || (vec == 17) || (vec == 21) || (vec == 29) || (vec == 30)
	/* the CPU pushed an error code */
.else
	push $0
.endif
	push $vec
	jmp isr_common
vec = vec + 1
.endr

isr_common:
	PUSH_GPRS
	mov %rsp, %rbx
	sub $512, %rsp
	and $-16, %rsp
	fxsave64 (%rsp)
	mov %rbx, %rdi
	cld
	xor %ebp, %ebp                  /* the report walks from the frame */
	call trap_dispatch
	fxrstor64 (%rsp)
	mov %rbx, %rsp
	POP_GPRS
	add $16, %rsp
	iretq

	.globl syscall_entry
syscall_entry:
	sub $128, %rsp                  /* below the caller's red zone */
	push $0x10                      /* ss */
	push %rsp                       /* rsp before this push ... */
	addq $136, (%rsp)               /* ... back to the caller's rsp */
	push %r11                       /* rflags */
	push $0x08                      /* cs */
	push %rcx                       /* rip */
	push $0                         /* error */
	push $0x100                     /* vector 0x100: a syscall frame */
	PUSH_GPRS
	mov %rsp, %rbx
	sub $512, %rsp
	and $-16, %rsp
	fxsave64 (%rsp)
	mov %rbx, %rdi
	cld
	call syscall_dispatch           /* result in frame->rax */
	fxrstor64 (%rsp)
	mov %rbx, %rsp
	/* fall through */

/* frame_return: %rsp at a struct trap_frame built by syscall_entry */
frame_return:
	POP_GPRS
	add $16, %rsp                   /* vector, error */
	mov (%rsp), %rcx                /* rip */
	pushq 16(%rsp)                  /* rflags */
	popfq                           /* flags first: an interrupt now goes to the IST */
	mov 24(%rsp), %rsp              /* then the red zone is given back (mov keeps flags) */
	jmp *%rcx

/* void context_resume(struct trap_frame *f): start a cloned thread */
	.globl context_resume
context_resume:
	mov %rdi, %rsp
	jmp frame_return

/* void stack_switch_call(void *top, void (*fn)(void *), void *arg) */
	.globl stack_switch_call
stack_switch_call:
	mov %rdi, %rsp
	xor %ebp, %ebp
	mov %rdx, %rdi
	call *%rsi
1:	cli
	hlt
	jmp 1b
