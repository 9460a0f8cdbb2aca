/* The table of kinds: which struct file_kind_ops serves each enum
 * file_kind.  The phases reach a kind's code only through here. */
#include "file_plugin.h"

static const struct file_kind_ops *const kinds[] = {
    [FK_NONE] = &file_other_ops,  [FK_REG] = &file_reg_ops,     [FK_DIR] = &file_dir_ops,
    [FK_CHR] = &file_chr_ops,     [FK_BLK] = &file_blk_ops,     [FK_TTY] = &file_tty_ops,
    [FK_PTMX] = &file_ptmx_ops,   [FK_PIPE] = &file_pipe_ops,   [FK_FIFO] = &file_fifo_ops,
    [FK_SOCKET] = &file_socket_ops, [FK_ANON] = &file_anon_ops, [FK_MEMFD] = &file_memfd_ops,
    [FK_OTHER] = &file_other_ops,
};

const struct file_kind_ops *file_kind_ops_of(int kind) {
  if (kind < 0 || (size_t)kind >= sizeof kinds / sizeof kinds[0] || !kinds[kind]) return &file_other_ops;
  return kinds[kind];
}

const char *file_kind_name(int kind) { return file_kind_ops_of(kind)->name; }

char file_share_kind(const struct file_rec *r) {
  const struct file_kind_ops *ops = file_ops(r);
  return ops->share_kind ? ops->share_kind(r) : 0;
}

int file_is_shared_object(const struct file_rec *r) { return file_ops(r)->create_object != NULL; }
