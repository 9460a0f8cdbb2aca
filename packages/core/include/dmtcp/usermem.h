/* Whether the kernel could read memory a program handed to a wrapper,
 * found out without touching it.
 *
 * A wrapper that looks at a pointer argument (a path, an exec environment,
 * a struct) before passing it on must not fault where the kernel would
 * simply answer EFAULT: when these say no, the wrapper passes the call on
 * unchanged and the kernel (or libc) answers as it would without us.
 *
 * The probe is rt_sigprocmask with an invalid `how`: the kernel copies the
 * 8 bytes of the new set from user memory before it looks at `how`, so it
 * answers -EFAULT when they cannot be read and -EINVAL otherwise, and
 * changes nothing.  It keeps no state (no descriptor, no memory), so it is
 * safe in signal handlers and at checkpoint time, and costs one system call
 * per page looked at.  Protections are per page (at least 4096 bytes on
 * x86-64), so 8 aligned bytes tell for their whole page.
 *
 * Self-contained on purpose: static inline functions and raw system calls
 * (dmtcp/sys.h), usable from the core's runtime and from any plugin. */
#ifndef DMTCP_USERMEM_H
#define DMTCP_USERMEM_H

#include <stddef.h>
#include <stdint.h>

#include "dmtcp/sys.h"

#define DMTCP_USERMEM_PAGE ((uintptr_t)4096)

/* The page holding addr can be read. */
static inline int dmtcp_page_readable(uintptr_t addr) {
  uintptr_t at = addr & ~(uintptr_t)7;
  /* A null set is no set at all: probe elsewhere in page 0. */
  if (at == 0) at = 8;
  /* Anything but EFAULT (EINVAL, or a sandbox refusing the call) counts as
   * readable: the wrappers then behave as they always did. */
  return sys_call4(__NR_rt_sigprocmask, -1, (long)at, 0, 8) != -14 /* EFAULT */;
}

/* The n bytes at p can be read (n == 0: always). */
static inline int dmtcp_user_readable(const void *p, size_t n) {
  uintptr_t a = (uintptr_t)p;
  if (n == 0) return 1;
  if (a + n < a) return 0;
  for (uintptr_t page = a & ~(DMTCP_USERMEM_PAGE - 1); page < a + n; page += DMTCP_USERMEM_PAGE)
    if (!dmtcp_page_readable(page)) return 0;
  return 1;
}

/* Length of the string at s when it ends within max bytes, max when the
 * first max bytes can be read and hold no NUL, -1 when a byte before
 * either cannot be read.  Bytes are looked at only after their page passed
 * the probe. */
static inline long dmtcp_user_strnlen(const char *s, size_t max) {
  uintptr_t a = (uintptr_t)s;
  size_t n = 0;
  while (n < max) {
    if (!dmtcp_page_readable(a + n)) return -1;
    size_t room = (size_t)(DMTCP_USERMEM_PAGE - ((a + n) & (DMTCP_USERMEM_PAGE - 1)));
    for (; room > 0 && n < max; room--, n++)
      if (s[n] == '\0') return (long)n;
  }
  return (long)max;
}

/* A NULL-terminated array of strings (exec's argv or envp) whose slots and
 * strings can all be read; NULL itself is fine (the kernel takes it for an
 * empty array).  Each page is probed once as long as the walk stays on it. */
static inline int dmtcp_user_strv_readable(char *const *v) {
  /* The page last found readable; no page starts at 1. */
  uintptr_t last = 1;
#define DMTCP_USERMEM_OK_(addr)                                                            \
  (((addr) & ~(DMTCP_USERMEM_PAGE - 1)) == last ||                                         \
   (dmtcp_page_readable(addr) ? (last = (addr) & ~(DMTCP_USERMEM_PAGE - 1), 1) : 0))
  if (!v) return 1;
  for (size_t i = 0;; i++) {
    uintptr_t slot = (uintptr_t)&v[i];
    /* A slot is 8 aligned bytes or straddles two pages. */
    if (!DMTCP_USERMEM_OK_(slot) || !DMTCP_USERMEM_OK_(slot + sizeof *v - 1)) return 0;
    const char *s = v[i];
    if (!s) return 1;
    for (uintptr_t c = (uintptr_t)s;; c++) {
      if ((c & (DMTCP_USERMEM_PAGE - 1)) == 0 || c == (uintptr_t)s) {
        if (!DMTCP_USERMEM_OK_(c)) return 0;
      }
      if (*(const char *)c == '\0') break;
    }
  }
#undef DMTCP_USERMEM_OK_
}

/* Writes n bytes at dst as the kernel would (process_vm_writev on this
 * process): 0, or -1 where dst cannot be written, nothing having faulted. */
static inline int dmtcp_user_write(void *dst, const void *src, size_t n) {
  struct {
    const void *base;
    size_t len;
  } local = {src, n}, remote = {dst, n};
  long ret = sys_call6(__NR_process_vm_writev, sys_getpid(), (long)&local, 1, (long)&remote, 1, 0);
  return ret == (long)n ? 0 : -1;
}

#endif
