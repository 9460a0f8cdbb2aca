/* Restart side: put every descriptor the table describes back at its number,
 * with its flags, offset and sharing.  Runs in the restarted process's
 * checkpoint thread at RESTART, before any application thread runs again.
 *
 * What the restarted process starts with: descriptors 0-2 as the restart
 * command got them (the new terminal or pipes) and the runtime's protected
 * ones.  Everything else is opened here. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "dmtcp/plugin.h"
#include "file_plugin.h"
#include "dmtcp/sys.h"

#ifndef MFD_CLOEXEC
#define MFD_CLOEXEC 1U
#endif

/* Scratch paths: the checkpoint thread's stack belongs to the runtime. */
static char mapped_buf[FILE_PATH_CAP];
static char proc_buf[FILE_PATH_CAP];
static char create_buf[FILE_PATH_CAP + 64];
static char barrier_rec[65536];
static char barrier_reply[8192];

struct restore_ctx {
  struct file_table *t;
  const struct file_settings *s;
  int term_src;  /* a duplicate of the new terminal (one of 0-2), or -1 */
  int termios_done;
  int scratch_base; /* above every descriptor the table names */
  int std_src[3];   /* duplicates of the restart's own 0-2 (-1: it had none) */
};

static int64_t mtime_ns(int64_t sec, int64_t nsec) { return sec * 1000000000LL + nsec; }

int file_reopen_flags(int flags) {
  int f = flags & ~(O_CREAT | O_EXCL | O_TRUNC | O_CLOEXEC | O_ASYNC);
  f &= ~(O_TMPFILE & ~O_DIRECTORY);
  /* Reopening a terminal path must not make it the controlling terminal;
   * the temporary descriptor is close-on-exec until it is installed. */
  return f | O_NOCTTY | O_CLOEXEC;
}

long file_open_retrying(const char *path, int flags) {
  long fd = sys_open(path, flags, 0);
  /* O_NOATIME needs ownership, O_DIRECT a file system that supports it:
   * neither is worth losing the file over on another machine. */
  if (fd == -EPERM && (flags & O_NOATIME)) fd = sys_open(path, flags & ~O_NOATIME, 0);
  if (fd == -EINVAL && (flags & O_DIRECT)) fd = sys_open(path, flags & ~O_DIRECT, 0);
  return fd;
}

/* Moves tmp to r->fd with r's close-on-exec flag; 0 or -errno. */
static long install(long tmp, const struct file_rec *r) {
  if (tmp == r->fd) return sys_fcntl(r->fd, F_SETFD, r->cloexec ? FD_CLOEXEC : 0) < 0 ? -EBADF : 0;
  long rc = sys_dup3((int)tmp, r->fd, r->cloexec ? O_CLOEXEC : 0);
  sys_close((int)tmp);
  return rc < 0 ? rc : 0;
}

static int seekable(int kind) { return kind == FK_REG || kind == FK_DIR || kind == FK_BLK || kind == FK_MEMFD; }

static void restore_offset(const struct file_rec *r) {
  if (!seekable(r->kind) || (r->flags & O_PATH)) return;
  long rc = sys_lseek(r->fd, r->pos, SEEK_SET);
  if (rc < 0) file_log("fd %d (%s): cannot return to offset %ld (%s)", r->fd, r->path, (long)r->pos, file_errno_name(rc));
}

/* The path to reopen: /proc/<old pid>/... becomes /proc/self/..., then the
 * path map applies.  Returns the buffer, or NULL when the result is too long. */
