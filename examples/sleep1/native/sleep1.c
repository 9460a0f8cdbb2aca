/* A wrapper around sleep(): the program's calls reach this definition first
 * (the plugin is preloaded), which reports, calls the next definition of
 * sleep (a later plugin's wrapper, or libc's), and reports again.
 *
 * A wrapper runs in the application's thread, with the program's locks as the
 * program holds them, so it may use stdio-style formatting; each line still
 * goes out in one write(2) so that it never mixes with other output and
 * nothing waits in a buffer when the process is checkpointed or killed. */
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

static double seconds_since(const struct timeval *t0) {
  struct timeval t1;
  gettimeofday(&t1, NULL);
  return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_usec - t0->tv_usec) / 1e6;
}

unsigned int sleep(unsigned int seconds) {
  struct timeval t0;
  gettimeofday(&t0, NULL);
  say("sleep1: before sleep(%u) at %ld.%03ld", seconds, (long)t0.tv_sec, (long)t0.tv_usec / 1000);
  unsigned int left = NEXT_FNC(sleep)(seconds);
  say("sleep1: after sleep(%u) = %u, %.3f s elapsed", seconds, left, seconds_since(&t0));
  return left;
}
