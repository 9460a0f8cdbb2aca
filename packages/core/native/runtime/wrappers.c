/* Interposed libc functions that keep the process under checkpoint control:
 * thread creation and exit, fork and exec, and the signal calls that must
 * not touch the checkpoint signal. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dmtcp/next.h"
#include "dmtcp/plugin.h"
#include "dmtcp/usermem.h"
#include "runtime.h"

/* Every libc function the runtime wraps, resolved once (dmtcp/next.h): no
 * lookup may happen at checkpoint or restart, where a thread suspended
 * inside dlopen holds the loader's lock (see loader.c). */
#define RUNTIME_WRAPPED(X)                                                                          \
  X(close) X(close_range) X(execve) X(execvpe) X(fexecve) X(fork) X(posix_spawn) X(posix_spawnp) \
  X(pthread_create) X(pthread_exit) X(pthread_sigmask) X(sigaction) X(signal) X(sigprocmask)
DMTCP_NEXT_TABLE(RUNTIME_WRAPPED)

/* ---- threads ---- */

static void on_thread_exit(void *arg) { thread_mark_exiting(arg); }

static void *thread_start(void *arg) {
  struct thread_rec *t = arg;
  void *(*fn)(void *) = t->start_fn;
  void *fn_arg = t->start_arg;
  void *ret;
  mutex_bind_thread(t);
  event_simple(DMTCP_EVENT_THREAD_START);
  pthread_cleanup_push(on_thread_exit, t);
  event_simple(DMTCP_EVENT_PTHREAD_START);
  ret = fn(fn_arg);
  event_simple(DMTCP_EVENT_PTHREAD_RETURN);
  pthread_cleanup_pop(1);
  return ret;
}

EXPORT void pthread_exit(void *ret) {
  if (g_rt.enabled) event_simple(DMTCP_EVENT_PTHREAD_EXIT);
  DMTCP_NEXT(pthread_exit)(ret);
  __builtin_unreachable();
}

EXPORT int pthread_create(pthread_t *th, const pthread_attr_t *attr, void *(*fn)(void *), void *arg) {
  if (!g_rt.enabled) return DMTCP_NEXT(pthread_create)(th, attr, fn, arg);
  ckpt_lock_read();
  struct thread_rec *t = thread_alloc(TK_USER);
  int r;
  if (!t) {
    r = DMTCP_NEXT(pthread_create)(th, attr, fn, arg);
  } else {
    t->start_fn = fn;
    t->start_arg = arg;
    r = DMTCP_NEXT(pthread_create)(th, attr, thread_start, t);
    if (r == 0) {
      t->pthread = *th;
      t->tid_addr = g_tid_offset >= 0 ? (int *)((char *)*th + g_tid_offset) : NULL;
      /* glibc stored the new tid there before returning (CLONE_PARENT_SETTID). */
      atomic_store(&t->tid, t->tid_addr ? *t->tid_addr : 0);
      int creating = T_CREATING;
      atomic_compare_exchange_strong(&t->state, &creating, T_RUNNING);
    } else {
      atomic_store(&t->state, T_FREE);
    }
  }
  ckpt_unlock_read();
  if (r == 0) event_simple(DMTCP_EVENT_THREAD_CREATED);
  return r;
}

/* ---- fork ---- */

EXPORT pid_t fork(void) {
  if (!g_rt.enabled) return DMTCP_NEXT(fork)();
  ckpt_lock_read();
  event_simple(DMTCP_EVENT_ATFORK_PREPARE);
  /* The child is registered before it exists, so that no checkpoint can
   * start in which the parent has a child the coordinator does not know. */
  int sock = coord_connect();
  uint64_t child_upid = 0;
  if (sock >= 0) {
    char buf[256];
    struct msg m;
    if (coord_hello(sock, DMTCP_HELLO_FORK, g_rt.upid, &m, buf, sizeof buf) == 0) {
      child_upid = m.hdr.upid;
    } else {
      sys_close(sock);
      sock = -1;
    }
  }
  if (sock < 0) log_msg("fork: cannot register the child with the coordinator; it runs without checkpointing");
  pid_t pid = DMTCP_NEXT(fork)();
  if (pid == 0) {
    threads_reset_after_fork();
    ckpt_lock_reset();
    if (sock >= 0) {
      sys_dup3(sock, DMTCP_COORD_FD, O_CLOEXEC);
      sys_close(sock);
      g_rt.upid = child_upid;
      char payload[128];
      struct sbuf sb;
      sb_init(&sb, payload, sizeof payload);
      sb_puts(&sb, "{\"pid\":");
      sb_putu(&sb, (uint64_t)sys_getpid());
      sb_puts(&sb, ",\"ppid\":");
      sb_putu(&sb, (uint64_t)sys_call0(__NR_getppid));
      sb_putc(&sb, '}');
      coord_send(DMTCP_COORD_FD, DMT_UPDATE, 0, NULL, payload, sb.len);
      start_ckpt_thread();
      event_simple(DMTCP_EVENT_ATFORK_CHILD);
    } else {
      sys_close(DMTCP_COORD_FD);
      g_rt.enabled = 0;
    }
  } else {
    if (sock >= 0) sys_close(sock);
    DmtcpEventData_t d;
    memset(&d, 0, sizeof d);
    d.forkInfo.childPid = pid;
    events_dispatch(DMTCP_EVENT_ATFORK_PARENT, &d);
  }
  ckpt_unlock_read();
  return pid;
}

