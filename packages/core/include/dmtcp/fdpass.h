/* Passing descriptors between the processes of a computation at restart:
 * each process opens a datagram endpoint with a name of its choosing in
 * the abstract namespace (no file, gone with the process), tells the
 * coordinator that name at a barrier, and the process that made an object
 * sends descriptors of it, SCM_RIGHTS, each with a small tag saying which
 * of the receiver's descriptions it is.
 *
 * Sends never wait for a receiver: a full queue is met by taking in what
 * arrives here meanwhile and trying again, until a deadline.  A process
 * first sends everything it owes, then waits for what it is owed, so no
 * cycle of processes can block.  A datagram is taken only from a sender
 * with the receiver's uid (or root) and with the endpoint's magic: another
 * user cannot hand a restarted program descriptors.
 *
 * Safe on the restore path: raw system calls, stack memory only, kernel
 * ABI structures restated here (no libc header). */
#ifndef DMTCP_FDPASS_H
#define DMTCP_FDPASS_H

#include <stddef.h>
#include <stdint.h>

#include "dmtcp/fds.h"
#include "dmtcp/sys.h"

/* Descriptors (and tags) per datagram; SCM_MAX_FD is 253. */
#define FDPASS_BATCH 64
/* Longest endpoint name: sun_path less the abstract namespace's NUL. */
#define FDPASS_NAME_MAX 107

/* What a descriptor is, for its receiver: two numbers the sender copies
 * from the coordinator's reply (an owner and its fd, say).  has_fd is 0
 * when the sender could not make it (the receiver then gets -EIO). */
struct fdpass_tag {
  uint64_t key;
  int32_t sub;
  int32_t has_fd;
};

struct fdpass_ep {
  long sock; /* the endpoint's descriptor, or -errno */
  uint32_t magic;
  char name[FDPASS_NAME_MAX + 1];
  size_t name_len;
  unsigned rejected;  /* datagrams ignored: another user, or not ours */
  unsigned truncated; /* datagrams whose descriptors were cut off */
};

/* Called for each tag that arrives: fd is a descriptor the callee now
 * owns (close-on-exec), or -EIO when the sender had none to give. */
typedef void (*fdpass_arrival_fn)(void *ctx, const struct fdpass_tag *tag, long fd);

/* ---- kernel ABI (x86-64) ---- */
#define FDPASS_AF_UNIX 1
#define FDPASS_SOCK_DGRAM 2
#define FDPASS_SOCK_NONBLOCK 04000
#define FDPASS_SOCK_CLOEXEC 02000000
#define FDPASS_SOL_SOCKET 1
#define FDPASS_SO_RCVBUF 8
#define FDPASS_SO_PASSCRED 16
#define FDPASS_SCM_RIGHTS 1
#define FDPASS_SCM_CREDENTIALS 2
#define FDPASS_MSG_CTRUNC 0x8
#define FDPASS_MSG_DONTWAIT 0x40
#define FDPASS_MSG_NOSIGNAL 0x4000
#define FDPASS_MSG_CMSG_CLOEXEC 0x40000000
#define FDPASS_F_SETFD 2
#define FDPASS_F_DUPFD_CLOEXEC 1030
#define FDPASS_EINTR 4
#define FDPASS_EIO 5
#define FDPASS_EAGAIN 11
#define FDPASS_EINVAL 22
#define FDPASS_ETIMEDOUT 110
#define FDPASS_ENOBUFS 105

struct fdpass_sockaddr_un_ {
  uint16_t family;
  char path[108];
};
struct fdpass_iovec_ {
  void *base;
  size_t len;
};
struct fdpass_msghdr_ {
  void *name;
  int namelen;
  struct fdpass_iovec_ *iov;
  size_t iovlen;
  void *control;
  size_t controllen;
  unsigned flags;
};
struct fdpass_cmsghdr_ {
  size_t len;
  int level;
  int type;
};
struct fdpass_ucred_ {
  uint32_t pid, uid, gid;
};

#define FDPASS_CMSG_ALIGN_(n) (((n) + sizeof(size_t) - 1) & ~(sizeof(size_t) - 1))
#define FDPASS_CMSG_LEN_(n) (FDPASS_CMSG_ALIGN_(sizeof(struct fdpass_cmsghdr_)) + (n))
#define FDPASS_CMSG_SPACE_(n) (FDPASS_CMSG_ALIGN_(sizeof(struct fdpass_cmsghdr_)) + FDPASS_CMSG_ALIGN_(n))
#define FDPASS_CMSG_DATA_(c) ((unsigned char *)(c) + FDPASS_CMSG_ALIGN_(sizeof(struct fdpass_cmsghdr_)))

struct fdpass_wire_ {
  uint32_t magic;
  uint32_t n;
  struct fdpass_tag tag[FDPASS_BATCH];
};

union fdpass_cbuf_ {
  struct fdpass_cmsghdr_ h;
  char buf[FDPASS_CMSG_SPACE_(sizeof(int) * FDPASS_BATCH) + FDPASS_CMSG_SPACE_(sizeof(struct fdpass_ucred_))];
};

