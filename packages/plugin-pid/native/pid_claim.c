/* Claims of virtual ids from the coordinator module, which sees every host
 * of the computation: a real pid is unique only on its own host (or in its
 * own pid namespace), yet images from several hosts may be restarted
 * together on one. */
#include <linux/futex.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>

#include "dmtcp/plugin.h"
#include "pid_internal.h"
#include "pid_wire.h"

#define LOG_PREFIX "pid: "

/* The coordinator has no module to answer: asking again costs a round trip
 * per fork for nothing.  A restart may meet another coordinator. */
static int no_module;

void pid_claim_forget(void) { no_module = 0; }

pid_t pid_claim(pid_t wanted, int exact) {
  if (no_module) return wanted;
  struct pid_claim c;
  memset(&c, 0, sizeof c);
  c.magic = PID_CLAIM_MAGIC;
  c.version = PID_WIRE_VERSION;
  c.flags = exact ? PID_CLAIM_EXACT : 0;
  c.wanted = wanted;
  c.pid_max = pid_table_pid_max();
  for (;;) {
    int32_t got = 0;
    size_t len = sizeof got;
    int rc = dmtcp_coordinator_call(PID_CALL_CLAIM, &c, sizeof c, &got, &len);
    if (rc == DMTCP_NS_NOT_FOUND) no_module = 1;
    if (rc != DMTCP_NS_OK || len != sizeof got) {
      PID_LOG(LOG_PREFIX "claim of %d: no answer from the coordinator module (%d); unique on this host only", (int)wanted, rc);
      return wanted;
    }
    if (got == wanted || got <= 0) return got;
    /* Free everywhere else, but this host's kernel may be using it. */
    if (pid_table_id_free(got) || c.navoid == PID_CLAIM_MAX_AVOID) return got;
    c.avoid[c.navoid++] = got;
  }
}

/* ---- the fork gate ----
 * A page shared by parent and child for one fork: the child's claim takes a
 * round trip to the coordinator, and only then does the parent know whether
 * fork() may return this child. */

#define GATE_PENDING 0
#define GATE_KEPT 1
#define GATE_DISCARDED 2

static __thread _Atomic int *t_gate __attribute__((tls_model("initial-exec")));

void pid_fork_gate_open(void) {
  long p = sys_call6(SYS_mmap, 0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  t_gate = p < 0 && p > -4096 ? NULL : (_Atomic int *)p;
}

static void gate_close(void) {
  if (t_gate) sys_call3(SYS_munmap, (long)t_gate, 4096, 0);
  t_gate = NULL;
}

void pid_fork_gate_tell(int kept) {
  if (!t_gate) return;
  atomic_store(t_gate, kept ? GATE_KEPT : GATE_DISCARDED);
  sys_call3(SYS_futex, (long)t_gate, FUTEX_WAKE, 1);
  gate_close();
}

int pid_fork_gate_wait(pid_t child) {
  if (child <= 0) { /* the fork failed: nobody will tell */
    gate_close();
    return 0;
  }
  if (!t_gate) return 1;
  int v;
  while ((v = atomic_load(t_gate)) == GATE_PENDING) {
    struct timespec ts = {0, 20 * 1000 * 1000};
    sys_call6(SYS_futex, (long)t_gate, FUTEX_WAIT, GATE_PENDING, (long)&ts, 0, 0);
    /* A child that died before telling (killed, say) tells nothing. */
    siginfo_t si;
    memset(&si, 0, sizeof si);
    if (atomic_load(t_gate) == GATE_PENDING &&
        sys_call6(SYS_waitid, P_PID, child, (long)&si, WEXITED | WNOHANG | WNOWAIT | __WALL, 0, 0) == 0 && si.si_pid == child) {
      v = GATE_DISCARDED;
      break;
    }
  }
  gate_close();
  return v == GATE_KEPT;
}
