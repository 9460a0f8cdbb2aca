/* Datagram and message sockets across checkpoint and restart: UDP (IPv4,
 * IPv6), Unix SOCK_DGRAM and Unix SOCK_SEQPACKET.
 *
 * DRAIN: every message queued on such a socket is copied with MSG_PEEK and
 * SO_PEEK_OFF (each peek moves on by one message), with its sender, into
 * memory the image keeps.  The queue itself is left alone: on resume
 * nothing has to be put back, and the program reads the same messages it
 * would have read.  A message that carries descriptors (SCM_RIGHTS) is
 * kept without them, with one line naming the socket: the descriptors the
 * peek installed are closed, a restart cannot bring them back.
 *
 * REFILL of a restart, only the receiver's kernel queue can hold a message
 * the program reads with its boundaries, so the messages are sent again:
 *   - both ends of a Unix pair in this process (socketpair, or a
 *     SEQPACKET connection accepted here): a new socketpair, each queue
 *     refilled from the other end, which was its sender anyway;
 *   - any other datagram socket: a new socket bound to its old address
 *     (a Unix path the program had removed is bound, refilled and removed
 *     again), refilled from a stand-in sender before it is connected (a
 *     connected socket takes messages from its peer only), then connected
 *     to its old peer.  The stand-in's address is replaced by the original
 *     sender's in recvfrom/recvmsg (socket_dgram_wrap.c); the messages are
 *     real, so poll, epoll and FIONREAD see them.
 *
 * Record of one saved message: [u32 data length][u32 name length][name][data]. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "dmtcp/sys.h"
#include "socket_dgram.h"

#define SCRATCH (4u << 20)
#define CONNECT_WAIT_MS 3000
#define SEND_WAIT_MS 3000

static struct dgram_state {
  struct socket_bytes q;
  unsigned count;
  int local_other;  /* index of the other end of a Unix pair in this process, -1 */
  int path_gone;    /* bound to a path the program had unlinked */
  int broadcast;
  int had_fds;
} ds[SOCKET_MAX_FDS];

static void copy(void *d, const void *s, size_t n) {
  for (size_t i = 0; i < n; i++) ((char *)d)[i] = ((const char *)s)[i];
}

static int is_unix_path(const struct sockaddr_storage *a, unsigned len) {
  return a->ss_family == AF_UNIX && len > sizeof(sa_family_t) && ((const struct sockaddr_un *)a)->sun_path[0] != 0;
}

static int has_name(const struct socket_rec *r) {
  if (r->domain == AF_UNIX) return r->addrlen > sizeof(sa_family_t);
  if (r->addrlen == 0) return 0;
  return r->domain == AF_INET ? ((const struct sockaddr_in *)&r->addr)->sin_port != 0
                              : ((const struct sockaddr_in6 *)&r->addr)->sin6_port != 0;
}

static int is_connected(const struct socket_rec *r) {
  if (r->domain == AF_UNIX) return r->peerlen > sizeof(sa_family_t) || r->peer_ino != 0;
  return r->peerlen > 0;
}

/* A peer with an address to connect to again. */
static int peer_named(const struct socket_rec *r) {
  return r->domain == AF_UNIX ? r->peerlen > sizeof(sa_family_t) : r->peerlen > 0;
}

int socket_dgram_kind(const struct socket_rec *r) {
  if (r->domain == AF_UNIX) return r->type == SOCK_DGRAM || r->type == SOCK_SEQPACKET;
  if (r->domain == AF_INET || r->domain == AF_INET6) return r->type == SOCK_DGRAM && (r->protocol == 0 || r->protocol == IPPROTO_UDP);
  return 0;
}

static const char *what(const struct socket_rec *r) {
  if (r->domain != AF_UNIX) return r->domain == AF_INET ? "udp" : "udp6";
  return r->type == SOCK_SEQPACKET ? "unix seqpacket" : "unix dgram";
}

static long reserve(struct socket_bytes *b, size_t need) {
  if (b->cap - b->len >= need) return 0;
  size_t cap = b->cap ? b->cap * 2 : 65536;
  while (cap - b->len < need) cap *= 2;
  long err = 0;
  if (!b->p) {
    void *p = sys_mmap_anon(cap, &err);
    if (!p) return err;
    b->p = p;
  } else {
    long m = sys_mremap((uint64_t)(uintptr_t)b->p, b->cap, cap, MREMAP_MAYMOVE, 0);
    if (m < 0 && m > -4096) return m;
    b->p = (char *)m;
  }
  b->cap = cap;
  return 0;
}

