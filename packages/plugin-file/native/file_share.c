/* Restart side of what processes share.  Every process reports its
 * descriptions at the "file:share" barrier; for each object held jointly
 * (a pipe with both ends in the computation, a FIFO, a pseudo-terminal
 * whose master is ours, a file several processes hold) the coordinator
 * picks one process, the lowest upid holding it.  That process recreates
 * the object and one description per description that existed at the
 * checkpoint, keeps its own, and sends the others over a datagram socket
 * in the abstract namespace (SCM_RIGHTS) to the processes that held them.
 * Everyone ends up with descriptors on one object again, sharing a
 * description wherever they shared one.  The kind of the object makes it
 * and its descriptions (create_object, open_description); this file owns
 * the exchange and is called by the restore loop, never calling back.
 *
 * The passing itself (endpoints, batches, never-blocking sends, the
 * sender's uid) is the toolkit's dmtcp/fdpass.h.
 *
 * Runs in the checkpoint thread of the restarted process, before any
 * application thread runs: kernel calls only, memory from mmap. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <string.h>
#include <sys/stat.h>

#include "dmtcp/fdpass.h"
#include "dmtcp/plugin.h"
#include "file_plugin.h"
#include "dmtcp/sys.h"

#define SHARE_MAGIC 0x31666c64u
#define SHARE_BATCH FDPASS_BATCH
#define SHARE_WAIT_MS 30000
/* The largest payload a barrier reply can carry. */
#define SHARE_REPLY_CAP (4u * 1024u * 1024u)

/* A description this process made, for itself or for others. */
struct share_cls {
  uint64_t owner;
  int owner_fd;
  long fd; /* parked, or -errno */
};

/* A description another process sends here. */
struct share_got {
  uint64_t owner;
  int owner_fd;
  int arrived;
  long fd; /* parked, or -errno */
};

static struct {
  struct file_restart *c;
  struct file_table *t;
  int base;
  struct fdpass_ep ep;
  char *rec;
  size_t rec_cap;
  char *reply;
  size_t reply_len;
  const char *sends; /* the "x"/"c" part of the reply */
  void *arena;
  size_t arena_cap;
  struct file_object *objs;
  size_t nobjs, objs_cap;
  struct share_cls *cls;
  size_t ncls, cls_cap;
  struct share_got *got;
  size_t ngot, got_cap;
  long wait_until; /* one deadline for everything this process waits for */
} S;

static size_t round_page(size_t n) { return (n + 4095) & ~(size_t)4095; }

static void *map(size_t n) {
  long err = 0;
  return sys_mmap_anon(round_page(n), &err);
}

static uint64_t take_hex(const char **pp) {
  while (**pp == ' ') (*pp)++;
  uint64_t v = 0;
  long n = fmt_parse_hex(*pp, (size_t)-1, &v);
  if (n > 0) *pp += n;
  return v;
}

static int64_t take_dec(const char **pp) {
  while (**pp == ' ') (*pp)++;
  int64_t v = 0;
  long n = fmt_parse_i64(*pp, (size_t)-1, &v);
  if (n > 0) *pp += n;
  return v;
}

static char take_char(const char **pp) {
  const char *p = *pp;
  while (*p == ' ') p++;
  char c = *p ? *p++ : 0;
  *pp = p;
  return c;
}

static void next_line(const char **pp) {
  const char *p = *pp;
  while (*p && *p != '\n') p++;
  if (*p) p++;
  *pp = p;
}

static void open_socket(void) {
  char name[80];
  struct sbuf b;
  sb_init(&b, name, sizeof name);
  sb_puts(&b, "dmtcp-file:");
  sb_putx(&b, file_self_upid(), FILE_KEY_HEX);
  sb_format(&b, ":%lx", sys_getpid());
  fdpass_open(&S.ep, name, b.len, SHARE_MAGIC, S.base);
}

