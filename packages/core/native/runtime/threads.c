/* The table of threads, and suspending/resuming them with the checkpoint
 * signal.  Each user thread saves its own context inside the signal handler
 * and waits there; at restart it is recreated and jumps back into that
 * handler, whose return (sigreturn) restores the interrupted registers and
 * signal mask from the signal frame on its restored stack. */
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <string.h>
#include <sys/prctl.h>

#include "dmtcp/plugin.h"
#include "runtime.h"
#include "dmtcp/next.h"

/* What this file calls past the runtime's own wrappers (dmtcp/next.h). */
#define THREADS_CALLS(X) X(sigaction)
DMTCP_NEXT_TABLE(THREADS_CALLS)

#ifndef ARCH_GET_FS
#define ARCH_SET_FS 0x1002
#define ARCH_GET_FS 0x1003
#endif

struct thread_rec g_threads[MAX_THREADS];
_Atomic int g_threads_used;
int g_sigckpt = 60;
long g_tid_offset = -1;

static _Atomic int table_lock;
static _Atomic uint32_t resume_gen;
static _Atomic int suspended_count;

static void table_acquire(void) {
  while (atomic_exchange(&table_lock, 1)) sys_futex(&table_lock, FUTEX_WAIT_PRIVATE, 1, NULL);
}
static void table_release(void) {
  atomic_store(&table_lock, 0);
  sys_futex(&table_lock, FUTEX_WAKE_PRIVATE, 1, NULL);
}

/* Finds where glibc keeps the thread's tid inside struct pthread: the kernel
 * knows it as the clear-child-tid address (PR_GET_TID_ADDRESS); without that
 * prctl, look for the tid value near the start of the descriptor. */
static long find_tid_offset(void) {
  int *addr = NULL;
  char *self = (char *)pthread_self();
  if (sys_prctl(PR_GET_TID_ADDRESS, (long)&addr, 0, 0, 0) == 0 && addr) {
    long off = (char *)addr - self;
    if (off > 0 && off < 4096) return off;
  }
  pid_t tid = (pid_t)sys_gettid();
  for (long off = 0x100; off < 0x1000; off += 4)
    if (*(pid_t *)(self + off) == tid) return off;
  return -1;
}

void thread_fill_self(struct thread_rec *t) {
  t->tid = (pid_t)sys_gettid();
  t->pthread = pthread_self();
  t->tid_addr = g_tid_offset >= 0 ? (int *)((char *)t->pthread + g_tid_offset) : NULL;
}

struct thread_rec *thread_alloc(int kind) {
  table_acquire();
  struct thread_rec *found = NULL;
  for (int i = 0; i < MAX_THREADS; i++) {
    struct thread_rec *t = &g_threads[i];
    int st = atomic_load(&t->state);
    if (st != T_FREE && atomic_load(&t->exiting) && sys_tgkill((int)sys_getpid(), t->tid, 0) == -ESRCH) st = T_FREE;
    if (st == T_FREE) {
      memset(t, 0, sizeof *t);
      t->kind = kind;
      if (i >= threads_used()) atomic_store(&g_threads_used, i + 1);
      atomic_store(&t->state, T_CREATING);
      found = t;
      break;
    }
  }
  table_release();
  if (!found) log_msg("more than %d threads: new thread not under checkpoint control", MAX_THREADS);
  return found;
}

void threads_init_main(void) {
  g_tid_offset = find_tid_offset();
  if (g_tid_offset < 0) log_msg("cannot locate the cached tid in struct pthread; threads may misbehave after restart");
  struct thread_rec *t = thread_alloc(TK_MAIN);
  thread_fill_self(t);
  atomic_store(&t->state, T_RUNNING);
}

void threads_reset_after_fork(void) {
  /* Only the forking thread lives on in the child, with a new tid but the
   * same struct pthread. */
  pthread_t self = pthread_self();
  for (int i = 0; i < threads_used(); i++) {
    struct thread_rec *t = &g_threads[i];
    /* Free slots stay untouched: a store would copy their page (the table
     * spans megabytes), and the child pays for every page it copies. */
    if (atomic_load(&t->state) == T_FREE) continue;
    if (t->kind != TK_CKPT && pthread_equal(t->pthread, self)) {
      t->kind = TK_MAIN;
      atomic_store(&t->tid, (pid_t)sys_gettid());
      atomic_store(&t->state, T_RUNNING);
      continue;
    }
    atomic_store(&t->state, T_FREE);
  }
  atomic_store(&table_lock, 0);
}

static struct thread_rec *lookup_tid(pid_t tid) {
  for (int i = 0; i < threads_used(); i++)
    if (atomic_load(&g_threads[i].tid) == tid && atomic_load(&g_threads[i].state) != T_FREE) return &g_threads[i];
  return NULL;
}

