/* Counts, calling sleep(1) between two counts, until killed. */
#include <stdio.h>
#include <unistd.h>

int main(void) {
  /* Line-buffered even into a pipe: a line still in the stdio buffer at a
   * checkpoint would be printed twice, once before the kill and once more by
   * the restarted process. */
  setvbuf(stdout, NULL, _IOLBF, 0);
  for (long n = 1;; n++) {
    printf("tick %ld\n", n);
    sleep(1);
  }
}
