/* Blocking calls that a checkpoint must not cut short.
 *
 * The checkpoint signal has a handler, so the kernel ends many blocking calls
 * with EINTR when it arrives even though the handler is SA_RESTART (poll,
 * select, epoll_wait, semop, msgrcv, sigtimedwait, pause, sleeps, socket calls
 * with SO_RCVTIMEO/SO_SNDTIMEO, timed futex waits...), and a blocking write
 * that had copied part of its buffer returns a short count.  The application
 * must see neither.
 *
 * Mechanism: wrappers that call the next definition again.  The suspend
 * handler notes, per thread, that it stopped the thread right at the return of
 * a system call (the two bytes before the interrupted instruction pointer are
 * `syscall`); a wrapper clears that note before its call, and when the call
 * failed with EINTR (or came back short) with the note set, the checkpoint
 * was what interrupted it, so it calls again with the time that was left.
 * Wrappers rather than rewriting the interrupted context from the handler:
 * only the wrapper knows when the call began, which a relative timeout needs,
 * and the handler cannot tell which system call it interrupted.
 *
 * When another signal with a handler arrived together with the checkpoint
 * signal and has a lower number, the kernel hands it the interrupted system
 * call first: the checkpoint handler then sees that handler's entry, not a
 * system call, and the application gets its EINTR as it would without us. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <mqueue.h>
#include <poll.h>
#include <semaphore.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/msg.h>
#include <sys/select.h>
#include <sys/sem.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "dmtcp/next.h"

#include "dmtcp/usermem.h"
#include "runtime.h"

/* Set by the suspend handler when it stopped this thread at the return of a
 * system call; cleared by each wrapper before its call. */
static __thread int t_ckpt_cut __attribute__((tls_model("initial-exec")));
/* CLOCK_MONOTONIC when that happened, for timeouts across a restart. */
static __thread uint64_t t_ckpt_cut_at __attribute__((tls_model("initial-exec")));

static int at_syscall_return(uint64_t ip) {
  unsigned char insn[2];
  if ((ip & 4095) >= 2) {
    /* The page holding ip is mapped: the thread resumes there. */
    memcpy(insn, (const void *)(ip - 2), 2);
  } else {
    struct iovec local = {insn, 2}, remote = {(void *)(ip - 2), 2};
    if (sys_call6(__NR_process_vm_readv, sys_getpid(), (long)&local, 1, (long)&remote, 1, 0) != 2) return 0;
  }
  return insn[0] == 0x0f && insn[1] == 0x05;
}

void blocking_note_suspend(const void *uctx) {
  const ucontext_t *uc = uctx;
  if (!uc || !at_syscall_return((uint64_t)uc->uc_mcontext.gregs[REG_RIP])) return;
  struct timespec ts;
  sys_clock_gettime(CLOCK_MONOTONIC, &ts);
  t_ckpt_cut_at = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
  t_ckpt_cut = 1;
}

static inline int cut_by_ckpt(long r) { return r < 0 && errno == EINTR && t_ckpt_cut; }

/* Returns what `call` returns, calling it again while a checkpoint is what
 * cut it short (calls without a relative timeout). */
#define RESUMED(type, call)          \
  for (;;) {                         \
    t_ckpt_cut = 0;                  \
    type r_ = (call);                \
    if (!cut_by_ckpt(r_)) return r_; \
  }

/* ---- the next definitions, resolved once ---- */

int io_getevents(void *ctx, long min_nr, long nr, void *events, struct timespec *timeout);

#define BLOCKING_CALLS(X)                                                                                    \
  X(poll) X(ppoll) X(select) X(pselect) X(epoll_wait) X(epoll_pwait) X(epoll_pwait2) X(semop) X(semtimedop) \
  X(msgrcv) X(msgsnd) X(sigtimedwait) X(sigwait) X(pause) X(sigsuspend) X(nanosleep)         \
  X(clock_nanosleep) X(accept4) X(connect) X(recvfrom) X(recvmsg) X(send) X(sendto)       \
  X(sendmsg) X(read) X(readv) X(write) X(writev) X(mq_receive) X(mq_timedreceive) X(mq_send)                \
  X(mq_timedsend) X(sem_wait) X(sem_timedwait) X(sem_clockwait) X(io_getevents) X(syscall) \
  X(clock_gettime)

