/* The plugin API of DMTCP (its 3.x-and-later `dmtcp.h`: plugin descriptors,
 * DMTCP_DECL_PLUGIN, events numbered from 0), served by our runtime.
 *
 * A plugin written for DMTCP builds against this header unchanged:
 *   cc -shared -fPIC -I$(dmtcp include dir)/dmtcp myplugin.c -o libmyplugin.so
 * (so that `#include "dmtcp.h"` finds this file) and runs with
 * `dmtcp launch --with-plugin ./libmyplugin.so prog`.  The names, types,
 * macro expansions and event numbers are DMTCP's, so that a plugin built
 * against DMTCP's own header loads here too.
 *
 * This header and dmtcp/plugin.h (our own API) are two different APIs with
 * overlapping names (the event names, DmtcpEvent_t, NEXT_FNC,
 * dmtcp_global_barrier): a translation unit includes one or the other, never
 * both.  See docs/plugin-tutorial.md, "Plugins written for DMTCP", for which
 * of our events each DMTCP event stands for and what is not supported. */
#ifndef DMTCP_H
#define DMTCP_H

#ifdef DMTCP_PLUGIN_H
#error "dmtcp/dmtcp.h (DMTCP's plugin API) and dmtcp/plugin.h (ours) cannot be included in one file"
#endif
#define DMTCP_DMTCP5_API_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* RTLD_NEXT */
#endif
#include <dlfcn.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <netinet/in.h>

