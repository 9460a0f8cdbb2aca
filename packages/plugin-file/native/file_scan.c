/* Checkpoint side: describe every descriptor of the process into memory
 * that the image captures.  Runs in the checkpoint thread at WRITE_CKPT,
 * every other thread stopped: no malloc, no stdio, kernel calls only. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "file_plugin.h"
#include "dmtcp/sys.h"

struct file_table g_file_table;

struct dent64 {
  uint64_t ino;
  int64_t off;
  unsigned short reclen;
  unsigned char type;
  char name[];
};

/* getdents buffer; static because the checkpoint thread's stack is not ours
 * to size. */
static char dent_buf[16384];

static size_t page_round(size_t n) { return (n + 4095) & ~(size_t)4095; }

static int fd_of_name(const char *s) {
  uint64_t v;
  long n = fmt_parse_dec(s, (size_t)-1, &v);
  if (n <= 0 || s[n] || v > 0x7fffffff) return -1;
  return (int)v;
}


static void proc_fd_path(char *out, size_t cap, const char *dir, int fd) {
  struct sbuf b;
  sb_init(&b, out, cap);
  sb_puts(&b, dir);
  sb_putu(&b, (uint64_t)fd);
}

/* Calls fn for every descriptor number except the directory's own. */
static long each_fd(int dirfd, void (*fn)(int fd, void *ctx), void *ctx) {
  long n, count = 0;
  sys_lseek(dirfd, 0, 0);
  while ((n = sys_getdents64(dirfd, dent_buf, sizeof dent_buf)) > 0) {
    for (long off = 0; off < n;) {
      struct dent64 *d = (struct dent64 *)(dent_buf + off);
      off += d->reclen;
      int fd = fd_of_name(d->name);
      if (fd < 0 || fd == dirfd || dmtcp_fd_protected(fd)) continue;
      fn(fd, ctx);
      count++;
    }
  }
  return n < 0 ? n : count;
}

static void count_one(int fd, void *ctx) {
  (void)fd;
  (*(size_t *)ctx)++;
}

struct collect {
  int *fds;
  size_t cap, n;
};

static void collect_one(int fd, void *ctx) {
  struct collect *c = ctx;
  if (c->n < c->cap) c->fds[c->n++] = fd;
}

static void sort_ints(int *v, size_t n) {
  /* Shell sort: no recursion and no allocation, fast enough for any
   * descriptor count a process can have. */
  for (size_t gap = n / 2; gap > 0; gap /= 2) {
    for (size_t i = gap; i < n; i++) {
      int x = v[i];
      size_t j = i;
      for (; j >= gap && v[j - gap] > x; j -= gap) v[j] = v[j - gap];
      v[j] = x;
    }
  }
}

static int64_t parse_field(const char *buf, const char *key, int base, int *found) {
  const char *p = strstr(buf, key);
  *found = 0;
  if (!p || (p != buf && p[-1] != '\n')) return 0;
  p += strlen(key);
  while (*p == ' ' || *p == '\t') p++;
  int neg = *p == '-';
  uint64_t v = 0;
  *found = fmt_parse_u64(p + neg, (size_t)-1, (unsigned)base, &v) > 0;
  return neg ? -(int64_t)v : (int64_t)v;
}

static int classify(struct file_rec *r, const struct stat *st) {
  mode_t m = st->st_mode;
  /* Before the file type: some kernels give anonymous inodes (pidfds on
   * pidfs, say) the type of a regular file. */
  if (strncmp(r->path, "anon_inode:", 11) == 0 || strncmp(r->path, "pidfd:", 6) == 0) return FK_ANON;
  if (S_ISREG(m)) {
    if (strncmp(r->path, "/memfd:", 7) == 0) return FK_MEMFD;
    if (st->st_nlink == 0 && file_path_deleted(r->path)) r->deleted = 1;
    return FK_REG;
  }
  if (S_ISDIR(m)) return FK_DIR;
  if (S_ISCHR(m)) {
    if ((major(st->st_rdev) == 5 && minor(st->st_rdev) == 2) || strcmp(r->path, "/dev/ptmx") == 0 ||
        strcmp(r->path, "/dev/pts/ptmx") == 0)
      return FK_PTMX;
    if (sys_ioctl(r->fd, SYS_TCGETS, r->termios) == 0) {
      r->has_termios = 1;
      return FK_TTY;
    }
    return FK_CHR;
  }
  if (S_ISBLK(m)) return FK_BLK;
  if (S_ISFIFO(m)) return strncmp(r->path, "pipe:", 5) == 0 ? FK_PIPE : FK_FIFO;
  if (S_ISSOCK(m)) return FK_SOCKET;
  return FK_OTHER;
}

