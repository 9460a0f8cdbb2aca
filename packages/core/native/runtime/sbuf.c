/* Bounded text building: used for JSON payloads and log lines on paths where
 * malloc and stdio may deadlock (threads suspended while holding their locks). */
#include "runtime.h"

void sb_init(struct sbuf *sb, char *buf, size_t cap) {
  sb->buf = buf;
  sb->len = 0;
  sb->cap = cap;
  sb->overflow = 0;
  if (cap) buf[0] = 0;
}

void sb_putc(struct sbuf *sb, char c) {
  if (sb->len + 1 < sb->cap) {
    sb->buf[sb->len++] = c;
    sb->buf[sb->len] = 0;
  } else {
    sb->overflow = 1;
  }
}

void sb_putn(struct sbuf *sb, const char *s, size_t n) {
  for (size_t i = 0; i < n; i++) sb_putc(sb, s[i]);
}

void sb_puts(struct sbuf *sb, const char *s) { sb_putn(sb, s, sys_strlen(s)); }

void sb_putu(struct sbuf *sb, uint64_t v) {
  char tmp[24];
  int n = 0;
  do {
    tmp[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  while (n) sb_putc(sb, tmp[--n]);
}

void sb_puti(struct sbuf *sb, int64_t v) {
  if (v < 0) {
    sb_putc(sb, '-');
    sb_putu(sb, (uint64_t)(-(v + 1)) + 1);
  } else {
    sb_putu(sb, (uint64_t)v);
  }
}

void sb_putx(struct sbuf *sb, uint64_t v, int width) {
  char tmp[16];
  int n = 0;
  do {
    tmp[n++] = "0123456789abcdef"[v & 15];
    v >>= 4;
  } while (v);
  while (n < width) tmp[n++] = '0';
  while (n) sb_putc(sb, tmp[--n]);
}

void sb_json_str(struct sbuf *sb, const char *s) {
  sb_putc(sb, '"');
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (*p == '"' || *p == '\\') {
      sb_putc(sb, '\\');
      sb_putc(sb, (char)*p);
    } else if (*p < 0x20) {
      sb_puts(sb, "\\u00");
      sb_putx(sb, *p, 2);
    } else {
      sb_putc(sb, (char)*p);
    }
  }
  sb_putc(sb, '"');
}

/* printf subset: %s %d %i %u %x %p %c %% with l/ll/z modifiers. */
void sb_vformat(struct sbuf *sb, const char *fmt, va_list ap) {
  for (const char *p = fmt; *p; p++) {
    if (*p != '%') {
      sb_putc(sb, *p);
      continue;
    }
    p++;
    int longs = 0;
    while (*p == 'l' || *p == 'z') {
      longs++;
      p++;
    }
    switch (*p) {
      case 's': {
        const char *s = va_arg(ap, const char *);
        sb_puts(sb, s ? s : "(null)");
        break;
      }
      case 'd':
      case 'i':
        sb_puti(sb, longs ? va_arg(ap, long) : va_arg(ap, int));
        break;
      case 'u':
        sb_putu(sb, longs ? va_arg(ap, unsigned long) : va_arg(ap, unsigned int));
        break;
      case 'x':
        sb_putx(sb, longs ? va_arg(ap, unsigned long) : va_arg(ap, unsigned int), 1);
        break;
      case 'p':
        sb_puts(sb, "0x");
        sb_putx(sb, (uint64_t)(uintptr_t)va_arg(ap, void *), 1);
        break;
      case 'c':
        sb_putc(sb, (char)va_arg(ap, int));
        break;
      case '%':
        sb_putc(sb, '%');
        break;
      default:
        sb_putc(sb, '?');
        if (!*p) return;
    }
  }
}

const char *sb_cstr(struct sbuf *sb) { return sb->buf; }
