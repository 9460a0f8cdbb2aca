/* inotify through a next-function table.  fdinfo lists each watch by
 * inode and file handle but not by path, and a restart needs the path to
 * watch again: inotify_add_watch notes it here keyed by (fd, wd), and
 * inotify_rm_watch drops it.  inotify_init/inotify_init1 forget what an
 * earlier descriptor at that number had.
 *
 * read() hands out the events owed to an inotify descriptor (the ones
 * drained from the kernel at checkpoint, and IN_IGNORED for a watch that
 * could not be made again) before the kernel's, whole events only, then
 * passes through.  While events are owed, the kernel object is kept
 * readable by a wake event (an IN_IGNORED of a watch made and removed for
 * that), which read() drops.  When nothing is owed and no wake event is
 * queued, it costs one relaxed load.
 *
 * These tables live in this library's data, which the image captures. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "dmtcp/next.h"
#include "dmtcp/plugin.h"
#include "dmtcp/sys.h"
#include "event_plugin.h"

#define INOTIFY_WRAPPED(X) X(inotify_init) X(inotify_init1) X(inotify_add_watch) X(inotify_rm_watch) X(read)
DMTCP_NEXT_TABLE(INOTIFY_WRAPPED)

#define NOTED_WATCHES 1024
#define LAST_WD_FDS 1024

struct noted_watch {
  int fd; /* -1: free */
  int wd;
  char path[EVENT_WATCH_PATH];
};

static struct noted_watch noted[NOTED_WATCHES];
static int noted_used; /* entries [0, noted_used) have been used at least once */
static int last_wd[LAST_WD_FDS];
static int noted_lock;

static void lock(void) {
  while (__atomic_exchange_n(&noted_lock, 1, __ATOMIC_ACQUIRE)) sys_call0(__NR_sched_yield);
}
static void unlock(void) { __atomic_store_n(&noted_lock, 0, __ATOMIC_RELEASE); }

/* ---- events owed ---- */
#define OWED_FDS 16
#define OWED_BYTES 32768 /* the drained 16 KiB, and room behind them for what a blocked read() got meanwhile */
struct owed {
  int fd;
  size_t len;
  char buf[OWED_BYTES];
};
static struct owed owed[OWED_FDS];

/* Wake watches: made on an inode nobody watches and removed at once, so that
 * the kernel queues a real IN_IGNORED and the descriptor is readable to
 * poll, epoll, select and a blocked read() while events are owed.  That
 * IN_IGNORED is the program's business of no one: read() drops it. */
#define WAKES 64
struct wake {
  int fd; /* -1: free */
  int wd;
};
static struct wake wakes[WAKES];
static int wakes_used;

static int attention; /* some fd is owed bytes or has a wake event queued */
static int owed_lock;

static void olock(void) {
  while (__atomic_exchange_n(&owed_lock, 1, __ATOMIC_ACQUIRE)) sys_call0(__NR_sched_yield);
}
static void ounlock(void) { __atomic_store_n(&owed_lock, 0, __ATOMIC_RELEASE); }

/* Under owed_lock. */
static void recount(void) {
  int any = 0;
  for (int i = 0; i < OWED_FDS && !any; i++) any = owed[i].len != 0;
  for (int i = 0; i < wakes_used && !any; i++) any = wakes[i].fd >= 0;
  if (!any) wakes_used = 0;
  __atomic_store_n(&attention, any, __ATOMIC_RELAXED);
}

static struct owed *owed_of(int fd) {
  for (int i = 0; i < OWED_FDS; i++)
    if (owed[i].len && owed[i].fd == fd) return &owed[i];
  return NULL;
}

static int has_wake(int fd) {
  for (int i = 0; i < wakes_used; i++)
    if (wakes[i].fd == fd) return 1;
  return 0;
}

static void forget_wakes_locked(int fd) {
  for (int i = 0; i < wakes_used; i++)
    if (wakes[i].fd == fd) wakes[i].fd = -1;
}

static void owed_forget(int fd) {
  olock();
  for (int i = 0; i < OWED_FDS; i++)
    if (owed[i].len && owed[i].fd == fd) owed[i].len = 0;
  forget_wakes_locked(fd);
  recount();
  ounlock();
}

void event_inotify_forget_wakes(int fd) {
  olock();
  forget_wakes_locked(fd);
  recount();
  ounlock();
}

int event_inotify_owe(int fd, const void *events, size_t n) {
  int rc = -1;
  olock();
  struct owed *slot = owed_of(fd);
  for (int i = 0; i < OWED_FDS && !slot; i++)
    if (!owed[i].len) slot = &owed[i];
  if (slot && slot->len + n <= OWED_BYTES) {
    slot->fd = fd;
    memcpy(slot->buf + slot->len, events, n);
    slot->len += n;
    rc = 0;
  }
  recount();
  ounlock();
  return rc;
}

