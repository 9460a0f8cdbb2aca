/* Thread context switching for checkpoint and restore (x86-64 SysV). */
    .text

/* int ctx_save(struct thread_ctx *c): 0 now, 1 when resumed by restore. */
    .globl ctx_save
    .hidden ctx_save
    .type ctx_save, @function
ctx_save:
    movq %rbx, 0(%rdi)
    movq %rbp, 8(%rdi)
    movq %r12, 16(%rdi)
    movq %r13, 24(%rdi)
    movq %r14, 32(%rdi)
    movq %r15, 40(%rdi)
    leaq 8(%rsp), %rdx
    movq %rdx, 48(%rdi)
    movq (%rsp), %rdx
    movq %rdx, 56(%rdi)
    stmxcsr 64(%rdi)
    fnstcw 68(%rdi)
    xorl %eax, %eax
    ret
    .size ctx_save, .-ctx_save

/* void ctx_restore_and_count(const struct thread_ctx *c, _Atomic int *counter) */
    .globl ctx_restore_and_count
    .hidden ctx_restore_and_count
    .type ctx_restore_and_count, @function
ctx_restore_and_count:
    movq 0(%rdi), %rbx
    movq 8(%rdi), %rbp
    movq 16(%rdi), %r12
    movq 24(%rdi), %r13
    movq 32(%rdi), %r14
    movq 40(%rdi), %r15
    ldmxcsr 64(%rdi)
    fldcw 68(%rdi)
    movq 56(%rdi), %r8
    movq 48(%rdi), %rsp
    /* From here on we are on the thread's own stack. */
    lock incl (%rsi)
    movq %rsi, %rdi
    movl $129, %esi            /* FUTEX_WAKE_PRIVATE, as the waiter uses */
    movl $0x7fffffff, %edx
    xorl %r10d, %r10d
    movl $202, %eax            /* __NR_futex */
    pushq %r8
    syscall
    popq %r8
    movl $1, %eax
    jmp *%r8
    .size ctx_restore_and_count, .-ctx_restore_and_count

/* long clone_thread(flags, stack, ptid, ctid, tls, fn, arg): the child calls
 * fn(arg) on `stack` and must never return. */
    .globl clone_thread
    .hidden clone_thread
    .type clone_thread, @function
clone_thread:
    movq 8(%rsp), %rax
    andq $-16, %rsi
    subq $16, %rsi
    movq %rax, 8(%rsi)
    movq %r9, 0(%rsi)
    movq %rcx, %r10
    movl $56, %eax             /* __NR_clone */
    syscall
    testq %rax, %rax
    jz thread_from_stack
    ret
    .size clone_thread, .-clone_thread

/* A new thread's first instructions: fn and arg wait on its stack. */
    .type thread_from_stack, @function
thread_from_stack:
    xorl %ebp, %ebp
    popq %rax
    popq %rdi
    call *%rax
    ud2
    .size thread_from_stack, .-thread_from_stack

/* long clone3_thread(struct clone_args *args, size_t size): the caller put
 * fn and arg at the new thread's stack pointer (args->stack +
 * args->stack_size); the thread calls fn(arg) and must never return. */
    .globl clone3_thread
    .hidden clone3_thread
    .type clone3_thread, @function
clone3_thread:
    movl $435, %eax            /* __NR_clone3 */
    syscall
    testq %rax, %rax
    jz thread_from_stack
    ret
    .size clone3_thread, .-clone3_thread

    .section .note.GNU-stack,"",@progbits
