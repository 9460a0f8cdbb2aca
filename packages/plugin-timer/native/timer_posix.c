/* POSIX timers (timer_create and friends).  The kernel's timers die with
 * the process; the ids the program holds must keep working after a
 * restart.  So the program holds virtual ids: the kernel's id in the life
 * the timer was made in (so a program never restarted sees the kernel's
 * ids), or the next free number should a later life's kernel id already be
 * taken.  A table in this library's memory (in the image) maps each to the
 * kernel id of this life and keeps what the timer was made with.
 *
 * The wrappers call the kernel directly: glibc's timer_t for SIGEV_SIGNAL,
 * SIGEV_THREAD_ID and SIGEV_NONE is the kernel id itself, and the kernel
 * takes CLOCK_PROCESS_CPUTIME_ID / CLOCK_THREAD_CPUTIME_ID as they are.
 * A clock naming a task (clock_getcpuclockid, pthread_getcpuclockid) is
 * given to the kernel as this life names the task (timer_cpuclock.c).
 * SIGEV_THREAD is not passed to glibc (its helper thread keeps the kernel
 * id in a heap object no wrapper can rewrite after a restart): the kernel
 * timer is a SIGEV_THREAD_ID one aimed at this library's notifier thread,
 * its value the program's id (timer_sigev_thread.c), re-made by that
 * thread after a restart like any timer aimed at a thread.
 *
 * Lookups are lock-free (wrappers may run in signal handlers); creating and
 * deleting take a spinlock with every signal blocked, inside
 * dmtcp_disable_ckpt, so the checkpoint never sees half an update. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include "dmtcp/debug.h"
#include "dmtcp/sys.h"
#include "timer_plugin.h"

#define PTIMER_MAX 1024 /* a power of two */
#define CPUCLOCK_PERTHREAD_MASK 4

enum slot_state { SLOT_NEVER = 0, SLOT_LIVE, SLOT_DELETED };

struct ptimer {
  int state;       /* enum slot_state */
  int vid;         /* the program's id */
  int kid;         /* the kernel's id in this life; -1 while there is none */
  clockid_t clock; /* as the program gave it */
  int notify;      /* to the kernel: SIGEV_SIGNAL, SIGEV_NONE, SIGEV_THREAD_ID */
  int signo;
  union sigval value;
  /* The program's SIGEV_THREAD (notify is SIGEV_THREAD_ID to the notifier,
   * value the program's id): what to call, with what. */
  void (*thread_fn)(union sigval);
  union sigval thread_value;
  struct timer_thread_attr thread_attr;
  pid_t target_vtid; /* SIGEV_THREAD_ID: the thread, as the program named it */
  pid_t target_rtid; /* and as the kernel names it in the life the timer was made in */
  pid_t home_rtid;   /* a thread's CPU clock: the thread whose time it counts (kernel tid) */
  int abstime;       /* the last timer_settime arming it had TIMER_ABSTIME */
  int lost;          /* could not be made again after a restart */
  int awaits_thread; /* after a restart: 1 until its thread makes it again as it runs (2 meanwhile) */
  /* At the checkpoint. */
  struct itimerspec left;
  struct timespec deadline; /* abstime: the next expiry on its clock */
  int overrun;
  /* After a restart: the checkpoint's overrun is the answer until the
   * timer first expires in this life. */
  int carry_overrun;
  struct timespec first_expiry;
};

static struct ptimer timers[PTIMER_MAX];
static int table_lock;

#define POSIX_WRAPPED(X) X(timer_create) X(timer_settime) X(timer_gettime) X(timer_getoverrun) X(timer_delete)

/* ---- the table ---- */

static struct ptimer *find(int vid) {
  if (vid < 0) return NULL;
  for (unsigned i = 0, s = (unsigned)vid & (PTIMER_MAX - 1); i < PTIMER_MAX; i++, s = (s + 1) & (PTIMER_MAX - 1)) {
    struct ptimer *t = &timers[s];
    int st = __atomic_load_n(&t->state, __ATOMIC_ACQUIRE);
    if (st == SLOT_NEVER) return NULL;
    if (st == SLOT_LIVE && t->vid == vid) return t;
  }
  return NULL;
}

