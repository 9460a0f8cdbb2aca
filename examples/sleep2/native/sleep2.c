/* A second wrapper around sleep(), to be loaded in front of sleep1:
 *   dmtcp launch --with-plugin libsleep2.so:libsleep1.so ./sleeper
 * The program's call reaches this definition first; NEXT_FNC(sleep) here is
 * sleep1's wrapper, whose own NEXT_FNC(sleep) is libc's sleep.  So the lines
 * nest: sleep2 before, sleep1 before, sleep1 after, sleep2 after.
 *
 * As in sleep1, each line is written with one write(2): no interleaving with
 * the other wrapper's lines or the program's, nothing left in a buffer. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <sys/time.h>
#include <unistd.h>

#include "dmtcp/plugin.h"

static void say(const char *fmt, ...) {
  char line[256];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(line, sizeof line - 1, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if ((size_t)n > sizeof line - 2) n = sizeof line - 2;
  line[n++] = '\n';
  ssize_t w = write(STDOUT_FILENO, line, (size_t)n);
  (void)w;
}

unsigned int sleep(unsigned int seconds) {
  struct timeval t0, t1;
  gettimeofday(&t0, NULL);
  say("sleep2: before sleep(%u) at %ld.%03ld", seconds, (long)t0.tv_sec, (long)t0.tv_usec / 1000);
  unsigned int left = NEXT_FNC(sleep)(seconds);
  gettimeofday(&t1, NULL);
  double elapsed = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_usec - t0.tv_usec) / 1e6;
  say("sleep2: after sleep(%u) = %u, %.3f s elapsed", seconds, left, elapsed);
  return left;
}
