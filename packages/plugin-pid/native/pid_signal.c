/* Signals: the calls that send one name their target by virtual id (kill,
 * killpg, tgkill, sigqueue, pidfd_open), and pids inside received ones.  The kernel fills si_pid with the sender's
 * (or, for SIGCHLD, the child's) real pid; the program must see the virtual
 * one.  An SA_SIGINFO handler is installed behind a trampoline of ours that
 * rewrites the siginfo_t before calling it, and sigaction reports the
 * program's own handler back, so the program never sees the substitution;
 * a handler installed with a raw rt_sigaction system call goes the same way.
 * The trampoline survives restart as it is: the core reinstalls the saved
 * dispositions, and this library is mapped at the same address again. */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/pidfd.h>
#include <time.h>
#include <unistd.h>

#include "dmtcp/plugin.h"
#include "pid_internal.h"

#define NSIG_KERNEL 65

#define PID_SIGNAL_NEXT(X) \
  X(sigaction) X(signal) X(sigwaitinfo) X(sigtimedwait) X(syscall) X(kill) X(killpg) X(tgkill) \
  X(sigqueue) X(pidfd_open)
DMTCP_NEXT_TABLE(PID_SIGNAL_NEXT)

/* ---- sending ---- */

PID_EXPORT int kill(pid_t pid, int sig) { return DMTCP_NEXT(kill)(pid_v2r_signed(pid), sig); }
PID_EXPORT int killpg(pid_t pgrp, int sig) { return DMTCP_NEXT(killpg)(pid_v2r(pgrp), sig); }
PID_EXPORT int tgkill(pid_t tgid, pid_t tid, int sig) { return DMTCP_NEXT(tgkill)(pid_v2r(tgid), pid_v2r(tid), sig); }
PID_EXPORT int sigqueue(pid_t pid, int sig, const union sigval value) {
  return DMTCP_NEXT(sigqueue)(pid_v2r(pid), sig, value);
}
PID_EXPORT int pidfd_open(pid_t pid, unsigned int flags) { return DMTCP_NEXT(pidfd_open)(pid_v2r(pid), flags); }

/* ---- receiving ---- */

typedef void (*info_handler)(int, siginfo_t *, void *);

/* The program's SA_SIGINFO handler per signal, where the trampoline stands
 * in for it. */
static _Atomic(info_handler) app_handler[NSIG_KERNEL];

void pid_siginfo_out(int sig, siginfo_t *info) {
  int code = info->si_code;
  /* Only these codes put a pid in the union; for the others (faults, timers,
   * SIGIO) the same bytes are an address, a timer id or a band. */
  int has_pid = code == SI_USER || code == SI_QUEUE || code == SI_TKILL || code == SI_MESGQ ||
                (sig == SIGCHLD && code >= CLD_EXITED && code <= CLD_CONTINUED);
  if (has_pid && info->si_pid > 0) info->si_pid = pid_r2v_or_reaped(info->si_pid);
}

static void trampoline(int sig, siginfo_t *info, void *uc) {
  info_handler h = sig > 0 && sig < NSIG_KERNEL ? atomic_load(&app_handler[sig]) : NULL;
  if (info) pid_siginfo_out(sig, info);
  if (h) h(sig, info, uc);
}

static int is_function_handler(sighandler_t h) { return h != SIG_DFL && h != SIG_IGN && h != SIG_HOLD && h != SIG_ERR; }

static int is_function(const struct sigaction *act) { return is_function_handler(act->sa_handler); }

PID_EXPORT int sigaction(int sig, const struct sigaction *act, struct sigaction *old) {
  if (sig <= 0 || sig >= NSIG_KERNEL) return DMTCP_NEXT(sigaction)(sig, act, old);
  struct sigaction mine;
  const struct sigaction *pass = act;
  /* An action we cannot read goes to libc as it is, to fail there as it
   * would without us. */
  if (act && !dmtcp_user_readable(act, sizeof *act)) return DMTCP_NEXT(sigaction)(sig, act, old);
  info_handler previous = atomic_load(&app_handler[sig]);
  if (act && (act->sa_flags & SA_SIGINFO) && is_function(act)) {
    mine = *act;
    /* Stored first: a signal arriving in between finds the new handler
     * behind the old trampoline, as it would without us. */
    atomic_store(&app_handler[sig], act->sa_sigaction);
    mine.sa_sigaction = trampoline;
    pass = &mine;
  }
  int r = DMTCP_NEXT(sigaction)(sig, pass, old);
  if (r < 0 && pass == &mine) atomic_store(&app_handler[sig], previous);
  if (r == 0 && old && (old->sa_flags & SA_SIGINFO) && old->sa_sigaction == trampoline) old->sa_sigaction = previous;
  return r;
}

