/* An application that decides itself when to be checkpointed: after step 3
 * it calls dmtcp_checkpoint() and reports what came back.  The call returns
 * twice over, so to speak: DMTCP_AFTER_CHECKPOINT in the process that asked
 * (which just goes on), and DMTCP_AFTER_RESTART in a process restarted from
 * that image, which may want to act differently (reopen a log, say so).
 *
 * The application API is declared weak in plugin.h, so this program also
 * runs without dmtcp: then dmtcp_is_enabled is a null pointer.
 *
 *   applic-ckpt [STEPS [MS_PER_STEP]]    (default 10 steps, 300 ms each) */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "dmtcp/plugin.h"

#define CHECKPOINT_AFTER_STEP 3

static const char *meaning(int r) {
  switch (r) {
    case DMTCP_NOT_PRESENT: return "DMTCP_NOT_PRESENT";
    case DMTCP_AFTER_CHECKPOINT: return "DMTCP_AFTER_CHECKPOINT";
    case DMTCP_AFTER_RESTART: return "DMTCP_AFTER_RESTART";
    default: return "unknown";
  }
}

int main(int argc, char **argv) {
  /* Line-buffered even into a pipe: a line still in the stdio buffer at a
   * checkpoint would be printed twice, once before the kill and once more by
   * the restarted process. */
  setvbuf(stdout, NULL, _IOLBF, 0);
  int steps = argc > 1 ? atoi(argv[1]) : 10;
  int ms = argc > 2 ? atoi(argv[2]) : 300;
  int under_dmtcp = dmtcp_is_enabled && dmtcp_is_enabled();
  printf("dmtcp is %s\n", under_dmtcp ? "present" : "not present: running without checkpoints");
  for (int i = 1; i <= steps; i++) {
    printf("step %d\n", i);
    if (i == CHECKPOINT_AFTER_STEP) {
      if (under_dmtcp) {
        int r = dmtcp_checkpoint();
        printf("dmtcp_checkpoint() returned %d (%s)\n", r, meaning(r));
        if (r == DMTCP_AFTER_RESTART) printf("restarted from the checkpoint taken after step %d\n", i);
      } else {
        printf("no checkpoint: dmtcp is not present\n");
      }
    }
    usleep((useconds_t)ms * 1000);
  }
  printf("done\n");
  return 0;
}
