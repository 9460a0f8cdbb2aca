/* Pids inside paths and file descriptor state.
 *
 * The kernel knows a process by its real pid only, so "/proc/<vpid>/..."
 * names nothing (or a stranger) after a restart: the calls that take a path
 * rewrite "/proc/<vid>" and "/proc/<pid>/task/<vtid>" to the real ids first.
 * Only ids the table knows change; every other path passes as it is.  What
 * the files contain ("Pid:" in status, the names a readdir of /proc lists)
 * stays the kernel's.
 *
 * fcntl: the owner of a descriptor's signals (F_SETOWN, F_SETOWN_EX) is a
 * pid, a tid or a -pgid; lock holders (F_GETLK) are pids. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "dmtcp/plugin.h"
#include "pid_internal.h"

#ifndef PROC_SUPER_MAGIC
#define PROC_SUPER_MAGIC 0x9fa0
#endif

/* Exported by glibc for programs built before 2.33, no longer declared. */
int __xstat(int ver, const char *path, struct stat *st);
int __lxstat(int ver, const char *path, struct stat *st);
int __xstat64(int ver, const char *path, struct stat64 *st);
int __lxstat64(int ver, const char *path, struct stat64 *st);
int __fxstatat(int ver, int dirfd, const char *path, struct stat *st, int flags);
int __fxstatat64(int ver, int dirfd, const char *path, struct stat64 *st, int flags);
/* What _FORTIFY_SOURCE turns open into when it cannot check the mode. */
int __open_2(const char *path, int flags);
int __open64_2(const char *path, int flags);
int __openat_2(int dirfd, const char *path, int flags);
int __openat64_2(int dirfd, const char *path, int flags);

#define PID_PROC_NEXT(X) \
  X(open) X(open64) X(openat) X(openat64) X(__open_2) X(__open64_2) X(__openat_2) X(__openat64_2) \
  X(fopen) X(fopen64) X(freopen) X(freopen64) X(opendir) X(stat) X(stat64) X(lstat) X(lstat64) \
  X(fstatat) X(fstatat64) X(statx) X(__xstat) X(__xstat64) X(__lxstat) X(__lxstat64) X(__fxstatat) \
  X(__fxstatat64) X(access) X(faccessat) X(euidaccess) X(eaccess) X(readlink) X(readlinkat) \
  X(fcntl) X(fcntl64) X(syscall)
DMTCP_NEXT_TABLE(PID_PROC_NEXT)

/* ---- paths ---- */

/* A pid as /proc spells it: digits without a leading zero, then '/' or the
 * end.  Returns its length, 0 when s does not start with one. */
static size_t id_component(const char *s, pid_t *out) {
  if (s[0] < '1' || s[0] > '9') return 0;
  long v = 0;
  size_t n = 0;
  for (; s[n] >= '0' && s[n] <= '9'; n++) {
    v = v * 10 + (s[n] - '0');
    if (v > INT_MAX) return 0;
  }
  if (s[n] != '/' && s[n] != 0) return 0;
  *out = (pid_t)v;
  return n;
}

struct out {
  char *p, *end;
};

static void put_str(struct out *o, const char *s) {
  while (*s && o->p < o->end) *o->p++ = *s++;
  if (*s) o->p = o->end + 1;
}

static void put_id(struct out *o, pid_t v) {
  char tmp[12];
  int k = 0;
  do tmp[k++] = (char)('0' + v % 10);
  while ((v /= 10) > 0);
  while (k > 0 && o->p < o->end) *o->p++ = tmp[--k];
  if (k > 0) o->p = o->end + 1;
}

/* A path the kernel could not read, or could not take (no NUL within
 * PATH_MAX), passes as it is: the kernel answers EFAULT or ENAMETOOLONG.
 * The common case, a path outside /proc, costs one probe of its first page. */
