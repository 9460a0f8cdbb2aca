/* Regular files with a name, and those unlinked while open: reopened by
 * path at restart (or recreated from their saved bytes), compared with the
 * checkpoint first, their checkpointed bytes written back on request. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "dmtcp/plugin.h"
#include "file_plugin.h"
#include "dmtcp/sys.h"

/* Scratch: the checkpoint thread's stack belongs to the runtime. */
static char create_buf[FILE_PATH_CAP + 64];
static char barrier_rec[65536];
static char barrier_reply[8192];

static void reg_describe(struct file_rec *r) {
  if (r->deleted) file_strip_deleted(r->path);
}

static int reg_wants_contents(const struct file_rec *r, const struct file_settings *s) {
  return r->deleted || s->ckpt_open_files;
}

static int64_t mtime_ns(int64_t sec, int64_t nsec) { return sec * 1000000000LL + nsec; }

static void set_mtime(int fd, const struct file_rec *r) {
  struct timespec ts[2] = {{0, UTIME_OMIT}, {(time_t)r->mtime_sec, (long)r->mtime_nsec}};
  sys_futimens(fd, ts);
}

/* ---- deciding what to do with each named regular file ---- */

/* Files the kernel makes up as they are read: their size and time say
 * nothing about a change, and nobody could write them back. */
static int kernel_made(const char *p) {
  return strncmp(p, "/proc/", 6) == 0 || strncmp(p, "/sys/", 5) == 0;
}

/* Rolling back is for files the application writes: a file it only reads
 * (a system file, another program's output) that changed is reported, never
 * overwritten. */
static int opened_for_writing(const struct file_table *t, const struct file_rec *r) {
  for (size_t i = 0; i < t->nrecs; i++) {
    const struct file_rec *q = &t->recs[i];
    if (q->dev == r->dev && q->ino == r->ino && (q->flags & O_ACCMODE) != O_RDONLY && !(q->flags & O_PATH)) return 1;
  }
  return 0;
}

static void judge(struct file_restart *c) {
  struct file_table *t = c->t;
  for (size_t i = 0; i < t->nrecs; i++) {
    struct file_rec *r = &t->recs[i];
    if (r->kind != FK_REG || r->deleted || r->leader != (int)i || file_inode_primary(t, i) != i) continue;
    const char *p = file_restart_path(c, r->path);
    if (!p || kernel_made(p)) continue;
    struct stat st;
    if (sys_stat(p, &st) < 0) {
      r->verdict = FV_MISSING;
    } else if (S_ISREG(st.st_mode) &&
               (st.st_size != r->size || mtime_ns(st.st_mtim.tv_sec, st.st_mtim.tv_nsec) != mtime_ns(r->mtime_sec, r->mtime_nsec))) {
      r->verdict = FV_CHANGED;
      if (c->s->restore_contents && file_contents_of(t, r) && opened_for_writing(t, r)) r->write_back = 1;
    }
  }
}

static uint64_t key_of(const char *s) {
  uint64_t h = 1469598103934665603ULL;
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
  return h;
}

/* Several processes may hold the same file: one of them (the coordinator
 * elects it) writes the checkpointed bytes back, so that the others do not
 * truncate it under a write already in progress.  Every process reaches this
 * barrier, with or without candidates, or none would get past it. */
static void elect_writers(struct file_restart *c) {
  struct file_table *t = c->t;
  struct sbuf b;
  sb_init(&b, barrier_rec, sizeof barrier_rec);
  size_t sent = 0;
  for (size_t i = 0; i < t->nrecs; i++) {
    struct file_rec *r = &t->recs[i];
    if (!r->write_back) continue;
    const char *p = file_restart_path(c, r->path);
    size_t before = b.len;
    sb_putx(&b, p ? key_of(p) : 0, FILE_KEY_HEX);
    sb_putc(&b, '\n');
    if (b.overflow) {
      /* Left out of the election: this process writes it back itself. */
      b.len = before;
      b.overflow = 0;
      b.buf[b.len] = 0;
      r->write_back = 2;
      continue;
    }
    r->write_back = 1;
    sent++;
  }
  size_t len = sizeof barrier_reply;
  int rc = dmtcp_global_barrier(FILE_BARRIER_RESTORE_CONTENTS, barrier_rec, b.len, barrier_reply, &len);
  /* No answer (no coordinator module, an older coordinator): everyone
   * writes; the bytes are the same in every image of one checkpoint. */
  int have = rc == DMTCP_NS_OK && len == sent && sent > 0;
  size_t k = 0;
  for (size_t i = 0; i < t->nrecs; i++) {
    struct file_rec *r = &t->recs[i];
    if (r->write_back != 1) continue;
    if (have && barrier_reply[k] == '0') r->write_back = 0;
    k++;
  }
  if (rc != DMTCP_NS_OK) file_debug("barrier %s: no answer (%d)", FILE_BARRIER_RESTORE_CONTENTS, rc);
}