static struct ptimer *free_slot(int vid) {
  for (unsigned i = 0, s = (unsigned)vid & (PTIMER_MAX - 1); i < PTIMER_MAX; i++, s = (s + 1) & (PTIMER_MAX - 1))
    if (timers[s].state != SLOT_LIVE) return &timers[s];
  return NULL;
}

struct table_guard {
  uint64_t saved_mask;
};

static void table_enter(struct table_guard *g) {
  uint64_t all = ~0ULL;
  if (dmtcp_disable_ckpt) dmtcp_disable_ckpt();
  sys_rt_sigprocmask(SIG_BLOCK, &all, &g->saved_mask);
  while (__atomic_exchange_n(&table_lock, 1, __ATOMIC_ACQUIRE)) __builtin_ia32_pause();
}

static void table_leave(struct table_guard *g) {
  __atomic_store_n(&table_lock, 0, __ATOMIC_RELEASE);
  sys_rt_sigprocmask(SIG_SETMASK, &g->saved_mask, NULL);
  if (dmtcp_enable_ckpt) dmtcp_enable_ckpt();
}

static int fail(long r) {
  errno = (int)-r;
  return -1;
}

/* ---- kernel calls ---- */

#define CPUCLOCK_WHICH 3

/* CLOCK_THREAD_CPUTIME_ID, or a thread's clock from pthread_getcpuclockid. */
static int is_thread_clock(clockid_t c) {
  return c == CLOCK_THREAD_CPUTIME_ID || (c < 0 && (c & CPUCLOCK_WHICH) != CPUCLOCK_WHICH && (c & CPUCLOCK_PERTHREAD_MASK));
}

/* The kernel tid in this life of the thread whose CPU time c counts. */
static pid_t thread_of_clock(clockid_t c) {
  if (c == CLOCK_THREAD_CPUTIME_ID) return (pid_t)sys_gettid();
  return (pid_t)~(timer_cpuclock_kernel(c) >> 3);
}

static long kernel_create(const struct ptimer *t, pid_t target_rtid, int *kid) {
  struct sigevent ev;
  __builtin_memset(&ev, 0, sizeof ev);
  ev.sigev_notify = t->notify;
  ev.sigev_signo = t->signo;
  ev.sigev_value = t->value;
  if (t->notify == SIGEV_THREAD_ID) ev._sigev_un._tid = target_rtid;
  int k = -1;
  long r = sys_call3(__NR_timer_create, timer_cpuclock_kernel(t->clock), SYS_ARG(&ev), SYS_ARG(&k));
  if (r < 0) return r;
  *kid = k;
  return 0;
}

/* ---- wrappers ---- */

static int unused_vid(int from) {
  int v = from;
  while (find(v)) v = v == 0x7fffffff ? 0 : v + 1;
  return v;
}

static int create(clockid_t clock, const struct sigevent *evp, struct ptimer *tp, pid_t notifier_rtid, timer_t *out);

/* SIGEV_THREAD timers' ids: far above the kernel's, which count from 0, so
 * that a kernel id is seldom one of them (the program would get another). */
#define THREAD_VID_FIRST 0x40000000
static int next_thread_vid = THREAD_VID_FIRST;

static int thread_vid(void) {
  int v = next_thread_vid;
  while (find(v)) v = v == 0x7fffffff ? THREAD_VID_FIRST : v + 1;
  next_thread_vid = v == 0x7fffffff ? THREAD_VID_FIRST : v + 1;
  return v;
}

DMTCP_EXPORT int timer_create(clockid_t clock, struct sigevent *restrict evp, timer_t *restrict out) {
  struct ptimer t;
  __builtin_memset(&t, 0, sizeof t);
  if (evp && evp->sigev_notify == SIGEV_THREAD) {
    if (!evp->sigev_notify_function) return fail(-EINVAL);
    pid_t vtid, rtid;
    int signo;
    int r = timer_sigev_thread_target(&signo, &vtid, &rtid);
    if (r < 0) return fail(r);
    t.thread_fn = evp->sigev_notify_function;
    t.thread_value = evp->sigev_value;
    timer_sigev_thread_copy_attr(evp->sigev_notify_attributes, &t.thread_attr);
    struct sigevent to_notifier;
    __builtin_memset(&to_notifier, 0, sizeof to_notifier);
    to_notifier.sigev_notify = SIGEV_THREAD_ID;
    to_notifier.sigev_signo = signo;
    to_notifier._sigev_un._tid = vtid;
    return create(clock, &to_notifier, &t, rtid, out);
  }
  return create(clock, evp, &t, 0, out);
}

