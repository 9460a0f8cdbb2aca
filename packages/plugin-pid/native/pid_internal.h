/* Shared between the pid plugin's files; nothing here is exported.  One
 * module per kernel object the plugin virtualises, each a .c file with its
 * section below, in layers, top to bottom.  A file calls the functions (and
 * reads the state) of files on lower layers only, never of its own layer or
 * above, so no two files need each other; calling an exported wrapper by
 * name (kill, close) counts, reaching the next definition with REAL does
 * not.  test/layers.test.ts checks the sources against this drawing.
 * Where a lower module needs a decision of a higher one, it takes it as an
 * argument (the hand-over is told which virtual pid it speaks for).
 *
 *   6  pid_plugin.c      the event handler: the phase script
 *   5  pid_fork.c        fork, vfork; a fork child kept or discarded
 *   4  pid_spawn.c       posix_spawn, system, popen
 *      pid_syscall.c     syscall(2): each number to its module below
 *   3  pid_zombie.c      the wait family; unreaped children across a restart
 *      pid_restart.c     the exchange at the pid:restart barrier
 *      pid_exec.c        exec, with the hand-over
 *      pid_proc.c        /proc paths, fcntl owners and lock holders
 *   2  pid_process.c     this process and its threads: vpid, vtids, getpid,
 *                        groups and sessions
 *      pid_socket.c      socket credentials, signalfd records
 *   1  pid_claim.c       ids claimed from the coordinator module; fork gate
 *      pid_handover.c    the state an exec or a spawned child takes over
 *      pid_signal.c      kill and the like, pids inside received signals
 *      pid_resource.c    scheduling, priorities, limits, process_vm_*
 *   0  pid_table.c       the virtual<->real table
 *
 * pid_wire.h (what crosses to the coordinator module) and pid_zombie.h
 * (pure helpers) stand alone. */
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
#include "dmtcp/next.h"
#include "dmtcp/sys.h"
#include "dmtcp/usermem.h"
#include "dmtcp/visibility.h"

/* The wrappers' spelling of DMTCP_EXPORT. */
#define PID_EXPORT DMTCP_EXPORT

/* Each file lists the functions it wraps in a next-function table
 * (dmtcp/next.h), resolved when the library loads: a first call from a
 * signal handler or at checkpoint time never enters the dynamic linker. */

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
/* pid_max from /proc/sys/kernel/pid_max (32768 until read). */
DMTCP_HIDDEN void pid_table_read_pid_max(void);
/* Owners: an entry whose owner is its vid is a process; the others are
 * threads of the process whose vpid is their owner. */
DMTCP_HIDDEN void pid_table_drop_threads_of(pid_t owner);
DMTCP_HIDDEN void pid_table_drop_others(pid_t owner);
DMTCP_HIDDEN int pid_table_count_others(pid_t owner);

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

/* ---- the exec hand-over (pid_handover.c) ----
 * "DMTCP_PID_STATE=real,vpid;vid:real,..." (malloc'd), for the program an
 * exec starts.  For a child of posix_spawn (which may not run code of ours
 * before its exec): "DMTCP_PID_STATE=^parent real,parent vpid,alt;vid:real,...",
 * the list including the parent; the child takes its real pid as virtual
 * pid, or `alt` when that is a virtual pid in the list already (the parent
 * draws the same conclusion from the same string: pid_handover_spawn_vpid).
 * vpid: the virtual pid of the process leaving the state. */
#define PID_EXEC_ENV "DMTCP_PID_STATE"
DMTCP_HIDDEN char *pid_handover_exec(pid_t vpid);
DMTCP_HIDDEN char *pid_handover_spawn(pid_t vpid, pid_t alt);
DMTCP_HIDDEN pid_t pid_handover_spawn_vpid(const char *state, pid_t real);
/* Loads the table a state left for this process (real pid `real`) and
 * returns its virtual pid; `real` when the state was left for another. */
DMTCP_HIDDEN pid_t pid_handover_adopt(const char *state, pid_t real);
/* envp without any older state, plus `state` (malloc'd array of borrowed
 * strings); NULL when out of memory. */
DMTCP_HIDDEN char **pid_handover_env(char *const envp[], char *state);

/* ---- signals (pid_signal.c) ---- */
/* Real ids in a received siginfo_t to virtual ones, where the signal carries
 * a sender or child pid. */
DMTCP_HIDDEN void pid_siginfo_out(int sig, siginfo_t *info);
/* syscall(2) for the numbers that send a signal, wait for one or set an
 * action; returns 1 when n is one of them, *ret holding the result.  The
 * other modules' pid_*_syscall say the same of theirs. */
DMTCP_HIDDEN int pid_signal_syscall(long n, const long a[6], long *ret);

/* ---- resources (pid_resource.c) ---- */
/* Arguments of the scheduling and resource system calls that name a task;
 * returns 1 when n is one of them. */
