/* The tutorial's "sleep1" in DMTCP's API: a wrapper around sleep() through
 * NEXT_FNC, plus a descriptor so that it registers after example5 and shows
 * the order DMTCP calls plugins in. */
#include <time.h>

#include "dmtcp.h"
#include "say.h"

unsigned int sleep(unsigned int seconds) {
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  say("d5[" VARIANT "] sleep before sleep(%u) pid=%d", seconds, (int)getpid());
  unsigned int left = NEXT_FNC(sleep)(seconds);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
  say("d5[" VARIANT "] sleep after sleep(%u)=%u ms=%ld pid=%d", seconds, left, ms, (int)getpid());
  return left;
}

static void hook(const DmtcpEvent_t event, DmtcpEventData_t *data) {
  (void)data;
  if (event == DMTCP_EVENT_PRECHECKPOINT || event == DMTCP_EVENT_RESUME || event == DMTCP_EVENT_RESTART)
    say("d5[" VARIANT "] sleep %s pid=%d",
        event == DMTCP_EVENT_PRECHECKPOINT ? "PRECHECKPOINT" : event == DMTCP_EVENT_RESUME ? "RESUME" : "RESTART",
        (int)getpid());
}

static DmtcpPluginDescriptor_t sleep_plugin = {DMTCP_PLUGIN_API_VERSION, DMTCP_PACKAGE_VERSION, "sleep", "DMTCP",
                                               "dmtcp@example.invalid", "Wraps sleep()", hook};

DMTCP_DECL_PLUGIN(sleep_plugin);