/* t: zeroed, or with the SIGEV_THREAD fields set; notifier_rtid: the
 * notifier's kernel tid for those. */
static int create(clockid_t clock, const struct sigevent *evp, struct ptimer *tp, pid_t notifier_rtid, timer_t *out) {
  struct ptimer t = *tp;
  t.state = SLOT_LIVE;
  t.clock = clock;
  /* No sigevent: what glibc asks the kernel for then, SIGALRM with a NULL
   * value (not the kernel's own default, the timer id). */
  t.notify = evp ? evp->sigev_notify : SIGEV_SIGNAL;
  t.signo = evp ? evp->sigev_signo : SIGALRM;
  t.vid = -1;
  t.kid = -1;
  pid_t target_rtid = 0;
  if (evp) {
    t.value = evp->sigev_value;
    if (evp->sigev_notify == SIGEV_THREAD_ID) {
      t.target_vtid = evp->_sigev_un._tid;
      target_rtid = t.thread_fn ? notifier_rtid : timer_tid_real(t.target_vtid);
      t.target_rtid = target_rtid;
    }
  }
  if (is_thread_clock(clock)) t.home_rtid = thread_of_clock(clock);

  struct table_guard g;
  table_enter(&g);
  int kid = -1;
  /* The notifier knows the timer by the value its signal carries. */
  if (t.thread_fn) t.value.sival_int = t.vid = thread_vid();
  long r = kernel_create(&t, target_rtid, &kid);
  if (r < 0) {
    table_leave(&g);
    return fail(r);
  }
  t.kid = kid;
  if (!t.thread_fn) t.vid = unused_vid(kid);
  if (t.vid != kid && dmtcp_debug()) timer_log("kernel timer id %d is a restored timer's: the program gets id %d", kid, t.vid);
  struct ptimer *slot = free_slot(t.vid);
  if (!slot) {
    sys_call1(__NR_timer_delete, kid);
    table_leave(&g);
    timer_log("more than %d POSIX timers: timer_create fails with EAGAIN", PTIMER_MAX);
    return fail(-EAGAIN);
  }
  t.state = SLOT_DELETED;
  *slot = t;
  __atomic_store_n(&slot->state, SLOT_LIVE, __ATOMIC_RELEASE);
  table_leave(&g);
  *out = (timer_t)(intptr_t)t.vid;
  return 0;
}

/* The timer behind a program's id; after a restart, one aimed at a thread
 * that has not run yet is made by that thread a moment later. */