static void close_passed_fds(struct msghdr *m) {
  for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR(m, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    int *fds = (int *)CMSG_DATA(c);
    for (size_t i = 0; i < n; i++) sys_close(fds[i]);
  }
}

static int carries_fds(struct msghdr *m) {
  if (m->msg_flags & MSG_CTRUNC) return 1;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR(m, c))
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) return 1;
  return 0;
}

static void save_queue(struct socket_rec *r, struct dgram_state *d, char *buf) {
  int old_off = -1;
  if (socket_getint(r->fd, SOL_SOCKET, SO_PEEK_OFF, &old_off) < 0) {
    socket_log("fd %d (%s): its queued messages cannot be read without taking them (no SO_PEEK_OFF); they will not be restored", r->fd,
               what(r));
    return;
  }
  int zero = 0;
  sys_setsockopt(r->fd, SOL_SOCKET, SO_PEEK_OFF, &zero, sizeof zero);
  for (unsigned k = 0;; k++) {
    struct sockaddr_storage from;
    char ctl[256] __attribute__((aligned(8)));
    struct iovec iov = {buf, SCRATCH};
    struct msghdr m = {0};
    m.msg_name = &from;
    m.msg_namelen = sizeof from;
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = ctl;
    m.msg_controllen = sizeof ctl;
    long n = sys_recvmsg(r->fd, &m, MSG_PEEK | MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (n == -EINTR) continue;
    if (n < 0) break;
    if (m.msg_flags & MSG_TRUNC) socket_log("fd %d (%s): a queued message longer than %u bytes is cut", r->fd, what(r), SCRATCH);
    if (carries_fds(&m)) {
      close_passed_fds(&m);
      if (!d->had_fds)
        socket_log("fd %d (%s): a queued message carries descriptors (SCM_RIGHTS); they will not be restored, its bytes will", r->fd,
                   what(r));
      d->had_fds = 1;
    }
    const char *name = (const char *)&from;
    unsigned namelen = r->type == SOCK_SEQPACKET ? 0 : m.msg_namelen;
    socket_dgram_fix_peek(r->fd, k, &from, namelen, &name, &namelen);
    uint32_t hdr[2] = {(uint32_t)n, namelen};
    if (reserve(&d->q, sizeof hdr + namelen + (size_t)n) < 0) {
      socket_log("fd %d (%s): no memory for its queued messages; those after %u are not kept", r->fd, what(r), d->count);
      break;
    }
    copy(d->q.p + d->q.len, hdr, sizeof hdr);
    copy(d->q.p + d->q.len + sizeof hdr, name, namelen);
    copy(d->q.p + d->q.len + sizeof hdr + namelen, buf, (size_t)n);
    d->q.len += sizeof hdr + namelen + (size_t)n;
    d->count++;
    /* An empty message does not move the peek offset: the next peek would
     * return it again. */
    if (n == 0) {
      socket_log("fd %d (%s): an empty queued message; the messages after it are not kept", r->fd, what(r));
      break;
    }
  }
  sys_setsockopt(r->fd, SOL_SOCKET, SO_PEEK_OFF, &old_off, sizeof old_off);
  if (d->count) socket_debug("fd %d (%s): %u queued messages saved", r->fd, what(r), d->count);
}

void socket_dgram_save(struct socket_table *t) {
  long err = 0;
  char *buf = 0;
  for (size_t i = 0; i < t->nrecs; i++) {
    struct socket_rec *r = &t->recs[i];
    struct dgram_state *d = &ds[i];
    socket_bytes_free(&d->q);
    d->count = 0;
    d->local_other = -1;
    d->path_gone = 0;
    d->had_fds = 0;
    if (r->role != SR_DGRAM || r->leader != (int)i) continue;
    socket_getint(r->fd, SOL_SOCKET, SO_BROADCAST, &d->broadcast);
    struct stat st;
    if (is_unix_path(&r->addr, r->addrlen))
      d->path_gone = sys_stat(((const struct sockaddr_un *)&r->addr)->sun_path, &st) < 0 || !S_ISSOCK(st.st_mode);
    if (r->domain == AF_UNIX && r->peer_ino)
      for (size_t j = 0; j < t->nrecs; j++)
        if (j != i && t->recs[j].leader == (int)j && t->recs[j].role == SR_DGRAM && t->recs[j].ino == r->peer_ino &&
            t->recs[j].peer_ino == r->ino && t->recs[j].type == r->type)
          d->local_other = (int)j;
    if (!buf && !(buf = sys_mmap_anon(SCRATCH, &err))) {
      socket_log("no memory to read queued messages: they will not be restored");
      return;
    }
    save_queue(r, d, buf);
  }
  if (buf) sys_munmap_ptr(buf, SCRATCH);
}

/* ---- restart ---- */

/* Room in fd's send queue for the messages about to be sent through it. */
static void room_to_send(int fd, size_t bytes) {
  int want = (int)(bytes > (1u << 29) ? (1u << 29) : bytes) * 2 + 65536, now = 0;
  socket_getint(fd, SOL_SOCKET, SO_SNDBUF, &now);
  if (now >= want) return;
  if (sys_setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &want, sizeof want) < 0)
    sys_setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &want, sizeof want);
}

