/* The libc calls through which a program sees or names a pid or tid.
 * Each translates virtual ids to real ones on the way in and real ids to
 * virtual ones on the way out, then reaches the next definition (another
 * plugin's wrapper, the core's, or libc's) through NEXT_FNC. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "dmtcp/plugin.h"
#include "pid_internal.h"

#define LOG_PREFIX "pid: "

NEXT_PTR(getpid);
NEXT_PTR(getppid);
NEXT_PTR(gettid);
NEXT_PTR(getpgid);
NEXT_PTR(getpgrp);
NEXT_PTR(getsid);
NEXT_PTR(setpgid);
NEXT_PTR(setsid);
NEXT_PTR(tcgetpgrp);
NEXT_PTR(tcsetpgrp);
NEXT_PTR(tcgetsid);
NEXT_PTR(fork);
NEXT_PTR(waitpid);
NEXT_PTR(wait4);
NEXT_PTR(waitid);
NEXT_PTR(kill);
NEXT_PTR(killpg);
NEXT_PTR(tgkill);
NEXT_PTR(sigqueue);
NEXT_PTR(pidfd_open);
NEXT_PTR(syscall);
NEXT_PTR(execve);
NEXT_PTR(execvpe);
NEXT_PTR(fexecve);

__attribute__((constructor)) static void resolve_all(void) {
  (void)REAL(getpid);
  (void)REAL(getppid);
  (void)REAL(gettid);
  (void)REAL(getpgid);
  (void)REAL(getpgrp);
  (void)REAL(getsid);
  (void)REAL(setpgid);
  (void)REAL(setsid);
  (void)REAL(tcgetpgrp);
  (void)REAL(tcsetpgrp);
  (void)REAL(tcgetsid);
  (void)REAL(fork);
  (void)REAL(waitpid);
  (void)REAL(wait4);
  (void)REAL(waitid);
  (void)REAL(kill);
  (void)REAL(killpg);
  (void)REAL(tgkill);
  (void)REAL(sigqueue);
  (void)REAL(pidfd_open);
  (void)REAL(syscall);
  (void)REAL(execve);
  (void)REAL(execvpe);
  (void)REAL(fexecve);
}

/* Results that are ids (>0) go out virtual; errors and 0 pass. */
static pid_t out(pid_t r) { return r > 0 ? pid_r2v(r) : r; }

/* ---- who am I ---- */

static pid_t do_getpid(void) {
  pid_t v = g_pid_vpid;
  return v ? v : REAL(getpid)();
}

static pid_t do_gettid(void) {
  pid_t v = pid_self_vtid();
  return v ? v : out(REAL(gettid)());
}

PID_EXPORT pid_t getpid(void) { return do_getpid(); }
PID_EXPORT pid_t gettid(void) { return do_gettid(); }
PID_EXPORT pid_t getppid(void) {
  pid_t real = REAL(getppid)();
  /* An orphan's parent was init; after a restart it is whoever ran the
   * restart, outside the computation.  Programs test getppid() == 1 to
   * learn that their parent is gone: it stays so. */
  if (g_pid_orphan && pid_table_find_real(real) < 0) return 1;
  return out(real);
}

/* ---- groups and sessions: a group or session id is its leader's pid ---- */

PID_EXPORT pid_t getpgid(pid_t pid) { return out(REAL(getpgid)(pid_v2r(pid))); }
PID_EXPORT pid_t getpgrp(void) { return out(REAL(getpgrp)()); }
PID_EXPORT pid_t getsid(pid_t pid) { return out(REAL(getsid)(pid_v2r(pid))); }
PID_EXPORT int setpgid(pid_t pid, pid_t pgid) { return REAL(setpgid)(pid_v2r(pid), pid_v2r(pgid)); }
PID_EXPORT pid_t setsid(void) { return out(REAL(setsid)()); }
PID_EXPORT pid_t tcgetpgrp(int fd) { return out(REAL(tcgetpgrp)(fd)); }
PID_EXPORT int tcsetpgrp(int fd, pid_t pgrp) { return REAL(tcsetpgrp)(fd, pid_v2r(pgrp)); }
PID_EXPORT pid_t tcgetsid(int fd) { return out(REAL(tcgetsid)(fd)); }

