/* The options a socket keeps across a restart.  Sizes are set only when
 * they differ from what a fresh socket has: setting SO_RCVBUF turns the
 * kernel's autotuning off, which a program that never set it did not ask
 * for. */
#include <netinet/in.h>
#include <netinet/tcp.h>

#include "dmtcp/sys.h"
#include "socket_plugin.h"

static int is_tcp(const struct socket_rec *r) {
  return (r->domain == AF_INET || r->domain == AF_INET6) && r->type == SOCK_STREAM;
}

static void read_timeo(int fd, int name, long *sec, long *usec) {
  struct { long sec, usec; } tv = {0, 0};
  unsigned len = sizeof tv;
  if (sys_getsockopt(fd, SOL_SOCKET, name, &tv, &len) < 0) tv.sec = tv.usec = 0;
  *sec = tv.sec;
  *usec = tv.usec;
}

void socket_opts_read(int fd, const struct socket_rec *r, struct socket_opts *o) {
  socket_getint(fd, SOL_SOCKET, SO_REUSEADDR, &o->reuseaddr);
  socket_getint(fd, SOL_SOCKET, SO_REUSEPORT, &o->reuseport);
  socket_getint(fd, SOL_SOCKET, SO_KEEPALIVE, &o->keepalive);
  socket_getint(fd, SOL_SOCKET, SO_SNDBUF, &o->sndbuf);
  socket_getint(fd, SOL_SOCKET, SO_RCVBUF, &o->rcvbuf);
  read_timeo(fd, SO_RCVTIMEO, &o->rcvtimeo.sec, &o->rcvtimeo.usec);
  read_timeo(fd, SO_SNDTIMEO, &o->sndtimeo.sec, &o->sndtimeo.usec);
  o->have_nodelay = is_tcp(r) && socket_getint(fd, IPPROTO_TCP, TCP_NODELAY, &o->nodelay) == 0;
  o->have_v6only = r->domain == AF_INET6 && socket_getint(fd, IPPROTO_IPV6, IPV6_V6ONLY, &o->v6only) == 0;
}

static long set_int(int fd, int level, int name, int want, int now) {
  if (want == now) return 0;
  return sys_setsockopt(fd, level, name, &want, sizeof want);
}

static long set_timeo(int fd, int name, long sec, long usec) {
  struct { long sec, usec; } tv = {sec, usec};
  return sys_setsockopt(fd, SOL_SOCKET, name, &tv, sizeof tv);
}

long socket_opts_apply(int fd, const struct socket_rec *r, const struct socket_opts *o) {
  struct socket_opts now = {0};
  socket_opts_read(fd, r, &now);
  long first = 0, e;
#define KEEP(expr) do { e = (expr); if (e < 0 && first == 0) first = e; } while (0)
  KEEP(set_int(fd, SOL_SOCKET, SO_REUSEADDR, o->reuseaddr, now.reuseaddr));
  KEEP(set_int(fd, SOL_SOCKET, SO_REUSEPORT, o->reuseport, now.reuseport));
  KEEP(set_int(fd, SOL_SOCKET, SO_KEEPALIVE, o->keepalive, now.keepalive));
  /* The kernel reports twice what was set. */
  if (o->sndbuf != now.sndbuf) KEEP(set_int(fd, SOL_SOCKET, SO_SNDBUF, o->sndbuf / 2, -1));
  if (o->rcvbuf != now.rcvbuf) KEEP(set_int(fd, SOL_SOCKET, SO_RCVBUF, o->rcvbuf / 2, -1));
  if (o->rcvtimeo.sec != now.rcvtimeo.sec || o->rcvtimeo.usec != now.rcvtimeo.usec)
    KEEP(set_timeo(fd, SO_RCVTIMEO, o->rcvtimeo.sec, o->rcvtimeo.usec));
  if (o->sndtimeo.sec != now.sndtimeo.sec || o->sndtimeo.usec != now.sndtimeo.usec)
    KEEP(set_timeo(fd, SO_SNDTIMEO, o->sndtimeo.sec, o->sndtimeo.usec));
  if (o->have_nodelay && now.have_nodelay) KEEP(set_int(fd, IPPROTO_TCP, TCP_NODELAY, o->nodelay, now.nodelay));
#undef KEEP
  return first;
}
