/* In-flight bytes of the pairs with both ends in the computation.
 *
 * DRAIN: every user thread of every process is stopped, so nothing new is
 * written.  Each end sends the round's token and reads what its peer sent
 * until the peer's token arrives: then everything the peer had written,
 * whether still in its send queue or in our receive queue, is ours, and
 * the connection is empty.  All pairs of the process are served by one
 * poll loop, both ends of a local pair included, and the peers in other
 * processes run the same loop at the same time.
 *
 * REFILL: only the sender can put bytes into a receive queue.  Each end
 * sends back to its peer, framed by their length, the bytes it drained;
 * each end reads that frame (the bytes it had sent itself) and writes them
 * again.  The same on resume and on a restart, over the new connection.
 *
 * No malloc: the bytes live in mmap'd memory the image keeps. */
#include <errno.h>
#include <poll.h>
#include <sys/mman.h>

#include "dmtcp/sys.h"
#include "socket_plugin.h"

#define DRAIN_TIMEOUT_MS 15000
#define CHUNK 65536

void socket_bytes_free(struct socket_bytes *b) {
  if (b->p) sys_munmap_ptr(b->p, b->cap);
  b->p = 0;
  b->len = b->cap = 0;
}

/* Room for at least `need` more bytes; 0 or -errno. */
static long reserve(struct socket_bytes *b, size_t need) {
  if (b->cap - b->len >= need) return 0;
  size_t cap = b->cap ? b->cap * 2 : CHUNK;
  while (cap - b->len < need) cap *= 2;
  long err = 0;
  if (!b->p) {
    void *p = sys_mmap_anon(cap, &err);
    if (!p) return err;
    b->p = p;
  } else {
    long r = sys_mremap((uint64_t)(uintptr_t)b->p, b->cap, cap, MREMAP_MAYMOVE, 0);
    if (r < 0 && r > -4096) return r;
    b->p = (char *)r;
  }
  b->cap = cap;
  return 0;
}

static int is_pair_leader(const struct socket_table *t, size_t i) {
  return t->recs[i].role == SR_PAIR && t->recs[i].leader == (int)i;
}

static int ends_with_token(const struct socket_table *t, const struct socket_bytes *b) {
  if (b->len < sizeof t->token) return 0;
  const unsigned char *tail = (const unsigned char *)b->p + b->len - sizeof t->token;
  for (size_t i = 0; i < sizeof t->token; i++)
    if (tail[i] != t->token[i]) return 0;
  return 1;
}

/* Per pair end, for the loops below. */
static struct {
  size_t out_done;  /* bytes of the token (DRAIN) or frame (REFILL) sent */
  size_t in_hdr;    /* REFILL: bytes of the peer's 8-byte length read */
  uint64_t in_len;  /* REFILL: the length the peer announced */
  unsigned char hdr[8], out_hdr[8];
  int in_done;
  int active;
} st[SOCKET_MAX_FDS];
static struct pollfd pfd[SOCKET_MAX_FDS];
static int pidx[SOCKET_MAX_FDS];

#define SEND_FLAGS (MSG_DONTWAIT | MSG_NOSIGNAL)

/* Sends from buf[*done..n); 0, or -errno other than EAGAIN. */
static long send_some(int fd, const void *buf, size_t n, size_t *done) {
  while (*done < n) {
    long w = socket_sys_sendto(fd, (const char *)buf + *done, n - *done, SEND_FLAGS);
    if (w == -EAGAIN || w == -EINTR) return 0;
    if (w < 0) return w;
    *done += (size_t)w;
  }
  return 0;
}

static void drain_read(struct socket_table *t, size_t i) {
  struct socket_rec *r = &t->recs[i];
  for (;;) {
    if (reserve(&r->drained, CHUNK) < 0) {
      socket_log("fd %d: no memory for its in-flight bytes", r->fd);
      st[i].in_done = 1;
      return;
    }
    long n = socket_sys_recvfrom(r->fd, r->drained.p + r->drained.len, r->drained.cap - r->drained.len, MSG_DONTWAIT);
    if (n == -EINTR) continue;
    if (n == 0 || (n < 0 && n != -EAGAIN)) {
      /* The peer is gone or reset: what was read is all there is. */
      st[i].in_done = 1;
      return;
    }
    if (n < 0) return;
    r->drained.len += (size_t)n;
    if (ends_with_token(t, &r->drained)) {
      r->drained.len -= sizeof t->token;
      st[i].in_done = 1;
      return;
    }
  }
}

