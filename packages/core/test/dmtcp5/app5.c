/* Two processes (the program forks once) that call sleep(1) in a loop and
 * print their count, so that the wrapper and the counting can be watched. */
#include <stdio.h>
#include <sys/types.h>
#include <unistd.h>

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  pid_t child = fork();
  const char *who = child == 0 ? "child" : "parent";
  for (int n = 1;; n++) {
    printf("%s pid=%d n=%d\n", who, (int)getpid(), n);
    sleep(1);
  }
}
