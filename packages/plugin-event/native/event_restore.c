/* Restart (REFILL, once plugin-file has put the files, pipes and FIFOs
 * back and refilled them): the loop over records.
 *
 *   1. every object (eventfd, signalfd, epoll instance) is made again at
 *      its number, by its kind's create;
 *   2. dups of it are made from it (one description again);
 *   3. epoll interest lists are filled, a set contained in another first;
 *   Before 1, the "event:share" barrier (event_share.c) says which objects
 *   another process held as the same description: the lowest holder makes
 *   each and sends it, the others place what they receive instead of
 *   making a copy (and do not fill its interest list: the maker does);
 *   one line for a shared object that nonetheless comes back as a copy. */
#include <fcntl.h>

#include "dmtcp/sys.h"
#include "event_plugin.h"

static int occupied(int fd) { return sys_fcntl(fd, F_GETFD, 0) >= 0; }

static void restore_object(struct event_rec *r) {
  const struct event_kind_ops *ops = event_ops(r);
  if (occupied(r->fd)) {
    /* Something else is back at this number (a plugin restored it):
     * replacing it would break that one instead. */
    event_log("fd %d (%s): the number is taken at restart; not restored", r->fd, ops->name);
    r->outcome = EO_FAILED;
    return;
  }
  long rc = event_install(ops->create(r), r->fd, r->cloexec);
  if (rc < 0) {
    event_log("fd %d (%s): cannot make it again (%s)", r->fd, ops->name, event_errno_name(rc));
    r->outcome = EO_FAILED;
    return;
  }
  r->outcome = EO_RESTORED;
}

static void restore_dup(struct event_table *t, struct event_rec *r) {
  const struct event_rec *lead = &t->recs[r->leader];
  if (lead->outcome != EO_RESTORED || occupied(r->fd)) {
    r->outcome = EO_FAILED;
    return;
  }
  long rc = sys_dup3(lead->fd, r->fd, r->cloexec ? O_CLOEXEC : 0);
  r->outcome = rc < 0 ? EO_FAILED : EO_RESTORED;
}

static void fill_sets(struct event_table *t) {
  for (int progress = 1; progress;) {
    progress = 0;
    for (size_t i = 0; i < t->nrecs; i++) {
      struct event_rec *r = &t->recs[i];
      const struct event_kind_ops *ops = event_ops(r);
      if (r->leader != (int)i || r->filled || !ops->fill) continue;
      if (r->outcome != EO_RESTORED) {
        r->filled = 1;
        continue;
      }
      if (ops->fill_ready && !ops->fill_ready(t, r)) continue;
      ops->fill(t, r);
      r->filled = 1;
      progress = 1;
    }
  }
}

/* A description another process made: placed at its number, or, when it
 * did not come, a copy made here. */
static void restore_received(struct event_rec *r, size_t i) {
  const struct event_kind_ops *ops = event_ops(r);
  long fd = event_share_take(i);
  if (fd >= 0 && !occupied(r->fd)) {
    long rc = event_install(fd, r->fd, r->cloexec);
    if (rc == 0) {
      r->outcome = EO_RESTORED;
      r->filled = 1; /* its maker fills the interest list, which is the description's */
      return;
    }
    fd = rc;
  } else if (fd >= 0) {
    sys_close((int)fd);
  }
  event_log("fd %d (%s): the process sharing it did not send it (%s); it comes back as this process's own copy", r->fd,
            ops->name, event_errno_name(fd));
  restore_object(r);
}

void event_restore(struct event_table *t) {
  /* Every process reaches the barrier, whatever its table holds. */
  event_share_plan(t);
  if (!t->valid) {
    event_share_finish();
    return;
  }
  for (size_t i = 0; i < t->nrecs; i++) {
    t->recs[i].outcome = EO_PENDING;
    t->recs[i].filled = 0;
  }
  for (size_t i = 0; i < t->nrecs; i++)
    if (t->recs[i].leader == (int)i && event_share_role(i) != '<') restore_object(&t->recs[i]);
  event_share_send(t);
  for (size_t i = 0; i < t->nrecs; i++)
    if (t->recs[i].leader == (int)i && event_share_role(i) == '<') restore_received(&t->recs[i], i);
  for (size_t i = 0; i < t->nrecs; i++)
    if (t->recs[i].leader != (int)i) restore_dup(t, &t->recs[i]);
  fill_sets(t);
  for (size_t i = 0; i < t->nrecs; i++) {
    const struct event_rec *r = &t->recs[i];
    if (r->leader == (int)i && r->shared_pid && event_share_role(i) == '=')
      event_log("fd %d (%s) was one object with fd %d of pid %ld at checkpoint; after restart each process has its own",
                r->fd, event_ops(r)->name, r->shared_fd, r->shared_pid);
    event_debug("fd %d (%s): %s%s", r->fd, event_ops(r)->name, r->outcome == EO_RESTORED ? "restored" : "not restored",
                event_share_role(r->leader) == '<' ? ", shared with the process that made it" : "");
  }
  event_share_finish();
}
