/* Pids inside data that descriptors carry.
 *
 * Unix socket credentials: SO_PEERCRED and a received SCM_CREDENTIALS name
 * the peer by its real pid.  A sent SCM_CREDENTIALS holds what the program
 * takes for its own pid, the virtual one; the kernel accepts only the
 * sender's real pid from an unprivileged sender (and, from a privileged
 * one, names whichever process has the number).
 *
 * signalfd: each struct signalfd_siginfo read names the sender (or, for
 * SIGCHLD, the child) by its real pid.  Reads are hot and mostly of other
 * files, so a read is only looked at when its descriptor was made a signalfd
 * here (marked), and only rewritten when the kernel still calls it one: the
 * number may have been closed and reused in ways no wrapper sees
 * (close_range, a raw close or dup2, another library's own system calls).
 *
 * The read and receive paths are async-signal-safe like the calls they
 * wrap: no allocation, no locks, raw system calls. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "dmtcp/plugin.h"
#include "pid_internal.h"

/* What _FORTIFY_SOURCE turns read into when it knows the buffer's size. */
ssize_t __read_chk(int fd, void *buf, size_t nbytes, size_t buflen);

#define PID_SOCKET_NEXT(X) \
  X(getsockopt) X(recvmsg) X(recvmmsg) X(sendmsg) X(sendmmsg) X(signalfd) X(read) X(__read_chk) \
  X(readv) X(close) X(dup) X(dup2) X(dup3) X(syscall)
DMTCP_NEXT_TABLE(PID_SOCKET_NEXT)

static void mark_inherited(void);

__attribute__((constructor)) static void socket_init(void) { mark_inherited(); }

/* ---- which descriptors are signalfds ---- */

#define SFD_TRACKED 65536
#define WORD_BITS (8 * sizeof(unsigned long))

static _Atomic unsigned long sfd_marks[SFD_TRACKED / WORD_BITS];
/* Numbers past the bitmap share one mark: once any of them was a signalfd,
 * reads of all of them are checked with the kernel. */
static _Atomic int sfd_high;

static int marked(int fd) {
  if (fd < 0) return 0;
  if (fd >= SFD_TRACKED) return atomic_load_explicit(&sfd_high, memory_order_relaxed);
  return (atomic_load_explicit(&sfd_marks[fd / WORD_BITS], memory_order_relaxed) >> (fd % WORD_BITS)) & 1;
}

static void mark(int fd, int on) {
  if (fd < 0) return;
  if (fd >= SFD_TRACKED) {
    if (on) atomic_store(&sfd_high, 1);
    return;
  }
  unsigned long bit = 1UL << (fd % WORD_BITS);
  if (on) atomic_fetch_or(&sfd_marks[fd / WORD_BITS], bit);
  else atomic_fetch_and(&sfd_marks[fd / WORD_BITS], ~bit);
}

static int is_signalfd(int fd) {
  static const char prefix[] = "/proc/thread-self/fd/";
  static const char want[] = "anon_inode:[signalfd]";
  char path[sizeof prefix + 12];
  char digits[12];
  int n = 0;
  unsigned u = (unsigned)fd;
  do digits[n++] = (char)('0' + u % 10);
  while ((u /= 10) != 0);
  memcpy(path, prefix, sizeof prefix - 1);
  size_t k = sizeof prefix - 1;
  while (n > 0) path[k++] = digits[--n];
  path[k] = '\0';
  /* One byte more than the name: a longer target does not match. */
  char link[sizeof want];
  long r = sys_call3(SYS_readlink, (long)path, (long)link, sizeof link);
  return r == (long)sizeof want - 1 && memcmp(link, want, sizeof want - 1) == 0;
}

