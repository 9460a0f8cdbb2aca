/* CPU-time clocks that name a task: the ids clock_getcpuclockid(pid) and
 * pthread_getcpuclockid(thread) return.  The kernel (and glibc) encode the
 * task in the id: ((~id) << 3) | which, with bit 2 set for a thread, `which`
 * the kind of time (0 PROF, 1 VIRT, 2 SCHED; glibc makes SCHED ones).  After
 * a restart the pid and the tids are new, so an id the program kept names a
 * dead task or another one; and the new task's CPU time starts near 0.
 *
 * So the clock wrappers translate a negative clock id to the task as the
 * kernel names it in this life, and add an offset to what it reads: the
 * time the task had at the checkpoint, less what it had when it ran again,
 * so its CPU time goes on from where it was and never goes back.
 *
 *   the process: an id naming pid 0, the kernel pid of this life, or any
 *     pid this process had (kernel or, with the pid plugin, virtual) at one
 *     of its checkpoints names this process (pid 0 to the kernel).
 *   a thread: each thread, as it runs again after a restart, files its
 *     kernel tid at the checkpoint and now (and carries on the pairs of
 *     earlier lives); a tid the pid plugin renames is translated with the
 *     thread-id table (timer_tid.c).
 *   another process: passed through as it is.
 *
 * CLOCK_PROCESS_CPUTIME_ID and CLOCK_THREAD_CPUTIME_ID get the same
 * offsets (the process's; the reading thread's, thread-local).  Other clock
 * ids >= 0 (REALTIME, MONOTONIC...) go straight to the next definition.  Tables are static (in the image) and lock-free: the
 * wrappers may run in signal handlers. */
#define _GNU_SOURCE
#include <errno.h>
#include <time.h>
#include <unistd.h>

#include "dmtcp/next.h"
#include "dmtcp/sys.h"
#include "timer_plugin.h"

#define CPUCLOCK_PERTHREAD 4
#define CPUCLOCK_WHICH 3
#define CPUCLOCK_SCHED 2
#define NS_PER_SEC 1000000000LL

#define CLOCK_WRAPPED(X) X(clock_gettime) X(clock_getres) X(clock_nanosleep) X(clock_settime) X(clock_getcpuclockid)
DMTCP_NEXT_TABLE(CLOCK_WRAPPED)

/* ---- the process ---- */

#define PAST_PIDS 64
static pid_t past_pids[PAST_PIDS]; /* the pids this process had at its checkpoints */
static int npast;
static pid_t self_kpid;      /* this life's kernel pid; 0: not read yet */
static int64_t proc_ckpt_ns; /* its CPU time at the checkpoint, as the program read it */
static int64_t proc_offset_ns;

/* ---- other processes (a child's clock from clock_getcpuclockid) ---- */

#define OTHER_PIDS 64
static struct {
  pid_t vid;      /* the pid the program named; 0: free */
  int64_t ckpt_ns; /* its CPU time at the checkpoint, as the program read it */
  int64_t offset;
} others[OTHER_PIDS];
static int nothers;
/* The pid plugin's translation (dmtcp_virtual_to_real_pid), when loaded:
 * the program names other processes by the pids it knows. */
static pid_t (*kernel_pid_of)(pid_t);

/* ---- threads ---- */

#define CPU_THREADS 512
static struct {
  pid_t old;      /* a kernel tid the thread had at a checkpoint; 0: free */
  pid_t cur;      /* its kernel tid in this life */
  int64_t offset; /* ns added to its CPU time */
} threads[CPU_THREADS];

/* This thread's CPU time at the checkpoint, as the program read it. */
static __thread int64_t thread_ckpt_ns __attribute__((tls_model("initial-exec")));
/* Added to what CLOCK_THREAD_CPUTIME_ID reads in this thread. */
static __thread int64_t thread_own_offset __attribute__((tls_model("initial-exec")));

/* CLOCK_PROCESS_CPUTIME_ID (2) or CLOCK_THREAD_CPUTIME_ID (3). */
#define IS_SELF_CPU_CLOCK(c) (((c) & ~1) == 2)
/* A clock id the wrappers pass through untouched. */
#define PASSES_THROUGH(c) ((c) >= 0 && !IS_SELF_CPU_CLOCK(c) && !__atomic_load_n(&timer_clock_shifted, __ATOMIC_RELAXED))

static int64_t ts_ns(const struct timespec *t) { return (int64_t)t->tv_sec * NS_PER_SEC + t->tv_nsec; }

