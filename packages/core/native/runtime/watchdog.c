/* A restart that cannot proceed says why and exits instead of hanging.
 *
 * From the restore entry until the restart round is complete, a thread of
 * its own (raw clone, no libc, not in the thread table) watches the stage
 * the restart is at.  A stage that does not end in time ends the process
 * with exit status 1 and one line on stderr naming the image, the stage and
 * the limit.  Local stages (threads coming back, reaching the coordinator)
 * get DMTCP_RESTART_TIMEOUT seconds (default 10); stages that wait for the
 * other processes of the computation or for plugins get six times as long.
 * DMTCP_RESTART_TIMEOUT=0 turns the watchdog off.
 *
 * It starts before the thread pointer is valid: only raw system calls and
 * static memory here. */
#include <linux/futex.h>
#include <sched.h>
#include <time.h>

#include "runtime.h"

static _Atomic uint32_t stage_seq; /* futex word: bumped at each stage */
static const char *_Atomic stage_what;
static _Atomic int stage_remote;
static _Atomic int stopping;
static _Atomic int running_tid; /* cleared by the kernel when the thread is gone */
static uint64_t limit_s = 10;
static char stack[16384] __attribute__((aligned(16)));

static uint64_t now_s(void) {
  struct timespec ts;
  sys_clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec;
}

static void put(struct sbuf *sb, const char *s) { sb_puts(sb, s); }

static __attribute__((noreturn)) void give_up(const char *what, uint64_t waited) {
  static char line[1600];
  struct sbuf sb;
  sb_init(&sb, line, sizeof line - 1);
  put(&sb, "dmtcp restart: ");
  put(&sb, g_restart_info.image_path[0] ? g_restart_info.image_path : "(image)");
  put(&sb, ": ");
  put(&sb, what);
  put(&sb, " did not finish within ");
  sb_putu(&sb, waited);
  put(&sb, " s; giving up (DMTCP_RESTART_TIMEOUT)\n");
  sys_write(2, sb.buf, sb.len);
  sys_exit_group(1);
}

static void watch(void *arg) {
  (void)arg;
  uint32_t seq = atomic_load(&stage_seq);
  uint64_t since = now_s();
  while (!atomic_load(&stopping)) {
    uint64_t limit = atomic_load(&stage_remote) ? limit_s * 6 : limit_s;
    uint64_t waited = now_s() - since;
    if (waited >= limit) give_up(atomic_load(&stage_what), waited);
    struct timespec ts = {1, 0};
    sys_futex(&stage_seq, FUTEX_WAIT_PRIVATE, (int)seq, &ts);
    uint32_t now = atomic_load(&stage_seq);
    if (now != seq) {
      seq = now;
      since = now_s();
    }
  }
  sys_exit_thread(0);
}

/* The restart's environment: NUL-separated "K=V" from the restart program. */
static const char *restart_env(const char *name) {
  const char *p = (const char *)g_restart_info.env_addr, *end = p + g_restart_info.env_len;
  size_t n = fmt_strlen(name);
  while (p && p < end) {
    size_t len = fmt_strlen(p);
    size_t i = 0;
    while (i < n && p[i] == name[i]) i++;
    if (i == n && p[n] == '=') return p + n + 1;
    p += len + 1;
  }
  return NULL;
}

void watchdog_stage(const char *what, int remote) {
  if (!atomic_load(&running_tid) || atomic_load(&stopping)) return;
  atomic_store(&stage_what, what);
  atomic_store(&stage_remote, remote);
  atomic_fetch_add(&stage_seq, 1);
  sys_futex(&stage_seq, FUTEX_WAKE_PRIVATE, 1, NULL);
}

void watchdog_stage_barrier(const char *name) {
  static char what[160];
  if (!atomic_load(&running_tid) || atomic_load(&stopping)) return;
  struct sbuf sb;
  sb_init(&sb, what, sizeof what);
  sb_puts(&sb, "waiting for the other processes at barrier ");
  sb_puts(&sb, name);
  sb_cstr(&sb);
  watchdog_stage(what, 1);
}

void watchdog_start(void) {
  atomic_store(&stopping, 0);
  const char *v = restart_env("DMTCP_RESTART_TIMEOUT");
  if (v) {
    uint64_t s = 0;
    fmt_parse_dec(v, (size_t)-1, &s);
    limit_s = s;
  }
  if (limit_s == 0) return;
  atomic_store(&stage_what, "recreating the threads");
  atomic_store(&stage_remote, 0);
  const unsigned long flags =
      CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM | CLONE_CHILD_CLEARTID;
  /* Born with every signal blocked: the application's handlers must never
   * run on this thread, which has no thread pointer. */
  uint64_t all = ~0ULL, old = 0;
  sys_rt_sigprocmask(SIG_SETMASK, &all, &old);
  atomic_store(&running_tid, 1);
  long r = clone_thread(flags, stack + sizeof stack, NULL, (int *)&running_tid, 0, watch, NULL);
  if (r < 0) atomic_store(&running_tid, 0);
  sys_rt_sigprocmask(SIG_SETMASK, &old, NULL);
}

void watchdog_stop(void) {
  atomic_store(&stopping, 1);
  atomic_fetch_add(&stage_seq, 1);
  sys_futex(&stage_seq, FUTEX_WAKE_PRIVATE, 1, NULL);
  /* Its stack is ours again only once the kernel has it gone. */
  for (int v; (v = atomic_load(&running_tid)) != 0;) sys_futex(&running_tid, FUTEX_WAIT, v, NULL);
}
