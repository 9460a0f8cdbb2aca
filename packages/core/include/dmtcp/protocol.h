/* Wire protocol between the runtime (libdmtcp.so), the coordinator and the
 * CLI.  This header is the single source of truth: the TypeScript mirror in
 * src/protocol/generated.ts is generated from it at build time
 * (scripts/gen-constants.mjs), and a test compiles a C program against it to
 * check sizes and offsets.
 *
 * Every frame is a fixed 104-byte little-endian header followed by
 * `payload_len` bytes of payload (JSON text by convention). */
#ifndef DMTCP_PROTOCOL_H
#define DMTCP_PROTOCOL_H

#include <stdint.h>

#define DMTCP_MSG_MAGIC 0x434d5444u /* "DTMC" read little-endian */
#define DMTCP_PROTOCOL_VERSION 1
#define DMTCP_MSG_NAME_LEN 64
#define DMTCP_MSG_MAX_PAYLOAD (4u * 1024u * 1024u)
#define DMTCP_DEFAULT_COORD_PORT 7779

/* Message types (DMT_*). */
#define DMT_HELLO 1            /* worker -> coord: register; extra = DMTCP_HELLO_* kind */
#define DMT_ACCEPT 2           /* coord -> worker: upid, comp_id, generation assigned */
#define DMT_REJECT 3           /* coord -> worker: payload = reason */
#define DMT_DO_CHECKPOINT 4    /* coord -> worker: generation, extra = participants so far */
#define DMT_BARRIER 5          /* worker -> coord: name = barrier, payload = record */
#define DMT_BARRIER_RELEASED 6 /* coord -> worker: name = barrier, payload = reply */
#define DMT_UPDATE 7           /* worker -> coord: payload = JSON fields that changed (pid...) */
#define DMT_KV_PUT 8           /* worker -> coord: name = namespace, payload = key,value */
#define DMT_KV_GET 9           /* worker -> coord: name = namespace, payload = key */
#define DMT_KV_VALUE 10        /* coord -> worker: extra = DMTCP_KV_* status, payload = value */
#define DMT_USER_CMD 11        /* cli -> coord: payload = JSON {"cmd":...} */
#define DMT_USER_REPLY 12      /* coord -> cli: payload = JSON */
#define DMT_KILL 13            /* coord -> worker: terminate the process */
#define DMT_ROUND_FAILED 14    /* coord -> worker: the round was aborted; resume */
#define DMT_PLUGIN_CALL 15     /* worker -> coord: name = call ("<plugin>:<what>"), payload = request */
#define DMT_PLUGIN_RESULT 16   /* coord -> worker: extra = DMTCP_CALL_* status, payload = answer */

/* HELLO kinds, in the `extra` field. */
#define DMTCP_HELLO_LAUNCH 0
#define DMTCP_HELLO_FORK 1
#define DMTCP_HELLO_EXEC 2
#define DMTCP_HELLO_RESTART 3

/* KV_VALUE status, in the `extra` field. */
#define DMTCP_KV_OK 0
#define DMTCP_KV_MISSING 1

/* PLUGIN_RESULT status, in the `extra` field. */
#define DMTCP_CALL_OK 0
#define DMTCP_CALL_UNKNOWN 1 /* no coordinator module answers that call */
#define DMTCP_CALL_FAILED 2  /* the module threw; payload = its message */

/* Barriers the core runs in every checkpoint and restart, in their order.
 * These names are the only place they are spelled (C and TS). */
#define DMTCP_BARRIER_SUSPENDED "ckpt:suspended"
#define DMTCP_BARRIER_LEADER_ELECTION "ckpt:leader-election"
#define DMTCP_BARRIER_DRAINED "ckpt:drained"
#define DMTCP_BARRIER_REFILLED "ckpt:refilled"
#define DMTCP_BARRIER_REGISTERED "ckpt:registered"
#define DMTCP_BARRIER_WRITTEN "ckpt:written"    /* temp images complete; then renamed */
#define DMTCP_BARRIER_RESUMED "ckpt:resumed"
#define DMTCP_BARRIER_RESTART_CONNECTED "restart:connected"
#define DMTCP_BARRIER_RESTART_REFILLED "restart:refilled"
#define DMTCP_BARRIER_RESTART_REGISTERED "restart:registered"
#define DMTCP_BARRIER_RESTART_DONE "restart:done"

/* Environment variables (launch environment contract). */
#define DMTCP_ENV_COORD_HOST "DMTCP_COORD_HOST"     /* numeric IPv4 or "localhost" */
#define DMTCP_ENV_COORD_PORT "DMTCP_COORD_PORT"
#define DMTCP_ENV_CKPT_DIR "DMTCP_CKPT_DIR"         /* absolute directory for images */
#define DMTCP_ENV_PRELOAD "DMTCP_LD_PRELOAD"        /* our libraries, restored into LD_PRELOAD at exec */
#define DMTCP_ENV_COORD_FD "DMTCP_COORD_FD"         /* set across exec only */
#define DMTCP_ENV_UPID "DMTCP_UPID"                 /* set across exec only */
#define DMTCP_ENV_COMP_ID "DMTCP_COMP_ID"
#define DMTCP_ENV_SIGCKPT "DMTCP_SIGCKPT"           /* checkpoint signal number */
#define DMTCP_ENV_DEBUG "DMTCP_DEBUG"               /* 1: debug log on stderr */
#define DMTCP_ENV_STRICT "DMTCP_STRICT"             /* 1: refuse checkpoints with descriptors no plugin restores */

/* Protected file descriptors the application never sees. */
#define DMTCP_PROTECTED_FD_BASE 820
#define DMTCP_PROTECTED_FD_COUNT 20 /* 820-839: the runtime's and the plugins' */
#define DMTCP_COORD_FD (DMTCP_PROTECTED_FD_BASE + 0)

/* Kinds of descriptor the runtime reports at ckpt:suspended (record:
 * {"image":NAME,"strict":BOOL,"fds":[[FD,KIND],...],"truncated":BOOL}) and
 * plugins declare they restore ("fds" in their package.json). */
#define DMTCP_FD_KINDS "file directory chr block fifo pipe socket memfd epoll eventfd signalfd inotify timerfd io_uring userfaultfd pidfd perf_event fanotify bpf anon other"

struct dmtcp_msg_hdr {
  uint32_t magic;
  uint16_t version;
  uint16_t type;
  uint32_t payload_len;
  uint32_t extra;       /* meaning depends on type */
  uint64_t generation;
  uint64_t upid;        /* unique process id within the computation */
  uint64_t comp_id;     /* computation id */
  char name[DMTCP_MSG_NAME_LEN]; /* barrier name or KV namespace, NUL padded */
};

#define DMTCP_MSG_HDR_SIZE 104
_Static_assert(sizeof(struct dmtcp_msg_hdr) == DMTCP_MSG_HDR_SIZE, "wire header size");

#endif
