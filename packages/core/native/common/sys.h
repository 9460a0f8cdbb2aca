/* Raw x86-64 Linux system calls, returning -errno on failure.  Used where
 * libc must not be touched: the freestanding restart program and the parts of
 * the runtime that run before thread-local storage is valid again. */
#ifndef DMTCP_SYS_H
#define DMTCP_SYS_H

#include <stddef.h>
#include <stdint.h>
#include <asm/unistd.h>

static inline long sys_call0(long n) {
  long r;
  __asm__ volatile("syscall" : "=a"(r) : "a"(n) : "rcx", "r11", "memory");
  return r;
}
static inline long sys_call1(long n, long a) {
  long r;
  __asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a) : "rcx", "r11", "memory");
  return r;
}
static inline long sys_call2(long n, long a, long b) {
  long r;
  __asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b) : "rcx", "r11", "memory");
  return r;
}
static inline long sys_call3(long n, long a, long b, long c) {
  long r;
  __asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
  return r;
}
static inline long sys_call4(long n, long a, long b, long c, long d) {
  long r;
  register long r10 __asm__("r10") = d;
  __asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10) : "rcx", "r11", "memory");
  return r;
}
static inline long sys_call5(long n, long a, long b, long c, long d, long e) {
  long r;
  register long r10 __asm__("r10") = d;
  register long r8 __asm__("r8") = e;
  __asm__ volatile("syscall"
                   : "=a"(r)
                   : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8)
                   : "rcx", "r11", "memory");
  return r;
}
static inline long sys_call6(long n, long a, long b, long c, long d, long e, long f) {
  long r;
  register long r10 __asm__("r10") = d;
  register long r8 __asm__("r8") = e;
  register long r9 __asm__("r9") = f;
  __asm__ volatile("syscall"
                   : "=a"(r)
                   : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                   : "rcx", "r11", "memory");
  return r;
}

#define SYS_ARG(x) ((long)(x))

static inline long sys_read(int fd, void *buf, size_t n) { return sys_call3(__NR_read, fd, SYS_ARG(buf), (long)n); }
static inline long sys_write(int fd, const void *buf, size_t n) { return sys_call3(__NR_write, fd, SYS_ARG(buf), (long)n); }
static inline long sys_pread(int fd, void *buf, size_t n, uint64_t off) {
  return sys_call4(__NR_pread64, fd, SYS_ARG(buf), (long)n, (long)off);
}
static inline long sys_open(const char *path, int flags, int mode) {
  return sys_call4(__NR_openat, -100 /* AT_FDCWD */, SYS_ARG(path), flags, mode);
}
static inline long sys_close(int fd) { return sys_call1(__NR_close, fd); }
static inline long sys_mmap(uint64_t addr, size_t len, int prot, int flags, int fd, uint64_t off) {
  return sys_call6(__NR_mmap, (long)addr, (long)len, prot, flags, fd, (long)off);
}
static inline long sys_munmap(uint64_t addr, size_t len) { return sys_call2(__NR_munmap, (long)addr, (long)len); }
static inline long sys_mprotect(uint64_t addr, size_t len, int prot) {
  return sys_call3(__NR_mprotect, (long)addr, (long)len, prot);
}
static inline long sys_mremap(uint64_t old, size_t old_len, size_t new_len, int flags, uint64_t new_addr) {
  return sys_call5(__NR_mremap, (long)old, (long)old_len, (long)new_len, flags, (long)new_addr);
}
static inline long sys_getpid(void) { return sys_call0(__NR_getpid); }
static inline long sys_gettid(void) { return sys_call0(__NR_gettid); }
static inline long sys_tgkill(int tgid, int tid, int sig) { return sys_call3(__NR_tgkill, tgid, tid, sig); }
static inline long sys_arch_prctl(int code, uint64_t addr) { return sys_call2(__NR_arch_prctl, code, (long)addr); }
static inline long sys_set_robust_list(void *head, size_t len) {
  return sys_call2(__NR_set_robust_list, SYS_ARG(head), (long)len);
}
static inline long sys_set_tid_address(void *addr) { return sys_call1(__NR_set_tid_address, SYS_ARG(addr)); }
static inline long sys_rt_sigprocmask(int how, const void *set, void *old) {
  return sys_call4(__NR_rt_sigprocmask, how, SYS_ARG(set), SYS_ARG(old), 8);
}
static inline long sys_rt_sigaction(int sig, const void *act, void *old) {
  return sys_call4(__NR_rt_sigaction, sig, SYS_ARG(act), SYS_ARG(old), 8);
}
static inline long sys_sigaltstack(const void *ss, void *old) { return sys_call2(__NR_sigaltstack, SYS_ARG(ss), SYS_ARG(old)); }
static inline long sys_futex(void *uaddr, int op, int val, const void *ts) {
  return sys_call6(__NR_futex, SYS_ARG(uaddr), op, val, SYS_ARG(ts), 0, 0);
}
static inline long sys_fork(void) { return sys_call0(__NR_fork); }
static inline long sys_fstat_size(int fd, uint64_t *size);
static inline __attribute__((noreturn)) void sys_exit_group(int code) {
  for (;;) sys_call1(__NR_exit_group, code);
}
static inline __attribute__((noreturn)) void sys_exit_thread(int code) {
  for (;;) sys_call1(__NR_exit, code);
}

/* Kernel layouts we need without libc headers. */
struct sys_kernel_sigaction {
  uint64_t handler;
  uint64_t flags;
  uint64_t restorer;
  uint64_t mask;
};

struct sys_stat {
  uint64_t dev, ino, nlink;
  uint32_t mode, uid, gid, pad0;
  uint64_t rdev;
  int64_t size, blksize, blocks;
  uint64_t atime_s, atime_ns, mtime_s, mtime_ns, ctime_s, ctime_ns;
  int64_t unused[3];
};

static inline long sys_fstat(int fd, struct sys_stat *st) { return sys_call2(__NR_fstat, fd, SYS_ARG(st)); }
static inline long sys_fstat_size(int fd, uint64_t *size) {
  struct sys_stat st;
  long r = sys_fstat(fd, &st);
  if (r == 0) *size = (uint64_t)st.size;
  return r;
}

/* FNV-1a 64: image checksums (also implemented in src/image/reader.ts). */
static inline uint64_t fnv1a64(uint64_t h, const void *data, size_t n) {
  const unsigned char *p = data;
  for (size_t i = 0; i < n; i++) {
    h ^= p[i];
    h *= 0x100000001b3ULL;
  }
  return h;
}
#define FNV1A64_INIT 0xcbf29ce484222325ULL

static inline size_t sys_strlen(const char *s) {
  size_t n = 0;
  while (s[n]) n++;
  return n;
}

#endif
