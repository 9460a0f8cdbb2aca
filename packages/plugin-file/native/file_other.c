/* What this plugin leaves to others: sockets, anonymous inodes (epoll,
 * eventfd, signalfd, timerfd, inotify, pidfd) and anything it does not
 * know. */
#define _GNU_SOURCE
#include "file_plugin.h"

/* Only so that a socket several processes hold is known for one
 * description (0-2 from outside, src/share.ts); restoring sockets is
 * another plugin's work. */
static char socket_share_kind(const struct file_rec *r) {
  (void)r;
  return 'S';
}

const struct file_kind_ops file_socket_ops = {
    .name = "socket",
    .share_kind = socket_share_kind,
};

const struct file_kind_ops file_anon_ops = {
    .name = "anonymous inode",
};

const struct file_kind_ops file_other_ops = {
    .name = "other",
};
