/* Restart: asks the coordinator (src/missing.ts) what becomes of each file
 * that vanished since the checkpoint, with what this process knows of it:
 * how each of its descriptions was opened and whether the image holds its
 * bytes.  One call per process, and only when something is missing.
 * Without an answer nothing is recreated: the descriptors stay closed, as
 * --missing-files error leaves them. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <string.h>

#include "dmtcp/plugin.h"
#include "file_plugin.h"
#include "dmtcp/sys.h"

static char request[65536];
static char reply[8192];

static int same_inode(const struct file_rec *a, const struct file_rec *b) {
  return a->kind == b->kind && a->dev == b->dev && a->ino == b->ino;
}

/* Records this process restores itself or for others; what it receives, the
 * process that sends it decides about. */
static int asks(const struct file_rec *r) { return r->verdict == FV_MISSING && r->role != SR_RECV; }

static int saved_bytes(const struct file_table *t, const struct file_rec *r) {
  if (!t->data) return 0;
  for (size_t i = 0; i < t->nrecs; i++)
    if (t->recs[i].saved && same_inode(&t->recs[i], r)) return 1;
  return 0;
}

void file_missing_decide(struct file_table *t, const struct file_settings *s) {
  size_t asked = 0;
  for (size_t i = 0; i < t->nrecs; i++) {
    t->recs[i].missing_action = MA_LEAVE;
    if (asks(&t->recs[i])) asked++;
  }
  if (!asked) return;
  struct sbuf b;
  sb_init(&b, request, sizeof request);
  sb_puts(&b, "policy ");
  for (const char *p = s->missing_policy; *p; p++) sb_putc(&b, *p == '\n' ? '?' : *p);
  sb_putc(&b, '\n');
  size_t sent = 0;
  for (size_t i = 0; i < t->nrecs; i++) {
    const struct file_rec *r = &t->recs[i];
    if (!asks(r)) continue;
    size_t before = b.len;
    sb_format(&b, "f %d %d ", r->fd, saved_bytes(t, r));
    int first = 1;
    for (size_t j = 0; j < t->nrecs; j++) {
      const struct file_rec *q = &t->recs[j];
      if (q->leader != (int)j || !same_inode(q, r)) continue;
      if (!first) sb_putc(&b, ',');
      first = 0;
      sb_format(&b, "%c%d", file_share_mode(q), q->created ? 1 : 0);
    }
    sb_putc(&b, '\n');
    if (b.overflow) {
      /* Left out: stays closed, said in restore_named. */
      b.len = before;
      b.overflow = 0;
      b.buf[b.len] = 0;
      break;
    }
    sent++;
  }
  size_t len = sizeof reply - 1;
  int rc = dmtcp_coordinator_call(FILE_CALL_MISSING, request, b.len, reply, &len);
  if (rc != DMTCP_NS_OK) {
    file_log("the coordinator did not decide about the files that vanished (%s); they stay closed",
             rc == DMTCP_NS_NOT_FOUND ? "it has no file module" : "the call failed");
    return;
  }
  reply[len] = 0;
  const char *nl = memchr(reply, '\n', len);
  if (!nl || (size_t)(reply + len - (nl + 1)) != sent) {
    file_log("the coordinator's answer about the files that vanished is malformed; they stay closed");
    return;
  }
  const char *a = nl + 1;
  if (reply[0] == '!' && nl - reply >= 2) {
    reply[nl - reply] = 0;
    file_log("%s", reply + 2);
  }
  size_t k = 0;
  for (size_t i = 0; i < t->nrecs && k < sent; i++) {
    struct file_rec *r = &t->recs[i];
    if (!asks(r)) continue;
    char c = a[k++];
    r->missing_action = c == 'r' ? MA_RECREATE : c == 'c' ? MA_CREATE : MA_LEAVE;
  }
}
