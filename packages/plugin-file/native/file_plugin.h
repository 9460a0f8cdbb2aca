/* Internal interface of the file plugin: the descriptor table saved at
 * checkpoint, the settings, the table of kinds, and what the phases share.
 *
 * Layering (a module calls only into modules below it; the unit test
 * test/layering.test.ts fails on a cycle between files, on a kind calling
 * the table or a phase, and on the exchange reaching the restore loop):
 *
 *   file_plugin.c    the phase script: which phase runs at which event
 *        |
 *   phases           file_scan.c (DRAIN: describe every descriptor)
 *                    file_drain.c (DRAIN: the "file:drain" barrier, drain;
 *                                  REFILL)
 *                    file_restore.c (RESTART: the loop over records)
 *                      -> file_share.c (RESTART: the "file:share" exchange
 *                                       of objects several processes hold;
 *                                       never calls back into the loop)
 *                      -> file_missing.c (RESTART: the "file:missing" call)
 *        |   through the table only (file_ops(r)->slot)
 *   file_kind.c      the table: kind -> struct file_kind_ops
 *        |   (data references, no calls)
 *   kinds            file_reg.c (regular files), file_memfd.c,
 *                    file_dir_dev.c (directories, devices),
 *                    file_pty.c (terminals, pseudo-terminal masters),
 *                    file_pipe.c (pipes, FIFOs), file_other.c (sockets,
 *                    anonymous inodes, the rest)
 *        |
 *   file_common.c    helpers every kind and phase uses (parking a
 *                    descriptor, reopening through /proc, the restart path)
 *        |
 *   file_log.c, file_pathmap.c, file_env.c, file_created.c (the O_CREAT
 *   wrappers), and the core's toolkit headers (dmtcp/sys.h, fmt.h, fds.h...)
 *
 * A kind's code lives in its own file and is reached only through its ops;
 * a phase never switches on the kind (file_scan.c's classify() only decides
 * it). */
#ifndef FILE_PLUGIN_H
#define FILE_PLUGIN_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "dmtcp/debug.h"
#include "dmtcp/fds.h"
#include "dmtcp/fmt.h"
#include "dmtcp/hash.h"
#include "dmtcp/visibility.h"

#define FILE_PATH_CAP 4096
#define FILE_TERMIOS_CAP 64

/* Barrier and call names, and the sizes their records use. */
#include "file_wire.h"

enum file_kind {
  FK_NONE = 0,
  FK_REG,    /* regular file with a name */
  FK_DIR,
  FK_CHR,    /* character device that is not a terminal (/dev/null, /dev/urandom...) */
  FK_BLK,
  FK_TTY,    /* a terminal: /dev/pts/N, /dev/ttyN, /dev/tty, /dev/console */
  FK_PTMX,   /* the master side of a pseudo-terminal */
  FK_PIPE,
  FK_FIFO,   /* named pipe */
  FK_SOCKET,
  FK_ANON,   /* anon_inode: epoll, eventfd, signalfd, timerfd, inotify... */
  FK_MEMFD,
  FK_OTHER,
  FK_COUNT,
};

/* How a description comes back at restart (the "file:share" reply). */
enum share_role {
  SR_LOCAL = 0, /* this process restores it alone, as before */
  SR_LEAD,      /* this process recreates the object it belongs to */
  SR_RECV,      /* another process recreates it and sends it here */
  SR_STD,       /* a pipe or socket to outside that another process had on 0-2: the restart's std_fd */
};

/* What happened at restart, for aliases and for messages. */
enum file_outcome {
  FO_PENDING = 0,
  FO_RESTORED,
  FO_KEPT,    /* the descriptor the restart provided stays (terminal, pipe on 0-2) */
  FO_SKIPPED, /* left to another plugin or not supported yet */
  FO_FAILED,
};

/* What becomes of a file that vanished before the restart: decided by the
 * "file:missing" call (src/missing.ts). */
enum missing_action {
  MA_LEAVE = 0,  /* the descriptor stays closed (on 0-2: what the restart provides) */
  MA_CREATE,     /* --missing-files create: empty, or its saved bytes */
  MA_RECREATE,   /* the program created it: its saved bytes, or holes, up to its size */
};

