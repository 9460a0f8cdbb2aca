/* Pipes and FIFOs: their size at checkpoint, the bytes buffered in them
 * drained and refilled, and one object again at restart, made by one
 * process for every process that held an end. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "file_plugin.h"
#include "dmtcp/sys.h"

#define SYS_F_SETPIPE_SZ 1031
#define SYS_F_GETPIPE_SZ 1032

static void pipe_describe(struct file_rec *r) {
  long sz = sys_fcntl(r->fd, SYS_F_GETPIPE_SZ, 0);
  r->pipe_size = sz > 0 ? (int)sz : 65536;
}

static char pipe_share_kind(const struct file_rec *r) {
  (void)r;
  return 'p';
}

static char fifo_share_kind(const struct file_rec *r) {
  (void)r;
  return 'f';
}

/* ---- DRAIN, REFILL ---- */

/* A description of our own on the object behind fd, with the given access
 * mode, non-blocking: reading or writing it leaves the application's
 * description (its flags, its offset) alone.  -errno when the object will
 * not be opened again. */
static long reopen_nonblocking(int fd, int acc) {
  return file_reopen_fd(fd, acc | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
}

static size_t pipe_drain_cap(const struct file_rec *r) { return (size_t)(r->pipe_size > 0 ? r->pipe_size : 65536); }

static void pipe_drain(struct file_table *t, struct file_rec *r) {
  size_t cap = pipe_drain_cap(r);
  long fd = reopen_nonblocking(r->fd, O_RDONLY);
  long restore_fl = -1;
  if (fd < 0) {
    /* Our own end is readable: borrow it, non-blocking for the moment
     * (every thread of the process is stopped, nobody sees the flag). */
    if (file_share_mode(r) != 'r' && file_share_mode(r) != 'b') {
      file_log("fd %d (%s): cannot read the bytes buffered in it (%s); they are not in the checkpoint", r->fd,
               r->path, file_errno_name(fd));
      return;
    }
    restore_fl = sys_fcntl(r->fd, F_GETFL, 0);
    sys_fcntl(r->fd, F_SETFL, restore_fl | O_NONBLOCK);
    fd = r->fd;
  }
  unsigned char *dst = t->drain + r->drain_off;
  size_t got = 0;
  while (got < cap) {
    long n = sys_read((int)fd, dst + got, cap - got);
    if (n == -EINTR) continue;
    if (n <= 0) break;
    got += (size_t)n;
  }
  if (restore_fl >= 0) sys_fcntl(r->fd, F_SETFL, restore_fl);
  else sys_close((int)fd);
  r->drain_len = got;
  file_debug("fd %d (%s): drained %lu bytes", r->fd, r->path, (unsigned long)got);
}

/* Without the "file:drain" policy a process drains only what it holds both
 * ends of (a self-pipe): anything else may have a writer that goes on while
 * this process is stopped. */
static int holds_both_ends(const struct file_table *t, const struct file_rec *r) {
  int reads = 0, writes = 0;
  for (size_t i = 0; i < t->nrecs; i++) {
    const struct file_rec *q = &t->recs[i];
    if (q->obj != r->obj) continue;
    char m = file_share_mode(q);
    reads |= m == 'r' || m == 'b';
    writes |= m == 'w' || m == 'b';
  }
  return reads && writes && (file_share_mode(r) == 'r' || file_share_mode(r) == 'b');
}

static long write_nonblocking(int fd, const unsigned char *p, size_t n, size_t *done) {
  *done = 0;
  int spins = 0;
  while (*done < n) {
    long w = sys_write(fd, p + *done, n - *done);
    if (w == -EINTR) continue;
    if (w == -EAGAIN && spins++ < 200) {
      /* Room appears as the reader takes bytes out; nobody reads while
       * threads are stopped, so this only helps a reader outside. */
      sys_nanosleep_ms(1);
      continue;
    }
    if (w <= 0) return w < 0 ? w : -EIO;
    *done += (size_t)w;
  }
  return 0;
}

static void pipe_refill(struct file_table *t, struct file_rec *r) {
  if (!r->drain_len) return;
  long fd = reopen_nonblocking(r->fd, O_RDWR);
  long restore_fl = -1;
  if (fd < 0) {
    if (file_share_mode(r) != 'w' && file_share_mode(r) != 'b') {
      file_log("fd %d (%s): cannot put %lu drained bytes back (%s); they are lost", r->fd, r->path,
               (unsigned long)r->drain_len, file_errno_name(fd));
      return;
    }
    restore_fl = sys_fcntl(r->fd, F_GETFL, 0);
    sys_fcntl(r->fd, F_SETFL, restore_fl | O_NONBLOCK);
    fd = r->fd;
  }
  size_t done = 0;
  long rc = write_nonblocking((int)fd, t->drain + r->drain_off, r->drain_len, &done);
  if (restore_fl >= 0) sys_fcntl(r->fd, F_SETFL, restore_fl);
  else sys_close((int)fd);
  if (rc < 0)
    file_log("fd %d (%s): %lu of %lu drained bytes could not be put back (%s)", r->fd, r->path,
             (unsigned long)(r->drain_len - done), (unsigned long)r->drain_len, file_errno_name(rc));
  else file_debug("fd %d (%s): refilled %lu bytes", r->fd, r->path, (unsigned long)done);
}


/* ---- restart ---- */

/* A pipe this process restores alone had its other end outside the
 * computation: that end is gone. */
static int pipe_restore(struct file_restart *c, size_t i) {
  struct file_rec *r = &c->t->recs[i];
  file_log("fd %d (%s): its other end was outside the computation; %s", r->fd, r->path, file_leave_note(r));
  return FO_SKIPPED;
}

static long pipe_create_object(struct file_restart *c, struct file_object *o) {
  const struct file_rec *rep = &c->t->recs[o->rep];
  int fds[2];
  long rc = sys_pipe2(fds, O_CLOEXEC);
  if (rc < 0) return rc;
  o->anchor[0] = file_park(fds[0], c->scratch_base);
  o->anchor[1] = file_park(fds[1], c->scratch_base);
  if (o->anchor[0] < 0 || o->anchor[1] < 0) return o->anchor[0] < 0 ? o->anchor[0] : o->anchor[1];
  if (rep->pipe_size > 0) {
    long now = sys_fcntl((int)o->anchor[0], SYS_F_GETPIPE_SZ, 0);
    if (now != rep->pipe_size) {
      long set = sys_fcntl((int)o->anchor[0], SYS_F_SETPIPE_SZ, rep->pipe_size);
      if (set < 0)
        file_log("fd %d: cannot give the pipe back its size of %d bytes (%s); it has %ld", rep->fd, rep->pipe_size,
                 file_errno_name(set), now);
    }
  }
  return 0;
}

static long fifo_create_object(struct file_restart *c, struct file_object *o) {
  const struct file_rec *rep = &c->t->recs[o->rep];
  const char *path = file_restart_path(c, rep->path);
  if (!path) return -ENAMETOOLONG;
  long fd = sys_open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOCTTY, 0);
  if (fd == -ENOENT) {
    long rc = sys_mknod(path, S_IFIFO | (rep->mode & 07777), 0);
    if (rc < 0 && rc != -EEXIST) {
      file_log("fd %d: the FIFO %s no longer exists and cannot be made again (%s)", rep->fd, path, file_errno_name(rc));
      return rc;
    }
    file_log("fd %d: the FIFO %s no longer existed; made it again", rep->fd, path);
    fd = sys_open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOCTTY, 0);
  }
  if (fd < 0) {
    file_log("fd %d: cannot open the FIFO %s (%s)", rep->fd, path, file_errno_name(fd));
    return fd;
  }
  struct stat st;
  if (sys_fstat((int)fd, &st) == 0 && !S_ISFIFO(st.st_mode)) {
    sys_close((int)fd);
    file_log("fd %d: %s is no longer a FIFO", rep->fd, path);
    return -EINVAL;
  }
  o->anchor[0] = file_park(fd, c->scratch_base);
  if (rep->pipe_size > 0) sys_fcntl((int)o->anchor[0], SYS_F_SETPIPE_SZ, rep->pipe_size);
  return o->anchor[0] < 0 ? o->anchor[0] : 0;
}

