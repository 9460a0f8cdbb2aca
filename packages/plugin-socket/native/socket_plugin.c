/* The socket plugin's event handler: the phase script, top to bottom.
 *
 *   INIT        read the launch settings (DMTCP_DEBUG)
 *   DRAIN       describe every socket into the table the image captures
 *               (socket_scan.c); learn which connections have both ends
 *               in the computation (socket_peers.c, a barrier) and read
 *               their in-flight bytes out (socket_drain.c); copy, not
 *               take, every datagram socket's queue (socket_dgram.c)
 *   WRITE_CKPT  the same, if DRAIN did not run
 *   REFILL      on restart: make them again (socket_restore.c), before
 *               passing REFILL on.  Not at RESTART: plugin-file, loaded
 *               before this plugin, restores its descriptors once the
 *               plugins after it have seen RESTART, so only at REFILL are
 *               the numbers it leaves to us known to be free.  plugin-event
 *               is loaded after this plugin ("after" in its package.json)
 *               and puts epoll interests back at its REFILL, when the
 *               sockets are there again; then, on resume as on restart,
 *               put the drained bytes back (socket_drain.c)
 *   THREADS_RESUME  the table and the drained bytes have served
 *
 * Each event goes on to the plugins loaded after this one with
 * NEXT_DMTCP_PROCESS_EVENT, exactly once. */
#include <stdlib.h>

#include "dmtcp/debug.h"
#include "dmtcp/plugin.h"
#include "dmtcp/visibility.h"
#include "socket_dgram.h"
#include "socket_plugin.h"

DMTCP_EXPORT void dmtcp_process_event(DmtcpEvent_t event, DmtcpEventData_t *data) {
  switch (event) {
    case DMTCP_EVENT_INIT:
      /* getenv is safe here, not at checkpoint time. */
      dmtcp_debug_set(dmtcp_debug_value_on(getenv(DMTCP_DEBUG_ENV)));
      break;
    case DMTCP_EVENT_DRAIN:
      socket_scan(&g_socket_table);
      socket_dgram_save(&g_socket_table);
      if (socket_peers(&g_socket_table) == 0) socket_drain(&g_socket_table);
      break;
    case DMTCP_EVENT_WRITE_CKPT:
      if (!g_socket_table.valid) {
        socket_scan(&g_socket_table);
        socket_dgram_save(&g_socket_table);
      }
      break;
    case DMTCP_EVENT_REFILL:
      if (data && data->resumeInfo.isRestart) socket_restore(&g_socket_table);
      socket_refill(&g_socket_table);
      break;
    case DMTCP_EVENT_THREADS_RESUME:
      socket_release(&g_socket_table);
      break;
    default:
      break;
  }
  NEXT_DMTCP_PROCESS_EVENT(event, data);
}
