/* Pipes and FIFOs: their size at checkpoint, the bytes buffered in them
 * drained and refilled, and one object again at restart, made by one
 * process for every process that held an end. */
#define _GNU_SOURCE
#include <fcntl.h>

#include "file_plugin.h"
#include "dmtcp/sys.h"

#define SYS_F_GETPIPE_SZ 1032

static void pipe_describe(struct file_rec *r) {
  long sz = sys_fcntl(r->fd, SYS_F_GETPIPE_SZ, 0);
  r->pipe_size = sz > 0 ? (int)sz : 65536;
}

static char pipe_share_kind(const struct file_rec *r) {
  (void)r;
  return 'p';
}

static char fifo_share_kind(const struct file_rec *r) {
  (void)r;
  return 'f';
}

const struct file_kind_ops file_pipe_ops = {
    .name = "pipe",
    .describe = pipe_describe,
    .share_kind = pipe_share_kind,
};

const struct file_kind_ops file_fifo_ops = {
    .name = "FIFO",
    .describe = pipe_describe,
    .share_kind = fifo_share_kind,
};
