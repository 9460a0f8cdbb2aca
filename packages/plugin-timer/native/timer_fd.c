/* timerfds.  Everything is read from the kernel at the checkpoint, no
 * wrapper needed: /proc/self/fdinfo gives the clock, the settime flags
 * (TFD_TIMER_ABSTIME, TFD_TIMER_CANCEL_ON_SET) and the expirations counted
 * so far, timerfd_gettime the time left and the interval, F_GETFL/F_GETFD
 * the flags.
 *
 * Expirations pending at the checkpoint: fdinfo's "ticks" undercounts a
 * periodic timer nobody has read (the kernel counts the periods that went
 * by only at read time), so the checkpoint reads the count (which also
 * re-arms the kernel timer where the periods continue) and puts it back at
 * once with TFD_IOC_SET_TICKS, the ioctl the kernel offers for restoring
 * them.  After a restart the same ioctl makes them readable again from the
 * new timerfd.  A kernel without the ioctl (no CONFIG_CHECKPOINT_RESTORE):
 * the count is not taken, and pending expirations are lost at a restart
 * (said in the log).
 *
 * Descriptors of one timerfd in a process (dup) are found with kcmp and
 * come back as one timerfd again. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/timerfd.h>
#include <time.h>

#include "dmtcp/fds.h"
#include "dmtcp/fmt.h"
#include "dmtcp/sys.h"
#include "timer_plugin.h"

#ifndef TFD_IOC_SET_TICKS
#define TFD_IOC_SET_TICKS _IOW('T', 0, uint64_t)
#endif

#define TFD_MAX 128

struct tfd_rec {
  int fd;
  int same_as; /* index of an earlier record of the same timerfd, or -1 */
  int clock;
  int settime_flags;
  int status_flags; /* F_GETFL */
  int cloexec;
  uint64_t ticks;
  struct itimerspec left;
  struct timespec deadline; /* TFD_TIMER_ABSTIME: the next expiry */
};

static struct tfd_rec recs[TFD_MAX]; /* in the image */
static int nrecs;

static int starts_with(const char *s, const char *p) {
  while (*p)
    if (*s++ != *p++) return 0;
  return 1;
}

/* The number after `key` in text, or -1. */
static int64_t field(const char *text, const char *key, int base) {
  for (const char *p = text; *p; p++) {
    if ((p == text || p[-1] == '\n') && starts_with(p, key)) {
      p += fmt_strlen(key);
      while (*p == ' ' || *p == '\t') p++;
      int64_t v = 0;
      int any = 0;
      for (; (*p >= '0' && *p <= '9') || (base == 16 && ((*p >= 'a' && *p <= 'f'))); p++, any = 1)
        v = v * base + (*p <= '9' ? *p - '0' : *p - 'a' + 10);
      return any ? v : -1;
    }
  }
  return -1;
}

static int read_fdinfo(int fd, char *buf, size_t cap) {
  char path[64];
  struct sbuf sb;
  sb_init(&sb, path, sizeof path - 1);
  sb_puts(&sb, "/proc/self/fdinfo/");
  sb_putu(&sb, (uint64_t)fd);
  path[sb.len] = 0;
  long f = sys_open(path, O_RDONLY | O_CLOEXEC, 0);
  if (f < 0) return -1;
  long n = sys_read((int)f, buf, cap - 1);
  sys_close((int)f);
  if (n < 0) return -1;
  buf[n] = 0;
  return 0;
}

static int is_timerfd(int fd) {
  char path[64], link[64];
  struct sbuf sb;
  sb_init(&sb, path, sizeof path - 1);
  sb_puts(&sb, "/proc/self/fd/");
  sb_putu(&sb, (uint64_t)fd);
  path[sb.len] = 0;
  long n = sys_readlink(path, link, sizeof link - 1);
  if (n < 0) return 0;
  link[n] = 0;
  return starts_with(link, "anon_inode:[timerfd]");
}

