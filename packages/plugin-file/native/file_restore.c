/* Restart side: put every descriptor the table describes back at its number,
 * with its flags, offset and sharing.  Runs in the restarted process's
 * checkpoint thread at RESTART, before any application thread runs again.
 *
 * What the restarted process starts with: descriptors 0-2 as the restart
 * command got them (the new terminal or pipes) and the runtime's protected
 * ones.  Everything else is opened here: by the kinds (their restore slot)
 * what this process restores alone, through the exchange (file_share.c)
 * what it shares with other processes.  This file owns the loop and knows
 * no kind. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "dmtcp/plugin.h"
#include "file_plugin.h"
#include "dmtcp/sys.h"

static void restore_offset(const struct file_rec *r) {
  if (!file_ops(r)->seekable || (r->flags & O_PATH)) return;
  long rc = sys_lseek(r->fd, r->pos, SEEK_SET);
  if (rc < 0) file_log("fd %d (%s): cannot return to offset %ld (%s)", r->fd, r->path, (long)r->pos, file_errno_name(rc));
}

static int restore_alias(struct file_table *t, struct file_rec *r) {
  const struct file_rec *l = &t->recs[r->leader];
  if (l->outcome == FO_RESTORED || l->outcome == FO_KEPT) {
    long rc = sys_dup3(l->fd, r->fd, r->cloexec ? O_CLOEXEC : 0);
    if (rc < 0) {
      file_log("fd %d: cannot share fd %d's file again (%s)", r->fd, l->fd, file_errno_name(rc));
      return FO_FAILED;
    }
    return FO_RESTORED;
  }
  if (l->outcome == FO_FAILED)
    file_log("fd %d: shares fd %d's file (%s), which is not back; %s", r->fd, l->fd, l->path, file_leave_note(r));
  return l->outcome;
}

/* A pipe or socket to outside the computation that this process held above
 * 2 only, while another process of the computation had the same description
 * on 0-2 (`prog | tee` where a child moved its stdout away, as a shell does
 * around a redirection): it becomes what that number is in the restart, as
 * it does in the other process. */
static int restore_std(struct file_restart *c, struct file_rec *r) {
  int src = c->std_src[r->std_fd];
  if (src < 0) {
    file_log("fd %d (%s %s) was fd %d of another process of the computation, which this restart does not have; %s",
             r->fd, file_kind_name(r->kind), r->path, r->std_fd, file_leave_note(r));
    return FO_FAILED;
  }
  long fd = sys_fcntl(src, F_DUPFD_CLOEXEC, c->scratch_base);
  if (fd < 0 || file_install(fd, r) < 0) {
    file_log("fd %d: cannot place the restart's fd %d there (%s)", r->fd, r->std_fd, file_errno_name(fd < 0 ? fd : -EBADF));
    return FO_FAILED;
  }
  file_debug("fd %d was %s %s, fd %d of another process; now the restart's fd %d", r->fd, file_kind_name(r->kind),
             r->path, r->std_fd, r->std_fd);
  return FO_RESTORED;
}

/* A description of a pipe, FIFO or pseudo-terminal this process recreates
 * for every process that held the object. */
static int restore_object_end(struct file_restart *c, size_t i) {
  struct file_rec *r = &c->t->recs[i];
  long fd = file_share_take(i);
  if (fd < 0) {
    file_log("fd %d (%s %s): cannot recreate it (%s); %s", r->fd, file_kind_name(r->kind), r->path,
             file_errno_name(fd), file_leave_note(r));
    return FO_FAILED;
  }
  long rc = file_install(fd, r);
  if (rc < 0) {
    file_log("fd %d: cannot place the recreated %s at fd %d (%s)", r->fd, file_kind_name(r->kind), r->fd,
             file_errno_name(rc));
    return FO_FAILED;
  }
  return FO_RESTORED;
}

static int restore_received(struct file_table *t, size_t i) {
  struct file_rec *r = &t->recs[i];
  long fd = file_share_received(i);
  if (fd < 0) {
    /* The process that recreates it said why, once for all. */
    if (fd == -ETIMEDOUT)
      file_log("fd %d (%s %s): the process recreating it did not send it; %s", r->fd, file_kind_name(r->kind),
               r->path, file_leave_note(r));
    else file_debug("fd %d (%s %s): the process recreating it could not; %s", r->fd, file_kind_name(r->kind), r->path,
                    file_leave_note(r));
    return FO_FAILED;
  }
  long rc = file_install(fd, r);
  if (rc < 0) {
    file_log("fd %d: cannot place the %s received for fd %d (%s)", r->fd, file_kind_name(r->kind), r->fd,
             file_errno_name(rc));
    return FO_FAILED;
  }
  return FO_RESTORED;
}

/* Every kind's preparation, once each, records of it here or not. */
static void prepare_kinds(struct file_restart *c) {
  for (int k = 0; k < FK_COUNT; k++) {
    const struct file_kind_ops *ops = file_kind_ops_of(k);
    int seen = 0;
    for (int j = 0; j < k && !seen; j++) seen = file_kind_ops_of(j) == ops;
    if (!seen && ops->prepare) ops->prepare(c);
  }
}