/* The kernel's struct sigaction, which syscall(SYS_rt_sigaction) takes: the
 * program supplies its own restorer, which stays. */
struct kernel_sigaction {
  void *handler;
  unsigned long flags;
  void (*restorer)(void);
  unsigned long mask;
};

static long rt_sigaction(long sig, const void *act_, void *old_, long setsize) {
  const struct kernel_sigaction *act = act_;
  struct kernel_sigaction *old = old_;
  /* Any other size is refused by the kernel, an unreadable action with
   * EFAULT. */
  if (sig <= 0 || sig >= NSIG_KERNEL || setsize != sizeof act->mask || (act && !dmtcp_user_readable(act, sizeof *act)))
    return DMTCP_NEXT(syscall)(SYS_rt_sigaction, sig, act_, old_, setsize);
  struct kernel_sigaction mine;
  const struct kernel_sigaction *pass = act;
  info_handler previous = atomic_load(&app_handler[sig]);
  if (act && (act->flags & SA_SIGINFO) && is_function_handler((sighandler_t)act->handler)) {
    mine = *act;
    atomic_store(&app_handler[sig], (info_handler)act->handler);
    mine.handler = (void *)trampoline;
    pass = &mine;
  }
  long r = DMTCP_NEXT(syscall)(SYS_rt_sigaction, sig, pass, old, setsize);
  if (r < 0 && pass == &mine) atomic_store(&app_handler[sig], previous);
  if (r == 0 && old && (old->flags & SA_SIGINFO) && old->handler == (void *)trampoline) old->handler = (void *)previous;
  return r;
}

/* signal() installs no SA_SIGINFO handler, but the one it replaces may be
 * the trampoline: the program gets its own handler back, as from sigaction. */
PID_EXPORT sighandler_t signal(int sig, sighandler_t handler) {
  info_handler previous = sig > 0 && sig < NSIG_KERNEL ? atomic_load(&app_handler[sig]) : NULL;
  sighandler_t r = DMTCP_NEXT(signal)(sig, handler);
  if (r == (sighandler_t)(void (*)(void))trampoline && previous) return (sighandler_t)(void (*)(void))previous;
  return r;
}

PID_EXPORT int sigwaitinfo(const sigset_t *set, siginfo_t *info) {
  int r = DMTCP_NEXT(sigwaitinfo)(set, info);
  if (r > 0 && info) pid_siginfo_out(r, info);
  return r;
}

PID_EXPORT int sigtimedwait(const sigset_t *set, siginfo_t *info, const struct timespec *timeout) {
  int r = DMTCP_NEXT(sigtimedwait)(set, info, timeout);
  if (r > 0 && info) pid_siginfo_out(r, info);
  return r;
}

int pid_signal_syscall(long n, const long a_[6], long *ret) {
  long a[6];
  memcpy(a, a_, sizeof a);
  switch (n) {
    case SYS_rt_sigtimedwait: {
      long r = DMTCP_NEXT(syscall)(n, a[0], a[1], a[2], a[3], a[4], a[5]);
      if (r > 0 && a[1]) pid_siginfo_out((int)r, (siginfo_t *)a[1]);
      *ret = r;
      return 1;
    }
    case SYS_rt_sigaction:
      *ret = rt_sigaction(a[0], (const void *)a[1], (void *)a[2], a[3]);
      return 1;
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
    default:
      return 0;
  }
  *ret = DMTCP_NEXT(syscall)(n, a[0], a[1], a[2], a[3], a[4], a[5]);
  return 1;
}
