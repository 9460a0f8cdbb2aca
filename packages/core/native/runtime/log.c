/* A logger that is safe to call while other threads are suspended: one
 * write(2) from a stack buffer, no locks, no allocation. */
#include <string.h>

#include "runtime.h"

int g_debug;

void log_msg(const char *fmt, ...) {
  char buf[1024];
  struct sbuf sb;
  sb_init(&sb, buf, sizeof buf - 1);
  sb_puts(&sb, "dmtcp[");
  sb_putu(&sb, (uint64_t)sys_getpid());
  sb_puts(&sb, "]: ");
  va_list ap;
  va_start(ap, fmt);
  sb_vformat(&sb, fmt, ap);
  va_end(ap);
  buf[sb.len++] = '\n';
  sys_write(2, buf, sb.len);
}

const char *errno_text(int err) {
  const char *t = err > 0 ? strerrordesc_np(err) : NULL;
  return t ? t : "unknown error";
}

const char *signal_text(int sig) {
  const char *t = sig > 0 ? sigdescr_np(sig) : NULL;
  return t ? t : "unknown signal";
}