/* Without the coordinator's answer: objects whose every end is in this
 * process are still recreated here; the rest is restored alone, as by the
 * first version of the plugin. */
static int fallback_role(const struct file_table *t, const struct file_rec *r) {
  const struct file_kind_ops *ops = file_ops(r);
  return ops->fallback_role ? ops->fallback_role(t, r) : SR_LOCAL;
}

/* The lowest of 0-2 at which this process holds description i, or -1. */
static int std_fd_of(const struct file_table *t, size_t i) {
  for (size_t j = 0; j < t->nrecs && t->recs[j].fd <= 2; j++)
    if (t->recs[j].leader == (int)i) return t->recs[j].fd;
  return -1;
}

void file_share_plan(struct file_restart *c) {
  struct file_table *t = c->t;
  memset(&S, 0, sizeof S);
  S.c = c;
  S.t = t;
  S.base = c->scratch_base;
  open_socket();
  size_t lines = 0;
  for (size_t i = 0; i < t->nrecs; i++)
    if (t->recs[i].leader == (int)i && file_share_kind(&t->recs[i])) lines++;
  S.rec_cap = 128 + lines * 116;
  S.rec = map(S.rec_cap);
  S.reply = map(SHARE_REPLY_CAP + 1);
  struct sbuf b = {0, 0, 0, 1};
  if (S.rec) {
    sb_init(&b, S.rec, S.rec_cap);
    if (S.ep.sock >= 0) sb_format(&b, "s %s\n", S.ep.name);
    for (size_t i = 0; i < t->nrecs && S.ep.sock >= 0; i++) {
      struct file_rec *r = &t->recs[i];
      char kind = file_share_kind(r);
      if (r->leader != (int)i || !kind) continue;
      sb_puts(&b, "d ");
      sb_putx(&b, r->obj, FILE_KEY_HEX);
      sb_format(&b, " %c %c ", kind, file_share_mode(r));
      sb_putx(&b, r->owner, FILE_KEY_HEX);
      sb_format(&b, " %d %x %ld %d\n", r->owner_fd, (unsigned)r->flags, (long)r->pos, std_fd_of(t, i));
    }
  }
  size_t len = S.reply ? SHARE_REPLY_CAP : 0;
  int sent = S.rec && !b.overflow && S.ep.sock >= 0;
  int rc = dmtcp_global_barrier(FILE_BARRIER_SHARE, sent ? S.rec : "", sent ? b.len : 0, S.reply, &len);
  int answered = sent && rc == DMTCP_NS_OK && S.reply && len > 0;
  if (S.ep.sock < 0 && lines)
    file_log("cannot open a socket to exchange descriptors with the other processes (%s); pipes and files they "
             "share come back unshared",
             file_errno_name(S.ep.sock));
  else if (lines && !answered)
    file_debug("barrier %s: no answer (%d); pipes and files shared between processes come back unshared",
               FILE_BARRIER_SHARE, rc);
  if (answered) {
    S.reply[len] = 0;
    S.reply_len = len;
  }
  const char *p = answered ? S.reply : NULL;
  for (size_t i = 0; i < t->nrecs; i++) {
    struct file_rec *r = &t->recs[i];
    r->role = SR_LOCAL;
    r->std_fd = -1;
    if (r->leader != (int)i || !file_share_kind(r)) continue;
    char c = p && *p ? *p : 0;
    if (c == 'L') r->role = SR_LEAD;
    else if (c == '<') r->role = SR_RECV;
    else if (c >= '0' && c <= '2') {
      r->role = SR_STD;
      r->std_fd = c - '0';
    }
    else if (c == '=') r->role = SR_LOCAL;
    else r->role = fallback_role(t, r);
    if (p && *p) next_line(&p);
  }
  for (size_t i = 0; i < t->nrecs; i++) {
    struct file_rec *r = &t->recs[i];
    if (r->leader != (int)i) {
      r->role = t->recs[r->leader].role;
      r->std_fd = t->recs[r->leader].std_fd;
    }
  }
  S.sends = p;

  /* Room for every object, description and arrival this restart can need:
   * each is named by a record here or a line of the reply. */
  size_t nsend = 0;
  for (const char *q = p; q && *q; next_line(&q))
    if (*q == 'c') nsend++;
  S.objs_cap = t->nrecs + nsend + 1;
  S.cls_cap = t->nrecs + nsend + 1;
  S.got_cap = t->nrecs + 1;
  S.arena_cap = S.objs_cap * sizeof(struct file_object) + S.cls_cap * sizeof(struct share_cls) +
                S.got_cap * sizeof(struct share_got);
  S.arena = map(S.arena_cap);
  if (!S.arena) {
    S.objs_cap = S.cls_cap = S.got_cap = 0;
    return;
  }
  S.objs = S.arena;
  S.cls = (struct share_cls *)(S.objs + S.objs_cap);
  S.got = (struct share_got *)(S.cls + S.cls_cap);
  for (size_t i = 0; i < t->nrecs; i++) {
    struct file_rec *r = &t->recs[i];
    if (r->leader != (int)i || r->role != SR_RECV) continue;
    int dup = 0;
    for (size_t k = 0; k < S.ngot && !dup; k++) dup = S.got[k].owner == r->owner && S.got[k].owner_fd == r->owner_fd;
    if (dup || S.ngot == S.got_cap) continue;
    S.got[S.ngot++] = (struct share_got){r->owner, r->owner_fd, 0, -ETIMEDOUT};
  }
}