static void ns_ts(int64_t ns, struct timespec *t) {
  if (ns < 0) ns = 0;
  t->tv_sec = (time_t)(ns / NS_PER_SEC);
  t->tv_nsec = (long)(ns % NS_PER_SEC);
}

static clockid_t make_clock(pid_t id, int bits) { return (clockid_t)((~(unsigned)id) << 3) | bits; }
static pid_t clock_task(clockid_t c) { return (pid_t)~(c >> 3); }

/* A system call less per read of a CPU clock. */
static pid_t kernel_pid(void) {
  pid_t p = __atomic_load_n(&self_kpid, __ATOMIC_RELAXED);
  if (p == 0) {
    p = (pid_t)sys_getpid();
    __atomic_store_n(&self_kpid, p, __ATOMIC_RELAXED);
  }
  return p;
}

static pid_t other_kernel_pid(pid_t vid) { return kernel_pid_of ? kernel_pid_of(vid) : vid; }

static int other_slot(pid_t vid) {
  int n = __atomic_load_n(&nothers, __ATOMIC_ACQUIRE);
  for (int i = 0; i < n && i < OTHER_PIDS; i++)
    if (__atomic_load_n(&others[i].vid, __ATOMIC_ACQUIRE) == vid) return i;
  return -1;
}

static void note_other(pid_t vid) {
  if (other_slot(vid) >= 0) return;
  int i = __atomic_fetch_add(&nothers, 1, __ATOMIC_ACQ_REL);
  if (i >= OTHER_PIDS) {
    __atomic_store_n(&nothers, OTHER_PIDS, __ATOMIC_RELEASE);
    timer_log("more than %d other processes' CPU clocks: pid %d's may go back at a restart", OTHER_PIDS, (int)vid);
    return;
  }
  __atomic_store_n(&others[i].vid, vid, __ATOMIC_RELEASE);
}

static int is_self_pid(pid_t pid) {
  if (pid == 0 || pid == kernel_pid()) return 1;
  int n = __atomic_load_n(&npast, __ATOMIC_ACQUIRE);
  for (int i = 0; i < n && i < PAST_PIDS; i++)
    if (past_pids[i] == pid) return 1;
  return 0;
}

static int64_t thread_offset(pid_t cur) {
  for (int i = 0; i < CPU_THREADS; i++)
    if (__atomic_load_n(&threads[i].old, __ATOMIC_ACQUIRE) > 0 && __atomic_load_n(&threads[i].cur, __ATOMIC_ACQUIRE) == cur)
      return __atomic_load_n(&threads[i].offset, __ATOMIC_RELAXED);
  return 0;
}

/* The kernel tid in this life of a thread the program names `tid`. */
static pid_t thread_now(pid_t tid) {
  if (tid == 0) return (pid_t)sys_gettid();
  for (int i = 0; i < CPU_THREADS; i++)
    if (__atomic_load_n(&threads[i].old, __ATOMIC_ACQUIRE) == tid) return __atomic_load_n(&threads[i].cur, __ATOMIC_ACQUIRE);
  return timer_tid_real(tid);
}

void timer_cpuclock_translate(clockid_t c, clockid_t *kernel, int64_t *offset_ns) {
  *kernel = c;
  *offset_ns = 0;
  if (c == CLOCK_PROCESS_CPUTIME_ID) *offset_ns = __atomic_load_n(&proc_offset_ns, __ATOMIC_RELAXED);
  if (c == CLOCK_THREAD_CPUTIME_ID) *offset_ns = thread_own_offset;
  /* MONOTONIC and BOOTTIME after a restart the kernel could not shift them
   * for: the core's shift (timer_clock.c). */
  if (c >= 0) {
    if (c != CLOCK_PROCESS_CPUTIME_ID && c != CLOCK_THREAD_CPUTIME_ID) *offset_ns = timer_clock_shift(c);
    return;
  }
  pid_t id = clock_task(c);
  int bits = c & (CPUCLOCK_WHICH | CPUCLOCK_PERTHREAD);
  if ((bits & CPUCLOCK_WHICH) == CPUCLOCK_WHICH || id < 0) return; /* not a CPU clock: the kernel says so */
  if (bits & CPUCLOCK_PERTHREAD) {
    pid_t cur = thread_now(id);
    *kernel = make_clock(cur, bits);
    if ((bits & CPUCLOCK_WHICH) == CPUCLOCK_SCHED) *offset_ns = thread_offset(cur);
  } else if (is_self_pid(id)) {
    *kernel = make_clock(0, bits);
    if ((bits & CPUCLOCK_WHICH) == CPUCLOCK_SCHED) *offset_ns = __atomic_load_n(&proc_offset_ns, __ATOMIC_RELAXED);
  } else {
    *kernel = make_clock(other_kernel_pid(id), bits);
    int i = (bits & CPUCLOCK_WHICH) == CPUCLOCK_SCHED ? other_slot(id) : -1;
    if (i >= 0) *offset_ns = __atomic_load_n(&others[i].offset, __ATOMIC_RELAXED);
  }
}

