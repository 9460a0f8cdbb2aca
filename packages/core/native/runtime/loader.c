/* The dynamic loader's locks across a checkpoint.
 *
 * glibc's loader serializes dlopen, dlclose, dlsym, dladdr and
 * dl_iterate_phdr with recursive mutexes inside `_rtld_global`, and a
 * recursive mutex remembers its owner by tid.  Two things follow:
 *  - a thread suspended inside dlopen holds the loader until it runs again,
 *    so nothing on the checkpoint or restart path may enter the loader
 *    (the runtime resolves the libc functions it calls at start-up), and a
 *    checkpoint prefers to wait until no suspended thread is in there;
 *  - after restart the threads have new tids: the holder could no longer
 *    release the lock (unlock by a non-owner fails) and the next dlopen
 *    would wait forever.  The held locks are handed to the mutex owner
 *    fix-up (mutex_restart.c), which gives them the holder's new tid.
 *
 * The mutexes are found by shape rather than by offset, which changes
 * between glibc versions: a held recursive mutex whose owner is one of our
 * threads.  Without `_rtld_global` (another libc) both steps do nothing. */
#include <dlfcn.h>
#include <link.h>
#include <time.h>

#include "runtime.h"

/* The leading fields of glibc's struct __pthread_mutex_s (x86-64). */
struct mutex_head {
  int lock;
  unsigned int count;
  int owner;
  unsigned int nusers;
  int kind;
};

#define MUTEX_RECURSIVE 1 /* PTHREAD_MUTEX_RECURSIVE_NP */
#define RTLD_SCAN_MAX (64 * 1024)

static char *rtld_start;
static size_t rtld_len;

void loader_init(void) {
  void *g = dlsym(RTLD_DEFAULT, "_rtld_global");
  Dl_info info;
  const ElfW(Sym) *sym = NULL;
  if (!g || !dladdr1(g, &info, (void **)&sym, RTLD_DL_SYMENT) || !sym || sym->st_size == 0) return;
  rtld_start = g;
  rtld_len = sym->st_size < RTLD_SCAN_MAX ? sym->st_size : RTLD_SCAN_MAX;
}

static int held_recursive(const struct mutex_head *m) {
  return (m->lock == 1 || m->lock == 2) && m->count >= 1 && m->count < 4096 && m->owner > 0 &&
         (m->kind & 0x7f) == MUTEX_RECURSIVE && m->kind < 0x1000;
}

/* Calls fn on each held recursive mutex of the loader; stops at a non-zero
 * return and returns it. */
int loader_each_held_lock(int (*fn)(void *mutex)) {
  if (!rtld_start) return 0;
  for (size_t off = 0; off + sizeof(struct mutex_head) <= rtld_len; off += 8) {
    struct mutex_head *m = (struct mutex_head *)(rtld_start + off);
    if (!held_recursive(m)) continue;
    int r = fn(m);
    if (r) return r;
  }
  return 0;
}

static int owned_by_suspended(void *mutex) {
  const struct mutex_head *m = mutex;
  for (int i = 0; i < threads_used(); i++)
    if (atomic_load(&g_threads[i].state) == T_SUSPENDED && g_threads[i].tid == m->owner) return 1;
  return 0;
}

static void sleep_ms(long ms) {
  struct timespec ts = {0, ms * 1000000L};
  sys_call2(__NR_nanosleep, (long)&ts, 0);
}

/* Resumed threads leave their handler on their own time: suspending again
 * before they have would miss them. */
static void wait_threads_running(void) {
  for (int tries = 0; tries < 1000; tries++) {
    int waiting = 0;
    for (int i = 0; i < threads_used(); i++)
      if (atomic_load(&g_threads[i].state) == T_SUSPENDED) waiting++;
    if (!waiting) return;
    sleep_ms(1);
  }
}

/* Suspends every user thread, outside the loader if that happens within
 * about a second; otherwise the checkpoint goes on (restart copes). */
void threads_suspend_outside_loader(void) {
  threads_suspend_all();
  for (int tries = 0; tries < 100 && loader_each_held_lock(owned_by_suspended); tries++) {
    threads_resume_all();
    wait_threads_running();
    sleep_ms(tries < 10 ? 1 : 10);
    threads_suspend_all();
  }
  if (loader_each_held_lock(owned_by_suspended)) LOG_DEBUG("checkpoint with a thread inside the dynamic loader");
}
