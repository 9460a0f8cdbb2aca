/* Entry of the freestanding restart program: hand the initial stack
 * (argc, argv, envp) to restart_main. */
    .text
    .globl _start
    .type _start, @function
_start:
    xorl %ebp, %ebp
    movq %rsp, %rdi
    andq $-16, %rsp
    call restart_main
    ud2
    .size _start, .-_start

/* void run_on_stack(void *stack_top, void (*fn)(void)): never returns. */
    .globl run_on_stack
    .type run_on_stack, @function
run_on_stack:
    movq %rdi, %rsp
    andq $-16, %rsp
    call *%rsi
    ud2
    .size run_on_stack, .-run_on_stack

    .section .note.GNU-stack,"",@progbits