/* A program started by exec may have been handed signalfds. */
static void mark_inherited(void) {
  struct dirent64_ {
    uint64_t ino;
    int64_t off;
    unsigned short reclen;
    unsigned char type;
    char name[];
  };
  int dir = (int)sys_call6(SYS_openat, AT_FDCWD, (long)"/proc/thread-self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0, 0, 0);
  if (dir < 0) return;
  char buf[1024] __attribute__((aligned(8)));
  long got;
  while ((got = sys_call3(SYS_getdents64, dir, (long)buf, sizeof buf)) > 0) {
    for (long off = 0; off < got;) {
      const struct dirent64_ *d = (const struct dirent64_ *)(buf + off);
      off += d->reclen;
      int fd = 0, digits = 0;
      for (const char *c = d->name; *c >= '0' && *c <= '9' && fd < 100000000; c++, digits++) fd = fd * 10 + (*c - '0');
      if (digits && fd != dir && is_signalfd(fd)) mark(fd, 1);
    }
  }
  sys_call3(SYS_close, dir, 0, 0);
}

/* Copies between a flat buffer and the bytes [off, off + len) of what an
 * iovec array holds: records read with readv may straddle its pieces. */
static void iov_copy(const struct iovec *iov, int cnt, size_t off, void *flat, size_t len, int to_iov) {
  char *p = flat;
  for (int i = 0; i < cnt && len > 0; i++) {
    size_t l = iov[i].iov_len;
    if (off >= l) {
      off -= l;
      continue;
    }
    size_t k = l - off < len ? l - off : len;
    char *q = (char *)iov[i].iov_base + off;
    if (to_iov) memcpy(q, p, k);
    else memcpy(p, q, k);
    p += k;
    len -= k;
    off = 0;
  }
}

/* The `got` bytes read from fd into iov: whole records when fd is a
 * signalfd (the kernel returns nothing else). */
static void signalfd_out(int fd, const struct iovec *iov, int cnt, long got) {
  const size_t rec = sizeof(struct signalfd_siginfo);
  if (got < (long)rec || !marked(fd) || !is_signalfd(fd)) return;
  for (size_t off = 0; off + rec <= (size_t)got; off += rec) {
    struct signalfd_siginfo s;
    iov_copy(iov, cnt, off, &s, sizeof s, 0);
    siginfo_t si;
    memset(&si, 0, sizeof si);
    si.si_signo = (int)s.ssi_signo;
    si.si_code = s.ssi_code;
    si.si_pid = (pid_t)s.ssi_pid;
    pid_siginfo_out(si.si_signo, &si);
    if ((uint32_t)si.si_pid == s.ssi_pid) continue;
    s.ssi_pid = (uint32_t)si.si_pid;
    iov_copy(iov, cnt, off + offsetof(struct signalfd_siginfo, ssi_pid), &s.ssi_pid, sizeof s.ssi_pid, 1);
  }
}

static long read_out(int fd, void *buf, long got) {
  if (got > 0 && marked(fd)) {
    struct iovec v = {buf, (size_t)got};
    signalfd_out(fd, &v, 1, got);
  }
  return got;
}

PID_EXPORT int signalfd(int fd, const sigset_t *mask, int flags) {
  int r = DMTCP_NEXT(signalfd)(fd, mask, flags);
  if (r >= 0) mark(r, 1);
  return r;
}

PID_EXPORT ssize_t read(int fd, void *buf, size_t n) { return read_out(fd, buf, DMTCP_NEXT(read)(fd, buf, n)); }

PID_EXPORT ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen) {
  return read_out(fd, buf, DMTCP_NEXT(__read_chk)(fd, buf, n, buflen));
}

PID_EXPORT ssize_t readv(int fd, const struct iovec *iov, int cnt) {
  ssize_t r = DMTCP_NEXT(readv)(fd, iov, cnt);
  if (r > 0 && marked(fd)) signalfd_out(fd, iov, cnt, r);
  return r;
}

/* Unmarked before the close: once closed, the number may become another
 * thread's new signalfd, whose mark must stay. */
PID_EXPORT int close(int fd) {
  if (marked(fd)) mark(fd, 0);
  return DMTCP_NEXT(close)(fd);
}

void pid_fd_dup(int old, int fresh) {
  if (fresh >= 0 && fresh != old) mark(fresh, marked(old));
}

PID_EXPORT int dup(int fd) {
  int r = DMTCP_NEXT(dup)(fd);
  pid_fd_dup(fd, r);
  return r;
}

PID_EXPORT int dup2(int fd, int fd2) {
  int r = DMTCP_NEXT(dup2)(fd, fd2);
  pid_fd_dup(fd, r);
  return r;
}

PID_EXPORT int dup3(int fd, int fd2, int flags) {
  int r = DMTCP_NEXT(dup3)(fd, fd2, flags);
  pid_fd_dup(fd, r);
  return r;
}

/* ---- credentials ---- */

static pid_t cred_out(pid_t real) { return real > 0 ? pid_r2v_or_reaped(real) : real; }

static void peercred_out(int level, int name, void *val, const socklen_t *len) {
  if (level != SOL_SOCKET || name != SO_PEERCRED || !val || !len) return;
  if (*len < offsetof(struct ucred, pid) + sizeof(pid_t)) return;
  pid_t pid;
  memcpy(&pid, (char *)val + offsetof(struct ucred, pid), sizeof pid);
  pid = cred_out(pid);
  memcpy((char *)val + offsetof(struct ucred, pid), &pid, sizeof pid);
}

/* The pid of each SCM_CREDENTIALS in m's control data, through f; returns
 * 1 when one would change (nothing is written when `write` is 0). */
