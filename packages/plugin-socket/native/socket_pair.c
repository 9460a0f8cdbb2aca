/* Restart: the pairs with both ends in the computation connected again.
 * The policy chose at checkpoint which end listens: it opens a loopback
 * listener of the pair's family on a fresh address and reports it at the
 * socket:addrs barrier; the other end gets that address in its reply and
 * connects.  Every process connects before it accepts, and its listeners
 * exist before the barrier, so no process waits for another one that
 * waits for it.  Both ends in one process: a socketpair (Unix) or a
 * loopback connection made here.  Then each new socket goes to the old
 * number with its options. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>

#include "dmtcp/fmt.h"
#include "dmtcp/plugin.h"
#include "dmtcp/sys.h"
#include "socket_plugin.h"
#include "socket_wire.h"

#define ACCEPT_TIMEOUT_MS 15000

static char record[SOCKET_RECORD_MAX];
static char reply[SOCKET_REPLY_MAX + 1];

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

/* The program's buffer sizes, on a socket before its handshake (a
 * listener's accepted sockets inherit them).  TCP cuts segments to half
 * the largest window the peer ever offered: sizes set only after the
 * handshake leave a receive window smaller than one segment, and the
 * sender then moves bytes only on window probes, which the ACKs of the
 * other direction keep postponing, so that direction can stall for good.
 * Sizes the program never set are left to the kernel. */
static void buffers_before_handshake(long s, const struct socket_rec *r) {
  if (s < 0) return;
  int now = 0;
  if (socket_getint((int)s, SOL_SOCKET, SO_SNDBUF, &now) == 0 && now != r->opts.sndbuf && r->opts.sndbuf > 0) {
    int v = r->opts.sndbuf / 2;
    sys_setsockopt((int)s, SOL_SOCKET, SO_SNDBUF, &v, sizeof v);
  }
  if (socket_getint((int)s, SOL_SOCKET, SO_RCVBUF, &now) == 0 && now != r->opts.rcvbuf && r->opts.rcvbuf > 0) {
    int v = r->opts.rcvbuf / 2;
    sys_setsockopt((int)s, SOL_SOCKET, SO_RCVBUF, &v, sizeof v);
  }
}

static long connect_to(const struct socket_rec *r, const struct sockaddr_storage *a, unsigned alen) {
  int domain = r->domain;
  long s = sys_socket(domain, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) return s;
  buffers_before_handshake(s, r);
  long e = sys_connect((int)s, a, alen);
  if (e < 0) {
    sys_close((int)s);
    return e;
  }
  return s;
}

static long accept_one(long l) {
  struct pollfd p = {(int)l, POLLIN, 0};
  long e = sys_poll(&p, 1, ACCEPT_TIMEOUT_MS);
  if (e == 0) return -ETIMEDOUT;
  if (e < 0) return e;
  return socket_sys_accept4((int)l, SOCK_CLOEXEC);
}

static void report(struct socket_rec *r, long e, const char *how) {
  char addr[160];
  if (e < 0) {
    r->outcome = SO_FAILED;
    socket_log("fd %d (connection from %s): could not be made again (%s: %s)", r->fd, socket_addr_str(r, addr, sizeof addr), how,
               socket_errno_name(e));
  } else {
    r->outcome = SO_RESTORED;
    socket_debug("fd %d: connected again (%s)", r->fd, how);
  }
}

/* Both ends in this process; r is the lower index. */
static void restore_local(struct socket_table *t, struct socket_rec *r) {
  struct socket_rec *o = &t->recs[r->local_other];
  long a = -1, b = -1, e = 0;
  if (r->domain == AF_UNIX) {
    int sv[2];
    e = socket_sys_socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
    if (e == 0) a = sv[0], b = sv[1];
  } else {
    struct sockaddr_storage addr;
    unsigned alen;
    long l = socket_loopback_listener(r->domain, &addr, &alen);
    e = l;
    buffers_before_handshake(l, o);
    if (l >= 0) {
      e = a = connect_to(r, &addr, alen);
      if (a >= 0) e = b = accept_one(l);
      sys_close((int)l);
    }
  }
  if (e < 0) {
    if (a >= 0) sys_close((int)a);
    report(r, e, "local pair");
    report(o, e, "local pair");
    return;
  }
  report(r, socket_place(r, a), "local pair");
  report(o, socket_place(o, b), "local pair");
}