/* ---- fork ----
 * A child's virtual pid is its real pid.  When that number is already a
 * virtual id in the computation (of a restarted process, or of a process on
 * another host), the child would be ambiguous: it exits at once
 * (pid_fork_child_setup in pid_plugin.c, which claims the number) and the
 * fork is repeated, with checkpoints held off so that no image sees the
 * discarded child. */

static pid_t do_fork(void) {
  if (!atomic_load(&g_pid_active)) return REAL(fork)();
  pid_ckpt_off();
  pid_t r;
  for (t_pid_fork_attempt = 0;; t_pid_fork_attempt++) {
    pid_fork_gate_open();
    r = REAL(fork)();
    if (r == 0) pid_fork_child_setup();
    if (r == 0) break;
    /* The parent's own look at its table decides when no gate could be made. */
    int kept = pid_fork_gate_wait(r) && !pid_table_vid_conflict(r);
    if (r < 0) break;
    if (!kept && t_pid_fork_attempt < PID_FORK_ATTEMPTS - 1) {
      int st;
      while (REAL(waitpid)(r, &st, __WALL) < 0 && errno == EINTR) {
      }
      PID_LOG(LOG_PREFIX "fork: child pid %d is a virtual pid in use; forking again", (int)r);
      continue;
    }
    pid_table_put(r, r, r, NULL);
    break;
  }
  int saved = errno;
  pid_ckpt_on();
  errno = saved;
  return r;
}

PID_EXPORT pid_t fork(void) { return do_fork(); }
/* As in the core: a vfork child shares our memory, so it cannot run the
 * bookkeeping above; it becomes a fork. */
PID_EXPORT pid_t vfork(void) { return do_fork(); }

/* ---- wait ----
 * A wait blocked when a checkpoint came is re-issued by the kernel after the
 * restart with the real id of the old life: ECHILD, which is retried with
 * the id translated anew. */

static int stale(long r, unsigned life) {
  return r < 0 && errno == ECHILD && atomic_load(&g_pid_restarts) != life;
}

static void waitid_result(siginfo_t *info, int options) {
  if (!info || info->si_pid <= 0) return;
  pid_t real = info->si_pid;
  pid_zombie_siginfo(info, !(options & WNOWAIT));
  info->si_pid = pid_r2v(real);
  int gone = info->si_code == CLD_EXITED || info->si_code == CLD_KILLED || info->si_code == CLD_DUMPED;
  if (gone && !(options & WNOWAIT)) pid_table_reaped(real);
}

static pid_t wait_result(pid_t r, int status) {
  if (r <= 0) return r;
  pid_t v = pid_r2v(r);
  if (WIFEXITED(status) || WIFSIGNALED(status)) pid_table_reaped(r);
  return v;
}

/* The status goes where the program asked for it, written by the kernel:
 * a pointer it cannot write gets EFAULT (the child reaped all the same),
 * as without us.  Once the kernel wrote it, it is ours to adjust. */
pid_t pid_wait4(pid_t pid, int *status, int options, struct rusage *ru) {
  int st = 0, *sp = status ? status : &st;
  pid_t r;
  unsigned life;
  do {
    life = atomic_load(&g_pid_restarts);
    r = REAL(wait4)(pid_v2r_signed(pid), sp, options, ru);
  } while (stale(r, life));
  if (r <= 0) return r;
  *sp = pid_zombie_wait_status(r, *sp);
  return wait_result(r, *sp);
}

PID_EXPORT pid_t wait4(pid_t pid, int *status, int options, struct rusage *ru) {
  return pid_wait4(pid, status, options, ru);
}

