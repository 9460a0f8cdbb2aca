/* Checkpoint (DRAIN): describe every epoll, eventfd and signalfd descriptor
 * of this process into the table, which the image captures; find the
 * descriptors that share one open file description (dup) here, and those
 * an ancestor holds too (fork), which a restart cannot share again yet. */
#include <errno.h>
#include <fcntl.h>

#include "dmtcp/sys.h"
#include "event_plugin.h"

DMTCP_HIDDEN struct event_table g_event_table;

static char fdinfo[EVENT_FDINFO_CAP];
static char theirs[4096];
static int anc_fds[EVENT_MAX_FDS * 4];

/* Whether records a and b are one description. */
static int same_description(struct event_table *t, const struct event_rec *a, const struct event_rec *b) {
  if (a->kind != b->kind) return 0;
  if (t->kcmp_ok) {
    long r = sys_kcmp_file(sys_getpid(), a->fd, b->fd);
    if (r >= 0) return r == 0;
    if (r == -EPERM || r == -ENOSYS || r == -EACCES) t->kcmp_ok = 0;
  }
  return a->obj_id && a->obj_id == b->obj_id;
}

/* The parent of pid from /proc/<pid>/stat, or 0. */
static long parent_of(long pid) {
  char path[48];
  struct sbuf sb;
  sb_init(&sb, path, sizeof path);
  sb_format(&sb, "/proc/%ld/stat", pid);
  long f = sys_open(sb_cstr(&sb), O_RDONLY | O_CLOEXEC, 0);
  if (f < 0) return 0;
  char buf[512];
  long n = sys_read((int)f, buf, sizeof buf - 1);
  sys_close((int)f);
  if (n <= 0) return 0;
  /* "pid (comm) S ppid ...": comm may hold spaces and parentheses. */
  long close_paren = -1;
  for (long i = 0; i < n; i++)
    if (buf[i] == ')') close_paren = i;
  if (close_paren < 0 || close_paren + 4 >= n) return 0;
  uint64_t ppid;
  if (fmt_parse_dec(buf + close_paren + 4, (size_t)(n - close_paren - 4), &ppid) <= 0) return 0;
  return (long)ppid;
}

/* Ancestors are where fork sharing comes from: a child finds what it
 * shares with its parent (or the parent's parent...). */
#define ANCESTORS 4

static void find_fork_sharing(struct event_table *t) {
  long self = sys_getpid();
  long anc = self;
  for (int depth = 0; depth < ANCESTORS; depth++) {
    anc = parent_of(anc);
    if (anc <= 1) return;
    size_t n = event_list_fds(anc, anc_fds, sizeof anc_fds / sizeof anc_fds[0]);
    for (size_t j = 0; j < n; j++) {
      char link[64];
      if (event_read_link(anc, anc_fds[j], link, sizeof link) < 0) continue;
      int kind = event_kind_of_link(link);
      if (kind == EK_NONE) continue;
      uint64_t their_id = 0;
      int have_id = 0;
      for (size_t i = 0; i < t->nrecs; i++) {
        struct event_rec *r = &t->recs[i];
        if (r->kind != kind || r->leader != (int)i || r->shared_pid) continue;
        long k = t->kcmp_ok ? sys_kcmp_file2(self, anc, r->fd, anc_fds[j]) : -ENOSYS;
        int same = k == 0;
        if (k < 0 && r->obj_id) {
          if (!have_id) {
            long len = event_read_fdinfo(anc, anc_fds[j], theirs, sizeof theirs);
            have_id = 1;
            uint64_t id;
            if (len > 0 && event_fdinfo_u64(theirs, (size_t)len, "eventfd-id", 10, &id) == 0) their_id = id + 1;
          }
          same = their_id == r->obj_id;
        }
        if (same) {
          r->shared_pid = anc;
          r->shared_fd = anc_fds[j];
        }
      }
    }
  }
}

void event_scan(struct event_table *t) {
  t->nrecs = 0;
  t->ninterests = 0;
  t->truncated = 0;
  t->valid = 0;
  t->kcmp_ok = 1;
  t->pid = sys_getpid();
  t->nfds = event_list_fds(0, t->fds, sizeof t->fds / sizeof t->fds[0]);
  for (size_t i = 0; i < t->nfds; i++) {
    char link[64];
    if (event_read_link(0, t->fds[i], link, sizeof link) < 0) continue;
    int kind = event_kind_of_link(link);
    if (kind == EK_NONE) {
      /* fanotify marks name mounts and filesystems and need CAP_SYS_ADMIN: not done. */
      if (fmt_strlen(link) == 21 && link[11] == '[' && link[12] == 'f' && link[13] == 'a')
        event_log("fd %d (fanotify): not restored by this plugin; it is closed after restart", t->fds[i]);
      continue;
    }
    if (t->nrecs >= EVENT_MAX_FDS) {
      t->truncated = 1;
      break;
    }
    long len = event_read_fdinfo(0, t->fds[i], fdinfo, sizeof fdinfo);
    if (len < 0) {
      event_log("fd %d (%s): cannot read its fdinfo (%s); it will not be restored", t->fds[i],
                event_kind_ops_of(kind)->name, event_errno_name(len));
      continue;
    }
    if ((size_t)len + 1 >= sizeof fdinfo) t->truncated = 1;
    struct event_rec *r = &t->recs[t->nrecs];
    *r = (struct event_rec){.fd = t->fds[i], .kind = kind, .leader = (int)t->nrecs};
    uint64_t flags = 0;
    event_fdinfo_u64(fdinfo, (size_t)len, "flags", 8, &flags);
    r->flags = (int)flags & ~O_CLOEXEC;
    long fdflags = sys_fcntl(r->fd, F_GETFD, 0);
    r->cloexec = fdflags >= 0 ? (fdflags & FD_CLOEXEC) != 0 : (flags & O_CLOEXEC) != 0;
    uint64_t id;
    if (event_fdinfo_u64(fdinfo, (size_t)len, "eventfd-id", 10, &id) == 0) r->obj_id = id + 1;
    t->nrecs++;
    /* A dup of an earlier record shares its object: nothing to describe. */
    for (size_t j = 0; j + 1 < t->nrecs; j++) {
      if (t->recs[j].leader == (int)j && same_description(t, &t->recs[j], r)) {
        r->leader = (int)j;
        break;
      }
    }
    if (r->leader == (int)(t->nrecs - 1)) event_ops(r)->describe(t, r, fdinfo, (size_t)len);
  }
  /* Only the leaders' interests count; a dup's fdinfo is the same list. */
  find_fork_sharing(t);
  if (t->truncated)
    event_log("more epoll, eventfd or signalfd state than this plugin keeps (%d descriptors, %d interests): some is not saved",
              EVENT_MAX_FDS, EVENT_MAX_INTERESTS);
  t->valid = 1;
}