/* ---- making objects and descriptions ---- */

static struct file_object *object_of(uint64_t obj) {
  for (size_t k = 0; k < S.nobjs; k++)
    if (S.objs[k].obj == obj) return &S.objs[k];
  return NULL;
}

/* The object behind this process's record `rep`, made on first use. */
static struct file_object *object_for(size_t rep) {
  const struct file_rec *r = &S.t->recs[rep];
  struct file_object *o = object_of(r->obj);
  if (o) return o;
  if (S.nobjs == S.objs_cap) return NULL;
  o = &S.objs[S.nobjs++];
  *o = (struct file_object){r->obj, rep, {-1, -1}, 0};
  const struct file_kind_ops *ops = file_ops(r);
  o->err = ops->create_object ? ops->create_object(S.c, o) : -EINVAL;
  return o;
}

static long settle_flags(long fd, int flags) {
  if (fd < 0) return fd;
  /* Status flags only; O_DIRECT would turn a pipe into packet mode, and
   * O_ASYNC needs an owner nobody has set yet. */
  sys_fcntl((int)fd, F_SETFL, flags & (O_APPEND | O_NONBLOCK | O_NOATIME));
  return file_park(fd, S.base);
}

/* A new description of object o with the mode and flags of a checkpointed
 * one, kind telling a pty master from its slave. */
static long describe_object(struct file_object *o, int kind, char mode, int flags) {
  if (o->err < 0) return o->err;
  const struct file_kind_ops *ops = file_ops(&S.t->recs[o->rep]);
  if (!ops->open_description) return -EINVAL;
  return settle_flags(ops->open_description(S.c, o, kind, mode), flags);
}

/* A new description of a file this process restored itself (same inode),
 * opened like the checkpointed one and at its offset. */
static long describe_file(uint64_t obj, int flags, int64_t pos) {
  const struct file_rec *r = NULL;
  for (size_t i = 0; i < S.t->nrecs && !r; i++) {
    const struct file_rec *q = &S.t->recs[i];
    if (q->obj == obj && q->leader == (int)i && q->outcome == FO_RESTORED && file_share_kind(q) == 'F') r = q;
  }
  if (!r) return -ENOENT;
  char link[64];
  struct sbuf b;
  sb_init(&b, link, sizeof link);
  sb_format(&b, "/proc/thread-self/fd/%d", r->fd);
  long fd = file_open_retrying(link, file_reopen_flags(flags));
  if (fd < 0) return fd;
  if (file_ops(r)->seekable && !(flags & O_PATH)) sys_lseek((int)fd, pos, 0);
  return file_park(fd, S.base);
}

