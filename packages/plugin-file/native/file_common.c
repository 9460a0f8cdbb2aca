/* Helpers the kinds and the phases share: nothing here knows one kind from
 * another or runs a phase.  Kernel calls only, no malloc, no stdio. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <string.h>

#include "dmtcp/plugin.h"
#include "file_plugin.h"
#include "dmtcp/sys.h"

static const char DELETED_SUFFIX[] = " (deleted)";
#define DELETED_LEN (sizeof DELETED_SUFFIX - 1)

int file_path_deleted(const char *path) {
  size_t n = strlen(path);
  return n >= DELETED_LEN && memcmp(path + n - DELETED_LEN, DELETED_SUFFIX, DELETED_LEN) == 0;
}

void file_strip_deleted(char *path) {
  if (file_path_deleted(path)) path[strlen(path) - DELETED_LEN] = 0;
}

char file_share_as_file(const struct file_rec *r) {
  (void)r;
  return 'F';
}

char file_share_mode(const struct file_rec *r) {
  if (r->flags & O_PATH) return '-';
  switch (r->flags & O_ACCMODE) {
    case O_RDONLY: return 'r';
    case O_WRONLY: return 'w';
    default: return 'b';
  }
}

int file_mode_reads(char m) { return m == 'r' || m == 'b'; }
int file_mode_writes(char m) { return m == 'w' || m == 'b'; }
int file_acc_of(char mode) { return mode == 'r' ? O_RDONLY : mode == 'w' ? O_WRONLY : O_RDWR; }

uint64_t file_self_upid(void) {
  const char *s = dmtcp_get_uniquepid_str();
  uint64_t v = 0;
  if (s) fmt_parse_hex(s, (size_t)-1, &v);
  return v;
}

long file_park(long fd, int base) {
  if (fd < 0) return fd;
  if (fd >= base && !dmtcp_fd_protected(fd)) {
    sys_fcntl((int)fd, F_SETFD, FD_CLOEXEC);
    return fd;
  }
  int from = base;
  if (dmtcp_fd_protected(from)) from = DMTCP_PROTECTED_FD_LAST + 1;
  long moved = sys_fcntl((int)fd, F_DUPFD_CLOEXEC, from);
  sys_close((int)fd);
  return moved;
}

long file_reopen_fd(int fd, int flags) {
  char link[64];
  struct sbuf b;
  sb_init(&b, link, sizeof link);
  sb_format(&b, "/proc/thread-self/fd/%d", fd);
  return sys_open(link, flags, 0);
}

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

long file_write_all(int fd, const unsigned char *p, uint64_t n) {
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

/* Scratch paths: the checkpoint thread's stack belongs to the runtime. */
static char mapped_buf[FILE_PATH_CAP];
static char proc_buf[FILE_PATH_CAP];

const char *file_restart_path(struct file_restart *c, const char *path) {
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

long file_install(long tmp, const struct file_rec *r) {
  if (tmp == r->fd) return sys_fcntl(r->fd, F_SETFD, r->cloexec ? FD_CLOEXEC : 0) < 0 ? -EBADF : 0;
  long rc = sys_dup3((int)tmp, r->fd, r->cloexec ? O_CLOEXEC : 0);
  sys_close((int)tmp);
  return rc < 0 ? rc : 0;
}

int file_reopen_at(struct file_rec *r, const char *path, const char *what) {
  long fd = file_open_retrying(path, file_reopen_flags(r->flags));
  if (fd < 0) {
    file_log("fd %d: cannot reopen %s %s (%s); %s", r->fd, what, path, file_errno_name(fd), file_leave_note(r));
    return FO_FAILED;
  }
  long rc = file_install(fd, r);
  if (rc < 0) {
    file_log("fd %d: cannot place %s at fd %d (%s)", r->fd, path, r->fd, file_errno_name(rc));
    return FO_FAILED;
  }
  return FO_RESTORED;
}

/* Nothing, except on 0-2, where the restart's own descriptor stays (output
 * still goes somewhere the person restarting can see). */
const char *file_leave_note(const struct file_rec *r) {
  static char note[64];
  struct sbuf b;
  sb_init(&b, note, sizeof note);
  if (r->fd <= 2) sb_format(&b, "fd %d stays what the restart provides", r->fd);
  else sb_format(&b, "fd %d stays closed", r->fd);
  return note;
}

const struct file_rec *file_contents_of(const struct file_table *t, const struct file_rec *r) {
  if (!t->data) return NULL;
  for (size_t i = 0; i < t->nrecs; i++) {
    const struct file_rec *q = &t->recs[i];
    if (q->saved && q->dev == r->dev && q->ino == r->ino) return q;
  }
  return NULL;
}

size_t file_inode_primary(const struct file_table *t, size_t i) {
  const struct file_rec *r = &t->recs[i];
  for (size_t j = 0; j < i; j++) {
    const struct file_rec *q = &t->recs[j];
    if (q->leader == (int)j && q->kind == r->kind && q->dev == r->dev && q->ino == r->ino) return j;
  }
  return i;
}

/* A deleted file or memfd opened more than once (two opens before the
 * unlink): the later descriptions reopen the file the first one recreated. */
int file_restore_unnamed(struct file_restart *c, size_t i, long (*recreate)(struct file_restart *c, struct file_rec *r)) {
  struct file_table *t = c->t;
  struct file_rec *r = &t->recs[i];
  const struct file_rec *primary = &t->recs[file_inode_primary(t, i)];
  long fd;
  if (primary != r && primary->outcome == FO_RESTORED) fd = file_reopen_fd(primary->fd, file_reopen_flags(r->flags));
  else fd = recreate(c, r);
  if (fd < 0) return FO_FAILED;
  long rc = file_install(fd, r);
  if (rc < 0) {
    file_log("fd %d: cannot place the recreated %s at fd %d (%s)", r->fd, r->path, r->fd, file_errno_name(rc));
    return FO_FAILED;
  }
  return FO_RESTORED;
}