#ifdef __cplusplus
#define EXTERNC extern "C"
extern "C" {
#else
#define EXTERNC
#endif

/* DMTCP compares this string with its own at registration. */
#define DMTCP_PLUGIN_API_VERSION "3"
#ifndef DMTCP_PACKAGE_VERSION
#define DMTCP_PACKAGE_VERSION "0.1.0" /* this project's version, not DMTCP's */
#endif

#define LIB_PRIVATE __attribute__((visibility("hidden")))

/* DMTCP's event numbers (an enum starting at 0: the values are the ABI). */
typedef enum eDmtcpEvent {
  DMTCP_EVENT_INIT = 0,
  DMTCP_EVENT_EXIT = 1,
  DMTCP_EVENT_PRE_EXEC = 2,
  DMTCP_EVENT_POST_EXEC = 3,
  DMTCP_EVENT_ATFORK_PREPARE = 4,
  DMTCP_EVENT_ATFORK_PARENT = 5,
  DMTCP_EVENT_ATFORK_CHILD = 6,
  DMTCP_EVENT_ATFORK_FAILED = 7,       /* never delivered here */
  DMTCP_EVENT_VFORK_PREPARE = 8,       /* never delivered here */
  DMTCP_EVENT_VFORK_PARENT = 9,        /* never delivered here */
  DMTCP_EVENT_VFORK_CHILD = 10,        /* never delivered here */
  DMTCP_EVENT_VFORK_FAILED = 11,       /* never delivered here */
  DMTCP_EVENT_PTHREAD_START = 12,
  DMTCP_EVENT_PTHREAD_EXIT = 13,
  DMTCP_EVENT_PTHREAD_RETURN = 14,
  DMTCP_EVENT_PRESUSPEND = 15,         /* checkpoint thread, the program still running */
  DMTCP_EVENT_PRECHECKPOINT = 16,      /* every process of the computation stopped */
  DMTCP_EVENT_RESUME = 17,             /* memory captured, threads still stopped */
  DMTCP_EVENT_RESTART = 18,            /* restarted, every process reconnected */
  DMTCP_EVENT_RUNNING = 19,            /* checkpoint thread ready: at start-up and after each round */
  DMTCP_EVENT_THREAD_RESUME = 20,      /* in each user thread as it runs again */
  DMTCP_EVENT_OPEN_FD = 21,            /* never delivered here */
  DMTCP_EVENT_REOPEN_FD = 22,          /* never delivered here */
  DMTCP_EVENT_CLOSE_FD = 23,           /* never delivered here */
  DMTCP_EVENT_DUP_FD = 24,             /* never delivered here */
  DMTCP_EVENT_VIRTUAL_TO_REAL_PATH = 25, /* never delivered here */
  DMTCP_EVENT_REAL_TO_VIRTUAL_PATH = 26, /* never delivered here */
  nDmtcpEvents = 27
} DmtcpEvent_t;

/* DMTCP's event data, member for member. */
typedef union _DmtcpEventData_t {
  struct {
    int serializationFd; /* -1 here: nothing is carried across exec this way */
    char *filename;
    size_t maxArgs;      /* = the number of arguments: no room to add any */
    const char **argv;
    size_t maxEnv;       /* = the number of variables */
    const char **envp;
  } preExec;
  struct {
    int serializationFd; /* -1 */
  } postExec;
  struct {
    int isRestart;
  } resumeUserThreadInfo, nameserviceInfo;
  struct {
    int fd;
    const char *path;
    int flags;
    mode_t mode;
  } openFd;
  struct {
    int fd;
    const char *path;
    int flags;
  } reopenFd;
  struct {
    int fd;
  } closeFd;
  struct {
    int oldFd;
    int newFd;
  } dupFd;
  struct {
    char *path;
  } realToVirtualPath, virtualToRealPath;
} DmtcpEventData_t;

typedef void (*HookFunctionPtr_t)(DmtcpEvent_t, DmtcpEventData_t *);

typedef struct {
  const char *pluginApiVersion; /* DMTCP_PLUGIN_API_VERSION, or the plugin is refused */
  const char *dmtcpVersion;
  const char *pluginName;
  const char *authorName;
  const char *authorEmail;
  const char *description;
  void (*event_hook)(const DmtcpEvent_t event, DmtcpEventData_t *data);
} DmtcpPluginDescriptor_t;

/* ---- registration ---- */
/* The runtime calls the first dmtcp_initialize_plugin of the process (in
 * load order) once at start-up; each one registers its plugin and calls the
 * next, so plugins register in load order. */
void dmtcp_initialize_plugin(void) __attribute((weak));
void dmtcp_register_plugin(DmtcpPluginDescriptor_t) __attribute((weak));

#define DMTCP_DECL_PLUGIN(descr)                              \
  EXTERNC void dmtcp_initialize_plugin(void) {                \
    dmtcp_register_plugin(descr);                             \
    void (*next_init_)(void) = NEXT_FNC(dmtcp_initialize_plugin); \
    if (next_init_ != NULL) next_init_();                     \
  }

/* ---- wrappers ---- */
/* Nothing to do here (the runtime is ready before any plugin code runs);
 * kept because NEXT_FNC calls it. */
void dmtcp_initialize(void) __attribute((weak));
/* dlsym, except that RTLD_NEXT means "after the library that called". */
void *dmtcp_dlsym(void *handle, const char *symbol) __attribute((weak));
void *dmtcp_dlvsym(void *handle, char *symbol, const char *version);

/* The next definition of func after this library (a later plugin's wrapper,
 * or libc's), looked up once. */
#define NEXT_FNC(func)                                                      \
  ({                                                                        \
    static __typeof__(&func) dmtcp_real_##func = (__typeof__(&func))-1;     \
    if (dmtcp_real_##func == (__typeof__(&func))-1) {                       \
      if (dmtcp_initialize) dmtcp_initialize();                             \
      dmtcp_real_##func = (__typeof__(&func))dmtcp_dlsym(RTLD_NEXT, #func); \
    }                                                                       \
    dmtcp_real_##func;                                                      \
  })

#define NEXT_FNC_V(func, ver)                                                    \
  ({                                                                             \
    static __typeof__(&func) dmtcp_real_##func = (__typeof__(&func))-1;          \
    if (dmtcp_real_##func == (__typeof__(&func))-1) {                            \
      if (dmtcp_initialize) dmtcp_initialize();                                  \
      dmtcp_real_##func = (__typeof__(&func))dmtcp_dlvsym(RTLD_NEXT, (char *)#func, ver); \
    }                                                                            \
    dmtcp_real_##func;                                                           \
  })

/* ---- barriers (from PRESUSPEND, PRECHECKPOINT, RESUME, RESTART only) ---- */
/* Waits until every process of the computation has called it with the same
 * name; no data travels.  Elsewhere (another event, another thread) it
 * returns at once with a log line. */
void dmtcp_global_barrier(const char *barrier) __attribute((weak));
/* Within one process every plugin runs an event to its end before the next
 * event starts, so a local barrier is already complete: it returns. */
void dmtcp_local_barrier(const char *barrier) __attribute((weak));

/* ---- key/value database in the coordinator ----
 * DMTCP offers its database to C++ only (dmtcp::kvdb::get, set, request64);
 * these are the same requests with C names.  Values are strings; the
 * numeric requests read and write them as decimal int64.  The database
 * goes with the computation's last process: our coordinator keeps nothing
 * across a restart, so a restarted computation starts with an empty one
 * (DMTCP's keeps it until the coordinator exits). */
typedef enum {
  DMTCP_KVDB_GET = 0,
  DMTCP_KVDB_SET = 1,
  DMTCP_KVDB_INCRBY = 2,
  DMTCP_KVDB_AND = 3,
  DMTCP_KVDB_OR = 4,
  DMTCP_KVDB_XOR = 5,
  DMTCP_KVDB_MIN = 6,
  DMTCP_KVDB_MAX = 7,
  DMTCP_KVDB_GET_OR_SET = 8
} DmtcpKvdbRequest_t;

typedef enum {
  DMTCP_KVDB_SUCCESS = 0,
  DMTCP_KVDB_INVALID_REQUEST = 1, /* empty id or key, no value, no coordinator, not a number */
  DMTCP_KVDB_DB_NOT_FOUND = 2,
  DMTCP_KVDB_KEY_NOT_FOUND = 3
} DmtcpKvdbResponse_t;

/* `old` (may be NULL) receives the value before the request, NUL-terminated
 * and cut to old_cap; for GET, the value. */
DmtcpKvdbResponse_t dmtcp_kvdb_request(DmtcpKvdbRequest_t req, const char *id, const char *key, const char *val,
                                       char *old, size_t old_cap);
DmtcpKvdbResponse_t dmtcp_kvdb_set(const char *id, const char *key, const char *val);
DmtcpKvdbResponse_t dmtcp_kvdb_get(const char *id, const char *key, char *val, size_t cap);
DmtcpKvdbResponse_t dmtcp_kvdb_request64(DmtcpKvdbRequest_t req, const char *id, const char *key, int64_t val,
                                         int64_t *old);

/* ---- what the plugin can ask ---- */
const char *dmtcp_get_ckpt_dir(void) __attribute((weak));
#define dmtcp_get_ckpt_dir() (dmtcp_get_ckpt_dir ? dmtcp_get_ckpt_dir() : "")
/* The image this process writes at the next checkpoint (full path). */
const char *dmtcp_get_ckpt_filename(void) __attribute__((weak));
#define dmtcp_get_ckpt_filename() (dmtcp_get_ckpt_filename ? dmtcp_get_ckpt_filename() : NULL)
const char *dmtcp_get_tmpdir(void);
const char *dmtcp_get_uniquepid_str(void) __attribute__((weak));
#define dmtcp_get_uniquepid_str() (dmtcp_get_uniquepid_str ? dmtcp_get_uniquepid_str() : NULL)
/* Pids as the program knows them and as the kernel does in this life
 * (provided by the pid plugin; without it every pid is its own). */
pid_t dmtcp_virtual_to_real_pid(pid_t pid) __attribute__((weak));
pid_t dmtcp_real_to_virtual_pid(pid_t pid) __attribute__((weak));
#define dmtcp_virtual_to_real_pid(p) (dmtcp_virtual_to_real_pid ? dmtcp_virtual_to_real_pid(p) : (p))
#define dmtcp_real_to_virtual_pid(p) (dmtcp_real_to_virtual_pid ? dmtcp_real_to_virtual_pid(p) : (p))
/* The computation id, as hex; the same in every process of the computation. */
const char *dmtcp_get_computation_id_str(void);
const char *dmtcp_get_executable_path(void);
uint32_t dmtcp_get_generation(void) __attribute__((weak));
/* 1 when no checkpoint or restart is under way. */
int dmtcp_is_running_state(void);
int dmtcp_get_local_status(int *numCheckpoints, int *numRestarts) __attribute__((weak));
#define dmtcp_get_local_status(c, r) (dmtcp_get_local_status ? dmtcp_get_local_status(c, r) : DMTCP_NOT_PRESENT)

typedef enum eDmtcpGetRestartEnvErr {
  RESTART_ENV_SUCCESS = 0,
  RESTART_ENV_NOTFOUND = -1,
  RESTART_ENV_TOOLONG = -2,
  RESTART_ENV_DMTCP_BUF_TOO_SMALL = -3,
  RESTART_ENV_INTERNAL_ERROR = -4,
  RESTART_ENV_NULL_PTR = -5,
} DmtcpGetRestartEnvErr_t;
#define RESTART_ENV_MAXSIZE 12288 * 10
/* A variable of the environment `dmtcp restart` ran with. */
DmtcpGetRestartEnvErr_t dmtcp_get_restart_env(const char *name, char *value, size_t maxvaluelen);

/* ---- application API ---- */
#ifndef DMTCP_AFTER_CHECKPOINT
#define DMTCP_AFTER_CHECKPOINT 1
#define DMTCP_AFTER_RESTART 2
#endif
#ifndef DMTCP_NOT_PRESENT
#define DMTCP_NOT_PRESENT 3
#endif
#ifndef DMTCP_IS_PRESENT
#define DMTCP_IS_PRESENT 4
#endif

int dmtcp_is_enabled(void) __attribute((weak));
#define dmtcp_is_enabled() (dmtcp_is_enabled ? dmtcp_is_enabled() : 0)
/* Blocks until this process is checkpointed: DMTCP_AFTER_CHECKPOINT, or
 * DMTCP_AFTER_RESTART in the restarted process; <= 0 when the round failed. */
int dmtcp_checkpoint(void) __attribute__((weak));
#define dmtcp_checkpoint() (dmtcp_checkpoint ? dmtcp_checkpoint() : DMTCP_NOT_PRESENT)
/* A critical section no checkpoint enters; nests.  (The value they return
 * here carries no meaning: test dmtcp_is_enabled() instead.) */
int dmtcp_disable_ckpt(void) __attribute__((weak));
#define dmtcp_disable_ckpt() (dmtcp_disable_ckpt ? dmtcp_disable_ckpt() : DMTCP_NOT_PRESENT)
int dmtcp_enable_ckpt(void) __attribute__((weak));
#define dmtcp_enable_ckpt() (dmtcp_enable_ckpt ? dmtcp_enable_ckpt() : DMTCP_NOT_PRESENT)

typedef void (*dmtcp_fnptr_t)(void);

#ifdef __cplusplus
}
#endif
#endif