enum file_verdict {
  FV_SAME = 0,
  FV_CHANGED,  /* size or modification time differ */
  FV_MISSING,
};

/* One descriptor as it was at checkpoint.  Lives in memory that is part of
 * the image, so the restarted process finds it as it was. */
struct file_rec {
  int fd;
  int kind;
  int flags;        /* F_GETFL: access mode and status flags */
  int cloexec;
  int leader;       /* index of the lowest fd sharing this open file description (own index if none) */
  int deleted;      /* regular file unlinked while open */
  int has_termios;
  int saved;        /* contents are in the data region */
  int mnt_id;
  int outcome;      /* restart bookkeeping */
  int write_back;   /* restart: this process writes the checkpointed contents back */
  int verdict;      /* restart: how the file at its path compares with the checkpoint (enum file_verdict) */
  int64_t pos;
  uint64_t dev, ino, rdev;
  uint32_t mode;
  uint32_t nlink;
  int64_t size;
  int64_t mtime_sec;
  int64_t mtime_nsec;
  uint64_t data_off;
  uint64_t data_len;
  /* Sharing between processes: the object (inode, pipe, pseudo-terminal)
   * every process holding it names alike, and the description's owner, the
   * lowest upid holding this very description, with its fd there. */
  uint64_t obj;
  uint64_t owner;
  int owner_fd;
  int role;         /* restart: enum share_role */
  int pipe_size;    /* F_GETPIPE_SZ of a pipe or FIFO */
  int pty_index;    /* pseudo-terminal number, -1 for anything else */
  int pty_locked;   /* master not unlocked yet (unlockpt) */
  int ctty;         /* this pty slave is the controlling terminal of the session this process leads */
  int has_winsize;
  int created;      /* opened with O_CREAT (file_created.c), by this or another descriptor of the description */
  int missing_action; /* restart: what to do if the file vanished (enum missing_action) */
  int std_fd;       /* restart: becomes the restart's descriptor std_fd (0-2), or -1 */
  int drained;      /* this description's object was drained here; its bytes go back at REFILL */
  /* Drained bytes, in the table's drain region: a pipe's or FIFO's buffer,
   * or what a pty's slave wrote that the master has not read; drain2 is what
   * the master wrote that the slave has not read. */
  uint64_t drain_off, drain_len;
  uint64_t drain2_off, drain2_len;
  unsigned short winsize[4];
  unsigned char termios[FILE_TERMIOS_CAP];
  char path[FILE_PATH_CAP];
};

/* The table itself is mapped at checkpoint (its size follows the number of
 * descriptors) and unmapped once it has served: right after the image is
 * captured on resume, or after the restore on restart. */
struct file_table {
  struct file_rec *recs;
  size_t nrecs;
  size_t recs_bytes;
  unsigned char *data; /* saved file contents */
  size_t data_bytes;
  int valid;           /* a complete scan is in recs */
  long pid;            /* kernel pid at checkpoint, for /proc/<pid>/... paths */
  int kcmp_ok;         /* kcmp answered at checkpoint */
  uint64_t host;       /* this machine and pid namespace: objects of other hosts never match */
  unsigned char *drain; /* bytes drained from pipes, FIFOs and pseudo-terminals */
  size_t drain_bytes;
  int refill_pending;  /* drained bytes not put back yet */
};

#define FILE_MAP_CAP 4096

struct file_settings {
  int debug;
  int ckpt_open_files;   /* DMTCP_CKPT_OPEN_FILES=1: save every open regular file */
  char missing_policy[32]; /* DMTCP_FILE_MISSING as given ("" unset); src/missing.ts judges it */
  int restore_contents;  /* DMTCP_RESTORE_FILE_CONTENTS=1 */
  int no_kcmp;           /* DMTCP_FILE_NO_KCMP=1: as where kcmp is forbidden (tests the other way) */
  char path_map[FILE_MAP_CAP];
};

extern DMTCP_HIDDEN struct file_table g_file_table;
extern DMTCP_HIDDEN struct file_settings g_file_settings;

