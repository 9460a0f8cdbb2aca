/* listen(): the kernel shows no socket's backlog to the process that
 * listens, so the wrapper notes it, keyed by the socket's inode (a number
 * can be closed and reused, an inode of an open socket cannot).  The
 * next definition comes from the table of dmtcp/next.h, filled when the
 * library loads. */
#include <sys/socket.h>
#include <sys/stat.h>

#include "dmtcp/next.h"
#include "dmtcp/sys.h"
#include "dmtcp/visibility.h"
#include "socket_plugin.h"

#define SOCKET_WRAPPED(X) X(listen)
DMTCP_NEXT_TABLE(SOCKET_WRAPPED)

#define BACKLOG_SLOTS 256
static struct {
  uint64_t ino;
  int backlog;
} backlogs[BACKLOG_SLOTS];
static unsigned next_slot;

int socket_backlog_of(uint64_t ino) {
  for (unsigned i = 0; i < BACKLOG_SLOTS; i++) {
    uint64_t k = __atomic_load_n(&backlogs[i].ino, __ATOMIC_ACQUIRE);
    if (k == ino && k != 0) return __atomic_load_n(&backlogs[i].backlog, __ATOMIC_RELAXED);
  }
  return -1;
}

void socket_backlog_note(uint64_t ino, int backlog) {
  for (unsigned i = 0; i < BACKLOG_SLOTS; i++) {
    if (__atomic_load_n(&backlogs[i].ino, __ATOMIC_ACQUIRE) == ino) {
      __atomic_store_n(&backlogs[i].backlog, backlog, __ATOMIC_RELAXED);
      return;
    }
  }
  /* Oldest first when full: a socket noted long ago is the likeliest closed. */
  unsigned i = __atomic_fetch_add(&next_slot, 1, __ATOMIC_RELAXED) % BACKLOG_SLOTS;
  __atomic_store_n(&backlogs[i].ino, 0, __ATOMIC_RELEASE);
  __atomic_store_n(&backlogs[i].backlog, backlog, __ATOMIC_RELAXED);
  __atomic_store_n(&backlogs[i].ino, ino, __ATOMIC_RELEASE);
}

DMTCP_EXPORT int listen(int fd, int backlog) {
  int rc = DMTCP_NEXT(listen)(fd, backlog);
  if (rc == 0) {
    struct stat st;
    if (sys_fstat(fd, &st) == 0) socket_backlog_note((uint64_t)st.st_ino, backlog);
  }
  return rc;
}