static int write_back(const char *path, const struct file_rec *r, const struct file_rec *holder, const struct file_table *t) {
  long fd = sys_open(path, O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOCTTY, 0);
  if (fd < 0) {
    file_log("fd %d (%s): cannot put back its checkpointed contents (%s)", r->fd, path, file_errno_name(fd));
    return -1;
  }
  long rc = file_write_all((int)fd, t->data + holder->data_off, holder->data_len);
  if (rc == 0) set_mtime((int)fd, r);
  sys_close((int)fd);
  if (rc < 0) {
    file_log("fd %d (%s): writing back its checkpointed contents failed (%s)", r->fd, path, file_errno_name(rc));
    return -1;
  }
  return 0;
}

/* A file that vanished: made again when the "file:missing" call said so
 * (file_missing.c), else left closed. */
static int recreate_missing(struct file_restart *c, const struct file_rec *r, const char *path) {
  if (r->missing_action == MA_LEAVE) {
    file_log("fd %d: %s no longer exists; %s (DMTCP_FILE_MISSING=create recreates missing files)", r->fd, path,
             file_leave_note(r));
    return -1;
  }
  long fd = sys_open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY, (int)(r->mode & 07777));
  if (fd < 0) {
    file_log("fd %d: %s no longer exists and cannot be recreated (%s); %s", r->fd, path, file_errno_name(fd),
             file_leave_note(r));
    return -1;
  }
  const struct file_rec *h = file_contents_of(c->t, r);
  int with_bytes = h && file_write_all((int)fd, c->t->data + h->data_off, h->data_len) == 0;
  if (r->missing_action == MA_CREATE) {
    if (with_bytes) set_mtime((int)fd, r);
    sys_close((int)fd);
    file_log("fd %d: %s no longer existed; recreated %s (DMTCP_FILE_MISSING=create)", r->fd, path,
             h ? "with its checkpointed contents" : "empty");
    return 0;
  }
  /* The program created it (O_CREAT): it comes back as large as it was,
   * holes where its bytes are not known, so that writes at the program's
   * offset, or appends, land where they would have; with its mode as it
   * was, whatever the umask. */
  long rc = 0;
  if (!with_bytes || (int64_t)h->data_len < r->size) rc = sys_ftruncate((int)fd, r->size);
  sys_fchmod((int)fd, r->mode & 07777);
  sys_close((int)fd);
  if (rc < 0) file_log("fd %d: %s: cannot extend the recreated file to %ld bytes (%s)", r->fd, path, (long)r->size,
                       file_errno_name(rc));
  if (with_bytes)
    file_log("fd %d: %s no longer existed; the program created it (O_CREAT): recreated with its checkpointed "
             "contents, offset %ld (--missing-files error leaves it closed)",
             r->fd, path, (long)r->pos);
  else
    file_log("fd %d: %s no longer existed; the program created it (O_CREAT): recreated, %ld bytes of holes, offset "
             "%ld (--missing-files error leaves it closed)",
             r->fd, path, (long)r->size, (long)r->pos);
  return 0;
}

static void report_change(const struct file_rec *r, const char *path) {
  struct stat st;
  if (sys_stat(path, &st) < 0) return;
  int mod = mtime_ns(st.st_mtim.tv_sec, st.st_mtim.tv_nsec) != mtime_ns(r->mtime_sec, r->mtime_nsec);
  if (st.st_size != r->size) {
    file_log("fd %d: %s changed since the checkpoint (size %ld -> %ld%s); reopened as it is now", r->fd, path,
             (long)r->size, (long)st.st_size, mod ? ", modified" : "");
  } else {
    file_log("fd %d: %s changed since the checkpoint (modified, same size %ld); reopened as it is now", r->fd, path,
             (long)r->size);
  }
}

/* The elected process writes the checkpointed bytes back before anyone
 * reopens the file, whether it reopens it itself or receives it from
 * another process of the computation. */
static void put_back_contents(struct file_restart *c) {
  struct file_table *t = c->t;
  for (size_t i = 0; i < t->nrecs; i++) {
    struct file_rec *r = &t->recs[i];
    if (!r->write_back || r->verdict != FV_CHANGED) continue;
    const struct file_rec *h = file_contents_of(t, r);
    const char *path = file_restart_path(c, r->path);
    if (!h || !path) continue;
    if (write_back(path, r, h, t) == 0)
      file_log("fd %d: %s had changed since the checkpoint; its checkpointed contents are back "
               "(DMTCP_RESTORE_FILE_CONTENTS=1)",
               r->fd, path);
  }
}