/* Sends every saved message of d through `from` (connected to the
 * receiver); the number sent. */
static unsigned resend(int from, const struct dgram_state *d) {
  unsigned sent = 0;
  long until = sys_clock_ms() + SEND_WAIT_MS;
  for (size_t off = 0; off < d->q.len;) {
    uint32_t hdr[2];
    copy(hdr, d->q.p + off, sizeof hdr);
    const char *data = d->q.p + off + sizeof hdr + hdr[1];
    long w = socket_sys_sendto(from, data, hdr[0], MSG_DONTWAIT | MSG_NOSIGNAL);
    if ((w == -EAGAIN || w == -EINTR) && sys_clock_ms() < until) {
      sys_poll(0, 0, 10);
      continue;
    }
    if (w < 0) break;
    sent++;
    off += sizeof hdr + hdr[1] + hdr[0];
  }
  return sent;
}

static void report_lost(const struct socket_rec *r, const struct dgram_state *d, unsigned sent) {
  if (sent < d->count)
    socket_log("fd %d (%s): %u of %u queued messages could not be put back", r->fd, what(r), d->count - sent, d->count);
}

/* Where a stand-in reaches the socket bound at r->addr: a wildcard
 * address is reached on loopback. */
static void target_of(const struct socket_rec *r, struct sockaddr_storage *a, unsigned *alen) {
  copy(a, &r->addr, r->addrlen);
  *alen = r->addrlen;
  if (r->domain == AF_INET) {
    struct sockaddr_in *in = (struct sockaddr_in *)a;
    if (in->sin_addr.s_addr == htonl(INADDR_ANY)) in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  } else if (r->domain == AF_INET6) {
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)a;
    static const struct in6_addr any = IN6ADDR_ANY_INIT;
    int wild = 1;
    for (int k = 0; k < 16; k++) wild &= in6->sin6_addr.s6_addr[k] == any.s6_addr[k];
    if (wild) in6->sin6_addr = in6addr_loopback;
  }
}

static void refill_standalone(const struct socket_rec *r, const struct dgram_state *d, int s) {
  if (d->count == 0) return;
  if (!has_name(r)) {
    report_lost(r, d, 0);
    return;
  }
  struct sockaddr_storage to, standin;
  unsigned tolen, slen = sizeof standin;
  target_of(r, &to, &tolen);
  long f = sys_socket(r->domain, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  long e = f;
  if (f >= 0 && r->domain == AF_UNIX) {
    /* An autobound abstract name: what the wrappers recognise. */
    struct sockaddr_un any = {.sun_family = AF_UNIX};
    e = sys_bind((int)f, &any, sizeof(sa_family_t));
  }
  if (e >= 0) e = sys_connect((int)f, &to, tolen);
  if (e >= 0) e = socket_sys_getsockname((int)f, &standin, &slen);
  unsigned sent = 0;
  if (e >= 0) {
    room_to_send((int)f, d->q.len);
    struct stat st;
    if (sys_fstat(s, &st) == 0) socket_dgram_fix_add(r->fd, (uint64_t)st.st_ino, &standin, slen, d->q.p, d->q.len, d->count);
    sent = resend((int)f, d);
  }
  if (f >= 0) sys_close((int)f);
  report_lost(r, d, sent);
}

static void free_stale_path(const struct socket_rec *r) {
  if (!is_unix_path(&r->addr, r->addrlen)) return;
  struct stat st;
  const char *p = ((const struct sockaddr_un *)&r->addr)->sun_path;
  if (sys_stat(p, &st) == 0 && S_ISSOCK(st.st_mode)) sys_unlink(p);
}

/* Made, bound and refilled; connected later.  The socket or -errno. */
static long make_standalone(const struct socket_rec *r, const struct dgram_state *d) {
  long s = sys_socket(r->domain, r->type | SOCK_CLOEXEC, r->protocol);
  if (s < 0) return s;
  int fd = (int)s, one = 1;
  long e = 0;
  if (r->opts.reuseaddr) sys_setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (r->opts.reuseport) sys_setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  if (d->broadcast) sys_setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &one, sizeof one);
  if (r->opts.have_v6only) sys_setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &r->opts.v6only, sizeof(int));
  if (has_name(r)) {
    if (!d->path_gone) free_stale_path(r);
    e = sys_bind(fd, &r->addr, r->addrlen);
  }
  if (e == 0) {
    socket_opts_apply(fd, r, &r->opts);
    refill_standalone(r, d, fd);
    if (d->path_gone) sys_unlink(((const struct sockaddr_un *)&r->addr)->sun_path);
  }
  if (e < 0) {
    sys_close(fd);
    return e;
  }
  return fd;
}

