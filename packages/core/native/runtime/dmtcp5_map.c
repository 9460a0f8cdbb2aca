/* Which of our events a plugin written for DMTCP sees, under which DMTCP
 * event, and whether before or after our own plugins.  DMTCP calls its
 * plugins in registration order on the way into a checkpoint (and at start,
 * exec, fork preparation, thread start) and in reverse on the way back
 * (resume, restart, exit, fork completion): a plugin loaded first wraps the
 * ones after it.  Those plugins come first in our load order too, so the
 * forward events go to them before our chain and the others after it, once
 * the built-in plugins have restored what they own. */
#include <string.h>

#include "dmtcp/plugin.h"
#include "dmtcp5.h"

struct mapping {
  int d5;
  int reverse;
};

static struct mapping map_event(int ev) {
  switch (ev) {
    case DMTCP_EVENT_INIT: return (struct mapping){D5_INIT, 0};
    case DMTCP_EVENT_EXIT: return (struct mapping){D5_EXIT, 1};
    case DMTCP_EVENT_PRE_EXEC: return (struct mapping){D5_PRE_EXEC, 0};
    case DMTCP_EVENT_POST_EXEC: return (struct mapping){D5_POST_EXEC, 0};
    case DMTCP_EVENT_ATFORK_PREPARE: return (struct mapping){D5_ATFORK_PREPARE, 0};
    case DMTCP_EVENT_ATFORK_PARENT: return (struct mapping){D5_ATFORK_PARENT, 1};
    case DMTCP_EVENT_ATFORK_CHILD: return (struct mapping){D5_ATFORK_CHILD, 1};
    case DMTCP_EVENT_PTHREAD_START: return (struct mapping){D5_PTHREAD_START, 0};
    case DMTCP_EVENT_PTHREAD_EXIT: return (struct mapping){D5_PTHREAD_EXIT, 1};
    case DMTCP_EVENT_PTHREAD_RETURN: return (struct mapping){D5_PTHREAD_RETURN, 1};
    case DMTCP_EVENT_WAIT_FOR_SUSPEND_MSG: return (struct mapping){D5_RUNNING, 0};
    case DMTCP_EVENT_SUSPENDED: return (struct mapping){D5_PRECHECKPOINT, 0};
    case DMTCP_EVENT_RESUME: return (struct mapping){D5_RESUME, 1};
    case DMTCP_EVENT_RESTART: return (struct mapping){D5_RESTART, 1};
    case DMTCP_EVENT_RESUME_USER_THREAD: return (struct mapping){D5_THREAD_RESUME, 1};
    default: return (struct mapping){-1, 0};
  }
}

static void deliver(int ev, const void *data, int reverse) {
  if (g_d5_count == 0) return;
  struct mapping m = map_event(ev);
  if (m.d5 < 0 || m.reverse != reverse) return;
  const DmtcpEventData_t *ours = data;
  struct d5_data d;
  memset(&d, 0, sizeof d);
  if (ours) {
    switch (ev) {
      case DMTCP_EVENT_PRE_EXEC:
        d.filename = ours->preExec.filename;
        d.argv = ours->preExec.argv;
        d.envp = ours->preExec.envp;
        break;
      case DMTCP_EVENT_RESUME:
      case DMTCP_EVENT_RESTART:
        d.is_restart = ours->resumeInfo.isRestart;
        break;
      case DMTCP_EVENT_RESUME_USER_THREAD:
        d.is_restart = ours->resumeUserThreadInfo.isRestart;
        break;
      default:
        break;
    }
  }
  dmtcp5_deliver(m.d5, &d, m.reverse);
}

void dmtcp5_before(int our_event, const void *our_data) { deliver(our_event, our_data, 0); }
void dmtcp5_after(int our_event, const void *our_data) { deliver(our_event, our_data, 1); }
