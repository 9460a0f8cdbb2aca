/* Regular files with a name, and those unlinked while open: reopened by
 * path at restart (or recreated from their saved bytes), compared with the
 * checkpoint, written back on request. */
#define _GNU_SOURCE
#include "file_plugin.h"

static void reg_describe(struct file_rec *r) {
  if (r->deleted) file_strip_deleted(r->path);
}

static int reg_wants_contents(const struct file_rec *r, const struct file_settings *s) {
  return r->deleted || s->ckpt_open_files;
}

const struct file_kind_ops file_reg_ops = {
    .name = "file",
    .describe = reg_describe,
    .wants_contents = reg_wants_contents,
    .share_kind = file_share_as_file,
};
