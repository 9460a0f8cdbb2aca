/* epoll: an instance and its interest list.  fdinfo shows one line per
 * interest, "tfd: N events: HEX data: HEX ...", with the events as the
 * kernel holds them: EPOLLET, EPOLLONESHOT, EPOLLEXCLUSIVE, EPOLLWAKEUP
 * included, and only those flag bits for a ONESHOT interest that has fired
 * (disarmed), which EPOLL_CTL_ADD takes back as is: it stays disarmed until
 * the program re-arms it with EPOLL_CTL_MOD.
 *
 * The kernel keys an interest by the target's file and the fd number it
 * was added with; the number may have been closed since while a dup keeps
 * the file (and the interest) alive, or even reused for another file.
 * kcmp(KCMP_EPOLL_TFD) tells which of our descriptors is the target;
 * without kcmp the number itself is taken when its inode matches. */
#include <errno.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/stat.h>

#include "dmtcp/sys.h"
#include "event_plugin.h"

#define KCMP_EPOLL_TFD_ 7

struct kcmp_epoll_slot_ {
  uint32_t efd, tfd, toff;
};

static int is_target(struct event_table *t, int efd, int tfd, int toff, int candidate, uint64_t ino, uint64_t sdev) {
  if (t->kcmp_ok) {
    struct kcmp_epoll_slot_ slot = {(uint32_t)efd, (uint32_t)tfd, (uint32_t)toff};
    long pid = sys_getpid();
    long r = sys_call5(__NR_kcmp, pid, pid, KCMP_EPOLL_TFD_, candidate, (long)&slot);
    if (r >= 0) return r == 0;
    if (r == -EPERM || r == -ENOSYS || r == -EACCES) t->kcmp_ok = 0;
    else return 0;
  }
  if (candidate != tfd) return 0;
  struct stat st;
  if (sys_fstat(candidate, &st) < 0) return 0;
  return st.st_ino == ino && (uint64_t)st.st_dev == sdev;
}

/* The fd of this process holding the target, or -1. */
static int find_source(struct event_table *t, int efd, int tfd, int toff, uint64_t ino, uint64_t sdev) {
  if (is_target(t, efd, tfd, toff, tfd, ino, sdev)) return tfd;
  if (!t->kcmp_ok) return -1;
  for (size_t i = 0; i < t->nfds; i++)
    if (t->fds[i] != tfd && is_target(t, efd, tfd, toff, t->fds[i], ino, sdev)) return t->fds[i];
  return -1;
}

/* The value after `key` within [p, end): the next token, in base. */
static const char *field(const char *p, const char *end, const char *key, unsigned base, uint64_t *out) {
  size_t klen = fmt_strlen(key);
  for (; p + klen <= end; p++) {
    size_t k = 0;
    while (k < klen && p[k] == key[k]) k++;
    if (k < klen) continue;
    p += klen;
    while (p < end && (*p == ' ' || *p == '\t')) p++;
    long n = fmt_parse_u64(p, (size_t)(end - p), base, out);
    return n > 0 ? p + n : NULL;
  }
  return NULL;
}

static void describe(struct event_table *t, struct event_rec *r, const char *fdinfo, size_t len) {
  r->first = t->ninterests;
  r->n = 0;
  const char *end = fdinfo + len;
  for (const char *line = fdinfo; line < end;) {
    const char *eol = line;
    while (eol < end && *eol != '\n') eol++;
    uint64_t tfd, events, data, ino = 0, sdev = 0;
    const char *p = field(line, eol, "tfd:", 10, &tfd);
    if (p && eol - line > 4 && line[0] == 't' && (p = field(p, eol, "events:", 16, &events)) &&
        (p = field(p, eol, "data:", 16, &data))) {
      const char *q = field(p, eol, "ino:", 16, &ino);
      if (q) field(q, eol, "sdev:", 16, &sdev);
      if (t->ninterests >= EVENT_MAX_INTERESTS) {
        t->truncated = 1;
        break;
      }
      /* Which of the interests keyed by this number it is, in the kernel's
       * order (the one fdinfo follows). */
      int toff = 0;
      for (size_t j = r->first; j < t->ninterests; j++)
        if (t->interests[j].tfd == (int)tfd) toff++;
      struct event_interest *in = &t->interests[t->ninterests++];
      in->tfd = (int)tfd;
      in->events = (uint32_t)events;
      in->data = data;
      in->src = find_source(t, r->fd, (int)tfd, toff, ino, sdev);
      r->n++;
    }
    line = eol + 1;
  }
}