DMTCP_HIDDEN int pid_resource_syscall_args(long n, long a[6]);

/* ---- this process (pid_process.c) ---- */
/* Counts the restarts this process went through: a wait blocked at
 * checkpoint time is re-issued by the kernel with the real id of the old
 * life, and gets ECHILD; the wrappers retry it, translated anew, when this
 * changed meanwhile. */
DMTCP_HIDDEN extern _Atomic unsigned g_pid_restarts;
DMTCP_HIDDEN extern _Atomic int g_pid_active;
DMTCP_HIDDEN extern pid_t g_pid_vpid;
/* The real pid g_pid_vpid was last set for. */
DMTCP_HIDDEN extern pid_t g_pid_real;
/* getppid() said 1 when the last checkpoint was taken. */
DMTCP_HIDDEN extern int g_pid_orphan;
DMTCP_HIDDEN pid_t pid_self_vtid(void);
DMTCP_HIDDEN void pid_ckpt_off(void);
DMTCP_HIDDEN void pid_ckpt_on(void);
/* At start-up: the virtual pid (handed over, or claimed), the table. */
DMTCP_HIDDEN void pid_process_init(void);
/* In a new thread, before it runs any user code. */
DMTCP_HIDDEN void pid_process_thread_start(void);
/* A fork child that is kept: its own virtual pid (real), the parent's
 * threads out of its table.  Runs in the forking thread, the child's only
 * one. */
DMTCP_HIDDEN void pid_process_become_child(pid_t real);
/* At WRITE_CKPT: whether this process is an orphan (g_pid_orphan). */
DMTCP_HIDDEN void pid_process_checkpoint(void);
/* At restart, in the checkpoint thread: files the new real pid, which it
 * returns, and forgets what the old life's real ids meant. */
DMTCP_HIDDEN pid_t pid_process_restarted(void);
/* In each user thread as it runs again after a restart: its new real tid. */
DMTCP_HIDDEN void pid_process_thread_restarted(void);
DMTCP_HIDDEN int pid_process_syscall(long n, const long a[6], long *ret);

/* ---- descriptors that carry ids: sockets, signalfds (pid_socket.c) ---- */
/* fresh, a copy of old (dup, F_DUPFD), is a signalfd when old is one. */
DMTCP_HIDDEN void pid_fd_dup(int old, int fresh);
DMTCP_HIDDEN int pid_socket_syscall(long n, const long a[6], long *ret);

/* ---- /proc paths and fcntl (pid_proc.c) ---- */
/* "/proc/<vpid>/..." and "/proc/<pid>/task/<vtid>/..." to real ids: path
 * itself, or buf holding the translation. */
DMTCP_HIDDEN const char *pid_proc_path(const char *path, char *buf, size_t cap);
DMTCP_HIDDEN int pid_proc_syscall(long n, const long a[6], long *ret);

/* ---- exec (pid_exec.c): wrappers only ---- */

/* ---- the restart exchange (pid_restart.c) ---- */
/* Reports this process's ids (real: its real pid now) at the pid:restart
 * barrier and loads the host's table from the reply; without one, keeps
 * only this process's own entries. */
DMTCP_HIDDEN void pid_restart_exchange(pid_t real);

/* ---- waiting, and children ended but not reaped (pid_zombie.c) ----
 * Checkpoint: notes the unreaped children (at WRITE_CKPT).  Restart: makes
 * each again, dead the same way, under its virtual pid (after the table is
 * loaded, which drops entries of other processes).  The wait wrappers
 * report a recreated child's status of its first life. */
DMTCP_HIDDEN void pid_zombie_checkpoint(void);
DMTCP_HIDDEN void pid_zombie_restart(void);
/* waitpid with a virtual id. */
DMTCP_HIDDEN pid_t pid_wait4(pid_t pid, int *status, int options, struct rusage *ru);
DMTCP_HIDDEN int pid_wait_syscall(long n, const long a[6], long *ret);

/* ---- posix_spawn, system, popen (pid_spawn.c) ---- */
/* In a fork child: locks of the popen bookkeeping may have been held by a
 * thread that does not exist here. */
DMTCP_HIDDEN void pid_spawn_atfork_child(void);

/* ---- syscall(2) (pid_syscall.c): the wrapper only ---- */

/* ---- fork (pid_fork.c) ---- */
/* Makes this process, a fork child, its own (or discards it when its pid is
 * a virtual id in use).  Runs at ATFORK_CHILD; the fork wrapper runs it too
 * in case the core did not dispatch that event (a child it could not
 * register). */
DMTCP_HIDDEN void pid_fork_child_setup(void);

#define PID_LOG(...)                    \
  do {                                  \
    if (dmtcp_debug()) dmtcp_log(__VA_ARGS__); \
  } while (0)

#endif
