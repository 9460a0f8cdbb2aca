/* What the socket plugin's library and its coordinator module share: the
 * barrier names and record sizes.  The one source of these facts: the build
 * generates src/generated/wire.ts from this header (dmtcp gen-constants),
 * and test/wire.test.ts fails when that file is stale.
 *
 * Records and replies are text, one item a line, fields separated by one
 * space; keys and addresses are lowercase hex or decimal, never spaces. */
#ifndef SOCKET_WIRE_H
#define SOCKET_WIRE_H

/* At DRAIN every process lists its connected stream sockets, one line
 *   "<index> <key> <peer key>"
 * (TCP: "t" and the hex of the local and remote family, port and address;
 * Unix: "u" and the decimal inode of the socket and of its peer).  The
 * reply starts with "nonce <16 hex digits>" (the end-of-data token of this
 * round), then one line per socket:
 *   "<index> ext"                        the peer is outside the computation
 *   "<index> shared"                     another process holds the same socket
 *   "<index> pair <id> listen"           restart: listen, the peer connects
 *   "<index> pair <id> connect"          restart: connect to the peer
 *   "<index> pair <id> local <index2>"   both ends here; the lower index makes both */
#define SOCKET_BARRIER_PEERS "socket:peers"
/* At REFILL of a restart every process sends "L <id> <sockaddr hex>" for the
 * pairs it listens for and "C <id>" for those it connects; the reply has
 * "<id> <sockaddr hex>" for each C line. */
#define SOCKET_BARRIER_ADDRS "socket:addrs"

#define SOCKET_RECORD_MAX 65536
#define SOCKET_REPLY_MAX 65536

#endif