static long create(const struct event_rec *r) {
  (void)r;
  return sys_call1(__NR_epoll_create1, 0);
}

/* Sets contained in this one are filled first, so that they are complete
 * when added (the kernel forbids loops, so this always ends). */
static int fill_ready(const struct event_table *t, const struct event_rec *r) {
  for (size_t j = r->first; j < r->first + r->n; j++) {
    const struct event_interest *in = &t->interests[j];
    for (size_t k = 0; k < t->nrecs; k++) {
      const struct event_rec *o = &t->recs[k];
      if (o->fd == in->src && o->kind == EK_EPOLL && o != r && !t->recs[o->leader].filled) return 0;
    }
  }
  return 1;
}

#define PRIVATE_BITS (EPOLLWAKEUP | EPOLLONESHOT | EPOLLET | EPOLLEXCLUSIVE)

static int disarmed(const struct event_interest *in) {
  return (in->events & EPOLLONESHOT) && !(in->events & ~(uint32_t)PRIVATE_BITS);
}

static long add(struct event_rec *r, const struct event_interest *in, uint32_t events) {
  struct epoll_event ev = {.events = events, .data.u64 = in->data};
  return sys_call4(__NR_epoll_ctl, r->fd, EPOLL_CTL_ADD, in->src, (long)&ev);
}

/* The kernel adds EPOLLERR | EPOLLHUP to every interest it is given, so a
 * disarmed ONESHOT interest added as it was would fire on an error or a
 * hang-up.  Disarmed the way the kernel does it instead: armed for what
 * the target is ready for right now, and that one event taken, while the
 * set holds nothing else yet. */
static long add_disarmed(struct event_rec *r, const struct event_interest *in) {
  struct pollfd_ {
    int fd;
    short events, revents;
  } pfd = {in->src, (short)(POLLIN | POLLOUT | POLLPRI | POLLRDHUP | POLLRDNORM | POLLWRNORM), 0};
  long n = sys_poll(&pfd, 1, 0);
  uint32_t ready = n > 0 ? (uint16_t)pfd.revents & ~(uint32_t)POLLNVAL : 0;
  if (!ready) {
    event_debug("fd %d (epoll): disarmed EPOLLONESHOT interest in fd %d comes back armed for EPOLLERR|EPOLLHUP only (its target is not ready)",
                r->fd, in->src);
    return add(r, in, in->events);
  }
  long rc = add(r, in, in->events | ready);
  if (rc < 0) return rc;
  struct epoll_event out[16];
  while (sys_call4(__NR_epoll_wait, r->fd, (long)out, 16, 0) > 0) {}
  return 0;
}

static int fill(struct event_table *t, struct event_rec *r) {
  int failed = 0;
  for (int pass = 0; pass < 2; pass++) {
    for (size_t j = r->first; j < r->first + r->n; j++) {
      const struct event_interest *in = &t->interests[j];
      if (disarmed(in) != (pass == 0)) continue;
      if (in->src < 0) {
        event_log("fd %d (epoll): its interest in fd %d is dropped: no descriptor of this process held that file at checkpoint",
                  r->fd, in->tfd);
        failed++;
        continue;
      }
      long rc = pass == 0 ? add_disarmed(r, in) : add(r, in, in->events);
      if (rc < 0) {
        event_log("fd %d (epoll): its interest in fd %d is dropped: %s", r->fd, in->src, event_errno_name(rc));
        failed++;
      } else if (in->src != in->tfd) {
        event_debug("fd %d (epoll): interest in fd %d (closed since, its file held by fd %d) restored on fd %d", r->fd,
                    in->tfd, in->src, in->src);
      }
    }
  }
  return failed ? -1 : 0;
}

const struct event_kind_ops event_epoll_ops = {
    .name = "epoll",
    .link = "anon_inode:[eventpoll]",
    .describe = describe,
    .create = create,
    .fill = fill,
    .fill_ready = fill_ready,
};
