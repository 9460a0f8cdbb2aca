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
  struct socket_opts opts;
};

struct socket_table {
  struct socket_rec recs[SOCKET_MAX_FDS];
  size_t nrecs;
  int valid;     /* a complete scan is in the table */
  int truncated;
};

extern DMTCP_HIDDEN struct socket_table g_socket_table;

DMTCP_HIDDEN void socket_scan(struct socket_table *t);
DMTCP_HIDDEN void socket_restore(struct socket_table *t);

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

#endif
