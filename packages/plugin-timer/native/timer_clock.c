/* Clocks across a restart: which absolute deadlines still mean the same
 * instant.  CLOCK_REALTIME and CLOCK_TAI are the same everywhere;
 * CLOCK_MONOTONIC and CLOCK_BOOTTIME count from the boot, so a deadline on
 * them is kept only when the restart runs in the boot the checkpoint was
 * taken in (the boot id says); CPU-time clocks start again from zero in the
 * restarted process. */
#define _GNU_SOURCE
#include <time.h>

#include "dmtcp/sys.h"
#include "timer_plugin.h"

#define BOOT_ID_LEN 36

static char ckpt_boot[BOOT_ID_LEN + 1]; /* in the image */
static int same_boot;

static int read_boot_id(char out[BOOT_ID_LEN + 1]) {
  long fd = sys_open("/proc/sys/kernel/random/boot_id", 0 /* O_RDONLY */, 0);
  if (fd < 0) return -1;
  long n = sys_read((int)fd, out, BOOT_ID_LEN);
  sys_close((int)fd);
  if (n != BOOT_ID_LEN) return -1;
  out[BOOT_ID_LEN] = 0;
  return 0;
}

void timer_clock_checkpoint(void) {
  if (read_boot_id(ckpt_boot) < 0) ckpt_boot[0] = 0;
}

void timer_clock_restarted(void) {
  char now[BOOT_ID_LEN + 1];
  same_boot = 0;
  if (ckpt_boot[0] == 0 || read_boot_id(now) < 0) return;
  same_boot = 1;
  for (int i = 0; i < BOOT_ID_LEN; i++)
    if (now[i] != ckpt_boot[i]) same_boot = 0;
}

int timer_clock_keeps_deadline(clockid_t clock) {
  switch (clock) {
    case CLOCK_REALTIME:
    case CLOCK_REALTIME_ALARM:
    case CLOCK_TAI:
      return 1;
    case CLOCK_MONOTONIC:
    case CLOCK_BOOTTIME:
    case CLOCK_BOOTTIME_ALARM:
      return same_boot;
    default:
      return 0;
  }
}

int timer_ts_nonzero(const struct timespec *t) { return t->tv_sec != 0 || t->tv_nsec != 0; }

int timer_deadline(clockid_t clock, const struct timespec *rel, struct timespec *abs) {
  struct timespec now = {0, 0};
  /* The alarm clocks read as their plain counterparts. */
  clockid_t read_as = clock == CLOCK_REALTIME_ALARM ? CLOCK_REALTIME : clock == CLOCK_BOOTTIME_ALARM ? CLOCK_BOOTTIME : clock;
  /* A clock naming a task: as the kernel names it in this life (read
   * raw, as the kernel's timers count it). */
  if (read_as < 0) read_as = timer_cpuclock_kernel(read_as);
  long r = sys_clock_gettime(read_as, &now);
  if (r < 0) return (int)r;
  abs->tv_sec = now.tv_sec + rel->tv_sec;
  abs->tv_nsec = now.tv_nsec + rel->tv_nsec;
  if (abs->tv_nsec >= 1000000000L) {
    abs->tv_sec++;
    abs->tv_nsec -= 1000000000L;
  }
  return 0;
}

int timer_clock_passed(clockid_t clock, const struct timespec *t) {
  struct timespec zero = {0, 0}, now = {0, 0};
  if (timer_deadline(clock, &zero, &now) < 0) return 1;
  return now.tv_sec > t->tv_sec || (now.tv_sec == t->tv_sec && now.tv_nsec >= t->tv_nsec);
}
