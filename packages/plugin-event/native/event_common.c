/* Helpers every kind and phase uses: reading /proc, parsing fdinfo,
 * placing a descriptor at its number, messages without stdio. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>

#include "dmtcp/sys.h"
#include "event_plugin.h"

static int is_blank(char c) { return c == ' ' || c == '\t'; }

int event_fdinfo_u64(const char *text, size_t len, const char *key, unsigned base, uint64_t *out) {
  size_t klen = fmt_strlen(key);
  size_t i = 0;
  while (i < len) {
    size_t eol = i;
    while (eol < len && text[eol] != '\n') eol++;
    if (eol - i > klen && text[i + klen] == ':') {
      size_t k = 0;
      while (k < klen && text[i + k] == key[k]) k++;
      if (k == klen) {
        size_t v = i + klen + 1;
        while (v < eol && is_blank(text[v])) v++;
        size_t e = v;
        while (e < eol && !is_blank(text[e])) e++;
        return fmt_parse_u64(text + v, e - v, base, out) <= 0 ? -1 : 0;
      }
    }
    i = eol + 1;
  }
  return -1;
}

static void proc_path(struct sbuf *sb, long pid, const char *dir, int fd) {
  if (pid) sb_format(sb, "/proc/%ld/%s/%d", pid, dir, fd);
  else sb_format(sb, "/proc/thread-self/%s/%d", dir, fd);
}

long event_read_fdinfo(long pid, int fd, char *buf, size_t cap) {
  char path[64];
  struct sbuf sb;
  sb_init(&sb, path, sizeof path);
  proc_path(&sb, pid, "fdinfo", fd);
  long f = sys_open(sb_cstr(&sb), O_RDONLY | O_CLOEXEC, 0);
  if (f < 0) return f;
  size_t n = 0;
  while (n + 1 < cap) {
    long r = sys_read((int)f, buf + n, cap - 1 - n);
    if (r == -EINTR) continue;
    if (r < 0) {
      sys_close((int)f);
      return r;
    }
    if (r == 0) break;
    n += (size_t)r;
  }
  sys_close((int)f);
  buf[n] = 0;
  return (long)n;
}

long event_read_link(long pid, int fd, char *buf, size_t cap) {
  char path[64];
  struct sbuf sb;
  sb_init(&sb, path, sizeof path);
  proc_path(&sb, pid, "fd", fd);
  long n = sys_readlink(sb_cstr(&sb), buf, cap - 1);
  if (n < 0) return n;
  buf[n] = 0;
  return n;
}

long event_install(long tmp, int fd, int cloexec) {
  if (tmp < 0) return tmp;
  if (tmp == fd) {
    long r = sys_fcntl(fd, F_SETFD, cloexec ? FD_CLOEXEC : 0);
    return r < 0 ? r : 0;
  }
  long r = sys_dup3((int)tmp, fd, cloexec ? O_CLOEXEC : 0);
  sys_close((int)tmp);
  return r < 0 ? r : 0;
}

const char *event_errno_name(long err) {
  if (err < 0) err = -err;
  switch (err) {
    case EPERM: return "operation not permitted";
    case EBADF: return "bad file descriptor";
    case EINVAL: return "invalid argument";
    case EMFILE: return "too many open files";
    case ENFILE: return "too many open files in the system";
    case ENOMEM: return "out of memory";
    case EEXIST: return "already in the set";
    case ELOOP: return "sets would contain each other";
    case ENOSPC: return "too many epoll watches (max_user_watches)";
    case ENOENT: return "no such entry";
    case ENOSYS: return "not supported by this kernel";
    default: return "error";
  }
}

static void vlog(const char *fmt, va_list ap) {
  char buf[512];
  dmtcp_vlog_to(2, "event", buf, sizeof buf, fmt, ap);
}

void event_log(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vlog(fmt, ap);
  va_end(ap);
}

void event_debug(const char *fmt, ...) {
  if (!dmtcp_debug()) return;
  va_list ap;
  va_start(ap, fmt);
  vlog(fmt, ap);
  va_end(ap);
}

struct linux_dirent64_ {
  uint64_t d_ino;
  int64_t d_off;
  unsigned short d_reclen;
  unsigned char d_type;
  char d_name[];
};

size_t event_list_fds(long pid, int *out, size_t cap) {
  char path[64];
  struct sbuf sb;
  sb_init(&sb, path, sizeof path);
  if (pid) sb_format(&sb, "/proc/%ld/fd", pid);
  else sb_puts(&sb, "/proc/thread-self/fd");
  long dir = sys_open(sb_cstr(&sb), O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
  if (dir < 0) return 0;
  size_t n = 0;
  char buf[4096] __attribute__((aligned(8)));
  for (;;) {
    long got = sys_getdents64((int)dir, buf, sizeof buf);
    if (got <= 0) break;
    for (long off = 0; off < got;) {
      struct linux_dirent64_ *d = (struct linux_dirent64_ *)(buf + off);
      off += d->d_reclen;
      uint64_t v;
      if (fmt_parse_dec(d->d_name, fmt_strlen(d->d_name), &v) <= 0) continue;
      if ((long)v == dir && pid == 0) continue;
      if (dmtcp_fd_protected((long)v)) continue;
      if (n < cap) out[n] = (int)v;
      n++;
    }
  }
  sys_close((int)dir);
  return n < cap ? n : cap;
}