/* This machine (its boot) and pid namespace: kcmp compares descriptions by
 * pid, and inode numbers only name one object within one kernel. */
static uint64_t host_key(void) {
  char buf[128];
  uint64_t h = fnv1a64(FNV1A64_INIT, "host", 4);
  long fd = sys_open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC, 0);
  if (fd >= 0) {
    long n = sys_read((int)fd, buf, sizeof buf);
    sys_close((int)fd);
    if (n > 0) h = fnv1a64(h, buf, (size_t)n);
  }
  long n = sys_readlink("/proc/thread-self/ns/pid", buf, sizeof buf);
  if (n > 0) h = fnv1a64(h, buf, (size_t)n);
  return h;
}

/* Fills r from the kernel's view of fd; 0 when fd is gone. */
static int describe(int fd, struct file_rec *r, uint64_t host) {
  char link[64];
  proc_fd_path(link, sizeof link, "/proc/thread-self/fd/", fd);
  long n = sys_readlink(link, r->path, FILE_PATH_CAP - 1);
  if (n < 0) return 0;
  r->path[n] = 0;
  struct stat st;
  if (sys_fstat(fd, &st) < 0) return 0;
  r->fd = fd;
  long fl = sys_fcntl(fd, F_GETFL, 0);
  long fdfl = sys_fcntl(fd, F_GETFD, 0);
  r->flags = fl < 0 ? 0 : (int)fl;
  r->cloexec = fdfl > 0 && (fdfl & FD_CLOEXEC);
  r->dev = st.st_dev;
  r->ino = st.st_ino;
  r->rdev = st.st_rdev;
  r->mode = st.st_mode;
  r->nlink = (uint32_t)st.st_nlink;
  r->size = st.st_size;
  r->mtime_sec = st.st_mtim.tv_sec;
  r->mtime_nsec = st.st_mtim.tv_nsec;
  r->kind = classify(r, &st);
  r->created = file_created_get(fd, st.st_dev, st.st_ino);
  r->pty_index = -1;
  const struct file_kind_ops *ops = file_ops(r);
  if (ops->describe) ops->describe(r);
  if (r->pty_index >= 0) {
    uint32_t idx = (uint32_t)r->pty_index;
    r->obj = fnv1a64(fnv1a64(host, "pty", 3), &idx, sizeof idx);
  } else {
    r->obj = fnv1a64(fnv1a64(host, &r->dev, sizeof r->dev), &r->ino, sizeof r->ino);
  }

  /* The offset as the kernel holds it, without touching it (lseek would
   * fail on pipes and could have side effects on some devices). */
  char info[1024];
  proc_fd_path(link, sizeof link, "/proc/thread-self/fdinfo/", fd);
  long ifd = sys_open(link, O_RDONLY | O_CLOEXEC, 0);
  r->pos = 0;
  if (ifd >= 0) {
    long got = sys_read((int)ifd, info, sizeof info - 1);
    sys_close((int)ifd);
    if (got > 0) {
      info[got] = 0;
      int found;
      r->pos = parse_field(info, "pos:", 10, &found);
      int mnt = (int)parse_field(info, "mnt_id:", 10, &found);
      r->mnt_id = found ? mnt : -1;
    }
  }
  return 1;
}

