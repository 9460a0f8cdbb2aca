/* The pure half of keeping zombies across a restart (pid_zombie.c): wait
 * statuses to and from the siginfo_t of waitid, and the pid lists of
 * /proc/<pid>/task/<tid>/children.  Standalone (no plugin headers), so that
 * test/fixtures/zombie-logic.c can check it against the kernel. */
#ifndef PID_ZOMBIE_H
#define PID_ZOMBIE_H

#include <signal.h>
#include <stddef.h>
#include <sys/types.h>

/* The bit wait(2) statuses set when a core was dumped (WCOREDUMP). */
#define PID_ZOMBIE_CORE 0x80

/* The wait(2) status of a child that waitid reported with si_code `code`
 * and si_status `value`; 0 for codes that are not an end (stopped,
 * continued, none). */
static inline int pid_zombie_status_of(int code, int value) {
  switch (code) {
    case CLD_EXITED:
      return (value & 0xff) << 8;
    case CLD_KILLED:
      return value & 0x7f;
    case CLD_DUMPED:
      return (value & 0x7f) | PID_ZOMBIE_CORE;
    default:
      return 0;
  }
}

/* The way back, for waitid (si_code, si_status): 0 when `status` is no end. */
static inline int pid_zombie_siginfo_of(int status, int *code, int *value) {
  int sig = status & 0x7f;
  if (sig == 0) {
    *code = CLD_EXITED;
    *value = (status >> 8) & 0xff;
    return 1;
  }
  if (sig == 0x7f) return 0; /* stopped */
  *code = status & PID_ZOMBIE_CORE ? CLD_DUMPED : CLD_KILLED;
  *value = sig;
  return 1;
}

/* A recreated child cannot dump core (that would write a core file at
 * restart), so it dies as recorded but for the core bit. */
static inline int pid_zombie_same_death(int recorded, int observed) {
  if ((observed & 0x7f) == 0x7f || (observed & 0xffff0000)) return 0;
  if ((observed & 0x7f) == 0 && (observed & PID_ZOMBIE_CORE)) return 0;
  return (recorded & ~PID_ZOMBIE_CORE) == (observed & ~PID_ZOMBIE_CORE);
}

/* "12 345 6789 " read in pieces of any size: feed each piece, then end.
 * emit gets each pid once complete. */
struct pid_list_parser {
  long cur;
  int in_num;
};

static inline void pid_list_feed(struct pid_list_parser *p, const char *buf, size_t n,
                                 void (*emit)(pid_t, void *), void *arg) {
  for (size_t i = 0; i < n; i++) {
    char c = buf[i];
    if (c >= '0' && c <= '9') {
      /* Above any pid_max: the number is garbage, and stays ignored. */
      if (p->cur <= 1L << 30) p->cur = p->cur * 10 + (c - '0');
      p->in_num = 1;
    } else {
      if (p->in_num && p->cur > 0 && p->cur <= 1L << 30) emit((pid_t)p->cur, arg);
      p->cur = 0;
      p->in_num = 0;
    }
  }
}

static inline void pid_list_end(struct pid_list_parser *p, void (*emit)(pid_t, void *), void *arg) {
  pid_list_feed(p, " ", 1, emit, arg);
}

#endif
