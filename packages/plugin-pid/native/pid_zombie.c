/* Waiting for children, and children that ended but were not reaped.
 *
 * The wait family takes virtual ids (also -pgid and P_PGID) and returns
 * them; a reaped child leaves the table.  A wait blocked when a checkpoint
 * came is re-issued by the kernel after the restart with the real id of the
 * old life: ECHILD, which is retried with the id translated anew.
 *
 * Children that had ended but were not reaped at checkpoint time: no image
 * holds them (they are no process of the computation any more), yet their
 * parent may still wait for them.  At checkpoint the parent notes each one
 * (virtual pid, wait status) in static memory, which the image keeps; at
 * restart it makes a child that dies the same way and files it under the
 * old virtual pid, so waitpid(vpid), wait() and waitid return it as before.
 * Its death sends the parent a SIGCHLD at restart; the signal waits until
 * the user threads run again, and then names the child by virtual pid.
 *
 * Noting and making them again run in the checkpoint thread while every
 * user thread is stopped: raw system calls only, no allocation.  The wait
 * wrappers, in user threads, take a recreated child's entry as they reap it. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "dmtcp/plugin.h"
#include "pid_internal.h"
#include "pid_zombie.h"

#define LOG_PREFIX "pid: "
#define ZOMBIE_MAX 1024

#define PID_ZOMBIE_NEXT(X) \
  X(waitpid) X(wait4) X(waitid) X(syscall)
DMTCP_NEXT_TABLE(PID_ZOMBIE_NEXT)

/* real is atomic: a wait wrapper in a user thread takes an entry (real set
 * to 0) while nothing else writes the list. */
struct zombie {
  _Atomic pid_t real;
  pid_t vid;
  int status;
};

static struct zombie zombies[ZOMBIE_MAX];
static _Atomic int nzombies;
/* The process the list belongs to: a fork child inherits the memory, not
 * the zombies. */
static pid_t zombies_of;

static struct zombie found[ZOMBIE_MAX];
static int nfound;
static int too_many;

/* The recorded death of `real`, if it is one of ours and ended as recorded:
 * the wait status as it was before any restart (a recreated child cannot
 * dump core); -1 otherwise.  `take`: the child is being reaped. */
static int lookup(pid_t real, int observed, int take) {
  if (real <= 0 || zombies_of != g_pid_vpid) return -1;
  int n = atomic_load(&nzombies);
  for (int i = 0; i < n && i < ZOMBIE_MAX; i++) {
    struct zombie *z = &zombies[i];
    pid_t r = atomic_load(&z->real);
    if (r != real) continue;
    int status = z->status;
    if (!pid_zombie_same_death(status, observed)) return -1;
    if (take && !atomic_compare_exchange_strong(&z->real, &r, 0)) return -1;
    return status;
  }
  return -1;
}

/* A wait result for real pid `real`: a recreated child reports its status
 * of the first life (it could not dump core again), and is then reaped. */
static int zombie_wait_status(pid_t real, int status) {
  int recorded = lookup(real, status, 1);
  return recorded < 0 ? status : recorded;
}

/* The same for waitid's siginfo_t, si_pid still real; take: not WNOWAIT. */
static void zombie_siginfo(siginfo_t *info, int take) {
  int observed = pid_zombie_status_of(info->si_code, info->si_status);
  if (!observed && info->si_code != CLD_EXITED) return;
  int recorded = lookup(info->si_pid, observed, take);
  int code, st;
  if (recorded >= 0 && pid_zombie_siginfo_of(recorded, &code, &st)) {
    info->si_code = code;
    info->si_status = st;
  }
}

/* ---- the wait family ---- */

static int stale(long r, unsigned life) {
  return r < 0 && errno == ECHILD && atomic_load(&g_pid_restarts) != life;
}

static void waitid_result(siginfo_t *info, int options) {
  if (!info || info->si_pid <= 0) return;
  pid_t real = info->si_pid;
  zombie_siginfo(info, !(options & WNOWAIT));
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
    r = DMTCP_NEXT(wait4)(pid_v2r_signed(pid), sp, options, ru);
  } while (stale(r, life));
  if (r <= 0) return r;
  *sp = zombie_wait_status(r, *sp);
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
    r = DMTCP_NEXT(waitpid)(pid_v2r_signed(pid), sp, options);
  } while (stale(r, life));
  if (r <= 0) return r;
  *sp = zombie_wait_status(r, *sp);
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
    r = DMTCP_NEXT(waitid)(idtype, is_id_type(idtype) ? (id_t)pid_v2r((pid_t)id) : id, info, options);
  } while (stale(r, life));
  if (r == 0) waitid_result(info, options);
  return r;
}

