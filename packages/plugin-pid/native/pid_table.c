/* The virtual<->real id table of one process.
 *
 * Lookups run in wrappers called from any thread, including signal
 * handlers, so they take no lock: they scan the used part of the table with
 * atomic loads.  A lookup that races with a slot being reused reads the vid
 * again after the real id and ignores a slot that changed under it. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>

#include "dmtcp/plugin.h"
#include "pid_internal.h"

struct pid_entry g_pid_table[PID_TABLE_SIZE];
static _Atomic int used;
static int pid_max = 32768;

/* Raw calls: the table sits below every wrapper of this library. */
void pid_table_read_pid_max(void) {
  char buf[32];
  int fd = (int)sys_call6(SYS_openat, AT_FDCWD, (long)"/proc/sys/kernel/pid_max", O_RDONLY | O_CLOEXEC, 0, 0, 0);
  if (fd < 0) return;
  long n = sys_call3(SYS_read, fd, (long)buf, sizeof buf - 1);
  sys_call3(SYS_close, fd, 0, 0);
  if (n <= 0) return;
  buf[n] = 0;
  uint64_t v = 0;
  if (fmt_parse_dec(buf, (size_t)-1, &v) <= 0 || v > (uint64_t)INT64_MAX) return;
  int max = (int)v;
  if (max > 301) pid_max = max;
}

int pid_table_used(void) { return atomic_load_explicit(&used, memory_order_acquire); }

static void note_used(int slot) {
  int cur = atomic_load(&used);
  while (cur < slot + 1 && !atomic_compare_exchange_weak(&used, &cur, slot + 1)) {
  }
}

int pid_table_find_vid(pid_t vid) {
  if (vid <= 0) return -1;
  int n = pid_table_used();
  for (int i = 0; i < n; i++)
    if (atomic_load_explicit(&g_pid_table[i].vid, memory_order_acquire) == vid) return i;
  return -1;
}

int pid_table_find_real(pid_t real) {
  if (real <= 0) return -1;
  int n = pid_table_used();
  for (int i = 0; i < n; i++) {
    struct pid_entry *e = &g_pid_table[i];
    if (atomic_load_explicit(&e->real, memory_order_acquire) == real && atomic_load(&e->vid) != 0) return i;
  }
  return -1;
}

void pid_table_remove_slot(int slot) {
  if (slot < 0 || slot >= PID_TABLE_SIZE) return;
  atomic_store_explicit(&g_pid_table[slot].vid, 0, memory_order_release);
  atomic_store(&g_pid_table[slot].real, 0);
  atomic_store_explicit(&g_pid_table[slot].claimed, 0, memory_order_release);
}

int pid_table_put(pid_t vid, pid_t real, pid_t owner, int *tid_addr) {
  if (vid <= 0) return -1;
  /* A real id belongs to one live task: whatever else still carries it
   * describes a task that has ended. */
  while (real > 0) {
    int i = pid_table_find_real(real);
    if (i < 0 || atomic_load(&g_pid_table[i].vid) == vid) break;
    pid_table_remove_slot(i);
  }
  int slot = pid_table_find_vid(vid);
  if (slot >= 0) {
    struct pid_entry *e = &g_pid_table[slot];
    e->owner = owner;
    e->tid_addr = tid_addr;
    atomic_store_explicit(&e->real, real, memory_order_release);
    return slot;
  }
  for (int i = 0; i < PID_TABLE_SIZE; i++) {
    struct pid_entry *e = &g_pid_table[i];
    int expected = 0;
    if (atomic_load(&e->claimed) || !atomic_compare_exchange_strong(&e->claimed, &expected, 1)) continue;
    e->owner = owner;
    e->tid_addr = tid_addr;
    atomic_store(&e->real, real);
    atomic_store_explicit(&e->vid, vid, memory_order_release);
    note_used(i);
    return i;
  }
  return -1;
}

pid_t pid_v2r(pid_t vid) {
  if (vid <= 0) return vid;
  int i = pid_table_find_vid(vid);
  if (i < 0) return vid;
  pid_t real = atomic_load_explicit(&g_pid_table[i].real, memory_order_acquire);
  if (real <= 0 || atomic_load(&g_pid_table[i].vid) != vid) return vid;
  return real;
}

pid_t pid_r2v(pid_t real) {
  if (real <= 0) return real;
  int i = pid_table_find_real(real);
  if (i < 0) return real;
  pid_t vid = atomic_load_explicit(&g_pid_table[i].vid, memory_order_acquire);
  if (vid <= 0 || atomic_load(&g_pid_table[i].real) != real) return real;
  return vid;
}