/* vfork's shared-memory child cannot run our fork-side bookkeeping. */
EXPORT pid_t vfork(void) { return fork(); }

/* ---- exec: the new program keeps the runtime and the connection ---- */

static int env_is(const char *entry, const char *name) {
  size_t n = strlen(name);
  return strncmp(entry, name, n) == 0 && entry[n] == '=';
}

static char *env_pair(const char *name, const char *value) {
  size_t a = strlen(name), b = strlen(value);
  char *s = malloc(a + b + 2);
  if (!s) return NULL;
  memcpy(s, name, a);
  s[a] = '=';
  memcpy(s + a + 1, value, b + 1);
  return s;
}

/* envp plus what the runtime needs after exec, even if the program cleaned
 * its environment. */
static char **exec_env(char *const envp[], int same_process) {
  /* An environment the kernel cannot read: the call goes on as it is and
   * fails with EFAULT, as it would without us. */
  if (!dmtcp_user_strv_readable(envp)) return NULL;
  size_t n = 0;
  while (envp && envp[n]) n++;
  char **out = calloc(n + 12, sizeof *out);
  if (!out) return NULL;
  static const char *ours[] = {"LD_PRELOAD", DMTCP_ENV_COORD_HOST, DMTCP_ENV_COORD_PORT, DMTCP_ENV_CKPT_DIR,
                               DMTCP_ENV_PRELOAD, DMTCP_ENV_COORD_FD, DMTCP_ENV_UPID, DMTCP_ENV_COMP_ID};
  size_t k = 0;
  const char *user_preload = NULL;
  for (size_t i = 0; i < n; i++) {
    int skip = 0;
    for (size_t j = 0; j < sizeof ours / sizeof *ours; j++)
      if (env_is(envp[i], ours[j])) skip = 1;
    if (env_is(envp[i], "LD_PRELOAD")) user_preload = envp[i] + 11;
    if (!skip) out[k++] = envp[i];
  }
  char preload[8192];
  struct sbuf sb;
  sb_init(&sb, preload, sizeof preload);
  sb_puts(&sb, g_rt.preload);
  /* Keep what the application itself preloads, after our libraries. */
  if (user_preload && *user_preload && !strstr(user_preload, "libdmtcp.so")) {
    sb_putc(&sb, ':');
    sb_puts(&sb, user_preload);
  } else if (user_preload && *user_preload && !g_rt.preload[0]) {
    sb_puts(&sb, user_preload);
  }
  char num[32], hex[24], comp[24];
  struct sbuf s2;
  sb_init(&s2, num, sizeof num);
  sb_putu(&s2, DMTCP_COORD_FD);
  sb_init(&s2, hex, sizeof hex);
  sb_putx(&s2, g_rt.upid, 16);
  sb_init(&s2, comp, sizeof comp);
  sb_putx(&s2, g_rt.comp_id, 16);
  char port[16];
  sb_init(&s2, port, sizeof port);
  sb_putu(&s2, (uint64_t)g_rt.coord_port);
  out[k++] = env_pair("LD_PRELOAD", preload);
  out[k++] = env_pair(DMTCP_ENV_PRELOAD, g_rt.preload);
  out[k++] = env_pair(DMTCP_ENV_COORD_HOST, g_rt.coord_host);
  out[k++] = env_pair(DMTCP_ENV_COORD_PORT, port);
  out[k++] = env_pair(DMTCP_ENV_CKPT_DIR, g_rt.ckpt_dir);
  /* An exec keeps this process's identity and connection; a spawned child
   * registers as a new process. */
  if (same_process) {
    out[k++] = env_pair(DMTCP_ENV_COORD_FD, num);
    out[k++] = env_pair(DMTCP_ENV_UPID, hex);
  }
  out[k++] = env_pair(DMTCP_ENV_COMP_ID, comp);
  out[k] = NULL;
  return out;
}

