/* Internal state and functions of libdmtcp.so shared between its modules. */
#ifndef DMTCP_RUNTIME_H
#define DMTCP_RUNTIME_H

#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>

#include "dmtcp/image.h"
#include "dmtcp/protocol.h"
#include "dmtcp/debug.h"
#include "dmtcp/fds.h"
#include "dmtcp/fmt.h"
#include "dmtcp/hash.h"
#include "dmtcp/sys.h"
#include "dmtcp/visibility.h"

#define HIDDEN DMTCP_HIDDEN
#define EXPORT DMTCP_EXPORT

/* ---- logging safe at checkpoint time (log.c) ---- */
HIDDEN void log_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The C library's text for an errno or signal, untranslated (no locale
 * lookup, no allocation). */
HIDDEN const char *errno_text(int err);
HIDDEN const char *signal_text(int sig);
#define LOG_DEBUG(...)                   \
  do {                                   \
    if (dmtcp_debug()) log_msg(__VA_ARGS__); \
  } while (0)

/* ---- thread context (ctx.S) ---- */
struct thread_ctx {
  uint64_t rbx, rbp, r12, r13, r14, r15, rsp, rip;
  uint32_t mxcsr;
  uint16_t fpucw;
  uint16_t pad;
};
HIDDEN int ctx_save(struct thread_ctx *ctx) __attribute__((returns_twice));
/* Switches to ctx, then increments *counter and wakes its futex waiters, so
 * that nobody unmaps the stack we were running on too early. */
HIDDEN void ctx_restore_and_count(const struct thread_ctx *ctx, _Atomic int *counter) __attribute__((noreturn));
HIDDEN long clone3_thread(void *clone_args, size_t size);
HIDDEN long clone_thread(unsigned long flags, void *stack, int *ptid, int *ctid, uint64_t tls,
                         void (*fn)(void *), void *arg);

/* ---- threads (threads.c) ---- */
enum thread_state { T_FREE = 0, T_CREATING, T_RUNNING, T_SUSPEND_REQ, T_SUSPENDED };
enum thread_kind { TK_USER = 0, TK_MAIN, TK_CKPT };

#define MAX_THREADS 2048

/* Mutexes other than NORMAL that a thread holds (mutex.c), so that a restart
 * can give them the thread's new tid as owner (mutex_restart.c). */
#define MUTEX_HELD_SLOTS 16
struct mutex_held {
  void *slot[MUTEX_HELD_SLOTS]; /* in use: [0, used); a restart reads them all */
  void *pending;          /* being locked: the lock may succeed before it is recorded */
  uint32_t used;
  uint32_t overflow;      /* locks not recorded for want of a slot */
};

struct thread_rec {
  _Atomic int state;
  int kind;
  _Atomic pid_t tid;
  _Atomic int exiting;    /* on its way out: reclaimed once the kernel has it gone */
  pthread_t pthread;
  int *tid_addr;          /* glibc's cached tid in struct pthread; also clear-child-tid */
  uint64_t fsbase;
  void *robust_head;
  size_t robust_len;
  stack_t altstack;
  uint64_t sigmask;       /* kernel mask when ctx was saved */
  char name[16];          /* comm, for ps/pkill after restart */
  struct thread_ctx ctx;
  void *(*start_fn)(void *);
  void *start_arg;
  pid_t old_tid;          /* tid in the life before the last restart */
  struct mutex_held held;
};

HIDDEN extern struct thread_rec g_threads[MAX_THREADS];
/* Slots [0, threads_used()) may be in use: scans stop there instead of
 * reading (and, after a fork, faulting in) the whole table. */