const char *pid_proc_path(const char *path, char *buf, size_t cap) {
  if (!path || cap < 16 || dmtcp_user_strnlen(path, 6) < 6 || strncmp(path, "/proc/", 6) != 0) return path;
  long len = dmtcp_user_strnlen(path, PATH_MAX);
  if (len < 0 || len >= PATH_MAX) return path;
  const char *p = path + 6;
  pid_t id = 0, rid = 0, tid = 0, rtid = 0;
  size_t n = id_component(p, &id);
  const char *rest;
  if (n) {
    rid = pid_v2r(id);
    rest = p + n;
  } else if (strncmp(p, "self", 4) == 0 && (p[4] == '/' || p[4] == 0)) {
    rest = p + 4;
  } else {
    return path;
  }
  size_t tn = 0;
  if (strncmp(rest, "/task/", 6) == 0 && (tn = id_component(rest + 6, &tid)) != 0) rtid = pid_v2r(tid);
  if ((!n || rid == id) && (!tn || rtid == tid)) return path;
  struct out o = {buf, buf + cap - 1};
  put_str(&o, "/proc/");
  if (n) put_id(&o, rid);
  else put_str(&o, "self");
  if (tn) {
    put_str(&o, "/task/");
    put_id(&o, rtid);
    rest += 6 + tn;
  }
  put_str(&o, rest);
  if (o.p > o.end) return path;
  *o.p = 0;
  return buf;
}

/* A path relative to a descriptor of /proc itself ("<vpid>/status" under
 * an fd from open("/proc")): made absolute, then translated. */
static const char *path_at(int dirfd, const char *path, char *buf, size_t cap) {
  if (!path || dirfd == AT_FDCWD) return pid_proc_path(path, buf, cap);
  long head = dmtcp_user_strnlen(path, 10);
  if (head < 1) return path;
  if (path[0] == '/') return pid_proc_path(path, buf, cap);
  if (!(path[0] >= '1' && path[0] <= '9') && (head < 10 || strncmp(path, "self/task/", 10) != 0)) return path;
  long len = dmtcp_user_strnlen(path, PATH_MAX);
  if (len < 0 || len >= PATH_MAX) return path;
  struct statfs fs;
  struct stat st;
  if (fstatfs(dirfd, &fs) < 0 || fs.f_type != PROC_SUPER_MAGIC) return path;
  if (fstat(dirfd, &st) < 0 || st.st_ino != 1) return path;
  char abs[PATH_MAX];
  if ((size_t)len + 7 > sizeof abs) return path;
  memcpy(abs, "/proc/", 6);
  memcpy(abs + 6, path, (size_t)len + 1);
  const char *t = pid_proc_path(abs, buf, cap);
  return t == abs ? path : t;
}

#define PATH_IN(p) \
  char buf_[PATH_MAX]; \
  const char *p##_ = pid_proc_path(p, buf_, sizeof buf_)
#define PATH_AT(fd, p) \
  char buf_[PATH_MAX]; \
  const char *p##_ = path_at(fd, p, buf_, sizeof buf_)

/* open's mode argument is there only when the flags ask for one. */
#define MODE_ARG(flags, mode)                                         \
  mode_t mode = 0;                                                    \
  if ((flags) & O_CREAT || ((flags) & O_TMPFILE) == O_TMPFILE) {      \
    va_list ap_;                                                      \
    va_start(ap_, flags);                                             \
    mode = (mode_t)va_arg(ap_, int);                                  \
    va_end(ap_);                                                      \
  }

PID_EXPORT int open(const char *path, int flags, ...) {
  MODE_ARG(flags, mode);
  PATH_IN(path);
  return DMTCP_NEXT(open)(path_, flags, mode);
}

PID_EXPORT int open64(const char *path, int flags, ...) {
  MODE_ARG(flags, mode);
  PATH_IN(path);
  return DMTCP_NEXT(open64)(path_, flags, mode);
}

PID_EXPORT int openat(int dirfd, const char *path, int flags, ...) {
  MODE_ARG(flags, mode);
  PATH_AT(dirfd, path);
  return DMTCP_NEXT(openat)(dirfd, path_, flags, mode);
}

PID_EXPORT int openat64(int dirfd, const char *path, int flags, ...) {
  MODE_ARG(flags, mode);
  PATH_AT(dirfd, path);
  return DMTCP_NEXT(openat64)(dirfd, path_, flags, mode);
}

PID_EXPORT int __open_2(const char *path, int flags) {
  PATH_IN(path);
  return DMTCP_NEXT(__open_2)(path_, flags);
}

