/* Restart: each saved socket made again at its number.  Runs at REFILL,
 * after plugin-file has put every other descriptor back (the numbers it
 * leaves to us are free) and before plugin-event, loaded after this
 * plugin, puts sockets back into epoll sets. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "dmtcp/sys.h"
#include "socket_dgram.h"
#include "socket_plugin.h"

static const char *what(const struct socket_rec *r) {
  if (r->domain == AF_UNIX) return "unix";
  if (r->domain == AF_INET) return "tcp";
  if (r->domain == AF_INET6) return "tcp6";
  return "socket";
}

/* A Unix socket's file outlives the process that was killed; binding its
 * path again needs it gone.  Only a socket file is removed. */
static void free_unix_path(const struct socket_rec *r) {
  if (r->domain != AF_UNIX || r->addrlen <= sizeof(sa_family_t)) return;
  const struct sockaddr_un *un = (const struct sockaddr_un *)&r->addr;
  if (un->sun_path[0] == 0) return;
  struct stat st;
  if (sys_stat(un->sun_path, &st) == 0 && S_ISSOCK(st.st_mode)) sys_unlink(un->sun_path);
}

static long make_listener(const struct socket_rec *r) {
  long s = sys_socket(r->domain, r->type | SOCK_CLOEXEC, r->protocol);
  if (s < 0) return s;
  int fd = (int)s;
  /* Connections the old process accepted may linger in TIME_WAIT on the
   * port: bind with SO_REUSEADDR, then leave it as the program had it. */
  int one = 1;
  if (r->domain != AF_UNIX) sys_setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (r->opts.reuseport) sys_setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  if (r->opts.have_v6only) sys_setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &r->opts.v6only, sizeof(int));
  free_unix_path(r);
  long e = sys_bind(fd, &r->addr, r->addrlen);
  if (e == 0) e = socket_sys_listen(fd, r->backlog >= 0 ? r->backlog : 4096);
  if (e == 0) e = socket_opts_apply(fd, r, &r->opts);
  struct stat st;
  if (e == 0 && r->backlog >= 0 && sys_fstat(fd, &st) == 0) socket_backlog_note((uint64_t)st.st_ino, r->backlog);
  if (e < 0) {
    sys_close(fd);
    return e;
  }
  return fd;
}

/* A connected stream socket whose peer the restart cannot bring back: the
 * program sees its connection reset (read: ECONNRESET for TCP, 0 for Unix;
 * poll: POLLHUP/POLLERR) instead of a number that is closed or reused. */
