/* Children started without fork: posix_spawn, and system and popen, which
 * glibc builds on an internal posix_spawn (clone with CLONE_VM|CLONE_VFORK)
 * that no wrapper of fork or exec sees.
 *
 * Such a child runs no code of ours before its exec, so it cannot be
 * handed its identity the way a fork child is.  Instead the parent puts its
 * table into the child's environment (pid_handover.c), and the program the
 * child execs, being under our control too, takes its real pid as virtual
 * pid and the parent's table as its own.  When that real pid is already the
 * virtual pid of a restarted process, both sides fall back to the spare
 * number the parent drew beforehand; the parent learns the real pid from
 * posix_spawn and files the child under the virtual pid the child chose.
 *
 * system and popen are implemented here on top of that posix_spawn, as
 * glibc does (POSIX semantics: "sh -c", SIGINT/SIGQUIT ignored and SIGCHLD
 * blocked during system, popen streams of earlier calls closed in the
 * child), so that their children also get consistent virtual pids. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dmtcp/plugin.h"
#include "pid_internal.h"

#define LOG_PREFIX "pid: "
#define SHELL_PATH "/bin/sh"

#define PID_SPAWN_NEXT(X) \
  X(posix_spawn) X(posix_spawnp) X(system) X(popen) X(pclose) X(fclose) X(sigaction)
DMTCP_NEXT_TABLE(PID_SPAWN_NEXT)

/* ---- posix_spawn ---- */

typedef int (*spawn_fn)(pid_t *, const char *, const posix_spawn_file_actions_t *, const posix_spawnattr_t *,
                        char *const[], char *const[]);

/* Whether some entry's virtual id differs from its real one: before any
 * restart none does, and no new child can be ambiguous. */
static int any_moved(void) {
  int n = pid_table_used();
  for (int i = 0; i < n; i++) {
    pid_t vid = atomic_load(&g_pid_table[i].vid);
    if (vid && vid != atomic_load(&g_pid_table[i].real)) return 1;
  }
  return 0;
}

static int spawn(spawn_fn real, pid_t *pid, const char *file, const posix_spawn_file_actions_t *fa,
                 const posix_spawnattr_t *attr, char *const argv[], char *const envp[]) {
  if (!atomic_load(&g_pid_active)) return real(pid, file, fa, attr, argv, envp);
  /* No checkpoint between reading the table and filing the child: the
   * state handed over is never from before a restart. */
  pid_ckpt_off();
  pid_t alt = any_moved() ? pid_table_free_vid() : 0;
  char *state = pid_handover_spawn(g_pid_vpid, alt);
  char **env = state ? pid_handover_env(envp, state) : NULL;
  pid_t child = 0;
  int rc = real(&child, file, fa, attr, argv, env ? env : envp);
  if (rc == 0 && child > 0) {
    pid_t vpid = env ? pid_handover_spawn_vpid(state, child) : child;
    if (vpid != child) PID_LOG(LOG_PREFIX "spawned child %d: a virtual pid in use; virtual pid %d", (int)child, (int)vpid);
    pid_table_put(vpid, child, vpid, NULL);
    if (pid) *pid = vpid;
  }
  free(env);
  free(state);
  pid_ckpt_on();
  return rc;
}

PID_EXPORT int posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
                           const posix_spawnattr_t *attr, char *const argv[], char *const envp[]) {
  return spawn(DMTCP_NEXT(posix_spawn), pid, path, fa, attr, argv, envp);
}

PID_EXPORT int posix_spawnp(pid_t *pid, const char *file, const posix_spawn_file_actions_t *fa,
                            const posix_spawnattr_t *attr, char *const argv[], char *const envp[]) {
  return spawn(DMTCP_NEXT(posix_spawnp), pid, file, fa, attr, argv, envp);
}

/* ---- system ---- */

/* SIGINT and SIGQUIT are ignored while any thread is in system(); the last
 * one out puts them back. */
static pthread_mutex_t system_lock = PTHREAD_MUTEX_INITIALIZER;
static int system_users;
static struct sigaction saved_intr, saved_quit;

static void system_signals_leave(void) {
  pthread_mutex_lock(&system_lock);
  if (--system_users == 0) {
    DMTCP_NEXT(sigaction)(SIGINT, &saved_intr, NULL);
    DMTCP_NEXT(sigaction)(SIGQUIT, &saved_quit, NULL);
  }
  pthread_mutex_unlock(&system_lock);
}

/* A thread cancelled while waiting takes its shell with it. */
static void system_cancelled(void *arg) {
  pid_t pid = *(pid_t *)arg;
  kill(pid, SIGKILL);
  int st;
  while (pid_wait4(pid, &st, 0, NULL) < 0 && errno == EINTR) {
  }
  system_signals_leave();
}

static int run_shell(const char *cmd) {
  struct sigaction ign;
  memset(&ign, 0, sizeof ign);
  ign.sa_handler = SIG_IGN;
  sigemptyset(&ign.sa_mask);
  pthread_mutex_lock(&system_lock);
  if (system_users++ == 0) {
    DMTCP_NEXT(sigaction)(SIGINT, &ign, &saved_intr);
    DMTCP_NEXT(sigaction)(SIGQUIT, &ign, &saved_quit);
  }
  pthread_mutex_unlock(&system_lock);

  sigset_t chld, omask;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  sigprocmask(SIG_BLOCK, &chld, &omask);

  /* The shell gets the program's own dispositions and mask back. */
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t defaults;
  sigemptyset(&defaults);
  if (saved_intr.sa_handler != SIG_IGN) sigaddset(&defaults, SIGINT);
  if (saved_quit.sa_handler != SIG_IGN) sigaddset(&defaults, SIGQUIT);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setsigmask(&attr, &omask);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
  char *argv[] = {(char *)"sh", (char *)"-c", (char *)"--", (char *)cmd, NULL};
  pid_t pid = 0;
  int status = 127 << 8;
  int rc = spawn(DMTCP_NEXT(posix_spawn), &pid, SHELL_PATH, NULL, &attr, argv, environ);
  posix_spawnattr_destroy(&attr);
  if (rc == 0) {
    pthread_cleanup_push(system_cancelled, &pid);
    while (pid_wait4(pid, &status, 0, NULL) != pid) {
      if (errno != EINTR) {
        status = -1;
        break;
      }
    }
    pthread_cleanup_pop(0);
  }
  int saved = errno;
  system_signals_leave();
  sigprocmask(SIG_SETMASK, &omask, NULL);
  errno = rc ? rc : saved;
  return status;
}

