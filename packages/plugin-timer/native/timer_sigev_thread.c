/* SIGEV_THREAD, done by the plugin.  glibc implements it with a helper
 * thread of its own and a heap object holding the kernel id, which no
 * wrapper can fix up after a restart.  So the kernel timer is made as
 * SIGEV_THREAD_ID aimed at a notifier thread of this library, its
 * sigev_value the program's (virtual) timer id; the notifier waits for the
 * signal and starts, for each expiry, a detached thread that calls the
 * program's function with the program's value, as POSIX says and glibc
 * does.  The notifier is a normal thread: the core checkpoints it and
 * brings it back, and the timers aimed at it are made again with its new
 * kernel tid as it runs again (timer_posix.c, as for any SIGEV_THREAD_ID
 * timer).
 *
 * The signal is the kernel's first real-time signal (32), which glibc keeps
 * for itself (SIGCANCEL, and SIGTIMER for its own SIGEV_THREAD): the
 * program cannot install a handler for it, block it or send it, and glibc
 * sends it only to a thread being cancelled, never the notifier.  A
 * thread-directed timer signal reaches nobody but the notifier, which keeps
 * it blocked; one pending at a checkpoint is put back into the notifier's
 * own queue by the core.  (Any of the program's signals could instead run
 * a handler of the program, or be taken by its sigwait.)  The checkpoint
 * signal stays unblocked in the notifier, and interrupts its wait. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dmtcp/sys.h"
#include "timer_plugin.h"

#define NOTIFY_SIGNAL 32

enum { NOTIFIER_NONE = 0, NOTIFIER_STARTING, NOTIFIER_RUNNING };

static int notifier_state;
static pid_t notifier_rtid; /* its kernel tid in this life */
static pid_t notifier_vtid; /* as the program's thread ids name it (gettid()) */
/* After a restart, until the notifier has run again: its tid is old. */
static int notifier_stale;
/* The timer the notifier is starting a thread for; -1: none. */
static int dispatching_vid = -1;
static int ckpt_signal = 60;

void timer_sigev_thread_init(void) {
  const char *s = getenv("DMTCP_SIGCKPT");
  if (s && *s) ckpt_signal = atoi(s);
}

struct call {
  void (*fn)(union sigval);
  union sigval value;
};

static void *call_start(void *arg) {
  struct call c = *(struct call *)arg;
  free(arg);
  c.fn(c.value);
  return NULL;
}

static void apply_attr(pthread_attr_t *a, const struct timer_thread_attr *t) {
  sigset_t none;
  sigemptyset(&none);
  if (t->given) {
    pthread_attr_setstacksize(a, t->stacksize);
    pthread_attr_setguardsize(a, t->guardsize);
    pthread_attr_setscope(a, t->scope);
    pthread_attr_setinheritsched(a, t->inherit);
    if (t->inherit == PTHREAD_EXPLICIT_SCHED) {
      pthread_attr_setschedpolicy(a, t->policy);
      pthread_attr_setschedparam(a, &t->param);
    }
    if (t->has_affinity) pthread_attr_setaffinity_np(a, sizeof t->cpus, &t->cpus);
  }
  /* As glibc: the function runs with no signal blocked unless the
   * attributes ask for a mask. */
  pthread_attr_setsigmask_np(a, t->given && t->has_sigmask ? &t->sigmask : &none);
  pthread_attr_setdetachstate(a, PTHREAD_CREATE_DETACHED);
}

static void start_call(const struct timer_thread_call *c) {
  struct call *arg = malloc(sizeof *arg);
  if (!arg) {
    timer_log("SIGEV_THREAD timer %d: no memory for its thread: this expiry is not notified", c->vid);
    return;
  }
  arg->fn = c->fn;
  arg->value = c->value;
  pthread_attr_t a;
  pthread_attr_init(&a);
  apply_attr(&a, &c->attr);
  pthread_t th;
  int r = pthread_create(&th, &a, call_start, arg);
  pthread_attr_destroy(&a);
  if (r != 0) {
    free(arg);
    timer_log("SIGEV_THREAD timer %d: pthread_create failed (%d): this expiry is not notified", c->vid, r);
  }
}

