/* fork and vfork.  A child's virtual pid is its real pid.  When that number
 * is already a virtual id in the computation (of a restarted process, or of
 * a process on another host), the child would be ambiguous: it exits at
 * once, before running any program code, and the fork is repeated, with
 * checkpoints held off so that no image sees the discarded child.  Child and
 * parent decide alike: the child claims its number from the coordinator
 * module and tells its parent through the fork gate (pid_claim.c). */
#include <errno.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dmtcp/plugin.h"
#include "pid_internal.h"

#define LOG_PREFIX "pid: "
#define FORK_ATTEMPTS 64

#define PID_FORK_NEXT(X) \
  X(fork) X(waitpid)
DMTCP_NEXT_TABLE(PID_FORK_NEXT)

/* The attempt number, so that parent and child agree on whether a
 * conflicting child is discarded.  Per thread: the child's only thread is
 * the one that forked, with a copy of its value. */
static __thread int t_fork_attempt __attribute__((tls_model("initial-exec")));

void pid_fork_child_setup(void) {
  pid_t real = sys_getpid();
  if (g_pid_real == real) return;
  int last = t_fork_attempt >= FORK_ATTEMPTS - 1;
  int taken = pid_table_vid_conflict(real) || pid_claim(real, 1) != real;
  pid_fork_gate_tell(!taken || last);
  if (taken) {
    if (!last) sys_exit_group(0);
    dmtcp_log(LOG_PREFIX "pid %d is the virtual pid of another process and %d forks did no better; "
                         "the two now share it",
              (int)real, FORK_ATTEMPTS);
  }
  pid_spawn_atfork_child();
  pid_process_become_child(real);
}

static pid_t do_fork(void) {
  if (!atomic_load(&g_pid_active)) return DMTCP_NEXT(fork)();
  pid_ckpt_off();
  pid_t r;
  for (t_fork_attempt = 0;; t_fork_attempt++) {
    pid_fork_gate_open();
    r = DMTCP_NEXT(fork)();
    if (r == 0) pid_fork_child_setup();
    if (r == 0) break;
    /* The parent's own look at its table decides when no gate could be made. */
    int kept = pid_fork_gate_wait(r) && !pid_table_vid_conflict(r);
    if (r < 0) break;
    if (!kept && t_fork_attempt < FORK_ATTEMPTS - 1) {
      int st;
      while (DMTCP_NEXT(waitpid)(r, &st, __WALL) < 0 && errno == EINTR) {
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