static void free_env(char **env, char *const orig[]) {
  if (!env) return;
  for (size_t i = 0; env[i]; i++) {
    int mine = 1;
    for (size_t j = 0; orig && orig[j]; j++)
      if (orig[j] == env[i]) mine = 0;
    if (mine) free(env[i]);
  }
  free(env);
}

typedef int (*exec_fn)(const char *, char *const[], char *const[]);

static int exec_common(exec_fn real, const char *file, char *const argv[], char *const envp[]) {
  if (!g_rt.enabled) return real(file, argv, envp);
  ckpt_lock_read();
  DmtcpEventData_t d;
  memset(&d, 0, sizeof d);
  d.preExec.filename = file;
  d.preExec.argv = argv;
  d.preExec.envp = envp;
  events_dispatch(DMTCP_EVENT_PRE_EXEC, &d);
  char **env = exec_env(envp, 1);
  sys_fcntl(DMTCP_COORD_FD, F_SETFD, 0);
  int r = real(file, argv, env ? env : envp);
  int saved = errno;
  sys_fcntl(DMTCP_COORD_FD, F_SETFD, FD_CLOEXEC);
  free_env(env, envp);
  ckpt_unlock_read();
  errno = saved;
  return r;
}

EXPORT int execve(const char *path, char *const argv[], char *const envp[]) {
  return exec_common(DMTCP_NEXT(execve), path, argv, envp);
}
EXPORT int execvpe(const char *file, char *const argv[], char *const envp[]) {
  return exec_common(DMTCP_NEXT(execvpe), file, argv, envp);
}
EXPORT int execv(const char *path, char *const argv[]) { return execve(path, argv, environ); }
EXPORT int execvp(const char *file, char *const argv[]) { return execvpe(file, argv, environ); }

static int fexecve_real(const char *fdstr, char *const argv[], char *const envp[]) {
  return DMTCP_NEXT(fexecve)(atoi(fdstr), argv, envp);
}
EXPORT int fexecve(int fd, char *const argv[], char *const envp[]) {
  /* glibc refuses a null argv or envp with EINVAL.  It declares argv
   * nonnull, so the compiler would drop a plain test: launder it. */
  const void *argv_ = argv;
  __asm__("" : "+r"(argv_));
  if (!argv_ || !envp) return DMTCP_NEXT(fexecve)(fd, argv, envp);
  char num[16];
  struct sbuf sb;
  sb_init(&sb, num, sizeof num);
  sb_putu(&sb, (uint64_t)fd);
  return exec_common(fexecve_real, num, argv, envp);
}

/* The l-variants collect their arguments and go through the v-variants:
 * glibc's own execl calls an internal execve we cannot see. */
#define COLLECT_ARGS(first, ap, argv, with_env)                  \
  size_t argc_ = 1;                                              \
  va_start(ap, first);                                           \
  while (va_arg(ap, char *)) argc_++;                            \
  va_end(ap);                                                    \
  char *argv[argc_ + 1];                                         \
  argv[0] = (char *)first;                                       \
  va_start(ap, first);                                           \
  for (size_t i_ = 1; i_ <= argc_; i_++) argv[i_] = va_arg(ap, char *); \
  char *const *env_ = with_env ? va_arg(ap, char *const *) : environ; \
  va_end(ap);

EXPORT int execl(const char *path, const char *arg, ...) {
  va_list ap;
  COLLECT_ARGS(arg, ap, argv, 0);
  return execve(path, argv, env_);
}
EXPORT int execlp(const char *file, const char *arg, ...) {
  va_list ap;
  COLLECT_ARGS(arg, ap, argv, 0);
  return execvpe(file, argv, env_);
}
EXPORT int execle(const char *path, const char *arg, ...) {
  va_list ap;
  COLLECT_ARGS(arg, ap, argv, 1);
  return execve(path, argv, env_);
}

