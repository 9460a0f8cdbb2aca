/* Raw x86-64 Linux system calls: each returns the kernel's answer, >= 0 or
 * -errno, and touches no libc state (no errno, no locks, no allocation).
 *
 * Safe everywhere: in signal handlers, on the checkpoint and restore paths
 * (other threads stopped, possibly inside libc or inside another plugin's
 * wrapper of the same call), in the freestanding restart program and in a
 * plugin .so.  Going through the kernel directly also keeps these calls
 * independent of whatever wrapper is interposed on the libc symbol.
 *
 * Self-contained: static inline functions, kernel uapi numbers only.
 * Structures the kernel fills (stat, timespec) are taken as `void *` where
 * libc's layout is the kernel's on x86-64, so a caller may pass either
 * libc's struct or the sys_ one below. */
#ifndef DMTCP_SYS_H
#define DMTCP_SYS_H

#include <stddef.h>
#include <stdint.h>
#include <asm/unistd.h>

#if !defined(__x86_64__)
#error "dmtcp/sys.h is written for x86-64"
#endif

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
#define SYS_AT_FDCWD (-100)
#define SYS_KCMP_FILE 0
#define SYS_TCGETS 0x5401
#define SYS_TCSETS 0x5402
/* A failed call's return: -4095..-1 (mmap answers addresses above that). */
#define SYS_IS_ERR(r) ((unsigned long)(r) >= (unsigned long)-4095L)

/* Kernel layouts, without libc headers. */
struct sys_timespec {
  long tv_sec;
  long tv_nsec;
};

struct sys_kernel_sigaction {
  uint64_t handler;
  uint64_t flags;
  uint64_t restorer;
  uint64_t mask;
};

/* The kernel's struct stat on x86-64 (glibc's struct stat is the same). */
struct sys_stat {
  uint64_t dev, ino, nlink;
  uint32_t mode, uid, gid, pad0;
  uint64_t rdev;
  int64_t size, blksize, blocks;
  uint64_t atime_s, atime_ns, mtime_s, mtime_ns, ctime_s, ctime_ns;
  int64_t unused[3];
};

/* ---- descriptors and files ---- */
static inline long sys_read(int fd, void *buf, size_t n) { return sys_call3(__NR_read, fd, SYS_ARG(buf), (long)n); }
static inline long sys_write(int fd, const void *buf, size_t n) { return sys_call3(__NR_write, fd, SYS_ARG(buf), (long)n); }
static inline long sys_pread(int fd, void *buf, size_t n, int64_t off) {
  return sys_call4(__NR_pread64, fd, SYS_ARG(buf), (long)n, (long)off);
}
static inline long sys_pwrite(int fd, const void *buf, size_t n, int64_t off) {
  return sys_call4(__NR_pwrite64, fd, SYS_ARG(buf), (long)n, (long)off);
}
static inline long sys_openat(int dirfd, const char *path, int flags, int mode) {
  return sys_call4(__NR_openat, dirfd, SYS_ARG(path), flags, mode);
}
static inline long sys_open(const char *path, int flags, int mode) { return sys_openat(SYS_AT_FDCWD, path, flags, mode); }
static inline long sys_close(int fd) { return sys_call1(__NR_close, fd); }
static inline long sys_lseek(int fd, int64_t off, int whence) { return sys_call3(__NR_lseek, fd, (long)off, whence); }
/* st: a struct sys_stat or libc's struct stat. */
static inline long sys_fstat(int fd, void *st) { return sys_call2(__NR_fstat, fd, SYS_ARG(st)); }
static inline long sys_stat(const char *path, void *st) {
  return sys_call4(__NR_newfstatat, SYS_AT_FDCWD, SYS_ARG(path), SYS_ARG(st), 0);
}
static inline long sys_fstat_size(int fd, uint64_t *size) {
  struct sys_stat st;
  long r = sys_fstat(fd, &st);
  if (r == 0) *size = (uint64_t)st.size;
  return r;
}
static inline long sys_readlink(const char *path, char *buf, size_t cap) {
  return sys_call4(__NR_readlinkat, SYS_AT_FDCWD, SYS_ARG(path), SYS_ARG(buf), (long)cap);
}
static inline long sys_fcntl(int fd, int cmd, long arg) { return sys_call3(__NR_fcntl, fd, cmd, arg); }
static inline long sys_dup3(int from, int to, int flags) { return sys_call3(__NR_dup3, from, to, flags); }
static inline long sys_ioctl(int fd, unsigned long req, void *arg) { return sys_call3(__NR_ioctl, fd, (long)req, SYS_ARG(arg)); }
static inline long sys_getdents64(int fd, void *buf, size_t cap) {
  return sys_call3(__NR_getdents64, fd, SYS_ARG(buf), (long)cap);
}
static inline long sys_pipe2(int fds[2], int flags) { return sys_call2(__NR_pipe2, SYS_ARG(fds), flags); }
static inline long sys_mknod(const char *path, unsigned mode, unsigned long dev) {
  return sys_call4(__NR_mknodat, SYS_AT_FDCWD, SYS_ARG(path), mode, (long)dev);
}
static inline long sys_unlink(const char *path) { return sys_call3(__NR_unlinkat, SYS_AT_FDCWD, SYS_ARG(path), 0); }
static inline long sys_rename(const char *from, const char *to) {
  return sys_call4(__NR_renameat, SYS_AT_FDCWD, SYS_ARG(from), SYS_AT_FDCWD, SYS_ARG(to));
}
static inline long sys_fsync(int fd) { return sys_call1(__NR_fsync, fd); }
/* iov: struct iovec (or an array of {base, len} pairs). */
static inline long sys_writev(int fd, const void *iov, int n) { return sys_call3(__NR_writev, fd, SYS_ARG(iov), n); }
/* The length written, NUL included, or -errno. */
static inline long sys_getcwd(char *buf, size_t cap) { return sys_call2(__NR_getcwd, SYS_ARG(buf), (long)cap); }
static inline long sys_fchmod(int fd, unsigned mode) { return sys_call2(__NR_fchmod, fd, mode); }
static inline long sys_ftruncate(int fd, int64_t len) { return sys_call2(__NR_ftruncate, fd, (long)len); }
/* times: two struct sys_timespec (or libc's struct timespec). */
static inline long sys_futimens(int fd, const void *times) {
  return sys_call4(__NR_utimensat, fd, 0, SYS_ARG(times), 0);
}
static inline long sys_memfd_create(const char *name, unsigned flags) {
  return sys_call2(__NR_memfd_create, SYS_ARG(name), flags);
}
/* Whether fd1 of pid1 and fd2 of pid2 are the same open file description:
 * 0 same, 1 or 2 ordered differently, 3 incomparable, -errno. */
