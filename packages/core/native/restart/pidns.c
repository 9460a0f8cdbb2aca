/* See pidns.h.  Freestanding like the rest of the restart program. */
#include <stddef.h>
#include <stdint.h>

#include "ns.h"
#include "pidns.h"
#include "dmtcp/fmt.h"
#include "dmtcp/sys.h"

#define CLONE_NEWNS 0x00020000
#define CLONE_NEWPID 0x20000000
#define MS_NOSUID 2
#define MS_NODEV 4
#define MS_NOEXEC 8
#define MS_REC 0x4000
#define MS_PRIVATE (1 << 18)
#define PR_SET_PDEATHSIG 1
#define SIGKILL 9
#define SIGCHLD 17
#define SIGINT 2
#define SIGQUIT 3
#define ECHILD 10
#define EINTR 4

struct clone_args_v2 {
  uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid, set_tid_size;
};

static __attribute__((noreturn)) void exit_like(int status) {
  if ((status & 0x7f) == 0) sys_exit_group((status >> 8) & 0xff);
  sys_exit_group(128 + (status & 0x7f));
}

int pidns_enter(void) {
  if (ns_enter_user("pids stay virtual") < 0) return 0;
  long r = sys_call1(__NR_unshare, CLONE_NEWPID | CLONE_NEWNS);
  if (r < 0) {
    ns_say("cannot make a pid namespace; pids stay virtual", NULL, r);
    return 0;
  }
  long init = sys_fork();
  if (init < 0) {
    ns_say("cannot start the namespace's init; pids stay virtual", NULL, init);
    return 0;
  }
  if (init > 0) {
    /* Outside: what the user started.  Ctrl-C is for the restored
     * processes (they may be in this terminal group); this one only waits. */
    uint64_t ign[4] = {1 /* SIG_IGN */, 0, 0, 0};
    sys_rt_sigaction(SIGINT, ign, NULL);
    sys_rt_sigaction(SIGQUIT, ign, NULL);
    for (;;) {
      int status = 0;
      long w = sys_call4(__NR_wait4, init, (long)&status, 0, 0);
      if (w == init) exit_like(status);
      if (w != -EINTR) sys_exit_group(1);
    }
  }
  /* The init: when the waiter outside goes (killed with the job), the
   * namespace goes with it. */
  sys_call2(__NR_prctl, PR_SET_PDEATHSIG, SIGKILL);
  /* A /proc of this namespace, so that /proc/self and /proc/<pid> name the
   * restored pids; private, so that the host's mounts never see it. */
  r = sys_call5(__NR_mount, 0, (long)"/", 0, MS_REC | MS_PRIVATE, 0);
  if (r == 0) r = sys_call5(__NR_mount, (long)"proc", (long)"/proc", (long)"proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, 0);
  if (r < 0) ns_say("cannot mount /proc for the pid namespace: /proc shows the host's pids", NULL, r);
  return 1;
}

long pidns_fork(long want) {
  int32_t tid = (int32_t)want;
  struct clone_args_v2 a = {0};
  a.exit_signal = SIGCHLD;
  a.set_tid = (uint64_t)(uintptr_t)&tid;
  a.set_tid_size = 1;
  long r = sys_call2(__NR_clone3, (long)&a, sizeof a);
  if (r >= 0) return r;
  char num[24];
  *ns_put_dec(num, want) = 0;
  ns_say("cannot restore pid ", num, r);
  return sys_fork();
}

void pidns_init_loop(long first) {
  int first_status = 0;
  for (;;) {
    int status = 0;
    long w = sys_call4(__NR_wait4, -1, (long)&status, 0x40000000 /* __WALL */, 0);
    if (w == first) first_status = status;
    if (w == -ECHILD) exit_like(first_status);
    if (w < 0 && w != -EINTR) sys_exit_group(1);
  }
}