static inline void fdpass_copy_(void *to, const void *from, size_t n) {
  unsigned char *d = (unsigned char *)to;
  const unsigned char *s = (const unsigned char *)from;
  while (n--) *d++ = *s++;
}

static inline void fdpass_zero_(void *to, size_t n) {
  unsigned char *d = (unsigned char *)to;
  while (n--) *d++ = 0;
}

static inline int fdpass_addr_(struct fdpass_sockaddr_un_ *a, const char *name, size_t n) {
  fdpass_zero_(a, sizeof *a);
  a->family = FDPASS_AF_UNIX;
  if (n > FDPASS_NAME_MAX) n = FDPASS_NAME_MAX;
  fdpass_copy_(a->path + 1, name, n);
  return (int)(offsetof(struct fdpass_sockaddr_un_, path) + 1 + n);
}

/* fd moved to `base` or above, outside the runtime's protected range,
 * close-on-exec: out of the way of the numbers a restore places things at
 * (base is above all of them).  Returns the new descriptor or -errno. */
static inline long fdpass_park(long fd, int base) {
  if (fd < 0) return fd;
  if (fd >= base && !dmtcp_fd_protected(fd)) {
    sys_fcntl((int)fd, FDPASS_F_SETFD, 1 /* FD_CLOEXEC */);
    return fd;
  }
  int from = base;
  if (dmtcp_fd_protected(from)) from = DMTCP_PROTECTED_FD_LAST + 1;
  long moved = sys_fcntl((int)fd, FDPASS_F_DUPFD_CLOEXEC, from);
  sys_close((int)fd);
  return moved;
}

/* Opens the endpoint `name` (name_len bytes, at most FDPASS_NAME_MAX),
 * parked at `base` or above.  0, or -errno (also left in ep->sock). */
static inline long fdpass_open(struct fdpass_ep *ep, const char *name, size_t name_len, uint32_t magic, int base) {
  fdpass_zero_(ep, sizeof *ep);
  ep->magic = magic;
  if (name_len > FDPASS_NAME_MAX) return ep->sock = -FDPASS_EINVAL;
  fdpass_copy_(ep->name, name, name_len);
  ep->name_len = name_len;
  long s = sys_socket(FDPASS_AF_UNIX, FDPASS_SOCK_DGRAM | FDPASS_SOCK_CLOEXEC | FDPASS_SOCK_NONBLOCK, 0);
  s = fdpass_park(s, base);
  if (s < 0) return ep->sock = s;
  struct fdpass_sockaddr_un_ a;
  int alen = fdpass_addr_(&a, name, name_len);
  long rc = sys_bind((int)s, &a, (unsigned)alen);
  int on = 1;
  if (rc == 0) rc = sys_setsockopt((int)s, FDPASS_SOL_SOCKET, FDPASS_SO_PASSCRED, &on, sizeof on);
  if (rc < 0) {
    sys_close((int)s);
    return ep->sock = rc;
  }
  /* Room for many batches, so senders rarely meet a full queue. */
  int big = 1 << 20;
  sys_setsockopt((int)s, FDPASS_SOL_SOCKET, FDPASS_SO_RCVBUF, &big, sizeof big);
  ep->sock = s;
  return 0;
}

static inline void fdpass_close(struct fdpass_ep *ep) {
  if (ep->sock >= 0) sys_close((int)ep->sock);
  ep->sock = -1;
}

/* Takes in every datagram waiting, without blocking, handing each tag to
 * `arrived`.  Returns how many tags were handed over. */
static inline long fdpass_take_in(struct fdpass_ep *ep, fdpass_arrival_fn arrived, void *ctx) {
  long handed = 0;
  if (ep->sock < 0) return 0;
  for (;;) {
    struct fdpass_wire_ m;
    union fdpass_cbuf_ cb;
    struct fdpass_iovec_ iov = {&m, sizeof m};
    struct fdpass_msghdr_ h;
    fdpass_zero_(&h, sizeof h);
    h.iov = &iov;
    h.iovlen = 1;
    h.control = cb.buf;
    h.controllen = sizeof cb.buf;
    long n = sys_recvmsg((int)ep->sock, &h, FDPASS_MSG_DONTWAIT | FDPASS_MSG_CMSG_CLOEXEC);
    if (n == -FDPASS_EINTR) continue;
    if (n < 0) return handed;
    int fds[FDPASS_BATCH];
    int nfds = 0, trusted = 0;
    for (size_t off = 0; off + sizeof(struct fdpass_cmsghdr_) <= h.controllen;) {
      struct fdpass_cmsghdr_ *c = (struct fdpass_cmsghdr_ *)(cb.buf + off);
      if (c->len < sizeof *c || off + c->len > h.controllen) break;
      size_t data = c->len - FDPASS_CMSG_LEN_(0);
      if (c->level == FDPASS_SOL_SOCKET && c->type == FDPASS_SCM_RIGHTS) {
        for (size_t j = 0; j < data / sizeof(int); j++) {
          int fd;
          fdpass_copy_(&fd, FDPASS_CMSG_DATA_(c) + j * sizeof(int), sizeof fd);
          if (nfds < FDPASS_BATCH) fds[nfds++] = fd;
          else sys_close(fd);
        }
      } else if (c->level == FDPASS_SOL_SOCKET && c->type == FDPASS_SCM_CREDENTIALS && data >= sizeof(struct fdpass_ucred_)) {
        struct fdpass_ucred_ u;
        fdpass_copy_(&u, FDPASS_CMSG_DATA_(c), sizeof u);
        trusted = u.uid == (uint32_t)sys_getuid() || u.uid == 0;
      }
      off += FDPASS_CMSG_ALIGN_(c->len);
    }
    size_t head = offsetof(struct fdpass_wire_, tag);
    int ok = trusted && (size_t)n >= head && m.magic == ep->magic && m.n <= FDPASS_BATCH &&
             (size_t)n >= head + m.n * sizeof(struct fdpass_tag);
    if (!ok) ep->rejected++;
    if (h.flags & FDPASS_MSG_CTRUNC) ep->truncated++;
    int next = 0;
    for (uint32_t k = 0; ok && k < m.n; k++) {
      long fd = -FDPASS_EIO;
      if (m.tag[k].has_fd) {
        if (next >= nfds) break;
        fd = fds[next];
        fds[next++] = -1;
      }
      arrived(ctx, &m.tag[k], fd);
      handed++;
    }
    for (int j = 0; j < nfds; j++)
      if (fds[j] >= 0) sys_close(fds[j]);
  }
}

