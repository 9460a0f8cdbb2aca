/* At restart, before any user thread runs again: every mutex a restored
 * thread owns gets the thread's new tid as owner. The mutexes are found on
 * each thread's robust list (as the kernel walks it at thread exit), in
 * its held slots (mutex.c) and among the dynamic loader's locks (loader.c). An owner is only rewritten when it is the old
 * tid of a restored thread, so an entry for a mutex released or freed
 * meanwhile changes nothing. Mutex memory is read and written with
 * process_vm_readv/writev on this very process: an address that is no longer
 * mapped (or no longer writable) fails the call instead of faulting.
 *
 * Every decision is taken on the memory as the checkpoint left it, and the
 * writes come after: a thread's new tid may be another thread's old one. */
#include <errno.h>
#include <linux/futex.h>
#include <sys/uio.h>

#include "mutex.h"
#include "runtime.h"

/* The kernel's limit on robust list entries: a longer (or looping) list is corrupt. */
#define ROBUST_LIST_LIMIT 2048
#define MAX_FIXES 4096

struct tid_move {
  pid_t from, to;
};

struct fix {
  uint64_t addr;
  int32_t value;
};

static struct tid_move moves[MAX_THREADS];
static int nmoves;
static struct fix fixes[MAX_FIXES];
static int nfixes, fixes_dropped;

static int mem_rw(int nr, uint64_t addr, void *buf, size_t len) {
  struct iovec local = {buf, len};
  struct iovec remote = {(void *)(uintptr_t)addr, len};
  long r = sys_call6(nr, sys_getpid(), (long)&local, 1, (long)&remote, 1, 0);
  if (r == -ENOSYS || r == -EPERM) {
    /* A seccomp filter, not a bad address: say so once, the fix-up is blind. */
    static int told;
    if (!told++) log_msg("restart: process_vm_readv/writev refused (%ld): mutex owners are not fixed", r);
  }
  return r == (long)len ? 0 : -1;
}
static int mem_read(uint64_t addr, void *buf, size_t len) { return mem_rw(__NR_process_vm_readv, addr, buf, len); }
static int mem_write(uint64_t addr, void *buf, size_t len) { return mem_rw(__NR_process_vm_writev, addr, buf, len); }

static int restored(const struct thread_rec *t) {
  int st = atomic_load(&t->state);
  return st == T_SUSPENDED || (t->kind == TK_CKPT && st == T_RUNNING);
}

static void collect_moves(void) {
  nmoves = 0;
  for (int i = 0; i < threads_used(); i++) {
    const struct thread_rec *t = &g_threads[i];
    pid_t to = atomic_load(&t->tid);
    if (!restored(t) || t->old_tid <= 0 || t->old_tid == to) continue;
    /* insertion sort by old tid: the table is small and this runs once */
    int j = nmoves++;
    while (j > 0 && moves[j - 1].from > t->old_tid) {
      moves[j] = moves[j - 1];
      j--;
    }
    moves[j] = (struct tid_move){t->old_tid, to};
  }
}

/* The new tid of the restored thread that had `tid`, or 0. */
static pid_t moved_to(int32_t tid) {
  int lo = 0, hi = nmoves;
  while (lo < hi) {
    int mid = (lo + hi) / 2;
    if (moves[mid].from == tid) return moves[mid].to;
    if (moves[mid].from < tid) lo = mid + 1;
    else hi = mid;
  }
  return 0;
}

static void add_fix(uint64_t addr, int32_t value) {
  if (nfixes == MAX_FIXES) {
    fixes_dropped++;
    return;
  }
  fixes[nfixes++] = (struct fix){addr, value};
}

/* A mutex at `addr`. One on a robust list is a robust futex whatever its
 * kind says; a recorded one must still look like a mutex of a tracked kind. */
static void consider(uint64_t addr, int on_robust_list) {
  int32_t w[5]; /* __lock, __count, __owner, __nusers, __kind */
  int whole = mem_read(addr, w, sizeof w) == 0;
  if (!whole && !(on_robust_list && mem_read(addr, w, sizeof w[0]) == 0)) return;
  int kind = whole ? w[MUTEX_OFF_KIND / 4] : 0;
  int is_mutex = whole && mutex_kind_is_valid(kind) && !mutex_kind_is_plain(kind);
  if (!on_robust_list && !is_mutex) return;
  if (on_robust_list || mutex_word_holds_tid(kind)) {
    int32_t word = w[MUTEX_OFF_LOCK / 4];
    pid_t to = moved_to(word & FUTEX_TID_MASK);
    if (to) add_fix(addr + MUTEX_OFF_LOCK, (int32_t)(((uint32_t)word & ~(uint32_t)FUTEX_TID_MASK) | (uint32_t)to));
  }
  if (is_mutex && (!on_robust_list || (kind & MUTEX_KIND_ROBUST))) {
    pid_t to = moved_to(w[MUTEX_OFF_OWNER / 4]);
    if (to) add_fix(addr + MUTEX_OFF_OWNER, to);
  }
}

/* glibc's list links the mutexes' __list.__next fields; the low bit of a
 * link marks a PI mutex; the list ends back at the head. */
static void walk_robust_list(const struct thread_rec *t) {
  uint64_t head_addr = (uint64_t)(uintptr_t)t->robust_head;
  struct {
    uint64_t next;
    int64_t futex_offset;
    uint64_t pending;
  } head;
  if (!head_addr || t->robust_len < sizeof head || mem_read(head_addr, &head, sizeof head) < 0) return;
  uint64_t entry = head.next & ~1ULL;
  for (int n = 0; entry && entry != head_addr; n++) {
    if (n == ROBUST_LIST_LIMIT) {
      log_msg("restart: robust mutex list of thread %d is longer than %d entries; the rest is left alone",
              (int)t->tid, ROBUST_LIST_LIMIT);
      break;
    }
    consider(entry + (uint64_t)head.futex_offset, 1);
    uint64_t next;
    if (mem_read(entry, &next, sizeof next) < 0) break;
    entry = next & ~1ULL;
  }
  uint64_t pending = head.pending & ~1ULL;
  if (pending) consider(pending + (uint64_t)head.futex_offset, 1);
}

static int consider_loader_lock(void *mutex) {
  consider((uint64_t)(uintptr_t)mutex, 0);
  return 0;
}

void mutex_fix_owners_after_restart(void) {
  collect_moves();
  if (!nmoves) return; /* same tids (restart --restore-pids): nothing is stale */
  nfixes = fixes_dropped = 0;
  for (int i = 0; i < threads_used(); i++) {
    const struct thread_rec *t = &g_threads[i];
    if (!restored(t)) continue;
    walk_robust_list(t);
    for (int s = 0; s < MUTEX_HELD_SLOTS; s++)
      if (t->held.slot[s]) consider((uint64_t)(uintptr_t)t->held.slot[s], 0);
    if (t->held.pending) consider((uint64_t)(uintptr_t)t->held.pending, 0);
  }
  loader_each_held_lock(consider_loader_lock);
  int failed = 0;
  for (int i = 0; i < nfixes; i++)
    if (mem_write(fixes[i].addr, &fixes[i].value, sizeof fixes[i].value) < 0) failed++;
  if (fixes_dropped || failed)
    log_msg("restart: %d mutex owner updates not made (%d over the limit of %d, %d not writable)",
            fixes_dropped + failed, fixes_dropped, MAX_FIXES, failed);
  LOG_DEBUG("restart: %d threads have new tids; %d mutex owner fields updated", nmoves, nfixes - failed);
}
