/* exec: the new program learns who it is from its environment (the
 * hand-over, pid_handover.c).  Checkpoints stay off from reading the table
 * to the exec, so that the state handed over is never from before a
 * restart.  The core's wrappers of execv, execvp and execl* end here. */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "dmtcp/plugin.h"
#include "pid_internal.h"

NEXT_PTR(execve);
NEXT_PTR(execvpe);
NEXT_PTR(fexecve);

__attribute__((constructor)) static void resolve_all(void) {
  (void)REAL(execve);
  (void)REAL(execvpe);
  (void)REAL(fexecve);
}

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
