/* Text without stdio: the checkpoint thread may run while an application
 * thread is stopped holding the stdio lock or inside malloc. */
#include <errno.h>
#include <string.h>

#include "file_plugin.h"
#include "file_sys.h"

static int log_fd = 2;

void fb_init(struct fbuf *b, char *buf, size_t cap) {
  b->buf = buf;
  b->cap = cap;
  b->len = 0;
  b->overflow = 0;
  if (cap) buf[0] = 0;
}

void fb_putc(struct fbuf *b, char c) {
  if (b->len + 1 < b->cap) {
    b->buf[b->len++] = c;
    b->buf[b->len] = 0;
  } else {
    b->overflow = 1;
  }
}

void fb_putn(struct fbuf *b, const char *s, size_t n) {
  for (size_t i = 0; i < n; i++) fb_putc(b, s[i]);
}

void fb_puts(struct fbuf *b, const char *s) {
  if (!s) s = "(null)";
  while (*s) fb_putc(b, *s++);
}

void fb_putu(struct fbuf *b, uint64_t v) {
  char tmp[24];
  int n = 0;
  do {
    tmp[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  while (n) fb_putc(b, tmp[--n]);
}

void fb_puti(struct fbuf *b, int64_t v) {
  if (v < 0) {
    fb_putc(b, '-');
    fb_putu(b, (uint64_t)0 - (uint64_t)v);
  } else {
    fb_putu(b, (uint64_t)v);
  }
}

void fb_puthex(struct fbuf *b, uint64_t v, int width) {
  static const char digits[] = "0123456789abcdef";
  char tmp[16];
  int n = 0;
  do {
    tmp[n++] = digits[v & 15];
    v >>= 4;
  } while (v && n < 16);
  while (n < width && n < 16) tmp[n++] = '0';
  while (n) fb_putc(b, tmp[--n]);
}

void fb_vformat(struct fbuf *b, const char *fmt, va_list ap) {
  for (const char *p = fmt; *p; p++) {
    if (*p != '%') {
      fb_putc(b, *p);
      continue;
    }
    p++;
    int longs = 0;
    while (*p == 'l' || *p == 'z') {
      longs++;
      p++;
    }
    switch (*p) {
      case 's':
        fb_puts(b, va_arg(ap, const char *));
        break;
      case 'd':
      case 'i':
        fb_puti(b, longs ? va_arg(ap, long) : va_arg(ap, int));
        break;
      case 'u':
        fb_putu(b, longs ? va_arg(ap, unsigned long) : va_arg(ap, unsigned));
        break;
      case 'x':
        fb_puthex(b, longs ? va_arg(ap, unsigned long) : va_arg(ap, unsigned), 1);
        break;
      case 'c':
        fb_putc(b, (char)va_arg(ap, int));
        break;
      case '%':
        fb_putc(b, '%');
        break;
      case 0:
        return;
      default:
        fb_putc(b, '?');
    }
  }
}

void fb_format(struct fbuf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fb_vformat(b, fmt, ap);
  va_end(ap);
}

const char *file_errno_name(long err) {
  if (err < 0) err = -err;
  switch (err) {
    case ENOENT: return "no such file or directory";
    case EACCES: return "permission denied";
    case EPERM: return "operation not permitted";
    case EISDIR: return "is a directory";
    case ENOTDIR: return "a path component is not a directory";
    case ENXIO: return "no such device or address";
    case ELOOP: return "too many symbolic links";
    case ENAMETOOLONG: return "path too long";
    case EROFS: return "read-only file system";
    case ETXTBSY: return "text file busy";
    case EINVAL: return "invalid argument";
    case ENOSPC: return "no space left on device";
    case EMFILE: return "too many open files";
    case EEXIST: return "file exists";
    case EBADF: return "bad file descriptor";
    case ENODEV: return "no such device";
    case ENOMEM: return "out of memory";
    default: return "error";
  }
}

void file_log_to(int fd) { log_fd = fd; }

static void vlog(const char *fmt, va_list ap) {
  char buf[FILE_PATH_CAP + 512];
  struct fbuf b;
  fb_init(&b, buf, sizeof buf - 1);
  fb_puts(&b, "dmtcp file: ");
  fb_vformat(&b, fmt, ap);
  /* A long path must not eat the newline that ends the message. */
  b.buf[b.len++] = '\n';
  fs_write(log_fd, b.buf, b.len);
}

void file_log(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vlog(fmt, ap);
  va_end(ap);
}

void file_debug(const char *fmt, ...) {
  if (!g_file_settings.debug) return;
  va_list ap;
  va_start(ap, fmt);
  vlog(fmt, ap);
  va_end(ap);
}
