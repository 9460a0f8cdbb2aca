/* Talking to the coordinator: framing per protocol.h over TCP with
 * TCP_NODELAY (a barrier is one small frame each way; Nagle would add tens of
 * milliseconds to every checkpoint). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "runtime.h"

static struct sockaddr_in coord_addr;
uint32_t g_last_release_extra;
uint32_t g_last_release_len;

int coord_set_address(const char *host, int port) {
  memset(&coord_addr, 0, sizeof coord_addr);
  coord_addr.sin_family = AF_INET;
  coord_addr.sin_port = htons((uint16_t)port);
  if (!host || !*host || strcmp(host, "localhost") == 0) host = "127.0.0.1";
  return inet_pton(AF_INET, host, &coord_addr.sin_addr) == 1 ? 0 : -1;
}

int coord_connect(void) {
  /* Raw calls (no plugin's wrapper sees the runtime's socket); errno is set
   * on failure for the callers' messages. */
  long fd = sys_socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    errno = (int)-fd;
    return -1;
  }
  int one = 1;
  sys_setsockopt((int)fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  long r;
  do r = sys_connect((int)fd, &coord_addr, sizeof coord_addr);
  while (r == -EINTR);
  if (r < 0) {
    sys_close((int)fd);
    errno = (int)-r;
    return -1;
  }
  return (int)fd;
}

static int write_all(int fd, struct iovec *iov, int n) {
  while (n > 0) {
    long w = sys_writev(fd, iov, n);
    if (w < 0) {
      if (w == -EINTR) continue;
      errno = (int)-w;
      return -1;
    }
    while (n > 0 && (size_t)w >= iov->iov_len) {
      w -= (ssize_t)iov->iov_len;
      iov++;
      n--;
    }
    if (n > 0) {
      iov->iov_base = (char *)iov->iov_base + w;
      iov->iov_len -= (size_t)w;
    }
  }
  return 0;
}

int coord_send(int fd, int type, uint32_t extra, const char *name, const void *payload, size_t len) {
  struct dmtcp_msg_hdr h;
  memset(&h, 0, sizeof h);
  h.magic = DMTCP_MSG_MAGIC;
  h.version = DMTCP_PROTOCOL_VERSION;
  h.type = (uint16_t)type;
  h.payload_len = (uint32_t)len;
  h.extra = extra;
  h.generation = g_rt.generation;
  h.upid = g_rt.upid;
  h.comp_id = g_rt.comp_id;
  if (name) strncpy(h.name, name, sizeof h.name - 1);
  struct iovec iov[2] = {{&h, sizeof h}, {(void *)payload, len}};
  return write_all(fd, iov, len ? 2 : 1);
}

static int read_all(int fd, void *buf, size_t n) {
  char *p = buf;
  while (n > 0) {
    long r = sys_read(fd, p, n);
    if (r == -EINTR) continue;
    if (r <= 0) {
      errno = r < 0 ? (int)-r : ECONNRESET; /* 0: the coordinator went away */
      return -1;
    }
    p += r;
    n -= (size_t)r;
  }
  return 0;
}

int coord_recv(int fd, struct msg *m, char *buf, size_t cap) {
  if (read_all(fd, &m->hdr, sizeof m->hdr) < 0) return -1;
  if (m->hdr.magic != DMTCP_MSG_MAGIC || m->hdr.version != DMTCP_PROTOCOL_VERSION) {
    log_msg("bad frame from coordinator (magic %x, version %u)", m->hdr.magic, m->hdr.version);
    return -1;
  }
  uint32_t len = m->hdr.payload_len;
  /* Text payloads get a NUL when there is room; binary ones may fill the buffer. */
  size_t keep = len < cap ? len : cap;
  if (keep && read_all(fd, buf, keep) < 0) return -1;
  for (uint32_t left = len - (uint32_t)keep; left > 0;) {
    char sink[256];
    uint32_t chunk = left < sizeof sink ? left : (uint32_t)sizeof sink;
    if (read_all(fd, sink, chunk) < 0) return -1;
    left -= chunk;
  }
  if (buf && keep < cap) buf[keep] = 0;
  m->payload = buf;
  m->payload_len = (uint32_t)keep;
  return 0;
}