PID_EXPORT int __open64_2(const char *path, int flags) {
  PATH_IN(path);
  return DMTCP_NEXT(__open64_2)(path_, flags);
}

PID_EXPORT int __openat_2(int dirfd, const char *path, int flags) {
  PATH_AT(dirfd, path);
  return DMTCP_NEXT(__openat_2)(dirfd, path_, flags);
}

PID_EXPORT int __openat64_2(int dirfd, const char *path, int flags) {
  PATH_AT(dirfd, path);
  return DMTCP_NEXT(__openat64_2)(dirfd, path_, flags);
}

PID_EXPORT FILE *fopen(const char *restrict path, const char *restrict mode) {
  PATH_IN(path);
  return DMTCP_NEXT(fopen)(path_, mode);
}

PID_EXPORT FILE *fopen64(const char *restrict path, const char *restrict mode) {
  PATH_IN(path);
  return DMTCP_NEXT(fopen64)(path_, mode);
}

PID_EXPORT FILE *freopen(const char *restrict path, const char *restrict mode, FILE *restrict stream) {
  PATH_IN(path);
  return DMTCP_NEXT(freopen)(path_, mode, stream);
}

PID_EXPORT FILE *freopen64(const char *restrict path, const char *restrict mode, FILE *restrict stream) {
  PATH_IN(path);
  return DMTCP_NEXT(freopen64)(path_, mode, stream);
}

PID_EXPORT DIR *opendir(const char *path) {
  PATH_IN(path);
  return DMTCP_NEXT(opendir)(path_);
}

PID_EXPORT int stat(const char *restrict path, struct stat *restrict st) {
  PATH_IN(path);
  return DMTCP_NEXT(stat)(path_, st);
}

PID_EXPORT int stat64(const char *restrict path, struct stat64 *restrict st) {
  PATH_IN(path);
  return DMTCP_NEXT(stat64)(path_, st);
}

PID_EXPORT int lstat(const char *restrict path, struct stat *restrict st) {
  PATH_IN(path);
  return DMTCP_NEXT(lstat)(path_, st);
}

PID_EXPORT int lstat64(const char *restrict path, struct stat64 *restrict st) {
  PATH_IN(path);
  return DMTCP_NEXT(lstat64)(path_, st);
}

PID_EXPORT int fstatat(int dirfd, const char *restrict path, struct stat *restrict st, int flags) {
  PATH_AT(dirfd, path);
  return DMTCP_NEXT(fstatat)(dirfd, path_, st, flags);
}

PID_EXPORT int fstatat64(int dirfd, const char *restrict path, struct stat64 *restrict st, int flags) {
  PATH_AT(dirfd, path);
  return DMTCP_NEXT(fstatat64)(dirfd, path_, st, flags);
}

PID_EXPORT int statx(int dirfd, const char *restrict path, int flags, unsigned int mask, struct statx *restrict st) {
  PATH_AT(dirfd, path);
  return DMTCP_NEXT(statx)(dirfd, path_, flags, mask, st);
}

PID_EXPORT int __xstat(int ver, const char *path, struct stat *st) {
  PATH_IN(path);
  return DMTCP_NEXT(__xstat)(ver, path_, st);
}

PID_EXPORT int __xstat64(int ver, const char *path, struct stat64 *st) {
  PATH_IN(path);
  return DMTCP_NEXT(__xstat64)(ver, path_, st);
}

PID_EXPORT int __lxstat(int ver, const char *path, struct stat *st) {
  PATH_IN(path);
  return DMTCP_NEXT(__lxstat)(ver, path_, st);
}

PID_EXPORT int __lxstat64(int ver, const char *path, struct stat64 *st) {
  PATH_IN(path);
  return DMTCP_NEXT(__lxstat64)(ver, path_, st);
}

PID_EXPORT int __fxstatat(int ver, int dirfd, const char *path, struct stat *st, int flags) {
  PATH_AT(dirfd, path);
  return DMTCP_NEXT(__fxstatat)(ver, dirfd, path_, st, flags);
}