/* Whether descriptors a and b (same inode) are one open file description. */
static int same_description(struct file_table *t, const struct file_rec *a, const struct file_rec *b) {
  if (t->kcmp_ok) {
    long r = sys_kcmp_file(t->pid, a->fd, b->fd);
    if (r >= 0) return r == 0;
    t->kcmp_ok = 0;
    file_debug("kcmp unavailable (%s): telling shared descriptors apart by their status flags",
               file_errno_name(r));
  }
  /* Status flags belong to the description: flip O_NONBLOCK on one and see
   * whether the other follows, then put it back.  Every thread of this
   * process is stopped, so nobody else sees the flip. */
  long fa = sys_fcntl(a->fd, F_GETFL, 0), fb0 = sys_fcntl(b->fd, F_GETFL, 0);
  if (fa < 0 || fb0 < 0) return 0;
  if (sys_fcntl(a->fd, F_SETFL, fa ^ O_NONBLOCK) < 0) return a->pos == b->pos && fa == fb0;
  long fb1 = sys_fcntl(b->fd, F_GETFL, 0);
  sys_fcntl(a->fd, F_SETFL, fa);
  return fb1 != fb0;
}

static int wants_contents(const struct file_rec *r, const struct file_settings *s) {
  const struct file_kind_ops *ops = file_ops(r);
  return ops->wants_contents && ops->wants_contents(r, s);
}

static void save_contents(struct file_rec *r, unsigned char *dst) {
  char link[64];
  proc_fd_path(link, sizeof link, "/proc/thread-self/fd/", r->fd);
  /* A fresh description reads the file whatever the access mode of the
   * application's, and leaves its offset alone. */
  long rfd = sys_open(link, O_RDONLY | O_CLOEXEC | O_NOCTTY, 0);
  int own = rfd >= 0;
  if (!own) {
    int acc = r->flags & O_ACCMODE;
    if (acc == O_WRONLY || (r->flags & O_PATH)) {
      file_log("fd %d (%s): cannot read its contents to save them (%s)", r->fd, r->path, file_errno_name(rfd));
      return;
    }
    rfd = r->fd;
  }
  uint64_t done = 0;
  while (done < (uint64_t)r->size) {
    uint64_t want = (uint64_t)r->size - done;
    if (want > (1u << 30)) want = 1u << 30;
    long got = sys_pread((int)rfd, dst + done, (size_t)want, (int64_t)done);
    if (got <= 0) break;
    done += (uint64_t)got;
  }
  if (own) sys_close((int)rfd);
  r->data_len = done;
  r->saved = 1;
}