void socket_drain(struct socket_table *t) {
  size_t pending = 0;
  for (size_t i = 0; i < t->nrecs; i++) {
    st[i].active = is_pair_leader(t, i);
    st[i].out_done = 0;
    st[i].in_done = 0;
    if (st[i].active) {
      t->recs[i].drained.len = 0;
      pending++;
    }
  }
  t->drained = pending > 0;
  long deadline = sys_clock_ms() + DRAIN_TIMEOUT_MS;
  while (pending > 0) {
    size_t n = 0;
    for (size_t i = 0; i < t->nrecs; i++) {
      if (!st[i].active) continue;
      struct socket_rec *r = &t->recs[i];
      if (send_some(r->fd, t->token, sizeof t->token, &st[i].out_done) < 0) st[i].out_done = sizeof t->token;
      if (!st[i].in_done) drain_read(t, i);
      if (st[i].out_done == sizeof t->token && st[i].in_done) {
        st[i].active = 0;
        pending--;
        continue;
      }
      pfd[n] = (struct pollfd){r->fd, (short)(POLLIN | (st[i].out_done < sizeof t->token ? POLLOUT : 0)), 0};
      pidx[n++] = (int)i;
    }
    if (pending == 0) break;
    if (sys_clock_ms() > deadline) {
      for (size_t k = 0; k < n; k++)
        socket_log("fd %d: its peer did not finish draining within %d ms; bytes after what was read are lost", t->recs[pidx[k]].fd,
                   DRAIN_TIMEOUT_MS);
      break;
    }
    sys_poll(pfd, n, 50);
  }
  for (size_t i = 0; i < t->nrecs; i++)
    if (is_pair_leader(t, i) && t->recs[i].drained.len)
      socket_debug("fd %d: %lu in-flight bytes drained", t->recs[i].fd, (unsigned long)t->recs[i].drained.len);
}

static void refill_read(struct socket_rec *r, size_t i) {
  while (st[i].in_hdr < 8) {
    long n = socket_sys_recvfrom(r->fd, st[i].hdr + st[i].in_hdr, 8 - st[i].in_hdr, MSG_DONTWAIT);
    if (n == -EAGAIN || n == -EINTR) return;
    if (n <= 0) {
      st[i].in_done = 1;
      return;
    }
    st[i].in_hdr += (size_t)n;
    if (st[i].in_hdr == 8) {
      uint64_t v = 0;
      for (int k = 7; k >= 0; k--) v = v << 8 | st[i].hdr[k];
      st[i].in_len = v;
      r->returned.len = 0;
      if (reserve(&r->returned, v ? v : 1) < 0) {
        socket_log("fd %d: no memory for %lu bytes to refill", r->fd, (unsigned long)v);
        st[i].in_done = 1;
        return;
      }
    }
  }
  /* Exactly the frame: what follows is the peer's refill, the program's. */
  while (r->returned.len < st[i].in_len) {
    long n = socket_sys_recvfrom(r->fd, r->returned.p + r->returned.len, st[i].in_len - r->returned.len, MSG_DONTWAIT);
    if (n == -EAGAIN || n == -EINTR) return;
    if (n <= 0) {
      st[i].in_done = 1;
      return;
    }
    r->returned.len += (size_t)n;
  }
  st[i].in_done = 1;
}

static int frame_sent(const struct socket_rec *r, size_t i) { return st[i].out_done == 8 + r->drained.len; }

static void frame_send(struct socket_rec *r, size_t i) {
  size_t done = st[i].out_done;
  if (done < 8) {
    long e = send_some(r->fd, st[i].out_hdr, 8, &done);
    st[i].out_done = done;
    if (e < 0 || done < 8) {
      if (e < 0) st[i].out_done = 8 + r->drained.len;
      return;
    }
  }
  size_t body = st[i].out_done - 8;
  long e = send_some(r->fd, r->drained.p, r->drained.len, &body);
  st[i].out_done = e < 0 ? 8 + r->drained.len : 8 + body;
}

