/* Restart: eventfds, signalfds and epoll sets that processes held as one
 * open file description (made before a fork) become one again.  Every
 * process reports at the "event:share" barrier each description it holds,
 * named by its checkpoint pid and fd, and the ancestor's (pid, fd) the scan
 * found it shared with; the coordinator (src/share.ts) joins those into
 * objects and picks the lowest upid holding each.  That process makes the
 * object as usual and sends it (dmtcp/fdpass.h) to the others, which place
 * what they receive at their numbers instead of making a copy.
 *
 * Only the maker fills an epoll set's interest list: interests belong to
 * the description, so the others see them.  The core's restart:refilled
 * barrier keeps every process from running before all are done here.
 *
 * Runs in the checkpoint thread of the restarted process: raw system
 * calls and static memory only. */
#include <errno.h>
#include <string.h>

#include "dmtcp/fdpass.h"
#include "dmtcp/plugin.h"
#include "dmtcp/sys.h"
#include "event_plugin.h"
#include "event_wire.h"

#define SHARE_MAGIC 0x31657664u
#define SHARE_WAIT_MS 30000
#define SHARE_RECORD_CAP (256 + EVENT_MAX_FDS * 48)

static struct {
  struct fdpass_ep ep;
  int base;
  char role[EVENT_MAX_FDS]; /* '=' alone, 'L' makes and sends, '<' receives */
  int key[EVENT_MAX_FDS];   /* the object's number in the reply */
  long got[EVENT_MAX_FDS];  /* '<': the descriptor received (parked), or -errno */
  char arrived[EVENT_MAX_FDS];
  const char *sends;
  long wait_until;
  size_t nrecs;
} S;

static char record[SHARE_RECORD_CAP];
static char reply[EVENT_SHARE_REPLY_CAP + 1];
static struct fdpass_tag tags[EVENT_MAX_FDS];
static int send_fds[EVENT_MAX_FDS];

static char share_letter(int kind) {
  switch (kind) {
    case EK_EVENTFD: return 'e';
    case EK_SIGNALFD: return 's';
    case EK_EPOLL: return 'p';
    default: return 0; /* inotify: its owed events live in one process */
  }
}

static void skip_spaces(const char **pp) {
  while (**pp == ' ') (*pp)++;
}

static long take_dec(const char **pp) {
  skip_spaces(pp);
  int64_t v = 0;
  long n = fmt_parse_i64(*pp, (size_t)-1, &v);
  if (n > 0) *pp += n;
  return n > 0 ? (long)v : -1;
}

static void next_line(const char **pp) {
  const char *p = *pp;
  while (*p && *p != '\n') p++;
  if (*p) p++;
  *pp = p;
}

static int base_above(const struct event_table *t) {
  int base = 3;
  for (size_t i = 0; i < t->nfds; i++)
    if (t->fds[i] + 1 > base) base = t->fds[i] + 1;
  for (size_t i = 0; i < t->nrecs; i++)
    if (t->recs[i].fd + 1 > base) base = t->recs[i].fd + 1;
  return base;
}

void event_share_plan(struct event_table *t) {
  memset(&S, 0, sizeof S);
  S.nrecs = t->valid ? t->nrecs : 0;
  S.base = base_above(t);
  for (size_t i = 0; i < EVENT_MAX_FDS; i++) S.role[i] = '=';
  size_t lines = 0;
  for (size_t i = 0; i < S.nrecs; i++)
    if (share_letter(t->recs[i].kind)) lines++;
  if (lines) {
    char name[80];
    struct sbuf nb;
    sb_init(&nb, name, sizeof name);
    const char *upid = dmtcp_get_uniquepid_str();
    sb_format(&nb, "dmtcp-event:%s:%lx", upid ? upid : "?", sys_getpid());
    fdpass_open(&S.ep, name, nb.len, SHARE_MAGIC, S.base);
    if (S.ep.sock < 0)
      event_log("cannot open a socket to exchange descriptors with the other processes (%s); objects shared with them "
                "come back as copies",
                event_errno_name(S.ep.sock));
  } else {
    S.ep.sock = -1;
  }
  struct sbuf b;
  sb_init(&b, record, sizeof record);
  if (lines && S.ep.sock >= 0) {
    sb_format(&b, "h %ld\ns %s\n", t->pid, S.ep.name);
    /* Dups too, linked to their leader: another process may have found
     * the description under a dup's number. */
    for (size_t i = 0; i < S.nrecs; i++) {
      const struct event_rec *r = &t->recs[i];
      char k = share_letter(r->kind);
      if (!k) continue;
      if (r->leader != (int)i)
        sb_format(&b, "d %c %d %ld %d\n", k, r->fd, t->pid, t->recs[r->leader].fd);
      else
        sb_format(&b, "d %c %d %ld %d\n", k, r->fd, r->shared_pid, r->shared_pid ? r->shared_fd : -1);
    }
  }
  int sent = lines && S.ep.sock >= 0 && !b.overflow;
  size_t len = EVENT_SHARE_REPLY_CAP;
  /* Every process comes here, with or without anything to share: the
   * barrier completes only when all have. */
  int rc = dmtcp_global_barrier(EVENT_BARRIER_SHARE, sent ? record : "", sent ? b.len : 0, reply, &len);
  if (!sent) return;
  if (rc != DMTCP_NS_OK || len == 0) {
    event_debug("barrier %s: no answer (%d); objects shared with other processes come back as copies",
                EVENT_BARRIER_SHARE, rc);
    return;
  }
  reply[len] = 0;
  const char *p = reply;
  for (size_t i = 0; i < S.nrecs && *p; i++) {
    const struct event_rec *r = &t->recs[i];
    if (!share_letter(r->kind)) continue;
    char c = *p++;
    /* A dup follows its leader (event_restore.c makes it from there). */
    if (r->leader == (int)i && (c == 'L' || c == '<')) {
      S.role[i] = c;
      S.key[i] = (int)take_dec(&p);
      S.got[i] = -ETIMEDOUT;
    }
    next_line(&p);
  }
  S.sends = p;
}

