/* Shared between the pid plugin's files: the virtual<->real table, the
 * process's own identity.  Nothing here is exported. */
#ifndef PID_INTERNAL_H
#define PID_INTERNAL_H

#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/types.h>

#include "dmtcp/debug.h"
#include "dmtcp/fmt.h"
#include "dmtcp/sys.h"
#include "dmtcp/usermem.h"
#include "dmtcp/visibility.h"

/* The wrappers' spelling of DMTCP_EXPORT. */
#define PID_EXPORT DMTCP_EXPORT

/* The next definition of f, kept in a pointer that each file resolves in a
 * constructor: a first call from a signal handler or at checkpoint time must
 * not enter the dynamic linker. */
#define NEXT_PTR(f)                                                    \
  static __typeof__(&f) next_##f;                                      \
  static inline __typeof__(&f) real_##f(void) {                        \
    if (__builtin_expect(next_##f == NULL, 0)) next_##f = NEXT_FNC(f); \
    return next_##f;                                                   \
  }                                                                    \
  _Static_assert(1, "")
#define REAL(f) real_##f()

/* ---- the table (pid_table.c) ----
 * Fixed size, no allocation.  Readers never lock; writers claim a slot with
 * a compare-and-swap.  Writers run with checkpoints held off
 * (dmtcp_disable_ckpt), so no image holds a half-written slot; the only
 * exceptions are the checkpoint thread itself at restart (every other thread
 * stopped) and a removal at thread exit, which is a single store. */
#define PID_TABLE_SIZE 4096

struct pid_entry {
  _Atomic int claimed;
  _Atomic pid_t vid;   /* 0: slot free or being filled */
  _Atomic pid_t real;
  pid_t owner;         /* vpid of the owning process; == vid for a process */
  int *tid_addr;       /* threads of this process: glibc's cached tid */
};

DMTCP_HIDDEN extern struct pid_entry g_pid_table[PID_TABLE_SIZE];

/* Slots [0, pid_table_used()) may be in use. */
DMTCP_HIDDEN int pid_table_used(void);
/* Inserts or replaces the entry for vid; returns the slot or -1 when full. */
DMTCP_HIDDEN int pid_table_put(pid_t vid, pid_t real, pid_t owner, int *tid_addr);
DMTCP_HIDDEN void pid_table_remove_slot(int slot);
DMTCP_HIDDEN int pid_table_find_vid(pid_t vid);
DMTCP_HIDDEN int pid_table_find_real(pid_t real);
/* virtual -> real and back; ids the table does not know are returned as
 * they are (never restarted processes have equal ids, and processes outside
 * the computation keep theirs). */
DMTCP_HIDDEN pid_t pid_v2r(pid_t vid);
DMTCP_HIDDEN pid_t pid_r2v(pid_t real);
/* For kill/waitpid style arguments: -1 and 0 stay, -pgid is translated. */
DMTCP_HIDDEN pid_t pid_v2r_signed(pid_t id);
/* The way back for results of that kind (F_GETOWN): -pgid stays negative. */
DMTCP_HIDDEN pid_t pid_r2v_signed(pid_t id);
/* A child that was reaped leaves the table, yet its SIGCHLD may still be
 * delivered afterwards (blocked meanwhile, or a handler that runs late):
 * the last reaped processes whose ids differed are remembered for that. */
DMTCP_HIDDEN void pid_table_reaped(pid_t real);
DMTCP_HIDDEN pid_t pid_r2v_or_reaped(pid_t real);
DMTCP_HIDDEN void pid_table_forget_reaped(void);
/* True when `real`, a task that just came into existence, cannot also be a
 * virtual id: a live entry already uses that number as its virtual id. */
DMTCP_HIDDEN int pid_table_vid_conflict(pid_t real);
/* A number no entry uses as a virtual id and no task currently holds,
 * counted down from pid_max; 0 when none is found. */
DMTCP_HIDDEN pid_t pid_table_free_vid(void);
/* No entry uses n, as virtual or real id, and no task of this host holds it. */
DMTCP_HIDDEN int pid_table_id_free(pid_t n);
DMTCP_HIDDEN int pid_table_pid_max(void);
/* Frees slots a writer claimed but never published (a fork child, whose
 * other threads vanished mid-write). */
DMTCP_HIDDEN void pid_table_sweep(void);
DMTCP_HIDDEN void pid_table_set_pid_max(int pid_max);

/* ---- ids unique in the computation (pid_claim.c) ----
 * Every virtual id is claimed from the coordinator module, which knows the
 * ids of every host.  pid_claim returns `wanted` when granted; otherwise,
 * with exact, 0; without it another id free here and everywhere.  When no
 * module answers (the library loaded without its package), every claim is
 * granted: ids are then unique on this host only. */
DMTCP_HIDDEN pid_t pid_claim(pid_t wanted, int exact);
/* Ask the coordinator again even if it had no module (after a restart). */
DMTCP_HIDDEN void pid_claim_forget(void);
/* A fork child's claim decides whether it is kept; its parent waits for
 * that verdict.  The parent opens a gate before each fork attempt, the
 * child tells (1: kept) and the parent waits (returns 1 when kept, 0 when
 * the child refused itself or died first, or the fork failed: child <= 0).  Without a gate (no memory for
 * it) telling and waiting do nothing and waiting says kept. */
DMTCP_HIDDEN void pid_fork_gate_open(void);
DMTCP_HIDDEN void pid_fork_gate_tell(int kept);
DMTCP_HIDDEN int pid_fork_gate_wait(pid_t child);

/* ---- this process (pid_plugin.c) ---- */
/* Counts the restarts this process went through: a wait blocked at
 * checkpoint time is re-issued by the kernel with the real id of the old
 * life, and gets ECHILD; the wrappers retry it, translated anew, when this
 * changed meanwhile. */
DMTCP_HIDDEN extern _Atomic unsigned g_pid_restarts;
DMTCP_HIDDEN extern _Atomic int g_pid_active;
DMTCP_HIDDEN extern pid_t g_pid_vpid;
/* The real pid g_pid_vpid was last set for. */
DMTCP_HIDDEN extern pid_t g_pid_real;
/* getppid() said 1 when the last checkpoint was taken (pid_plugin.c). */
DMTCP_HIDDEN extern int g_pid_orphan;
DMTCP_HIDDEN pid_t pid_self_vtid(void);
/* Fork: the attempt number, so that parent and child agree on whether a
 * conflicting child is discarded.  Per thread: the child's only thread is
 * the one that forked, with a copy of its value. */
DMTCP_HIDDEN extern __thread int t_pid_fork_attempt __attribute__((tls_model("initial-exec")));
#define PID_FORK_ATTEMPTS 64
/* Makes this process, a fork child, its own: virtual pid, table.  Runs at
 * ATFORK_CHILD; the fork wrapper runs it too in case the core did not
 * dispatch that event (a child it could not register). */
DMTCP_HIDDEN void pid_fork_child_setup(void);
DMTCP_HIDDEN void pid_ckpt_off(void);
DMTCP_HIDDEN void pid_ckpt_on(void);
/* The exec hand-over: "DMTCP_PID_STATE=real,vpid;vid:real,..." (malloc'd).
 * For a child of posix_spawn (which may not run code of ours before its
 * exec): "DMTCP_PID_STATE=^parent real,parent vpid,alt;vid:real,...", the
 * list including the parent; the child takes its real pid as virtual pid,
 * or `alt` when that is a virtual pid in the list already (the parent draws
 * the same conclusion from the same string: pid_state_spawn_vpid). */
#define PID_EXEC_ENV "DMTCP_PID_STATE"
DMTCP_HIDDEN char *pid_exec_state(void);
DMTCP_HIDDEN char *pid_spawn_state(pid_t alt);
DMTCP_HIDDEN pid_t pid_state_spawn_vpid(const char *state, pid_t real);
/* envp without any older state, plus `state` (malloc'd array of borrowed
 * strings); NULL when out of memory. */
DMTCP_HIDDEN char **pid_env_with(char *const envp[], char *state);

/* ---- wrappers shared between files ---- */
/* waitpid with a virtual id (pid_wrappers.c). */
DMTCP_HIDDEN pid_t pid_wait4(pid_t pid, int *status, int options, struct rusage *ru);
/* Real ids in a received siginfo_t to virtual ones, where the signal carries
 * a sender or child pid (pid_signal.c). */
DMTCP_HIDDEN void pid_siginfo_out(int sig, siginfo_t *info);
/* "/proc/<vpid>/..." and "/proc/<pid>/task/<vtid>/..." to real ids: path
 * itself, or buf holding the translation (pid_proc.c). */
DMTCP_HIDDEN const char *pid_proc_path(const char *path, char *buf, size_t cap);
/* fcntl's argument on the way in (F_SETOWN, F_SETOWN_EX: `scratch` holds a
 * translated copy) and its results on the way out (pid_proc.c). */
DMTCP_HIDDEN long pid_fcntl_in(int cmd, long arg, void *scratch);
DMTCP_HIDDEN long pid_fcntl_out(int cmd, long arg, long ret);
/* In a fork child: locks of the popen bookkeeping may have been held by a
 * thread that does not exist here (pid_spawn.c). */
DMTCP_HIDDEN void pid_spawn_atfork_child(void);
/* Arguments of the scheduling and resource system calls that name a task;
 * returns 1 when n is one of them (pid_resource.c). */
DMTCP_HIDDEN int pid_syscall_args_in(long n, long a[6]);
/* syscall(2) for the numbers whose data carries pids or that make, copy or
 * read signalfds; returns 1 when n is one of them, *ret holding the result
 * (pid_socket.c). */
DMTCP_HIDDEN int pid_syscall_fd(long n, const long a[6], long *ret);
/* fresh, a copy of old (dup, F_DUPFD), is a signalfd when old is one. */
DMTCP_HIDDEN void pid_fd_dup(int old, int fresh);
/* syscall(SYS_rt_sigaction): the kernel's struct, behind the same
 * trampoline as sigaction (pid_signal.c). */
DMTCP_HIDDEN long pid_rt_sigaction(long sig, const void *act, void *old, long setsize);

/* ---- children ended but not reaped, across a restart (pid_zombie.c) ----
 * Checkpoint: notes them (at WRITE_CKPT).  Restart: makes each again, dead
 * the same way, under its virtual pid (after the table is loaded, which
 * drops entries of other processes). */
DMTCP_HIDDEN void pid_zombie_checkpoint(void);
DMTCP_HIDDEN void pid_zombie_restart(void);
/* A wait result for real pid `real`: a recreated child reports its status
 * of the first life (it could not dump core again), and is then reaped. */
DMTCP_HIDDEN int pid_zombie_wait_status(pid_t real, int status);
/* The same for waitid's siginfo_t, si_pid still real; take: not WNOWAIT. */
DMTCP_HIDDEN void pid_zombie_siginfo(siginfo_t *info, int take);

#define PID_LOG(...)                    \
  do {                                  \
    if (dmtcp_debug()) dmtcp_log(__VA_ARGS__); \
  } while (0)

#endif
