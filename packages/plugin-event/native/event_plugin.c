/* The event plugin's event handler: the phase script, top to bottom.
 *
 *   INIT        read the launch settings (DMTCP_DEBUG)
 *   DRAIN       describe every epoll, eventfd and signalfd descriptor into
 *               the table the image captures (event_scan.c)
 *   WRITE_CKPT  the same, if DRAIN did not run
 *   REFILL      on restart: make them again (event_restore.c).  Not at
 *               RESTART: plugin-file, loaded before this plugin, restores
 *               its descriptors once the plugins after it have seen
 *               RESTART, and refills pipes before passing REFILL on, so
 *               at our REFILL every epoll target it owns is back, data
 *               included
 *   THREADS_RESUME  the table has served
 *
 * Each event goes on to the plugins loaded after this one with
 * NEXT_DMTCP_PROCESS_EVENT, exactly once. */
#include <stdlib.h>

#include "dmtcp/debug.h"
#include "dmtcp/plugin.h"
#include "dmtcp/visibility.h"
#include "event_plugin.h"

DMTCP_EXPORT void dmtcp_process_event(DmtcpEvent_t event, DmtcpEventData_t *data) {
  switch (event) {
    case DMTCP_EVENT_INIT:
      /* getenv is safe here, not at checkpoint time. */
      dmtcp_debug_set(dmtcp_debug_value_on(getenv(DMTCP_DEBUG_ENV)));
      break;
    case DMTCP_EVENT_DRAIN:
      event_scan(&g_event_table);
      break;
    case DMTCP_EVENT_WRITE_CKPT:
      if (!g_event_table.valid) event_scan(&g_event_table);
      break;
    case DMTCP_EVENT_REFILL:
      if (data && data->resumeInfo.isRestart) event_restore(&g_event_table);
      break;
    case DMTCP_EVENT_THREADS_RESUME:
      g_event_table.valid = 0;
      break;
    default:
      break;
  }
  NEXT_DMTCP_PROCESS_EVENT(event, data);
}