/* What a restart is working with: the kinds' restore slots, the exchange
 * and the helpers below share it (file_restore.c fills it). */
struct file_restart {
  struct file_table *t;
  const struct file_settings *s;
  int term_src;     /* a duplicate of the new terminal (one of 0-2), or -1 */
  int termios_done; /* the terminal's settings were applied once */
  int ctty_done;    /* the controlling terminal was taken back */
  int scratch_base; /* above every descriptor the table names */
  int std_src[3];   /* duplicates of the restart's own 0-2 (-1: it had none) */
};

/* An object one process recreates at restart for every process that held
 * it (a pipe, a FIFO, a pseudo-terminal): the descriptors that keep it alive
 * while descriptions are made from it. */
struct file_object {
  uint64_t obj;
  size_t rep;     /* one of this process's records of it: path, size, settings */
  long anchor[2]; /* parked descriptors (a pipe's two ends), or -1 */
  long err;       /* why it could not be made, or 0 */
};

/* ---- the table of kinds (file_kind.c) ----
 * What differs between kinds of object, one struct per kind (or group of
 * kinds that behave alike), each in its own file.  The phases own the loops
 * over records and call these; a slot a kind does not need is NULL. */
struct file_kind_ops {
  const char *name; /* in messages: "file", "pipe"... */
  int seekable;     /* the offset is restored */

  /* Checkpoint (DRAIN, file_scan.c): fills what the generic fields (path,
   * flags, stat, offset) leave out, for the descriptor r->fd. */
  void (*describe)(struct file_rec *r);
  /* Whether the bytes of r go into the image. */
  int (*wants_contents)(const struct file_rec *r, const struct file_settings *s);
  /* The letter the "file:drain" and "file:share" records name r's kind
   * by ('F' a file, 'p' 'f' 'm' 's' 'S': src/share.ts), or 0 to leave r out
   * of both exchanges. */
  char (*share_kind)(const struct file_rec *r);

  /* DRAIN (file_drain.c), for a description this process drains: room for
   * its bytes in the drain region, and reading them out into
   * t->drain + r->drain_off. */
  size_t (*drain_cap)(const struct file_rec *r);
  void (*drain)(struct file_table *t, struct file_rec *r);
  /* Without the "file:drain" policy: whether this process drains r alone
   * (every end of it is here). */
  int (*drains_alone)(const struct file_table *t, const struct file_rec *r);
  /* REFILL: puts the drained bytes back into the object. */
  void (*refill)(struct file_table *t, struct file_rec *r);

  /* RESTART (file_restore.c).  Once per process before any record is
   * restored, whether it holds this kind or not (a barrier every process
   * must reach). */
  void (*prepare)(struct file_restart *c);
  /* For a record at 0-2 (an alias too) that this process restores alone,
   * before anything else: what becomes of it (enum file_outcome).  NULL:
   * what the restart provides there stays when std_stays is set (a pipe or
   * socket from outside, say), else restored like any other. */
  int (*on_std)(struct file_restart *c, size_t i);
  int std_stays;
  /* Reopens or recreates a description this process restores alone and
   * places it at r->fd (enum file_outcome; the offset is the loop's).
   * NULL: not restored, and a line says so. */
  int (*restore)(struct file_restart *c, size_t i);
  /* Once every descriptor is back. */
  void (*after_restore)(struct file_restart *c, struct file_rec *r);

  /* The exchange (file_share.c), for objects one process recreates for all
   * (is_shared_object): makes the object of record o->rep into o->anchor;
   * makes a new description of it, with the access of `mode` ('r' 'w' 'b')
   * and as a `kind` (a pty master or its slave), parked above the scratch
   * base; whether r is recreated here when the coordinator did not answer
   * (enum share_role). */
  long (*create_object)(struct file_restart *c, struct file_object *o);
  long (*open_description)(struct file_restart *c, const struct file_object *o, int kind, char mode);
  int (*fallback_role)(const struct file_table *t, const struct file_rec *r);
};