static int creds_map(struct msghdr *m, pid_t (*f)(pid_t), int write) {
  int changed = 0;
  if (!m || !m->msg_control || m->msg_controllen < sizeof(struct cmsghdr)) return 0;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR(m, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_CREDENTIALS) continue;
    /* A truncated one (MSG_CTRUNC) is shorter. */
    if (c->cmsg_len < CMSG_LEN(offsetof(struct ucred, pid) + sizeof(pid_t))) continue;
    char *at = (char *)CMSG_DATA(c) + offsetof(struct ucred, pid);
    pid_t pid, mapped;
    memcpy(&pid, at, sizeof pid);
    mapped = f(pid);
    if (mapped == pid) continue;
    changed = 1;
    if (write) memcpy(at, &mapped, sizeof mapped);
  }
  return changed;
}

static pid_t cred_in(pid_t vid) { return vid > 0 ? pid_v2r(vid) : vid; }

static void creds_out(struct msghdr *m) { creds_map(m, cred_out, 1); }

/* Sending: the program's control data may be read-only or shared with
 * other threads, so a translated copy is sent.  Small copies live on the
 * stack, larger ones in a private mapping (no malloc here). */
#define STACK_SCRATCH 1024

struct scratch {
  char *p;
  size_t mapped;
};

static int scratch_get(struct scratch *s, char *stack, size_t need) {
  s->mapped = 0;
  if (need <= STACK_SCRATCH) {
    s->p = stack;
    return 1;
  }
  long a = sys_call6(SYS_mmap, 0, (long)need, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (a < 0 && a > -4096) {
    errno = ENOMEM;
    return 0;
  }
  s->p = (char *)a;
  s->mapped = need;
  return 1;
}

static void scratch_put(struct scratch *s) {
  if (s->mapped) sys_call3(SYS_munmap, (long)s->p, (long)s->mapped, 0);
}

static size_t align8(size_t n) { return (n + 7) & ~(size_t)7; }

/* The control data can be read as the kernel would (which takes at most
 * INT_MAX bytes of it); none at all is fine. */
static int control_readable(const struct msghdr *m) {
  if (!m->msg_control || m->msg_controllen < sizeof(struct cmsghdr)) return 1;
  return m->msg_controllen <= INT_MAX && dmtcp_user_readable(m->msg_control, m->msg_controllen);
}

/* Control data that cannot be read is sent untranslated: the kernel
 * refuses it with EFAULT. */
static int creds_to_send(struct msghdr *m) { return m->msg_control && control_readable(m) && creds_map(m, cred_in, 0); }

/* h: the program's header, copied once so that its sizes cannot change
 * under us. */
static __attribute__((noinline)) ssize_t sendmsg_translated(int fd, struct msghdr *h, int flags) {
  char stack[STACK_SCRATCH] __attribute__((aligned(16)));
  struct scratch s;
  if (!scratch_get(&s, stack, h->msg_controllen)) return -1;
  memcpy(s.p, h->msg_control, h->msg_controllen);
  h->msg_control = s.p;
  creds_map(h, cred_in, 1);
  ssize_t r = DMTCP_NEXT(sendmsg)(fd, h, flags);
  int saved = errno;
  scratch_put(&s);
  errno = saved;
  return r;
}

PID_EXPORT ssize_t sendmsg(int fd, const struct msghdr *m, int flags) {
  if (!m || !dmtcp_user_readable(m, sizeof *m)) return DMTCP_NEXT(sendmsg)(fd, m, flags);
  struct msghdr h = *m;
  if (!creds_to_send(&h)) return DMTCP_NEXT(sendmsg)(fd, m, flags);
  return sendmsg_translated(fd, &h, flags);
}

/* The kernel sends at most this many of a sendmmsg's messages. */
#define MMSG_MAX 1024

/* The whole array is copied: the kernel writes each msg_len back, which is
 * all the program may see of the copy.  `ctl` was measured on the
 * program's array, which another thread could change meanwhile: the copy
 * is checked against it again. */
static __attribute__((noinline)) int sendmmsg_translated(int fd, struct mmsghdr *v, unsigned n, int flags, size_t ctl) {
  char stack[STACK_SCRATCH] __attribute__((aligned(16)));
  struct scratch s;
  size_t head = align8(n * sizeof *v);
  if (!scratch_get(&s, stack, head + ctl)) return -1;
  struct mmsghdr *copy = (struct mmsghdr *)s.p;
  memcpy(copy, v, n * sizeof *v);
  char *at = s.p + head, *end = at + ctl;
  for (unsigned i = 0; i < n; i++) {
    struct msghdr *h = &copy[i].msg_hdr;
    if (!creds_to_send(h) || align8(h->msg_controllen) > (size_t)(end - at)) continue;
    memcpy(at, h->msg_control, h->msg_controllen);
    h->msg_control = at;
    at += align8(h->msg_controllen);
    creds_map(h, cred_in, 1);
  }
  int r = DMTCP_NEXT(sendmmsg)(fd, copy, n, flags);
  int saved = errno;
  /* The program's array may be read-only: the kernel counts only the
   * messages whose msg_len it could write back (EFAULT when none). */
  for (int i = 0; i < r; i++) {
    if (dmtcp_user_write(&v[i].msg_len, &copy[i].msg_len, sizeof v[i].msg_len) < 0) {
      r = i ? i : -1;
      if (!i) saved = EFAULT;
      break;
    }
  }
  scratch_put(&s);
  errno = saved;
  return r;
}

/* The kernel sends the messages in order and stops at the first it cannot
 * read, returning how many it sent (EFAULT when none): so only the
 * messages before the first unreadable one are looked at and, when one
 * of them carries credentials, sent translated. */
PID_EXPORT int sendmmsg(int fd, struct mmsghdr *v, unsigned int n, int flags) {
  unsigned k = n < MMSG_MAX ? n : MMSG_MAX;
  size_t ctl = 0;
  unsigned good = 0;
  for (; v && good < k; good++) {
    if (!dmtcp_user_readable(&v[good], sizeof v[good]) || !control_readable(&v[good].msg_hdr)) break;
    if (creds_to_send(&v[good].msg_hdr)) ctl += align8(v[good].msg_hdr.msg_controllen);
  }
  if (!ctl) return DMTCP_NEXT(sendmmsg)(fd, v, n, flags);
  return sendmmsg_translated(fd, v, good, flags, ctl);
}

PID_EXPORT ssize_t recvmsg(int fd, struct msghdr *m, int flags) {
  ssize_t r = DMTCP_NEXT(recvmsg)(fd, m, flags);
  if (r >= 0) creds_out(m);
  return r;
}

PID_EXPORT int recvmmsg(int fd, struct mmsghdr *v, unsigned int n, int flags, struct timespec *timeout) {
  int r = DMTCP_NEXT(recvmmsg)(fd, v, n, flags, timeout);
  for (int i = 0; i < r; i++) creds_out(&v[i].msg_hdr);
  return r;
}

PID_EXPORT int getsockopt(int fd, int level, int name, void *restrict val, socklen_t *restrict len) {
  int r = DMTCP_NEXT(getsockopt)(fd, level, name, val, len);
  if (r == 0) peercred_out(level, name, val, len);
  return r;
}

/* ---- syscall(2) ---- */

int pid_socket_syscall(long n, const long a[6], long *ret) {
  switch (n) {
    case SYS_getsockopt:
      *ret = getsockopt((int)a[0], (int)a[1], (int)a[2], (void *)a[3], (socklen_t *)a[4]);
      return 1;
    case SYS_recvmsg:
      *ret = recvmsg((int)a[0], (struct msghdr *)a[1], (int)a[2]);
      return 1;
    case SYS_recvmmsg:
      *ret = recvmmsg((int)a[0], (struct mmsghdr *)a[1], (unsigned)a[2], (int)a[3], (struct timespec *)a[4]);
      return 1;
    case SYS_sendmsg:
      *ret = sendmsg((int)a[0], (const struct msghdr *)a[1], (int)a[2]);
      return 1;
    case SYS_sendmmsg:
      *ret = sendmmsg((int)a[0], (struct mmsghdr *)a[1], (unsigned)a[2], (int)a[3]);
      return 1;
    case SYS_signalfd:
    case SYS_signalfd4:
      *ret = DMTCP_NEXT(syscall)(n, a[0], a[1], a[2], a[3], a[4], a[5]);
      if (*ret >= 0) mark((int)*ret, 1);
      return 1;
    case SYS_read:
      *ret = read_out((int)a[0], (void *)a[1], DMTCP_NEXT(syscall)(n, a[0], a[1], a[2], a[3], a[4], a[5]));
      return 1;
    case SYS_readv:
      *ret = DMTCP_NEXT(syscall)(n, a[0], a[1], a[2], a[3], a[4], a[5]);
      if (*ret > 0 && marked((int)a[0])) signalfd_out((int)a[0], (const struct iovec *)a[1], (int)a[2], *ret);
      return 1;
    case SYS_dup:
    case SYS_dup2:
    case SYS_dup3:
      *ret = DMTCP_NEXT(syscall)(n, a[0], a[1], a[2], a[3], a[4], a[5]);
      pid_fd_dup((int)a[0], (int)*ret);
      return 1;
    default:
      return 0;
  }
}
