/* Internal interface of the event plugin: the table of epoll, eventfd and
 * signalfd descriptors saved at checkpoint, and the kinds' operations.
 *
 * Layering (a module calls only into modules below it):
 *
 *   event_plugin.c   the phase script: which phase runs at which event
 *        |
 *   event_scan.c     checkpoint: describe every descriptor of our kinds
 *   event_restore.c  restart: the loop over records (objects, duplicates,
 *                    then the epoll interest lists, inner sets first)
 *        |   through the table only (event_ops(r)->slot)
 *   event_kind.c     the table: kind -> struct event_kind_ops
 *        |
 *   kinds            event_eventfd.c, event_signalfd.c, event_epoll.c
 *        |
 *   event_common.c   fdinfo parsing, logging, placing a descriptor
 *   event_wrappers.c eventfd()/eventfd2 flags for kernels whose fdinfo
 *                    does not show EFD_SEMAPHORE
 *
 * Everything on the checkpoint and restore paths uses raw system calls
 * (dmtcp/sys.h), the sbuf formatter and static memory: another thread may
 * be stopped inside malloc or stdio. */
#ifndef EVENT_PLUGIN_H
#define EVENT_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#include "dmtcp/debug.h"
#include "dmtcp/fds.h"
#include "dmtcp/fmt.h"
#include "dmtcp/visibility.h"

/* Limits of the static table (it is part of the image). */
#define EVENT_MAX_FDS 1024
#define EVENT_MAX_INTERESTS 8192
#define EVENT_FDINFO_CAP 65536
#define EVENT_MAX_WATCHES 1024

enum event_kind {
  EK_NONE = 0,
  EK_EVENTFD,
  EK_SIGNALFD,
  EK_EPOLL,
  EK_INOTIFY,
  EK_COUNT,
};

enum event_outcome {
  EO_PENDING = 0,
  EO_RESTORED,
  EO_FAILED,
};

/* One descriptor as it was at checkpoint. */
struct event_rec {
  int fd;
  int kind;
  int flags;     /* fdinfo "flags": access mode and O_NONBLOCK */
  int cloexec;
  int leader;    /* index of the lowest fd of the same open file description (own index if none) */
  int outcome;
  uint64_t count;     /* eventfd: the counter */
  int semaphore;      /* eventfd: EFD_SEMAPHORE */
  uint64_t sigmask;   /* signalfd: the signals it reads (bit n-1 for signal n) */
  uint64_t obj_id;    /* eventfd: fdinfo "eventfd-id" (0 when the kernel does not show it) */
  size_t first;       /* epoll: its interests are interests[first .. first+n) */
  size_t n;
  int filled;         /* restart: the interest list is back */
  /* The same description held by another process at checkpoint (fork):
   * that process's kernel pid and fd there, or 0. */
  long shared_pid;
  int shared_fd;
  size_t wfirst;      /* inotify: its watches are watches[wfirst .. wfirst+wn), ascending wd */
  size_t wn;
  int last_wd;        /* inotify: the highest wd the kernel had handed out */
};

/* One inotify watch; path empty when the program's call was not seen. */
#define EVENT_WATCH_PATH 512
struct event_watch {
  int wd;
  uint32_t mask;
  char path[EVENT_WATCH_PATH];
};

/* One entry of an epoll set's interest list. */
struct event_interest {
  int tfd;        /* the target's fd number as the kernel keyed it */
  int src;        /* the fd of this process that holds the target (tfd, or a dup of it), -1 if none */
  uint32_t events;
  uint64_t data;
};

struct event_table {
  struct event_rec recs[EVENT_MAX_FDS];
  size_t nrecs;
  struct event_interest interests[EVENT_MAX_INTERESTS];
  size_t ninterests;
  struct event_watch watches[EVENT_MAX_WATCHES];
  size_t nwatches;
  int fds[EVENT_MAX_FDS * 4]; /* checkpoint: every open fd of the process, for finding epoll targets */
  size_t nfds;
  long pid;      /* checkpoint: the process's kernel pid, which other processes' shared_pid name */
  int kcmp_ok;   /* checkpoint: kcmp answered */
  int valid;     /* a complete scan is in the table */
  int truncated; /* more descriptors or interests than the table holds */
};

extern DMTCP_HIDDEN struct event_table g_event_table;

/* ---- the table of kinds (event_kind.c) ---- */
struct event_kind_ops {
  const char *name;  /* as DMTCP_FD_KINDS names it: "eventfd"... */
  const char *link;  /* what readlink(/proc/self/fd/N) shows: "anon_inode:[eventfd]" */
  /* Checkpoint: fills the kind's fields from the fdinfo text of r->fd. */
  void (*describe)(struct event_table *t, struct event_rec *r, const char *fdinfo, size_t len);
  /* Restart: a new object as r was, at any number (the loop places it);
   * the descriptor or -errno. */
  long (*create)(const struct event_rec *r);
  /* Restart, once every object is in place: fills in what refers to other
   * descriptors (the epoll interest list).  NULL for the others. */
  int (*fill)(struct event_table *t, struct event_rec *r);
  /* Restart: whether fill may run now (the sets it contains are filled). */
  int (*fill_ready)(const struct event_table *t, const struct event_rec *r);
};

