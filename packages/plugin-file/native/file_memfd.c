/* memfds: a file that exists only in the kernel.  Its bytes are always
 * saved; at restart it is made again with memfd_create (seals are not
 * restored). */
#define _GNU_SOURCE
#include "file_plugin.h"

static void memfd_describe(struct file_rec *r) { file_strip_deleted(r->path); }

static int memfd_wants_contents(const struct file_rec *r, const struct file_settings *s) {
  (void)r;
  (void)s;
  return 1;
}

const struct file_kind_ops file_memfd_ops = {
    .name = "memfd",
    .describe = memfd_describe,
    .wants_contents = memfd_wants_contents,
    .share_kind = file_share_as_file,
};