static struct share_cls *class_of(uint64_t owner, int owner_fd) {
  for (size_t k = 0; k < S.ncls; k++)
    if (S.cls[k].owner == owner && S.cls[k].owner_fd == owner_fd) return &S.cls[k];
  return NULL;
}

static struct share_cls *new_class(uint64_t owner, int owner_fd, long fd) {
  if (S.ncls == S.cls_cap) {
    if (fd >= 0) sys_close((int)fd);
    return NULL;
  }
  struct share_cls *c = &S.cls[S.ncls++];
  *c = (struct share_cls){owner, owner_fd, fd};
  return c;
}

long file_share_take(size_t i) {
  struct file_rec *r = &S.t->recs[i];
  if (!S.arena) return -ENOMEM;
  struct share_cls *c = class_of(r->owner, r->owner_fd);
  if (!c) {
    struct file_object *o = object_for(i);
    if (!o) return -ENOMEM;
    c = new_class(r->owner, r->owner_fd, describe_object(o, r->kind, file_share_mode(r), r->flags));
    if (!c) return -ENOMEM;
  }
  if (c->fd < 0) return c->fd;
  return sys_fcntl((int)c->fd, F_DUPFD_CLOEXEC, S.base);
}

/* The descriptor to send for one "c" line: our own restored descriptor
 * when we hold that description, else one made for the purpose. */
static long class_for_line(uint64_t obj, char kind, char mode, uint64_t owner, int owner_fd, int flags, int64_t pos) {
  struct share_cls *c = class_of(owner, owner_fd);
  if (c) return c->fd;
  for (size_t i = 0; i < S.t->nrecs; i++) {
    const struct file_rec *q = &S.t->recs[i];
    if (q->leader == (int)i && q->owner == owner && q->owner_fd == owner_fd && q->obj == obj &&
        q->outcome == FO_RESTORED)
      return q->fd;
  }
  long fd;
  if (kind == 'F') {
    fd = describe_file(obj, flags, pos);
  } else {
    size_t rep = S.t->nrecs;
    for (size_t i = 0; i < S.t->nrecs && rep == S.t->nrecs; i++)
      if (S.t->recs[i].obj == obj && file_share_kind(&S.t->recs[i])) rep = i;
    struct file_object *o = rep < S.t->nrecs ? object_for(rep) : NULL;
    fd = o ? describe_object(o, kind == 'm' ? FK_PTMX : kind == 's' ? FK_TTY : S.t->recs[rep].kind, mode, flags)
           : -ENOENT;
  }
  c = new_class(owner, owner_fd, fd);
  return c ? c->fd : -ENOMEM;
}

/* ---- the exchange ---- */

static struct share_got *arrival_of(uint64_t owner, int owner_fd) {
  for (size_t k = 0; k < S.ngot; k++)
    if (S.got[k].owner == owner && S.got[k].owner_fd == owner_fd) return &S.got[k];
  return NULL;
}

static void arrived(void *ctx, const struct fdpass_tag *tag, long fd) {
  (void)ctx;
  struct share_got *g = arrival_of(tag->key, tag->sub);
  if (!g || g->arrived) {
    if (fd >= 0) sys_close((int)fd);
    return;
  }
  g->arrived = 1;
  g->fd = fd >= 0 ? file_park(fd, S.base) : fd;
}

/* Takes in every datagram waiting on the socket. */
static void take_in(void) {
  unsigned rejected = S.ep.rejected, truncated = S.ep.truncated;
  fdpass_take_in(&S.ep, arrived, NULL);
  if (S.ep.rejected && !rejected)
    file_log("ignored a message on the descriptor exchange socket that did not come from this computation");
  if (S.ep.truncated > truncated) file_log("descriptors sent by another process were cut off on the way");
}