DMTCP_HIDDEN const struct event_kind_ops *event_kind_ops_of(int kind);
static inline const struct event_kind_ops *event_ops(const struct event_rec *r) { return event_kind_ops_of(r->kind); }
/* The kind of a descriptor from its /proc/self/fd link, EK_NONE if not ours. */
DMTCP_HIDDEN int event_kind_of_link(const char *link);
/* The record of fd in t, or NULL. */
DMTCP_HIDDEN struct event_rec *event_rec_of_fd(struct event_table *t, int fd);

extern DMTCP_HIDDEN const struct event_kind_ops event_eventfd_ops, event_signalfd_ops, event_epoll_ops,
    event_inotify_ops;

/* ---- event_common.c ---- */
/* The value after "key:" on a line of an fdinfo text (spaces and tabs
 * skipped), parsed in base; 0 found, -1 absent or malformed. */
DMTCP_HIDDEN int event_fdinfo_u64(const char *text, size_t len, const char *key, unsigned base, uint64_t *out);
/* Reads /proc/<pid>/fdinfo/<fd> ("self" when pid is 0) into buf (NUL-terminated);
 * its length or -errno. */
DMTCP_HIDDEN long event_read_fdinfo(long pid, int fd, char *buf, size_t cap);
/* readlink of /proc/<pid>/fd/<fd> ("thread-self" when pid is 0); length or -errno. */
DMTCP_HIDDEN long event_read_link(long pid, int fd, char *buf, size_t cap);
/* Open descriptors of process pid (0: this one, the runtime's left out), at most cap. */
DMTCP_HIDDEN size_t event_list_fds(long pid, int *out, size_t cap);
/* Moves tmp to fd (close-on-exec as asked), closing tmp; 0 or -errno. */
DMTCP_HIDDEN long event_install(long tmp, int fd, int cloexec);
DMTCP_HIDDEN const char *event_errno_name(long err);
/* "dmtcp event: ..." on stderr; event_debug only with DMTCP_DEBUG=1. */
DMTCP_HIDDEN void event_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
DMTCP_HIDDEN void event_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- event_wrappers.c ---- */
/* Whether the program created fd with EFD_SEMAPHORE (through eventfd()). */
DMTCP_HIDDEN int event_wrapped_semaphore(int fd);

/* ---- event_inotify_wrap.c ---- */
/* The path the program passed to inotify_add_watch for (fd, wd), made
 * absolute, or NULL. */
DMTCP_HIDDEN const char *event_inotify_path(int fd, int wd);
/* The highest wd inotify_add_watch returned on fd, 0 if none seen. */
DMTCP_HIDDEN int event_inotify_last_wd(int fd);
/* Events owed to the program on fd (drained at checkpoint, or made at
 * restart), which read() hands out before the kernel's: appends n bytes;
 * 0, or -1 when the buffer is full. */
DMTCP_HIDDEN int event_inotify_owe(int fd, const void *events, size_t n);
/* Whether fd is owed events. */
DMTCP_HIDDEN int event_inotify_owes(int fd);
/* A watch on an inode no watch of fd is on (IN_MASK_CREATE): its wd or -errno. */
DMTCP_HIDDEN long event_inotify_spare_watch(int fd);
/* Makes fd readable in the kernel: a spare watch, noted as a wake watch,
 * removed at once, so a real IN_IGNORED is queued that read() drops;
 * 0 or -errno. */
DMTCP_HIDDEN long event_inotify_wake(int fd);
/* Removes the IN_IGNORED of fd's wake watches from n bytes of events in
 * buf (forgetting those watches); the bytes kept. */
DMTCP_HIDDEN size_t event_inotify_drop_wakes(int fd, char *buf, size_t n);
/* fd is a new kernel object (restart): its old wake watches mean nothing. */
DMTCP_HIDDEN void event_inotify_forget_wakes(int fd);

/* ---- sharing with other processes at restart (event_share.c) ---- */
/* The "event:share" barrier, which every process reaches: who makes each
 * shared object and who receives it. */
DMTCP_HIDDEN void event_share_plan(struct event_table *t);
/* Record i (a leader): '=' restores it alone, 'L' makes it and sends it,
 * '<' receives it (event_share_take). */
DMTCP_HIDDEN int event_share_role(size_t i);
/* The maker's part, once its objects are made: never blocks for long. */
DMTCP_HIDDEN void event_share_send(const struct event_table *t);
/* The descriptor received for record i (the caller owns it), or -errno
 * once the deadline has passed. */
DMTCP_HIDDEN long event_share_take(size_t i);
DMTCP_HIDDEN void event_share_finish(void);

/* ---- phases ---- */
DMTCP_HIDDEN void event_scan(struct event_table *t);
DMTCP_HIDDEN void event_restore(struct event_table *t);

#endif
