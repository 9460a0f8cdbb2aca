/* Process state that is not memory: signal dispositions, working directory,
 * umask and resource limits.  Saved at checkpoint with raw system calls; the
 * dispositions are reinstalled before any thread runs again. */
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime.h"

#define NSIG_KERNEL 65

static struct sys_kernel_sigaction saved_actions[NSIG_KERNEL];
static char saved_cwd[4096];
static mode_t saved_umask;
static struct rlimit saved_limits[RLIM_NLIMITS];

void procstate_save(void) {
  for (int s = 1; s < NSIG_KERNEL; s++)
    if (s != SIGKILL && s != SIGSTOP) sys_rt_sigaction(s, NULL, &saved_actions[s]);
  if (sys_call2(__NR_getcwd, (long)saved_cwd, sizeof saved_cwd) < 0) saved_cwd[0] = 0;
  saved_umask = (mode_t)sys_call1(__NR_umask, 022);
  sys_call1(__NR_umask, saved_umask);
  for (int r = 0; r < RLIM_NLIMITS; r++) sys_call2(__NR_getrlimit, r, (long)&saved_limits[r]);
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
