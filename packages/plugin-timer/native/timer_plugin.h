/* What the files of the timer plugin share.  Built with
 * -fvisibility=hidden: only the wrappers and dmtcp_process_event are seen
 * by other libraries.
 *
 * One file per kernel object (timer_posix.c, timer_fd.c), each behind a
 * `struct timer_kind_ops`; timer_plugin.c runs the phases over the kinds.
 * Everything on the checkpoint and restart paths uses raw system calls
 * (dmtcp/sys.h) and static tables that the image captures: no malloc, no
 * stdio. */
#ifndef TIMER_PLUGIN_H
#define TIMER_PLUGIN_H

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "dmtcp/plugin.h"
#include "dmtcp/visibility.h"

#define timer_log(...) dmtcp_log("[timer] " __VA_ARGS__)

/* One kind of kernel timer object; NULL where a kind has nothing to do. */
struct timer_kind_ops {
  const char *name;
  /* At WRITE_CKPT, every user thread stopped: record what the kernel holds. */
  void (*save)(void);
  /* At RESTART, in the checkpoint thread: the objects are gone; make them
   * again (those that can be made from this thread). */
  void (*restart)(void);
  /* In each user thread as it runs again after a restart: its kernel tid
   * at the checkpoint and now. */
  void (*thread_restarted)(pid_t old_rtid, pid_t new_rtid);
  /* In the only thread of a fork child. */
  void (*forked)(void);
};

DMTCP_HIDDEN extern const struct timer_kind_ops timer_posix_ops;
DMTCP_HIDDEN extern const struct timer_kind_ops timer_fd_ops;

/* ---- time and clocks (timer_clock.c) ---- */
/* At RESTART: the core's clock shift (nonzero after a restart that could not
 * use a time namespace), what timer_clock_shift answers until the next. */
DMTCP_HIDDEN void timer_clock_restarted(void);
DMTCP_HIDDEN extern int timer_clock_shifted;
DMTCP_HIDDEN int64_t timer_clock_shift(clockid_t clock);
/* Whether an absolute deadline on `clock` taken at the checkpoint means the
 * same instant now: for the wall clocks and (the core keeps them going on)
 * MONOTONIC and BOOTTIME, never for CPU-time clocks (a new process). */
DMTCP_HIDDEN int timer_clock_keeps_deadline(clockid_t clock);
/* A deadline as the program reads `clock` into the kernel's terms (they
 * differ by the core's clock shift after some restarts). */
DMTCP_HIDDEN void timer_clock_to_kernel(clockid_t clock, const struct timespec *program, struct timespec *kernel);
/* now(clock) + rel as the program reads the clock, in *abs; 0, or -errno
 * when the clock cannot be read. */
DMTCP_HIDDEN int timer_deadline(clockid_t clock, const struct timespec *rel, struct timespec *abs);
DMTCP_HIDDEN int timer_ts_nonzero(const struct timespec *t);
/* Whether now(clock) >= t. */
DMTCP_HIDDEN int timer_clock_passed(clockid_t clock, const struct timespec *t);

/* ---- CPU-time clocks naming a task (timer_cpuclock.c) ---- */
/* The clock the kernel knows in this life for a clock id the program
 * holds, and the ns to add to what it reads (0 for ids >= 0). */
DMTCP_HIDDEN void timer_cpuclock_translate(clockid_t c, clockid_t *kernel, int64_t *offset_ns);
DMTCP_HIDDEN clockid_t timer_cpuclock_kernel(clockid_t c);
DMTCP_HIDDEN int64_t timer_cpuclock_offset(clockid_t c);
/* The offset of the thread with kernel tid rtid (this life)'s CPU clock. */
DMTCP_HIDDEN int64_t timer_cpuclock_thread_offset(pid_t rtid);
DMTCP_HIDDEN void timer_cpuclock_checkpoint(void);     /* WRITE_CKPT */
DMTCP_HIDDEN void timer_cpuclock_restarted(void);      /* RESTART, before the timers */
DMTCP_HIDDEN void timer_cpuclock_thread_suspend(void); /* each user thread, as it stops */
DMTCP_HIDDEN void timer_cpuclock_thread_restarted(pid_t old_rtid, pid_t rtid);
DMTCP_HIDDEN void timer_cpuclock_forked(void);
DMTCP_HIDDEN void timer_cpuclock_init(void);         /* INIT: find the pid plugin's translation */

/* ---- the program's thread ids (timer_tid.c) ---- */
/* The kernel's tid for a thread id the program holds (pid plugin's virtual
 * tid); the id itself when this life has no other. */
DMTCP_HIDDEN pid_t timer_tid_real(pid_t vtid);
DMTCP_HIDDEN void timer_tid_forget_all(void);
DMTCP_HIDDEN void timer_tid_put(pid_t vtid, pid_t rtid);
DMTCP_HIDDEN void timer_tid_drop(pid_t vtid);

/* ---- SIGEV_THREAD (timer_sigev_thread.c) ---- */
/* The thread attributes a SIGEV_THREAD timer was made with, as the getters
 * read them at timer_create (the program may destroy its own). */
struct timer_thread_attr {
  int given; /* 0: no attributes, the defaults */
  size_t stacksize, guardsize;
  int scope, inherit, policy;
  struct sched_param param;
  int has_affinity;
  cpu_set_t cpus;
  int has_sigmask;
  sigset_t sigmask;
};
/* What one expiry of a SIGEV_THREAD timer starts a thread for. */
struct timer_thread_call {
  int vid;
  void (*fn)(union sigval);
  union sigval value;
  struct timer_thread_attr attr;
};
DMTCP_HIDDEN void timer_sigev_thread_init(void); /* INIT */
/* Starts the notifier thread if there is none; the signal and thread
 * (program's id, kernel's) a SIGEV_THREAD timer's kernel timer is aimed
 * at.  0 or -errno. */
DMTCP_HIDDEN int timer_sigev_thread_target(int *signo, pid_t *vtid, pid_t *rtid);
DMTCP_HIDDEN void timer_sigev_thread_copy_attr(const pthread_attr_t *a, struct timer_thread_attr *t);
/* Returns once the notifier is not starting a thread for timer vid. */
DMTCP_HIDDEN void timer_sigev_thread_wait_dispatch(int vid);
DMTCP_HIDDEN void timer_sigev_thread_restarting(void);                           /* RESTART */
DMTCP_HIDDEN void timer_sigev_thread_restarted(pid_t old_rtid, pid_t new_rtid); /* each user thread */
DMTCP_HIDDEN void timer_sigev_thread_forked(void);
/* In timer_posix.c: 1 and what to call when vid is a live SIGEV_THREAD timer. */
DMTCP_HIDDEN int timer_posix_thread_call(int vid, struct timer_thread_call *c);

#endif
