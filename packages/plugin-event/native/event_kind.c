/* The table of kinds: which struct event_kind_ops serves each enum
 * event_kind.  The phases reach a kind's code only through here. */
#include "event_plugin.h"

static const struct event_kind_ops *const kinds[] = {
    [EK_EVENTFD] = &event_eventfd_ops,
    [EK_SIGNALFD] = &event_signalfd_ops,
    [EK_EPOLL] = &event_epoll_ops,
    [EK_INOTIFY] = &event_inotify_ops,
};

const struct event_kind_ops *event_kind_ops_of(int kind) {
  if (kind <= EK_NONE || kind >= EK_COUNT) return NULL;
  return kinds[kind];
}

static int same(const char *a, const char *b) {
  while (*a && *a == *b) a++, b++;
  return *a == *b;
}

int event_kind_of_link(const char *link) {
  for (int k = EK_NONE + 1; k < EK_COUNT; k++)
    if (same(link, kinds[k]->link)) return k;
  return EK_NONE;
}

struct event_rec *event_rec_of_fd(struct event_table *t, int fd) {
  for (size_t i = 0; i < t->nrecs; i++)
    if (t->recs[i].fd == fd) return &t->recs[i];
  return NULL;
}