size_t file_list_fds(int *out, size_t cap) {
  long dirfd = sys_open("/proc/thread-self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
  if (dirfd < 0) return 0;
  struct collect c = {out, cap, 0};
  each_fd((int)dirfd, collect_one, &c);
  sys_close((int)dirfd);
  return c.n;
}

void file_table_release(struct file_table *t) {
  if (t->drain) sys_munmap_ptr(t->drain, t->drain_bytes);
  t->drain = NULL;
  t->drain_bytes = 0;
  t->refill_pending = 0;
  if (t->data) sys_munmap_ptr(t->data, t->data_bytes);
  if (t->recs) sys_munmap_ptr(t->recs, t->recs_bytes);
  t->data = NULL;
  t->data_bytes = 0;
  t->recs = NULL;
  t->recs_bytes = 0;
  t->nrecs = 0;
  t->valid = 0;
}

int file_scan(struct file_table *t, const struct file_settings *s) {
  file_table_release(t);
  t->pid = sys_getpid();
  t->host = host_key();
  uint64_t self = file_self_upid();
  t->kcmp_ok = !s->no_kcmp;
  long dirfd = sys_open("/proc/thread-self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
  if (dirfd < 0) {
    file_log("cannot list /proc/self/fd (%s): open files will not be restored", file_errno_name(dirfd));
    return -1;
  }
  size_t count = 0;
  long rc = each_fd((int)dirfd, count_one, &count);
  if (rc < 0) {
    sys_close((int)dirfd);
    file_log("cannot list /proc/self/fd (%s): open files will not be restored", file_errno_name(rc));
    return -1;
  }
  /* One mapping: the sorted descriptor numbers, then the records. */
  size_t ints = (count * sizeof(int) + 63) & ~(size_t)63;
  size_t bytes = page_round(ints + (count ? count : 1) * sizeof(struct file_rec));
  long err = 0;
  void *mem = sys_mmap_anon(bytes, &err);
  if (!mem) {
    sys_close((int)dirfd);
    file_log("no memory for the descriptor table (%s): open files will not be restored", file_errno_name(err));
    return -1;
  }
  struct collect c = {mem, count, 0};
  each_fd((int)dirfd, collect_one, &c);
  sys_close((int)dirfd);
  sort_ints(c.fds, c.n);
  t->recs = (struct file_rec *)((char *)mem + ints);
  t->recs_bytes = bytes;

  size_t n = 0;
  for (size_t i = 0; i < c.n; i++) {
    struct file_rec *r = &t->recs[n];
    if (!describe(c.fds[i], r, t->host)) {
      memset(r, 0, sizeof *r);
      continue;
    }
    r->leader = (int)n;
    n++;
  }
  t->nrecs = n;

  /* Aliases (dup, dup2, fork-inherited within this process) point at the
   * lowest descriptor of their open file description. */
  for (size_t i = 0; i < n; i++) {
    struct file_rec *r = &t->recs[i];
    for (size_t j = 0; j < i; j++) {
      struct file_rec *q = &t->recs[j];
      if (q->leader != (int)j || q->dev != r->dev || q->ino != r->ino || q->kind != r->kind) continue;
      if (same_description(t, q, r)) {
        r->leader = (int)j;
        break;
      }
    }
  }

  /* O_CREAT belongs to the open that made the description: a dup of it
   * counts as created too. */
  for (size_t i = 0; i < n; i++) t->recs[t->recs[i].leader].created |= t->recs[i].created;
  for (size_t i = 0; i < n; i++) t->recs[i].created = t->recs[t->recs[i].leader].created;

  /* Until the DRAIN barrier finds another process holding the same
   * description, each is its own. */
  for (size_t i = 0; i < n; i++) {
    t->recs[i].owner = self;
    t->recs[i].owner_fd = t->recs[t->recs[i].leader].fd;
  }

  /* Bytes are saved once per inode, by the first description that needs
   * them; the others find them through the inode at restart. */
  size_t total = 0;
  for (size_t i = 0; i < n; i++) {
    struct file_rec *r = &t->recs[i];
    if (r->leader != (int)i || !wants_contents(r, s) || r->size <= 0) continue;
    int taken = 0;
    for (size_t j = 0; j < i && !taken; j++) taken = t->recs[j].saved && t->recs[j].dev == r->dev && t->recs[j].ino == r->ino;
    if (taken) continue;
    r->saved = 1; /* provisional until the bytes are in */
    r->data_off = total;
    total += ((size_t)r->size + 15) & ~(size_t)15;
  }
  if (total) {
    t->data_bytes = page_round(total);
    t->data = sys_mmap_anon(t->data_bytes, &err);
    if (!t->data) {
      t->data_bytes = 0;
      file_log("no memory to save %lu bytes of file contents (%s): deleted files will come back empty",
               (unsigned long)total, file_errno_name(err));
    }
  }
  for (size_t i = 0; i < n; i++) {
    struct file_rec *r = &t->recs[i];
    if (!r->saved) continue;
    r->saved = 0;
    if (t->data) save_contents(r, t->data + r->data_off);
  }
  for (size_t i = 0; i < n; i++) {
    struct file_rec *r = &t->recs[i];
    file_debug("checkpoint fd %d: %s %s flags 0x%x%s%s pos %ld%s%s", r->fd, file_kind_name(r->kind), r->path,
               (unsigned)r->flags, r->created ? " O_CREAT" : "", r->cloexec ? " cloexec" : "", (long)r->pos,
               r->deleted ? " deleted" : "",
               r->leader != (int)i ? " (shares the description of a lower fd)" : "");
  }
  t->valid = 1;
  return 0;
}
