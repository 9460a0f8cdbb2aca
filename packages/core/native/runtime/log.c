/* A logger that is safe to call while other threads are suspended: one
 * write(2) from a stack buffer, no locks, no allocation. */
#include <string.h>

#include "runtime.h"

void log_msg(const char *fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  dmtcp_vlog_to(2, NULL, buf, sizeof buf, fmt, ap);
  va_end(ap);
}

const char *errno_text(int err) {
  const char *t = err > 0 ? strerrordesc_np(err) : NULL;
  return t ? t : "unknown error";
}

const char *signal_text(int sig) {
  const char *t = sig > 0 ? sigdescr_np(sig) : NULL;
  return t ? t : "unknown signal";
}
