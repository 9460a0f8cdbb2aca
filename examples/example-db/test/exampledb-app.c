/* A computation of two processes: it forks once, and parent and child count
 * side by side, each printing its role and current pid. */
#include <stdio.h>
#include <unistd.h>

int main(void) {
  /* Line-buffered even into a pipe: a line still in the stdio buffer at a
   * checkpoint would be printed twice, once before the kill and once more by
   * the restarted process. */
  setvbuf(stdout, NULL, _IOLBF, 0);
  pid_t child = fork();
  if (child < 0) return 1;
  const char *role = child == 0 ? "child" : "parent";
  for (long n = 1;; n++) {
    printf("%s pid=%d n=%ld\n", role, (int)getpid(), n);
    usleep(200000);
  }
}
