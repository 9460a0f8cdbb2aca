/* Pending signals across a checkpoint.
 *
 * The kernel keeps them outside the process's memory, in one queue per
 * thread and one for the process, so they are taken out into memory (which
 * the image carries) while the threads are stopped and put back into the
 * same queues, in the same order, before any user thread runs again: after
 * the image is captured (resume) and after a restart.
 *
 *   suspend handler   sigpending_take_thread(): the thread dequeues its own
 *                     queue (rt_sigtimedwait, zero timeout).  The kernel
 *                     serves the thread's queue before the process's, and
 *                     /proc/thread-self/status SigPnd says, after each
 *                     dequeue, whether more of that signal are still the
 *                     thread's own.
 *   before capture    sigpending_take_process(): the checkpoint thread
 *                     (every signal blocked, its own queue empty) dequeues
 *                     the process's queue.
 *   threads_resume_all  sigpending_put_back(): releases the stopped threads
 *                     to re-queue, waits until they have, then lets them go.
 *   suspend handler   sigpending_put_back_thread(): each thread re-queues
 *                     its own with rt_tgsigqueueinfo, the main thread the
 *                     process's with rt_sigqueueinfo.  The kernel accepts
 *                     any si_code (SI_USER, SI_TKILL, kernel codes) only
 *                     from the thread the signal is queued to, or for the
 *                     process from its main thread: hence the re-queue by the
 *                     threads themselves.
 *
 * Fixed storage, no malloc: everything here runs in signal handlers or with
 * the application stopped. */
#include <linux/futex.h>
#include <string.h>

#include "runtime.h"

#define MAX_PENDING 4096
#define KERNEL_SIGRTMIN 32
#define OWNER_PROCESS (-1)
#define OWNER_NONE (-2)

struct pending_sig {
  int owner; /* slot in g_threads, OWNER_PROCESS, or OWNER_NONE for a wasted entry */
  int pad;
  siginfo_t info;
};

static struct pending_sig pool[MAX_PENDING];
static _Atomic int pool_used;
static _Atomic int pool_full_logged;
/* Bumped once per round when the threads may re-queue. */
static _Atomic uint32_t put_back_gen;
static _Atomic int put_back_left;
/* Slot of the thread that re-queues the process's signals; OWNER_PROCESS
 * when the checkpoint thread does (the main thread is gone). */
static int process_requeuer = OWNER_NONE;

static inline uint64_t bit(int sig) { return 1ULL << (sig - 1); }

static int never_taken(int sig) { return sig == SIGKILL || sig == SIGSTOP || sig == g_sigckpt; }

static uint64_t parse_hex(const char *p) {
  uint64_t v = 0;
  fmt_parse_hex(p, (size_t)-1, &v);
  return v;
}

static const char *find_field(const char *buf, const char *name) {
  size_t n = strlen(name);
  for (const char *p = buf; *p; p++)
    if ((p == buf || p[-1] == '\n') && strncmp(p, name, n) == 0) return p + n;
  return NULL;
}

/* Whether anything we would take is pending for the caller, own or the
 * process's: one cheap call, so that /proc is read only when it is.  (The
 * kernel reports only blocked signals; all are, where this runs.) */
static int anything_pending(void) {
  uint64_t set = 0;
  if (sys_call2(__NR_rt_sigpending, (long)&set, 8) < 0) return 1;
  return (set & ~(bit(SIGKILL) | bit(SIGSTOP) | bit(g_sigckpt))) != 0;
}

/* The calling thread's own pending set and the process's. */
static int read_pending(uint64_t *own, uint64_t *process) {
  char buf[4096];
  long fd = sys_open("/proc/thread-self/status", 02000000 /* O_CLOEXEC */, 0);
  if (fd < 0) return -1;
  long len = 0, r;
  while (len < (long)sizeof buf - 1 && (r = sys_read((int)fd, buf + len, sizeof buf - 1 - (size_t)len)) > 0) len += r;
  sys_close((int)fd);
  buf[len] = 0;
  const char *own_at = find_field(buf, "SigPnd:\t");
  const char *process_at = find_field(buf, "ShdPnd:\t");
  if (!own_at || !process_at) return -1;
  *own = parse_hex(own_at);
  *process = parse_hex(process_at);
  return 0;
}

