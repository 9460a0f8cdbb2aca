/* This process and its threads: the virtual pid it answers to, the virtual
 * tid of each thread, and the calls through which a program asks who it
 * is (getpid, gettid, getppid) or names a group or session, whose id is its
 * leader's pid.
 *
 * A process's virtual pid is its real pid at birth (or what a claim, the
 * exec hand-over or a spawning parent decided instead); a thread's virtual
 * tid is its first real tid.  Both stay through restarts, while the real
 * ones in the table change. */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <termios.h>
#include <unistd.h>

#include "dmtcp/plugin.h"
#include "pid_internal.h"

#define LOG_PREFIX "pid: "

_Atomic int g_pid_active;
_Atomic unsigned g_pid_restarts;
pid_t g_pid_vpid;
pid_t g_pid_real;
int g_pid_orphan;

/* initial-exec: read from signal handlers, never allocated lazily. */
static __thread pid_t t_vtid __attribute__((tls_model("initial-exec")));
static __thread int t_slot __attribute__((tls_model("initial-exec"))); /* slot + 1; 0 for the main thread */

static pthread_key_t exit_key;
static int have_exit_key;
static atomic_flag alloc_lock = ATOMIC_FLAG_INIT;

#define PID_PROCESS_NEXT(X) \
  X(getpid) X(getppid) X(gettid) X(getpgid) X(getpgrp) X(getsid) X(setpgid) X(setsid) X(tcgetpgrp) \
  X(tcsetpgrp) X(tcgetsid)
DMTCP_NEXT_TABLE(PID_PROCESS_NEXT)

pid_t pid_self_vtid(void) { return t_vtid; }

void pid_ckpt_off(void) {
  if (dmtcp_disable_ckpt) dmtcp_disable_ckpt();
}
void pid_ckpt_on(void) {
  if (dmtcp_enable_ckpt) dmtcp_enable_ckpt();
}

/* glibc keeps each thread's tid in its descriptor and has the kernel clear
 * it at exit, so the clear-child-tid address is that field.  The core writes
 * the new real tid there when it recreates a thread at restart. */
static int *own_tid_address(pid_t real) {
  int *addr = NULL;
  if (sys_call3(SYS_prctl, PR_GET_TID_ADDRESS, (long)&addr, 0) < 0 || !addr) return NULL;
  return *addr == real ? addr : NULL;
}

/* ---- life of a process ---- */

static void thread_gone(void *value) {
  int slot = (int)(intptr_t)value - 1;
  if (slot >= 0 && slot < PID_TABLE_SIZE && atomic_load(&g_pid_table[slot].vid) == t_vtid &&
      g_pid_table[slot].owner == g_pid_vpid)
    pid_table_remove_slot(slot);
  t_slot = 0;
}

void pid_process_init(void) {
  pid_table_read_pid_max();
  pid_t real = sys_getpid();
  pid_t vpid = real;
  const char *state = getenv(PID_EXEC_ENV);
  if (state) {
    vpid = pid_handover_adopt(state, real);
    unsetenv(PID_EXEC_ENV);
  }
  if (!state || state[0] == '^') {
    /* A new process of the computation (an exec keeps its claim).  A
     * launched one cannot be forked again: it takes another number.  A
     * spawned one was already named by its parent. */
    pid_t got = pid_claim(vpid, state != NULL);
    if (got > 0 && got != vpid) {
      PID_LOG(LOG_PREFIX "pid %d is a virtual id elsewhere in the computation: virtual pid %d", (int)vpid, (int)got);
      vpid = got;
    } else if (got <= 0) {
      dmtcp_log(LOG_PREFIX "virtual pid %d is also used on another host of the computation", (int)vpid);
    }
  }
  g_pid_vpid = vpid;
  g_pid_real = real;
  pid_table_put(vpid, real, vpid, NULL);
  t_vtid = vpid;
  t_slot = 0;
  if (pthread_key_create(&exit_key, thread_gone) == 0) have_exit_key = 1;
  atomic_store(&g_pid_active, 1);
  PID_LOG(LOG_PREFIX "vpid %d (real %d)", (int)vpid, (int)real);
}

void pid_process_thread_start(void) {
  pid_ckpt_off();
  pid_t real = sys_gettid();
  pid_t vid = real;
  while (atomic_flag_test_and_set(&alloc_lock)) {
  }
  if (pid_table_vid_conflict(real)) {
    /* A restarted task already answers to this number. */
    pid_t alt = pid_table_free_vid();
    if (alt) alt = pid_claim(alt, 0);
    if (alt > 0) vid = alt;
    PID_LOG(LOG_PREFIX "new thread %d: that tid is a virtual id in use; virtual tid %d", (int)real, (int)vid);
  }
  int slot = pid_table_put(vid, real, g_pid_vpid, own_tid_address(real));
  atomic_flag_clear(&alloc_lock);
  if (slot < 0) dmtcp_log(LOG_PREFIX "id table full (%d entries): thread %d keeps its real tid", PID_TABLE_SIZE, (int)real);
  t_vtid = vid;
  t_slot = slot + 1;
  if (have_exit_key && slot >= 0) pthread_setspecific(exit_key, (void *)(intptr_t)(slot + 1));
  pid_ckpt_on();
}

