/* eventfd() through a next-function table: notes which descriptors were
 * made with EFD_SEMAPHORE, for kernels whose fdinfo does not show
 * "eventfd-semaphore" (before 6.4).  The raw eventfd2 system call through
 * syscall(2) is not seen; fdinfo covers it where the kernel shows it. */
#include <dlfcn.h>
#include <errno.h>
#include <sys/eventfd.h>

#include "dmtcp/next.h"
#include "event_plugin.h"

#define EVENT_WRAPPED(X) X(eventfd)
DMTCP_NEXT_TABLE(EVENT_WRAPPED)

#define SEM_FDS 65536
static unsigned char semaphore_fd[SEM_FDS / 8];

int event_wrapped_semaphore(int fd) {
  if (fd < 0 || fd >= SEM_FDS) return 0;
  return (__atomic_load_n(&semaphore_fd[fd / 8], __ATOMIC_RELAXED) >> (fd % 8)) & 1;
}

DMTCP_EXPORT int eventfd(unsigned int count, int flags) {
  int fd = DMTCP_NEXT(eventfd)(count, flags);
  if (fd >= 0 && fd < SEM_FDS) {
    unsigned char bit = (unsigned char)(1u << (fd % 8));
    if (flags & EFD_SEMAPHORE) __atomic_or_fetch(&semaphore_fd[fd / 8], bit, __ATOMIC_RELAXED);
    else __atomic_and_fetch(&semaphore_fd[fd / 8], (unsigned char)~bit, __ATOMIC_RELAXED);
  }
  return fd;
}