int event_inotify_owes(int fd) {
  olock();
  int r = owed_of(fd) != NULL;
  ounlock();
  return r;
}

long event_inotify_spare_watch(int fd) {
  static const char *const spare[] = {"/", "/proc", "/dev", "/sys", "/tmp"};
  long wd = -EEXIST;
  for (size_t i = 0; i < sizeof spare / sizeof spare[0]; i++) {
    wd = sys_call3(__NR_inotify_add_watch, fd, SYS_ARG(spare[i]), (long)(IN_DELETE_SELF | IN_MASK_CREATE));
    if (wd == -EEXIST || wd == -ENOENT || wd == -EACCES) continue;
    return wd;
  }
  return wd;
}

long event_inotify_wake(int fd) {
  long wd = event_inotify_spare_watch(fd);
  if (wd < 0) return wd;
  olock();
  struct wake *w = NULL;
  for (int i = 0; i < wakes_used && !w; i++)
    if (wakes[i].fd < 0) w = &wakes[i];
  if (!w && wakes_used < WAKES) w = &wakes[wakes_used++];
  if (w) {
    w->fd = fd;
    w->wd = (int)wd;
  }
  recount();
  ounlock();
  /* Removed only once it is noted: a reader must recognise its IN_IGNORED. */
  sys_call2(__NR_inotify_rm_watch, fd, wd);
  return w ? 0 : -ENOSPC;
}

size_t event_inotify_drop_wakes(int fd, char *buf, size_t n) {
  olock();
  size_t kept = 0;
  for (size_t off = 0; off + sizeof(struct inotify_event) <= n;) {
    const struct inotify_event *ev = (const struct inotify_event *)(buf + off);
    size_t one = sizeof *ev + ev->len;
    if (off + one > n) one = n - off;
    int drop = 0;
    if (ev->mask & IN_IGNORED) {
      for (int i = 0; i < wakes_used && !drop; i++)
        if (wakes[i].fd == fd && wakes[i].wd == ev->wd) {
          wakes[i].fd = -1;
          drop = 1;
        }
    }
    if (!drop) {
      if (kept != off) memmove(buf + kept, buf + off, one);
      kept += one;
    }
    off += one;
  }
  recount();
  ounlock();
  return kept;
}

/* Whole events from the front of o into buf; -EINVAL when the first does not fit.  Under owed_lock. */
static long take_locked(struct owed *o, char *buf, size_t count) {
  size_t n = 0;
  while (n < o->len) {
    const struct inotify_event *ev = (const struct inotify_event *)(o->buf + n);
    size_t one = sizeof *ev + ev->len;
    if (n + one > count) break;
    n += one;
  }
  if (n == 0) return -EINVAL; /* the kernel's answer to a buffer too small for the next event */
  memcpy(buf, o->buf, n);
  memmove(o->buf, o->buf + n, o->len - n);
  o->len -= n;
  return (long)n;
}

/* What read() on fd gets from the owed bytes: >= 0 bytes, -EINVAL, or -1
 * when nothing is owed (*wake: the kernel may hold a wake event for fd). */
static long owed_take(int fd, char *buf, size_t count, int *wake) {
  long got = -1;
  olock();
  struct owed *o = owed_of(fd);
  if (o) got = take_locked(o, buf, count);
  *wake = has_wake(fd);
  recount();
  ounlock();
  return got;
}

/* The kernel gave kept bytes while owed bytes were waiting (the reader was
 * blocked in the kernel across a checkpoint): the owed go first. */
static long put_owed_first(int fd, char *buf, size_t count, size_t kept) {
  long got = (long)kept;
  int rewake = 0;
  olock();
  struct owed *o = owed_of(fd);
  if (o && o->len + kept <= count) {
    memmove(buf + o->len, buf, kept);
    memcpy(buf, o->buf, o->len);
    got = (long)(o->len + kept);
    o->len = 0;
  } else if (o && o->len + kept <= OWED_BYTES) {
    memcpy(o->buf + o->len, buf, kept);
    o->len += kept;
    got = take_locked(o, buf, count);
    rewake = o->len != 0; /* the kernel's wake event is gone, and bytes are still owed */
  } else if (o) {
    got = take_locked(o, buf, count);
    rewake = 1;
    event_log("fd %d (inotify): %zu bytes of events are lost (the buffer of events owed is full)", fd, kept);
  }
  recount();
  ounlock();
  if (rewake) event_inotify_wake(fd);
  return got;
}

static int still_inotify(int fd) {
  char link[64];
  long n = event_read_link(0, fd, link, sizeof link);
  static const char want[] = "anon_inode:inotify";
  return n == (long)sizeof want - 1 && memcmp(link, want, sizeof want - 1) == 0;
}

