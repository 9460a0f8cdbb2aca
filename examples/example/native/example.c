/* A plugin that announces every event it receives, with the process and
 * thread it arrives in, and passes each one on.
 *
 * Lines go through dmtcp_log, not printf: many events arrive while the other
 * threads of the process are frozen, possibly in the middle of printf with
 * the stdio lock held, and a printf here would then wait for that lock
 * forever.  dmtcp_log formats on the stack and issues one write(2). */
#define _GNU_SOURCE
#include <unistd.h>

#include "dmtcp/plugin.h"

static const char *const event_names[DMTCP_EVENT_COUNT] = {
    [DMTCP_EVENT_INIT] = "INIT",
    [DMTCP_EVENT_EXIT] = "EXIT",
    [DMTCP_EVENT_PRE_EXEC] = "PRE_EXEC",
    [DMTCP_EVENT_POST_EXEC] = "POST_EXEC",
    [DMTCP_EVENT_ATFORK_PREPARE] = "ATFORK_PREPARE",
    [DMTCP_EVENT_ATFORK_PARENT] = "ATFORK_PARENT",
    [DMTCP_EVENT_ATFORK_CHILD] = "ATFORK_CHILD",
    [DMTCP_EVENT_WAIT_FOR_SUSPEND_MSG] = "WAIT_FOR_SUSPEND_MSG",
    [DMTCP_EVENT_PRE_SUSPEND_USER_THREAD] = "PRE_SUSPEND_USER_THREAD",
    [DMTCP_EVENT_THREADS_SUSPEND] = "THREADS_SUSPEND",
    [DMTCP_EVENT_SUSPENDED] = "SUSPENDED",
    [DMTCP_EVENT_LEADER_ELECTION] = "LEADER_ELECTION",
    [DMTCP_EVENT_DRAIN] = "DRAIN",
    [DMTCP_EVENT_WRITE_CKPT] = "WRITE_CKPT",
    [DMTCP_EVENT_RESUME] = "RESUME",
    [DMTCP_EVENT_RESTART] = "RESTART",
    [DMTCP_EVENT_REFILL] = "REFILL",
    [DMTCP_EVENT_REGISTER_NAME_SERVICE_DATA] = "REGISTER_NAME_SERVICE_DATA",
    [DMTCP_EVENT_SEND_QUERIES] = "SEND_QUERIES",
    [DMTCP_EVENT_THREADS_RESUME] = "THREADS_RESUME",
    [DMTCP_EVENT_RESUME_USER_THREAD] = "RESUME_USER_THREAD",
    [DMTCP_EVENT_THREAD_START] = "THREAD_START",
    [DMTCP_EVENT_THREAD_CREATED] = "THREAD_CREATED",
    [DMTCP_EVENT_PTHREAD_START] = "PTHREAD_START",
    [DMTCP_EVENT_PTHREAD_EXIT] = "PTHREAD_EXIT",
    [DMTCP_EVENT_PTHREAD_RETURN] = "PTHREAD_RETURN",
};

/* The events on the way back from an image, which the tutorial says to
 * handle only once the plugins loaded after this one (the built-in ones among
 * them) have restored what they own. */
static int handled_after_next(DmtcpEvent_t event) {
  switch (event) {
    case DMTCP_EVENT_RESUME:
    case DMTCP_EVENT_RESTART:
    case DMTCP_EVENT_REFILL:
    case DMTCP_EVENT_REGISTER_NAME_SERVICE_DATA:
    case DMTCP_EVENT_SEND_QUERIES:
    case DMTCP_EVENT_THREADS_RESUME:
    case DMTCP_EVENT_RESUME_USER_THREAD:
      return 1;
    default:
      return 0;
  }
}

static void announce(DmtcpEvent_t event, const DmtcpEventData_t *data) {
  const char *name = event > 0 && event < DMTCP_EVENT_COUNT && event_names[event] ? event_names[event] : "UNKNOWN";
  /* getpid and gettid are plain system calls (glibc caches neither), so they
   * give the new ids in a restarted process. */
  int pid = (int)getpid();
  int tid = (int)gettid();
  switch (event) {
    case DMTCP_EVENT_RESUME:
    case DMTCP_EVENT_RESTART:
    case DMTCP_EVENT_REFILL:
    case DMTCP_EVENT_THREADS_RESUME:
      dmtcp_log("example: %s pid=%d tid=%d isRestart=%d", name, pid, tid, data->resumeInfo.isRestart);
      break;
    case DMTCP_EVENT_REGISTER_NAME_SERVICE_DATA:
    case DMTCP_EVENT_SEND_QUERIES:
      dmtcp_log("example: %s pid=%d tid=%d isRestart=%d", name, pid, tid, data->nameserviceInfo.isRestart);
      break;
    case DMTCP_EVENT_RESUME_USER_THREAD:
      dmtcp_log("example: %s pid=%d tid=%d isRestart=%d", name, pid, tid, data->resumeUserThreadInfo.isRestart);
      break;
    case DMTCP_EVENT_ATFORK_PARENT:
      dmtcp_log("example: %s pid=%d tid=%d child=%d", name, pid, tid, (int)data->forkInfo.childPid);
      break;
    case DMTCP_EVENT_PRE_EXEC:
      dmtcp_log("example: %s pid=%d tid=%d file=%s", name, pid, tid,
                data->preExec.filename ? data->preExec.filename : "(null)");
      break;
    case DMTCP_EVENT_WRITE_CKPT:
      dmtcp_log("example: %s pid=%d tid=%d image=%s", name, pid, tid,
                data->writeCkpt.imagePath ? data->writeCkpt.imagePath : "(null)");
      break;
    case DMTCP_EVENT_EXIT:
      dmtcp_log("example: %s pid=%d tid=%d status=%d", name, pid, tid, data->exitInfo.exitStatus);
      break;
    default:
      dmtcp_log("example: %s pid=%d tid=%d", name, pid, tid);
  }
}

void dmtcp_process_event(DmtcpEvent_t event, DmtcpEventData_t *data) {
  if (handled_after_next(event)) {
    NEXT_DMTCP_PROCESS_EVENT(event, data);
    announce(event, data);
  } else {
    announce(event, data);
    NEXT_DMTCP_PROCESS_EVENT(event, data);
  }
}
