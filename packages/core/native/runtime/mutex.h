/* What the runtime needs to know of glibc's (x86-64, NPTL) mutexes: the
 * kind bits of __data.__kind (nptl/pthreadP.h) and the owner values that
 * are not tids. */
#ifndef DMTCP_MUTEX_H
#define DMTCP_MUTEX_H

#include <pthread.h>

#define MUTEX_KIND_TYPE 3           /* PTHREAD_MUTEX_NORMAL/RECURSIVE/ERRORCHECK/ADAPTIVE */
#define MUTEX_KIND_ROBUST 16        /* the lock word holds the owner's tid */
#define MUTEX_KIND_PI 32            /* likewise; the kernel finds the owner by it */
#define MUTEX_KIND_PP 64
#define MUTEX_KIND_ATTRS 127        /* type and protocol; pshared and elision bits left out */

#define MUTEX_OWNER_INCONSISTENT 0x7fffffff
#define MUTEX_OWNER_NOTRECOVERABLE 0x7ffffffe

/* Where __lock, __owner and __kind sit inside pthread_mutex_t. */
#define MUTEX_OFF_LOCK 0
#define MUTEX_OFF_OWNER 8
#define MUTEX_OFF_KIND 16

_Static_assert(__builtin_offsetof(pthread_mutex_t, __data.__lock) == MUTEX_OFF_LOCK, "glibc mutex layout");
_Static_assert(__builtin_offsetof(pthread_mutex_t, __data.__owner) == MUTEX_OFF_OWNER, "glibc mutex layout");
_Static_assert(__builtin_offsetof(pthread_mutex_t, __data.__kind) == MUTEX_OFF_KIND, "glibc mutex layout");

/* NORMAL and ADAPTIVE mutexes: glibc never compares their owner with the
 * caller, so a stale owner after restart does no harm. A destroyed mutex
 * (kind -1) is not plain. */
static inline int mutex_kind_is_plain(int kind) {
  int k = kind & MUTEX_KIND_ATTRS;
  return k == PTHREAD_MUTEX_NORMAL || k == PTHREAD_MUTEX_ADAPTIVE_NP;
}

/* A kind as glibc sets it up: not a destroyed mutex or unrelated memory. */
static inline int mutex_kind_is_valid(int kind) {
  return kind >= 0 && (kind & ~(MUTEX_KIND_ATTRS | 128 | 256 | 512)) == 0 &&
         ((kind & MUTEX_KIND_PI) == 0 || (kind & MUTEX_KIND_PP) == 0);
}

static inline int mutex_word_holds_tid(int kind) { return (kind & (MUTEX_KIND_ROBUST | MUTEX_KIND_PI)) != 0; }

#endif