DMTCP_HIDDEN const struct file_kind_ops *file_kind_ops_of(int kind);
static inline const struct file_kind_ops *file_ops(const struct file_rec *r) { return file_kind_ops_of(r->kind); }
DMTCP_HIDDEN const char *file_kind_name(int kind);
/* file_ops(r)->share_kind(r), 0 when the kind has none. */
DMTCP_HIDDEN char file_share_kind(const struct file_rec *r);
/* Whether r's object is one a process recreates for all who held it. */
DMTCP_HIDDEN int file_is_shared_object(const struct file_rec *r);

/* The kinds (defined in their files; only file_kind.c names them). */
extern DMTCP_HIDDEN const struct file_kind_ops file_reg_ops, file_memfd_ops, file_dir_ops, file_chr_ops,
    file_blk_ops, file_tty_ops, file_ptmx_ops, file_pipe_ops, file_fifo_ops, file_socket_ops, file_anon_ops,
    file_other_ops;

/* ---- file_common.c: helpers of every kind and phase ---- */
/* Whether a /proc/self/fd link names an unlinked file ("... (deleted)"),
 * and the path without that suffix. */
DMTCP_HIDDEN int file_path_deleted(const char *path);
DMTCP_HIDDEN void file_strip_deleted(char *path);
/* share_kind of the kinds another process can reopen as a file ('F'). */
DMTCP_HIDDEN char file_share_as_file(const struct file_rec *r);
/* r's access as the exchanges name it: 'r', 'w', 'b' (both), '-' (O_PATH);
 * and back. */
DMTCP_HIDDEN char file_share_mode(const struct file_rec *r);
DMTCP_HIDDEN int file_mode_reads(char mode);
DMTCP_HIDDEN int file_mode_writes(char mode);
DMTCP_HIDDEN int file_acc_of(char mode);
DMTCP_HIDDEN uint64_t file_self_upid(void);
/* Moves fd to the lowest free number >= base (close-on-exec), closing the
 * original; -errno on failure (the original is closed too). */
DMTCP_HIDDEN long file_park(long fd, int base);
/* A new description of the object behind fd (through /proc), or -errno. */
DMTCP_HIDDEN long file_reopen_fd(int fd, int flags);
/* Open flags that reopen a checkpointed description, and an open that
 * drops the flags another machine may refuse. */
DMTCP_HIDDEN int file_reopen_flags(int flags);
DMTCP_HIDDEN long file_open_retrying(const char *path, int flags);
DMTCP_HIDDEN long file_write_all(int fd, const unsigned char *p, uint64_t n);
/* Restart helpers.  The path a record is reopened from at this restart
 * (/proc/<old pid> as /proc/self, path map applied; NULL if too long). */
DMTCP_HIDDEN const char *file_restart_path(struct file_restart *c, const char *path);
/* Moves tmp to r->fd with r's close-on-exec flag; 0 or -errno. */
DMTCP_HIDDEN long file_install(long tmp, const struct file_rec *r);
/* Opens path as r was opened and places it at r->fd: enum file_outcome;
 * `what` names the kind in messages. */
DMTCP_HIDDEN int file_reopen_at(struct file_rec *r, const char *path, const char *what);
/* What the application finds at a number that could not be restored. */
DMTCP_HIDDEN const char *file_leave_note(const struct file_rec *r);
/* The record that carries the saved bytes of r's inode, or NULL. */
DMTCP_HIDDEN const struct file_rec *file_contents_of(const struct file_table *t, const struct file_rec *r);
/* The first record (in descriptor order) of record i's inode that leads its
 * description: messages and write-backs happen once per file. */
DMTCP_HIDDEN size_t file_inode_primary(const struct file_table *t, size_t i);

/* A file that exists only as its saved bytes (deleted, memfd): its first
 * description made by `recreate`, the others reopening that one, placed at
 * r->fd (enum file_outcome). */
DMTCP_HIDDEN int file_restore_unnamed(struct file_restart *c, size_t i,
                                     long (*recreate)(struct file_restart *c, struct file_rec *r));

/* ---- file_log.c: a logger on a chosen fd ---- */
DMTCP_HIDDEN const char *file_errno_name(long err);
/* Messages for the person running the program: "dmtcp file: ..." on the log
 * fd (stderr unless file_log_to moved it). */