HIDDEN extern _Atomic int g_threads_used;
static inline int threads_used(void) { return atomic_load(&g_threads_used); }
HIDDEN extern int g_sigckpt;
HIDDEN extern long g_tid_offset;   /* offset of the tid field inside struct pthread */
HIDDEN void threads_init_main(void);
HIDDEN struct thread_rec *thread_alloc(int kind);
HIDDEN void thread_fill_self(struct thread_rec *t);
HIDDEN void threads_reset_after_fork(void);
HIDDEN int threads_suspend_all(void);
HIDDEN void threads_resume_all(void);
HIDDEN void threads_install_handler(void);
HIDDEN void thread_mark_exiting(struct thread_rec *t);
/* ---- blocking calls a checkpoint must not cut short (blocking.c) ---- */
/* Called by the suspend handler with its ucontext. */
HIDDEN void blocking_note_suspend(const void *uctx);

/* ---- mutex owners across restart (mutex.c, mutex_restart.c) ---- */
HIDDEN void mutex_bind_thread(struct thread_rec *t);
HIDDEN void mutex_note_checkpoint(void);
HIDDEN void mutex_fix_owners_after_restart(void);

/* ---- exclusion between wrappers and checkpoints (lock.c) ---- */
HIDDEN void ckpt_lock_read(void);
HIDDEN void ckpt_unlock_read(void);
HIDDEN void ckpt_lock_write(void);
HIDDEN void ckpt_unlock_write(void);
HIDDEN void ckpt_lock_reset(void);

/* ---- coordinator connection (coord.c) ---- */
struct msg {
  struct dmtcp_msg_hdr hdr;
  char *payload;           /* points into the caller's buffer */
  uint32_t payload_len;
};
HIDDEN int coord_connect(void);
HIDDEN int coord_send(int fd, int type, uint32_t extra, const char *name, const void *payload, size_t len);
HIDDEN int coord_recv(int fd, struct msg *m, char *buf, size_t cap);
HIDDEN int coord_hello(int fd, int kind, uint64_t parent_upid, struct msg *reply, char *buf, size_t cap);
/* Sends a barrier record and waits for its release; returns 0, or -1 when
 * the round failed or the coordinator went away. reply_buf may be NULL. */
HIDDEN int coord_barrier(const char *name, const char *record, size_t len, char *reply_buf, size_t cap);
HIDDEN int coord_set_address(const char *host, int port);
/* `extra` of the last barrier release: the number of participants. */
HIDDEN extern uint32_t g_last_release_extra;
HIDDEN extern uint32_t g_last_release_len;

/* ---- process-wide runtime state (init.c) ---- */
struct runtime {
  int enabled;
  uint64_t upid;
  uint64_t comp_id;
  uint64_t generation;
  uint64_t done_generation;  /* last checkpoint this process completed */
  uint64_t handled_generation; /* last round it took part in, completed or not */
  uint32_t num_peers;
  int argc;
  char **argv;
  /* argv[0]'s last component as the program started: images are named
   * after it even when the program rewrites its title (redis, nginx). */
  char prog[64];
  char ckpt_dir[1024];
  char preload[4096];        /* our libraries for LD_PRELOAD across exec */
  char coord_host[64];
  int coord_port;
  int interval;
  volatile int is_restart;   /* set by restore_entry */
  uint64_t restart_count;    /* restarts this process went through */
  int round_is_restart;      /* what RESUME_USER_THREAD reports */
  int ns_phase;              /* inside the publish/subscribe events */
  struct { int pid, ppid, pgid, sid; } ids; /* at the last checkpoint */
  const char *restart_env;   /* environment of the last `dmtcp restart` */
  uint64_t restart_env_len;
};
HIDDEN extern struct runtime g_rt;
HIDDEN void start_ckpt_thread(void);
HIDDEN int connect_and_register(int kind, int inherited_fd);

/* ---- checkpoint thread (ckpt.c) and image writer (image_write.c) ---- */
HIDDEN void *ckpt_thread_main(void *arg);
enum write_result { WRITE_OK = 0, WRITE_FAILED = -1, WRITE_RESTARTED = 1 };
HIDDEN int image_write(const char *tmp_path, uint64_t *bytes_out);
struct image_writer {
  int pid;          /* the writing child, 0 when written in place */
  int result;
  uint64_t bytes;
  int err;          /* errno of a failed write, 0 if none or unknown */
  int signal;       /* signal that killed the writing child, 0 if none */
};
/* Exit status of a writing child told not to write (no errno is that big). */
#define WRITER_NOT_STARTED 255
HIDDEN int image_write_begin(const char *tmp_path, struct image_writer *w);
HIDDEN int image_write_finish(const char *tmp_path, struct image_writer *w);
HIDDEN void image_path(char *out, size_t cap, int tmp);

