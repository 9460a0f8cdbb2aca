/* The descriptor numbers the runtime and the plugins keep for themselves
 * (coordinator socket, plugin scratch descriptors): they are not the
 * application's, so checkpoint scans leave them out and restores never
 * place an application descriptor there.  The range is defined once, in
 * protocol.h.  Safe everywhere. */
#ifndef DMTCP_FDS_H
#define DMTCP_FDS_H

#include "dmtcp/protocol.h"

#define DMTCP_PROTECTED_FD_LAST (DMTCP_PROTECTED_FD_BASE + DMTCP_PROTECTED_FD_COUNT - 1)

static inline int dmtcp_fd_protected(long fd) {
  return fd >= DMTCP_PROTECTED_FD_BASE && fd < DMTCP_PROTECTED_FD_BASE + DMTCP_PROTECTED_FD_COUNT;
}

#endif