void socket_refill(struct socket_table *t) {
  if (!t->drained) return;
  t->drained = 0;
  size_t pending = 0;
  for (size_t i = 0; i < t->nrecs; i++) {
    struct socket_rec *r = &t->recs[i];
    st[i].active = is_pair_leader(t, i) && r->outcome != SO_FAILED;
    st[i].out_done = st[i].in_hdr = 0;
    st[i].in_len = 0;
    st[i].in_done = 0;
    r->returned.len = 0;
    uint64_t v = r->drained.len;
    for (int k = 0; k < 8; k++, v >>= 8) st[i].out_hdr[k] = (unsigned char)v;
    if (st[i].active) pending++;
  }
  long deadline = sys_clock_ms() + DRAIN_TIMEOUT_MS;
  while (pending > 0) {
    size_t n = 0;
    for (size_t i = 0; i < t->nrecs; i++) {
      if (!st[i].active) continue;
      struct socket_rec *r = &t->recs[i];
      if (!frame_sent(r, i)) frame_send(r, i);
      if (!st[i].in_done) refill_read(r, i);
      if (frame_sent(r, i) && st[i].in_done) {
        st[i].active = 0;
        pending--;
        continue;
      }
      pfd[n] = (struct pollfd){r->fd, (short)(POLLIN | (frame_sent(r, i) ? 0 : POLLOUT)), 0};
      pidx[n++] = (int)i;
    }
    if (pending == 0) break;
    if (sys_clock_ms() > deadline) {
      for (size_t k = 0; k < n; k++)
        socket_log("fd %d: its peer did not take part in the refill within %d ms; its in-flight bytes are lost", t->recs[pidx[k]].fd,
                   DRAIN_TIMEOUT_MS);
      break;
    }
    sys_poll(pfd, n, 50);
  }
  /* The bytes this end had sent, sent again: they fit, they were in these
   * buffers before. */
  for (size_t i = 0; i < t->nrecs; i++) {
    struct socket_rec *r = &t->recs[i];
    if (!is_pair_leader(t, i) || r->returned.len == 0) continue;
    /* The receive side may have less room than before (a new connection's
     * window starts small, TCP counts overhead): room in our send queue
     * for all of it, then the program's own size again.  Bytes queued
     * beyond a smaller size stay queued. */
    int now = 0, want = (int)(r->returned.len > (1u << 30) ? (1u << 30) : r->returned.len) + 65536;
    socket_getint(r->fd, SOL_SOCKET, SO_SNDBUF, &now);
    if (now / 2 < want) {
      if (sys_setsockopt(r->fd, SOL_SOCKET, SO_SNDBUFFORCE, &want, sizeof want) < 0)
        sys_setsockopt(r->fd, SOL_SOCKET, SO_SNDBUF, &want, sizeof want);
    }
    size_t done = 0;
    long until = sys_clock_ms() + DRAIN_TIMEOUT_MS;
    while (done < r->returned.len) {
      if (send_some(r->fd, r->returned.p, r->returned.len, &done) < 0) break;
      if (done == r->returned.len || sys_clock_ms() > until) break;
      struct pollfd p = {r->fd, POLLOUT, 0};
      sys_poll(&p, 1, 50);
    }
    int back = r->opts.sndbuf / 2;
    if (now / 2 < want && back > 0) sys_setsockopt(r->fd, SOL_SOCKET, SO_SNDBUF, &back, sizeof back);
    if (done < r->returned.len)
      socket_log("fd %d: %lu of %lu in-flight bytes could not be put back", r->fd, (unsigned long)(r->returned.len - done),
                 (unsigned long)r->returned.len);
  }
}

void socket_release(struct socket_table *t) {
  /* A round abandoned after DRAIN still gets its bytes back. */
  socket_refill(t);
  for (size_t i = 0; i < t->nrecs; i++) {
    socket_bytes_free(&t->recs[i].drained);
    socket_bytes_free(&t->recs[i].returned);
  }
  t->valid = 0;
}
