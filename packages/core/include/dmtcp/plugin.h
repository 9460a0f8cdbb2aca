/* The public plugin API: what a plugin written as in the DMTCP plugin
 * tutorial compiles against.  Build a plugin with
 *   cc -shared -fPIC -I$(dmtcp include dir) myplugin.c -o libmyplugin.so
 * and load it with `dmtcp launch --with-plugin ./libmyplugin.so prog`.
 *
 * Event numbers and names are the single source of truth shared with the
 * TypeScript side (generated into src/generated/constants.ts). */
#ifndef DMTCP_PLUGIN_H
#define DMTCP_PLUGIN_H

#ifdef DMTCP_DMTCP5_API_H
#error "dmtcp/plugin.h (our plugin API) and dmtcp/dmtcp.h (DMTCP's) cannot be included in one file"
#endif

#include <dlfcn.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DMTCP_PLUGIN_API_VERSION 1

/* ---- events, in the order they occur ---- */
/* Process life */
#define DMTCP_EVENT_INIT 1                  /* before main, also in a program started by exec */
#define DMTCP_EVENT_EXIT 2                  /* exit() or return from main; exitInfo.exitStatus */
#define DMTCP_EVENT_PRE_EXEC 3              /* in exec, before the new program replaces this one */
#define DMTCP_EVENT_POST_EXEC 4             /* in the new program, before its INIT */
#define DMTCP_EVENT_ATFORK_PREPARE 5        /* before fork, in the forking thread */
#define DMTCP_EVENT_ATFORK_PARENT 6         /* after fork, in the parent */
#define DMTCP_EVENT_ATFORK_CHILD 7          /* after fork, in the child */
/* Checkpoint (checkpoint thread unless noted) */
#define DMTCP_EVENT_WAIT_FOR_SUSPEND_MSG 8  /* about to wait for the next checkpoint request */
#define DMTCP_EVENT_PRE_SUSPEND_USER_THREAD 9 /* in each user thread, before it stops */
#define DMTCP_EVENT_THREADS_SUSPEND 10      /* every user thread is stopped */
#define DMTCP_EVENT_SUSPENDED 11            /* every process of the computation is stopped */
#define DMTCP_EVENT_LEADER_ELECTION 12      /* then a global barrier */
#define DMTCP_EVENT_DRAIN 13                /* then a global barrier */
#define DMTCP_EVENT_WRITE_CKPT 14           /* right before the image is written */
/* After the image: resume (isRestart = 0) or restart (isRestart = 1) */
#define DMTCP_EVENT_RESUME 15               /* memory captured; images finish on disk while the program runs */
#define DMTCP_EVENT_RESTART 16              /* in the restarted process, every process reconnected */
#define DMTCP_EVENT_REFILL 17               /* then a global barrier */
#define DMTCP_EVENT_REGISTER_NAME_SERVICE_DATA 18 /* publish; a global barrier follows */
#define DMTCP_EVENT_SEND_QUERIES 19         /* query what others published */
#define DMTCP_EVENT_THREADS_RESUME 20       /* before any user thread runs again */
#define DMTCP_EVENT_RESUME_USER_THREAD 21   /* in each user thread, as it runs again */
/* Threads */
#define DMTCP_EVENT_THREAD_START 22         /* in a new thread, before anything else */
#define DMTCP_EVENT_THREAD_CREATED 23       /* in the creating thread, after pthread_create */
#define DMTCP_EVENT_PTHREAD_START 24        /* in a new thread, before its start routine */
#define DMTCP_EVENT_PTHREAD_EXIT 25         /* in a thread calling pthread_exit */
#define DMTCP_EVENT_PTHREAD_RETURN 26       /* in a thread whose start routine returned */
#define DMTCP_EVENT_COUNT 27

typedef int DmtcpEvent_t;

typedef union DmtcpEventData {
  struct { int isRestart; } resumeInfo;          /* RESUME, RESTART, REFILL, THREADS_RESUME */
  struct { int isRestart; } resumeUserThreadInfo; /* RESUME_USER_THREAD */
  struct { int isRestart; } nameserviceInfo;     /* REGISTER_NAME_SERVICE_DATA, SEND_QUERIES */
  struct { const char *filename; char *const *argv; char *const *envp; } preExec; /* PRE_EXEC */
  struct { pid_t childPid; } forkInfo;           /* ATFORK_PARENT */
  struct { const char *imagePath; } writeCkpt;   /* WRITE_CKPT: the final image path */
  struct { int exitStatus; } exitInfo;           /* EXIT */
  char reserved[64];
} DmtcpEventData_t;

/* Defined by a plugin to receive events.  Plugins are called in load order
 * (as given to --with-plugin, then the built-in plugins); a plugin passes the
 * event on with NEXT_DMTCP_PROCESS_EVENT, zero or one time. */
void dmtcp_process_event(DmtcpEvent_t event, DmtcpEventData_t *data);

/* Runtime side of NEXT_DMTCP_PROCESS_EVENT: `self` is any address inside the
 * calling plugin, telling the runtime who is next. */
void dmtcp_plugin_next_event(DmtcpEvent_t event, DmtcpEventData_t *data, const void *self);

#define NEXT_DMTCP_PROCESS_EVENT(event, data)                          \
  do {                                                                 \
    static const char dmtcp_next_event_self_ = 0;                      \
    dmtcp_plugin_next_event((event), (data), &dmtcp_next_event_self_); \
  } while (0)