/* The program's side of owed_lock: a checkpoint must not stop a thread
 * holding it, the drain takes it. */
static void hold_ckpt(void) {
  if (dmtcp_disable_ckpt) dmtcp_disable_ckpt();
}
static void release_ckpt(void) {
  if (dmtcp_enable_ckpt) dmtcp_enable_ckpt();
}

static ssize_t fail(long err) {
  errno = (int)-err;
  return -1;
}

DMTCP_EXPORT ssize_t read(int fd, void *buf, size_t count) {
  if (__builtin_expect(!__atomic_load_n(&attention, __ATOMIC_RELAXED), 1)) return DMTCP_NEXT(read)(fd, buf, count);
  int wake = 0;
  hold_ckpt();
  long got = owed_take(fd, buf, count, &wake);
  if ((got != -1 || wake) && !still_inotify(fd)) {
    /* Closed and the number reused since: what was noted is not this file's. */
    owed_forget(fd);
    got = -1;
    wake = 0;
  }
  release_ckpt();
  if (got == -EINVAL) return fail(got);
  if (got >= 0) return got;
  if (!wake) return DMTCP_NEXT(read)(fd, buf, count);
  for (;;) {
    ssize_t n = DMTCP_NEXT(read)(fd, buf, count);
    if (n <= 0) return n;
    hold_ckpt();
    size_t kept = event_inotify_drop_wakes(fd, buf, (size_t)n);
    long out = event_inotify_owes(fd) ? put_owed_first(fd, buf, count, kept) : (long)kept;
    release_ckpt();
    if (out < 0) return fail(out);
    if (out) return out;
    /* Only a wake event: a spurious wakeup, never zero bytes. */
    long fl = sys_fcntl(fd, F_GETFL, 0);
    if (fl < 0) return fail(fl);
    if (fl & O_NONBLOCK) return fail(-EAGAIN);
  }
}

/* ---- paths ---- */
static void forget_fd(int fd) {
  lock();
  for (int i = 0; i < noted_used; i++)
    if (noted[i].fd == fd) noted[i].fd = -1;
  if (fd >= 0 && fd < LAST_WD_FDS) last_wd[fd] = 0;
  unlock();
  owed_forget(fd);
}

const char *event_inotify_path(int fd, int wd) {
  for (int i = 0; i < noted_used; i++)
    if (noted[i].fd == fd && noted[i].wd == wd) return noted[i].path;
  return NULL;
}

int event_inotify_last_wd(int fd) { return fd >= 0 && fd < LAST_WD_FDS ? last_wd[fd] : 0; }

DMTCP_EXPORT int inotify_init(void) {
  int fd = DMTCP_NEXT(inotify_init)();
  if (fd >= 0) forget_fd(fd);
  return fd;
}

DMTCP_EXPORT int inotify_init1(int flags) {
  int fd = DMTCP_NEXT(inotify_init1)(flags);
  if (fd >= 0) forget_fd(fd);
  return fd;
}

static void note(int fd, int wd, const char *path) {
  char abs[EVENT_WATCH_PATH];
  size_t n = 0;
  if (path[0] != '/') {
    if (!getcwd(abs, sizeof abs)) return;
    n = strlen(abs);
    if (n + 1 < sizeof abs && (n == 0 || abs[n - 1] != '/')) abs[n++] = '/';
  }
  size_t plen = strlen(path);
  if (n + plen + 1 > sizeof abs) return; /* too long: the restart says the path is unknown */
  memcpy(abs + n, path, plen + 1);
  lock();
  struct noted_watch *slot = NULL;
  for (int i = 0; i < noted_used && !slot; i++)
    if (noted[i].fd == fd && noted[i].wd == wd) slot = &noted[i];
  for (int i = 0; i < noted_used && !slot; i++)
    if (noted[i].fd < 0) slot = &noted[i];
  if (!slot && noted_used < NOTED_WATCHES) slot = &noted[noted_used++];
  if (slot) {
    slot->fd = fd;
    slot->wd = wd;
    memcpy(slot->path, abs, n + plen + 1);
  }
  if (fd >= 0 && fd < LAST_WD_FDS && wd > last_wd[fd]) last_wd[fd] = wd;
  unlock();
}

DMTCP_EXPORT int inotify_add_watch(int fd, const char *path, uint32_t mask) {
  int wd = DMTCP_NEXT(inotify_add_watch)(fd, path, mask);
  if (wd >= 0 && path) note(fd, wd, path);
  return wd;
}

DMTCP_EXPORT int inotify_rm_watch(int fd, int wd) {
  int rc = DMTCP_NEXT(inotify_rm_watch)(fd, wd);
  if (rc == 0) {
    lock();
    for (int i = 0; i < noted_used; i++)
      if (noted[i].fd == fd && noted[i].wd == wd) noted[i].fd = -1;
    unlock();
  }
  return rc;
}
