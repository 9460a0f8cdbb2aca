/* The next definition of the functions a library wraps, in one table
 * resolved eagerly: the safe way for a plugin (and the runtime) to call
 * what it wraps.
 *
 *   #include "dmtcp/next.h"
 *   #define MY_WRAPPED(X) X(open) X(close) X(sigaction)
 *   DMTCP_NEXT_TABLE(MY_WRAPPED)
 *
 *   int close(int fd) { ...; return DMTCP_NEXT(close)(fd); }
 *
 * Why a table: a lookup (dlsym) takes the dynamic loader's lock.  A thread
 * stopped by a checkpoint inside dlopen holds that lock until it runs again,
 * so a lookup made from a wrapper that the checkpoint thread, a signal
 * handler or the restart reaches can wait forever; dlsym is not
 * async-signal-safe either.  The table is filled once, when the library is
 * loaded (a constructor).  A wrapper called before that (another library's
 * constructor calling in) looks up only the function it calls: a lookup that
 * fails (a function this libc lacks) makes the loader format an error with
 * malloc, and a malloc still setting itself up (jemalloc calls syscall()
 * from its own initialisation, under its lock) would wait on itself.  Both
 * happen at start-up, in a thread that may take the loader's lock.  After
 * that a call costs one load.
 *
 * Each translation unit that uses DMTCP_NEXT_TABLE gets its own table
 * (static); list in each file the functions that file wraps.  A function
 * with no next definition (a symbol this libc lacks) calls a stand-in that
 * sets errno to ENOSYS and returns -1; ask DMTCP_NEXT_FOUND(f) first where
 * -1 is not how the function reports failure (functions returning pointers).
 * Works in C and C++ (GCC and Clang builtins, no <stdatomic.h>). */
#ifndef DMTCP_NEXT_H
#define DMTCP_NEXT_H

#ifndef _GNU_SOURCE
#error "dmtcp/next.h needs _GNU_SOURCE (RTLD_NEXT): define it before any #include"
#endif

#include <dlfcn.h>
#include <errno.h>

/* The stand-in for a function this process has no definition of. */
static inline long dmtcp_next_enosys_(void) {
  errno = ENOSYS;
  return -1;
}

#define DMTCP_NEXT_FIELD_(f) __typeof__(&f) f;
#define DMTCP_NEXT_LOOKUP_(f)                                                   \
  {                                                                             \
    void *dmtcp_next_p_ = dlsym(RTLD_NEXT, #f);                                 \
    dmtcp_next_fns_.f = dmtcp_next_p_ ? (__typeof__(&f))dmtcp_next_p_           \
                                      : (__typeof__(&f))(void *)&dmtcp_next_enosys_; \
  }

/* Priority 101: before the library's own constructors that may call in. */
#define DMTCP_NEXT_TABLE(LIST)                                                          \
  static struct {                                                                       \
    LIST(DMTCP_NEXT_FIELD_)                                                             \
  } dmtcp_next_fns_;                                                                    \
  static int dmtcp_next_ready_;                                                         \
  __attribute__((constructor(101), unused)) static void dmtcp_next_resolve_(void) {     \
    if (__atomic_load_n(&dmtcp_next_ready_, __ATOMIC_ACQUIRE)) return;                  \
    LIST(DMTCP_NEXT_LOOKUP_)                                                            \
    __atomic_store_n(&dmtcp_next_ready_, 1, __ATOMIC_RELEASE);                          \
  }

/* One entry, before the constructor has filled the table. */
static inline void *dmtcp_next_one_(void **slot, const char *name) {
  void *p = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
  if (!p) {
    p = dlsym(RTLD_NEXT, name);
    if (!p) p = (void *)&dmtcp_next_enosys_;
    __atomic_store_n(slot, p, __ATOMIC_RELEASE);
  }
  return p;
}

#define DMTCP_NEXT(f)                                                                   \
  (__builtin_expect(__atomic_load_n(&dmtcp_next_ready_, __ATOMIC_ACQUIRE), 1)           \
       ? dmtcp_next_fns_.f                                                              \
       : (__typeof__(&f))dmtcp_next_one_((void **)&dmtcp_next_fns_.f, #f))

/* Whether f has a real next definition (not the ENOSYS stand-in). */
#define DMTCP_NEXT_FOUND(f) ((void *)DMTCP_NEXT(f) != (void *)&dmtcp_next_enosys_)

#endif