int event_share_role(size_t i) { return i < S.nrecs ? S.role[i] : '='; }

static void arrived(void *ctx, const struct fdpass_tag *tag, long fd) {
  (void)ctx;
  for (size_t i = 0; i < S.nrecs; i++) {
    if (S.role[i] != '<' || S.key[i] != (int)tag->key || S.arrived[i]) continue;
    S.arrived[i] = 1;
    S.got[i] = fd >= 0 ? fdpass_park(fd, S.base) : fd;
    return;
  }
  if (fd >= 0) sys_close((int)fd);
}

static void note_rejects(unsigned before) {
  if (S.ep.rejected && !before)
    event_log("ignored a message on the descriptor exchange socket that did not come from this computation");
}

void event_share_send(const struct event_table *t) {
  if (!S.sends || S.ep.sock < 0) return;
  long deadline = sys_clock_ms() + SHARE_WAIT_MS;
  for (const char *p = S.sends; *p; next_line(&p)) {
    if (*p != 'x') continue;
    p++;
    skip_spaces(&p);
    const char *to = p;
    while (*p && *p != ' ' && *p != '\n') p++;
    size_t to_len = (size_t)(p - to);
    size_t n = 0;
    for (;;) {
      skip_spaces(&p);
      if (!*p || *p == '\n' || n == EVENT_MAX_FDS) break;
      long key = take_dec(&p);
      if (key < 0) break;
      int fd = -1;
      for (size_t i = 0; i < S.nrecs && fd < 0; i++)
        if (S.role[i] == 'L' && S.key[i] == key && t->recs[i].outcome == EO_RESTORED) fd = t->recs[i].fd;
      tags[n] = (struct fdpass_tag){(uint64_t)key, 0, 0};
      send_fds[n++] = fd;
    }
    unsigned before = S.ep.rejected;
    long rc = fdpass_send(&S.ep, to, to_len, tags, send_fds, n, deadline, arrived, NULL);
    note_rejects(before);
    if (rc < 0) event_log("cannot send descriptors to another process of the computation (%s)", event_errno_name(rc));
  }
}

long event_share_take(size_t i) {
  if (i >= S.nrecs || S.role[i] != '<') return -EINVAL;
  if (!S.wait_until) S.wait_until = sys_clock_ms() + SHARE_WAIT_MS;
  while (!S.arrived[i]) {
    unsigned before = S.ep.rejected;
    fdpass_take_in(&S.ep, arrived, NULL);
    note_rejects(before);
    if (S.arrived[i] || !fdpass_wait(&S.ep, S.wait_until)) break;
  }
  if (!S.arrived[i]) return -ETIMEDOUT;
  long fd = S.got[i];
  S.got[i] = -EBADF; /* handed over */
  return fd;
}

void event_share_finish(void) {
  for (size_t i = 0; i < S.nrecs; i++)
    if (S.role[i] == '<' && S.arrived[i] && S.got[i] >= 0) sys_close((int)S.got[i]);
  fdpass_close(&S.ep);
  S.sends = NULL;
  S.nrecs = 0;
}
