/* The application's descriptors at checkpoint time, each with its kind, for
 * the coordinator to compare with the kinds the loaded plugins restore.
 * Runs with every user thread suspended: raw syscalls, mmap'd scratch. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "dmtcp/records.h"
#include "runtime.h"

/* Read once at load: the environment may be changed by the program later,
 * and a restarted process keeps the value in its image. */
static int strict_mode;

__attribute__((constructor)) static void fdlist_read_env(void) {
  const char *v = getenv(DMTCP_ENV_STRICT);
  strict_mode = v && v[0] == '1';
}

struct linux_dirent64 {
  uint64_t ino;
  int64_t off;
  unsigned short reclen;
  unsigned char type;
  char name[];
};

static int starts(const char *s, const char *prefix) { return strncmp(s, prefix, strlen(prefix)) == 0; }

/* The names are those of DMTCP_FD_KINDS. */
static const char *anon_kind(const char *what) {
  static const struct {
    const char *link, *kind;
  } table[] = {
      {"[eventpoll]", "epoll"},     {"[eventfd]", "eventfd"},         {"[signalfd]", "signalfd"},
      {"inotify", "inotify"},       {"[timerfd]", "timerfd"},         {"[io_uring]", "io_uring"},
      {"[userfaultfd]", "userfaultfd"}, {"[pidfd]", "pidfd"},         {"[perf_event]", "perf_event"},
      {"[fanotify]", "fanotify"},
  };
  for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
    if (strcmp(what, table[i].link) == 0) return table[i].kind;
  if (starts(what, "bpf")) return "bpf";
  return "anon";
}

static const char *fd_kind(int fd, const char *link) {
  if (starts(link, "socket:")) return "socket";
  if (starts(link, "pipe:")) return "pipe";
  if (starts(link, "anon_inode:")) return anon_kind(link + 11);
  if (starts(link, "pidfd:")) return "pidfd"; /* pidfs kernels */
  if (link[0] != '/') return "other";        /* net:[...] and other namespaces */
  if (starts(link, "/memfd:")) return "memfd";
  struct sys_stat st;
  if (sys_fstat(fd, &st) < 0) return "other";
  switch (st.mode & S_IFMT) {
    case S_IFREG: return "file";
    case S_IFDIR: return "directory";
    case S_IFCHR: return "chr";
    case S_IFBLK: return "block";
    case S_IFIFO: return "fifo";
    case S_IFSOCK: return "socket";
    default: return "other";
  }
}

static int parse_fd(const char *s) {
  uint64_t v;
  long n = fmt_parse_dec(s, (size_t)-1, &v);
  if (n <= 0 || s[n] || v > 0x7fffffff) return -1;
  return (int)v;
}

/* One pass over /proc/self/fd into sb; -1 if the directory cannot be read. */
static int list_into(struct sbuf *sb, const char *image_name, size_t stop_at) {
  long dir = sys_open("/proc/thread-self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
  if (dir < 0) return -1;
  sb_puts(sb, "{" DMTCP_JSON_KEY(DMTCP_SUSPENDED_IMAGE));
  sb_json_str(sb, image_name);
  sb_puts(sb, "," DMTCP_JSON_KEY(DMTCP_SUSPENDED_STRICT));
  sb_puts(sb, strict_mode ? "true" : "false");
  sb_puts(sb, "," DMTCP_JSON_KEY(DMTCP_SUSPENDED_FDS) "[");
  int first = 1, truncated = 0;
  char dents[4096];
  for (;;) {
    long n = sys_call3(__NR_getdents64, dir, (long)dents, sizeof dents);
    if (n <= 0) break;
    for (long off = 0; off < n;) {
      struct linux_dirent64 *d = (struct linux_dirent64 *)(dents + off);
      off += d->reclen;
      int fd = parse_fd(d->name);
      if (fd < 0 || fd == (int)dir) continue;
      if (dmtcp_fd_protected(fd)) continue;
      if (sb->len > stop_at) {
        truncated = 1;
        continue;
      }
      char link[256];
      long l = sys_call4(__NR_readlinkat, dir, (long)d->name, (long)link, sizeof link - 1);
      if (l < 0) continue; /* closed meanwhile */
      link[l] = 0;
      if (!first) sb_putc(sb, ',');
      first = 0;
      sb_putc(sb, '[');
      sb_putu(sb, (uint64_t)fd);
      sb_puts(sb, ",\"");
      sb_puts(sb, fd_kind(fd, link));
      sb_puts(sb, "\"]");
    }
  }
  sys_close((int)dir);
  sb_puts(sb, truncated ? "]," DMTCP_JSON_KEY(DMTCP_SUSPENDED_TRUNCATED) "true}" : "]}");
  return 0;
}

size_t fdlist_record(const char *image_name, char **out, size_t *cap_out) {
  *out = NULL;
  *cap_out = 0;
  /* Most programs fit the first size; a program with very many descriptors
   * is listed up to what one frame carries, and says it was cut. */
  for (size_t cap = 64 * 1024; cap <= DMTCP_MSG_MAX_PAYLOAD; cap *= 4) {
    long a = sys_mmap(0, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (a < 0 && a > -4096) return 0;
    struct sbuf sb;
    sb_init(&sb, (char *)a, cap);
    size_t stop_at = cap == DMTCP_MSG_MAX_PAYLOAD ? cap - 4096 : cap;
    if (list_into(&sb, image_name, stop_at) < 0 || sb.overflow) {
      sys_munmap((uint64_t)a, cap);
      if (!sb.overflow) return 0;
      continue;
    }
    *out = (char *)a;
    *cap_out = cap;
    return sb.len;
  }
  return 0;
}

void fdlist_free(char *buf, size_t cap) {
  if (buf) sys_munmap((uint64_t)(uintptr_t)buf, cap);
}
