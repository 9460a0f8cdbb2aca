/* System calls libc would give (its versions may take locks or be wrapped),
 * the process's descriptor list, logging.  Safe at checkpoint time. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <sys/un.h>

#include "dmtcp/debug.h"
#include "dmtcp/fds.h"
#include "dmtcp/fmt.h"
#include "dmtcp/sys.h"
#include "socket_plugin.h"

long socket_sys_listen(int fd, int backlog) { return sys_call2(__NR_listen, fd, backlog); }

long socket_sys_getsockname(int fd, void *addr, unsigned *len) {
  return sys_call3(__NR_getsockname, fd, SYS_ARG(addr), SYS_ARG(len));
}

long socket_sys_getpeername(int fd, void *addr, unsigned *len) {
  return sys_call3(__NR_getpeername, fd, SYS_ARG(addr), SYS_ARG(len));
}

long socket_sys_socketpair(int domain, int type, int proto, int sv[2]) {
  return sys_call4(__NR_socketpair, domain, type, proto, SYS_ARG(sv));
}

long socket_sys_accept4(int fd, int flags) { return sys_call4(__NR_accept4, fd, 0, 0, flags); }

int socket_getint(int fd, int level, int name, int *out) {
  unsigned len = sizeof *out;
  *out = 0;
  return sys_getsockopt(fd, level, name, out, &len) < 0 ? -1 : 0;
}

long socket_install(long tmp, int fd, int cloexec) {
  if (tmp < 0) return tmp;
  if (tmp == fd) {
    long r = sys_fcntl(fd, F_SETFD, cloexec ? FD_CLOEXEC : 0);
    return r < 0 ? r : 0;
  }
  long r = sys_dup3((int)tmp, fd, cloexec ? O_CLOEXEC : 0);
  sys_close((int)tmp);
  return r < 0 ? r : 0;
}

const char *socket_errno_name(long err) {
  if (err < 0) err = -err;
  switch (err) {
    case EADDRINUSE: return "address in use";
    case EADDRNOTAVAIL: return "address not available on this host";
    case EACCES: return "permission denied";
    case EPERM: return "operation not permitted";
    case EAFNOSUPPORT: return "address family not supported";
    case EINVAL: return "invalid argument";
    case EMFILE: return "too many open files";
    case ENOENT: return "no such file or directory";
    case ECONNREFUSED: return "connection refused";
    default: return "error";
  }
}

static void vlog(const char *fmt, va_list ap) {
  char buf[512];
  dmtcp_vlog_to(2, "socket", buf, sizeof buf, fmt, ap);
}

void socket_log(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vlog(fmt, ap);
  va_end(ap);
}

void socket_debug(const char *fmt, ...) {
  if (!dmtcp_debug()) return;
  va_list ap;
  va_start(ap, fmt);
  vlog(fmt, ap);
  va_end(ap);
}

const char *socket_addr_str(const struct socket_rec *r, char *buf, size_t cap) {
  return socket_sockaddr_str(&r->addr, r->addrlen, buf, cap);
}

const char *socket_sockaddr_str(const struct sockaddr_storage *ss, unsigned addrlen, char *buf, size_t cap) {
  struct sbuf sb;
  sb_init(&sb, buf, cap);
  if (ss->ss_family == AF_INET) {
    const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
    const unsigned char *a = (const unsigned char *)&in->sin_addr;
    sb_format(&sb, "%u.%u.%u.%u:%u", a[0], a[1], a[2], a[3], (unsigned)ntohs(in->sin_port));
  } else if (ss->ss_family == AF_INET6) {
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
    const unsigned char *a = (const unsigned char *)&in6->sin6_addr;
    sb_putc(&sb, '[');
    for (int i = 0; i < 16; i += 2) {
      if (i) sb_putc(&sb, ':');
      sb_putx(&sb, (uint64_t)((a[i] << 8) | a[i + 1]), 0);
    }
    sb_format(&sb, "]:%u", (unsigned)ntohs(in6->sin6_port));
  } else if (ss->ss_family == AF_UNIX) {
    const struct sockaddr_un *un = (const struct sockaddr_un *)ss;
    size_t n = addrlen > sizeof(sa_family_t) ? addrlen - sizeof(sa_family_t) : 0;
    if (n == 0) sb_puts(&sb, "(unnamed)");
    else if (un->sun_path[0] == 0) {
      sb_putc(&sb, '@');
      sb_putn(&sb, un->sun_path + 1, n - 1);
    } else sb_puts(&sb, un->sun_path);
  } else {
    sb_format(&sb, "(family %d)", (int)ss->ss_family);
  }
  return sb_cstr(&sb);
}

struct linux_dirent64_ {
  uint64_t d_ino;
  int64_t d_off;
  unsigned short d_reclen;
  unsigned char d_type;
  char d_name[];
};

size_t socket_list_fds(int *out, size_t cap) {
  long dir = sys_open("/proc/thread-self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
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
      if ((long)v == dir || dmtcp_fd_protected((long)v)) continue;
      if (n < cap) out[n++] = (int)v;
    }
  }
  sys_close((int)dir);
  return n;
}

long socket_sys_sendto(int fd, const void *buf, size_t n, int flags) {
  return sys_call6(__NR_sendto, fd, SYS_ARG(buf), (long)n, flags, 0, 0);
}

long socket_sys_recvfrom(int fd, void *buf, size_t n, int flags) {
  return sys_call6(__NR_recvfrom, fd, SYS_ARG(buf), (long)n, flags, 0, 0);
}

long socket_loopback_listener(int domain, struct sockaddr_storage *a, unsigned *alen) {
  long l = sys_socket(domain, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (l < 0) return l;
  for (size_t i = 0; i < sizeof *a; i++) ((char *)a)[i] = 0;
  a->ss_family = (sa_family_t)domain;
  if (domain == AF_INET) {
    ((struct sockaddr_in *)a)->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    *alen = sizeof(struct sockaddr_in);
  } else if (domain == AF_INET6) {
    ((struct sockaddr_in6 *)a)->sin6_addr = in6addr_loopback;
    *alen = sizeof(struct sockaddr_in6);
  } else {
    *alen = sizeof(sa_family_t); /* the kernel picks an abstract name */
  }
  long e = sys_bind((int)l, a, *alen);
  if (e == 0) e = socket_sys_listen((int)l, 8);
  *alen = sizeof *a;
  if (e == 0) e = socket_sys_getsockname((int)l, a, alen);
  if (e < 0) {
    sys_close((int)l);
    return e;
  }
  return l;
}
