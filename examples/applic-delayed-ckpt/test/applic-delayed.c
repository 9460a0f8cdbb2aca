/* An application with a critical section that a checkpoint must not split:
 * each record is written in two halves, one second apart (think of a slow
 * device, or a two-phase update of a data structure).  An image taken between
 * the halves would hold a torn record, and a restart from it would go on
 * with that.  dmtcp_disable_ckpt()/dmtcp_enable_ckpt() around the section
 * make a checkpoint requested meanwhile wait until the section is over.
 *
 * Before each section the program checks the record left by the previous
 * one; the markers carry wall-clock milliseconds so that a test can compare
 * them with when it asked for the checkpoint.
 *
 *   applic-delayed [RECORDS [SECTION_MS [IDLE_MS]]]   (0 records: forever) */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "dmtcp/plugin.h"

struct record {
  int first_half;  /* the record's number, written when the section begins */
  int second_half; /* the same number, written when the section ends */
};

static struct record rec;

static long long wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The checkpoint signal interrupts sleeps outside the section; finish them. */
static void sleep_ms(int ms) {
  struct timespec left = {ms / 1000, (long)(ms % 1000) * 1000000L};
  while (nanosleep(&left, &left) < 0 && errno == EINTR) {
  }
}

int main(int argc, char **argv) {
  /* Line-buffered even into a pipe: a line still in the stdio buffer at a
   * checkpoint would be printed twice, once before the kill and once more by
   * the restarted process. */
  setvbuf(stdout, NULL, _IOLBF, 0);
  int records = argc > 1 ? atoi(argv[1]) : 0;
  int section_ms = argc > 2 ? atoi(argv[2]) : 1000;
  int idle_ms = argc > 3 ? atoi(argv[3]) : 300;
  /* Weak symbols: null when the program runs without dmtcp. */
  int under_dmtcp = dmtcp_is_enabled && dmtcp_is_enabled();
  printf("dmtcp is %s\n", under_dmtcp ? "present" : "not present");

  for (int k = 1; records == 0 || k <= records; k++) {
    if (rec.first_half == rec.second_half)
      printf("record %d whole\n", rec.second_half);
    else
      printf("record TORN: first half %d, second half %d\n", rec.first_half, rec.second_half);

    if (under_dmtcp) dmtcp_disable_ckpt();
    printf("section begin %d at %lld\n", k, wall_ms());
    rec.first_half = k;
    sleep_ms(section_ms);
    rec.second_half = k;
    printf("section end %d at %lld\n", k, wall_ms());
    if (under_dmtcp) dmtcp_enable_ckpt();

    sleep_ms(idle_ms);
  }
  printf("record %d whole, done\n", rec.second_half);
  return 0;
}