static const char *restart_path(struct restore_ctx *c, const char *path) {
  const char *src = path;
  char num[24];
  struct sbuf nb;
  sb_init(&nb, num, sizeof num);
  sb_puts(&nb, "/proc/");
  sb_putu(&nb, (uint64_t)c->t->pid);
  if (strncmp(path, num, nb.len) == 0 && (path[nb.len] == '/' || path[nb.len] == 0)) {
    struct sbuf pb;
    sb_init(&pb, proc_buf, sizeof proc_buf);
    sb_puts(&pb, "/proc/self");
    sb_puts(&pb, path + nb.len);
    if (pb.overflow) return NULL;
    src = proc_buf;
  }
  int m = file_path_map_apply(c->s->path_map, src, mapped_buf, sizeof mapped_buf);
  if (m < 0) return NULL;
  if (m > 0) file_debug("%s is now %s (path map)", path, mapped_buf);
  return mapped_buf;
}

static struct restore_ctx *cur_ctx;

const char *file_restore_path(const struct file_rec *r) { return cur_ctx ? restart_path(cur_ctx, r->path) : NULL; }

/* A session leader whose controlling terminal was one of the application's
 * pseudo-terminals gets the new one as its controlling terminal. */
static void take_controlling_terminal(const struct file_table *t) {
  for (size_t i = 0; i < t->nrecs; i++) {
    const struct file_rec *r = &t->recs[i];
    if (!r->ctty || r->outcome != FO_RESTORED || r->role == SR_LOCAL) continue;
    long me = sys_getpid();
    if (sys_getsid(0) != me) {
      file_debug("fd %d: was the controlling terminal, but this process no longer leads its session", r->fd);
      return;
    }
    long rc = sys_ioctl(r->fd, 0x540E /* TIOCSCTTY */, 0);
    if (rc < 0) file_log("fd %d: cannot make it the controlling terminal again (%s)", r->fd, file_errno_name(rc));
    return;
  }
}

/* The record that carries the saved bytes of r's inode, or NULL. */
static const struct file_rec *contents_of(const struct file_table *t, const struct file_rec *r) {
  if (!t->data) return NULL;
  for (size_t i = 0; i < t->nrecs; i++) {
    const struct file_rec *q = &t->recs[i];
    if (q->saved && q->dev == r->dev && q->ino == r->ino) return q;
  }
  return NULL;
}

/* The first record (in descriptor order) of r's inode that is the leader of
 * its description: messages and write-backs happen once per file. */
static size_t inode_primary(const struct file_table *t, size_t i) {
  const struct file_rec *r = &t->recs[i];
  for (size_t j = 0; j < i; j++) {
    const struct file_rec *q = &t->recs[j];
    if (q->leader == (int)j && q->kind == r->kind && q->dev == r->dev && q->ino == r->ino) return j;
  }
  return i;
}

static long write_all(int fd, const unsigned char *p, uint64_t n) {
  uint64_t done = 0;
  while (done < n) {
    uint64_t chunk = n - done;
    if (chunk > (1u << 30)) chunk = 1u << 30;
    long w = sys_write(fd, p + done, (size_t)chunk);
    if (w == -EINTR) continue;
    if (w <= 0) return w < 0 ? w : -EIO;
    done += (uint64_t)w;
  }
  return 0;
}

static void set_mtime(int fd, const struct file_rec *r) {
  struct timespec ts[2] = {{0, UTIME_OMIT}, {(time_t)r->mtime_sec, (long)r->mtime_nsec}};
  sys_futimens(fd, ts);
}

/* What the application finds at a number that could not be restored:
 * nothing, except on 0-2, where the restart's own descriptor stays (output
 * still goes somewhere the person restarting can see). */