static void suspend_handler(int sig, siginfo_t *info, void *uctx) {
  (void)sig;
  (void)info;
  int saved_errno = errno;
  struct thread_rec *t = lookup_tid((pid_t)sys_gettid());
  if (!t || atomic_load(&t->state) != T_SUSPEND_REQ) {
    errno = saved_errno;
    return;
  }
  uint32_t gen = atomic_load(&resume_gen);
  blocking_note_suspend(uctx);
  event_simple(DMTCP_EVENT_PRE_SUSPEND_USER_THREAD);
  sys_rt_sigprocmask(SIG_BLOCK, NULL, &t->sigmask);
  sys_call3(__NR_get_robust_list, 0, (long)&t->robust_head, (long)&t->robust_len);
  sys_sigaltstack(NULL, &t->altstack);
  sys_arch_prctl(ARCH_GET_FS, (uint64_t)&t->fsbase);
  sys_call2(__NR_prctl, PR_GET_NAME, (long)t->name);
  uint32_t sig_gen = sigpending_take_thread(t);
  if (ctx_save(&t->ctx) == 0) {
    atomic_store(&t->state, T_SUSPENDED);
    atomic_fetch_add(&suspended_count, 1);
    sys_futex(&suspended_count, FUTEX_WAKE_PRIVATE, 1, NULL);
  }
  sigpending_put_back_thread(t, sig_gen);
  /* Both after suspending and after a restart: wait for the resume. */
  while (atomic_load(&resume_gen) == gen) sys_futex(&resume_gen, FUTEX_WAIT_PRIVATE, (int)gen, NULL);
  atomic_store(&t->state, T_RUNNING);
  DmtcpEventData_t d;
  memset(&d, 0, sizeof d);
  d.resumeUserThreadInfo.isRestart = g_rt.round_is_restart;
  events_dispatch(DMTCP_EVENT_RESUME_USER_THREAD, &d);
  errno = saved_errno;
}

void threads_install_handler(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = suspend_handler;
  sa.sa_flags = SA_SIGINFO | SA_RESTART;
  sigfillset(&sa.sa_mask);
  DMTCP_NEXT(sigaction)(g_sigckpt, &sa, NULL);
}

/* A thread group leader that left with pthread_exit stays a zombie until
 * the whole process exits: signals to it are accepted and never handled. */
static int thread_is_zombie(int tid) {
  char path[48], buf[96];
  struct sbuf sb;
  sb_init(&sb, path, sizeof path);
  sb_puts(&sb, "/proc/self/task/");
  sb_putu(&sb, (uint64_t)tid);
  sb_puts(&sb, "/stat");
  long fd = sys_open(sb_cstr(&sb), O_RDONLY | O_CLOEXEC, 0);
  if (fd < 0) return fd == -ENOENT;
  long n = sys_read((int)fd, buf, sizeof buf - 1);
  sys_close((int)fd);
  if (n <= 0) return 0;
  buf[n] = 0;
  const char *close = strrchr(buf, ')');
  return close && (close[2] == 'Z' || close[2] == 'X');
}

/* Stops every user thread in its signal handler.  A thread on its way out
 * is stopped like any other (and restored, to finish leaving, so that its
 * joiner is woken as before); one that is already gone is dropped, also when
 * it left between the signal and its delivery. */
int threads_suspend_all(void) {
  int pid = (int)sys_getpid();
  int requested = 0;
  table_acquire();
  for (int i = 0; i < threads_used(); i++) {
    struct thread_rec *t = &g_threads[i];
    int expected = T_RUNNING;
    if (t->kind == TK_CKPT || t->tid == 0) continue;
    if (!atomic_compare_exchange_strong(&t->state, &expected, T_SUSPEND_REQ)) continue;
    if (sys_tgkill(pid, t->tid, g_sigckpt) == -ESRCH) {
      atomic_store(&t->state, T_FREE);
      continue;
    }
    requested++;
  }
  table_release();
  for (int round = 0;; round++) {
    int seen = atomic_load(&suspended_count);
    int pending = 0;
    for (int i = 0; i < threads_used(); i++) {
      struct thread_rec *t = &g_threads[i];
      if (atomic_load(&t->state) != T_SUSPEND_REQ) continue;
      if (sys_tgkill(pid, t->tid, 0) == -ESRCH || (round > 0 && t->tid == pid && thread_is_zombie(t->tid)))
        atomic_store(&t->state, T_FREE);
      else pending++;
    }
    if (!pending) break;
    struct timespec ts = {0, 10 * 1000 * 1000};
    sys_futex(&suspended_count, FUTEX_WAIT_PRIVATE, seen, &ts);
  }
  return requested;
}

/* Called by a thread on its way out (return, pthread_exit, cancellation). */
void thread_mark_exiting(struct thread_rec *t) { atomic_store(&t->exiting, 1); }

void threads_resume_all(void) {
  sigpending_put_back();
  atomic_fetch_add(&resume_gen, 1);
  sys_futex(&resume_gen, FUTEX_WAKE_PRIVATE, 0x7fffffff, NULL);
}
