/* signalfd: its mask and flags.  The signals it would read are pending
 * signals of the process or thread, which the core saves and queues again
 * before the program runs: nothing of them lives in the signalfd. */
#include <fcntl.h>
#include <sys/signalfd.h>

#include "dmtcp/sys.h"
#include "event_plugin.h"

static void describe(struct event_table *t, struct event_rec *r, const char *fdinfo, size_t len) {
  (void)t;
  uint64_t mask = 0;
  if (event_fdinfo_u64(fdinfo, len, "sigmask", 16, &mask) < 0)
    event_log("fd %d (signalfd): no sigmask in /proc/self/fdinfo; it comes back reading no signal", r->fd);
  r->sigmask = mask;
}

static long create(const struct event_rec *r) {
  uint64_t mask = r->sigmask;
  return sys_call4(__NR_signalfd4, -1, (long)&mask, sizeof mask, (r->flags & O_NONBLOCK) ? SFD_NONBLOCK : 0);
}

const struct event_kind_ops event_signalfd_ops = {
    .name = "signalfd",
    .link = "anon_inode:[signalfd]",
    .describe = describe,
    .create = create,
};
