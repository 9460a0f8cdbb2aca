/* exec: the new program learns who it is from its environment (the
 * hand-over, pid_handover.c).  Checkpoints stay off from reading the table
 * to the exec, so that the state handed over is never from before a
 * restart.  The core's wrappers of execv, execvp and execl* end here. */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "dmtcp/plugin.h"
#include "pid_internal.h"

#define PID_EXEC_NEXT(X) \
  X(execve) X(execvpe) X(fexecve)
DMTCP_NEXT_TABLE(PID_EXEC_NEXT)

/* envp plus our state; NULL (and nothing to free) when that cannot be built. */
static char **with_state(char *const envp[], char **state) {
  *state = pid_handover_exec(g_pid_vpid);
  if (!*state) return NULL;
  char **env = pid_handover_env(envp, *state);
  if (!env) {
    free(*state);
    *state = NULL;
  }
  return env;
}

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
#define CALL(e) DMTCP_NEXT(execve)(path, argv, e)
  EXEC_WITH_STATE(CALL, envp);
#undef CALL
}

PID_EXPORT int execvpe(const char *file, char *const argv[], char *const envp[]) {
#define CALL(e) DMTCP_NEXT(execvpe)(file, argv, e)
  EXEC_WITH_STATE(CALL, envp);
#undef CALL
}

PID_EXPORT int fexecve(int fd, char *const argv[], char *const envp[]) {
  /* glibc refuses a null argv or envp with EINVAL.  It declares argv
   * nonnull, so the compiler would drop a plain test: launder it. */
  const void *argv_ = argv;
  __asm__("" : "+r"(argv_));
  if (!argv_ || !envp) return DMTCP_NEXT(fexecve)(fd, argv, envp);
#define CALL(e) DMTCP_NEXT(fexecve)(fd, argv, e)
  EXEC_WITH_STATE(CALL, envp);
#undef CALL
}
