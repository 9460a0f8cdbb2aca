/* Clocks across a restart: which absolute deadlines still mean the same
 * instant, as the program reads its clocks.  CLOCK_REALTIME and CLOCK_TAI
 * are the same everywhere; the core makes CLOCK_MONOTONIC and CLOCK_BOOTTIME
 * go on from the checkpoint's (a time namespace, or a shift that the clock
 * wrappers add: dmtcp_clock_shift_ns), so deadlines on them are kept too;
 * CPU-time clocks start again from zero in the restarted process. */
#define _GNU_SOURCE
#include <time.h>

#include "dmtcp/plugin.h"
#include "dmtcp/sys.h"
#include "timer_plugin.h"

#define NS_PER_SEC 1000000000L

/* The core's shift after a restart without a time namespace (0 otherwise),
 * cached: the clock wrappers' fast path reads one flag. */
static int64_t shift_ns[2]; /* MONOTONIC family, BOOTTIME family */
int timer_clock_shifted;

void timer_clock_restarted(void) {
  shift_ns[0] = dmtcp_clock_shift_ns(CLOCK_MONOTONIC);
  shift_ns[1] = dmtcp_clock_shift_ns(CLOCK_BOOTTIME);
  __atomic_store_n(&timer_clock_shifted, shift_ns[0] != 0 || shift_ns[1] != 0, __ATOMIC_RELEASE);
}

int64_t timer_clock_shift(clockid_t clock) {
  switch (clock) {
    case CLOCK_MONOTONIC:
    case CLOCK_MONOTONIC_RAW:
    case CLOCK_MONOTONIC_COARSE:
      return shift_ns[0];
    case CLOCK_BOOTTIME:
    case CLOCK_BOOTTIME_ALARM:
      return shift_ns[1];
    default:
      return 0;
  }
}

int timer_clock_keeps_deadline(clockid_t clock) {
  switch (clock) {
    case CLOCK_REALTIME:
    case CLOCK_REALTIME_ALARM:
    case CLOCK_TAI:
    case CLOCK_MONOTONIC:
    case CLOCK_BOOTTIME:
    case CLOCK_BOOTTIME_ALARM:
      return 1;
    default:
      return 0;
  }
}

int timer_ts_nonzero(const struct timespec *t) { return t->tv_sec != 0 || t->tv_nsec != 0; }

static void add_ns(struct timespec *t, int64_t ns) {
  int64_t v = (int64_t)t->tv_nsec + ns % NS_PER_SEC;
  t->tv_sec += (time_t)(ns / NS_PER_SEC + v / NS_PER_SEC);
  v %= NS_PER_SEC;
  if (v < 0) {
    v += NS_PER_SEC;
    t->tv_sec--;
  }
  t->tv_nsec = (long)v;
}

void timer_clock_to_kernel(clockid_t clock, const struct timespec *program, struct timespec *kernel) {
  *kernel = *program;
  int64_t shift = timer_clock_shift(clock);
  if (shift) add_ns(kernel, -shift);
}

int timer_deadline(clockid_t clock, const struct timespec *rel, struct timespec *abs) {
  struct timespec now = {0, 0};
  /* The alarm clocks read as their plain counterparts. */
  clockid_t read_as = clock == CLOCK_REALTIME_ALARM ? CLOCK_REALTIME : clock == CLOCK_BOOTTIME_ALARM ? CLOCK_BOOTTIME : clock;
  /* A clock naming a task: as the kernel names it in this life (read
   * raw, as the kernel's timers count it). */
  if (read_as < 0) read_as = timer_cpuclock_kernel(read_as);
  long r = sys_clock_gettime(read_as, &now);
  if (r < 0) return (int)r;
  *abs = now;
  add_ns(abs, (int64_t)rel->tv_sec * NS_PER_SEC + rel->tv_nsec + timer_clock_shift(read_as));
  return 0;
}

int timer_clock_passed(clockid_t clock, const struct timespec *t) {
  struct timespec zero = {0, 0}, now = {0, 0};
  if (timer_deadline(clock, &zero, &now) < 0) return 1;
  return now.tv_sec > t->tv_sec || (now.tv_sec == t->tv_sec && now.tv_nsec >= t->tv_nsec);
}