static struct ptimer *lookup(timer_t id) {
  intptr_t v = (intptr_t)id;
  if (v < 0 || v > 0x7fffffff) return NULL;
  struct ptimer *t = find((int)v);
  if (!t) return NULL;
  for (int i = 0; __atomic_load_n(&t->awaits_thread, __ATOMIC_ACQUIRE); i++) {
    int waiting = 1;
    if (i >= 200 && __atomic_compare_exchange_n(&t->awaits_thread, &waiting, 0, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
      t->lost = 1;
      timer_log("timer %d: its thread did not come back after the restart: it is lost", t->vid);
      break;
    }
    sys_nanosleep_ms(1);
  }
  return __atomic_load_n(&t->kid, __ATOMIC_ACQUIRE) >= 0 ? t : NULL;
}

DMTCP_EXPORT int timer_settime(timer_t id, int flags, const struct itimerspec *restrict value, struct itimerspec *restrict old) {
  struct ptimer *t = lookup(id);
  if (!t) return fail(-EINVAL);
  if (dmtcp_disable_ckpt) dmtcp_disable_ckpt();
  struct itimerspec shifted;
  int64_t off = 0;
  if ((flags & TIMER_ABSTIME) && value)
    /* CLOCK_THREAD_CPUTIME_ID counts the time of the thread that made the
     * timer, whichever thread arms it. */
    off = t->clock == CLOCK_THREAD_CPUTIME_ID ? timer_cpuclock_thread_offset(t->home_rtid) : timer_cpuclock_offset(t->clock);
  if (off && timer_ts_nonzero(&value->it_value)) {
    /* An absolute deadline on a restarted task's CPU clock (or on a
     * shifted MONOTONIC / BOOTTIME) is in the program's time, the kernel's
     * is off by the offset. */
    shifted = *value;
    int64_t ns = (int64_t)shifted.it_value.tv_sec * 1000000000LL + shifted.it_value.tv_nsec - off;
    if (ns < 1) ns = 1;
    shifted.it_value.tv_sec = (time_t)(ns / 1000000000LL);
    shifted.it_value.tv_nsec = (long)(ns % 1000000000LL);
    value = &shifted;
  }
  long r = sys_call4(__NR_timer_settime, t->kid, flags, SYS_ARG(value), SYS_ARG(old));
  if (r == 0) {
    t->abstime = (flags & TIMER_ABSTIME) != 0;
    t->carry_overrun = 0;
  }
  if (dmtcp_enable_ckpt) dmtcp_enable_ckpt();
  return r < 0 ? fail(r) : 0;
}

DMTCP_EXPORT int timer_gettime(timer_t id, struct itimerspec *value) {
  struct ptimer *t = lookup(id);
  if (!t) return fail(-EINVAL);
  long r = sys_call2(__NR_timer_gettime, t->kid, SYS_ARG(value));
  return r < 0 ? fail(r) : 0;
}

DMTCP_EXPORT int timer_getoverrun(timer_t id) {
  struct ptimer *t = lookup(id);
  if (!t) return fail(-EINVAL);
  if (__atomic_load_n(&t->carry_overrun, __ATOMIC_ACQUIRE)) {
    if (!timer_clock_passed(t->clock, &t->first_expiry)) return t->overrun;
    t->carry_overrun = 0;
  }
  long r = sys_call1(__NR_timer_getoverrun, t->kid);
  return r < 0 ? fail(r) : (int)r;
}

DMTCP_EXPORT int timer_delete(timer_t id) {
  intptr_t v = (intptr_t)id;
  if (v < 0 || v > 0x7fffffff) return fail(-EINVAL);
  struct table_guard g;
  table_enter(&g);
  struct ptimer *t = find((int)v);
  if (!t) {
    table_leave(&g);
    return fail(-EINVAL);
  }
  long r = 0;
  int notified_by_thread = t->thread_fn != NULL;
  if (t->kid >= 0) r = sys_call1(__NR_timer_delete, t->kid);
  /* A timer lost at the restart is deleted all the same. */
  if (r == 0 || t->kid < 0) __atomic_store_n(&t->state, SLOT_DELETED, __ATOMIC_SEQ_CST);
  table_leave(&g);
  /* An expiry the notifier took before the delete may still be starting
   * its thread: none starts once this returns.  (Waits outside the
   * section that holds the checkpoint off: the notifier may be stopped.) */
  if (r == 0 && notified_by_thread) timer_sigev_thread_wait_dispatch((int)v);
  return r < 0 ? fail(r) : 0;
}

int timer_posix_thread_call(int vid, struct timer_thread_call *c) {
  struct ptimer *t = find(vid);
  if (!t || !t->thread_fn) return 0;
  c->vid = vid;
  c->fn = t->thread_fn;
  c->value = t->thread_value;
  c->attr = t->thread_attr;
  /* The slot may have been deleted and taken by another timer meanwhile. */
  return __atomic_load_n(&t->state, __ATOMIC_SEQ_CST) == SLOT_LIVE && t->vid == vid && c->fn == t->thread_fn;
}

/* ---- checkpoint and restart ---- */

static void posix_save(void) {
  for (int i = 0; i < PTIMER_MAX; i++) {
    struct ptimer *t = &timers[i];
    if (t->state != SLOT_LIVE || t->kid < 0) continue;
    __builtin_memset(&t->left, 0, sizeof t->left);
    long r = sys_call2(__NR_timer_gettime, t->kid, SYS_ARG(&t->left));
    if (r < 0) timer_log("timer %d: timer_gettime failed (%ld): it comes back disarmed", t->vid, -r);
    r = sys_call1(__NR_timer_getoverrun, t->kid);
    t->overrun = r < 0 ? 0 : (int)r;
    if (t->abstime && timer_ts_nonzero(&t->left.it_value))
      timer_deadline(t->clock, &t->left.it_value, &t->deadline);
  }
}

/* Makes t again in this life and arms it as it was at the checkpoint:
 * a relative timer with the time it had left, an absolute one at its
 * deadline where the clock still means the same. */
static void recreate(struct ptimer *t, pid_t target_rtid) {
  int kid = -1;
  t->kid = -1;
  long r = kernel_create(t, target_rtid, &kid);
  if (r < 0) {
    timer_log("timer %d (clock %d): cannot be made again (%ld): it is lost", t->vid, (int)t->clock, -r);
    t->lost = 1;
    return;
  }
  if (timer_ts_nonzero(&t->left.it_value)) {
    struct itimerspec arm = t->left;
    int flags = 0;
    if (t->abstime && timer_clock_keeps_deadline(t->clock)) {
      timer_clock_to_kernel(t->clock, &t->deadline, &arm.it_value);
      flags = TIMER_ABSTIME;
      t->first_expiry = t->deadline;
    } else {
      t->abstime = 0;
      timer_deadline(t->clock, &t->left.it_value, &t->first_expiry);
    }
    r = sys_call4(__NR_timer_settime, kid, flags, SYS_ARG(&arm), 0);
    if (r < 0) timer_log("timer %d: cannot be armed again (%ld)", t->vid, -r);
  }
  t->carry_overrun = t->overrun != 0;
  __atomic_store_n(&t->kid, kid, __ATOMIC_RELEASE);
}

/* The thread (kernel tid at the checkpoint) that must make t again. */
static pid_t home_of(const struct ptimer *t) {
  if (is_thread_clock(t->clock)) return t->home_rtid;
  if (t->notify == SIGEV_THREAD_ID) return t->target_rtid;
  return 0;
}

static void posix_restart(void) {
  for (int i = 0; i < PTIMER_MAX; i++) {
    struct ptimer *t = &timers[i];
    if (t->state != SLOT_LIVE) continue;
    t->kid = -1;
    if (t->lost) continue;
    if (home_of(t)) {
      __atomic_store_n(&t->awaits_thread, 1, __ATOMIC_RELEASE);
      continue;
    }
    recreate(t, 0);
  }
}

static void posix_thread_restarted(pid_t old_rtid, pid_t rtid) {
  for (int i = 0; i < PTIMER_MAX; i++) {
    struct ptimer *t = &timers[i];
    int waiting = 1;
    if (t->state != SLOT_LIVE || old_rtid <= 0 || home_of(t) != old_rtid) continue;
    /* 2: being made; a wrapper waiting for it gives up only on 1. */
    if (!__atomic_compare_exchange_n(&t->awaits_thread, &waiting, 2, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) continue;
    pid_t target = 0;
    if (t->notify == SIGEV_THREAD_ID) target = t->target_rtid == old_rtid ? rtid : timer_tid_real(t->target_vtid);
    if (is_thread_clock(t->clock)) t->home_rtid = rtid;
    if (t->notify == SIGEV_THREAD_ID) t->target_rtid = target;
    recreate(t, target);
    __atomic_store_n(&t->awaits_thread, 0, __ATOMIC_RELEASE);
  }
}

/* A fork child has no POSIX timers (they are not inherited). */
static void posix_forked(void) { __builtin_memset(timers, 0, sizeof timers); }

const struct timer_kind_ops timer_posix_ops = {
    .name = "posix",
    .save = posix_save,
    .restart = posix_restart,
    .thread_restarted = posix_thread_restarted,
    .forked = posix_forked,
};
