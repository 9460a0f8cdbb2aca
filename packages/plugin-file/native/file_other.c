/* What this plugin leaves to others: sockets, anonymous inodes (epoll,
 * eventfd, signalfd, timerfd, inotify, pidfd) and anything it does not
 * know. */
#define _GNU_SOURCE
#include "file_plugin.h"

static int left_to_another_plugin(struct file_restart *c, size_t i) {
  const struct file_rec *r = &c->t->recs[i];
  file_debug("fd %d (%s): left to the plugin that handles it", r->fd, r->path);
  return FO_SKIPPED;
}

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
    .std_stays = 1,
    .restore = left_to_another_plugin,
};

const struct file_kind_ops file_anon_ops = {
    .name = "anonymous inode",
    .std_stays = 1,
    .restore = left_to_another_plugin,
};

const struct file_kind_ops file_other_ops = {
    .name = "other",
    .std_stays = 1,
};
