/* Time namespace offsets (/proc/PID/timens_offsets), read by the runtime at
 * checkpoint and written by the restart program.  Raw system calls only:
 * safe on the checkpoint path and in the freestanding restart program. */
#ifndef DMTCP_TIMENS_H
#define DMTCP_TIMENS_H

#include <stdint.h>

#include "dmtcp/fmt.h"
#include "dmtcp/sys.h"

#define DMTCP_NS_PER_SEC 1000000000LL

/* The file's text, "monotonic S NS\nboottime S NS\n" (the kernel also takes
 * clock ids 1 and 7 for the names), into off[0] (monotonic) and off[1]
 * (boottime) in nanoseconds; lines it does not know are skipped. */
static inline void timens_parse_offsets(const char *p, int64_t off[2]) {
  off[0] = off[1] = 0;
  while (*p) {
    int which = -1;
    if (p[0] == 'm' || p[0] == '1') which = 0;
    else if (p[0] == 'b' || p[0] == '7') which = 1;
    while (*p && *p != ' ' && *p != '\n') p++;
    int64_t v[2] = {0, 0};
    for (int k = 0; k < 2; k++) {
      while (*p == ' ' || *p == '\t') p++;
      const char *s = p;
      while (*p && *p != ' ' && *p != '\t' && *p != '\n') p++;
      if (fmt_parse_i64(s, (size_t)(p - s), &v[k]) <= 0) v[k] = 0;
    }
    if (which >= 0) off[which] = v[0] * DMTCP_NS_PER_SEC + v[1];
    while (*p && *p != '\n') p++;
    if (*p) p++;
  }
}

/* This process's offsets (those of the namespace its children get, which
 * is its own unless it unshared one); 0 without CONFIG_TIME_NS. */
static inline void timens_read_offsets(int64_t off[2]) {
  char buf[256];
  off[0] = off[1] = 0;
  long fd = sys_open("/proc/self/timens_offsets", 0 /* O_RDONLY */, 0);
  if (fd < 0) return;
  long n = sys_read((int)fd, buf, sizeof buf - 1);
  sys_close((int)fd);
  if (n <= 0) return;
  buf[n] = 0;
  timens_parse_offsets(buf, off);
}

/* One line as the kernel takes it: seconds may be negative, nanoseconds in
 * [0, 1e9). */
static inline void timens_format_offset(struct sbuf *sb, const char *clock, int64_t ns) {
  int64_t s = ns / DMTCP_NS_PER_SEC, r = ns % DMTCP_NS_PER_SEC;
  if (r < 0) {
    r += DMTCP_NS_PER_SEC;
    s -= 1;
  }
  sb_puts(sb, clock);
  sb_putc(sb, ' ');
  sb_puti(sb, s);
  sb_putc(sb, ' ');
  sb_puti(sb, r);
  sb_putc(sb, '\n');
}

static inline int64_t timens_clock_ns(int clock) {
  struct {
    int64_t sec, nsec;
  } t = {0, 0}; /* the kernel's timespec on 64-bit */
  sys_call2(__NR_clock_gettime, clock, SYS_ARG(&t));
  return t.sec * DMTCP_NS_PER_SEC + t.nsec;
}

#endif
