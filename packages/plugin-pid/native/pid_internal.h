/* Shared between the pid plugin's files: the virtual<->real table, the
 * process's own identity and raw system calls.  Nothing here is exported. */
#ifndef PID_INTERNAL_H
#define PID_INTERNAL_H

#include <stdatomic.h>
#include <sys/syscall.h>
#include <sys/types.h>

#define PID_HIDDEN __attribute__((visibility("hidden")))
#define PID_EXPORT __attribute__((visibility("default")))

/* ---- raw system calls ----
 * Event handlers run while other threads are stopped, possibly inside libc
 * or the dynamic linker, and the wrappers below replace the libc entry
 * points this code would otherwise call: talk to the kernel directly. */
static inline long pid_sys3(long n, long a, long b, long c) {
  long ret;
  __asm__ volatile("syscall" : "=a"(ret) : "a"(n), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
  return ret;
}
static inline pid_t pid_sys_getpid(void) { return (pid_t)pid_sys3(SYS_getpid, 0, 0, 0); }
static inline pid_t pid_sys_gettid(void) { return (pid_t)pid_sys3(SYS_gettid, 0, 0, 0); }
static inline int pid_sys_kill0(pid_t pid) { return (int)pid_sys3(SYS_kill, pid, 0, 0); }
static inline __attribute__((noreturn)) void pid_sys_exit_group(int code) {
  for (;;) pid_sys3(SYS_exit_group, code, 0, 0);
}

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

PID_HIDDEN extern struct pid_entry g_pid_table[PID_TABLE_SIZE];

/* Slots [0, pid_table_used()) may be in use. */
PID_HIDDEN int pid_table_used(void);
/* Inserts or replaces the entry for vid; returns the slot or -1 when full. */
PID_HIDDEN int pid_table_put(pid_t vid, pid_t real, pid_t owner, int *tid_addr);
PID_HIDDEN void pid_table_remove_slot(int slot);
PID_HIDDEN int pid_table_find_vid(pid_t vid);
PID_HIDDEN int pid_table_find_real(pid_t real);
/* virtual -> real and back; ids the table does not know are returned as
 * they are (never restarted processes have equal ids, and processes outside
 * the computation keep theirs). */
PID_HIDDEN pid_t pid_v2r(pid_t vid);
PID_HIDDEN pid_t pid_r2v(pid_t real);
/* For kill/waitpid style arguments: -1 and 0 stay, -pgid is translated. */
PID_HIDDEN pid_t pid_v2r_signed(pid_t id);
/* True when `real`, a task that just came into existence, cannot also be a
 * virtual id: a live entry already uses that number as its virtual id. */
PID_HIDDEN int pid_table_vid_conflict(pid_t real);
/* A number no entry uses as a virtual id and no task currently holds,
 * counted down from pid_max; 0 when none is found. */
PID_HIDDEN pid_t pid_table_free_vid(void);
/* Frees slots a writer claimed but never published (a fork child, whose
 * other threads vanished mid-write). */
PID_HIDDEN void pid_table_sweep(void);
PID_HIDDEN void pid_table_set_pid_max(int pid_max);

/* ---- this process (pid_plugin.c) ---- */
PID_HIDDEN extern _Atomic int g_pid_active;
PID_HIDDEN extern pid_t g_pid_vpid;
/* The real pid g_pid_vpid was last set for. */
PID_HIDDEN extern pid_t g_pid_real;
PID_HIDDEN extern int g_pid_debug;
PID_HIDDEN pid_t pid_self_vtid(void);
/* Fork: the attempt number, so that parent and child agree on whether a
 * conflicting child is discarded.  Per thread: the child's only thread is
 * the one that forked, with a copy of its value. */
PID_HIDDEN extern __thread int t_pid_fork_attempt __attribute__((tls_model("initial-exec")));
#define PID_FORK_ATTEMPTS 64
/* Makes this process, a fork child, its own: virtual pid, table.  Runs at
 * ATFORK_CHILD; the fork wrapper runs it too in case the core did not
 * dispatch that event (a child it could not register). */
PID_HIDDEN void pid_fork_child_setup(void);
PID_HIDDEN void pid_ckpt_off(void);
PID_HIDDEN void pid_ckpt_on(void);
/* The exec hand-over: "DMTCP_PID_STATE=real,vpid;vid:real,..." (malloc'd). */
#define PID_EXEC_ENV "DMTCP_PID_STATE"
PID_HIDDEN char *pid_exec_state(void);

#define PID_LOG(...)                    \
  do {                                  \
    if (g_pid_debug) dmtcp_log(__VA_ARGS__); \
  } while (0)

#endif
