/* Which mutexes each thread holds, for the restart to fix their owners.
 *
 * glibc keeps the owner's tid in every mutex (__owner, and for robust and
 * priority-inheritance mutexes in the lock word too) and compares it with the
 * caller's cached tid for all kinds but NORMAL and ADAPTIVE. A restarted
 * thread has a new tid, so the mutexes it held must be told. The wrappers
 * record in the thread's own slots each such mutex it locks and drop it at
 * the final unlock; plain mutexes go straight to glibc. */
#include <errno.h>
#include <stdatomic.h>
#include <time.h>

#include "dmtcp/next.h"
#include "mutex.h"
#include "runtime.h"

/* Resolved once (dmtcp/next.h): the fast path is one load. */
#define MUTEX_CALLS(X)                                                                                    \
  X(pthread_mutex_lock) X(pthread_mutex_trylock) X(pthread_mutex_timedlock) X(pthread_mutex_clocklock) \
  X(pthread_mutex_unlock) X(pthread_mutex_destroy)
DMTCP_NEXT_TABLE(MUTEX_CALLS)

static inline int is_plain(const pthread_mutex_t *m) {
  return mutex_kind_is_plain(__atomic_load_n(&m->__data.__kind, __ATOMIC_RELAXED));
}

/* ---- the calling thread's record ---- */

#define REC_NONE ((struct thread_rec *)1)
static __thread struct thread_rec *tls_rec __attribute__((tls_model("initial-exec")));

void mutex_bind_thread(struct thread_rec *t) { tls_rec = t ? t : REC_NONE; }

/* Threads started through our pthread_create are bound from their first
 * instruction; the main and checkpoint threads are found once by their
 * pthread_t. */
static __attribute__((noinline)) struct thread_rec *find_self_rec(void) {
  if (!g_rt.enabled) return NULL; /* the table is not set up yet: look again later */
  struct thread_rec *t = NULL;
  pthread_t me = pthread_self();
  for (int i = 0; i < threads_used(); i++) {
    struct thread_rec *c = &g_threads[i];
    if (atomic_load(&c->state) == T_FREE || atomic_load(&c->exiting)) continue;
    if (pthread_equal(c->pthread, me)) {
      t = c;
      break;
    }
  }
  mutex_bind_thread(t);
  return t;
}

static inline struct thread_rec *self_rec(void) {
  struct thread_rec *t = tls_rec;
  if (__builtin_expect(t != NULL, 1)) return t == REC_NONE ? NULL : t;
  return find_self_rec();
}

/* ---- the slots ----
 * Written only by their thread; read by the checkpoint thread while this one
 * is stopped in the checkpoint signal handler, which may interrupt any of
 * these steps: hence single aligned stores in a fixed order. */

static void held_store(void **slot, void *v) {
  atomic_signal_fence(memory_order_seq_cst);
  __atomic_store_n(slot, v, __ATOMIC_RELAXED);
  atomic_signal_fence(memory_order_seq_cst);
}

static void held_add(struct mutex_held *h, void *m) {
  uint32_t n = h->used;
  for (uint32_t i = 0; i < n; i++)
    if (h->slot[i] == m) return; /* a recursive lock taken again, or EOWNERDEAD twice */
  if (n == MUTEX_HELD_SLOTS) {
    h->overflow++;
    return;
  }
  held_store(&h->slot[n], m);
  h->used = n + 1;
}

/* The last entry fills the hole: interrupted half-way, it is listed twice
 * for a moment, which a restart does not mind. */
static void held_remove(struct mutex_held *h, void *m) {
  uint32_t n = h->used;
  if (n && h->slot[n - 1] == m) { /* the usual case: the last one locked */
    held_store(&h->slot[n - 1], NULL);
    h->used = n - 1;
    return;
  }
  for (uint32_t i = 0; i < n; i++) {
    if (h->slot[i] != m) continue;
    held_store(&h->slot[i], h->slot[n - 1]);
    held_store(&h->slot[n - 1], NULL);
    h->used = n - 1;
    return;
  }
}