static int restore_named(struct file_restart *c, size_t i) {
  struct file_table *t = c->t;
  struct file_rec *r = &t->recs[i];
  const char *path = file_restart_path(c, r->path);
  if (!path) {
    file_log("fd %d: %s is too long once mapped; %s", r->fd, r->path, file_leave_note(r));
    return FO_FAILED;
  }
  const struct file_rec *primary = &t->recs[file_inode_primary(t, i)];
  if (primary->verdict == FV_MISSING) {
    /* Only the first description of the file decides; the others follow. */
    if (primary == r) {
      if (recreate_missing(c, r, path) < 0) return FO_FAILED;
    } else if (primary->outcome != FO_RESTORED) {
      file_log("fd %d: %s no longer exists; %s", r->fd, path, file_leave_note(r));
      return FO_FAILED;
    }
  } else if (primary == r && r->verdict == FV_CHANGED) {
    /* Written back already (put_back_contents), or about to be by another
     * process: only a change nobody undoes is worth a message. */
    const struct file_rec *h = file_contents_of(t, r);
    if (!r->write_back && !(c->s->restore_contents && h && opened_for_writing(t, r))) report_change(r, path);
  }
  return file_reopen_at(r, path, file_reg_ops.name);
}

static const char *base_name(const char *p) {
  const char *s = strrchr(p, '/');
  return s ? s + 1 : p;
}

/* Creates a fresh file named like the deleted one in dir (or a variant of
 * the name when that is taken); its path is left in create_buf. */
static long create_in(const char *dir, size_t dirlen, const char *name, long pid) {
  for (int attempt = 0; attempt < 100; attempt++) {
    struct sbuf b;
    sb_init(&b, create_buf, sizeof create_buf);
    sb_putn(&b, dir, dirlen);
    sb_putc(&b, '/');
    sb_puts(&b, name);
    if (attempt) sb_format(&b, ".dmtcp-%ld-%d", pid, attempt);
    if (b.overflow) return -ENAMETOOLONG;
    long fd = sys_open(create_buf, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY, 0600);
    if (fd != -EEXIST) return fd;
  }
  return -EEXIST;
}

/* A file that was unlinked while open comes back the same way: a fresh
 * file with the saved bytes, opened as the application had it, then
 * unlinked again, so that the process still sees "(deleted)". */
static long recreate_deleted(struct file_restart *c, struct file_rec *r) {
  const char *path = file_restart_path(c, r->path);
  if (!path) path = r->path;
  const char *name = base_name(path);
  size_t dirlen = (size_t)(name - path);
  if (dirlen > 1) dirlen--; /* drop the slash, keep "/" itself */
  char dir[FILE_PATH_CAP];
  memcpy(dir, path, dirlen);
  dir[dirlen] = 0;
  struct stat st;
  int in_tmp = sys_stat(dir, &st) < 0 || !S_ISDIR(st.st_mode);
  long pid = sys_getpid();
  long wfd = in_tmp ? -ENOENT : create_in(dir, dirlen, name, pid);
  long why = wfd;
  if (wfd < 0) {
    in_tmp = 1;
    wfd = create_in("/tmp", 4, name, pid);
  }
  if (wfd < 0) {
    file_log("fd %d: cannot recreate the deleted file %s (%s); %s", r->fd, path, file_errno_name(wfd), file_leave_note(r));
    return wfd;
  }
  if (in_tmp)
    file_log("fd %d: the deleted file %s cannot come back in its directory (%s); recreated in /tmp and deleted again",
             r->fd, path, why == -ENOENT || why == -ENOTDIR ? "the directory is gone" : file_errno_name(why));
  const struct file_rec *h = file_contents_of(c->t, r);
  if (h) {
    long rc = file_write_all((int)wfd, c->t->data + h->data_off, h->data_len);
    if (rc < 0) file_log("fd %d: writing the deleted file %s back failed (%s)", r->fd, path, file_errno_name(rc));
  } else if (r->size > 0) {
    file_log("fd %d: the contents of the deleted file %s were not saved; it comes back empty", r->fd, path);
  }
  long fd = file_open_retrying(create_buf, file_reopen_flags(r->flags));
  if (fd < 0) fd = -1;
  if (fd >= 0) sys_fchmod((int)fd, r->mode & 07777);
  sys_unlink(create_buf);
  if (fd < 0) {
    /* The creating descriptor is read-write: better than nothing. */
    sys_fchmod((int)wfd, r->mode & 07777);
    return wfd;
  }
  sys_close((int)wfd);
  return fd;
}


/* Before anything is reopened: which files changed or vanished, who writes
 * checkpointed bytes back (every process takes part in that barrier), and
 * the writing back itself, so that whoever reopens a file (this process or
 * one it sends the file to) finds its bytes. */
static void reg_prepare(struct file_restart *c) {
  judge(c);
  elect_writers(c);
  put_back_contents(c);
}

static int reg_restore(struct file_restart *c, size_t i) {
  if (c->t->recs[i].deleted) return file_restore_unnamed(c, i, recreate_deleted);
  return restore_named(c, i);
}

const struct file_kind_ops file_reg_ops = {
    .name = "file",
    .seekable = 1,
    .describe = reg_describe,
    .wants_contents = reg_wants_contents,
    .share_kind = file_share_as_file,
    .prepare = reg_prepare,
    .restore = reg_restore,
};
