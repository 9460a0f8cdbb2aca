/* The program the example plugin is shown on.  It walks through the events
 * of a process's life once: a thread that leaves with pthread_exit, a child
 * that execs this program again and exits, then a worker thread that counts
 * beside the main thread until CTL_DIR/stop appears.  Every line carries the
 * thread id, so the plugin's lines can be matched to the threads.
 *
 *   example-app CTL_DIR        the computation (exits with status 7)
 *   example-app --exec-child   what the forked child execs
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char stop_file[4096];
static atomic_int stopping;

static int stop_requested(void) { return access(stop_file, F_OK) == 0; }

static void *short_lived(void *arg) {
  (void)arg;
  printf("short tid=%d\n", (int)gettid());
  pthread_exit(NULL);
}

static void *worker(void *arg) {
  (void)arg;
  for (int n = 1; !atomic_load(&stopping); n++) {
    printf("worker tid=%d n=%d\n", (int)gettid(), n);
    usleep(100000);
  }
  printf("worker tid=%d returns\n", (int)gettid());
  return NULL;
}

int main(int argc, char **argv) {
  /* Line-buffered even into a pipe: a line still in the stdio buffer at a
   * checkpoint would be printed twice, once before the kill and once more by
   * the restarted process. */
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc > 1 && strcmp(argv[1], "--exec-child") == 0) {
    printf("exec-child tid=%d\n", (int)gettid());
    return 0;
  }
  if (argc < 2) {
    fprintf(stderr, "usage: %s CTL_DIR\n", argv[0]);
    return 2;
  }
  snprintf(stop_file, sizeof stop_file, "%s/stop", argv[1]);
  printf("main tid=%d\n", (int)gettid());

  pthread_t th;
  if (pthread_create(&th, NULL, short_lived, NULL) != 0) return 1;
  pthread_join(th, NULL);

  pid_t child = fork();
  if (child < 0) return 1;
  if (child == 0) {
    execl(argv[0], argv[0], "--exec-child", (char *)NULL);
    _exit(127);
  }
  int status = 0;
  waitpid(child, &status, 0);
  printf("child %d exited status=%d\n", (int)child, WIFEXITED(status) ? WEXITSTATUS(status) : -1);

  if (pthread_create(&th, NULL, worker, NULL) != 0) return 1;
  for (int n = 1; !stop_requested(); n++) {
    printf("main tid=%d n=%d\n", (int)gettid(), n);
    usleep(100000);
  }
  atomic_store(&stopping, 1);
  pthread_join(th, NULL);
  printf("main tid=%d done\n", (int)gettid());
  return 7;
}