int pid_wait_syscall(long n, const long a[6], long *ret) {
  switch (n) {
    case SYS_wait4:
      *ret = wait4((pid_t)a[0], (int *)a[1], (int)a[2], (struct rusage *)a[3]);
      return 1;
    case SYS_waitid: {
      /* The raw call takes a fifth argument (rusage) that waitid(3) lacks. */
      long r;
      unsigned life;
      do {
        life = atomic_load(&g_pid_restarts);
        r = DMTCP_NEXT(syscall)(n, a[0], is_id_type(a[0]) ? pid_v2r((pid_t)a[1]) : a[1], a[2], a[3], a[4], a[5]);
      } while (stale(r, life));
      if (r == 0) waitid_result((siginfo_t *)a[2], (int)a[3]);
      *ret = r;
      return 1;
    }
    default:
      return 0;
  }
}

/* ---- checkpoint ---- */

/* The end of child `real` as waitid reports it, without reaping; 0 when the
 * child still runs (or is a clone child, which waitpid cannot reach
 * either: the core's image writer). */
static int peek(pid_t real, int *status) {
  siginfo_t si;
  memset(&si, 0, sizeof si);
  long r = sys_call6(SYS_waitid, P_PID, real, (long)&si, WEXITED | WNOHANG | WNOWAIT, 0, 0);
  if (r < 0 || si.si_pid != real) return 0;
  *status = pid_zombie_status_of(si.si_code, si.si_status);
  return 1;
}

static void note_child(pid_t real, void *arg) {
  (void)arg;
  int status;
  if (!peek(real, &status)) return;
  if (nfound == ZOMBIE_MAX) {
    too_many++;
    return;
  }
  /* A child recreated at an earlier restart keeps the status of its first
   * death (the core bit). */
  int recorded = lookup(real, status, 0);
  found[nfound++] = (struct zombie){real, pid_r2v(real), recorded >= 0 ? recorded : status};
}

static int open_ro(const char *path, int flags) {
  return (int)sys_call6(SYS_openat, AT_FDCWD, (long)path, O_RDONLY | O_CLOEXEC | flags, 0, 0, 0);
}

/* Children of one thread (each thread has its own list in the kernel).
 * -1 when the kernel offers no such list (CONFIG_PROC_CHILDREN off). */
static int scan_thread(const char *tid) {
  char path[64] = "/proc/self/task/";
  char *p = path + strlen(path);
  while (*tid && p < path + sizeof path - 16) *p++ = *tid++;
  memcpy(p, "/children", sizeof "/children");
  int fd = open_ro(path, 0);
  if (fd < 0) return fd == -ENOENT ? -1 : 0;
  struct pid_list_parser parser = {0, 0};
  char buf[512];
  long n;
  while ((n = sys_call3(SYS_read, fd, (long)buf, sizeof buf)) > 0)
    pid_list_feed(&parser, buf, (size_t)n, note_child, NULL);
  pid_list_end(&parser, note_child, NULL);
  sys_call3(SYS_close, fd, 0, 0);
  return 0;
}

struct dirent64_raw {
  unsigned long long ino;
  long long off;
  unsigned short reclen;
  unsigned char type;
  char name[];
};

static int scan_threads(void) {
  int dir = open_ro("/proc/self/task", O_DIRECTORY);
  if (dir < 0) return -1;
  char buf[4096] __attribute__((aligned(8)));
  long n;
  int rc = 0;
  while (rc == 0 && (n = sys_call3(SYS_getdents64, dir, (long)buf, sizeof buf)) > 0) {
    for (long off = 0; off < n && rc == 0;) {
      struct dirent64_raw *d = (struct dirent64_raw *)(buf + off);
      off += d->reclen;
      if (d->name[0] >= '0' && d->name[0] <= '9') rc = scan_thread(d->name);
    }
  }
  sys_call3(SYS_close, dir, 0, 0);
  return rc;
}

/* Without the kernel's lists: the children this process knows of. */
static void scan_table(void) {
  int n = pid_table_used();
  for (int i = 0; i < n; i++) {
    struct pid_entry *e = &g_pid_table[i];
    pid_t vid = atomic_load(&e->vid), real = atomic_load(&e->real);
    if (vid && e->owner == vid && vid != g_pid_vpid && real > 0) note_child(real, NULL);
  }
}

