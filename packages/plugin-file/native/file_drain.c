/* Checkpoint side of what processes share: at DRAIN, every process reports
 * its descriptions at the "file:drain" barrier; the reply says which
 * descriptions of lower upids may be the same as each of ours (kcmp
 * decides) and which one description in the computation drains each pipe,
 * FIFO and pseudo-terminal.  The drained bytes live in a mapping the image
 * captures, and go back into the object at REFILL, on resume as after a
 * restart, so the application reads the same bytes in the same order.
 * This file owns the barrier and the loops; the kinds that hold bytes
 * (pipes, FIFOs, pseudo-terminal masters) drain and refill them.
 *
 * Runs in the checkpoint thread with every thread of every process
 * stopped: no malloc, no stdio, kernel calls only. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <string.h>

#include "dmtcp/plugin.h"
#include "file_plugin.h"
#include "dmtcp/sys.h"

static uint64_t parse_hex(const char **pp) {
  uint64_t v = 0;
  long n = fmt_parse_hex(*pp, (size_t)-1, &v);
  if (n > 0) *pp += n;
  return v;
}

static int64_t parse_dec(const char **pp) {
  int64_t v = 0;
  long n = fmt_parse_i64(*pp, (size_t)-1, &v);
  if (n > 0) *pp += n;
  return v;
}

static void skip_spaces(const char **pp) {
  while (**pp == ' ') (*pp)++;
}

/* Descriptions of pipes and terminals can be told apart without kcmp only
 * by their flags, which the policy already matched: a pipe end inherited
 * through fork is by far the common case.  A file is different: two
 * processes reading one file from its start are at the same offset too. */
static int same_without_kcmp(const struct file_rec *r) { return file_share_kind(r) != 'F'; }

/* Compares r with the candidates on one reply line and makes the first
 * that is the same description its owner. */
static void find_owner(struct file_table *t, struct file_rec *r, const char *p, long count, int *kcmp_warned) {
  for (long k = 0; k < count; k++) {
    skip_spaces(&p);
    uint64_t upid = parse_hex(&p);
    skip_spaces(&p);
    long pid = (long)parse_dec(&p);
    skip_spaces(&p);
    int fd = (int)parse_dec(&p);
    long same = -EPERM;
    if (t->kcmp_ok) same = sys_kcmp_file2(t->pid, pid, r->fd, fd);
    if (same < 0 && same != -ESRCH && same != -EBADF) {
      if (t->kcmp_ok && !*kcmp_warned) {
        *kcmp_warned = 1;
        file_debug("kcmp across processes refused (%s): pipe and terminal ends are matched by their flags, files are "
                   "not shared",
                   file_errno_name(same));
      }
      same = same_without_kcmp(r) ? 0 : 1;
    }
    if (same == 0) {
      r->owner = upid;
      r->owner_fd = fd;
      return;
    }
  }
}

/* The record, the reply buffer and the drain region are mapped for the
 * barrier only: the checkpoint thread's stack is the runtime's. */
static void *map_or_null(size_t len) {
  long err = 0;
  void *p = sys_mmap_anon((len + 4095) & ~(size_t)4095, &err);
  return p;
}

static void unmap(void *p, size_t len) {
  if (p) sys_munmap_ptr(p, (len + 4095) & ~(size_t)4095);
}

