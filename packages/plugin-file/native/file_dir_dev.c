/* Directories, character devices that are not terminals (/dev/null,
 * /dev/urandom...) and block devices: reopened by path, with their flags,
 * at their offset where they have one. */
#define _GNU_SOURCE
#include "file_plugin.h"

static int reopen_by_path(struct file_restart *c, size_t i, const char *what) {
  struct file_rec *r = &c->t->recs[i];
  const char *path = file_restart_path(c, r->path);
  if (!path) {
    file_log("fd %d: %s is too long once mapped; %s", r->fd, r->path, file_leave_note(r));
    return FO_FAILED;
  }
  return file_reopen_at(r, path, what);
}

static int dir_restore(struct file_restart *c, size_t i) { return reopen_by_path(c, i, file_dir_ops.name); }
static int chr_restore(struct file_restart *c, size_t i) { return reopen_by_path(c, i, file_chr_ops.name); }
static int blk_restore(struct file_restart *c, size_t i) { return reopen_by_path(c, i, file_blk_ops.name); }

const struct file_kind_ops file_dir_ops = {
    .name = "directory",
    .seekable = 1,
    .share_kind = file_share_as_file,
    .restore = dir_restore,
};

const struct file_kind_ops file_chr_ops = {
    .name = "device",
    .share_kind = file_share_as_file,
    .restore = chr_restore,
};

const struct file_kind_ops file_blk_ops = {
    .name = "block device",
    .seekable = 1,
    .share_kind = file_share_as_file,
    .restore = blk_restore,
};
