/* The timer plugin's event handler: the phase script, top to bottom.
 *
 *   PRE_SUSPEND_USER_THREAD  (each user thread) notes its kernel tid
 *                       and its CPU time
 *   WRITE_CKPT          every user thread stopped: each kind records what
 *                       the kernel holds (time left, interval, overruns,
 *                       pending expirations); the image keeps it
 *   RESUME              nothing: the kernel objects are still there
 *   RESTART             (checkpoint thread) each kind makes its objects
 *                       again, those aimed at a thread excepted
 *   RESUME_USER_THREAD  (each user thread, after a restart) the thread
 *                       files its new kernel tid and makes the timers aimed
 *                       at it or counting its CPU time
 *   PTHREAD_EXIT/RETURN the thread's id is no longer renamed
 *   ATFORK_CHILD        the child has no POSIX timers
 *
 *   INIT                DMTCP_DEBUG turns on the debug log
 *
 * Each event goes on to the plugins loaded after this one, exactly once;
 * the restart work is done after them (the core is all that follows). */
#define _GNU_SOURCE
#include <stdlib.h>
#include <unistd.h>

#include "dmtcp/debug.h"
#include "dmtcp/sys.h"
#include "timer_plugin.h"

static const struct timer_kind_ops *const kinds[] = {&timer_posix_ops, &timer_fd_ops};
#define NKINDS (sizeof kinds / sizeof kinds[0])

/* This thread's kernel tid when the image was taken: the timers aimed at
 * it name it so, whether or not the pid plugin renames threads. */
static __thread pid_t ckpt_rtid __attribute__((tls_model("initial-exec")));

static void thread_restarted(void) {
  pid_t rtid = (pid_t)sys_gettid();
  /* gettid() is the pid plugin's when it is loaded: the id the program
   * knows this thread by (the kernel's otherwise). */
  timer_tid_put(gettid(), rtid);
  /* Before the timers: those on this thread's CPU clock use it. */
  timer_cpuclock_thread_restarted(ckpt_rtid, rtid);
  timer_sigev_thread_restarted(ckpt_rtid, rtid);
  for (size_t i = 0; i < NKINDS; i++)
    if (kinds[i]->thread_restarted) kinds[i]->thread_restarted(ckpt_rtid, rtid);
}

DMTCP_EXPORT void dmtcp_process_event(DmtcpEvent_t event, DmtcpEventData_t *data) {
  switch (event) {
    case DMTCP_EVENT_INIT:
      /* getenv is safe here, not at checkpoint time. */
      dmtcp_debug_set(dmtcp_debug_value_on(getenv(DMTCP_DEBUG_ENV)));
      timer_cpuclock_init();
      timer_sigev_thread_init();
      break;
    case DMTCP_EVENT_WRITE_CKPT:
      timer_cpuclock_checkpoint();
      for (size_t i = 0; i < NKINDS; i++)
        if (kinds[i]->save) kinds[i]->save();
      break;
    case DMTCP_EVENT_PRE_SUSPEND_USER_THREAD:
      ckpt_rtid = (pid_t)sys_gettid();
      timer_cpuclock_thread_suspend();
      break;
    case DMTCP_EVENT_PTHREAD_EXIT:
    case DMTCP_EVENT_PTHREAD_RETURN:
      timer_tid_drop(gettid());
      break;
    case DMTCP_EVENT_ATFORK_CHILD:
      timer_cpuclock_forked();
      timer_sigev_thread_forked();
      for (size_t i = 0; i < NKINDS; i++)
        if (kinds[i]->forked) kinds[i]->forked();
      break;
    default:
      break;
  }
  NEXT_DMTCP_PROCESS_EVENT(event, data);
  switch (event) {
    case DMTCP_EVENT_RESTART:
      timer_clock_restarted();
      timer_cpuclock_restarted();
      timer_tid_forget_all();
      timer_sigev_thread_restarting();
      for (size_t i = 0; i < NKINDS; i++)
        if (kinds[i]->restart) kinds[i]->restart();
      break;
    case DMTCP_EVENT_RESUME_USER_THREAD:
      if (data && data->resumeUserThreadInfo.isRestart) thread_restarted();
      break;
    default:
      break;
  }
}