/* ---- signals: the checkpoint signal belongs to the runtime ---- */

EXPORT int sigaction(int sig, const struct sigaction *act, struct sigaction *old) {
  if (g_rt.enabled && sig == g_sigckpt) {
    if (old) {
      memset(old, 0, sizeof *old);
      old->sa_handler = SIG_DFL;
    }
    return 0;
  }
  return DMTCP_NEXT(sigaction)(sig, act, old);
}

EXPORT sighandler_t signal(int sig, sighandler_t handler) {
  if (g_rt.enabled && sig == g_sigckpt) return SIG_DFL;
  return DMTCP_NEXT(signal)(sig, handler);
}

static const sigset_t *without_ckpt(int how, const sigset_t *set, sigset_t *copy) {
  if (!g_rt.enabled || !set || how == SIG_UNBLOCK || !sigismember(set, g_sigckpt)) return set;
  /* The kernel reads only the first _NSIG / 8 bytes of a set. */
  sigemptyset(copy);
  memcpy(copy, set, _NSIG / 8);
  sigdelset(copy, g_sigckpt);
  return copy;
}

EXPORT int sigprocmask(int how, const sigset_t *set, sigset_t *old) {
  sigset_t copy;
  int r = DMTCP_NEXT(sigprocmask)(how, without_ckpt(how, set, &copy), old);
  if (r == 0 && old && g_rt.enabled) sigdelset(old, g_sigckpt);
  return r;
}

EXPORT int pthread_sigmask(int how, const sigset_t *set, sigset_t *old) {
  sigset_t copy;
  int r = DMTCP_NEXT(pthread_sigmask)(how, without_ckpt(how, set, &copy), old);
  if (r == 0 && old && g_rt.enabled) sigdelset(old, g_sigckpt);
  return r;
}

/* ---- the runtime's own descriptors stay out of the application's reach ----
 * Daemons and shells close every descriptor they do not know; the
 * coordinator connection must survive that. */

static int is_protected_fd(int fd) {
  return g_rt.enabled && dmtcp_fd_protected(fd);
}

EXPORT int close(int fd) {
  if (is_protected_fd(fd)) return 0;
  return DMTCP_NEXT(close)(fd);
}

EXPORT int close_range(unsigned int first, unsigned int last, int flags) {
  if (!g_rt.enabled || last < DMTCP_PROTECTED_FD_BASE || first >= DMTCP_PROTECTED_FD_BASE + 20)
    return DMTCP_NEXT(close_range)(first, last, flags);
  int r = 0;
  if (first < DMTCP_PROTECTED_FD_BASE) r = DMTCP_NEXT(close_range)(first, DMTCP_PROTECTED_FD_BASE - 1, flags);
  if (r == 0 && last >= DMTCP_PROTECTED_FD_BASE + 20) r = DMTCP_NEXT(close_range)(DMTCP_PROTECTED_FD_BASE + 20, last, flags);
  return r;
}

EXPORT void closefrom(int lowfd) {
  if (lowfd < 0) lowfd = 0;
  close_range((unsigned int)lowfd, ~0u, 0);
}

/* posix_spawn (and so system and popen) creates its child without our fork
 * wrapper; an environment given without our variables must not take the
 * child out of the computation. */
typedef int (*spawn_fn)(pid_t *, const char *, const posix_spawn_file_actions_t *, const posix_spawnattr_t *,
                        char *const[], char *const[]);

static int spawn_common(spawn_fn real, pid_t *pid, const char *file, const posix_spawn_file_actions_t *fa,
                        const posix_spawnattr_t *attr, char *const argv[], char *const envp[]) {
  if (!g_rt.enabled) return real(pid, file, fa, attr, argv, envp);
  char **env = exec_env(envp, 0);
  int r = real(pid, file, fa, attr, argv, env ? env : envp);
  free_env(env, envp);
  return r;
}

EXPORT int posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa, const posix_spawnattr_t *attr,
                       char *const argv[], char *const envp[]) {
  return spawn_common(DMTCP_NEXT(posix_spawn), pid, path, fa, attr, argv, envp);
}

EXPORT int posix_spawnp(pid_t *pid, const char *file, const posix_spawn_file_actions_t *fa, const posix_spawnattr_t *attr,
                        char *const argv[], char *const envp[]) {
  return spawn_common(DMTCP_NEXT(posix_spawnp), pid, file, fa, attr, argv, envp);
}