DMTCP_HIDDEN void file_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The same, only with DMTCP_DEBUG=1 (dmtcp/debug.h). */
DMTCP_HIDDEN void file_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
DMTCP_HIDDEN void file_log_to(int fd);

/* ---- file_pathmap.c ---- */
/* Rewrites `path` through a map "OLD=NEW[:OLD2=NEW2...]": the longest OLD
 * that equals the path or is a directory prefix of it (OLD followed by '/')
 * is replaced by its NEW.  Returns 1 when mapped, 0 when no entry matched
 * (out gets the path unchanged), -1 when the result does not fit in cap. */
DMTCP_HIDDEN int file_path_map_apply(const char *spec, const char *path, char *out, size_t cap);
/* NULL when the map is well formed, else why not. */
DMTCP_HIDDEN const char *file_path_map_problem(const char *spec);

/* ---- file_created.c: descriptors opened with O_CREAT ---- */
#define FILE_CREATED_FDS 65536
DMTCP_HIDDEN void file_created_note(int fd, int created);
/* Whether fd was opened with O_CREAT on the inode (dev, ino). */
DMTCP_HIDDEN int file_created_get(int fd, uint64_t dev, uint64_t ino);

/* ---- phases ---- */

/* file_scan.c (checkpoint) */
DMTCP_HIDDEN int file_scan(struct file_table *t, const struct file_settings *s);
DMTCP_HIDDEN void file_table_release(struct file_table *t);
/* Open descriptors of this process, the runtime's left out; at most cap. */
DMTCP_HIDDEN size_t file_list_fds(int *out, size_t cap);

/* file_drain.c (checkpoint DRAIN, REFILL) */
/* The DRAIN barrier: finds the owners of shared descriptions and drains
 * the objects this process was chosen for. */
DMTCP_HIDDEN void file_drain(struct file_table *t);
/* Puts drained bytes back into their objects (REFILL, or when a round is
 * abandoned before it). */
DMTCP_HIDDEN void file_refill(struct file_table *t);

/* file_restore.c (restart) */
/* A descriptor the restarted process had before any plugin restored
 * anything: what `dmtcp restart` itself was started with. */
struct file_inherited {
  int fd;
  uint64_t dev, ino;
};
DMTCP_HIDDEN void file_restore(struct file_table *t, const struct file_settings *s,
                              const struct file_inherited *inherited, size_t ninherited);

/* file_missing.c: the "file:missing" call, called by the restore loop */
/* The call that decides about vanished files is FILE_CALL_MISSING (file_wire.h). */
/* Sets missing_action on every record whose file vanished; the records
 * this process receives from another one are left out. */
DMTCP_HIDDEN void file_missing_decide(struct file_table *t, const struct file_settings *s);

/* file_share.c: the restart exchange, called by the restore loop */
/* Opens this process's socket and runs the "file:share" barrier: sets every
 * record's role. */
DMTCP_HIDDEN void file_share_plan(struct file_restart *c);
/* For a record this process recreates as part of a pipe, FIFO or
 * pseudo-terminal: a new descriptor on its description (the caller places
 * it), or -errno. */
DMTCP_HIDDEN long file_share_take(size_t i);
/* Sends the descriptions other processes wait for; call once this
 * process's own are in place. */
DMTCP_HIDDEN void file_share_send(void);
/* For a record another process recreates: its descriptor once it arrived
 * (waits for it), or -errno. */
DMTCP_HIDDEN long file_share_received(size_t i);
DMTCP_HIDDEN void file_share_finish(void);

/* ---- file_env.c: settings from an environment block ---- */
DMTCP_HIDDEN void file_settings_defaults(struct file_settings *s);
/* Applies the variables found in `lookup` to s (those absent keep their value). */
DMTCP_HIDDEN void file_settings_apply(struct file_settings *s, const char *(*lookup)(const char *name, void *ctx),
                                     void *ctx);
/* The environment `dmtcp restart` ran with, when the restarted process can
 * still see it; 0 when it cannot. */
DMTCP_HIDDEN int file_restart_env_load(void);
DMTCP_HIDDEN const char *file_restart_env_get(const char *name, void *ctx);

#endif
