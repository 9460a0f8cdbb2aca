/* The pid plugin's event handler: the phase script, top to bottom.
 *
 *   INIT             who this process is: the virtual pid it was born with,
 *                    handed over by exec or a spawning parent, or claimed
 *                    from the coordinator module (pid_process.c)
 *   THREAD_START     a new thread's virtual tid (its first real tid)
 *   ATFORK_CHILD     a fork child becomes its own process, or is discarded
 *                    when its pid is a virtual id in use (pid_fork.c)
 *   WRITE_CKPT       note whether this process is an orphan, and the
 *                    children that ended unreaped (pid_zombie.c)
 *   RESTART          before the plugins after this one: the new real pid,
 *                    the host's table from the "pid:restart" barrier
 *                    (pid_restart.c), the unreaped children made again
 *   RESUME_USER_THREAD  after a restart, each thread files its new real tid
 *
 * The wrappers that translate ids live with the kernel object they name;
 * pid_internal.h draws the layers. */
#include <stdlib.h>

#include "dmtcp/plugin.h"
#include "pid_internal.h"

static void on_restart(void) {
  pid_claim_forget();
  pid_t real = pid_process_restarted();
  pid_restart_exchange(real);
  pid_zombie_restart();
}

PID_EXPORT void dmtcp_process_event(DmtcpEvent_t event, DmtcpEventData_t *data) {
  int active = atomic_load(&g_pid_active);
  switch (event) {
    case DMTCP_EVENT_INIT:
      dmtcp_debug_set(dmtcp_debug_value_on(getenv(DMTCP_DEBUG_ENV)));
      pid_process_init();
      break;
    case DMTCP_EVENT_ATFORK_CHILD:
      if (active) pid_fork_child_setup();
      break;
    case DMTCP_EVENT_THREAD_START:
      if (active) pid_process_thread_start();
      break;
    case DMTCP_EVENT_RESTART:
      /* Before passing the event on: the core dispatches in load order, so
       * plugins loaded after this one would otherwise restore (and
       * translate ids) before the table is loaded.  Those loaded before it
       * do their restart work once NEXT_DMTCP_PROCESS_EVENT returns, also
       * after this. */
      if (active) on_restart();
      break;
    case DMTCP_EVENT_WRITE_CKPT:
      if (active) {
        pid_process_checkpoint();
        pid_zombie_checkpoint();
      }
      break;
    case DMTCP_EVENT_RESUME_USER_THREAD:
      if (active && data && data->resumeUserThreadInfo.isRestart) pid_process_thread_restarted();
      break;
    default:
      break;
  }
  NEXT_DMTCP_PROCESS_EVENT(event, data);
}
