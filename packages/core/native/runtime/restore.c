/* Entry point of the restored runtime, called by the restart program once
 * every region of the image is mapped back.  It runs on the restart
 * program's stack with no valid thread pointer, so until each thread has its
 * own FS base again only raw system calls are used here. */
#include <linux/futex.h>
#include <sched.h>
#include <string.h>

#include "runtime.h"

struct dmtcp_restart_info g_restart_info;
_Atomic int g_restored_threads;
_Atomic int g_restore_leader;

/* Provided by glibc >= 2.35 when it registers rseq for every thread. */
extern const ptrdiff_t __rseq_offset __attribute__((weak));
extern const unsigned int __rseq_size __attribute__((weak));

#define RSEQ_SIG 0x53053053

static void restore_thread(void *arg) {
  struct thread_rec *t = arg;
  sys_arch_prctl(0x1002 /* ARCH_SET_FS */, t->fsbase);
  pid_t tid = (pid_t)sys_gettid();
  t->old_tid = atomic_load(&t->tid); /* mutexes still name it as their owner */
  atomic_store(&t->tid, tid);
  /* glibc caches the tid in struct pthread (pthread_kill, mutex owners). */
  if (t->tid_addr) {
    *t->tid_addr = tid;
    sys_set_tid_address(t->tid_addr);
  }
  if (t->robust_head) sys_set_robust_list(t->robust_head, t->robust_len);
  if (&__rseq_size && &__rseq_offset && __rseq_size > 0)
    sys_call4(__NR_rseq, (long)(t->fsbase + (uint64_t)__rseq_offset), __rseq_size < 32 ? 32 : __rseq_size, 0,
              RSEQ_SIG);
  if (!(t->altstack.ss_flags & SS_DISABLE)) {
    stack_t ss = t->altstack;
    ss.ss_flags = 0;
    sys_sigaltstack(&ss, NULL);
  }
  if (t->name[0]) sys_call2(__NR_prctl, 15 /* PR_SET_NAME */, (long)t->name);
  sys_rt_sigprocmask(SIG_SETMASK, &t->sigmask, NULL);
  ctx_restore_and_count(&t->ctx, &g_restored_threads);
}

/* In a pid namespace of the restart's own the thread gets its old tid back
 * (it cannot be taken: every id there is one the checkpoint had). */
static long clone_with_tid(unsigned long flags, void *stack, struct thread_rec *t) {
  uint64_t *top = (uint64_t *)(((uint64_t)stack & ~15ULL) - 16);
  top[0] = (uint64_t)(uintptr_t)restore_thread;
  top[1] = (uint64_t)(uintptr_t)t;
  pid_t tid = t->tid;
  struct { /* struct clone_args, version 2 */
    uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid, set_tid_size;
  } a;
  memset(&a, 0, sizeof a);
  a.flags = flags;
  a.child_tid = a.parent_tid = (uint64_t)(uintptr_t)t->tid_addr;
  a.tls = t->fsbase;
  a.stack = (uint64_t)(uintptr_t)top - 4096;
  a.stack_size = 4096;
  a.set_tid = (uint64_t)(uintptr_t)&tid;
  a.set_tid_size = 1;
  return clone3_thread(&a, sizeof a);
}

void dmtcp_restore_entry(const struct dmtcp_restart_info *info) {
  const char *src = (const char *)info;
  char *dst = (char *)&g_restart_info;
  for (size_t i = 0; i < sizeof g_restart_info; i++) dst[i] = src[i];
  g_rt.is_restart = 1;
  atomic_store(&g_restored_threads, 0);
  atomic_store(&g_restore_leader, (int)sys_gettid());
  watchdog_start();
  procstate_restore_signals();

  const unsigned long flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM |
                              CLONE_SETTLS | CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID;
  struct thread_rec *main_thread = NULL;
  for (int i = 0; i < threads_used(); i++) {
    struct thread_rec *t = &g_threads[i];
    int st = atomic_load(&t->state);
    int is_ckpt = t->kind == TK_CKPT && st == T_RUNNING;
    if (st != T_SUSPENDED && !is_ckpt) continue;
    if (t->kind == TK_MAIN) {
      main_thread = t;
      continue;
    }
    /* The thread runs its few restore instructions just below its saved
     * stack pointer, past the red zone: space it was not using. */
    void *stack = (void *)(t->ctx.rsp - 1024);
    long r = (g_restart_info.flags & DMTCP_RESTART_PID_NS) ? clone_with_tid(flags, stack, t) : -1;
    if (r < 0) r = clone_thread(flags, stack, t->tid_addr, t->tid_addr, t->fsbase, restore_thread, t);
    if (r < 0) {
      static const char msg[] = "dmtcp restart: cannot recreate a thread\n";
      sys_write(2, msg, sizeof msg - 1);
      sys_exit_group(1);
    }
  }
  if (main_thread) {
    atomic_store(&g_restore_leader, 0);
    restore_thread(main_thread);
  }
  /* The main thread had exited before the checkpoint: the leader stays a
   * zombie, as it was.  It runs on the restart program's stack until it is
   * gone; the kernel clears g_restore_leader then, and only then may that
   * stack be unmapped. */
  sys_set_tid_address(&g_restore_leader);
  sys_exit_thread(0);
}