clockid_t timer_cpuclock_kernel(clockid_t c) {
  clockid_t k;
  int64_t off;
  timer_cpuclock_translate(c, &k, &off);
  return k;
}

int64_t timer_cpuclock_offset(clockid_t c) {
  clockid_t k;
  int64_t off;
  timer_cpuclock_translate(c, &k, &off);
  return off;
}

/* ---- checkpoint and restart ---- */

static int64_t read_ns(clockid_t kernel) {
  struct timespec t = {0, 0};
  if (sys_clock_gettime(kernel, &t) < 0) return 0;
  return ts_ns(&t);
}

static void note_pid(pid_t pid) {
  int n = npast;
  for (int i = 0; i < n; i++)
    if (past_pids[i] == pid) return;
  if (n >= PAST_PIDS) {
    timer_log("more than %d pids across restarts: CPU clocks naming pid %d fail after the next restart", PAST_PIDS, (int)pid);
    return;
  }
  past_pids[n] = pid;
  __atomic_store_n(&npast, n + 1, __ATOMIC_RELEASE);
}

void timer_cpuclock_checkpoint(void) {
  note_pid((pid_t)sys_getpid());
  /* getpid() is the pid plugin's when it is loaded: the pid the program
   * knows itself by, and may have passed to clock_getcpuclockid. */
  note_pid(getpid());
  proc_ckpt_ns = read_ns(CLOCK_PROCESS_CPUTIME_ID) + proc_offset_ns;
  int n = __atomic_load_n(&nothers, __ATOMIC_ACQUIRE);
  for (int i = 0; i < n && i < OTHER_PIDS; i++)
    if (others[i].vid > 0)
      others[i].ckpt_ns = read_ns(make_clock(other_kernel_pid(others[i].vid), CPUCLOCK_SCHED)) + others[i].offset;
}

void timer_cpuclock_restarted(void) {
  __atomic_store_n(&self_kpid, 0, __ATOMIC_RELAXED);
  __atomic_store_n(&proc_offset_ns, proc_ckpt_ns - read_ns(CLOCK_PROCESS_CPUTIME_ID), __ATOMIC_RELAXED);
  /* The other processes are restarted alongside: what their clocks read now
   * is at most the little they ran since, so their readings never go back
   * (they may miss that little). */
  int n = __atomic_load_n(&nothers, __ATOMIC_ACQUIRE);
  for (int i = 0; i < n && i < OTHER_PIDS; i++) {
    if (others[i].vid <= 0) continue;
    struct timespec t;
    if (sys_clock_gettime(make_clock(other_kernel_pid(others[i].vid), CPUCLOCK_SCHED), &t) < 0) continue;
    __atomic_store_n(&others[i].offset, others[i].ckpt_ns - ts_ns(&t), __ATOMIC_RELAXED);
  }
}

void timer_cpuclock_init(void) {
  kernel_pid_of = (pid_t(*)(pid_t))dlsym(RTLD_DEFAULT, "dmtcp_virtual_to_real_pid");
}

int64_t timer_cpuclock_thread_offset(pid_t rtid) {
  return rtid == (pid_t)sys_gettid() ? thread_own_offset : thread_offset(rtid);
}

void timer_cpuclock_thread_suspend(void) {
  thread_ckpt_ns = read_ns(CLOCK_THREAD_CPUTIME_ID) + thread_own_offset;
}