PID_EXPORT pid_t waitpid(pid_t pid, int *status, int options) {
  int st = 0, *sp = status ? status : &st;
  pid_t r;
  unsigned life;
  do {
    life = atomic_load(&g_pid_restarts);
    r = REAL(waitpid)(pid_v2r_signed(pid), sp, options);
  } while (stale(r, life));
  if (r <= 0) return r;
  *sp = pid_zombie_wait_status(r, *sp);
  return wait_result(r, *sp);
}

PID_EXPORT pid_t wait(int *status) { return waitpid(-1, status, 0); }
PID_EXPORT pid_t wait3(int *status, int options, struct rusage *ru) { return wait4(-1, status, options, ru); }

static int is_id_type(long idtype) { return idtype == P_PID || idtype == P_PGID; }

PID_EXPORT int waitid(idtype_t idtype, id_t id, siginfo_t *info, int options) {
  int r;
  unsigned life;
  do {
    life = atomic_load(&g_pid_restarts);
    r = REAL(waitid)(idtype, is_id_type(idtype) ? (id_t)pid_v2r((pid_t)id) : id, info, options);
  } while (stale(r, life));
  if (r == 0) waitid_result(info, options);
  return r;
}

/* ---- signals ---- */

PID_EXPORT int kill(pid_t pid, int sig) { return REAL(kill)(pid_v2r_signed(pid), sig); }
PID_EXPORT int killpg(pid_t pgrp, int sig) { return REAL(killpg)(pid_v2r(pgrp), sig); }
PID_EXPORT int tgkill(pid_t tgid, pid_t tid, int sig) { return REAL(tgkill)(pid_v2r(tgid), pid_v2r(tid), sig); }
PID_EXPORT int sigqueue(pid_t pid, int sig, const union sigval value) {
  return REAL(sigqueue)(pid_v2r(pid), sig, value);
}
PID_EXPORT int pidfd_open(pid_t pid, unsigned int flags) { return REAL(pidfd_open)(pid_v2r(pid), flags); }

/* ---- syscall(2): the numbers that carry pids ----
 * Six argument registers are always forwarded: the kernel ignores those a
 * call does not use. */
PID_EXPORT long syscall(long n, ...) {
  va_list ap;
  long a[6];
  va_start(ap, n);
  for (int i = 0; i < 6; i++) a[i] = va_arg(ap, long);
  va_end(ap);
  switch (n) {
    case SYS_getpid:
      return do_getpid();
    case SYS_gettid:
      return do_gettid();
    case SYS_getppid:
      return getppid();
    case SYS_getpgid:
      return getpgid((pid_t)a[0]);
    case SYS_getpgrp:
      return getpgrp();
    case SYS_getsid:
      return getsid((pid_t)a[0]);
    case SYS_setpgid:
      return setpgid((pid_t)a[0], (pid_t)a[1]);
    case SYS_setsid:
      return setsid();
    case SYS_wait4:
      return wait4((pid_t)a[0], (int *)a[1], (int)a[2], (struct rusage *)a[3]);
    case SYS_waitid: {
      /* The raw call takes a fifth argument (rusage) that waitid(3) lacks. */
      long r;
      unsigned life;
      do {
        life = atomic_load(&g_pid_restarts);
        r = REAL(syscall)(n, a[0], is_id_type(a[0]) ? pid_v2r((pid_t)a[1]) : a[1], a[2], a[3], a[4], a[5]);
      } while (stale(r, life));
      if (r == 0) waitid_result((siginfo_t *)a[2], (int)a[3]);
      return r;
    }
    case SYS_rt_sigtimedwait: {
      long r = REAL(syscall)(n, a[0], a[1], a[2], a[3], a[4], a[5]);
      if (r > 0 && a[1]) pid_siginfo_out((int)r, (siginfo_t *)a[1]);
      return r;
    }
    case SYS_fcntl: {
      struct f_owner_ex scratch;
      long r = REAL(syscall)(n, a[0], a[1], pid_fcntl_in((int)a[1], a[2], &scratch), a[3], a[4], a[5]);
      if (a[1] == F_DUPFD || a[1] == F_DUPFD_CLOEXEC) pid_fd_dup((int)a[0], (int)r);
      return pid_fcntl_out((int)a[1], a[2], r);
    }
    case SYS_kill:
      a[0] = pid_v2r_signed((pid_t)a[0]);
      break;
    case SYS_tkill:
    case SYS_rt_sigqueueinfo:
    case SYS_pidfd_open:
      a[0] = pid_v2r((pid_t)a[0]);
      break;
    case SYS_tgkill:
    case SYS_rt_tgsigqueueinfo:
      a[0] = pid_v2r((pid_t)a[0]);
      a[1] = pid_v2r((pid_t)a[1]);
      break;
    case SYS_rt_sigaction:
      return pid_rt_sigaction(a[0], (const void *)a[1], (void *)a[2], a[3]);
    default: {
      long r;
      if (pid_syscall_fd(n, a, &r)) return r;
      pid_syscall_args_in(n, a);
      break;
    }
  }
  return REAL(syscall)(n, a[0], a[1], a[2], a[3], a[4], a[5]);
}