static inline long sys_kcmp_file2(long pid1, long pid2, int fd1, int fd2) {
  return sys_call5(__NR_kcmp, pid1, pid2, SYS_KCMP_FILE, fd1, fd2);
}
static inline long sys_kcmp_file(long pid, int fd1, int fd2) { return sys_kcmp_file2(pid, pid, fd1, fd2); }

/* ---- sockets ---- */
static inline long sys_socket(int domain, int type, int proto) { return sys_call3(__NR_socket, domain, type, proto); }
static inline long sys_bind(int fd, const void *addr, unsigned len) { return sys_call3(__NR_bind, fd, SYS_ARG(addr), len); }
static inline long sys_connect(int fd, const void *addr, unsigned len) {
  return sys_call3(__NR_connect, fd, SYS_ARG(addr), len);
}
static inline long sys_setsockopt(int fd, int level, int name, const void *val, unsigned len) {
  return sys_call5(__NR_setsockopt, fd, level, name, SYS_ARG(val), len);
}
static inline long sys_getsockopt(int fd, int level, int name, void *val, unsigned *len) {
  return sys_call5(__NR_getsockopt, fd, level, name, SYS_ARG(val), SYS_ARG(len));
}
static inline long sys_sendmsg(int fd, const void *msg, int flags) { return sys_call3(__NR_sendmsg, fd, SYS_ARG(msg), flags); }
static inline long sys_recvmsg(int fd, void *msg, int flags) { return sys_call3(__NR_recvmsg, fd, SYS_ARG(msg), flags); }

/* ---- memory ---- */
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
/* Private zero-filled read-write memory, not counted against overcommit:
 * NULL (with *err = -errno when err is given) on failure. */
static inline void *sys_mmap_anon(size_t len, long *err) {
  /* PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS|MAP_NORESERVE */
  long r = sys_mmap(0, len, 0x1 | 0x2, 0x02 | 0x20 | 0x4000, -1, 0);
  if (SYS_IS_ERR(r)) {
    if (err) *err = r;
    return NULL;
  }
  return (void *)r;
}
static inline long sys_munmap_ptr(void *addr, size_t len) { return sys_munmap((uint64_t)(uintptr_t)addr, len); }

/* ---- processes, threads, signals ---- */
static inline long sys_getpid(void) { return sys_call0(__NR_getpid); }
static inline long sys_gettid(void) { return sys_call0(__NR_gettid); }
static inline long sys_getuid(void) { return sys_call0(__NR_getuid); }
static inline long sys_getsid(long pid) { return sys_call1(__NR_getsid, pid); }
static inline long sys_kill(long pid, int sig) { return sys_call2(__NR_kill, pid, sig); }
static inline long sys_tgkill(int tgid, int tid, int sig) { return sys_call3(__NR_tgkill, tgid, tid, sig); }
/* uts: a struct utsname (six 65-byte fields). */
static inline long sys_uname(void *uts) { return sys_call1(__NR_uname, SYS_ARG(uts)); }
static inline long sys_prctl(int option, long a, long b, long c, long d) {
  return sys_call5(__NR_prctl, option, a, b, c, d);
}
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
static inline __attribute__((noreturn)) void sys_exit_group(int code) {
  for (;;) sys_call1(__NR_exit_group, code);
}
static inline __attribute__((noreturn)) void sys_exit_thread(int code) {
  for (;;) sys_call1(__NR_exit, code);
}

/* ---- time ---- */
/* poll with a timeout in milliseconds (< 0: none); ppoll underneath. */
static inline long sys_poll(void *fds, unsigned long n, long ms) {
  struct sys_timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  return sys_call5(__NR_ppoll, SYS_ARG(fds), (long)n, ms < 0 ? 0 : SYS_ARG(&ts), 0, 8);
}
static inline long sys_nanosleep_ms(long ms) {
  struct sys_timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  return sys_call2(__NR_nanosleep, SYS_ARG(&ts), 0);
}
/* ts: a struct sys_timespec (or libc's struct timespec).  A real system
 * call, not the vDSO: for paths that must not meet another library's
 * clock_gettime. */
static inline long sys_clock_gettime(int clock, void *ts) { return sys_call2(__NR_clock_gettime, clock, SYS_ARG(ts)); }
/* CLOCK_MONOTONIC in milliseconds. */
static inline long sys_clock_ms(void) {
  struct sys_timespec ts = {0, 0};
  sys_call2(__NR_clock_gettime, 1 /* CLOCK_MONOTONIC */, SYS_ARG(&ts));
  return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#endif