static const char *leave_note(const struct file_rec *r) {
  static char note[64];
  struct sbuf b;
  sb_init(&b, note, sizeof note);
  if (r->fd <= 2) sb_format(&b, "fd %d stays what the restart provides", r->fd);
  else sb_format(&b, "fd %d stays closed", r->fd);
  return note;
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

static void judge(struct restore_ctx *c) {
  struct file_table *t = c->t;
  for (size_t i = 0; i < t->nrecs; i++) {
    struct file_rec *r = &t->recs[i];
    r->outcome = FO_PENDING;
    r->write_back = 0;
    r->verdict = FV_SAME;
    if (r->kind != FK_REG || r->deleted || r->leader != (int)i || inode_primary(t, i) != i) continue;
    const char *p = restart_path(c, r->path);
    if (!p || kernel_made(p)) continue;
    struct stat st;
    if (sys_stat(p, &st) < 0) {
      r->verdict = FV_MISSING;
    } else if (S_ISREG(st.st_mode) &&
               (st.st_size != r->size || mtime_ns(st.st_mtim.tv_sec, st.st_mtim.tv_nsec) != mtime_ns(r->mtime_sec, r->mtime_nsec))) {
      r->verdict = FV_CHANGED;
      if (c->s->restore_contents && contents_of(t, r) && opened_for_writing(t, r)) r->write_back = 1;
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
static void elect_writers(struct restore_ctx *c) {
  struct file_table *t = c->t;
  struct sbuf b;
  sb_init(&b, barrier_rec, sizeof barrier_rec);
  size_t sent = 0;
  for (size_t i = 0; i < t->nrecs; i++) {
    struct file_rec *r = &t->recs[i];
    if (!r->write_back) continue;
    const char *p = restart_path(c, r->path);
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
  long rc = write_all((int)fd, t->data + holder->data_off, holder->data_len);
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
static int recreate_missing(struct restore_ctx *c, const struct file_rec *r, const char *path) {
  if (r->missing_action == MA_LEAVE) {
    file_log("fd %d: %s no longer exists; %s (DMTCP_FILE_MISSING=create recreates missing files)", r->fd, path,
             leave_note(r));
    return -1;
  }
  long fd = sys_open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY, (int)(r->mode & 07777));
  if (fd < 0) {
    file_log("fd %d: %s no longer exists and cannot be recreated (%s); %s", r->fd, path, file_errno_name(fd),
             leave_note(r));
    return -1;
  }
  const struct file_rec *h = contents_of(c->t, r);
  int with_bytes = h && write_all((int)fd, c->t->data + h->data_off, h->data_len) == 0;
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
static void put_back_contents(struct restore_ctx *c) {
  struct file_table *t = c->t;
  for (size_t i = 0; i < t->nrecs; i++) {
    struct file_rec *r = &t->recs[i];
    if (!r->write_back || r->verdict != FV_CHANGED) continue;
    const struct file_rec *h = contents_of(t, r);
    const char *path = restart_path(c, r->path);
    if (!h || !path) continue;
    if (write_back(path, r, h, t) == 0)
      file_log("fd %d: %s had changed since the checkpoint; its checkpointed contents are back "
               "(DMTCP_RESTORE_FILE_CONTENTS=1)",
               r->fd, path);
  }
}

/* ---- one description ---- */

static int restore_named(struct restore_ctx *c, size_t i) {
  struct file_table *t = c->t;
  struct file_rec *r = &t->recs[i];
  const char *path = restart_path(c, r->path);
  if (!path) {
    file_log("fd %d: %s is too long once mapped; %s", r->fd, r->path, leave_note(r));
    return -1;
  }
  const struct file_rec *primary = &t->recs[inode_primary(t, i)];
  if (r->kind == FK_REG) {
    if (primary->verdict == FV_MISSING) {
      /* Only the first description of the file decides; the others follow. */
      if (primary == r) {
        if (recreate_missing(c, r, path) < 0) return -1;
      } else if (primary->outcome != FO_RESTORED) {
        file_log("fd %d: %s no longer exists; %s", r->fd, path, leave_note(r));
        return -1;
      }
    } else if (primary == r && r->verdict == FV_CHANGED) {
      /* Written back already (put_back_contents), or about to be by another
       * process: only a change nobody undoes is worth a message. */
      const struct file_rec *h = contents_of(t, r);
      if (!r->write_back && !(c->s->restore_contents && h && opened_for_writing(t, r))) report_change(r, path);
    }
  }
  long fd = file_open_retrying(path, file_reopen_flags(r->flags));
  if (fd < 0) {
    file_log("fd %d: cannot reopen %s %s (%s); %s", r->fd, file_kind_name(r->kind), path, file_errno_name(fd),
             leave_note(r));
    return -1;
  }
  long rc = install(fd, r);
  if (rc < 0) {
    file_log("fd %d: cannot place %s at fd %d (%s)", r->fd, path, r->fd, file_errno_name(rc));
    return -1;
  }
  restore_offset(r);
  return 0;
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
static long recreate_deleted(struct restore_ctx *c, struct file_rec *r) {
  const char *path = restart_path(c, r->path);
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
    file_log("fd %d: cannot recreate the deleted file %s (%s); %s", r->fd, path, file_errno_name(wfd), leave_note(r));
    return wfd;
  }
  if (in_tmp)
    file_log("fd %d: the deleted file %s cannot come back in its directory (%s); recreated in /tmp and deleted again",
             r->fd, path, why == -ENOENT || why == -ENOTDIR ? "the directory is gone" : file_errno_name(why));
  const struct file_rec *h = contents_of(c->t, r);
  if (h) {
    long rc = write_all((int)wfd, c->t->data + h->data_off, h->data_len);
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

static long recreate_memfd(struct restore_ctx *c, struct file_rec *r) {
  char name[256];
  const char *src = r->path + 7; /* "/memfd:" */
  size_t n = strlen(src);
  if (n >= sizeof name) n = sizeof name - 1;
  memcpy(name, src, n);
  name[n] = 0;
  long fd = sys_memfd_create(name, MFD_CLOEXEC);
  if (fd < 0) {
    file_log("fd %d: cannot recreate memfd %s (%s); %s", r->fd, name, file_errno_name(fd), leave_note(r));
    return fd;
  }
  const struct file_rec *h = contents_of(c->t, r);
  if (h) write_all((int)fd, c->t->data + h->data_off, h->data_len);
  if (r->size > 0 && (!h || h->data_len < (uint64_t)r->size)) sys_ftruncate((int)fd, r->size);
  if ((r->flags & O_ACCMODE) != O_RDWR) {
    char link[64];
    struct sbuf b;
    sb_init(&b, link, sizeof link);
    sb_format(&b, "/proc/thread-self/fd/%ld", fd);
    long again = sys_open(link, file_reopen_flags(r->flags), 0);
    if (again >= 0) {
      sys_close((int)fd);
      fd = again;
    }
  }
  return fd;
}

/* A deleted file or memfd opened more than once (two opens before the
 * unlink): the later descriptions reopen the file the first one recreated. */
static long reopen_sibling(const struct file_rec *primary, const struct file_rec *r) {
  char link[64];
  struct sbuf b;
  sb_init(&b, link, sizeof link);
  sb_format(&b, "/proc/thread-self/fd/%d", primary->fd);
  return sys_open(link, file_reopen_flags(r->flags), 0);
}

static int restore_unnamed(struct restore_ctx *c, size_t i) {
  struct file_table *t = c->t;
  struct file_rec *r = &t->recs[i];
  const struct file_rec *primary = &t->recs[inode_primary(t, i)];
  long fd;
  if (primary != r && primary->outcome == FO_RESTORED) fd = reopen_sibling(primary, r);
  else if (r->kind == FK_MEMFD) fd = recreate_memfd(c, r);
  else fd = recreate_deleted(c, r);
  if (fd < 0) return -1;
  long rc = install(fd, r);
  if (rc < 0) {
    file_log("fd %d: cannot place the recreated %s at fd %d (%s)", r->fd, r->path, r->fd, file_errno_name(rc));
    return -1;
  }
  restore_offset(r);
  return 0;
}

static void apply_termios(struct restore_ctx *c, const struct file_rec *r, int fd) {
  if (c->termios_done || !r->has_termios) return;
  if (sys_ioctl(fd, SYS_TCSETS, (void *)r->termios) == 0) c->termios_done = 1;
}

static int restore_tty(struct restore_ctx *c, struct file_rec *r) {
  if (r->fd <= 2) {
    /* Restarted on a new terminal: the process uses it, in the mode it had
     * put its old one in. */
    unsigned char probe[FILE_TERMIOS_CAP];
    if (sys_ioctl(r->fd, SYS_TCGETS, probe) == 0) apply_termios(c, r, r->fd);
    else file_debug("fd %d was terminal %s; keeping what the restart provides", r->fd, r->path);
    return FO_KEPT;
  }
  long fd = -1;
  if (c->term_src >= 0) fd = sys_fcntl(c->term_src, F_DUPFD_CLOEXEC, c->scratch_base);
  else if (strcmp(r->path, "/dev/tty") == 0) fd = sys_open("/dev/tty", file_reopen_flags(r->flags), 0);
  if (fd < 0) {
    file_log("fd %d was terminal %s, and this restart has no terminal; %s", r->fd, r->path, leave_note(r));
    return FO_FAILED;
  }
  if (install(fd, r) < 0) return FO_FAILED;
  apply_termios(c, r, r->fd);
  return FO_RESTORED;
}

static int restore_alias(struct file_table *t, struct file_rec *r) {
  const struct file_rec *l = &t->recs[r->leader];
  if (l->outcome == FO_RESTORED || l->outcome == FO_KEPT) {
    long rc = sys_dup3(l->fd, r->fd, r->cloexec ? O_CLOEXEC : 0);
    if (rc < 0) {
      file_log("fd %d: cannot share fd %d's file again (%s)", r->fd, l->fd, file_errno_name(rc));
      return FO_FAILED;
    }
    return FO_RESTORED;
  }
  if (l->outcome == FO_FAILED)
    file_log("fd %d: shares fd %d's file (%s), which is not back; %s", r->fd, l->fd, l->path, leave_note(r));
  return l->outcome;
}

/* A pipe or socket to outside the computation that this process held above
 * 2 only, while another process of the computation had the same description
 * on 0-2 (`prog | tee` where a child moved its stdout away, as a shell does
 * around a redirection): it becomes what that number is in the restart, as
 * it does in the other process. */
static int restore_std(struct restore_ctx *c, struct file_rec *r) {
  int src = c->std_src[r->std_fd];
  if (src < 0) {
    file_log("fd %d (%s %s) was fd %d of another process of the computation, which this restart does not have; %s",
             r->fd, file_kind_name(r->kind), r->path, r->std_fd, leave_note(r));
    return FO_FAILED;
  }
  long fd = sys_fcntl(src, F_DUPFD_CLOEXEC, c->scratch_base);
  if (fd < 0 || install(fd, r) < 0) {
    file_log("fd %d: cannot place the restart's fd %d there (%s)", r->fd, r->std_fd, file_errno_name(fd < 0 ? fd : -EBADF));
    return FO_FAILED;
  }
  file_debug("fd %d was %s %s, fd %d of another process; now the restart's fd %d", r->fd, file_kind_name(r->kind),
             r->path, r->std_fd, r->std_fd);
  return FO_RESTORED;
}

/* A description of a pipe, FIFO or pseudo-terminal this process recreates
 * for every process that held the object. */
static int restore_object_end(struct restore_ctx *c, size_t i) {
  struct file_rec *r = &c->t->recs[i];
  long fd = file_share_take(i);
  if (fd < 0) {
    file_log("fd %d (%s %s): cannot recreate it (%s); %s", r->fd, file_kind_name(r->kind), r->path,
             file_errno_name(fd), leave_note(r));
    return FO_FAILED;
  }
  long rc = install(fd, r);
  if (rc < 0) {
    file_log("fd %d: cannot place the recreated %s at fd %d (%s)", r->fd, file_kind_name(r->kind), r->fd,
             file_errno_name(rc));
    return FO_FAILED;
  }
  return FO_RESTORED;
}

static int restore_received(struct file_table *t, size_t i) {
  struct file_rec *r = &t->recs[i];
  long fd = file_share_received(i);
  if (fd < 0) {
    /* The process that recreates it said why, once for all. */
    if (fd == -ETIMEDOUT)
      file_log("fd %d (%s %s): the process recreating it did not send it; %s", r->fd, file_kind_name(r->kind),
               r->path, leave_note(r));
    else file_debug("fd %d (%s %s): the process recreating it could not; %s", r->fd, file_kind_name(r->kind), r->path,
                    leave_note(r));
    return FO_FAILED;
  }
  long rc = install(fd, r);
  if (rc < 0) {
    file_log("fd %d: cannot place the %s received for fd %d (%s)", r->fd, file_kind_name(r->kind), r->fd,
             file_errno_name(rc));
    return FO_FAILED;
  }
  return FO_RESTORED;
}

static int restore_one(struct restore_ctx *c, size_t i) {
  struct file_table *t = c->t;
  struct file_rec *r = &t->recs[i];
  int leader = r->leader;
  if (r->role != SR_LOCAL) {
    if (leader != (int)i) return restore_alias(t, r);
    /* Arrives from another process once every process has restored its own. */
    if (r->role == SR_RECV) return FO_PENDING;
    if (r->role == SR_STD) return restore_std(c, r);
    if (file_share_is_object(r)) return restore_object_end(c, i);
  }
  if (r->fd <= 2 && r->kind == FK_TTY) return restore_tty(c, r);
  int keep_std = r->fd <= 2 && r->kind != FK_REG && r->kind != FK_DIR && r->kind != FK_CHR && r->kind != FK_BLK &&
                 r->kind != FK_MEMFD;
  if (keep_std) {
    file_debug("fd %d was %s %s; keeping what the restart provides", r->fd, file_kind_name(r->kind), r->path);
    return FO_KEPT;
  }
  if (leader != (int)i) return restore_alias(t, r);
  switch (r->kind) {
    case FK_REG:
      if (r->deleted) return restore_unnamed(c, i) == 0 ? FO_RESTORED : FO_FAILED;
      return restore_named(c, i) == 0 ? FO_RESTORED : FO_FAILED;
    case FK_MEMFD:
      return restore_unnamed(c, i) == 0 ? FO_RESTORED : FO_FAILED;
    case FK_DIR:
    case FK_CHR:
    case FK_BLK:
      return restore_named(c, i) == 0 ? FO_RESTORED : FO_FAILED;
    case FK_TTY:
      return restore_tty(c, r);
    case FK_SOCKET:
    case FK_ANON:
      file_debug("fd %d (%s): left to the plugin that handles it", r->fd, r->path);
      return FO_SKIPPED;
    case FK_PIPE:
      file_log("fd %d (%s): its other end was outside the computation; %s", r->fd, r->path, leave_note(r));
      return FO_SKIPPED;
    default:
      file_log("fd %d (%s %s): not restored by this version of the file plugin; %s", r->fd, file_kind_name(r->kind),
               r->path, leave_note(r));
      return FO_SKIPPED;
  }
}

void file_restore(struct file_table *t, const struct file_settings *s, const struct file_inherited *inherited,
                  size_t ninherited) {
  struct restore_ctx c = {t, s, -1, 0, 3, {-1, -1, -1}};
  if (!t->valid) {
    /* Still take part in the barriers: the other processes wait there. */
    size_t len = sizeof barrier_reply;
    dmtcp_global_barrier(FILE_BARRIER_RESTORE_CONTENTS, "", 0, barrier_reply, &len);
    file_share_plan(t, c.scratch_base);
    file_share_finish();
    return;
  }
  for (size_t i = 0; i < t->nrecs; i++)
    if (t->recs[i].fd + 1 > c.scratch_base) c.scratch_base = t->recs[i].fd + 1;
  if (dmtcp_fd_protected(c.scratch_base)) c.scratch_base = DMTCP_PROTECTED_FD_LAST + 1;

  /* Messages go to the stderr of whoever restarts, even once fd 2 has become
   * the application's log file again. */
  long log_fd = sys_fcntl(2, F_DUPFD_CLOEXEC, c.scratch_base);
  if (log_fd >= 0) file_log_to((int)log_fd);
  for (int fd = 0; fd <= 2; fd++) {
    long d = sys_fcntl(fd, F_DUPFD_CLOEXEC, c.scratch_base);
    c.std_src[fd] = d < 0 ? -1 : (int)d;
  }
  for (int fd = 0; fd <= 2 && c.term_src < 0; fd++) {
    unsigned char probe[FILE_TERMIOS_CAP];
    if (sys_ioctl(fd, SYS_TCGETS, probe) == 0) c.term_src = (int)sys_fcntl(fd, F_DUPFD_CLOEXEC, c.scratch_base);
  }

  cur_ctx = &c;
  judge(&c);
  elect_writers(&c);
  put_back_contents(&c);
  file_share_plan(t, c.scratch_base);
  file_missing_decide(t, s);
  for (size_t i = 0; i < t->nrecs; i++) t->recs[i].outcome = restore_one(&c, i);
  file_share_send();
  for (size_t i = 0; i < t->nrecs; i++) {
    struct file_rec *r = &t->recs[i];
    if (r->role == SR_RECV && r->leader == (int)i) r->outcome = restore_received(t, i);
  }
  for (size_t i = 0; i < t->nrecs; i++) {
    struct file_rec *r = &t->recs[i];
    if (r->outcome == FO_PENDING) r->outcome = restore_one(&c, i);
    if (r->outcome == FO_PENDING) r->outcome = FO_FAILED;
    file_debug("restart fd %d: %s %s -> %s%s", r->fd, file_kind_name(r->kind), r->path,
               r->outcome == FO_RESTORED ? "restored"
               : r->outcome == FO_KEPT   ? "kept"
               : r->outcome == FO_SKIPPED ? "skipped"
                                          : "failed",
               r->role == SR_LEAD ? " (recreated here for every process holding it)"
               : r->role == SR_RECV ? " (received from the process that recreated it)"
                                    : "");
  }
  file_share_finish();
  take_controlling_terminal(t);
  /* The restored descriptors name new inodes: what was opened with O_CREAT
   * still counts as such at the next checkpoint. */
  for (size_t i = 0; i < t->nrecs; i++) {
    const struct file_rec *r = &t->recs[i];
    file_created_note(r->fd, r->created && r->outcome == FO_RESTORED);
  }
  cur_ctx = NULL;
  /* What the restart command was started with is not the application's: 0-2
   * it had closed, a build tool's pipe passed down to `dmtcp restart`...
   * Each inherited descriptor that nothing has replaced since (neither this
   * plugin nor another) is closed, so that the process sees its own table
   * and a later open gets the number it would have got.  0-2 the
   * application had stay as the restart provides them. */
  for (size_t k = 0; k < ninherited; k++) {
    const struct file_inherited *in = &inherited[k];
    const struct file_rec *r = NULL;
    for (size_t i = 0; i < t->nrecs && !r; i++)
      if (t->recs[i].fd == in->fd) r = &t->recs[i];
    if (r && (in->fd <= 2 || r->outcome == FO_RESTORED)) continue;
    struct stat st;
    if (sys_fstat(in->fd, &st) < 0 || st.st_dev != in->dev || st.st_ino != in->ino) continue;
    if (in->fd > 2) file_debug("fd %d: inherited from the restart command, not the application's; closed", in->fd);
    sys_close(in->fd);
  }
  if (c.term_src >= 0) sys_close(c.term_src);
  for (int fd = 0; fd <= 2; fd++)
    if (c.std_src[fd] >= 0) sys_close(c.std_src[fd]);
  file_log_to(2);
  if (log_fd >= 0) sys_close((int)log_fd);
}
