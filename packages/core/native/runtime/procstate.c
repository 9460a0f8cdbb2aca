/* Process state that is not memory: signal dispositions, working directory,
 * umask, resource limits, interval timers and the process's pending signals.
 * Saved at checkpoint with raw system calls; the dispositions are reinstalled
 * before any thread runs again, the timers just before the threads resume. */
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "runtime.h"

#define NSIG_KERNEL 65

static struct sys_kernel_sigaction saved_actions[NSIG_KERNEL];
static char saved_cwd[4096];
static mode_t saved_umask;
static struct rlimit saved_limits[RLIM_NLIMITS];
/* ITIMER_REAL (alarm too), ITIMER_VIRTUAL, ITIMER_PROF: time left and period. */
static struct itimerval saved_itimers[3];

void procstate_save(void) {
  for (int s = 1; s < NSIG_KERNEL; s++)
    if (s != SIGKILL && s != SIGSTOP) sys_rt_sigaction(s, NULL, &saved_actions[s]);
  if (sys_call2(__NR_getcwd, (long)saved_cwd, sizeof saved_cwd) < 0) saved_cwd[0] = 0;
  saved_umask = (mode_t)sys_call1(__NR_umask, 022);
  sys_call1(__NR_umask, saved_umask);
  for (int r = 0; r < RLIM_NLIMITS; r++) sys_call2(__NR_getrlimit, r, (long)&saved_limits[r]);
  for (int w = 0; w < 3; w++)
    if (sys_call2(__NR_getitimer, w, (long)&saved_itimers[w]) < 0) memset(&saved_itimers[w], 0, sizeof saved_itimers[w]);
  sigpending_take_process();
  cmdline_note_mm();
}

void procstate_restore_signals(void) {
  for (int s = 1; s < NSIG_KERNEL; s++)
    if (s != SIGKILL && s != SIGSTOP) sys_rt_sigaction(s, &saved_actions[s], NULL);
}

void procstate_restore_rest(void) {
  if (saved_cwd[0] && sys_call1(__NR_chdir, (long)saved_cwd) < 0)
    log_msg("restart: cannot return to the working directory %s", saved_cwd);
  sys_call1(__NR_umask, saved_umask);
  for (int r = 0; r < RLIM_NLIMITS; r++) {
    struct rlimit cur;
    sys_call2(__NR_getrlimit, r, (long)&cur);
    struct rlimit want = saved_limits[r];
    /* Raising a hard limit needs privilege; keep what we may. */
    if (want.rlim_max > cur.rlim_max) want.rlim_max = cur.rlim_max;
    if (want.rlim_cur > want.rlim_max) want.rlim_cur = want.rlim_max;
    sys_call2(__NR_setrlimit, r, (long)&want);
  }
}

/* A timer does not run while the process does not exist: it continues with
 * the time it had left at checkpoint, then at its period. */
void procstate_restore_timers(void) {
  for (int w = 0; w < 3; w++) {
    struct itimerval it = saved_itimers[w];
    if (!it.it_value.tv_sec && !it.it_value.tv_usec) {
      /* An expired ITIMER_REAL whose SIGALRM was still pending: the kernel
       * re-arms it only when that signal is taken.  The signal comes back
       * pending; the timer goes on at its period. */
      if (!it.it_interval.tv_sec && !it.it_interval.tv_usec) continue;
      it.it_value = it.it_interval;
    }
    long r = sys_call3(__NR_setitimer, w, (long)&it, 0);
    if (r < 0) log_msg("restart: cannot re-arm interval timer %d: error %ld", w, -r);
  }
}

static void json_timeval(struct sbuf *sb, const struct timeval *tv) {
  sb_putu(sb, (uint64_t)tv->tv_sec * 1000000u + (uint64_t)tv->tv_usec);
}

void procstate_itimers_json(struct sbuf *sb) {
  static const char *names[3] = {"real", "virtual", "prof"};
  sb_putc(sb, '{');
  for (int w = 0; w < 3; w++) {
    if (w) sb_putc(sb, ',');
    sb_puts(sb, "\"");
    sb_puts(sb, names[w]);
    sb_puts(sb, "\":{\"value_us\":");
    json_timeval(sb, &saved_itimers[w].it_value);
    sb_puts(sb, ",\"interval_us\":");
    json_timeval(sb, &saved_itimers[w].it_interval);
    sb_putc(sb, '}');
  }
  sb_putc(sb, '}');
}