/* The next definition of a wrapped function (the next plugin's wrapper, or
 * libc's own), looked up with dlsym at its first call.  That first call
 * takes the dynamic loader's lock: from an event handler or a signal
 * handler it can hang (a thread stopped inside dlopen holds the lock).
 * dmtcp/next.h's table is the safe way: resolved when the plugin loads. */
#define NEXT_FNC(func)                                                    \
  ({                                                                      \
    static __typeof__(&func) dmtcp_next_fnc_ = NULL;                      \
    if (dmtcp_next_fnc_ == NULL) dmtcp_next_fnc_ = (__typeof__(&func))dlsym(RTLD_NEXT, #func); \
    dmtcp_next_fnc_;                                                      \
  })

/* ---- publish/subscribe between the processes of a computation ---- */
#define DMTCP_NS_OK 1                 /* success */
#define DMTCP_NS_NOT_FOUND 0          /* no process published this key */
#define DMTCP_NS_BUFFER_TOO_SMALL -2  /* *val_len now holds the size needed */
#define DMTCP_NS_ERROR -1             /* not at the right event, or no coordinator */

/* During REGISTER_NAME_SERVICE_DATA. */
int dmtcp_send_key_val_pair_to_coordinator(const void *key, size_t key_len, const void *val, size_t val_len);
/* During SEND_QUERIES; *val_len is the buffer size in, the value size out. */
int dmtcp_send_query_to_coordinator(const void *key, size_t key_len, void *val, size_t *val_len);

/* ---- barriers with data (the TypeScript half of a plugin decides) ---- */
/* From an event handler in the checkpoint thread: sends `record` to the
 * coordinator under barrier `name` ("<plugin>:<phase>") and waits until every
 * process of the computation has arrived.  The coordinator module of the
 * plugin gets all records and returns one reply per process, copied to
 * `reply` (*reply_len: size in, size out; reply may be NULL).  Returns
 * DMTCP_NS_OK, DMTCP_NS_BUFFER_TOO_SMALL or DMTCP_NS_ERROR.  Every process
 * must load the plugin, or the barrier never completes. */
int dmtcp_global_barrier(const char *name, const void *record, size_t record_len, void *reply, size_t *reply_len);

/* ---- calls to the plugin's coordinator module, at any time ---- */
/* Sends `request` to the handler that a coordinator module registered for
 * `name` ("<plugin>:<what>") and waits for its answer, copied to `reply`
 * (*reply_len: size in, size out; reply may be NULL).  Unlike a barrier it
 * involves only the caller: use it for decisions that must be made now and
 * for the whole computation (allocating an id, say).  Safe from any thread
 * outside signal handlers, on its own connection; costs one round trip.
 * Returns DMTCP_NS_OK, DMTCP_NS_NOT_FOUND (no module answers `name`),
 * DMTCP_NS_BUFFER_TOO_SMALL or DMTCP_NS_ERROR (no coordinator, or the
 * handler failed). */
int dmtcp_coordinator_call(const char *name, const void *request, size_t request_len, void *reply, size_t *reply_len);

/* ---- utilities safe at checkpoint time ---- */
/* printf-like (%s %d %u %x %p %c, l/z modifiers) to stderr with one write(2):
 * no stdio lock, no malloc.  Use it instead of printf in event handlers. */
void dmtcp_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
const char *dmtcp_get_ckpt_dir(void);
/* A variable of the environment `dmtcp restart` ran with (the restored
 * process keeps the environment it was launched with); NULL before the
 * first restart or when unset.  Valid from DMTCP_EVENT_RESTART on. */
const char *dmtcp_restart_getenv(const char *name);
const char *dmtcp_get_uniquepid_str(void);
/* What a wrapper adds to a read of `clockid` (nanoseconds) so that the
 * program's CLOCK_MONOTONIC / CLOCK_BOOTTIME (and their _RAW, _COARSE,
 * _ALARM kinds) go on from the checkpoint's: non-zero only after a restart
 * on another boot (or with `--clocks frozen`) that could not use a time
 * namespace; 0 for every other clock.  Constant until the next restart;
 * async-signal-safe. */
int64_t dmtcp_clock_shift_ns(int clockid);

/* ---- application API (also usable without plugins) ---- */
#define DMTCP_NOT_PRESENT 0
#define DMTCP_AFTER_CHECKPOINT 1
#define DMTCP_AFTER_RESTART 2
#define DMTCP_CHECKPOINT_FAILED -1  /* the round was abandoned (a process died); the previous images stay */

/* Weak, so that an application calling them runs without dmtcp too:
 *   if (dmtcp_is_enabled && dmtcp_is_enabled()) ... */
int dmtcp_is_enabled(void) __attribute__((weak));
/* Checkpoints the whole computation and returns, once every image is on
 * disk, DMTCP_AFTER_CHECKPOINT; DMTCP_AFTER_RESTART in the restarted process;
 * DMTCP_CHECKPOINT_FAILED if the round was abandoned. */
int dmtcp_checkpoint(void) __attribute__((weak));
/* A critical section no checkpoint may enter: a checkpoint requested in
 * between waits for dmtcp_enable_ckpt.  Nests. */
void dmtcp_disable_ckpt(void) __attribute__((weak));
void dmtcp_enable_ckpt(void) __attribute__((weak));
/* Number of the last completed checkpoint (0 before the first). */
int dmtcp_get_generation(void) __attribute__((weak));

#ifdef __cplusplus
}
#endif
#endif