static struct pending_sig *pool_entry(void) {
  int i = atomic_fetch_add(&pool_used, 1);
  if (i < MAX_PENDING) return &pool[i];
  atomic_store(&pool_used, MAX_PENDING);
  if (!atomic_exchange(&pool_full_logged, 1))
    log_msg("more than %d pending signals: the rest stay in the kernel and are not in the image", MAX_PENDING);
  return NULL;
}

/* Dequeues one pending `sig` of the caller into the pool; 0 when none was. */
static int take_one(int sig, int owner) {
  struct pending_sig *p = pool_entry();
  if (!p) return 0;
  uint64_t set = bit(sig);
  struct timespec zero = {0, 0};
  long r = sys_call4(__NR_rt_sigtimedwait, (long)&set, (long)&p->info, (long)&zero, 8);
  p->owner = r == sig ? owner : OWNER_NONE;
  return r == sig;
}

uint32_t sigpending_take_thread(struct thread_rec *t) {
  uint32_t gen = atomic_load(&put_back_gen);
  uint64_t own, process;
  if (!anything_pending()) return gen;
  if (read_pending(&own, &process) < 0) {
    LOG_DEBUG("cannot read /proc/thread-self/status: pending signals of thread %d stay in the kernel", (int)t->tid);
    return gen;
  }
  int slot = (int)(t - g_threads);
  for (int sig = 1; sig <= 64; sig++) {
    if (!(own & bit(sig)) || never_taken(sig)) continue;
    /* A standard signal pends once per queue: one dequeue takes it.  RT
     * signals queue: take them while the thread still has its own. */
    while (take_one(sig, slot) && sig >= KERNEL_SIGRTMIN) {
      if (read_pending(&own, &process) < 0 || !(own & bit(sig))) break;
    }
  }
  return gen;
}

void sigpending_take_process(void) {
  uint64_t own, process;
  if (!anything_pending()) return;
  if (read_pending(&own, &process) < 0) {
    LOG_DEBUG("cannot read /proc/thread-self/status: the process's pending signals are not in the image");
    return;
  }
  for (int sig = 1; sig <= 64; sig++) {
    if (!(process & bit(sig)) || never_taken(sig)) continue;
    /* A dequeue would take the checkpoint thread's own first. */
    if (own & bit(sig)) {
      log_msg("signal %d is pending for the checkpoint thread: the process's are not in the image", sig);
      continue;
    }
    if (sig < KERNEL_SIGRTMIN) take_one(sig, OWNER_PROCESS);
    else
      while (take_one(sig, OWNER_PROCESS)) {
      }
  }
}

static int used(void) {
  int n = atomic_load(&pool_used);
  return n > MAX_PENDING ? MAX_PENDING : n;
}

static long queue_to_process(const siginfo_t *info) {
  return sys_call3(__NR_rt_sigqueueinfo, sys_getpid(), info->si_signo, (long)info);
}

/* Re-queues what `owner` holds, oldest first; returns how many there were. */
static int put_back_owned(int owner) {
  int n = 0;
  long pid = sys_getpid(), tid = sys_gettid();
  for (int i = 0; i < used(); i++) {
    const struct pending_sig *p = &pool[i];
    if (p->owner != owner) continue;
    n++;
    long r = owner == OWNER_PROCESS ? queue_to_process(&p->info)
                                    : sys_call4(__NR_rt_tgsigqueueinfo, pid, tid, p->info.si_signo, (long)&p->info);
    if (r < 0) log_msg("cannot queue pending signal %d again: error %ld", p->info.si_signo, -r);
  }
  return n;
}

static int owns_any(int owner) {
  for (int i = 0; i < used(); i++)
    if (pool[i].owner == owner) return 1;
  return 0;
}

