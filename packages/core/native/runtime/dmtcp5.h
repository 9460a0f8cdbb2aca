/* Between the runtime's own event dispatch (which speaks plugin.h) and the
 * plugins written for DMTCP's API (dmtcp.h): the two headers cannot meet in
 * one file, so this one carries DMTCP's event numbers under names of its own
 * (dmtcp5.c checks them against dmtcp.h at compile time). */
#ifndef RUNTIME_DMTCP5_H
#define RUNTIME_DMTCP5_H

#include <stddef.h>

#include "dmtcp/visibility.h"

enum d5_event {
  D5_INIT = 0,
  D5_EXIT = 1,
  D5_PRE_EXEC = 2,
  D5_POST_EXEC = 3,
  D5_ATFORK_PREPARE = 4,
  D5_ATFORK_PARENT = 5,
  D5_ATFORK_CHILD = 6,
  D5_PTHREAD_START = 12,
  D5_PTHREAD_EXIT = 13,
  D5_PTHREAD_RETURN = 14,
  D5_PRESUSPEND = 15,
  D5_PRECHECKPOINT = 16,
  D5_RESUME = 17,
  D5_RESTART = 18,
  D5_RUNNING = 19,
  D5_THREAD_RESUME = 20,
};

/* What one of our events carries that a DMTCP event needs. */
struct d5_data {
  int is_restart;
  const char *filename;
  char *const *argv;
  char *const *envp;
};

/* Number of plugins registered through dmtcp_register_plugin. */
DMTCP_HIDDEN extern int g_d5_count;
/* Calls the process's dmtcp_initialize_plugin chain (once per program). */
DMTCP_HIDDEN void dmtcp5_init(void);
/* Delivers a DMTCP event to every registered plugin: in registration order,
 * or in reverse (the events on the way back, as DMTCP orders them). */
DMTCP_HIDDEN void dmtcp5_deliver(int d5_event, const struct d5_data *d, int reverse);
/* Our events in DMTCP's terms: the ones delivered before our own plugin
 * chain runs, and the ones after it (events.c). */
DMTCP_HIDDEN void dmtcp5_before(int our_event, const void *our_data);
DMTCP_HIDDEN void dmtcp5_after(int our_event, const void *our_data);
/* True if `addr` lies in a library that registered a DMTCP-style plugin. */
DMTCP_HIDDEN int dmtcp5_owns(const void *addr);
/* DMTCP's one-argument dmtcp_global_barrier. */
DMTCP_HIDDEN void dmtcp5_global_barrier(const char *name);

#endif
