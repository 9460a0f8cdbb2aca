/* The tutorial's "example" plugin in DMTCP's API: announces every event it
 * receives and waits at a global barrier in the checkpoint events.  Built
 * against include/dmtcp/dmtcp.h and against a reproduction of DMTCP's own
 * header (fixture/dmtcp.h); VARIANT names the build in its lines. */
#include "dmtcp.h"
#include "say.h"

static const char *const names[] = {
    "INIT", "EXIT", "PRE_EXEC", "POST_EXEC", "ATFORK_PREPARE", "ATFORK_PARENT", "ATFORK_CHILD", "ATFORK_FAILED",
    "VFORK_PREPARE", "VFORK_PARENT", "VFORK_CHILD", "VFORK_FAILED", "PTHREAD_START", "PTHREAD_EXIT",
    "PTHREAD_RETURN", "PRESUSPEND", "PRECHECKPOINT", "RESUME", "RESTART", "RUNNING", "THREAD_RESUME", "OPEN_FD",
    "REOPEN_FD", "CLOSE_FD", "DUP_FD", "VIRTUAL_TO_REAL_PATH", "REAL_TO_VIRTUAL_PATH"};

static void hook(const DmtcpEvent_t event, DmtcpEventData_t *data) {
  const char *name = (int)event >= 0 && event < nDmtcpEvents ? names[event] : "UNKNOWN";
  int pid = (int)getpid();
  switch (event) {
    case DMTCP_EVENT_THREAD_RESUME:
      say("d5[" VARIANT "] example %s pid=%d isRestart=%d", name, pid, data->resumeUserThreadInfo.isRestart);
      break;
    case DMTCP_EVENT_PRE_EXEC:
      say("d5[" VARIANT "] example %s pid=%d file=%s fd=%d", name, pid, data->preExec.filename,
          data->preExec.serializationFd);
      break;
    case DMTCP_EVENT_PRECHECKPOINT:
    case DMTCP_EVENT_RESUME:
    case DMTCP_EVENT_RESTART:
      say("d5[" VARIANT "] example %s pid=%d", name, pid);
      dmtcp_global_barrier(event == DMTCP_EVENT_PRECHECKPOINT ? "example:pre" : "example:back");
      say("d5[" VARIANT "] example %s-barrier pid=%d", name, pid);
      break;
    default:
      say("d5[" VARIANT "] example %s pid=%d", name, pid);
  }
}

static DmtcpPluginDescriptor_t example_plugin = {DMTCP_PLUGIN_API_VERSION, DMTCP_PACKAGE_VERSION, "example", "DMTCP",
                                                 "dmtcp@example.invalid", "Announces every event", hook};

DMTCP_DECL_PLUGIN(example_plugin);
