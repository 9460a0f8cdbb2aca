/* eventfd: the counter and EFD_SEMAPHORE.  The counter is read from
 * fdinfo ("eventfd-count", hex), never with read(2), which would consume
 * it. */
#include <errno.h>
#include <fcntl.h>
#include <sys/eventfd.h>

#include "dmtcp/sys.h"
#include "event_plugin.h"

static void describe(struct event_table *t, struct event_rec *r, const char *fdinfo, size_t len) {
  (void)t;
  uint64_t v = 0;
  if (event_fdinfo_u64(fdinfo, len, "eventfd-count", 16, &v) < 0) {
    event_log("fd %d (eventfd): its counter is not in /proc/self/fdinfo; it comes back as 0", r->fd);
    v = 0;
  }
  r->count = v;
  uint64_t sem;
  if (event_fdinfo_u64(fdinfo, len, "eventfd-semaphore", 10, &sem) == 0) r->semaphore = sem != 0;
  else r->semaphore = event_wrapped_semaphore(r->fd);
}

static long create(const struct event_rec *r) {
  int flags = (r->semaphore ? EFD_SEMAPHORE : 0) | ((r->flags & O_NONBLOCK) ? EFD_NONBLOCK : 0);
  /* eventfd2 takes a 32-bit initial value; a write adds the full 64 bits. */
  long fd = sys_call2(__NR_eventfd2, 0, flags);
  if (fd < 0 || r->count == 0) return fd;
  uint64_t v = r->count;
  long w = sys_write((int)fd, &v, sizeof v);
  if (w != (long)sizeof v) {
    sys_close((int)fd);
    return w < 0 ? w : -EIO;
  }
  return fd;
}

const struct event_kind_ops event_eventfd_ops = {
    .name = "eventfd",
    .link = "anon_inode:[eventfd]",
    .describe = describe,
    .create = create,
};