static void send_batch(const char *to, size_t to_len, const struct fdpass_tag *tags, const int *fds, size_t n,
                       long deadline) {
  unsigned rejected = S.ep.rejected;
  long rc = fdpass_send(&S.ep, to, to_len, tags, fds, n, deadline, arrived, NULL);
  if (S.ep.rejected && !rejected)
    file_log("ignored a message on the descriptor exchange socket that did not come from this computation");
  if (rc < 0) file_log("cannot send descriptors to another process of the computation (%s)", file_errno_name(rc));
}

void file_share_send(void) {
  if (!S.sends || S.ep.sock < 0) return;
  long deadline = sys_clock_ms() + SHARE_WAIT_MS;
  const char *p = S.sends;
  while (*p) {
    if (*p != 'x') {
      next_line(&p);
      continue;
    }
    p++;
    while (*p == ' ') p++;
    const char *to = p;
    while (*p && *p != ' ' && *p != '\n') p++;
    size_t to_len = (size_t)(p - to);
    long count = (long)take_dec(&p);
    next_line(&p);
    struct fdpass_tag tags[SHARE_BATCH];
    int fds[SHARE_BATCH];
    size_t n = 0;
    for (long k = 0; k < count && *p == 'c'; k++) {
      p++;
      uint64_t obj = take_hex(&p);
      char kind = take_char(&p);
      char mode = take_char(&p);
      uint64_t owner = take_hex(&p);
      int owner_fd = (int)take_dec(&p);
      int flags = (int)take_hex(&p);
      int64_t pos = take_dec(&p);
      next_line(&p);
      long fd = class_for_line(obj, kind, mode, owner, owner_fd, flags, pos);
      tags[n] = (struct fdpass_tag){owner, owner_fd, 0};
      fds[n++] = fd >= 0 ? (int)fd : -1;
      if (n == SHARE_BATCH) {
        send_batch(to, to_len, tags, fds, n, deadline);
        n = 0;
      }
    }
    if (n) send_batch(to, to_len, tags, fds, n, deadline);
  }
}

long file_share_received(size_t i) {
  const struct file_rec *r = &S.t->recs[i];
  struct share_got *g = arrival_of(r->owner, r->owner_fd);
  if (!g) return -ENOMEM;
  if (!g->arrived && S.ep.sock >= 0) {
    if (!S.wait_until) S.wait_until = sys_clock_ms() + SHARE_WAIT_MS;
    long deadline = S.wait_until;
    for (;;) {
      take_in();
      if (g->arrived || !fdpass_wait(&S.ep, deadline)) break;
    }
  }
  if (!g->arrived) return -ETIMEDOUT;
  if (g->fd < 0) return g->fd;
  return sys_fcntl((int)g->fd, F_DUPFD_CLOEXEC, S.base);
}

void file_share_finish(void) {
  for (size_t k = 0; k < S.nobjs; k++)
    for (int j = 0; j < 2; j++)
      if (S.objs[k].anchor[j] >= 0) sys_close((int)S.objs[k].anchor[j]);
  for (size_t k = 0; k < S.ncls; k++)
    if (S.cls[k].fd >= 0) sys_close((int)S.cls[k].fd);
  for (size_t k = 0; k < S.ngot; k++)
    if (S.got[k].arrived && S.got[k].fd >= 0) sys_close((int)S.got[k].fd);
  fdpass_close(&S.ep);
  if (S.arena) sys_munmap_ptr(S.arena, round_page(S.arena_cap));
  if (S.rec) sys_munmap_ptr(S.rec, round_page(S.rec_cap));
  if (S.reply) sys_munmap_ptr(S.reply, round_page(SHARE_REPLY_CAP + 1));
  memset(&S, 0, sizeof S);
}