static long connect_again(const struct socket_rec *r, int fd) {
  if (r->domain != AF_UNIX) return sys_connect(fd, &r->peer, r->peerlen);
  /* The peer may be in a process that has not bound it again yet. */
  long until = sys_clock_ms() + CONNECT_WAIT_MS, e;
  while ((e = sys_connect(fd, &r->peer, r->peerlen)) == -ECONNREFUSED || e == -ENOENT) {
    if (sys_clock_ms() > until) break;
    sys_poll(0, 0, 20);
  }
  return e;
}

static void done(struct socket_rec *r, long e, const char *how) {
  char addr[160];
  r->outcome = e < 0 ? SO_FAILED : SO_RESTORED;
  if (e < 0)
    socket_log("fd %d (%s on %s): not restored (%s: %s)", r->fd, what(r), socket_addr_str(r, addr, sizeof addr), how, socket_errno_name(e));
  else
    socket_debug("fd %d: %s on %s again (%s)", r->fd, what(r), socket_addr_str(r, addr, sizeof addr), how);
}

static void restore_local_pair(struct socket_table *t, size_t i) {
  struct socket_rec *a = &t->recs[i], *b = &t->recs[ds[i].local_other];
  struct dgram_state *da = &ds[i], *db = &ds[ds[i].local_other];
  int sv[2];
  long e = socket_sys_socketpair(AF_UNIX, a->type | SOCK_CLOEXEC, 0, sv);
  if (e < 0) {
    done(a, e, "socketpair");
    done(b, e, "socketpair");
    return;
  }
  room_to_send(sv[1], da->q.len);
  room_to_send(sv[0], db->q.len);
  report_lost(a, da, resend(sv[1], da));
  report_lost(b, db, resend(sv[0], db));
  done(a, socket_place(a, sv[0]), "pair");
  done(b, socket_place(b, sv[1]), "pair");
}

/* A SEQPACKET connection whose peer is not in this process reads as
 * closed, never as a closed or reused number. */
static long make_closed_seqpacket(void) {
  int sv[2];
  long e = socket_sys_socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv);
  if (e < 0) return e;
  sys_close(sv[1]);
  return sv[0];
}

void socket_dgram_restore(struct socket_table *t) {
  socket_dgram_fixes_reset();
  /* Every socket bound and refilled before any is connected: a peer in
   * this process is then there to connect to. */
  for (size_t i = 0; i < t->nrecs; i++) {
    struct socket_rec *r = &t->recs[i];
    struct dgram_state *d = &ds[i];
    if (r->role != SR_DGRAM || r->leader != (int)i) continue;
    if (d->local_other >= 0) {
      if ((int)i < d->local_other) restore_local_pair(t, i);
    } else if (r->type == SOCK_SEQPACKET && is_connected(r)) {
      char addr[160];
      long e = socket_place(r, make_closed_seqpacket());
      r->outcome = e < 0 ? SO_FAILED : SO_RESTORED;
      if (e == 0)
        socket_log("fd %d (unix seqpacket on %s): its peer is not in this process; it reads as closed", r->fd,
                   socket_addr_str(r, addr, sizeof addr));
    } else {
      r->restart_tmp = make_standalone(r, d);
      if (r->restart_tmp < 0) done(r, r->restart_tmp, "bind");
    }
  }
  for (size_t i = 0; i < t->nrecs; i++) {
    struct socket_rec *r = &t->recs[i];
    if (r->role != SR_DGRAM || r->leader != (int)i || r->restart_tmp < 0) continue;
    long e = peer_named(r) ? connect_again(r, (int)r->restart_tmp) : 0;
    if (e < 0) {
      sys_close((int)r->restart_tmp);
      done(r, e, "connect");
    } else {
      done(r, socket_place(r, r->restart_tmp), "bound");
    }
    r->restart_tmp = -1;
  }
}