DMTCP_NEXT_TABLE(BLOCKING_CALLS)
#define NEXT DMTCP_NEXT

/* ---- timeouts ---- */

static uint64_t mono_ns(void) {
  struct timespec ts;
  NEXT(clock_gettime)(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

struct deadline {
  uint64_t start, length;
  uint64_t restarts;   /* g_rt.restart_count when the clock was read */
};

static void deadline_start(struct deadline *d, uint64_t length) {
  d->start = mono_ns();
  d->length = length;
  d->restarts = g_rt.restart_count;
}

/* Time left of the call's timeout.  Across a restart the monotonic clock is
 * another machine's or boot's: the call goes on with what was left when the
 * checkpoint stopped it. */
static uint64_t deadline_left(struct deadline *d) {
  uint64_t now = mono_ns();
  if (d->restarts != g_rt.restart_count) {
    uint64_t used = t_ckpt_cut_at > d->start ? t_ckpt_cut_at - d->start : 0;
    uint64_t left = used < d->length ? d->length - used : 0;
    d->start = now;
    d->length = left;
    d->restarts = g_rt.restart_count;
    return left;
  }
  uint64_t used = now - d->start;
  return used < d->length ? d->length - used : 0;
}

static uint64_t ts_ns(const struct timespec *ts) {
  if (ts->tv_sec < 0 || ts->tv_nsec < 0) return 0;
  return (uint64_t)ts->tv_sec * 1000000000ULL + (uint64_t)ts->tv_nsec;
}
static struct timespec ns_ts(uint64_t ns) {
  struct timespec ts = {(time_t)(ns / 1000000000ULL), (long)(ns % 1000000000ULL)};
  return ts;
}
/* Rounded up: never wake before the deadline. */
static int ns_ms(uint64_t ns) {
  uint64_t ms = (ns + 999999) / 1000000;
  return ms > 0x7fffffff ? 0x7fffffff : (int)ms;
}

/* A relative timespec timeout.  The caller's value is read only once the
 * kernel has accepted it (a call cut by a checkpoint did), so that a bad
 * pointer still gets EFAULT from the kernel; later attempts pass what is left. */
struct rel_timeout {
  const struct timespec *user;
  const struct timespec *arg;
  struct timespec left;
  struct deadline d;
};
static void rel_start(struct rel_timeout *t, const struct timespec *ts) {
  t->user = t->arg = ts;
  if (ts) deadline_start(&t->d, 0);
}
static void rel_next(struct rel_timeout *t) {
  if (!t->user) return;
  if (t->arg == t->user) {
    t->d.length = ts_ns(t->user);
    t->arg = &t->left;
  }
  t->left = ns_ts(deadline_left(&t->d));
}

/* ---- signal sets: the checkpoint signal is never blocked or waited for ---- */

static const sigset_t *sans_ckpt(const sigset_t *set, sigset_t *copy) {
  /* An unreadable set goes to the kernel as it is, for its EFAULT. */
  if (!g_rt.enabled || !set || !dmtcp_user_readable(set, 8) || !sigismember(set, g_sigckpt)) return set;
  *copy = *set;
  sigdelset(copy, g_sigckpt);
  return copy;
}

/* ---- polling ---- */

EXPORT int poll(struct pollfd *fds, nfds_t n, int timeout) {
  struct deadline d;
  if (timeout > 0) deadline_start(&d, (uint64_t)timeout * 1000000ULL);
  for (;;) {
    t_ckpt_cut = 0;
    int r = NEXT(poll)(fds, n, timeout);
    if (!cut_by_ckpt(r)) return r;
    if (timeout > 0) timeout = ns_ms(deadline_left(&d));
  }
}

EXPORT int ppoll(struct pollfd *fds, nfds_t n, const struct timespec *tmo, const sigset_t *mask) {
  sigset_t copy;
  mask = sans_ckpt(mask, &copy);
  struct rel_timeout t;
  rel_start(&t, tmo);
  for (;;) {
    t_ckpt_cut = 0;
    int r = NEXT(ppoll)(fds, n, t.arg, mask);
    if (!cut_by_ckpt(r)) return r;
    rel_next(&t);
  }
}

/* Linux's select leaves the time not slept in *tv, also when interrupted:
 * calling again with it is exact, across a restart too. */
EXPORT int select(int n, fd_set *rd, fd_set *wr, fd_set *ex, struct timeval *tv) {
  RESUMED(int, NEXT(select)(n, rd, wr, ex, tv))
}

EXPORT int pselect(int n, fd_set *rd, fd_set *wr, fd_set *ex, const struct timespec *tmo, const sigset_t *mask) {
  sigset_t copy;
  mask = sans_ckpt(mask, &copy);
  struct rel_timeout t;
  rel_start(&t, tmo);
  for (;;) {
    t_ckpt_cut = 0;
    int r = NEXT(pselect)(n, rd, wr, ex, t.arg, mask);
    if (!cut_by_ckpt(r)) return r;
    rel_next(&t);
  }
}

EXPORT int epoll_pwait(int ep, struct epoll_event *ev, int max, int timeout, const sigset_t *mask) {
  sigset_t copy;
  mask = sans_ckpt(mask, &copy);
  struct deadline d;
  if (timeout > 0) deadline_start(&d, (uint64_t)timeout * 1000000ULL);
  for (;;) {
    t_ckpt_cut = 0;
    int r = mask ? NEXT(epoll_pwait)(ep, ev, max, timeout, mask) : NEXT(epoll_wait)(ep, ev, max, timeout);
    if (!cut_by_ckpt(r)) return r;
    if (timeout > 0) timeout = ns_ms(deadline_left(&d));
  }
}

EXPORT int epoll_wait(int ep, struct epoll_event *ev, int max, int timeout) {
  return epoll_pwait(ep, ev, max, timeout, NULL);
}

EXPORT int epoll_pwait2(int ep, struct epoll_event *ev, int max, const struct timespec *tmo, const sigset_t *mask) {
  sigset_t copy;
  mask = sans_ckpt(mask, &copy);
  struct rel_timeout t;
  rel_start(&t, tmo);
  for (;;) {
    t_ckpt_cut = 0;
    int r = DMTCP_NEXT_FOUND(epoll_pwait2) ? NEXT(epoll_pwait2)(ep, ev, max, t.arg, mask)
                               : (int)syscall(SYS_epoll_pwait2, ep, ev, max, t.arg, mask, (size_t)8);
    if (!cut_by_ckpt(r)) return r;
    rel_next(&t);
  }
}

/* ---- SysV IPC ---- */

EXPORT int semtimedop(int id, struct sembuf *ops, size_t n, const struct timespec *tmo) {
  struct rel_timeout t;
  rel_start(&t, tmo);
  for (;;) {
    t_ckpt_cut = 0;
    int r = NEXT(semtimedop)(id, ops, n, t.arg);
    if (!cut_by_ckpt(r)) return r;
    rel_next(&t);
  }
}

EXPORT int semop(int id, struct sembuf *ops, size_t n) {
  RESUMED(int, NEXT(semop)(id, ops, n))
}

EXPORT ssize_t msgrcv(int id, void *msg, size_t size, long type, int flags) {
  RESUMED(ssize_t, NEXT(msgrcv)(id, msg, size, type, flags))
}

EXPORT int msgsnd(int id, const void *msg, size_t size, int flags) {
  RESUMED(int, NEXT(msgsnd)(id, msg, size, flags))
}

/* ---- waiting for signals ---- */

EXPORT int sigtimedwait(const sigset_t *set, siginfo_t *info, const struct timespec *tmo) {
  sigset_t copy;
  set = sans_ckpt(set, &copy);
  struct rel_timeout t;
  rel_start(&t, tmo);
  for (;;) {
    t_ckpt_cut = 0;
    int r = NEXT(sigtimedwait)(set, info, t.arg);
    if (!cut_by_ckpt(r)) return r;
    rel_next(&t);
  }
}

EXPORT int sigwaitinfo(const sigset_t *set, siginfo_t *info) { return sigtimedwait(set, info, NULL); }

EXPORT int sigwait(const sigset_t *set, int *sig) {
  sigset_t copy;
  return NEXT(sigwait)(sans_ckpt(set, &copy), sig);
}

EXPORT int pause(void) {
  RESUMED(int, NEXT(pause)())
}

EXPORT int sigsuspend(const sigset_t *mask) {
  sigset_t copy;
  mask = sans_ckpt(mask, &copy);
  for (;;) {
    t_ckpt_cut = 0;
    int r = NEXT(sigsuspend)(mask);
    if (!cut_by_ckpt(r)) return r;
  }
}

/* ---- sleeping (the kernel reports what was left of a relative sleep) ---- */

/* The kernel reads the request and writes what is left of a relative sleep
 * into rem itself (EFAULT when it cannot); an interrupted sleep goes on from
 * there. */
EXPORT int nanosleep(const struct timespec *req, struct timespec *rem) {
  struct timespec left, r, *out = rem ? rem : &r;
  const struct timespec *arg = req;
  for (;;) {
    t_ckpt_cut = 0;
    int ret = NEXT(nanosleep)(arg, out);
    if (!cut_by_ckpt(ret)) return ret;
    left = *out;
    arg = &left;
  }
}

EXPORT int clock_nanosleep(clockid_t clock, int flags, const struct timespec *req, struct timespec *rem) {
  struct timespec left, r, *out = rem ? rem : &r;
  const struct timespec *arg = req;
  /* An absolute deadline is in the kernel's terms of the life it was given
   * in: a restart that changed the clock shift (clocks.c) moves it. */
  int64_t shift = dmtcp_clock_shift_ns(clock);
  for (;;) {
    t_ckpt_cut = 0;
    int ret = NEXT(clock_nanosleep)(clock, flags, arg, out);
    if (ret != EINTR || !t_ckpt_cut) return ret;
    if (!(flags & TIMER_ABSTIME)) {
      left = *out;
      arg = &left;
    } else if (req && dmtcp_clock_shift_ns(clock) != shift) {
      int64_t ns = (int64_t)arg->tv_sec * 1000000000LL + arg->tv_nsec + shift - dmtcp_clock_shift_ns(clock);
      if (ns < 0) ns = 0;
      shift = dmtcp_clock_shift_ns(clock);
      left.tv_sec = (time_t)(ns / 1000000000LL);
      left.tv_nsec = (long)(ns % 1000000000LL);
      arg = &left;
    }
  }
}

/* glibc's own sleep and usleep call an internal nanosleep we cannot see. */
EXPORT unsigned int sleep(unsigned int seconds) {
  struct timespec ts = {(time_t)seconds, 0}, rem = {0, 0};
  if (nanosleep(&ts, &rem) == 0) return 0;
  return (unsigned int)rem.tv_sec + (rem.tv_nsec > 0);
}

EXPORT int usleep(useconds_t usec) {
  struct timespec ts = {(time_t)(usec / 1000000), (long)(usec % 1000000) * 1000};
  return nanosleep(&ts, NULL);
}

/* ---- sockets: SO_RCVTIMEO / SO_SNDTIMEO make their calls end with EINTR ---- */

/* After a cut call on a socket with a timeout, waits for readiness with
 * what is left of it.  Returns 0 when the timeout is over (the call reports
 * EAGAIN, or EINPROGRESS for connect, as the kernel would), 1 to call again. */
static int sock_wait(int fd, short events, int optname, const struct deadline *start) {
  struct timeval tv;
  unsigned len = sizeof tv;
  if (sys_getsockopt(fd, SOL_SOCKET, optname, &tv, &len) < 0 || (tv.tv_sec == 0 && tv.tv_usec == 0)) return 1;
  struct deadline d = *start;
  d.length = (uint64_t)tv.tv_sec * 1000000000ULL + (uint64_t)tv.tv_usec * 1000ULL;
  uint64_t left = deadline_left(&d);
  if (!left) return 0;
  struct pollfd p = {fd, events, 0};
  int r = NEXT(poll)(&p, 1, ns_ms(left));
  return r != 0;
}

static int fd_blocking(int fd) {
  long fl = sys_fcntl(fd, F_GETFL, 0);
  return fl >= 0 && !(fl & O_NONBLOCK);
}

EXPORT int accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags) {
  struct deadline d;
  deadline_start(&d, 0);
  for (;;) {
    t_ckpt_cut = 0;
    int r = NEXT(accept4)(fd, addr, len, flags);
    if (!cut_by_ckpt(r)) return r;
    if (!sock_wait(fd, POLLIN, SO_RCVTIMEO, &d)) return errno = EAGAIN, -1;
  }
}

EXPORT int accept(int fd, struct sockaddr *addr, socklen_t *len) { return accept4(fd, addr, len, 0); }

/* An interrupted TCP connect goes on in the background: calling again waits
 * for it (or reports EISCONN once it is done); a Unix one starts again. */
EXPORT int connect(int fd, const struct sockaddr *addr, socklen_t len) {
  struct deadline d;
  deadline_start(&d, 0);
  int again = 0;
  for (;;) {
    t_ckpt_cut = 0;
    int r = NEXT(connect)(fd, addr, len);
    if (!cut_by_ckpt(r)) return r < 0 && errno == EISCONN && again ? 0 : r;
    again = 1;
    if (!sock_wait(fd, POLLOUT, SO_SNDTIMEO, &d)) return errno = EINPROGRESS, -1;
  }
}

EXPORT ssize_t recvfrom(int fd, void *buf, size_t n, int flags, struct sockaddr *addr, socklen_t *alen) {
  struct deadline d;
  deadline_start(&d, 0);
  size_t got = 0;
  for (;;) {
    t_ckpt_cut = 0;
    ssize_t r = NEXT(recvfrom)(fd, (char *)buf + got, n - got, flags, addr, alen);
    if (cut_by_ckpt(r)) {
      if (!sock_wait(fd, POLLIN, SO_RCVTIMEO, &d)) return got ? (ssize_t)got : (errno = EAGAIN, -1);
      continue;
    }
    if (r < 0) return got ? (ssize_t)got : r;
    got += (size_t)r;
    /* MSG_WAITALL comes back short when a signal cuts it. */
    if (!(flags & MSG_WAITALL) || r == 0 || got >= n || !t_ckpt_cut) return (ssize_t)got;
  }
}

EXPORT ssize_t recv(int fd, void *buf, size_t n, int flags) { return recvfrom(fd, buf, n, flags, NULL, NULL); }

EXPORT ssize_t recvmsg(int fd, struct msghdr *msg, int flags) {
  struct deadline d;
  deadline_start(&d, 0);
  for (;;) {
    t_ckpt_cut = 0;
    ssize_t r = NEXT(recvmsg)(fd, msg, flags);
    if (!cut_by_ckpt(r)) return r;
    if (!sock_wait(fd, POLLIN, SO_RCVTIMEO, &d)) return errno = EAGAIN, -1;
  }
}

/* Writes the rest of a buffer after a checkpoint cut a blocking write
 * short, until all is written or something else stops it (then the count so
 * far is returned; an error shows up at the next call, as after any short
 * write). */
typedef ssize_t (*write_fn)(int fd, const void *buf, size_t n, int flags);
static ssize_t write_plain(int fd, const void *buf, size_t n, int flags) {
  (void)flags;
  return NEXT(write)(fd, buf, n);
}
static ssize_t write_send(int fd, const void *buf, size_t n, int flags) { return NEXT(send)(fd, buf, n, flags); }

static size_t write_rest(write_fn fn, int fd, const char *buf, size_t n, int flags) {
  int saved = errno;
  size_t done = 0;
  while (done < n) {
    t_ckpt_cut = 0;
    ssize_t r = fn(fd, buf + done, n - done, flags);
    if (cut_by_ckpt(r)) continue;
    if (r <= 0) break;
    done += (size_t)r;
    if (done < n && !t_ckpt_cut) break;
  }
  errno = saved;
  return done;
}

/* The same for an iovec write cut after `done` bytes, segment by segment. */
static ssize_t writev_rest(write_fn fn, int fd, const struct iovec *iov, int cnt, size_t done, int flags) {
  size_t total = done, skip = done;
  for (int i = 0; i < cnt; i++) {
    if (skip >= iov[i].iov_len) {
      skip -= iov[i].iov_len;
      continue;
    }
    size_t want = iov[i].iov_len - skip;
    size_t w = write_rest(fn, fd, (const char *)iov[i].iov_base + skip, want, flags);
    skip = 0;
    total += w;
    if (w < want) break;
  }
  return (ssize_t)total;
}

static size_t iov_total(const struct iovec *iov, int cnt) {
  size_t n = 0;
  for (int i = 0; i < cnt; i++) n += iov[i].iov_len;
  return n;
}

EXPORT ssize_t sendto(int fd, const void *buf, size_t n, int flags, const struct sockaddr *addr, socklen_t alen) {
  struct deadline d;
  deadline_start(&d, 0);
  for (;;) {
    t_ckpt_cut = 0;
    ssize_t r = NEXT(sendto)(fd, buf, n, flags, addr, alen);
    if (cut_by_ckpt(r)) {
      if (!sock_wait(fd, POLLOUT, SO_SNDTIMEO, &d)) return errno = EAGAIN, -1;
      continue;
    }
    if (r >= 0 && (size_t)r < n && t_ckpt_cut && !(flags & MSG_DONTWAIT) && fd_blocking(fd))
      return (ssize_t)((size_t)r + write_rest(write_send, fd, (const char *)buf + r, n - (size_t)r, flags));
    return r;
  }
}

EXPORT ssize_t send(int fd, const void *buf, size_t n, int flags) { return sendto(fd, buf, n, flags, NULL, 0); }

EXPORT ssize_t sendmsg(int fd, const struct msghdr *msg, int flags) {
  struct deadline d;
  deadline_start(&d, 0);
  for (;;) {
    t_ckpt_cut = 0;
    ssize_t r = NEXT(sendmsg)(fd, msg, flags);
    if (cut_by_ckpt(r)) {
      if (!sock_wait(fd, POLLOUT, SO_SNDTIMEO, &d)) return errno = EAGAIN, -1;
      continue;
    }
    /* The ancillary data went with the first part; the rest is plain bytes. */
    if (r >= 0 && t_ckpt_cut && !(flags & MSG_DONTWAIT) && (size_t)r < iov_total(msg->msg_iov, (int)msg->msg_iovlen) &&
        fd_blocking(fd))
      return writev_rest(write_send, fd, msg->msg_iov, (int)msg->msg_iovlen, (size_t)r, flags);
    return r;
  }
}

/* ---- read and write: EINTR from sockets with timeouts (retried with the
 * full timeout: no start time is taken on these hot paths), short writes on
 * blocking pipes and sockets ---- */

EXPORT ssize_t read(int fd, void *buf, size_t n) {
  RESUMED(ssize_t, NEXT(read)(fd, buf, n))
}

EXPORT ssize_t readv(int fd, const struct iovec *iov, int cnt) {
  RESUMED(ssize_t, NEXT(readv)(fd, iov, cnt))
}

EXPORT ssize_t write(int fd, const void *buf, size_t n) {
  for (;;) {
    t_ckpt_cut = 0;
    ssize_t r = NEXT(write)(fd, buf, n);
    if (cut_by_ckpt(r)) continue;
    if (r >= 0 && (size_t)r < n && t_ckpt_cut && fd_blocking(fd))
      return (ssize_t)((size_t)r + write_rest(write_plain, fd, (const char *)buf + r, n - (size_t)r, 0));
    return r;
  }
}

EXPORT ssize_t writev(int fd, const struct iovec *iov, int cnt) {
  for (;;) {
    t_ckpt_cut = 0;
    ssize_t r = NEXT(writev)(fd, iov, cnt);
    if (cut_by_ckpt(r)) continue;
    if (r >= 0 && t_ckpt_cut && (size_t)r < iov_total(iov, cnt) && fd_blocking(fd))
      return writev_rest(write_plain, fd, iov, cnt, (size_t)r, 0);
    return r;
  }
}

/* ---- POSIX message queues and semaphores (absolute timeouts) ---- */

EXPORT ssize_t mq_timedreceive(mqd_t q, char *msg, size_t n, unsigned int *prio, const struct timespec *abs) {
  RESUMED(ssize_t, NEXT(mq_timedreceive)(q, msg, n, prio, abs))
}
EXPORT ssize_t mq_receive(mqd_t q, char *msg, size_t n, unsigned int *prio) {
  RESUMED(ssize_t, NEXT(mq_receive)(q, msg, n, prio))
}

EXPORT int mq_timedsend(mqd_t q, const char *msg, size_t n, unsigned int prio, const struct timespec *abs) {
  RESUMED(int, NEXT(mq_timedsend)(q, msg, n, prio, abs))
}
EXPORT int mq_send(mqd_t q, const char *msg, size_t n, unsigned int prio) {
  RESUMED(int, NEXT(mq_send)(q, msg, n, prio))
}

EXPORT int sem_wait(sem_t *s) {
  RESUMED(int, NEXT(sem_wait)(s))
}

EXPORT int sem_timedwait(sem_t *s, const struct timespec *abs) {
  RESUMED(int, NEXT(sem_timedwait)(s, abs))
}

EXPORT int sem_clockwait(sem_t *s, clockid_t clock, const struct timespec *abs) {
  RESUMED(int, NEXT(sem_clockwait)(s, clock, abs))
}

/* ---- asynchronous I/O and raw system calls ---- */

static long raw_result(long r) {
  if (r < 0 && r > -4096) {
    errno = (int)-r;
    return -1;
  }
  return r;
}

/* libaio's io_getevents, or the system call when libaio is not loaded. */
EXPORT int io_getevents(void *ctx, long min_nr, long nr, void *events, struct timespec *tmo) {
  struct rel_timeout t;
  rel_start(&t, tmo);
  for (;;) {
    t_ckpt_cut = 0;
    int r;
    if (DMTCP_NEXT_FOUND(io_getevents)) {
      r = NEXT(io_getevents)(ctx, min_nr, nr, events, (struct timespec *)t.arg);
      /* libaio returns -errno rather than setting errno. */
      if (r == -EINTR && t_ckpt_cut) {
        rel_next(&t);
        continue;
      }
      return r;
    }
    r = (int)raw_result(sys_call5(__NR_io_getevents, (long)ctx, min_nr, nr, (long)events, (long)t.arg));
    if (!cut_by_ckpt(r)) return r;
    rel_next(&t);
  }
}

static long futex_wait(long *a) {
  int cmd = (int)a[1] & FUTEX_CMD_MASK;
  /* FUTEX_WAIT takes a relative timeout, FUTEX_WAIT_BITSET an absolute one. */
  struct rel_timeout t;
  rel_start(&t, cmd == FUTEX_WAIT ? (const struct timespec *)a[3] : NULL);
  for (;;) {
    t_ckpt_cut = 0;
    long r = NEXT(syscall)(SYS_futex, a[0], a[1], a[2], cmd == FUTEX_WAIT ? (long)t.arg : a[3], a[4], a[5]);
    if (!cut_by_ckpt(r)) return r;
    rel_next(&t);
  }
}

EXPORT long syscall(long n, ...) {
  va_list ap;
  long a[6];
  va_start(ap, n);
  for (int i = 0; i < 6; i++) a[i] = va_arg(ap, long);
  va_end(ap);
  if (n == SYS_futex && (((int)a[1] & FUTEX_CMD_MASK) == FUTEX_WAIT || ((int)a[1] & FUTEX_CMD_MASK) == FUTEX_WAIT_BITSET))
    return futex_wait(a);
  if (n == SYS_io_getevents) return io_getevents((void *)a[0], a[1], a[2], (void *)a[3], (struct timespec *)a[4]);
  return NEXT(syscall)(n, a[0], a[1], a[2], a[3], a[4], a[5]);
}
