/* Thread ids as the program names them (the pid plugin's virtual tids) and
 * as the kernel does in this life.  A thread that lived through a restart
 * has a new kernel tid; it files the pair here as it runs again.  Threads
 * born in this life are named by their kernel tid, so they need no entry.
 * Lock-free: slots are claimed with compare-and-swap, read from any thread
 * and from signal handlers. */
#define _GNU_SOURCE
#include "timer_plugin.h"

#define TID_MAX 512

static struct {
  pid_t vtid; /* 0: free */
  pid_t rtid;
} tids[TID_MAX];

pid_t timer_tid_real(pid_t vtid) {
  for (int i = 0; i < TID_MAX; i++)
    if (__atomic_load_n(&tids[i].vtid, __ATOMIC_ACQUIRE) == vtid) return __atomic_load_n(&tids[i].rtid, __ATOMIC_RELAXED);
  return vtid;
}

void timer_tid_forget_all(void) {
  for (int i = 0; i < TID_MAX; i++) __atomic_store_n(&tids[i].vtid, 0, __ATOMIC_RELEASE);
}

void timer_tid_put(pid_t vtid, pid_t rtid) {
  if (vtid <= 0 || vtid == rtid) return;
  for (int i = 0; i < TID_MAX; i++) {
    pid_t want = 0;
    /* -1 holds the slot while its real tid is written. */
    if (__atomic_load_n(&tids[i].vtid, __ATOMIC_RELAXED) == 0 &&
        __atomic_compare_exchange_n(&tids[i].vtid, &want, -1, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
      __atomic_store_n(&tids[i].rtid, rtid, __ATOMIC_RELAXED);
      __atomic_store_n(&tids[i].vtid, vtid, __ATOMIC_RELEASE);
      return;
    }
  }
  timer_log("more than %d threads renamed by restarts: timers aimed at thread %d go to its old id", TID_MAX, (int)vtid);
}

void timer_tid_drop(pid_t vtid) {
  for (int i = 0; i < TID_MAX; i++) {
    pid_t want = vtid;
    if (__atomic_compare_exchange_n(&tids[i].vtid, &want, 0, 0, __ATOMIC_RELEASE, __ATOMIC_RELAXED)) return;
  }
}
