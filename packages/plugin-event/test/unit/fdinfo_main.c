/* Runs the plugin's fdinfo parsers on the text given on stdin:
 *   fdinfo_main KEY BASE   the value of KEY, or "absent"
 *   fdinfo_main epoll      one "tfd events data" line per interest */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event_plugin.h"

struct event_table g_event_table;

int event_wrapped_semaphore(int fd) {
  (void)fd;
  return 0;
}

static char text[EVENT_FDINFO_CAP];

int main(int argc, char **argv) {
  size_t len = fread(text, 1, sizeof text - 1, stdin);
  text[len] = 0;
  if (argc == 2 && strcmp(argv[1], "epoll") == 0) {
    struct event_table *t = &g_event_table;
    struct event_rec *r = &t->recs[t->nrecs++];
    r->fd = 1000;
    r->kind = EK_EPOLL;
    t->kcmp_ok = 0;
    event_epoll_ops.describe(t, r, text, len);
    for (size_t i = r->first; i < r->first + r->n; i++)
      printf("%d %x %llx\n", t->interests[i].tfd, t->interests[i].events, (unsigned long long)t->interests[i].data);
    return 0;
  }
  if (argc != 3) return 2;
  uint64_t v;
  if (event_fdinfo_u64(text, len, argv[1], (unsigned)atoi(argv[2]), &v) < 0) puts("absent");
  else printf("%llu\n", (unsigned long long)v);
  return 0;
}