void pid_process_become_child(pid_t real) {
  /* The lock may have been held by a thread that does not exist here. */
  atomic_flag_clear(&alloc_lock);
  pid_table_sweep();
  pid_table_drop_threads_of(g_pid_vpid);
  g_pid_vpid = real;
  g_pid_real = real;
  t_vtid = real;
  t_slot = 0;
  if (have_exit_key) pthread_setspecific(exit_key, NULL);
  pid_table_put(real, real, real, NULL);
}

void pid_process_checkpoint(void) { g_pid_orphan = getppid() == 1; }

pid_t pid_process_restarted(void) {
  pid_t real = sys_getpid();
  g_pid_real = real;
  atomic_fetch_add(&g_pid_restarts, 1);
  pid_table_forget_reaped();
  pid_table_sweep();
  pid_table_put(g_pid_vpid, real, g_pid_vpid, NULL);
  return real;
}

void pid_process_thread_restarted(void) {
  if (t_slot <= 0) return;
  struct pid_entry *e = &g_pid_table[t_slot - 1];
  if (atomic_load(&e->vid) == t_vtid) atomic_store(&e->real, sys_gettid());
}

/* ---- who am I ---- */

/* Results that are ids (>0) go out virtual; errors and 0 pass. */
static pid_t out(pid_t r) { return r > 0 ? pid_r2v(r) : r; }

static pid_t do_getpid(void) {
  pid_t v = g_pid_vpid;
  return v ? v : DMTCP_NEXT(getpid)();
}

static pid_t do_gettid(void) {
  pid_t v = pid_self_vtid();
  return v ? v : out(DMTCP_NEXT(gettid)());
}

PID_EXPORT pid_t getpid(void) { return do_getpid(); }
PID_EXPORT pid_t gettid(void) { return do_gettid(); }
PID_EXPORT pid_t getppid(void) {
  pid_t real = DMTCP_NEXT(getppid)();
  /* An orphan's parent was init; after a restart it is whoever ran the
   * restart, outside the computation.  Programs test getppid() == 1 to
   * learn that their parent is gone: it stays so. */
  if (g_pid_orphan && pid_table_find_real(real) < 0) return 1;
  return out(real);
}

/* ---- groups and sessions: a group or session id is its leader's pid ---- */

PID_EXPORT pid_t getpgid(pid_t pid) { return out(DMTCP_NEXT(getpgid)(pid_v2r(pid))); }
PID_EXPORT pid_t getpgrp(void) { return out(DMTCP_NEXT(getpgrp)()); }
PID_EXPORT pid_t getsid(pid_t pid) { return out(DMTCP_NEXT(getsid)(pid_v2r(pid))); }
PID_EXPORT int setpgid(pid_t pid, pid_t pgid) { return DMTCP_NEXT(setpgid)(pid_v2r(pid), pid_v2r(pgid)); }
PID_EXPORT pid_t setsid(void) { return out(DMTCP_NEXT(setsid)()); }
PID_EXPORT pid_t tcgetpgrp(int fd) { return out(DMTCP_NEXT(tcgetpgrp)(fd)); }
PID_EXPORT int tcsetpgrp(int fd, pid_t pgrp) { return DMTCP_NEXT(tcsetpgrp)(fd, pid_v2r(pgrp)); }
PID_EXPORT pid_t tcgetsid(int fd) { return out(DMTCP_NEXT(tcgetsid)(fd)); }

int pid_process_syscall(long n, const long a[6], long *ret) {
  switch (n) {
    case SYS_getpid:
      *ret = do_getpid();
      return 1;
    case SYS_gettid:
      *ret = do_gettid();
      return 1;
    case SYS_getppid:
      *ret = getppid();
      return 1;
    case SYS_getpgid:
      *ret = getpgid((pid_t)a[0]);
      return 1;
    case SYS_getpgrp:
      *ret = getpgrp();
      return 1;
    case SYS_getsid:
      *ret = getsid((pid_t)a[0]);
      return 1;
    case SYS_setpgid:
      *ret = setpgid((pid_t)a[0], (pid_t)a[1]);
      return 1;
    case SYS_setsid:
      *ret = setsid();
      return 1;
    default:
      return 0;
  }
}
