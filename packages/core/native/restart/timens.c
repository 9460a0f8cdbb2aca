/* See timens.h.  Freestanding like the rest of the restart program. */
#include <stddef.h>
#include <stdint.h>

#include "ns.h"
#include "timens.h"
#include "dmtcp/fmt.h"
#include "dmtcp/sys.h"
#include "dmtcp/timens.h"

#define CLONE_NEWTIME 0x00000080
#define O_RDONLY 0
#define CLOCK_REALTIME_ID 0
#define CLOCK_MONOTONIC_ID 1
#define CLOCK_BOOTTIME_ID 7

static const char *take_i64(const char *p, int64_t *v, int *ok) {
  const char *s = p;
  while (*p && *p != ',') p++;
  if (p == s || fmt_parse_i64(s, (size_t)(p - s), v) != p - s) *ok = 0;
  return *p == ',' ? p + 1 : p;
}

static void say_seconds(const char *what, int64_t ns, const char *how) {
  char num[48], *p = num;
  *p++ = ns < 0 ? '-' : '+';
  int64_t a = ns < 0 ? -ns : ns;
  p = ns_put_dec(p, a / DMTCP_NS_PER_SEC);
  *p++ = '.';
  int64_t ms = a % DMTCP_NS_PER_SEC / 1000000;
  *p++ = (char)('0' + ms / 100);
  *p++ = (char)('0' + ms / 10 % 10);
  *p++ = (char)('0' + ms % 10);
  *p++ = ' ';
  *p++ = 's';
  *p = 0;
  char line[160];
  struct sbuf sb;
  sb_init(&sb, line, sizeof line);
  sb_puts(&sb, num);
  sb_puts(&sb, how);
  ns_say(what, sb_cstr(&sb), 0);
}

/* A time namespace whose offsets are `off`, entered by this process (its
 * children, the restored processes, are made in it).  0 or -errno. */
static long enter_time_ns(const int64_t off[2]) {
  long r = ns_enter_user("the clocks are shifted by wrappers instead");
  if (r < 0) return r;
  r = sys_call1(__NR_unshare, CLONE_NEWTIME);
  if (r < 0) {
    ns_say("cannot make a time namespace; the clocks are shifted by wrappers instead", NULL, r);
    return r;
  }
  char text[128];
  struct sbuf sb;
  sb_init(&sb, text, sizeof text);
  timens_format_offset(&sb, "monotonic", off[0]);
  timens_format_offset(&sb, "boottime", off[1]);
  r = ns_write_file("/proc/self/timens_offsets", sb_cstr(&sb));
  if (r < 0) {
    ns_say("cannot set the time namespace's offsets; the clocks are shifted by wrappers instead", NULL, r);
    return r;
  }
  long fd = sys_open("/proc/self/ns/time_for_children", O_RDONLY, 0);
  r = fd < 0 ? fd : sys_call2(__NR_setns, fd, CLONE_NEWTIME);
  if (fd >= 0) sys_close((int)fd);
  if (r < 0) ns_say("cannot enter the time namespace; the clocks are shifted by wrappers instead", NULL, r);
  return r;
}

int timens_apply(const char *spec, struct dmtcp_restart_info *info) {
  int ok = 1;
  char rule = spec[0];
  const char *p = spec[0] && spec[1] == ',' ? spec + 2 : "";
  int64_t v[2] = {0, 0}, real = 0, may_ns = 0;
  p = take_i64(p, &v[0], &ok);
  p = take_i64(p, &v[1], &ok);
  p = take_i64(p, &real, &ok);
  p = take_i64(p, &may_ns, &ok);
  if (!ok || *p || (rule != 'o' && rule != 'f' && rule != 'e')) return -1;

  /* What the clocks read here, and the host's clocks under them. */
  int64_t cur[2], host[2], want[2];
  timens_read_offsets(cur);
  host[0] = timens_clock_ns(CLOCK_MONOTONIC_ID) - cur[0];
  host[1] = timens_clock_ns(CLOCK_BOOTTIME_ID) - cur[1];
  int64_t since = rule == 'e' ? timens_clock_ns(CLOCK_REALTIME_ID) - real : 0;
  if (since < 0) since = 0; /* a realtime clock set back never takes time away */
  for (int k = 0; k < 2; k++) want[k] = rule == 'o' ? v[k] : v[k] + since - host[k];
  if (want[0] == cur[0] && want[1] == cur[1]) return 0;

  if (may_ns && enter_time_ns(want) == 0) {
    info->flags |= DMTCP_RESTART_TIME_NS;
    say_seconds("CLOCK_MONOTONIC goes on from the checkpoint in a time namespace: ", want[0] - cur[0],
                " against this host's");
    return 0;
  }
  info->flags |= DMTCP_RESTART_CLOCK_SHIFT;
  info->clock_shift_ns[0] = want[0] - cur[0];
  info->clock_shift_ns[1] = want[1] - cur[1];
  say_seconds("CLOCK_MONOTONIC goes on from the checkpoint through plugin-timer's wrappers: ",
              info->clock_shift_ns[0], " against this host's");
  return 0;
}