static void put_hex(struct sbuf *sb, const void *p, size_t n) {
  const unsigned char *c = p;
  for (size_t i = 0; i < n; i++) sb_putx(sb, c[i], 2);
}

static struct socket_rec *by_pair(struct socket_table *t, unsigned id, int role) {
  for (size_t i = 0; i < t->nrecs; i++) {
    struct socket_rec *r = &t->recs[i];
    if (r->role == SR_PAIR && r->leader == (int)i && r->pair_id == id && r->pair_role == role) return r;
  }
  return 0;
}

/* One reply line "<id> <sockaddr hex>": connect. */
static void connect_line(struct socket_table *t, const char *p, const char *end) {
  uint64_t id = 0;
  const char *s = p;
  while (p < end && *p >= '0' && *p <= '9') p++;
  if (fmt_parse_dec(s, (size_t)(p - s), &id) <= 0 || p >= end || *p != ' ') goto bad;
  p++;
  struct sockaddr_storage a = {0};
  size_t n = (size_t)(end - p) / 2;
  if ((size_t)(end - p) % 2 || n > sizeof a) goto bad;
  for (size_t i = 0; i < n; i++) {
    int hi = hexval(p[2 * i]), lo = hexval(p[2 * i + 1]);
    if (hi < 0 || lo < 0) goto bad;
    ((unsigned char *)&a)[i] = (unsigned char)(hi << 4 | lo);
  }
  struct socket_rec *r = by_pair(t, (unsigned)id, PR_CONNECT);
  if (!r) goto bad;
  report(r, socket_place(r, connect_to(r, &a, (unsigned)n)), "connect");
  return;
bad:
  socket_log("barrier %s: malformed reply line", SOCKET_BARRIER_ADDRS);
}

void socket_pairs_restore(struct socket_table *t) {
  struct sbuf sb;
  sb_init(&sb, record, sizeof record);
  for (size_t i = 0; i < t->nrecs; i++) {
    struct socket_rec *r = &t->recs[i];
    if (r->role != SR_PAIR || r->leader != (int)i) continue;
    if (r->pair_role == PR_LOCAL) {
      if ((int)i < r->local_other) restore_local(t, r);
    } else if (r->pair_role == PR_LISTEN) {
      struct sockaddr_storage a;
      unsigned alen;
      r->restart_tmp = socket_loopback_listener(r->domain, &a, &alen);
      buffers_before_handshake(r->restart_tmp, r);
      if (r->restart_tmp < 0) {
        report(r, r->restart_tmp, "listen");
        continue; /* its peer's connect fails and says so */
      }
      sb_format(&sb, "L %u ", r->pair_id);
      put_hex(&sb, &a, alen);
      sb_putc(&sb, '\n');
    } else if (r->pair_role == PR_CONNECT) {
      sb_format(&sb, "C %u\n", r->pair_id);
    }
  }
  size_t len = SOCKET_REPLY_MAX;
  int rc = sb.overflow ? DMTCP_NS_ERROR : dmtcp_global_barrier(SOCKET_BARRIER_ADDRS, record, sb.len, reply, &len);
  if (rc != DMTCP_NS_OK) {
    socket_log("barrier %s failed (%d): connections between processes are not made again", SOCKET_BARRIER_ADDRS, rc);
    len = 0;
  }
  for (const char *p = reply, *end = reply + len; p < end;) {
    const char *nl = p;
    while (nl < end && *nl != '\n') nl++;
    connect_line(t, p, nl);
    p = nl + 1;
  }
  for (size_t i = 0; i < t->nrecs; i++) {
    struct socket_rec *r = &t->recs[i];
    if (r->role != SR_PAIR || r->leader != (int)i) continue;
    if (r->pair_role == PR_LISTEN && r->restart_tmp >= 0) {
      report(r, socket_place(r, rc == DMTCP_NS_OK ? accept_one(r->restart_tmp) : -ECONNABORTED), "accept");
      sys_close((int)r->restart_tmp);
      r->restart_tmp = -1;
    } else if (r->pair_role == PR_CONNECT && r->outcome == SO_PENDING) {
      report(r, -ECONNREFUSED, "connect");
    }
  }
}
