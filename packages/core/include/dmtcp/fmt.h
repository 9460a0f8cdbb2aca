/* Bounded text building and number parsing without libc.
 *
 * struct sbuf writes into a caller's buffer: it never writes past cap, keeps
 * the text NUL-terminated (cap >= 1), and sets `overflow` once anything was
 * cut.  Used for JSON payloads, /proc paths and log lines where malloc and
 * stdio may deadlock (threads stopped while holding their locks) or do not
 * exist (the restart program).  The parsers read numbers from /proc text
 * and wire records, bounded by a length as well as by the first non-digit.
 *
 * Safe everywhere: no system calls, no globals; static inline. */
#ifndef DMTCP_FMT_H
#define DMTCP_FMT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

static inline size_t fmt_strlen(const char *s) {
  size_t n = 0;
  while (s[n]) n++;
  return n;
}

struct sbuf {
  char *buf;
  size_t len;
  size_t cap;
  int overflow;
};

static inline void sb_init(struct sbuf *sb, char *buf, size_t cap) {
  sb->buf = buf;
  sb->len = 0;
  sb->cap = cap;
  sb->overflow = 0;
  if (cap) buf[0] = 0;
}

static inline void sb_putc(struct sbuf *sb, char c) {
  if (sb->len + 1 < sb->cap) {
    sb->buf[sb->len++] = c;
    sb->buf[sb->len] = 0;
  } else {
    sb->overflow = 1;
  }
}

static inline void sb_putn(struct sbuf *sb, const char *s, size_t n) {
  for (size_t i = 0; i < n; i++) sb_putc(sb, s[i]);
}

/* NULL is written as "(null)". */
static inline void sb_puts(struct sbuf *sb, const char *s) {
  if (!s) s = "(null)";
  while (*s) sb_putc(sb, *s++);
}

static inline void sb_putu(struct sbuf *sb, uint64_t v) {
  char tmp[20];
  int n = 0;
  do {
    tmp[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  while (n) sb_putc(sb, tmp[--n]);
}

static inline void sb_puti(struct sbuf *sb, int64_t v) {
  if (v < 0) {
    sb_putc(sb, '-');
    sb_putu(sb, (uint64_t)0 - (uint64_t)v);
  } else {
    sb_putu(sb, (uint64_t)v);
  }
}

/* Lower-case hex, zero-padded to at least width digits (at most 16). */
static inline void sb_putx(struct sbuf *sb, uint64_t v, int width) {
  char tmp[16];
  int n = 0;
  do {
    tmp[n++] = "0123456789abcdef"[v & 15];
    v >>= 4;
  } while (v);
  while (n < width && n < 16) tmp[n++] = '0';
  while (n) sb_putc(sb, tmp[--n]);
}

/* s as a JSON string, quotes included: '"' and '\\' escaped, control bytes
 * as \u00XX; other bytes (UTF-8 included) as they are.  Text cut at cap
 * may end inside an escape: a caller that sends it checks `overflow`. */
static inline void sb_json_str(struct sbuf *sb, const char *s) {
  sb_putc(sb, '"');
  for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
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

/* A printf subset: %s %d %i %u %x %p %c %% with l, ll and z modifiers (no
 * widths or flags); anything else is written as '?'. */
static inline void sb_vformat(struct sbuf *sb, const char *fmt, va_list ap) {
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
      case 's':
        sb_puts(sb, va_arg(ap, const char *));
        break;
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
      case 0:
        return;
      default:
        sb_putc(sb, '?');
    }
  }
}

static inline __attribute__((format(printf, 2, 3))) void sb_format(struct sbuf *sb, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  sb_vformat(sb, fmt, ap);
  va_end(ap);
}

static inline const char *sb_cstr(struct sbuf *sb) { return sb->buf; }

/* ---- parsing ----
 * fmt_parse_u64 reads digits of `base` (8, 10 or 16; hex in either case,
 * no "0x" prefix) from at most n bytes of s, stopping at the first byte that
 * is not such a digit (a NUL stops it, so n may be (size_t)-1 for a C
 * string).  Returns the number of digits read, with *out their value; 0
 * when s does not start with a digit (*out = 0); -1 when the value does not
 * fit in 64 bits (*out unchanged). */
static inline int fmt_digit_(char c, unsigned base) {
  int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
  return d >= 0 && (unsigned)d < base ? d : -1;
}

static inline long fmt_parse_u64(const char *s, size_t n, unsigned base, uint64_t *out) {
  uint64_t v = 0;
  size_t i = 0;
  for (; i < n; i++) {
    int d = fmt_digit_(s[i], base);
    if (d < 0) break;
    if (v > (UINT64_MAX - (uint64_t)d) / base) return -1;
    v = v * base + (uint64_t)d;
  }
  *out = v;
  return (long)i;
}
static inline long fmt_parse_dec(const char *s, size_t n, uint64_t *out) { return fmt_parse_u64(s, n, 10, out); }
static inline long fmt_parse_hex(const char *s, size_t n, uint64_t *out) { return fmt_parse_u64(s, n, 16, out); }
static inline long fmt_parse_oct(const char *s, size_t n, uint64_t *out) { return fmt_parse_u64(s, n, 8, out); }

/* A decimal number with an optional '-': the bytes read (sign included),
 * 0 when no digit follows, -1 outside int64_t. */
static inline long fmt_parse_i64(const char *s, size_t n, int64_t *out) {
  int neg = n > 0 && s[0] == '-';
  uint64_t u;
  long k = fmt_parse_dec(s + neg, n - (size_t)neg, &u);
  if (k <= 0) {
    if (k == 0) *out = 0;
    return k;
  }
  if (u > (uint64_t)INT64_MAX + (uint64_t)neg) return -1;
  *out = neg ? (int64_t)((uint64_t)0 - u) : (int64_t)u;
  return k + neg;
}

#endif