static long pipe_open_description(struct file_restart *c, const struct file_object *o, int kind, char mode) {
  const struct file_rec *rep = &c->t->recs[o->rep];
  (void)kind;
  long anchor = file_mode_writes(mode) && o->anchor[1] >= 0 && !file_mode_reads(mode) ? o->anchor[1] : o->anchor[0];
  long fd = file_reopen_fd((int)anchor, file_acc_of(mode) | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0 && rep->kind == FK_PIPE) {
    /* Where pipes cannot be reopened, the end itself serves (descriptions
     * of one end then share their flags). */
    fd = sys_fcntl((int)(file_mode_reads(mode) ? o->anchor[0] : o->anchor[1]), F_DUPFD_CLOEXEC, c->scratch_base);
  }
  return fd;
}

/* Without the coordinator's answer: a pipe whose two ends are here is
 * recreated here, one with an end outside is left to this process alone; a
 * FIFO is always reopened here (by path). */
static int pipe_fallback_role(const struct file_table *t, const struct file_rec *r) {
  int reads = 0, writes = 0;
  for (size_t i = 0; i < t->nrecs; i++) {
    const struct file_rec *q = &t->recs[i];
    if (q->obj != r->obj) continue;
    reads |= file_mode_reads(file_share_mode(q));
    writes |= file_mode_writes(file_share_mode(q));
  }
  return reads && writes ? SR_LEAD : SR_LOCAL;
}

static int fifo_fallback_role(const struct file_table *t, const struct file_rec *r) {
  (void)t;
  (void)r;
  return SR_LEAD;
}

const struct file_kind_ops file_pipe_ops = {
    .name = "pipe",
    .describe = pipe_describe,
    .share_kind = pipe_share_kind,
    .drain_cap = pipe_drain_cap,
    .drain = pipe_drain,
    .drains_alone = holds_both_ends,
    .refill = pipe_refill,
    .std_stays = 1,
    .restore = pipe_restore,
    .create_object = pipe_create_object,
    .open_description = pipe_open_description,
    .fallback_role = pipe_fallback_role,
};

/* A FIFO this process restores alone (the coordinator said so) is not
 * restored. */
const struct file_kind_ops file_fifo_ops = {
    .name = "FIFO",
    .describe = pipe_describe,
    .share_kind = fifo_share_kind,
    .drain_cap = pipe_drain_cap,
    .drain = pipe_drain,
    .drains_alone = holds_both_ends,
    .refill = pipe_refill,
    .std_stays = 1,
    .create_object = fifo_create_object,
    .open_description = pipe_open_description,
    .fallback_role = fifo_fallback_role,
};