void sigpending_put_back_thread(struct thread_rec *t, uint32_t gen) {
  while (atomic_load(&put_back_gen) == gen) sys_futex(&put_back_gen, FUTEX_WAIT_PRIVATE, (int)gen, NULL);
  int slot = (int)(t - g_threads);
  int took = put_back_owned(slot) > 0;
  if (process_requeuer == slot) took |= put_back_owned(OWNER_PROCESS) > 0;
  if (took) {
    atomic_fetch_sub(&put_back_left, 1);
    sys_futex(&put_back_left, FUTEX_WAKE_PRIVATE, 1, NULL);
  }
}

/* Without a main thread, only codes < 0 other than SI_TKILL may be queued
 * as they were; the others are sent with kill(), as from this process. */
static void put_back_process_without_main(void) {
  for (int i = 0; i < used(); i++) {
    const struct pending_sig *p = &pool[i];
    if (p->owner != OWNER_PROCESS) continue;
    long r = p->info.si_code < 0 && p->info.si_code != SI_TKILL ? queue_to_process(&p->info)
                                                                 : sys_call2(__NR_kill, sys_getpid(), p->info.si_signo);
    if (r < 0) log_msg("cannot queue pending signal %d again: error %ld", p->info.si_signo, -r);
  }
}

void sigpending_put_back(void) {
  int n = used();
  process_requeuer = OWNER_NONE;
  int left = 0;
  if (n) {
    int process_signals = owns_any(OWNER_PROCESS);
    for (int s = 0; s < threads_used(); s++) {
      struct thread_rec *t = &g_threads[s];
      if (atomic_load(&t->state) != T_SUSPENDED) continue;
      int mine = owns_any(s);
      if (process_signals && t->kind == TK_MAIN) {
        process_requeuer = s;
        mine = 1;
      }
      left += mine;
    }
    if (process_signals && process_requeuer == OWNER_NONE) {
      process_requeuer = OWNER_PROCESS;
      put_back_process_without_main();
    }
  }
  atomic_store(&put_back_left, left);
  atomic_fetch_add(&put_back_gen, 1);
  sys_futex(&put_back_gen, FUTEX_WAKE_PRIVATE, 0x7fffffff, NULL);
  /* The threads are stopped in their handlers and re-queue at once; the
   * bound only keeps a broken thread from freezing the process forever. */
  for (int waited_ms = 0;; waited_ms += 100) {
    int l = atomic_load(&put_back_left);
    if (l <= 0) break;
    if (waited_ms >= 10000) {
      log_msg("%d threads did not queue their pending signals again in time", l);
      break;
    }
    struct timespec ts = {0, 100 * 1000 * 1000};
    sys_futex(&put_back_left, FUTEX_WAIT_PRIVATE, l, &ts);
  }
  if (n) LOG_DEBUG("%d pending signals queued again", n);
  atomic_store(&pool_used, 0);
  atomic_store(&pool_full_logged, 0);
}

int sigpending_count(void) { return used(); }

void sigpending_json(struct sbuf *sb) {
  sb_putc(sb, '[');
  int first = 1;
  for (int i = 0; i < used(); i++) {
    const struct pending_sig *p = &pool[i];
    if (p->owner == OWNER_NONE) continue;
    if (!first) sb_putc(sb, ',');
    first = 0;
    sb_puts(sb, "{\"sig\":");
    sb_puti(sb, p->info.si_signo);
    sb_puts(sb, ",\"tid\":");
    sb_puti(sb, p->owner == OWNER_PROCESS ? 0 : (int64_t)g_threads[p->owner].tid);
    sb_puts(sb, ",\"code\":");
    sb_puti(sb, p->info.si_code);
    sb_puts(sb, ",\"pid\":");
    sb_puti(sb, p->info.si_pid);
    sb_puts(sb, ",\"uid\":");
    sb_putu(sb, p->info.si_uid);
    sb_puts(sb, ",\"value\":");
    sb_puti(sb, p->info.si_code == SI_QUEUE ? (int64_t)p->info.si_value.sival_int : 0);
    sb_putc(sb, '}');
  }
  sb_putc(sb, ']');
}
