/* Start-up of the runtime in every process of a computation: read the
 * launch environment, register with the coordinator on a protected fd, and
 * start the checkpoint thread. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dmtcp/plugin.h"
#include "runtime.h"
#include "dmtcp/next.h"

/* What this file calls past the runtime's own wrappers (dmtcp/next.h). */
#define INIT_CALLS(X) X(pthread_create) X(pthread_sigmask)
DMTCP_NEXT_TABLE(INIT_CALLS)

struct runtime g_rt;

static void copy_env(char *dst, size_t cap, const char *name) {
  const char *v = getenv(name);
  if (!v) return;
  strncpy(dst, v, cap - 1);
  dst[cap - 1] = 0;
}

static uint64_t parse_hex(const char *s) {
  uint64_t v = 0;
  if (s) fmt_parse_hex(s, (size_t)-1, &v);
  return v;
}

/* Registers this process; inherited_fd >= 0 is the connection kept across
 * exec.  Returns 0 on success. */
int connect_and_register(int kind, int inherited_fd) {
  int fd = inherited_fd >= 0 ? inherited_fd : coord_connect();
  if (fd < 0) return -1;
  if (fd != DMTCP_COORD_FD) {
    if (sys_dup3(fd, DMTCP_COORD_FD, O_CLOEXEC) < 0) return -1;
    sys_close(fd);
  }
  sys_fcntl(DMTCP_COORD_FD, F_SETFD, FD_CLOEXEC);
  char buf[512];
  struct msg m;
  if (coord_hello(DMTCP_COORD_FD, kind, 0, &m, buf, sizeof buf) < 0) return -1;
  g_rt.upid = m.hdr.upid;
  g_rt.comp_id = m.hdr.comp_id;
  g_rt.generation = m.hdr.generation;
  return 0;
}

void start_ckpt_thread(void) {
  struct thread_rec *t = thread_alloc(TK_CKPT);
  sigset_t all, old;
  sigfillset(&all);
  DMTCP_NEXT(pthread_sigmask)(SIG_SETMASK, &all, &old);
  pthread_t th;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  int r = DMTCP_NEXT(pthread_create)(&th, &attr, ckpt_thread_main, t);
  pthread_attr_destroy(&attr);
  DMTCP_NEXT(pthread_sigmask)(SIG_SETMASK, &old, NULL);
  if (r != 0) {
    log_msg("cannot start the checkpoint thread: %s", strerror(r));
    atomic_store(&t->state, T_FREE);
  }
}

static void on_exit_event(int status, void *arg) {
  (void)arg;
  if (!g_rt.enabled) return;
  /* The application runs again while its image is still being finished and
   * renamed: leaving now would fail the round, or lose the image. */
  api_wait_round_end();
  DmtcpEventData_t d;
  memset(&d, 0, sizeof d);
  d.exitInfo.exitStatus = status;
  events_dispatch(DMTCP_EVENT_EXIT, &d);
}

__attribute__((constructor(101))) static void dmtcp_init(int argc, char **argv, char **envp) {
  (void)envp;
  const char *port = getenv(DMTCP_ENV_COORD_PORT);
  if (!port || !*port) return; /* loaded outside a computation: stay out of the way */
  loader_init();
  cmdline_note();
  dmtcp_debug_set(dmtcp_debug_value_on(getenv(DMTCP_ENV_DEBUG)));
  g_rt.argc = argc;
  g_rt.argv = argv;
  const char *name = argc > 0 && argv[0] && argv[0][0] ? argv[0] : "prog";
  if (strrchr(name, '/') && strrchr(name, '/')[1]) name = strrchr(name, '/') + 1;
  for (size_t i = 0; i < sizeof g_rt.prog - 1 && name[i]; i++) g_rt.prog[i] = name[i];
  g_rt.coord_port = atoi(port);
  copy_env(g_rt.coord_host, sizeof g_rt.coord_host, DMTCP_ENV_COORD_HOST);
  copy_env(g_rt.preload, sizeof g_rt.preload, DMTCP_ENV_PRELOAD);
  copy_env(g_rt.ckpt_dir, sizeof g_rt.ckpt_dir, DMTCP_ENV_CKPT_DIR);
  if (!g_rt.ckpt_dir[0] && sys_getcwd(g_rt.ckpt_dir, sizeof g_rt.ckpt_dir) <= 0) strcpy(g_rt.ckpt_dir, ".");
  if (getenv("DMTCP_INTERVAL")) g_rt.interval = atoi(getenv("DMTCP_INTERVAL"));
  if (getenv(DMTCP_ENV_SIGCKPT)) {
    int s = atoi(getenv(DMTCP_ENV_SIGCKPT));
    if (s > 0 && s < 65 && s != SIGKILL && s != SIGSTOP) g_sigckpt = s;
  }
  if (coord_set_address(g_rt.coord_host, g_rt.coord_port) < 0) {
    log_msg("%s must be a numeric IPv4 address, not '%s'", DMTCP_ENV_COORD_HOST, g_rt.coord_host);
    _exit(1);
  }

  int inherited = -1;
  const char *fdstr = getenv(DMTCP_ENV_COORD_FD);
  if (fdstr && getenv(DMTCP_ENV_UPID)) {
    inherited = atoi(fdstr);
    g_rt.upid = parse_hex(getenv(DMTCP_ENV_UPID));
    if (getenv(DMTCP_ENV_COMP_ID)) g_rt.comp_id = parse_hex(getenv(DMTCP_ENV_COMP_ID));
    if (sys_fcntl(inherited, F_GETFD, 0) < 0) inherited = -1;
  }
  /* These describe one exec only; children started by other means (posix_spawn)
   * must register as new processes. */
  unsetenv(DMTCP_ENV_COORD_FD);
  unsetenv(DMTCP_ENV_UPID);

  threads_init_main();
  threads_install_handler();
  events_init();
  int kind = inherited >= 0 ? DMTCP_HELLO_EXEC : DMTCP_HELLO_LAUNCH;
  if (connect_and_register(kind, inherited) < 0) {
    log_msg("cannot register with the coordinator at %s:%d: %s", g_rt.coord_host[0] ? g_rt.coord_host : "127.0.0.1",
            g_rt.coord_port, strerror(errno));
    _exit(1);
  }
  g_rt.enabled = 1;
  if (kind == DMTCP_HELLO_EXEC) event_simple(DMTCP_EVENT_POST_EXEC);
  event_simple(DMTCP_EVENT_INIT);
  on_exit(on_exit_event, NULL);
  start_ckpt_thread();
  LOG_DEBUG("registered as upid %lx in computation %lx", (unsigned long)g_rt.upid, (unsigned long)g_rt.comp_id);
}