void timer_cpuclock_thread_restarted(pid_t old_rtid, pid_t rtid) {
  if (old_rtid <= 0) return;
  int64_t offset = thread_ckpt_ns - read_ns(CLOCK_THREAD_CPUTIME_ID);
  thread_own_offset = offset;
  int filed = 0;
  /* Only this thread writes the entries that name it. */
  for (int i = 0; i < CPU_THREADS; i++) {
    if (__atomic_load_n(&threads[i].old, __ATOMIC_ACQUIRE) <= 0 || threads[i].cur != old_rtid) continue;
    __atomic_store_n(&threads[i].offset, offset, __ATOMIC_RELAXED);
    __atomic_store_n(&threads[i].cur, rtid, __ATOMIC_RELEASE);
    if (threads[i].old == old_rtid) filed = 1;
  }
  if (filed) return;
  for (int i = 0; i < CPU_THREADS; i++) {
    pid_t want = 0;
    /* -1 holds the slot while it is written. */
    if (__atomic_load_n(&threads[i].old, __ATOMIC_RELAXED) == 0 &&
        __atomic_compare_exchange_n(&threads[i].old, &want, -1, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
      __atomic_store_n(&threads[i].offset, offset, __ATOMIC_RELAXED);
      __atomic_store_n(&threads[i].cur, rtid, __ATOMIC_RELAXED);
      __atomic_store_n(&threads[i].old, old_rtid, __ATOMIC_RELEASE);
      return;
    }
  }
  timer_log("more than %d thread CPU clocks renamed by restarts: thread %d's fails after this restart", CPU_THREADS, (int)old_rtid);
}

/* A fork child is a new process: no past pids, its CPU time from 0. */
void timer_cpuclock_forked(void) {
  __atomic_store_n(&npast, 0, __ATOMIC_RELEASE);
  __atomic_store_n(&self_kpid, 0, __ATOMIC_RELAXED);
  proc_offset_ns = 0;
  thread_own_offset = 0;
  __builtin_memset(threads, 0, sizeof threads);
}

/* ---- wrappers ---- */

DMTCP_EXPORT int clock_gettime(clockid_t c, struct timespec *ts) {
  if (__builtin_expect(PASSES_THROUGH(c), 1)) return DMTCP_NEXT(clock_gettime)(c, ts);
  clockid_t k;
  int64_t off;
  timer_cpuclock_translate(c, &k, &off);
  int r = DMTCP_NEXT(clock_gettime)(k, ts);
  if (r == 0 && off) ns_ts(ts_ns(ts) + off, ts);
  return r;
}

DMTCP_EXPORT int clock_getres(clockid_t c, struct timespec *res) {
  if (__builtin_expect(c >= 0, 1)) return DMTCP_NEXT(clock_getres)(c, res);
  return DMTCP_NEXT(clock_getres)(timer_cpuclock_kernel(c), res);
}

DMTCP_EXPORT int clock_settime(clockid_t c, const struct timespec *ts) {
  if (__builtin_expect(c >= 0, 1)) return DMTCP_NEXT(clock_settime)(c, ts);
  return DMTCP_NEXT(clock_settime)(timer_cpuclock_kernel(c), ts);
}

DMTCP_EXPORT int clock_nanosleep(clockid_t c, int flags, const struct timespec *req, struct timespec *rem) {
  if (__builtin_expect(PASSES_THROUGH(c), 1)) return DMTCP_NEXT(clock_nanosleep)(c, flags, req, rem);
  clockid_t k;
  int64_t off;
  timer_cpuclock_translate(c, &k, &off);
  if (!(flags & TIMER_ABSTIME) || !off || !req) return DMTCP_NEXT(clock_nanosleep)(k, flags, req, rem);
  /* An absolute deadline is in the program's time: the kernel's is off by
   * the offset. */
  struct timespec kreq;
  ns_ts(ts_ns(req) - off, &kreq);
  return DMTCP_NEXT(clock_nanosleep)(k, flags, &kreq, rem);
}

/* glibc checks the pid by asking the kernel about the clock it makes; a
 * pid the process had before a restart (the pid plugin's getpid() after
 * one) is no kernel pid now.  The check is made on the translated clock;
 * the program gets the clock of the pid it asked for, which the wrappers
 * above translate every time. */
DMTCP_EXPORT int clock_getcpuclockid(pid_t pid, clockid_t *out) {
  if (pid > 0 && !is_self_pid(pid)) {
    /* Another process: checked under its kernel pid in this life, named by
     * the pid the program gave, translated at each use. */
    struct timespec res;
    long r = sys_call2(__NR_clock_getres, make_clock(other_kernel_pid(pid), CPUCLOCK_SCHED), SYS_ARG(&res));
    if (r < 0) return r == -EINVAL ? ESRCH : (int)-r;
    note_other(pid);
    *out = make_clock(pid, CPUCLOCK_SCHED);
    return 0;
  }
  if (pid <= 0) return DMTCP_NEXT(clock_getcpuclockid)(pid, out);
  clockid_t ignored;
  int r = DMTCP_NEXT(clock_getcpuclockid)(0, &ignored);
  if (r == 0) *out = make_clock(pid, CPUCLOCK_SCHED);
  return r;
}