static void hello_payload(struct sbuf *sb, int kind, uint64_t parent_upid) {
  static const char *kinds[] = {"launch", "fork", "exec", "restart"};
  struct utsname uts;
  const char *host = sys_uname(&uts) == 0 ? uts.nodename : "";
  sb_puts(sb, "{\"kind\":\"");
  sb_puts(sb, kinds[kind & 3]);
  sb_puts(sb, "\",\"pid\":");
  sb_putu(sb, (uint64_t)sys_getpid());
  sb_puts(sb, ",\"ppid\":");
  sb_putu(sb, (uint64_t)sys_call0(__NR_getppid));
  sb_puts(sb, ",\"host\":");
  sb_json_str(sb, host);
  const char *prog = g_rt.argc > 0 && g_rt.argv && g_rt.argv[0] ? g_rt.argv[0] : "?";
  const char *slash = strrchr(prog, '/');
  sb_puts(sb, ",\"prog\":");
  sb_json_str(sb, slash ? slash + 1 : prog);
  sb_puts(sb, ",\"argv\":[");
  for (int i = 0; i < g_rt.argc && g_rt.argv && g_rt.argv[i]; i++) {
    if (i) sb_putc(sb, ',');
    sb_json_str(sb, g_rt.argv[i]);
  }
  /* Every preloaded plugin, including those that only wrap functions: the
   * coordinator loads the TypeScript half of each. */
  sb_puts(sb, "],\"plugins\":[");
  int first = 1;
  for (const char *p = g_rt.preload; *p;) {
    const char *end = strchr(p, ':');
    size_t n = end ? (size_t)(end - p) : strlen(p);
    char lib[1024];
    if (n > 0 && n < sizeof lib) {
      memcpy(lib, p, n);
      lib[n] = 0;
      const char *base = strrchr(lib, '/');
      if (strcmp(base ? base + 1 : lib, "libdmtcp.so") != 0) {
        if (!first) sb_putc(sb, ',');
        first = 0;
        sb_json_str(sb, lib);
      }
    }
    p += n;
    if (*p == ':') p++;
  }
  sb_puts(sb, "],\"ckptdir\":");
  sb_json_str(sb, g_rt.ckpt_dir);
  if (parent_upid) {
    sb_puts(sb, ",\"parent_upid\":\"");
    sb_putx(sb, parent_upid, 16);
    sb_putc(sb, '"');
  }
  if (kind == DMTCP_HELLO_RESTART) {
    sb_puts(sb, ",\"num_peers\":");
    sb_putu(sb, g_rt.num_peers);
    sb_puts(sb, ",\"image\":");
    sb_json_str(sb, g_restart_info.image_path);
  }
  if (g_rt.interval > 0) {
    sb_puts(sb, ",\"interval\":");
    sb_putu(sb, (uint64_t)g_rt.interval);
  }
  sb_putc(sb, '}');
}

/* Registers on fd and waits for ACCEPT (or REJECT). */
int coord_hello(int fd, int kind, uint64_t parent_upid, struct msg *reply, char *buf, size_t cap) {
  char payload[8192];
  struct sbuf sb;
  sb_init(&sb, payload, sizeof payload);
  hello_payload(&sb, kind, parent_upid);
  uint64_t saved_upid = g_rt.upid;
  if (kind == DMTCP_HELLO_FORK) g_rt.upid = 0;
  int r = coord_send(fd, DMT_HELLO, (uint32_t)kind, NULL, payload, sb.len);
  g_rt.upid = saved_upid;
  if (r < 0) return -1;
  for (;;) {
    if (coord_recv(fd, reply, buf, cap) < 0) return -1;
    if (reply->hdr.type == DMT_ACCEPT) return 0;
    if (reply->hdr.type == DMT_REJECT) {
      if (cap) buf[cap - 1] = 0;
      log_msg("coordinator refused this process: %s", reply->payload ? reply->payload : "");
      return -1;
    }
  }
}

int coord_barrier(const char *name, const char *record, size_t len, char *reply_buf, size_t cap) {
  char dummy[64];
  if (!reply_buf) {
    reply_buf = dummy;
    cap = sizeof dummy;
  }
  if (coord_send(DMTCP_COORD_FD, DMT_BARRIER, 0, name, record, len) < 0) return -1;
  for (;;) {
    struct msg m;
    if (coord_recv(DMTCP_COORD_FD, &m, reply_buf, cap) < 0) return -1;
    if (m.hdr.type == DMT_BARRIER_RELEASED && strncmp(m.hdr.name, name, sizeof m.hdr.name) == 0) {
      g_last_release_extra = m.hdr.extra;
      g_last_release_len = m.hdr.payload_len;
      return 0;
    }
    if (m.hdr.type == DMT_ROUND_FAILED) return -1;
    if (m.hdr.type == DMT_KILL) sys_call2(__NR_kill, sys_getpid(), SIGKILL);
    LOG_DEBUG("ignoring message %u while waiting for barrier %s", m.hdr.type, name);
  }
}
