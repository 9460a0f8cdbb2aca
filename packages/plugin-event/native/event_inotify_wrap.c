/* inotify through a next-function table.  fdinfo lists each watch by
 * inode and file handle but not by path, and a restart needs the path to
 * watch again: inotify_add_watch notes it here keyed by (fd, wd), and
 * inotify_rm_watch drops it.  inotify_init/inotify_init1 forget what an
 * earlier descriptor at that number had.
 *
 * read() hands out the events owed to an inotify descriptor (the ones
 * drained from the kernel at checkpoint, and IN_IGNORED for a watch that
 * could not be made again) before the kernel's, whole events only, then
 * passes through.  When nothing is owed it costs one relaxed load.
 *
 * These tables live in this library's data, which the image captures. */
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "dmtcp/next.h"
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
#define OWED_BYTES 16384
struct owed {
  int fd;
  size_t len;
  char buf[OWED_BYTES];
};
static struct owed owed[OWED_FDS];
static int owed_any; /* some slot holds bytes */
static int owed_lock;

static void owed_forget(int fd) {
  while (__atomic_exchange_n(&owed_lock, 1, __ATOMIC_ACQUIRE)) sys_call0(__NR_sched_yield);
  for (int i = 0; i < OWED_FDS; i++)
    if (owed[i].len && owed[i].fd == fd) owed[i].len = 0;
  __atomic_store_n(&owed_lock, 0, __ATOMIC_RELEASE);
}

int event_inotify_owe(int fd, const void *events, size_t n) {
  int rc = -1;
  while (__atomic_exchange_n(&owed_lock, 1, __ATOMIC_ACQUIRE)) sys_call0(__NR_sched_yield);
  struct owed *slot = NULL;
  for (int i = 0; i < OWED_FDS && !slot; i++)
    if (owed[i].len && owed[i].fd == fd) slot = &owed[i];
  for (int i = 0; i < OWED_FDS && !slot; i++)
    if (!owed[i].len) slot = &owed[i];
  if (slot && slot->len + n <= OWED_BYTES) {
    slot->fd = fd;
    memcpy(slot->buf + slot->len, events, n);
    slot->len += n;
    if (n) __atomic_store_n(&owed_any, 1, __ATOMIC_RELAXED);
    rc = 0;
  }
  __atomic_store_n(&owed_lock, 0, __ATOMIC_RELEASE);
  return rc;
}

/* Whole events from the front of fd's owed bytes into buf; -1 when fd owes nothing. */
static long owed_take(int fd, char *buf, size_t count) {
  long got = -1;
  int left = 0;
  while (__atomic_exchange_n(&owed_lock, 1, __ATOMIC_ACQUIRE)) sys_call0(__NR_sched_yield);
  for (int i = 0; i < OWED_FDS; i++) {
    struct owed *o = &owed[i];
    if (!o->len) continue;
    if (o->fd != fd) {
      left = 1;
      continue;
    }
    size_t n = 0;
    while (n < o->len) {
      const struct inotify_event *ev = (const struct inotify_event *)(o->buf + n);
      size_t one = sizeof *ev + ev->len;
      if (n + one > count) break;
      n += one;
    }
    if (n == 0) {
      got = -EINVAL; /* the kernel's answer to a buffer too small for the next event */
      left = 1;
      continue;
    }
    memcpy(buf, o->buf, n);
    memmove(o->buf, o->buf + n, o->len - n);
    o->len -= n;
    got = (long)n;
    if (o->len) left = 1;
  }
  if (!left) __atomic_store_n(&owed_any, 0, __ATOMIC_RELAXED);
  __atomic_store_n(&owed_lock, 0, __ATOMIC_RELEASE);
  return got;
}

DMTCP_EXPORT ssize_t read(int fd, void *buf, size_t count) {
  if (__builtin_expect(__atomic_load_n(&owed_any, __ATOMIC_RELAXED), 0)) {
    long got = owed_take(fd, buf, count);
    if (got == -EINVAL) {
      errno = EINVAL;
      return -1;
    }
    if (got >= 0) return got;
  }
  return DMTCP_NEXT(read)(fd, buf, count);
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