/* For other plugins (the names of DMTCP's API): the kernel's pid in this
 * life of a pid the program knows, and back; ids the table does not know
 * are their own. Lock-free, async-signal-safe. */
PID_EXPORT pid_t dmtcp_virtual_to_real_pid(pid_t vid) { return pid_v2r(vid); }
PID_EXPORT pid_t dmtcp_real_to_virtual_pid(pid_t real) { return pid_r2v(real); }

pid_t pid_v2r_signed(pid_t id) {
  if (id < -1) return -pid_v2r(-id);
  return pid_v2r(id);
}

pid_t pid_r2v_signed(pid_t id) {
  if (id < -1) return -pid_r2v(-id);
  return pid_r2v(id);
}

/* (vid << 32 | real) of recently reaped processes, one atomic word each so
 * that a signal handler never reads half an entry. */
#define REAPED_RING 64
static _Atomic unsigned long long reaped_ring[REAPED_RING];
static _Atomic unsigned reaped_next;

void pid_table_reaped(pid_t real) {
  int i = pid_table_find_real(real);
  if (i < 0) return;
  struct pid_entry *e = &g_pid_table[i];
  pid_t vid = atomic_load(&e->vid);
  if (e->owner != vid) return;
  if (vid != real) {
    unsigned k = atomic_fetch_add(&reaped_next, 1) % REAPED_RING;
    atomic_store(&reaped_ring[k], (unsigned long long)(unsigned)vid << 32 | (unsigned)real);
  }
  pid_table_remove_slot(i);
}

/* Real ids of an earlier life mean nothing after a restart. */
void pid_table_forget_reaped(void) {
  for (int k = 0; k < REAPED_RING; k++) atomic_store(&reaped_ring[k], 0);
}

pid_t pid_r2v_or_reaped(pid_t real) {
  if (real <= 0) return real;
  if (pid_table_find_real(real) >= 0) return pid_r2v(real);
  unsigned next = atomic_load(&reaped_next);
  for (unsigned n = 0; n < REAPED_RING; n++) {
    unsigned long long w = atomic_load(&reaped_ring[(next - 1 - n) % REAPED_RING]);
    if (w && (pid_t)(unsigned)(w & 0xffffffffu) == real) return (pid_t)(unsigned)(w >> 32);
  }
  return real;
}

int pid_table_vid_conflict(pid_t real) {
  int i = pid_table_find_vid(real);
  return i >= 0 && atomic_load(&g_pid_table[i].real) != real;
}

/* "/proc/N" exists for every live task, thread or process. */
static int task_exists(pid_t n) {
  char path[32];
  struct sbuf sb;
  sb_init(&sb, path, sizeof path);
  sb_puts(&sb, "/proc/");
  if (n) sb_putu(&sb, (unsigned)n);
  return sys_call3(SYS_access, (long)path, F_OK, 0) == 0 || sys_kill(n, 0) != -ESRCH;
}

int pid_table_pid_max(void) { return pid_max; }

int pid_table_id_free(pid_t n) { return pid_table_find_vid(n) < 0 && pid_table_find_real(n) < 0 && !task_exists(n); }

pid_t pid_table_free_vid(void) {
  /* The kernel hands out pids upwards and wraps at pid_max: the top of the
   * range is the last it will reach again. */
  for (pid_t n = (pid_t)pid_max - 1; n > 300; n--)
    if (pid_table_id_free(n)) return n;
  return 0;
}

void pid_table_sweep(void) {
  int n = pid_table_used();
  for (int i = 0; i < n; i++) {
    struct pid_entry *e = &g_pid_table[i];
    if (atomic_load(&e->claimed) && atomic_load(&e->vid) == 0) atomic_store(&e->claimed, 0);
  }
}

/* Owners: an entry with owner == vid is a process, the others are threads
 * of the process whose vpid is their owner. */
static void drop_where(pid_t owner, int threads_of_owner) {
  int n = pid_table_used();
  for (int i = 0; i < n; i++) {
    struct pid_entry *e = &g_pid_table[i];
    pid_t vid = atomic_load(&e->vid);
    if (!vid) continue;
    int drop = threads_of_owner ? e->owner == owner && vid != owner : e->owner != owner;
    if (drop) pid_table_remove_slot(i);
  }
}

void pid_table_drop_threads_of(pid_t owner) { drop_where(owner, 1); }
void pid_table_drop_others(pid_t owner) { drop_where(owner, 0); }

int pid_table_count_others(pid_t owner) {
  int n = 0, used = pid_table_used();
  for (int i = 0; i < used; i++) {
    pid_t vid = atomic_load(&g_pid_table[i].vid);
    if (vid && g_pid_table[i].owner != owner) n++;
  }
  return n;
}
