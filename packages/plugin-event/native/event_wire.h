/* What crosses between the event plugin's library and its coordinator
 * module.  The one source of these facts: the build generates
 * src/generated/wire.ts from this header (dmtcp gen-constants).  The
 * record format is described in src/share.ts. */
#ifndef EVENT_WIRE_H
#define EVENT_WIRE_H

/* At REFILL of a restart: who makes again each eventfd, signalfd and epoll
 * set that processes held as one description, and whom it sends it to. */
#define EVENT_BARRIER_SHARE "event:share"
/* The largest reply of that barrier. */
#define EVENT_SHARE_REPLY_CAP 65536

#endif
