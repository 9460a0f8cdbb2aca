/* The exec hand-over: what a new program learns from the environment about
 * who it is and which ids the other processes of the computation have.
 *
 * After an exec, or in a child of posix_spawn that execs at once, the
 * library starts afresh in a process the kernel still calls by its real
 * pid; the table it had is gone with the old image.  The old image (or, for
 * a spawned child, its parent) leaves the state in one environment variable
 * and the new program adopts it at start-up, provided it was left for that
 * very process.  Below this process's own state: the caller names the
 * virtual pid the string speaks for. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dmtcp/plugin.h"
#include "pid_internal.h"

#define LOG_PREFIX "pid: "

/* Writes v at p (room for 20 characters), returns the end. */
static char *put_dec(char *p, long v) {
  struct sbuf sb;
  sb_init(&sb, p, 21);
  sb_puti(&sb, v);
  return p + sb.len;
}

static char *state_string(pid_t vpid, int spawn, pid_t alt) {
  int n = pid_table_used();
  size_t cap = sizeof PID_EXEC_ENV + 48 + (size_t)(n + 1) * 24;
  char *s = malloc(cap);
  if (!s) return NULL;
  char *p = s;
  memcpy(p, PID_EXEC_ENV "=", sizeof PID_EXEC_ENV);
  p += sizeof PID_EXEC_ENV;
  if (spawn) *p++ = '^';
  pid_t real = sys_getpid();
  p = put_dec(p, real);
  *p++ = ',';
  p = put_dec(p, vpid);
  if (spawn) {
    *p++ = ',';
    p = put_dec(p, alt);
  }
  *p++ = ';';
  /* Processes only: the threads of this one end with the exec, and those of
   * others are theirs to name. */
  for (int i = 0; i < n; i++) {
    struct pid_entry *e = &g_pid_table[i];
    pid_t vid = atomic_load(&e->vid), rid = atomic_load(&e->real);
    if (!vid || e->owner != vid || rid <= 0) continue;
    if (vid == vpid) {
      if (!spawn) continue;
      rid = real;
    }
    p = put_dec(p, vid);
    *p++ = ':';
    p = put_dec(p, rid);
    *p++ = ',';
  }
  *p = 0;
  return s;
}

char *pid_handover_exec(pid_t vpid) { return state_string(vpid, 0, 0); }
char *pid_handover_spawn(pid_t vpid, pid_t alt) { return state_string(vpid, 1, alt); }

/* -1 when p does not start with a number that fits. */
static const char *get_dec(const char *p, long *out) {
  uint64_t v = 0;
  long n = fmt_parse_dec(p, (size_t)-1, &v);
  *out = n > 0 && v <= (uint64_t)INT64_MAX ? (long)v : -1;
  return n > 0 ? p + n : p;
}

static const char *load_list(const char *s) {
  while (*s) {
    long vid, rid;
    s = get_dec(s, &vid);
    if (*s++ != ':') break;
    s = get_dec(s, &rid);
    if (vid > 0 && rid > 0) pid_table_put((pid_t)vid, (pid_t)rid, (pid_t)vid, NULL);
    if (*s == ',') s++;
  }
  return s;
}

/* The spawn form's header: parent real, parent vpid, alt; NULL if malformed. */
static const char *spawn_header(const char *s, long *preal, long *pvpid, long *alt) {
  if (strncmp(s, PID_EXEC_ENV "=", sizeof PID_EXEC_ENV) == 0) s += sizeof PID_EXEC_ENV;
  if (*s++ != '^') return NULL;
  s = get_dec(s, preal);
  if (*s++ != ',') return NULL;
  s = get_dec(s, pvpid);
  if (*s++ != ',') return NULL;
  s = get_dec(s, alt);
  if (*s++ != ';') return NULL;
  return s;
}

pid_t pid_handover_spawn_vpid(const char *state, pid_t real) {
  long preal, pvpid, alt;
  const char *s = spawn_header(state, &preal, &pvpid, &alt);
  if (!s) return real;
  while (*s) {
    long vid, rid;
    s = get_dec(s, &vid);
    if (*s++ != ':') break;
    s = get_dec(s, &rid);
    if (vid == real && rid != real) return alt > 0 ? (pid_t)alt : real;
    if (*s == ',') s++;
  }
  return real;
}

/* Adopts the state the exec'ing image left, provided it was left for this
 * very process (a child started by other means inherits the environment). */
static pid_t adopt_exec_state(const char *s, pid_t real) {
  long r, v;
  s = get_dec(s, &r);
  if (*s++ != ',') return real;
  s = get_dec(s, &v);
  if (*s++ != ';' || r != real || v <= 0) return real;
  load_list(s);
  return (pid_t)v;
}

/* A posix_spawn child: the state is meant for it when its parent left it. */
static pid_t adopt_spawn_state(const char *state, pid_t real) {
  long preal, pvpid, alt;
  const char *s = spawn_header(state, &preal, &pvpid, &alt);
  if (!s || preal != sys_call3(SYS_getppid, 0, 0, 0)) return real;
  load_list(s);
  pid_t vpid = pid_handover_spawn_vpid(state, real);
  if (vpid != real) PID_LOG(LOG_PREFIX "spawned as %d, the virtual pid of another process: virtual pid %d", (int)real, (int)vpid);
  return vpid;
}

pid_t pid_handover_adopt(const char *state, pid_t real) {
  return state[0] == '^' ? adopt_spawn_state(state, real) : adopt_exec_state(state, real);
}

static int is_state_var(const char *s) {
  return strncmp(s, PID_EXEC_ENV "=", sizeof PID_EXEC_ENV) == 0;
}

char **pid_handover_env(char *const envp[], char *state) {
  /* An environment the kernel cannot read: the call goes on without our
   * state and fails with EFAULT, as it would without us. */
  if (!dmtcp_user_strv_readable(envp)) return NULL;
  size_t n = 0;
  while (envp && envp[n]) n++;
  char **env = malloc((n + 2) * sizeof *env);
  if (!env) return NULL;
  size_t k = 0;
  for (size_t i = 0; i < n; i++)
    if (!is_state_var(envp[i])) env[k++] = envp[i];
  env[k++] = state;
  env[k] = NULL;
  return env;
}
