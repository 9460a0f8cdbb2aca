/* inotify: the instance's flags, its watches (wd and mask from fdinfo,
 * the path from the inotify_add_watch wrapper) and the events queued in
 * the kernel, drained at checkpoint into the bytes read() owes the
 * program (event_inotify_wrap.c).
 *
 * Watch descriptors: a fresh instance numbers watches upwards from 1 and
 * never reuses a number until it wraps (the kernel allocates them
 * cyclically), so adding the watches back in ascending old-wd order gives
 * the old numbers, provided each number that was skipped (a watch removed
 * since) is used up first: a dummy watch is added and removed for it.  The
 * IN_IGNORED events those removals queue are read off and dropped; any real
 * event that arrived meanwhile is kept, in order.  No read() translation is
 * needed.
 *
 * Whenever events are owed (after the drain at checkpoint, after a
 * restart), one more watch is made and removed at once on a spare inode:
 * its IN_IGNORED makes the descriptor readable in the kernel, so a program
 * waiting in poll, epoll or select (or blocked in read) is woken, and the
 * read() wrapper drops it. */
#include <errno.h>
#include <fcntl.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>

#include "dmtcp/sys.h"
#include "event_plugin.h"

static char drained[16384] __attribute__((aligned(8)));

static int parse_dec(const char *s, size_t n, const char *key, uint64_t *out, unsigned base) {
  size_t k = fmt_strlen(key);
  for (size_t i = 0; i + k < n; i++) {
    size_t j = 0;
    while (j < k && s[i + j] == key[j]) j++;
    if (j < k) continue;
    size_t v = i + k, e = v;
    while (e < n && s[e] != ' ' && s[e] != '\t' && s[e] != '\n') e++;
    return fmt_parse_u64(s + v, e - v, base, out) <= 0 ? -1 : 0;
  }
  return -1;
}

static void add_watch_sorted(struct event_table *t, struct event_rec *r, int wd, uint32_t mask) {
  if (t->nwatches >= EVENT_MAX_WATCHES) {
    t->truncated = 1;
    return;
  }
  size_t at = r->wfirst + r->wn;
  while (at > r->wfirst && t->watches[at - 1].wd > wd) {
    t->watches[at] = t->watches[at - 1];
    at--;
  }
  struct event_watch *w = &t->watches[at];
  w->wd = wd;
  w->mask = mask;
  w->path[0] = 0;
  const char *p = event_inotify_path(r->fd, wd);
  if (p) {
    size_t n = fmt_strlen(p);
    if (n < sizeof w->path) {
      for (size_t i = 0; i <= n; i++) w->path[i] = p[i];
    }
  }
  r->wn++;
  t->nwatches++;
}

static void drain(struct event_rec *r) {
  for (;;) {
    int queued = 0;
    if (sys_call3(__NR_ioctl, r->fd, FIONREAD, SYS_ARG(&queued)) < 0 || queued <= 0) return;
    size_t want = (size_t)queued < sizeof drained ? (size_t)queued : sizeof drained;
    long n = sys_read(r->fd, drained, want);
    if (n == -EINVAL) n = sys_read(r->fd, drained, sizeof drained);
    if (n <= 0) return;
    /* A wake event from an earlier checkpoint the program has not read yet. */
    n = (long)event_inotify_drop_wakes(r->fd, drained, (size_t)n);
    if (event_inotify_owe(r->fd, drained, (size_t)n) < 0) {
      event_log("fd %d (inotify): more queued events than this plugin keeps (%zu bytes); the rest are lost", r->fd,
                sizeof drained);
      return;
    }
  }
}

/* Owed events are handed out by read(), which poll, epoll and select do
 * not see: a wake event makes the kernel object itself readable. */
static void wake_if_owed(int fd) {
  if (!event_inotify_owes(fd)) return;
  long rc = event_inotify_wake(fd);
  if (rc < 0)
    event_log("fd %d (inotify): cannot make it readable for the events it is owed (%s); poll and epoll see them only with the next event",
              fd, event_errno_name(rc));
}

static void describe(struct event_table *t, struct event_rec *r, const char *fdinfo, size_t len) {
  r->wfirst = t->nwatches;
  r->wn = 0;
  int max_wd = 0;
  for (size_t i = 0; i < len;) {
    size_t eol = i;
    while (eol < len && fdinfo[eol] != '\n') eol++;
    static const char tag[] = "inotify wd:";
    size_t k = 0;
    while (k + 1 < sizeof tag && i + k < eol && fdinfo[i + k] == tag[k]) k++;
    if (k + 1 == sizeof tag) {
      uint64_t wd, mask;
      if (parse_dec(fdinfo + i, eol - i, "wd:", &wd, 10) == 0 && parse_dec(fdinfo + i, eol - i, " mask:", &mask, 16) == 0) {
        add_watch_sorted(t, r, (int)wd, (uint32_t)mask);
        if ((int)wd > max_wd) max_wd = (int)wd;
      }
    }
    i = eol + 1;
  }
  int noted = event_inotify_last_wd(r->fd);
  r->last_wd = noted > max_wd ? noted : max_wd;
  drain(r);
  /* Queued now, it is there when the program resumes; the image does not
   * keep the kernel's queue, the restart wakes the new object itself. */
  wake_if_owed(r->fd);
}