/* A restart between a successful lock and its recording still finds the
 * mutex through `pending`; the owner check at restart sorts out whether the
 * lock was taken. */
static struct thread_rec *before_lock(pthread_mutex_t *m) {
  struct thread_rec *t = self_rec();
  if (t) held_store(&t->held.pending, m);
  return t;
}

static int after_lock(struct thread_rec *t, pthread_mutex_t *m, int r) {
  if (!t) return r;
  if (r == 0 || r == EOWNERDEAD) held_add(&t->held, m);
  held_store(&t->held.pending, NULL);
  return r;
}

/* ---- the wrappers ---- */

EXPORT int pthread_mutex_lock(pthread_mutex_t *m) {
  if (is_plain(m)) return DMTCP_NEXT(pthread_mutex_lock)(m);
  struct thread_rec *t = before_lock(m);
  return after_lock(t, m, DMTCP_NEXT(pthread_mutex_lock)(m));
}

EXPORT int pthread_mutex_trylock(pthread_mutex_t *m) {
  if (is_plain(m)) return DMTCP_NEXT(pthread_mutex_trylock)(m);
  struct thread_rec *t = before_lock(m);
  return after_lock(t, m, DMTCP_NEXT(pthread_mutex_trylock)(m));
}

EXPORT int pthread_mutex_timedlock(pthread_mutex_t *m, const struct timespec *abstime) {
  if (is_plain(m)) return DMTCP_NEXT(pthread_mutex_timedlock)(m, abstime);
  struct thread_rec *t = before_lock(m);
  return after_lock(t, m, DMTCP_NEXT(pthread_mutex_timedlock)(m, abstime));
}

EXPORT int pthread_mutex_clocklock(pthread_mutex_t *m, clockid_t clock, const struct timespec *abstime) {
  if (is_plain(m)) return DMTCP_NEXT(pthread_mutex_clocklock)(m, clock, abstime);
  struct thread_rec *t = before_lock(m);
  return after_lock(t, m, DMTCP_NEXT(pthread_mutex_clocklock)(m, clock, abstime));
}

EXPORT int pthread_mutex_unlock(pthread_mutex_t *m) {
  if (is_plain(m)) return DMTCP_NEXT(pthread_mutex_unlock)(m);
  /* Decided before unlocking: afterwards another thread may own, destroy
   * or free the mutex. Only the owner gets 0 back, so __count is its own. */
  int recursive = (m->__data.__kind & MUTEX_KIND_TYPE) == PTHREAD_MUTEX_RECURSIVE;
  int last = !recursive || m->__data.__count <= 1;
  int r = DMTCP_NEXT(pthread_mutex_unlock)(m);
  if (r == 0 && last) {
    struct thread_rec *t = self_rec();
    /* Dropped after the unlock: a restart in between finds the entry with
     * an owner that is not this thread, which the owner check handles. */
    if (t) held_remove(&t->held, m);
  }
  return r;
}

EXPORT int pthread_mutex_destroy(pthread_mutex_t *m) {
  if (is_plain(m)) return DMTCP_NEXT(pthread_mutex_destroy)(m);
  int r = DMTCP_NEXT(pthread_mutex_destroy)(m);
  if (r == 0) {
    struct thread_rec *t = self_rec();
    if (t) held_remove(&t->held, m);
  }
  return r;
}

/* ---- at checkpoint ---- */

void mutex_note_checkpoint(void) {
  static int told;
  if (told) return;
  uint64_t missed = 0;
  int threads = 0;
  for (int i = 0; i < threads_used(); i++) {
    if (atomic_load(&g_threads[i].state) == T_FREE || !g_threads[i].held.overflow) continue;
    missed += g_threads[i].held.overflow;
    threads++;
  }
  if (!missed) return;
  told = 1;
  log_msg("%lu mutex locks in %d threads went unrecorded (more than %d mutexes held at once): "
          "their owners may be stale after a restart",
          (unsigned long)missed, threads, MUTEX_HELD_SLOTS);
}
