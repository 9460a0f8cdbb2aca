/* Checkpoint: describe every socket of the process into the table the
 * image captures. */
#include <fcntl.h>
#include <sys/stat.h>

#include "dmtcp/fmt.h"
#include "dmtcp/sys.h"
#include "socket_dgram.h"
#include "socket_plugin.h"

DMTCP_HIDDEN struct socket_table g_socket_table;

static int fds[SOCKET_MAX_FDS * 4];

static int is_socket(int fd, uint64_t *ino) {
  struct stat st;
  if (sys_fstat(fd, &st) < 0 || !S_ISSOCK(st.st_mode)) return 0;
  *ino = (uint64_t)st.st_ino;
  return 1;
}

static int role_of(int fd, struct socket_rec *r) {
  int listening = 0;
  socket_getint(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening);
  if (listening) return SR_LISTEN;
  if (socket_dgram_kind(r)) {
    r->peerlen = sizeof r->peer;
    if (socket_sys_getpeername(fd, &r->peer, &r->peerlen) < 0) r->peerlen = 0;
    if (r->domain == AF_UNIX) r->peer_ino = socket_unix_peer(r->ino);
    return SR_DGRAM;
  }
  if (r->domain == AF_NETLINK) {
    socket_netlink_scan(r);
    return SR_NETLINK;
  }
  if (r->type != SOCK_STREAM) return SR_UNHANDLED;
  if (r->domain != AF_INET && r->domain != AF_INET6 && r->domain != AF_UNIX) return SR_UNHANDLED;
  r->peerlen = sizeof r->peer;
  if (socket_sys_getpeername(fd, &r->peer, &r->peerlen) < 0) return SR_UNHANDLED;
  if (r->domain == AF_UNIX) r->peer_ino = socket_unix_peer(r->ino);
  /* socket_peers() learns whether the peer is in the computation. */
  return SR_CONNECTED;
}

static void describe(int fd, uint64_t ino, struct socket_rec *r) {
  r->fd = fd;
  r->ino = ino;
  r->outcome = SO_PENDING;
  r->pair_role = PR_NONE;
  r->pair_id = 0;
  r->local_other = -1;
  r->peer_ino = 0;
  r->peerlen = 0;
  r->restart_tmp = -1;
  socket_bytes_free(&r->drained);
  socket_bytes_free(&r->returned);
  socket_getint(fd, SOL_SOCKET, SO_DOMAIN, &r->domain);
  socket_getint(fd, SOL_SOCKET, SO_TYPE, &r->type);
  socket_getint(fd, SOL_SOCKET, SO_PROTOCOL, &r->protocol);
  long fl = sys_fcntl(fd, F_GETFL, 0);
  r->flags = fl < 0 ? 0 : (int)fl;
  long fdfl = sys_fcntl(fd, F_GETFD, 0);
  r->cloexec = fdfl > 0 && (fdfl & FD_CLOEXEC);
  r->addrlen = sizeof r->addr;
  if (socket_sys_getsockname(fd, &r->addr, &r->addrlen) < 0) r->addrlen = 0;
  r->role = role_of(fd, r);
  r->backlog = socket_backlog_of(ino);
  socket_opts_read(fd, r, &r->opts);
}

void socket_scan(struct socket_table *t) {
  size_t n = socket_list_fds(fds, sizeof fds / sizeof fds[0]);
  t->nrecs = 0;
  t->truncated = 0;
  t->drained = 0;
  for (size_t i = 0; i < n; i++) {
    uint64_t ino;
    /* 0-2 are whatever `dmtcp restart` is given. */
    if (fds[i] <= 2 || !is_socket(fds[i], &ino)) continue;
    if (t->nrecs == SOCKET_MAX_FDS) {
      t->truncated = 1;
      socket_log("more than %d sockets: fd %d and above are not saved", SOCKET_MAX_FDS, fds[i]);
      break;
    }
    struct socket_rec *r = &t->recs[t->nrecs];
    describe(fds[i], ino, r);
    r->leader = (int)t->nrecs;
    for (size_t j = 0; j < t->nrecs; j++)
      if (t->recs[j].ino == ino) {
        r->leader = t->recs[j].leader;
        break;
      }
    t->nrecs++;
  }
  t->valid = 1;
}
