/* Direct system calls for the plugin's checkpoint and restart work.
 *
 * Event handlers run while the application's threads are stopped, possibly
 * inside libc or inside another plugin's wrapper of open/close/dup: going
 * through the libc symbols could re-enter such a wrapper (ours, once wrappers
 * exist, or another plugin's).  Calling the kernel directly keeps the scan
 * and the restore independent of whatever is interposed.  Every call returns
 * the kernel's answer: >= 0, or -errno. */
#ifndef FILE_SYS_H
#define FILE_SYS_H

#include <asm/unistd.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>

#if !defined(__x86_64__)
#error "the file plugin's system call layer is written for x86-64"
#endif

static inline long fsys(long nr, long a, long b, long c, long d, long e, long f) {
  register long r10 __asm__("r10") = d;
  register long r8 __asm__("r8") = e;
  register long r9 __asm__("r9") = f;
  long ret;
  __asm__ volatile("syscall"
                   : "=a"(ret)
                   : "0"(nr), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                   : "rcx", "r11", "memory");
  return ret;
}

#define FSYS_AT_FDCWD (-100)
#define FSYS_KCMP_FILE 0
#define FSYS_TCGETS 0x5401
#define FSYS_TCSETS 0x5402

static inline long fs_openat(int dirfd, const char *path, int flags, int mode) {
  return fsys(__NR_openat, dirfd, (long)path, flags, mode, 0, 0);
}
static inline long fs_open(const char *path, int flags, int mode) { return fs_openat(FSYS_AT_FDCWD, path, flags, mode); }
static inline long fs_close(int fd) { return fsys(__NR_close, fd, 0, 0, 0, 0, 0); }
static inline long fs_read(int fd, void *buf, size_t n) { return fsys(__NR_read, fd, (long)buf, (long)n, 0, 0, 0); }
static inline long fs_write(int fd, const void *buf, size_t n) { return fsys(__NR_write, fd, (long)buf, (long)n, 0, 0, 0); }
static inline long fs_pread(int fd, void *buf, size_t n, int64_t off) {
  return fsys(__NR_pread64, fd, (long)buf, (long)n, (long)off, 0, 0);
}
static inline long fs_pwrite(int fd, const void *buf, size_t n, int64_t off) {
  return fsys(__NR_pwrite64, fd, (long)buf, (long)n, (long)off, 0, 0);
}
static inline long fs_lseek(int fd, int64_t off, int whence) { return fsys(__NR_lseek, fd, (long)off, whence, 0, 0, 0); }
static inline long fs_fstat(int fd, struct stat *st) { return fsys(__NR_fstat, fd, (long)st, 0, 0, 0, 0); }
static inline long fs_stat(const char *path, struct stat *st) {
  return fsys(__NR_newfstatat, FSYS_AT_FDCWD, (long)path, (long)st, 0, 0, 0);
}
static inline long fs_readlink(const char *path, char *buf, size_t cap) {
  return fsys(__NR_readlinkat, FSYS_AT_FDCWD, (long)path, (long)buf, (long)cap, 0, 0);
}
static inline long fs_fcntl(int fd, int cmd, long arg) { return fsys(__NR_fcntl, fd, cmd, arg, 0, 0, 0); }
static inline long fs_dup3(int from, int to, int flags) { return fsys(__NR_dup3, from, to, flags, 0, 0, 0); }
static inline long fs_ioctl(int fd, unsigned long req, void *arg) { return fsys(__NR_ioctl, fd, (long)req, (long)arg, 0, 0, 0); }
static inline long fs_getdents64(int fd, void *buf, size_t cap) {
  return fsys(__NR_getdents64, fd, (long)buf, (long)cap, 0, 0, 0);
}
static inline long fs_getpid(void) { return fsys(__NR_getpid, 0, 0, 0, 0, 0, 0); }
static inline long fs_kcmp_file(long pid, int fd1, int fd2) {
  return fsys(__NR_kcmp, pid, pid, FSYS_KCMP_FILE, fd1, fd2, 0);
}
static inline long fs_kcmp_file2(long pid1, long pid2, int fd1, int fd2) {
  return fsys(__NR_kcmp, pid1, pid2, FSYS_KCMP_FILE, fd1, fd2, 0);
}
static inline long fs_getsid(long pid) { return fsys(__NR_getsid, pid, 0, 0, 0, 0, 0); }
static inline long fs_getuid(void) { return fsys(__NR_getuid, 0, 0, 0, 0, 0, 0); }
static inline long fs_pipe2(int fds[2], int flags) { return fsys(__NR_pipe2, (long)fds, flags, 0, 0, 0, 0); }
static inline long fs_mknod(const char *path, unsigned mode, unsigned long dev) {
  return fsys(__NR_mknodat, FSYS_AT_FDCWD, (long)path, mode, (long)dev, 0, 0);
}
static inline long fs_socket(int domain, int type, int proto) { return fsys(__NR_socket, domain, type, proto, 0, 0, 0); }
static inline long fs_bind(int fd, const void *addr, unsigned len) { return fsys(__NR_bind, fd, (long)addr, len, 0, 0, 0); }
static inline long fs_setsockopt(int fd, int level, int name, const void *val, unsigned len) {
  return fsys(__NR_setsockopt, fd, level, name, (long)val, len, 0);
}
static inline long fs_sendmsg(int fd, const void *msg, int flags) { return fsys(__NR_sendmsg, fd, (long)msg, flags, 0, 0, 0); }
static inline long fs_recvmsg(int fd, void *msg, int flags) { return fsys(__NR_recvmsg, fd, (long)msg, flags, 0, 0, 0); }
/* poll with a timeout in milliseconds (ppoll underneath: x86-64 has poll,
 * but ppoll is what every architecture has). */
static inline long fs_poll(void *fds, unsigned long n, long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  return fsys(__NR_ppoll, (long)fds, (long)n, ms < 0 ? 0 : (long)&ts, 0, 8, 0);
}
static inline long fs_nanosleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  return fsys(__NR_nanosleep, (long)&ts, 0, 0, 0, 0, 0);
}
static inline long fs_clock_ms(void) {
  struct timespec ts;
  fsys(__NR_clock_gettime, 1 /* CLOCK_MONOTONIC */, (long)&ts, 0, 0, 0, 0);
  return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
static inline long fs_unlink(const char *path) { return fsys(__NR_unlinkat, FSYS_AT_FDCWD, (long)path, 0, 0, 0, 0); }
static inline long fs_fchmod(int fd, unsigned mode) { return fsys(__NR_fchmod, fd, mode, 0, 0, 0, 0); }
static inline long fs_ftruncate(int fd, int64_t len) { return fsys(__NR_ftruncate, fd, (long)len, 0, 0, 0, 0); }
static inline long fs_futimens(int fd, const struct timespec times[2]) {
  return fsys(__NR_utimensat, fd, 0, (long)times, 0, 0, 0);
}
static inline long fs_memfd_create(const char *name, unsigned flags) {
  return fsys(__NR_memfd_create, (long)name, flags, 0, 0, 0, 0);
}
static inline void *fs_mmap_anon(size_t len, long *err) {
  /* PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS|MAP_NORESERVE */
  long r = fsys(__NR_mmap, 0, (long)len, 0x1 | 0x2, 0x02 | 0x20 | 0x4000, -1, 0);
  if (r < 0 && r > -4096) {
    if (err) *err = r;
    return NULL;
  }
  return (void *)r;
}
static inline long fs_munmap(void *addr, size_t len) { return fsys(__NR_munmap, (long)addr, (long)len, 0, 0, 0, 0); }

#endif
