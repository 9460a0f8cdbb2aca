/* The debug switch and the log line, alike in the runtime, the restart
 * program and every plugin.
 *
 * DMTCP_DEBUG is on when its value starts with '1'.  Each library (the
 * runtime, each plugin .so, the restart program) keeps one flag, set once
 * where reading the environment is safe (a constructor, INIT, the restart
 * program's start with its envp) and only read afterwards: dmtcp_debug() is
 * a plain load, safe in signal handlers and at checkpoint time.
 *
 * A line is one write(2) of a stack buffer: "dmtcp[<pid>]: ..." for the
 * core, "dmtcp <component>: ..." for a plugin (tests and users grep these
 * prefixes), always ended by a newline even when the text was cut. */
#ifndef DMTCP_DEBUG_H
#define DMTCP_DEBUG_H

#include <stdarg.h>
#include <stddef.h>

#include "dmtcp/fmt.h"
#include "dmtcp/sys.h"

#define DMTCP_DEBUG_ENV "DMTCP_DEBUG"

/* One definition per library: weak, so that every file including this
 * header may define it; hidden, so that each library keeps its own. */
__attribute__((weak, visibility("hidden"))) int dmtcp_debug_flag_;

static inline int dmtcp_debug(void) { return dmtcp_debug_flag_; }
static inline void dmtcp_debug_set(int on) { dmtcp_debug_flag_ = on != 0; }

/* Whether a value of DMTCP_DEBUG (NULL: unset) turns the log on. */
static inline int dmtcp_debug_value_on(const char *v) { return v && v[0] == '1'; }

/* The value of `name` in an environment block (NULL-terminated "K=V"
 * strings), or NULL. */
static inline const char *dmtcp_env_lookup(char *const *envp, const char *name) {
  if (!envp) return NULL;
  for (; *envp; envp++) {
    const char *e = *envp, *n = name;
    while (*n && *e == *n) e++, n++;
    if (!*n && *e == '=') return e + 1;
  }
  return NULL;
}

static inline void dmtcp_debug_init(char *const *envp) {
  dmtcp_debug_set(dmtcp_debug_value_on(dmtcp_env_lookup(envp, DMTCP_DEBUG_ENV)));
}

/* component NULL: the core's "dmtcp[<pid>]: ". */
static inline void dmtcp_log_prefix(struct sbuf *sb, const char *component) {
  if (component) {
    sb_puts(sb, "dmtcp ");
    sb_puts(sb, component);
    sb_puts(sb, ": ");
  } else {
    sb_puts(sb, "dmtcp[");
    sb_putu(sb, (uint64_t)sys_getpid());
    sb_puts(sb, "]: ");
  }
}

/* Formats one line into buf (cap >= 2) and writes it to fd. */
static inline void dmtcp_vlog_to(int fd, const char *component, char *buf, size_t cap, const char *fmt, va_list ap) {
  struct sbuf sb;
  sb_init(&sb, buf, cap - 1);
  dmtcp_log_prefix(&sb, component);
  sb_vformat(&sb, fmt, ap);
  /* A long path must not eat the newline that ends the line. */
  buf[sb.len++] = '\n';
  sys_write(fd, buf, sb.len);
}

#endif
