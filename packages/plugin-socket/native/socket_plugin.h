/* Internal interface of the socket plugin: the table of sockets saved at
 * checkpoint and the modules that fill and use it.
 *
 * Layering (a module calls only into modules below it):
 *
 *   socket_plugin.c   the phase script: which phase runs at which event
 *        |
 *   socket_scan.c     checkpoint: describe every socket of the process
 *   socket_restore.c  restart: make each socket again at its number
 *        |
 *   socket_peers.c    checkpoint: which connections have both ends in the
 *                     computation (the socket:peers barrier, src/policy.ts)
 *   socket_drain.c    checkpoint: in-flight bytes read out of those pairs;
 *                     refill: put back, on resume as on restart
 *   socket_pair.c     restart: the pairs connected again (socket:addrs)
 *   socket_dgram.c    UDP, Unix DGRAM/SEQPACKET: queues peeked, refilled at restart
 *                     (socket_dgram.h; socket_dgram_wrap.c gives senders back)
 *        |
 *   socket_diag.c     the peer of a Unix socket (sock_diag)
 *   socket_opts.c     the options a socket keeps (read, compare, set)
 *   socket_common.c   syscalls libc would give, fd listing, logging
 *   socket_wrappers.c listen(): the backlog, which the kernel does not show
 *
 * Everything on the checkpoint and restore paths uses raw system calls
 * (dmtcp/sys.h), the sbuf formatter and static memory: another thread may
 * be stopped inside malloc or stdio. */
#ifndef SOCKET_PLUGIN_H
#define SOCKET_PLUGIN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "dmtcp/visibility.h"

#define SOCKET_MAX_FDS 512

enum socket_role {
  SR_UNHANDLED = 0, /* a kind this plugin does not restore (yet) */
  SR_LISTEN,        /* bound and listening: bind and listen again */
  SR_PEER_GONE,     /* connected to something the restart cannot bring back */
  SR_CONNECTED,     /* a connected stream socket the policy has not placed yet */
  SR_PAIR,          /* both ends in the computation: drained, made again, refilled */
  SR_SHARED,        /* several processes hold it (fork): not restored yet */
  SR_DGRAM,         /* UDP, Unix DGRAM or SEQPACKET, not listening: socket_dgram.c */
  SR_NETLINK,       /* netlink: made again, bound to its groups (socket_netlink.c) */
};

enum socket_pair_role { PR_NONE = 0, PR_LISTEN, PR_CONNECT, PR_LOCAL };

/* In-flight bytes of one socket: mmap'd, so that the image keeps them
 * without malloc. */
struct socket_bytes {
  char *p;
  size_t len, cap;
};

enum socket_outcome { SO_PENDING = 0, SO_RESTORED, SO_FAILED };

/* The options a socket keeps; `have` has bit n for field n read at checkpoint. */
struct socket_opts {
  int reuseaddr, reuseport, keepalive, nodelay, v6only;
  int sndbuf, rcvbuf; /* as getsockopt reports them (the kernel doubles what was set) */
  struct { long sec, usec; } rcvtimeo, sndtimeo;
  int have_nodelay, have_v6only;
};

struct socket_rec {
  int fd;
  int leader;   /* index of the lowest fd on the same socket (own index if none) */
  int role;
  int outcome;
  int domain, type, protocol;
  int flags;    /* F_GETFL: O_NONBLOCK */
  int cloexec;
  int backlog;
  uint64_t ino;
  struct sockaddr_storage addr; /* getsockname */
  unsigned addrlen;
  struct sockaddr_storage peer; /* getpeername (connected) */
  unsigned peerlen;
  uint64_t peer_ino;            /* Unix: the peer's inode, 0 if unknown */
  struct socket_opts opts;
  /* SR_PAIR */
  int pair_role;
  unsigned pair_id;
  int local_other;              /* PR_LOCAL: index of the other end */
  struct socket_bytes drained;  /* what the peer had sent, read at DRAIN */
  struct socket_bytes returned; /* refill: what this end had sent, back from the peer */
  long restart_tmp;             /* restart: listener or socket not yet in place, -1 */
};

struct socket_table {
  struct socket_rec recs[SOCKET_MAX_FDS];
  size_t nrecs;
  unsigned char token[16]; /* the end-of-data mark of this round */
  int drained;   /* DRAIN read the pairs out: REFILL must put the bytes back */
  int valid;     /* a complete scan is in the table */
  int truncated;
};

