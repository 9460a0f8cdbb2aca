/* CLOCK_MONOTONIC and CLOCK_BOOTTIME across restarts.  Both count from a
 * boot, so a process restarted on another boot (or host) would see them jump
 * back or forward.  The image says what they read at the checkpoint, as the
 * program saw them, with the time namespace offsets they were read under and
 * the boot; `dmtcp restart` decides what they should read now (policy in
 * src/image/clock-plan.ts), and the restart program puts the processes in a
 * time namespace with those offsets, or, where it cannot, hands the
 * difference over as a shift that plugin-timer's wrappers add.  The shift is
 * part of what the program saw, so it is counted into the next checkpoint's
 * readings and offsets. */
#include <fcntl.h>

#include "runtime.h"
#include "dmtcp/timens.h"

#define CLOCK_MONOTONIC_ID 1
#define CLOCK_BOOTTIME_ID 7

static int64_t shift_ns[2]; /* monotonic, boottime; in the image */

static void put_i64_str(struct sbuf *sb, const char *key, int64_t v) {
  sb_puts(sb, key);
  sb_puts(sb, "\":\"");
  sb_puti(sb, v);
  sb_putc(sb, '"');
}

void clocks_json(struct sbuf *sb) {
  int64_t off[2];
  timens_read_offsets(off);
  char boot[40] = {0};
  long fd = sys_open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC, 0);
  if (fd >= 0) {
    long n = sys_read((int)fd, boot, 36);
    sys_close((int)fd);
    boot[n == 36 ? 36 : 0] = 0;
  }
  sb_puts(sb, "{\"boot_id\":");
  sb_json_str(sb, boot);
  put_i64_str(sb, ",\"monotonic_ns", timens_clock_ns(CLOCK_MONOTONIC_ID) + shift_ns[0]);
  put_i64_str(sb, ",\"boottime_ns", timens_clock_ns(CLOCK_BOOTTIME_ID) + shift_ns[1]);
  put_i64_str(sb, ",\"monotonic_offset_ns", off[0] + shift_ns[0]);
  put_i64_str(sb, ",\"boottime_offset_ns", off[1] + shift_ns[1]);
  sb_putc(sb, '}');
}

void clocks_restarted(void) {
  int shifted = (g_restart_info.flags & DMTCP_RESTART_CLOCK_SHIFT) != 0;
  shift_ns[0] = shifted ? g_restart_info.clock_shift_ns[0] : 0;
  shift_ns[1] = shifted ? g_restart_info.clock_shift_ns[1] : 0;
}

EXPORT int64_t dmtcp_clock_shift_ns(int clock) {
  switch (clock) {
    case 1: /* MONOTONIC */
    case 4: /* MONOTONIC_RAW */
    case 6: /* MONOTONIC_COARSE */
      return shift_ns[0];
    case 7: /* BOOTTIME */
    case 9: /* BOOTTIME_ALARM */
      return shift_ns[1];
    default:
      return 0;
  }
}