PID_EXPORT int system(const char *cmd) {
  if (!atomic_load(&g_pid_active)) return DMTCP_NEXT(system)(cmd);
  /* Whether a shell is there: the answer is whether one runs. */
  if (!cmd) return run_shell("exit 0") == 0;
  return run_shell(cmd);
}

/* ---- popen ---- */

struct popen_child {
  struct popen_child *next;
  FILE *fp;
  int fd;
  pid_t vpid;
};

static pthread_mutex_t popen_lock = PTHREAD_MUTEX_INITIALIZER;
static struct popen_child *popen_list;
static _Atomic int popen_count;

PID_EXPORT FILE *popen(const char *cmd, const char *mode) {
  if (!atomic_load(&g_pid_active)) return DMTCP_NEXT(popen)(cmd, mode);
  int rd = 0, wr = 0, cloexec = 0;
  /* As glibc: the first other character makes the mode invalid, and
   * nothing after it is read. */
  int bad = 0;
  for (const char *m = mode; *m && !bad; m++) {
    if (*m == 'r') rd = 1;
    else if (*m == 'w') wr = 1;
    else if (*m == 'e') cloexec = 1;
    else bad = 1;
  }
  if (bad || rd == wr) {
    errno = EINVAL;
    return NULL;
  }
  struct popen_child *c = malloc(sizeof *c);
  if (!c) return NULL;
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) < 0) {
    free(c);
    return NULL;
  }
  int parent_end = rd ? fds[0] : fds[1], child_end = rd ? fds[1] : fds[0], child_std = rd ? 1 : 0;
  /* Already on the number the child needs: moved, or no file action could
   * clear its close-on-exec flag without a race in this process. */
  if (child_end == child_std) {
    int moved = fcntl(child_end, F_DUPFD_CLOEXEC, 3);
    close(child_end);
    if (moved < 0) {
      int err = errno;
      close(parent_end);
      free(c);
      errno = err;
      return NULL;
    }
    child_end = moved;
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, child_end, child_std);
  pthread_mutex_lock(&popen_lock);
  /* POSIX: streams of earlier popen calls are not inherited. */
  for (struct popen_child *p = popen_list; p; p = p->next)
    if (p->fd != child_std) posix_spawn_file_actions_addclose(&fa, p->fd);
  char *argv[] = {(char *)"sh", (char *)"-c", (char *)"--", (char *)cmd, NULL};
  pid_t vpid = 0;
  int rc = spawn(DMTCP_NEXT(posix_spawn), &vpid, SHELL_PATH, &fa, NULL, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  close(child_end);
  FILE *fp = NULL;
  int err = rc;
  if (rc == 0) {
    if (!cloexec) fcntl(parent_end, F_SETFD, 0);
    fp = fdopen(parent_end, rd ? "r" : "w");
    if (!fp) err = errno;
  }
  if (fp) {
    c->fp = fp;
    c->fd = parent_end;
    c->vpid = vpid;
    c->next = popen_list;
    popen_list = c;
    atomic_fetch_add(&popen_count, 1);
  }
  pthread_mutex_unlock(&popen_lock);
  if (fp) return fp;
  close(parent_end);
  if (rc == 0) {
    int st;
    while (pid_wait4(vpid, &st, 0, NULL) < 0 && errno == EINTR) {
    }
  }
  free(c);
  errno = err;
  return NULL;
}

static struct popen_child *take(FILE *fp) {
  if (atomic_load(&popen_count) == 0) return NULL;
  struct popen_child *found = NULL;
  pthread_mutex_lock(&popen_lock);
  for (struct popen_child **pp = &popen_list; *pp; pp = &(*pp)->next) {
    if ((*pp)->fp == fp) {
      found = *pp;
      *pp = found->next;
      atomic_fetch_sub(&popen_count, 1);
      break;
    }
  }
  pthread_mutex_unlock(&popen_lock);
  return found;
}

static int close_child(struct popen_child *c) {
  pid_t vpid = c->vpid;
  FILE *fp = c->fp;
  free(c);
  DMTCP_NEXT(fclose)(fp);
  int st = 0;
  pid_t r;
  do r = pid_wait4(vpid, &st, 0, NULL);
  while (r < 0 && errno == EINTR);
  return r < 0 ? -1 : st;
}

PID_EXPORT int pclose(FILE *fp) {
  struct popen_child *c = take(fp);
  return c ? close_child(c) : DMTCP_NEXT(pclose)(fp);
}

/* glibc's fclose of a popen stream waits for the child as pclose does. */
PID_EXPORT int fclose(FILE *fp) {
  struct popen_child *c = take(fp);
  return c ? close_child(c) : DMTCP_NEXT(fclose)(fp);
}

void pid_spawn_atfork_child(void) {
  pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
  system_lock = fresh;
  popen_lock = fresh;
}