extern DMTCP_HIDDEN struct socket_table g_socket_table;

DMTCP_HIDDEN void socket_scan(struct socket_table *t);
DMTCP_HIDDEN void socket_restore(struct socket_table *t);

/* socket_peers.c: sends the socket:peers record, marks each connected
 * socket SR_PAIR, SR_PEER_GONE or SR_SHARED; 0, or -1 when the barrier
 * failed (every connected socket is then SR_PEER_GONE). */
DMTCP_HIDDEN int socket_peers(struct socket_table *t);
/* socket_drain.c */
DMTCP_HIDDEN void socket_drain(struct socket_table *t);
DMTCP_HIDDEN void socket_refill(struct socket_table *t);
DMTCP_HIDDEN void socket_bytes_free(struct socket_bytes *b);
/* THREADS_RESUME: the drained bytes' memory given back, the table marked stale. */
DMTCP_HIDDEN void socket_release(struct socket_table *t);
/* socket_pair.c: restart; the pairs are connected again and installed. */
DMTCP_HIDDEN void socket_pairs_restore(struct socket_table *t);
DMTCP_HIDDEN long socket_place(struct socket_rec *r, long s);
/* socket_diag.c: the inode of the peer of Unix socket ino, 0 if none. */
DMTCP_HIDDEN uint64_t socket_unix_peer(uint64_t ino);
/* socket_common.c: a loopback listener of domain (AF_UNIX: an autobound
 * abstract name), its address in *a; the fd or -errno. */
DMTCP_HIDDEN long socket_loopback_listener(int domain, struct sockaddr_storage *a, unsigned *alen);
DMTCP_HIDDEN long socket_sys_sendto(int fd, const void *buf, size_t n, int flags);
DMTCP_HIDDEN long socket_sys_recvfrom(int fd, void *buf, size_t n, int flags);

/* socket_netlink.c: at checkpoint, forget a port id the kernel chose; at
 * restart, a socket of the same protocol bound to the same groups (fd or -errno). */
DMTCP_HIDDEN void socket_netlink_scan(struct socket_rec *r);
DMTCP_HIDDEN long socket_netlink_make(const struct socket_rec *r);

/* socket_opts.c */
DMTCP_HIDDEN void socket_opts_read(int fd, const struct socket_rec *r, struct socket_opts *o);
/* Sets on fd each option of o that differs from what fd has now; 0 or the first -errno. */
DMTCP_HIDDEN long socket_opts_apply(int fd, const struct socket_rec *r, const struct socket_opts *o);

/* socket_wrappers.c: the backlog the program gave listen() for the socket
 * with inode ino, or -1 when not seen. */
DMTCP_HIDDEN int socket_backlog_of(uint64_t ino);
/* A restored listener is a new inode: its backlog is noted again. */
DMTCP_HIDDEN void socket_backlog_note(uint64_t ino, int backlog);

/* socket_common.c */
DMTCP_HIDDEN long socket_sys_listen(int fd, int backlog);
DMTCP_HIDDEN long socket_sys_getsockname(int fd, void *addr, unsigned *len);
DMTCP_HIDDEN long socket_sys_getpeername(int fd, void *addr, unsigned *len);
DMTCP_HIDDEN long socket_sys_socketpair(int domain, int type, int proto, int sv[2]);
DMTCP_HIDDEN long socket_sys_accept4(int fd, int flags);
DMTCP_HIDDEN int socket_getint(int fd, int level, int name, int *out);
DMTCP_HIDDEN size_t socket_list_fds(int *out, size_t cap);
/* Moves tmp to fd with close-on-exec as asked, closing tmp; 0 or -errno. */
DMTCP_HIDDEN long socket_install(long tmp, int fd, int cloexec);
DMTCP_HIDDEN const char *socket_errno_name(long err);
DMTCP_HIDDEN void socket_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
DMTCP_HIDDEN void socket_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "127.0.0.1:8080", "[::1]:8080", "/path", "@abstract" into buf. */
DMTCP_HIDDEN const char *socket_addr_str(const struct socket_rec *r, char *buf, size_t cap);
DMTCP_HIDDEN const char *socket_sockaddr_str(const struct sockaddr_storage *ss, unsigned len, char *buf, size_t cap);

#endif