static void save_one(int fd) {
  if (nrecs == TFD_MAX) {
    timer_log("more than %d timerfds: fd %d is not restored", TFD_MAX, fd);
    return;
  }
  char info[512];
  if (read_fdinfo(fd, info, sizeof info) < 0) return;
  struct tfd_rec *r = &recs[nrecs];
  __builtin_memset(r, 0, sizeof *r);
  r->fd = fd;
  r->same_as = -1;
  for (int i = 0; i < nrecs; i++)
    if (sys_kcmp_file(sys_getpid(), recs[i].fd, fd) == 0) r->same_as = i;
  nrecs++;
  if (r->same_as >= 0) {
    r->cloexec = (sys_fcntl(fd, F_GETFD, 0) & FD_CLOEXEC) != 0;
    return;
  }
  r->clock = (int)field(info, "clockid:", 10);
  r->settime_flags = (int)field(info, "settime flags:", 8);
  if (r->settime_flags < 0) r->settime_flags = 0;
  int64_t ticks = field(info, "ticks:", 10);
  r->status_flags = (int)sys_fcntl(fd, F_GETFL, 0);
  r->cloexec = (sys_fcntl(fd, F_GETFD, 0) & FD_CLOEXEC) != 0;
  if (ticks > 0) {
    uint64_t probe = (uint64_t)ticks, n = 0;
    /* Setting the count it already has tells whether the ioctl is there. */
    if (sys_ioctl(fd, TFD_IOC_SET_TICKS, &probe) == 0) {
      if (sys_read(fd, &n, sizeof n) == (long)sizeof n && n > 0) sys_ioctl(fd, TFD_IOC_SET_TICKS, &n);
      r->ticks = n;
    } else {
      r->ticks = (uint64_t)ticks;
    }
  }
  sys_call2(__NR_timerfd_gettime, fd, SYS_ARG(&r->left));
  if ((r->settime_flags & TFD_TIMER_ABSTIME) && timer_ts_nonzero(&r->left.it_value))
    timer_deadline(r->clock, &r->left.it_value, &r->deadline);
}

static void fd_save(void) {
  nrecs = 0;
  long dir = sys_open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
  if (dir < 0) {
    timer_log("cannot list /proc/self/fd (%ld): timerfds are not restored", -dir);
    return;
  }
  char buf[4096];
  for (;;) {
    long n = sys_getdents64((int)dir, buf, sizeof buf);
    if (n <= 0) break;
    for (long off = 0; off < n;) {
      /* struct linux_dirent64: ino, off, reclen, type, name */
      unsigned short reclen = *(unsigned short *)(buf + off + 16);
      const char *name = buf + off + 19;
      off += reclen;
      if (name[0] < '0' || name[0] > '9') continue;
      int fd = 0;
      for (const char *p = name; *p; p++) fd = fd * 10 + (*p - '0');
      if (fd == (int)dir || dmtcp_fd_protected(fd) || !is_timerfd(fd)) continue;
      save_one(fd);
    }
  }
  sys_close((int)dir);
}

static void restore_one(struct tfd_rec *r) {
  long fd;
  if (r->same_as >= 0) {
    fd = recs[r->same_as].fd;
    long d = sys_dup3((int)fd, r->fd, r->cloexec ? O_CLOEXEC : 0);
    if (d < 0) timer_log("fd %d: cannot be placed again (%ld)", r->fd, -d);
    return;
  }
  int flags = (r->status_flags & O_NONBLOCK ? TFD_NONBLOCK : 0) | TFD_CLOEXEC;
  fd = sys_call2(__NR_timerfd_create, r->clock, flags);
  if (fd < 0) {
    timer_log("fd %d: timerfd_create(clock %d) failed (%ld): it is not restored", r->fd, r->clock, -fd);
    return;
  }
  if (fd != r->fd) {
    long d = sys_dup3((int)fd, r->fd, r->cloexec ? O_CLOEXEC : 0);
    sys_close((int)fd);
    if (d < 0) {
      timer_log("fd %d: cannot be placed again (%ld)", r->fd, -d);
      return;
    }
  } else if (!r->cloexec) {
    sys_fcntl(r->fd, F_SETFD, 0);
  }
  if (timer_ts_nonzero(&r->left.it_value)) {
    struct itimerspec arm = r->left;
    int sflags = r->settime_flags;
    if ((sflags & TFD_TIMER_ABSTIME) && timer_clock_keeps_deadline(r->clock)) {
      timer_clock_to_kernel(r->clock, &r->deadline, &arm.it_value);
    } else {
      /* Relative: what was left.  CANCEL_ON_SET goes only with ABSTIME. */
      sflags &= ~(TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET);
    }
    long s = sys_call4(__NR_timerfd_settime, r->fd, sflags, SYS_ARG(&arm), 0);
    if (s < 0) timer_log("fd %d: cannot be armed again (%ld)", r->fd, -s);
  }
  if (r->ticks > 0) {
    uint64_t n = r->ticks;
    long s = sys_ioctl(r->fd, TFD_IOC_SET_TICKS, &n);
    if (s < 0) timer_log("fd %d: its %lu pending expirations are lost (TFD_IOC_SET_TICKS: %ld)", r->fd, (unsigned long)n, -s);
  }
}

static void fd_restart(void) {
  for (int i = 0; i < nrecs; i++)
    if (recs[i].same_as < 0) restore_one(&recs[i]);
  for (int i = 0; i < nrecs; i++)
    if (recs[i].same_as >= 0) restore_one(&recs[i]);
}

const struct timer_kind_ops timer_fd_ops = {
    .name = "timerfd",
    .save = fd_save,
    .restart = fd_restart,
};