static long create(const struct event_rec *r) {
  return sys_call1(__NR_inotify_init1, (r->flags & O_NONBLOCK) ? IN_NONBLOCK : 0);
}

static long add(int fd, const char *path, uint32_t mask) {
  return sys_call3(__NR_inotify_add_watch, fd, SYS_ARG(path), (long)mask);
}

/* Uses up the next watch number with a watch made and removed at once; the
 * number it got, or -errno.  IN_MASK_CREATE refuses an inode already
 * watched, whose number is someone's. */
static long burn(int fd) {
  long wd = event_inotify_spare_watch(fd);
  if (wd >= 0) sys_call2(__NR_inotify_rm_watch, fd, wd);
  return wd;
}

static void owe_ignored(int fd, int wd) {
  struct inotify_event ev = {.wd = wd, .mask = IN_IGNORED};
  if (event_inotify_owe(fd, &ev, sizeof ev) < 0) event_log("fd %d (inotify): no room for the IN_IGNORED of wd %d", fd, wd);
}

static int restored_wd(const struct event_table *t, const struct event_rec *r, int wd) {
  for (size_t i = r->wfirst; i < r->wfirst + r->wn; i++)
    if (t->watches[i].wd == wd) return t->watches[i].path[0] != 0;
  return 0;
}

/* Reads what the kernel queued while the watches were made: the IN_IGNORED
 * of the burnt numbers go, real events are owed in their order. */
static void sift(const struct event_table *t, const struct event_rec *r) {
  for (;;) {
    int queued = 0;
    if (sys_call3(__NR_ioctl, r->fd, FIONREAD, SYS_ARG(&queued)) < 0 || queued <= 0) return;
    size_t want = (size_t)queued < sizeof drained ? (size_t)queued : sizeof drained;
    long n = sys_read(r->fd, drained, want);
    if (n <= 0) return;
    for (long off = 0; off < n;) {
      const struct inotify_event *ev = (const struct inotify_event *)(drained + off);
      size_t one = sizeof *ev + ev->len;
      if (restored_wd(t, r, ev->wd)) event_inotify_owe(r->fd, ev, one);
      off += (long)one;
    }
  }
}

static int fill(struct event_table *t, struct event_rec *r) {
  event_inotify_forget_wakes(r->fd);
  int next = 1;
  int ok = 0;
  for (size_t i = r->wfirst; i < r->wfirst + r->wn; i++) {
    struct event_watch *w = &t->watches[i];
    while (next < w->wd) {
      long b = burn(r->fd);
      if (b < 0) {
        event_log("fd %d (inotify): cannot use up watch number %d (%s); later watches get other numbers", r->fd, next,
                  event_errno_name(b));
        break;
      }
      next = (int)b + 1;
    }
    if (!w->path[0]) {
      event_log("fd %d (inotify): watch %d was not made through inotify_add_watch, its path is unknown; not restored (IN_IGNORED)",
                r->fd, w->wd);
      owe_ignored(r->fd, w->wd);
      continue;
    }
    long got = add(r->fd, w->path, w->mask);
    if (got < 0) {
      event_log("fd %d (inotify): watch %d on %s cannot be made again (%s); the program gets IN_IGNORED for it", r->fd, w->wd,
                w->path, event_errno_name(got));
      owe_ignored(r->fd, w->wd);
      w->path[0] = 0;
      continue;
    }
    if (got != w->wd)
      event_log("fd %d (inotify): watch on %s came back as wd %ld, not %d; its events carry the new number", r->fd, w->path, got,
                w->wd);
    next = (int)got + 1;
    ok++;
  }
  while (next <= r->last_wd) {
    long b = burn(r->fd);
    if (b < 0) break;
    next = (int)b + 1;
  }
  sift(t, r);
  /* After the epoll sets are filled or before, either way they see it: an
   * interest added later finds it ready, one added earlier is woken. */
  wake_if_owed(r->fd);
  event_debug("fd %d (inotify): %d of %zu watches back", r->fd, ok, r->wn);
  return 0;
}

const struct event_kind_ops event_inotify_ops = {
    .name = "inotify",
    .link = "anon_inode:inotify",
    .describe = describe,
    .create = create,
    .fill = fill,
};