/* ---- exec: the new program learns its virtual pid from its environment ---- */

static int is_state_var(const char *s) {
  return strncmp(s, PID_EXEC_ENV "=", sizeof PID_EXEC_ENV) == 0;
}

char **pid_env_with(char *const envp[], char *state) {
  /* An environment the kernel cannot read: the call goes on without our
   * state and fails with EFAULT, as it would without us. */
  if (!dmtcp_user_strv_readable(envp)) return NULL;
  size_t n = 0;
  while (envp && envp[n]) n++;
  char **env = malloc((n + 2) * sizeof *env);
  if (!env) return NULL;
  size_t k = 0;
  for (size_t i = 0; i < n; i++)
    if (!is_state_var(envp[i])) env[k++] = envp[i];
  env[k++] = state;
  env[k] = NULL;
  return env;
}

/* envp plus our state; NULL (and nothing to free) when that cannot be built. */
static char **with_state(char *const envp[], char **state) {
  *state = pid_exec_state();
  if (!*state) return NULL;
  char **env = pid_env_with(envp, *state);
  if (!env) {
    free(*state);
    *state = NULL;
  }
  return env;
}

/* Checkpoints stay off from reading the table to the exec, so that the
 * state handed over is never from before a restart. */
#define EXEC_WITH_STATE(call_real, envp)                 \
  do {                                                   \
    if (!atomic_load(&g_pid_active)) return call_real(envp); \
    pid_ckpt_off();                                      \
    char *state_;                                        \
    char **env_ = with_state(envp, &state_);             \
    int r_ = call_real(env_ ? env_ : (envp));            \
    int saved_ = errno;                                  \
    free(env_);                                          \
    free(state_);                                        \
    pid_ckpt_on();                                       \
    errno = saved_;                                      \
    return r_;                                           \
  } while (0)

PID_EXPORT int execve(const char *path, char *const argv[], char *const envp[]) {
#define CALL(e) REAL(execve)(path, argv, e)
  EXEC_WITH_STATE(CALL, envp);
#undef CALL
}

PID_EXPORT int execvpe(const char *file, char *const argv[], char *const envp[]) {
#define CALL(e) REAL(execvpe)(file, argv, e)
  EXEC_WITH_STATE(CALL, envp);
#undef CALL
}

PID_EXPORT int fexecve(int fd, char *const argv[], char *const envp[]) {
  /* glibc refuses a null argv or envp with EINVAL.  It declares argv
   * nonnull, so the compiler would drop a plain test: launder it. */
  const void *argv_ = argv;
  __asm__("" : "+r"(argv_));
  if (!argv_ || !envp) return REAL(fexecve)(fd, argv, envp);
#define CALL(e) REAL(fexecve)(fd, argv, e)
  EXEC_WITH_STATE(CALL, envp);
#undef CALL
}