/* ---- the application's descriptors at checkpoint (fdlist.c) ---- */
/* Writes the ckpt:suspended record: the image name, the strict setting and
 * every descriptor but the runtime's own, with its kind.  Returns its
 * length, 0 if it could not be built; *out is scratch memory to give back
 * with fdlist_free. */
HIDDEN size_t fdlist_record(const char *image_name, char **out, size_t *cap);
HIDDEN void fdlist_free(char *buf, size_t cap);

/* ---- process state saved beside memory (procstate.c) ---- */
HIDDEN void procstate_save(void);
HIDDEN void procstate_restore_signals(void);   /* raw syscalls only */
HIDDEN void procstate_restore_rest(void);
HIDDEN void procstate_restore_timers(void);    /* last thing before the threads resume */
HIDDEN void procstate_itimers_json(struct sbuf *sb);

/* ---- MONOTONIC and BOOTTIME across restarts (clocks.c) ---- */
HIDDEN void clocks_json(struct sbuf *sb);  /* what the image says about them */
HIDDEN void clocks_restarted(void);        /* take the restart's shift */
EXPORT int64_t dmtcp_clock_shift_ns(int clock); /* plugin.h */

/* ---- pending signals across a checkpoint (sigpending.c) ---- */
HIDDEN uint32_t sigpending_take_thread(struct thread_rec *t);          /* in the suspend handler */
HIDDEN void sigpending_put_back_thread(struct thread_rec *t, uint32_t gen); /* same, before the resume */
HIDDEN void sigpending_take_process(void);                           /* checkpoint thread, before capture */
HIDDEN void sigpending_put_back(void);                               /* checkpoint thread, before the resume */
HIDDEN void sigpending_json(struct sbuf *sb);
HIDDEN int sigpending_count(void);

/* ---- restore (restore.c) ---- */
HIDDEN extern struct dmtcp_restart_info g_restart_info;
HIDDEN extern _Atomic int g_restored_threads;
/* The restart program's thread while it may still run on its stack. */
HIDDEN extern _Atomic int g_restore_leader;
EXPORT void dmtcp_restore_entry(const struct dmtcp_restart_info *info) __attribute__((noreturn));

/* ---- plugin events (events.c) and API (api.c) ---- */
union DmtcpEventData;
HIDDEN void events_init(void);
HIDDEN void events_dispatch(int event, union DmtcpEventData *data);
HIDDEN void event_simple(int event);
HIDDEN void event_restart_flag(int event, int is_restart);
HIDDEN void api_checkpoint_done(int ok);
HIDDEN void api_wait_round_end(void);
HIDDEN extern _Atomic int g_round_active;


/* ---- the dynamic loader's locks across checkpoint and restart (loader.c) ---- */
HIDDEN void loader_init(void);
HIDDEN void threads_suspend_outside_loader(void);
/* Calls fn on each lock of the dynamic loader that a thread holds. */
HIDDEN int loader_each_held_lock(int (*fn)(void *mutex));

/* ---- /proc/PID/cmdline, environ and exe after restart (cmdline.c) ---- */
HIDDEN void cmdline_note(void);
HIDDEN void cmdline_note_mm(void); /* at checkpoint: the layout and the break */
HIDDEN void cmdline_restore(void);

/* ---- a restart that cannot proceed exits with a reason (watchdog.c) ---- */
HIDDEN void watchdog_start(void);
HIDDEN void watchdog_stage(const char *what, int remote);
HIDDEN void watchdog_stage_barrier(const char *name);
HIDDEN void watchdog_stop(void);

#endif
