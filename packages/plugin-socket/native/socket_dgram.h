/* Datagram and message sockets (UDP, Unix SOCK_DGRAM, Unix SOCK_SEQPACKET):
 * what socket_dgram.c saves and restores and what socket_dgram_wrap.c
 * needs to give refilled datagrams their original sender. */
#ifndef SOCKET_DGRAM_H
#define SOCKET_DGRAM_H

#include "socket_plugin.h"

/* socket_scan.c: whether r (domain and type known) is one of ours. */
DMTCP_HIDDEN int socket_dgram_kind(const struct socket_rec *r);
/* DRAIN: each queued message copied (MSG_PEEK, the queue is left as it is,
 * so a resume needs nothing), with its sender. */
DMTCP_HIDDEN void socket_dgram_save(struct socket_table *t);
/* REFILL of a restart: made again, bound, refilled, connected, placed. */
DMTCP_HIDDEN void socket_dgram_restore(struct socket_table *t);

/* socket_dgram_wrap.c.  Messages refilled from a stand-in sender carry the
 * stand-in's address; the receive wrappers replace it with the original,
 * in order.  saved: `count` records as socket_dgram.c keeps them. */
DMTCP_HIDDEN void socket_dgram_fixes_reset(void);
DMTCP_HIDDEN void socket_dgram_fix_add(int fd, uint64_t ino, const struct sockaddr_storage *standin, unsigned standin_len,
                                       const char *saved, size_t saved_len, unsigned count);
/* At DRAIN: the sender a peeked message really has (the original when it
 * came from the stand-in and is the k-th of them still queued). */
DMTCP_HIDDEN int socket_dgram_fix_peek(int fd, unsigned k, const struct sockaddr_storage *from, unsigned fromlen,
                                       const char **name, unsigned *namelen);

#endif