PID_EXPORT int __fxstatat64(int ver, int dirfd, const char *path, struct stat64 *st, int flags) {
  PATH_AT(dirfd, path);
  return DMTCP_NEXT(__fxstatat64)(ver, dirfd, path_, st, flags);
}

PID_EXPORT int access(const char *path, int how) {
  PATH_IN(path);
  return DMTCP_NEXT(access)(path_, how);
}

PID_EXPORT int faccessat(int dirfd, const char *path, int how, int flags) {
  PATH_AT(dirfd, path);
  return DMTCP_NEXT(faccessat)(dirfd, path_, how, flags);
}

PID_EXPORT int euidaccess(const char *path, int how) {
  PATH_IN(path);
  return DMTCP_NEXT(euidaccess)(path_, how);
}

PID_EXPORT int eaccess(const char *path, int how) {
  PATH_IN(path);
  return DMTCP_NEXT(eaccess)(path_, how);
}

/* The link's target is left alone: readlink("/proc/self") answers with the
 * real pid, which the kernel resolves; only the path asked about changes. */
PID_EXPORT ssize_t readlink(const char *restrict path, char *restrict out, size_t size) {
  PATH_IN(path);
  return DMTCP_NEXT(readlink)(path_, out, size);
}

PID_EXPORT ssize_t readlinkat(int dirfd, const char *restrict path, char *restrict out, size_t size) {
  PATH_AT(dirfd, path);
  return DMTCP_NEXT(readlinkat)(dirfd, path_, out, size);
}

/* ---- fcntl ---- */

static long fcntl_in(int cmd, long arg, void *scratch) {
  switch (cmd) {
    case F_SETOWN:
      return pid_v2r_signed((pid_t)arg);
    case F_SETOWN_EX:
      /* Unreadable: passed on for the kernel's EFAULT. */
      if (arg && dmtcp_user_readable((const void *)arg, sizeof(struct f_owner_ex))) {
        struct f_owner_ex *o = scratch;
        *o = *(const struct f_owner_ex *)arg;
        o->pid = pid_v2r(o->pid);
        return (long)o;
      }
      return arg;
    default:
      return arg;
  }
}

static long fcntl_out(int cmd, long arg, long ret) {
  switch (cmd) {
    case F_GETOWN:
      return pid_r2v_signed((pid_t)ret);
    case F_GETOWN_EX:
      if (ret == 0 && arg) {
        struct f_owner_ex *o = (struct f_owner_ex *)arg;
        o->pid = pid_r2v(o->pid);
      }
      return ret;
    case F_GETLK:
    case F_OFD_GETLK:
      if (ret == 0 && arg) {
        struct flock *l = (struct flock *)arg;
        if (l->l_type != F_UNLCK && l->l_pid > 0) l->l_pid = pid_r2v(l->l_pid);
      }
      return ret;
    default:
      return ret;
  }
}

/* The argument is read as a long whatever cmd is, as glibc itself does: the
 * register is there either way. */
#define FCNTL_BODY(real)                                                        \
  va_list ap;                                                                   \
  va_start(ap, cmd);                                                            \
  long arg = va_arg(ap, long);                                                  \
  va_end(ap);                                                                   \
  struct f_owner_ex scratch;                                                    \
  long r = real(fd, cmd, fcntl_in(cmd, arg, &scratch));                     \
  if (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC) pid_fd_dup(fd, (int)r);         \
  return (int)fcntl_out(cmd, arg, r)

PID_EXPORT int fcntl(int fd, int cmd, ...) { FCNTL_BODY(DMTCP_NEXT(fcntl)); }
PID_EXPORT int fcntl64(int fd, int cmd, ...) { FCNTL_BODY(DMTCP_NEXT(fcntl64)); }

int pid_proc_syscall(long n, const long a[6], long *ret) {
  if (n != SYS_fcntl) return 0;
  struct f_owner_ex scratch;
  long r = DMTCP_NEXT(syscall)(n, a[0], a[1], fcntl_in((int)a[1], a[2], &scratch), a[3], a[4], a[5]);
  if (a[1] == F_DUPFD || a[1] == F_DUPFD_CLOEXEC) pid_fd_dup((int)a[0], (int)r);
  *ret = fcntl_out((int)a[1], a[2], r);
  return 1;
}