void file_drain(struct file_table *t) {
  if (!t->valid) {
    size_t len = 0;
    dmtcp_global_barrier(FILE_BARRIER_DRAIN, "", 0, NULL, &len);
    return;
  }
  size_t lines = 0;
  for (size_t i = 0; i < t->nrecs; i++)
    if (t->recs[i].leader == (int)i && file_share_kind(&t->recs[i])) lines++;
  size_t rec_cap = 64 + lines * 96;
  size_t reply_cap = 64 + lines * (8 + FILE_MAX_CANDIDATES * 48);
  char *rec = map_or_null(rec_cap);
  char *reply = map_or_null(reply_cap);
  struct sbuf b;
  if (rec) {
    sb_init(&b, rec, rec_cap);
    sb_format(&b, "h %ld\n", t->pid);
    for (size_t i = 0; i < t->nrecs; i++) {
      struct file_rec *r = &t->recs[i];
      char kind = file_share_kind(r);
      if (r->leader != (int)i || !kind) continue;
      sb_puts(&b, "o ");
      sb_putx(&b, r->obj, FILE_KEY_HEX);
      sb_format(&b, " %c %c %d %x %ld\n", kind, file_share_mode(r), r->fd, (unsigned)r->flags, (long)r->pos);
    }
  }
  size_t len = reply ? reply_cap : 0;
  int rc = dmtcp_global_barrier(FILE_BARRIER_DRAIN, rec ? rec : "", rec && !b.overflow ? b.len : 0, reply, &len);
  int answered = rc == DMTCP_NS_OK && reply && len > 0 && lines > 0;
  if (rc != DMTCP_NS_OK) file_debug("barrier %s: no answer (%d)", FILE_BARRIER_DRAIN, rc);
  if (answered) reply[len < reply_cap ? len : reply_cap - 1] = 0;

  /* One reply line per reported description, in the same order. */
  const char *p = answered ? reply : NULL;
  int kcmp_warned = 0;
  for (size_t i = 0; i < t->nrecs; i++) {
    struct file_rec *r = &t->recs[i];
    r->drained = 0;
    if (r->leader != (int)i || !file_share_kind(r)) continue;
    const struct file_kind_ops *ops = file_ops(r);
    if (!p || !*p) {
      /* Without the policy a process drains only what the kind says it
       * holds alone. */
      r->drained = ops->drain && ops->drains_alone && ops->drains_alone(t, r);
      continue;
    }
    int drains = *p == '1';
    p++;
    skip_spaces(&p);
    long count = (long)parse_dec(&p);
    find_owner(t, r, p, count, &kcmp_warned);
    while (*p && *p != '\n') p++;
    if (*p == '\n') p++;
    r->drained = drains && ops->drain != NULL;
  }
  /* Aliases follow the description they belong to. */
  for (size_t i = 0; i < t->nrecs; i++) {
    struct file_rec *r = &t->recs[i];
    if (r->leader == (int)i) continue;
    r->owner = t->recs[r->leader].owner;
    r->owner_fd = t->recs[r->leader].owner_fd;
  }
  unmap(rec, rec_cap);
  unmap(reply, reply_cap);

  size_t total = 0;
  for (size_t i = 0; i < t->nrecs; i++) {
    struct file_rec *r = &t->recs[i];
    if (!r->drained) continue;
    r->drain_off = total;
    total += file_ops(r)->drain_cap(r);
  }
  if (!total) return;
  long err = 0;
  t->drain_bytes = (total + 4095) & ~(size_t)4095;
  t->drain = sys_mmap_anon(t->drain_bytes, &err);
  if (!t->drain) {
    t->drain_bytes = 0;
    file_log("no memory to drain pipes (%s): their buffered bytes stay in them and are lost at restart",
             file_errno_name(err));
    for (size_t i = 0; i < t->nrecs; i++) t->recs[i].drained = 0;
    return;
  }
  for (size_t i = 0; i < t->nrecs; i++) {
    struct file_rec *r = &t->recs[i];
    if (r->drained) file_ops(r)->drain(t, r);
  }
  t->refill_pending = 1;
}

void file_refill(struct file_table *t) {
  if (!t->refill_pending || !t->drain) return;
  t->refill_pending = 0;
  for (size_t i = 0; i < t->nrecs; i++) {
    struct file_rec *r = &t->recs[i];
    if (!r->drained) continue;
    if (r->outcome == FO_FAILED || r->outcome == FO_SKIPPED || r->outcome == FO_KEPT) {
      /* Kept: the descriptor is now what `dmtcp restart` provides (a pipe
       * from outside on stdin, say), another object than the one drained. */
      if (r->drain_len + r->drain2_len)
        file_log("fd %d (%s) %s: the %lu bytes buffered in it at the checkpoint are lost", r->fd, r->path,
                 r->outcome == FO_KEPT ? "is what the restart provides" : "is not back",
                 (unsigned long)(r->drain_len + r->drain2_len));
      continue;
    }
    if (file_ops(r)->refill) file_ops(r)->refill(t, r);
  }
}