static long make_reset_tcp(int domain) {
  long l = sys_socket(domain, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (l < 0) return l;
  struct sockaddr_storage a = {0};
  unsigned alen;
  if (domain == AF_INET) {
    struct sockaddr_in *in = (struct sockaddr_in *)&a;
    in->sin_family = AF_INET;
    in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    alen = sizeof *in;
  } else {
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&a;
    in6->sin6_family = AF_INET6;
    in6->sin6_addr = in6addr_loopback;
    alen = sizeof *in6;
  }
  long c = -1, acc = -1;
  long e = sys_bind((int)l, &a, alen);
  if (e == 0) e = socket_sys_listen((int)l, 1);
  if (e == 0) e = socket_sys_getsockname((int)l, &a, &alen);
  if (e == 0) e = c = sys_socket(domain, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (e >= 0) e = sys_connect((int)c, &a, alen);
  if (e == 0) e = acc = socket_sys_accept4((int)l, SOCK_CLOEXEC);
  if (e >= 0) {
    /* Closing with a zero linger sends RST instead of FIN. */
    struct { int onoff, linger; } lg = {1, 0};
    e = sys_setsockopt((int)acc, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  }
  if (acc >= 0) sys_close((int)acc);
  sys_close((int)l);
  if (e < 0) {
    if (c >= 0) sys_close((int)c);
    return e;
  }
  return c;
}

static long make_reset_unix(void) {
  int sv[2];
  long e = socket_sys_socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
  if (e < 0) return e;
  sys_close(sv[1]);
  return sv[0];
}

static long make_reset(const struct socket_rec *r) {
  return r->domain == AF_UNIX ? make_reset_unix() : make_reset_tcp(r->domain);
}

long socket_place(struct socket_rec *r, long s) {
  if (s < 0) return s;
  socket_opts_apply((int)s, r, &r->opts);
  long e = socket_install(s, r->fd, r->cloexec);
  if (e == 0 && (r->flags & O_NONBLOCK)) e = sys_fcntl(r->fd, F_SETFL, r->flags & (O_NONBLOCK | O_ASYNC));
  return e;
}

static void restore_one(struct socket_table *t, struct socket_rec *r) {
  char addr[160];
  long e;
  if (r->leader != (int)(r - t->recs)) {
    const struct socket_rec *l = &t->recs[r->leader];
    if (l->outcome != SO_RESTORED) return;
    e = sys_dup3(l->fd, r->fd, r->cloexec ? O_CLOEXEC : 0);
    r->outcome = e < 0 ? SO_FAILED : SO_RESTORED;
    return;
  }
  switch (r->role) {
    case SR_LISTEN:
      e = socket_place(r, make_listener(r));
      if (e < 0)
        socket_log("fd %d (%s listening on %s): not restored: %s", r->fd, what(r), socket_addr_str(r, addr, sizeof addr),
                   socket_errno_name(e));
      else
        socket_debug("fd %d: %s listening on %s again", r->fd, what(r), socket_addr_str(r, addr, sizeof addr));
      break;
    case SR_PAIR:
    case SR_DGRAM:
      return; /* socket_pairs_restore(), socket_dgram_restore() */
    case SR_NETLINK:
      e = socket_place(r, socket_netlink_make(r));
      if (e < 0) socket_log("fd %d (netlink protocol %d): not restored: %s", r->fd, r->protocol, socket_errno_name(e));
      else socket_debug("fd %d: netlink protocol %d again", r->fd, r->protocol);
      break;
    case SR_SHARED:
      e = socket_place(r, make_reset(r));
      if (e == 0)
        socket_log("fd %d (%s connection from %s): other processes hold it too (inherited across fork); not restored, it reads as reset",
                   r->fd, what(r), socket_addr_str(r, addr, sizeof addr));
      break;
    case SR_CONNECTED:
    case SR_PEER_GONE:
      e = socket_place(r, make_reset(r));
      if (e < 0)
        socket_log("fd %d (%s connection from %s): not restored: %s", r->fd, what(r), socket_addr_str(r, addr, sizeof addr),
                   socket_errno_name(e));
      else
        socket_log("fd %d (%s connection from %s): its peer is not part of the restart; it reads as reset", r->fd, what(r),
                   socket_addr_str(r, addr, sizeof addr));
      break;
    default:
      socket_log("fd %d (%s type %d): this kind of socket is not restored", r->fd, what(r), r->type);
      r->outcome = SO_FAILED;
      return;
  }
  r->outcome = e < 0 ? SO_FAILED : SO_RESTORED;
}

/* Every number a socket goes back to is taken by a placeholder first, so
 * that the sockets made on the way (listeners waiting for their peer,
 * the new sockets before they move) never land on one of them. */
static int is_target(const struct socket_table *t, long fd) {
  for (size_t i = 0; i < t->nrecs; i++)
    if (t->recs[i].fd == fd) return 1;
  return 0;
}

static void hold_numbers(struct socket_table *t) {
  /* The descriptor we copy from may itself land on a number we hold: it
   * stays there as that number's placeholder. */
  long null_fd;
  do null_fd = sys_open("/dev/null", O_RDONLY | O_CLOEXEC, 0);
  while (null_fd >= 0 && is_target(t, null_fd));
  if (null_fd < 0) return;
  for (size_t i = 0; i < t->nrecs; i++)
    if (sys_fcntl(t->recs[i].fd, F_GETFD, 0) == -EBADF) sys_dup3((int)null_fd, t->recs[i].fd, O_CLOEXEC);
  sys_close((int)null_fd);
}

void socket_restore(struct socket_table *t) {
  if (!t->valid) return;
  /* A restore interrupted (abandoned round, crash) leaves nothing half-made behind. */
  for (size_t i = 0; i < t->nrecs; i++) {
    t->recs[i].outcome = SO_PENDING;
    t->recs[i].restart_tmp = -1;
  }
  hold_numbers(t);
  for (size_t i = 0; i < t->nrecs; i++)
    if (t->recs[i].leader == (int)i) restore_one(t, &t->recs[i]);
  socket_pairs_restore(t);
  socket_dgram_restore(t);
  for (size_t i = 0; i < t->nrecs; i++)
    if (t->recs[i].leader != (int)i) restore_one(t, &t->recs[i]);
  for (size_t i = 0; i < t->nrecs; i++)
    if (t->recs[i].outcome != SO_RESTORED) sys_close(t->recs[i].fd);
}
