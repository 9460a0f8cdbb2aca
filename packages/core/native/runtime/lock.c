/* Wrappers (thread creation, fork, exec, critical sections of the
 * application) and checkpoints exclude each other: wrappers take the read
 * side, the checkpoint thread the write side.  A pending checkpoint blocks new
 * readers, so a busy application cannot starve it.  Reentrant per thread. */
#include <linux/futex.h>

#include "runtime.h"

static _Atomic int readers;
static _Atomic int writer;     /* 1 while a checkpoint holds or waits for the lock */
static __thread int depth __attribute__((tls_model("initial-exec")));

void ckpt_lock_read(void) {
  if (depth++ > 0) return;
  for (;;) {
    while (atomic_load(&writer)) sys_futex(&writer, FUTEX_WAIT_PRIVATE, 1, NULL);
    atomic_fetch_add(&readers, 1);
    if (!atomic_load(&writer)) return;
    /* A checkpoint arrived in between: step back and let it go first. */
    if (atomic_fetch_sub(&readers, 1) == 1) sys_futex(&readers, FUTEX_WAKE_PRIVATE, 1, NULL);
  }
}

void ckpt_unlock_read(void) {
  if (--depth > 0) return;
  if (atomic_fetch_sub(&readers, 1) == 1 && atomic_load(&writer)) sys_futex(&readers, FUTEX_WAKE_PRIVATE, 1, NULL);
}

void ckpt_lock_write(void) {
  atomic_store(&writer, 1);
  for (;;) {
    int r = atomic_load(&readers);
    if (r == 0) return;
    sys_futex(&readers, FUTEX_WAIT_PRIVATE, r, NULL);
  }
}

void ckpt_unlock_write(void) {
  atomic_store(&writer, 0);
  sys_futex(&writer, FUTEX_WAKE_PRIVATE, 0x7fffffff, NULL);
}

/* In a fork child only the forking thread exists: whatever the parent's
 * other threads held is gone with them. */
void ckpt_lock_reset(void) {
  atomic_store(&readers, depth > 0 ? 1 : 0);
  atomic_store(&writer, 0);
}