/* Sends n tags to the endpoint `to`, tags[k] with fds[k] (fds[k] < 0: the
 * tag alone, has_fd 0), in datagrams of FDPASS_BATCH.  While the
 * receiver's queue is full, takes in what arrives here (through `arrived`)
 * and tries again every millisecond until `deadline` (sys_clock_ms).
 * 0, or -errno of the first datagram that could not be sent (the rest are
 * still tried). */
static inline long fdpass_send(struct fdpass_ep *ep, const char *to, size_t to_len, const struct fdpass_tag *tags,
                               const int *fds, size_t n, long deadline, fdpass_arrival_fn arrived, void *ctx) {
  if (ep->sock < 0) return ep->sock;
  long first_err = 0;
  struct fdpass_sockaddr_un_ a;
  int alen = fdpass_addr_(&a, to, to_len);
  for (size_t at = 0; at < n;) {
    struct fdpass_wire_ m;
    int batch_fds[FDPASS_BATCH];
    int nfds = 0;
    m.magic = ep->magic;
    m.n = 0;
    for (; at < n && m.n < FDPASS_BATCH; at++) {
      struct fdpass_tag *t = &m.tag[m.n++];
      *t = tags[at];
      t->has_fd = fds[at] >= 0;
      if (fds[at] >= 0) batch_fds[nfds++] = fds[at];
    }
    union fdpass_cbuf_ cb;
    fdpass_zero_(&cb, sizeof cb);
    struct fdpass_iovec_ iov = {&m, offsetof(struct fdpass_wire_, tag) + m.n * sizeof(struct fdpass_tag)};
    struct fdpass_msghdr_ h;
    fdpass_zero_(&h, sizeof h);
    h.name = &a;
    h.namelen = alen;
    h.iov = &iov;
    h.iovlen = 1;
    if (nfds) {
      h.control = cb.buf;
      h.controllen = FDPASS_CMSG_SPACE_(sizeof(int) * (size_t)nfds);
      cb.h.len = FDPASS_CMSG_LEN_(sizeof(int) * (size_t)nfds);
      cb.h.level = FDPASS_SOL_SOCKET;
      cb.h.type = FDPASS_SCM_RIGHTS;
      fdpass_copy_(FDPASS_CMSG_DATA_(&cb.h), batch_fds, sizeof(int) * (size_t)nfds);
    }
    for (;;) {
      long rc = sys_sendmsg((int)ep->sock, &h, FDPASS_MSG_DONTWAIT | FDPASS_MSG_NOSIGNAL);
      if (rc >= 0) break;
      if (rc == -FDPASS_EINTR) continue;
      if ((rc == -FDPASS_EAGAIN || rc == -FDPASS_ENOBUFS) && sys_clock_ms() < deadline) {
        /* The receiver empties its queue once it is done sending too. */
        fdpass_take_in(ep, arrived, ctx);
        sys_nanosleep_ms(1);
        continue;
      }
      if (!first_err) first_err = rc;
      break;
    }
  }
  return first_err;
}

/* Waits until a datagram is waiting or `deadline` (sys_clock_ms) passes:
 * 1 or 0. */
static inline int fdpass_wait(const struct fdpass_ep *ep, long deadline) {
  if (ep->sock < 0) return 0;
  for (;;) {
    long left = deadline - sys_clock_ms();
    if (left <= 0) return 0;
    struct {
      int fd;
      short events, revents;
    } pfd = {(int)ep->sock, 1 /* POLLIN */, 0};
    long rc = sys_poll(&pfd, 1, left < 200 ? left : 200);
    if (rc > 0) return 1;
  }
}

#endif