void pid_zombie_checkpoint(void) {
  nfound = 0;
  too_many = 0;
  if (scan_threads() < 0) {
    nfound = 0;
    scan_table();
  }
  int old = atomic_load(&nzombies);
  for (int i = 0; i < nfound; i++) {
    atomic_store(&zombies[i].real, found[i].real);
    zombies[i].vid = found[i].vid;
    zombies[i].status = found[i].status;
  }
  for (int i = nfound; i < old && i < ZOMBIE_MAX; i++) atomic_store(&zombies[i].real, 0);
  atomic_store(&nzombies, nfound);
  zombies_of = g_pid_vpid;
  if (too_many)
    dmtcp_log(LOG_PREFIX "%d unreaped children beyond the first %d are not kept across a restart", too_many,
              ZOMBIE_MAX);
  if (nfound) PID_LOG(LOG_PREFIX "checkpoint: %d unreaped children noted", nfound);
}

/* ---- restart ---- */

struct kernel_sigaction {
  unsigned long handler;
  unsigned long flags;
  unsigned long restorer;
  unsigned long mask;
};

static __attribute__((noreturn)) void die_as(int status) {
  int sig = status & 0x7f;
  if (sig) {
    /* Whatever this process did with the signal, it now ends the child,
     * and without a core file. */
    struct rlimit none = {0, 0};
    sys_call3(SYS_setrlimit, RLIMIT_CORE, (long)&none, 0);
    sys_call6(SYS_prctl, PR_SET_DUMPABLE, 0, 0, 0, 0, 0);
    struct kernel_sigaction dfl = {0, 0, 0, 0};
    sys_call6(SYS_rt_sigaction, sig, (long)&dfl, 0, sizeof dfl.mask, 0, 0);
    unsigned long set = 1UL << (sig - 1);
    sys_call6(SYS_rt_sigprocmask, SIG_UNBLOCK, (long)&set, 0, sizeof set, 0, 0);
    sys_call3(SYS_kill, sys_getpid(), sig, 0);
  }
  sys_exit_group((status >> 8) & 0xff);
}

/* A child that has died as `status` says, not reaped; its real pid, or a
 * negative errno. */
static pid_t recreate(int status) {
  /* A raw clone: neither the core's fork wrapper (the coordinator would
   * take the child for a new process) nor ours runs in the child. */
  long r = sys_call6(SYS_clone, SIGCHLD, 0, 0, 0, 0, 0);
  if (r == 0) die_as(status);
  if (r < 0) return (pid_t)r;
  siginfo_t si;
  long w;
  do {
    memset(&si, 0, sizeof si);
    w = sys_call6(SYS_waitid, P_PID, r, (long)&si, WEXITED | WNOWAIT, 0, 0);
  } while (w == -EINTR);
  /* Gone already (reaped by the kernel after all): nothing to file. */
  return w < 0 ? (pid_t)w : (pid_t)r;
}

void pid_zombie_restart(void) {
  int n = atomic_load(&nzombies);
  if (n <= 0 || zombies_of != g_pid_vpid) return;
  /* The children must stay zombies: a SIGCHLD ignored, or SA_NOCLDWAIT, has
   * the kernel reap them at once.  The zombies of the first life came
   * before that setting, or they would not have been there. */
  struct kernel_sigaction saved, dfl = {0, 0, 0, 0};
  int swapped = 0;
  if (sys_call6(SYS_rt_sigaction, SIGCHLD, 0, (long)&saved, sizeof saved.mask, 0, 0) == 0 &&
      (saved.handler == (unsigned long)SIG_IGN || (saved.flags & SA_NOCLDWAIT)))
    swapped = sys_call6(SYS_rt_sigaction, SIGCHLD, (long)&dfl, 0, sizeof dfl.mask, 0, 0) == 0;
  for (int i = 0; i < n && i < ZOMBIE_MAX; i++) {
    struct zombie *z = &zombies[i];
    if (atomic_load(&z->real) <= 0) continue;
    pid_t r = recreate(z->status);
    if (r < 0) {
      atomic_store(&z->real, 0);
      dmtcp_log(LOG_PREFIX "restart: cannot recreate the unreaped child %d (errno %d); waiting for it fails",
                (int)z->vid, (int)-r);
      continue;
    }
    atomic_store(&z->real, r);
    pid_table_put(z->vid, r, z->vid, NULL);
    /* No restart record names it: hold its number in the computation until
     * this process leaves, so that no new process takes it meanwhile. */
    if (pid_claim(z->vid, 1) != z->vid)
      dmtcp_log(LOG_PREFIX "restart: the unreaped child's pid %d is in use elsewhere in the computation", (int)z->vid);
    PID_LOG(LOG_PREFIX "restart: unreaped child %d is real %d again (status 0x%x)", (int)z->vid, (int)r, z->status);
  }
  if (swapped) sys_call6(SYS_rt_sigaction, SIGCHLD, (long)&saved, 0, sizeof saved.mask, 0, 0);
}