static int restore_one(struct file_restart *c, size_t i) {
  struct file_table *t = c->t;
  struct file_rec *r = &t->recs[i];
  const struct file_kind_ops *ops = file_ops(r);
  int leader = r->leader;
  if (r->role != SR_LOCAL) {
    if (leader != (int)i) return restore_alias(t, r);
    /* Arrives from another process once every process has restored its own. */
    if (r->role == SR_RECV) return FO_PENDING;
    if (r->role == SR_STD) return restore_std(c, r);
    if (file_is_shared_object(r)) return restore_object_end(c, i);
  }
  if (r->fd <= 2 && ops->on_std) return ops->on_std(c, i);
  if (r->fd <= 2 && ops->std_stays) {
    file_debug("fd %d was %s %s; keeping what the restart provides", r->fd, ops->name, r->path);
    return FO_KEPT;
  }
  if (leader != (int)i) return restore_alias(t, r);
  if (!ops->restore) {
    file_log("fd %d (%s %s): not restored by this version of the file plugin; %s", r->fd, ops->name, r->path,
             file_leave_note(r));
    return FO_SKIPPED;
  }
  int outcome = ops->restore(c, i);
  if (outcome == FO_RESTORED) restore_offset(r);
  return outcome;
}

void file_restore(struct file_table *t, const struct file_settings *s, const struct file_inherited *inherited,
                  size_t ninherited) {
  struct file_restart c = {t, s, -1, 0, 0, 3, {-1, -1, -1}};
  if (!t->valid) {
    /* No records, but still take part in the barriers: the other processes
     * wait there. */
    t->nrecs = 0;
    prepare_kinds(&c);
    file_share_plan(&c);
    file_share_finish();
    return;
  }
  for (size_t i = 0; i < t->nrecs; i++)
    if (t->recs[i].fd + 1 > c.scratch_base) c.scratch_base = t->recs[i].fd + 1;
  if (dmtcp_fd_protected(c.scratch_base)) c.scratch_base = DMTCP_PROTECTED_FD_LAST + 1;

  /* Messages go to the stderr of whoever restarts, even once fd 2 has become
   * the application's log file again. */
  long log_fd = sys_fcntl(2, F_DUPFD_CLOEXEC, c.scratch_base);
  if (log_fd >= 0) file_log_to((int)log_fd);
  for (int fd = 0; fd <= 2; fd++) {
    long d = sys_fcntl(fd, F_DUPFD_CLOEXEC, c.scratch_base);
    c.std_src[fd] = d < 0 ? -1 : (int)d;
  }
  for (int fd = 0; fd <= 2 && c.term_src < 0; fd++) {
    unsigned char probe[FILE_TERMIOS_CAP];
    if (sys_ioctl(fd, SYS_TCGETS, probe) == 0) c.term_src = (int)sys_fcntl(fd, F_DUPFD_CLOEXEC, c.scratch_base);
  }

  for (size_t i = 0; i < t->nrecs; i++) {
    struct file_rec *r = &t->recs[i];
    r->outcome = FO_PENDING;
    r->write_back = 0;
    r->verdict = FV_SAME;
  }
  prepare_kinds(&c);
  file_share_plan(&c);
  file_missing_decide(t, s);
  for (size_t i = 0; i < t->nrecs; i++) t->recs[i].outcome = restore_one(&c, i);
  file_share_send();
  for (size_t i = 0; i < t->nrecs; i++) {
    struct file_rec *r = &t->recs[i];
    if (r->role == SR_RECV && r->leader == (int)i) r->outcome = restore_received(t, i);
  }
  for (size_t i = 0; i < t->nrecs; i++) {
    struct file_rec *r = &t->recs[i];
    if (r->outcome == FO_PENDING) r->outcome = restore_one(&c, i);
    if (r->outcome == FO_PENDING) r->outcome = FO_FAILED;
    file_debug("restart fd %d: %s %s -> %s%s", r->fd, file_kind_name(r->kind), r->path,
               r->outcome == FO_RESTORED ? "restored"
               : r->outcome == FO_KEPT   ? "kept"
               : r->outcome == FO_SKIPPED ? "skipped"
                                          : "failed",
               r->role == SR_LEAD ? " (recreated here for every process holding it)"
               : r->role == SR_RECV ? " (received from the process that recreated it)"
                                    : "");
  }
  file_share_finish();
  for (size_t i = 0; i < t->nrecs; i++) {
    struct file_rec *r = &t->recs[i];
    if (file_ops(r)->after_restore) file_ops(r)->after_restore(&c, r);
  }
  /* The restored descriptors name new inodes: what was opened with O_CREAT
   * still counts as such at the next checkpoint. */
  for (size_t i = 0; i < t->nrecs; i++) {
    const struct file_rec *r = &t->recs[i];
    file_created_note(r->fd, r->created && r->outcome == FO_RESTORED);
  }
  /* What the restart command was started with is not the application's: 0-2
   * it had closed, a build tool's pipe passed down to `dmtcp restart`...
   * Each inherited descriptor that nothing has replaced since (neither this
   * plugin nor another) is closed, so that the process sees its own table
   * and a later open gets the number it would have got.  0-2 the
   * application had stay as the restart provides them. */
  for (size_t k = 0; k < ninherited; k++) {
    const struct file_inherited *in = &inherited[k];
    const struct file_rec *r = NULL;
    for (size_t i = 0; i < t->nrecs && !r; i++)
      if (t->recs[i].fd == in->fd) r = &t->recs[i];
    if (r && (in->fd <= 2 || r->outcome == FO_RESTORED)) continue;
    struct stat st;
    if (sys_fstat(in->fd, &st) < 0 || st.st_dev != in->dev || st.st_ino != in->ino) continue;
    if (in->fd > 2) file_debug("fd %d: inherited from the restart command, not the application's; closed", in->fd);
    sys_close(in->fd);
  }
  if (c.term_src >= 0) sys_close(c.term_src);
  for (int fd = 0; fd <= 2; fd++)
    if (c.std_src[fd] >= 0) sys_close(c.std_src[fd]);
  file_log_to(2);
  if (log_fd >= 0) sys_close((int)log_fd);
}