static void *notifier_main(void *arg) {
  (void)arg;
  sigset_t all;
  sigfillset(&all);
  /* Through the core's wrapper, which leaves the checkpoint signal out;
   * glibc leaves out its own signals, so the notifier's is blocked raw. */
  pthread_sigmask(SIG_SETMASK, &all, NULL);
  uint64_t mine = 1ULL << (NOTIFY_SIGNAL - 1);
  sys_rt_sigprocmask(SIG_BLOCK, &mine, NULL);
  __atomic_store_n(&notifier_vtid, gettid(), __ATOMIC_RELAXED);
  __atomic_store_n(&notifier_rtid, (pid_t)sys_gettid(), __ATOMIC_RELEASE);
  __atomic_store_n(&notifier_state, NOTIFIER_RUNNING, __ATOMIC_RELEASE);
  for (;;) {
    siginfo_t si;
    long r = sys_call4(__NR_rt_sigtimedwait, SYS_ARG(&mine), SYS_ARG(&si), 0, 8);
    if (r != NOTIFY_SIGNAL) continue; /* EINTR: the checkpoint signal */
    int vid = si.si_value.sival_int;
    __atomic_store_n(&dispatching_vid, vid, __ATOMIC_SEQ_CST);
    struct timer_thread_call c;
    if (timer_posix_thread_call(vid, &c)) start_call(&c);
    __atomic_store_n(&dispatching_vid, -1, __ATOMIC_SEQ_CST);
  }
  return NULL;
}

int timer_sigev_thread_target(int *signo, pid_t *vtid, pid_t *rtid) {
  if (ckpt_signal == NOTIFY_SIGNAL) {
    timer_log("SIGEV_THREAD needs signal %d, which is the checkpoint signal here: timer_create fails with ENOTSUP", NOTIFY_SIGNAL);
    return -ENOTSUP;
  }
  int none = NOTIFIER_NONE;
  if (__atomic_compare_exchange_n(&notifier_state, &none, NOTIFIER_STARTING, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
    pthread_t th;
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&a, 128 * 1024);
    int r = pthread_create(&th, &a, notifier_main, NULL);
    pthread_attr_destroy(&a);
    if (r != 0) {
      __atomic_store_n(&notifier_state, NOTIFIER_NONE, __ATOMIC_RELEASE);
      timer_log("cannot start the SIGEV_THREAD notifier thread (%d): timer_create fails with EAGAIN", r);
      return -EAGAIN;
    }
  }
  /* Another thread is starting it, or it has yet to run after a restart. */
  for (int i = 0; __atomic_load_n(&notifier_state, __ATOMIC_ACQUIRE) != NOTIFIER_RUNNING ||
                  __atomic_load_n(&notifier_stale, __ATOMIC_ACQUIRE);
       i++) {
    if (i >= 1000) {
      timer_log("the SIGEV_THREAD notifier thread does not run: timer_create fails with EAGAIN");
      return -EAGAIN;
    }
    sys_nanosleep_ms(1);
  }
  *signo = NOTIFY_SIGNAL;
  *vtid = __atomic_load_n(&notifier_vtid, __ATOMIC_RELAXED);
  *rtid = __atomic_load_n(&notifier_rtid, __ATOMIC_ACQUIRE);
  return 0;
}

void timer_sigev_thread_wait_dispatch(int vid) {
  while (__atomic_load_n(&dispatching_vid, __ATOMIC_SEQ_CST) == vid) sys_nanosleep_ms(1);
}

void timer_sigev_thread_copy_attr(const pthread_attr_t *a, struct timer_thread_attr *t) {
  memset(t, 0, sizeof *t);
  if (!a) return;
  t->given = 1;
  pthread_attr_getstacksize(a, &t->stacksize);
  pthread_attr_getguardsize(a, &t->guardsize);
  pthread_attr_getscope(a, &t->scope);
  pthread_attr_getinheritsched(a, &t->inherit);
  pthread_attr_getschedpolicy(a, &t->policy);
  pthread_attr_getschedparam(a, &t->param);
  /* glibc answers every CPU when the attributes name none: keep none. */
  if (pthread_attr_getaffinity_np(a, sizeof t->cpus, &t->cpus) == 0 && CPU_COUNT(&t->cpus) < CPU_SETSIZE) t->has_affinity = 1;
  t->has_sigmask = pthread_attr_getsigmask_np(a, &t->sigmask) == 0;
}

void timer_sigev_thread_restarting(void) {
  if (__atomic_load_n(&notifier_state, __ATOMIC_ACQUIRE) == NOTIFIER_RUNNING) __atomic_store_n(&notifier_stale, 1, __ATOMIC_RELEASE);
}

void timer_sigev_thread_restarted(pid_t old_rtid, pid_t rtid) {
  if (old_rtid <= 0 || old_rtid != __atomic_load_n(&notifier_rtid, __ATOMIC_ACQUIRE)) return;
  __atomic_store_n(&notifier_vtid, gettid(), __ATOMIC_RELAXED);
  __atomic_store_n(&notifier_rtid, rtid, __ATOMIC_RELEASE);
  __atomic_store_n(&notifier_stale, 0, __ATOMIC_RELEASE);
}

/* A fork child has only the thread that forked: no notifier. */
void timer_sigev_thread_forked(void) {
  notifier_state = NOTIFIER_NONE;
  notifier_rtid = 0;
  notifier_vtid = 0;
  notifier_stale = 0;
  dispatching_vid = -1;
}
