/* See ns.h.  Freestanding like the rest of the restart program. */
#include <stddef.h>
#include <stdint.h>

#include "ns.h"
#include "dmtcp/fmt.h"
#include "dmtcp/sys.h"

#define CLONE_NEWUSER 0x10000000
#define O_WRONLY 1

char *ns_put_dec(char *p, long v) {
  struct sbuf sb;
  sb_init(&sb, p, 22);
  sb_puti(&sb, v);
  return p + sb.len;
}

void ns_say(const char *a, const char *b, long err) {
  static const char pre[] = "dmtcp restart: ";
  sys_write(2, pre, sizeof pre - 1);
  sys_write(2, a, fmt_strlen(a));
  if (b) sys_write(2, b, fmt_strlen(b));
  if (err) {
    char num[32] = " (errno ";
    char *end = ns_put_dec(num + 8, err < 0 ? -err : err);
    *end++ = ')';
    sys_write(2, num, (size_t)(end - num));
  }
  sys_write(2, "\n", 1);
}

long ns_write_file(const char *path, const char *text) {
  long fd = sys_open(path, O_WRONLY, 0);
  if (fd < 0) return fd;
  long r = sys_write((int)fd, text, fmt_strlen(text));
  sys_close((int)fd);
  return r < 0 ? r : 0;
}

/* "ID ID 1": the id is itself inside. */
static long map_one(const char *file, long id) {
  char line[64];
  char *p = ns_put_dec(line, id);
  *p++ = ' ';
  p = ns_put_dec(p, id);
  *p++ = ' ';
  *p++ = '1';
  *p = 0;
  return ns_write_file(file, line);
}

long ns_enter_user(const char *then) {
  static int entered;
  long uid = sys_call0(__NR_geteuid), gid = sys_call0(__NR_getegid);
  if (entered || uid == 0) return 0;
  long r = sys_call1(__NR_unshare, CLONE_NEWUSER);
  if (r < 0) {
    ns_say("cannot make a user namespace; ", then, r);
    return r;
  }
  r = map_one("/proc/self/uid_map", uid);
  if (r == 0) r = ns_write_file("/proc/self/setgroups", "deny");
  if (r == 0) r = map_one("/proc/self/gid_map", gid);
  if (r < 0) {
    ns_say("cannot map ids in the user namespace; ", then, r);
    return r;
  }
  entered = 1;
  return 0;
}
