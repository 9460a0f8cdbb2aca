/* Calls that name a task to act on its scheduling, priority, limits or
 * memory: sched_*, getpriority/setpriority, prlimit, process_vm_readv and
 * process_vm_writev, and the raw system calls of the same kind (ioprio_*,
 * kcmp, sched_setattr, perf_event_open...).  Their ids are
 * pids or tids, the table knows both; 0 (the caller) stays 0.  ptrace is
 * left alone: a tracer outside the computation knows real pids. */
#include <errno.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/uio.h>
#include <time.h>

#include "dmtcp/plugin.h"
#include "pid_internal.h"

#define IOPRIO_WHO_PROCESS 1
#define IOPRIO_WHO_PGRP 2
#define PERF_FLAG_PID_CGROUP (1UL << 2)

#define PID_RESOURCE_NEXT(X) \
  X(sched_setparam) X(sched_getparam) X(sched_setscheduler) X(sched_getscheduler) \
  X(sched_rr_get_interval) X(sched_setaffinity) X(sched_getaffinity) X(getpriority) X(setpriority) \
  X(prlimit) X(prlimit64) X(process_vm_readv) X(process_vm_writev)
DMTCP_NEXT_TABLE(PID_RESOURCE_NEXT)

PID_EXPORT int sched_setparam(pid_t pid, const struct sched_param *p) { return DMTCP_NEXT(sched_setparam)(pid_v2r(pid), p); }
PID_EXPORT int sched_getparam(pid_t pid, struct sched_param *p) { return DMTCP_NEXT(sched_getparam)(pid_v2r(pid), p); }
PID_EXPORT int sched_setscheduler(pid_t pid, int policy, const struct sched_param *p) {
  return DMTCP_NEXT(sched_setscheduler)(pid_v2r(pid), policy, p);
}
PID_EXPORT int sched_getscheduler(pid_t pid) { return DMTCP_NEXT(sched_getscheduler)(pid_v2r(pid)); }
PID_EXPORT int sched_rr_get_interval(pid_t pid, struct timespec *t) {
  return DMTCP_NEXT(sched_rr_get_interval)(pid_v2r(pid), t);
}
PID_EXPORT int sched_setaffinity(pid_t pid, size_t size, const cpu_set_t *set) {
  return DMTCP_NEXT(sched_setaffinity)(pid_v2r(pid), size, set);
}
PID_EXPORT int sched_getaffinity(pid_t pid, size_t size, cpu_set_t *set) {
  return DMTCP_NEXT(sched_getaffinity)(pid_v2r(pid), size, set);
}

/* PRIO_PROCESS names a pid (or, on Linux, a tid), PRIO_PGRP a group; a
 * PRIO_USER id is a uid and stays. */
static id_t prio_who(int which, id_t who) {
  return which == PRIO_PROCESS || which == PRIO_PGRP ? (id_t)pid_v2r((pid_t)who) : who;
}

PID_EXPORT int getpriority(__priority_which_t which, id_t who) {
  return DMTCP_NEXT(getpriority)(which, prio_who((int)which, who));
}
PID_EXPORT int setpriority(__priority_which_t which, id_t who, int prio) {
  return DMTCP_NEXT(setpriority)(which, prio_who((int)which, who), prio);
}

PID_EXPORT int prlimit(pid_t pid, __rlimit_resource_t res, const struct rlimit *next, struct rlimit *old) {
  return DMTCP_NEXT(prlimit)(pid_v2r(pid), res, next, old);
}
PID_EXPORT int prlimit64(pid_t pid, __rlimit_resource_t res, const struct rlimit64 *next, struct rlimit64 *old) {
  return DMTCP_NEXT(prlimit64)(pid_v2r(pid), res, next, old);
}

/* The iovecs are the kernel's to read: passed on as they are. */
PID_EXPORT ssize_t process_vm_readv(pid_t pid, const struct iovec *local, unsigned long nlocal,
                                    const struct iovec *remote, unsigned long nremote, unsigned long flags) {
  return DMTCP_NEXT(process_vm_readv)(pid_v2r(pid), local, nlocal, remote, nremote, flags);
}
PID_EXPORT ssize_t process_vm_writev(pid_t pid, const struct iovec *local, unsigned long nlocal,
                                     const struct iovec *remote, unsigned long nremote, unsigned long flags) {
  return DMTCP_NEXT(process_vm_writev)(pid_v2r(pid), local, nlocal, remote, nremote, flags);
}

int pid_resource_syscall_args(long n, long a[6]) {
  switch (n) {
    case SYS_sched_setparam:
    case SYS_sched_getparam:
    case SYS_sched_setscheduler:
    case SYS_sched_getscheduler:
    case SYS_sched_rr_get_interval:
    case SYS_sched_setaffinity:
    case SYS_sched_getaffinity:
    case SYS_sched_setattr:
    case SYS_sched_getattr:
    case SYS_prlimit64:
    case SYS_process_vm_readv:
    case SYS_process_vm_writev:
    case SYS_migrate_pages:
    case SYS_move_pages:
    case SYS_get_robust_list:
      a[0] = pid_v2r((pid_t)a[0]);
      return 1;
    case SYS_kcmp:
      a[0] = pid_v2r((pid_t)a[0]);
      a[1] = pid_v2r((pid_t)a[1]);
      return 1;
    case SYS_perf_event_open:
      /* attr, pid (or a cgroup descriptor), cpu, group fd, flags */
      if (!(a[4] & PERF_FLAG_PID_CGROUP)) a[1] = pid_v2r((pid_t)a[1]);
      return 1;
    case SYS_getpriority:
    case SYS_setpriority:
      a[1] = (long)prio_who((int)a[0], (id_t)a[1]);
      return 1;
    case SYS_ioprio_get:
    case SYS_ioprio_set:
      if (a[0] == IOPRIO_WHO_PROCESS || a[0] == IOPRIO_WHO_PGRP) a[1] = pid_v2r((pid_t)a[1]);
      return 1;
    default:
      return 0;
  }
}
