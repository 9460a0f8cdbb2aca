/* Writes the checkpoint image of this process (layout in dmtcp/image.h).
 * Runs in a copy-on-write child of the checkpoint thread (or, failing that,
 * in the checkpoint thread with every other thread suspended): no malloc, no
 * stdio.  Scratch memory comes from mmap and is left out of the image
 * because it is created after /proc/self/maps is read, except for the buffer
 * holding the maps text itself, which is skipped by address. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "runtime.h"

#define PAGE DMTCP_PAGE_SIZE
#define PM_PRESENT (1ULL << 63)
#define PM_SWAP (1ULL << 62)
#define PM_FILE (1ULL << 61)
#define SCAN_CHUNK 65536 /* pages per pagemap read */

/* Why the last image_write in this process failed (an errno value), so that
 * the coordinator can say it rather than only that the write failed. */
static int write_errno;

static int fail_with(int err) {
  if (!write_errno) write_errno = err > 0 ? err : EIO;
  return WRITE_FAILED;
}

enum policy { POL_SKIP, POL_NONE, POL_ANON, POL_SHARED_ANON, POL_FILE_PRIVATE, POL_ALL };

struct scratch {
  void *addr;
  size_t len;
};

static int scratch_map(struct scratch *s, size_t len, int share) {
  len = (len + PAGE - 1) & ~(size_t)(PAGE - 1);
  long a = sys_mmap(0, len, PROT_READ | PROT_WRITE, share | MAP_ANONYMOUS, -1, 0);
  if (a < 0 && a > -4096) return -1;
  s->addr = (void *)a;
  s->len = len;
  return 0;
}

static int scratch_alloc(struct scratch *s, size_t len) { return scratch_map(s, len, MAP_PRIVATE); }

static int scratch_grow(struct scratch *s, size_t len) {
  len = (len + PAGE - 1) & ~(size_t)(PAGE - 1);
  long a = sys_mremap((uint64_t)s->addr, s->len, len, MREMAP_MAYMOVE, 0);
  if (a < 0 && a > -4096) return -1;
  s->addr = (void *)a;
  s->len = len;
  return 0;
}

static void scratch_free(struct scratch *s) {
  if (s->addr) sys_munmap((uint64_t)s->addr, s->len);
  s->addr = NULL;
}

/* Reads all of /proc/self/smaps (or, where that cannot be read, maps);
 * returns its length or -1. */
static long read_maps(struct scratch *buf) {
  const char *path = "/proc/thread-self/smaps";
  for (;;) {
    int fd = (int)sys_open(path, O_RDONLY | O_CLOEXEC, 0);
    if (fd < 0 && path[11] == 's') {
      path = "/proc/thread-self/maps";
      continue;
    }
    if (fd < 0) return -1;
    size_t len = 0;
    long r;
    while ((r = sys_read(fd, (char *)buf->addr + len, buf->len - len - 1)) > 0) {
      len += (size_t)r;
      if (len + 1 >= buf->len) break;
    }
    sys_close(fd);
    if (r < 0) return -1;
    if (len + 1 < buf->len) {
      ((char *)buf->addr)[len] = 0;
      return (long)len;
    }
    /* Growing the buffer changes the maps themselves; read again. */
    if (scratch_grow(buf, buf->len * 2) < 0) return -1;
  }
}

struct map_line {
  uint64_t start, end, offset, inode;
  char perms[5];
  const char *path; /* NUL-terminated inside the maps buffer, "" if none */
};

static uint64_t parse_num(const char **p, unsigned base) {
  uint64_t v = 0;
  long n = fmt_parse_u64(*p, (size_t)-1, base, &v);
  if (n > 0) *p += n;
  return v;
}

/* Parses one line in place (writes a NUL at its end); returns the next line. */
static char *parse_line(char *s, struct map_line *ml) {
  const char *p = s;
  ml->start = parse_num(&p, 16);
  p++;
  ml->end = parse_num(&p, 16);
  p++;
  memcpy(ml->perms, p, 4);
  ml->perms[4] = 0;
  p += 5;
  ml->offset = parse_num(&p, 16);
  p++;
  while (*p && *p != ' ') p++; /* device */
  p++;
  ml->inode = parse_num(&p, 10);
  while (*p == ' ') p++;
  ml->path = p;
  char *nl = strchr(p, '\n');
  if (!nl) return NULL;
  *nl = 0;
  return nl + 1;
}

/* What smaps adds to a maps line: pages in memory or swap, and whether the
 * region is charged against the commit limit (VmFlags "ac"). */
struct smaps_info {
  int known;
  uint64_t rss_kb, swap_kb;
  int accounted;
};

static uint64_t parse_kb(const char *p) {
  while (*p == ' ') p++;
  return parse_num(&p, 10);
}

/* Consumes the "Key: value" lines after a region's line; returns the next
 * region's line. */
static char *parse_smaps_keys(char *s, struct smaps_info *si) {
  memset(si, 0, sizeof *si);
  while (s && *s >= 'A' && *s <= 'Z') {
    char *nl = strchr(s, '\n');
    if (nl) *nl = 0;
    si->known = 1;
    if (strncmp(s, "Rss:", 4) == 0) si->rss_kb = parse_kb(s + 4);
    else if (strncmp(s, "Swap:", 5) == 0) si->swap_kb = parse_kb(s + 5);
    else if (strncmp(s, "VmFlags:", 8) == 0) {
      for (const char *p = s + 8; *p; p++)
        if (p[0] == 'a' && p[1] == 'c' && (p[2] == ' ' || p[2] == 0) && p[-1] == ' ') si->accounted = 1;
    }
    s = nl ? nl + 1 : NULL;
  }
  return s;
}

static int ends_with(const char *s, const char *suffix) {
  size_t a = strlen(s), b = strlen(suffix);
  return a >= b && memcmp(s + a - b, suffix, b) == 0;
}

static int is_zero_page(const void *p) {
  const uint64_t *w = p;
  uint64_t acc = 0;
  for (int i = 0; i < PAGE / 8; i++) acc |= w[i];
  return acc == 0;
}

static uint64_t main_stack_sp(void) {
  for (int i = 0; i < threads_used(); i++)
    if (g_threads[i].kind == TK_MAIN && atomic_load(&g_threads[i].state) == T_SUSPENDED) return g_threads[i].ctx.rsp;
  return 0;
}

struct builder {
  struct dmtcp_image_region *regions;
  uint32_t nregions;
  struct scratch runs_mem;
  struct dmtcp_image_run *runs;
  uint32_t nruns;
  char *strings;
  size_t strings_len;
  int pagemap_fd;
  uint64_t *pm_buf;
  unsigned char *mc_buf;
  uint64_t data_bytes;
};

static int add_page(struct builder *b, struct dmtcp_image_region *r, uint64_t addr) {
  if (r->num_runs > 0) {
    struct dmtcp_image_run *last = &b->runs[b->nruns - 1];
    if (last->addr + last->len == addr) {
      last->len += PAGE;
      b->data_bytes += PAGE;
      return 0;
    }
  }
  if ((size_t)(b->nruns + 1) * sizeof *b->runs > b->runs_mem.len) {
    if (scratch_grow(&b->runs_mem, b->runs_mem.len * 2) < 0) return -1;
    b->runs = b->runs_mem.addr;
  }
  if (r->num_runs == 0) r->first_run = b->nruns;
  b->runs[b->nruns++] = (struct dmtcp_image_run){addr, PAGE, 0};
  r->num_runs++;
  b->data_bytes += PAGE;
  return 0;
}

/* Decides page by page what to save, without touching unpopulated pages. */
static int scan_region(struct builder *b, struct dmtcp_image_region *r, enum policy pol) {
  uint64_t npages = (r->end - r->start) / PAGE;
  int unreadable = !(r->prot & PROT_READ);
  for (uint64_t first = 0; first < npages; first += SCAN_CHUNK) {
    uint64_t n = npages - first < SCAN_CHUNK ? npages - first : SCAN_CHUNK;
    uint64_t base = r->start + first * PAGE;
    if (pol == POL_SHARED_ANON) {
      if (sys_call3(__NR_mincore, (long)base, (long)(n * PAGE), (long)b->mc_buf) < 0) return -1;
    } else if (pol != POL_ALL) {
      long got = sys_pread(b->pagemap_fd, b->pm_buf, n * 8, (base / PAGE) * 8);
      if (got != (long)(n * 8)) return -1;
    }
    int opened = 0;
    for (uint64_t i = 0; i < n; i++) {
      uint64_t addr = base + i * PAGE;
      int keep, check_zero = 1;
      switch (pol) {
        case POL_ANON:
          keep = (b->pm_buf[i] & (PM_PRESENT | PM_SWAP)) != 0;
          break;
        case POL_SHARED_ANON:
          keep = b->mc_buf[i] & 1;
          break;
        case POL_FILE_PRIVATE:
          /* Only pages the process modified differ from the file. */
          keep = (b->pm_buf[i] & PM_SWAP) || ((b->pm_buf[i] & PM_PRESENT) && !(b->pm_buf[i] & PM_FILE));
          check_zero = 0;
          break;
        default:
          keep = 1;
      }
      if (!keep) continue;
      if (unreadable && !opened) {
        sys_mprotect(base, n * PAGE, r->prot | PROT_READ);
        opened = 1;
      }
      if (check_zero && is_zero_page((void *)addr)) continue;
      if (add_page(b, r, addr) < 0) return -1;
    }
    if (opened) sys_mprotect(base, n * PAGE, (int)r->prot);
  }
  return 0;
}

static uint32_t add_string(struct builder *b, const char *s) {
  uint32_t off = (uint32_t)b->strings_len;
  size_t n = strlen(s);
  memcpy(b->strings + b->strings_len, s, n + 1);
  b->strings_len += n + 1;
  return off;
}

static enum policy classify(const struct map_line *ml, struct dmtcp_image_region *r, char *path, size_t cap,
                            uint64_t skip_start, uint64_t skip_end, uint64_t main_sp) {
  const char *p = ml->path;
  int shared = ml->perms[3] == 's';
  r->start = ml->start;
  r->end = ml->end;
  r->file_offset = ml->offset;
  r->prot = (ml->perms[0] == 'r' ? PROT_READ : 0) | (ml->perms[1] == 'w' ? PROT_WRITE : 0) |
            (ml->perms[2] == 'x' ? PROT_EXEC : 0);
  r->flags = shared ? DMTCP_REGION_SHARED : 0;
  r->path_offset = 0xffffffffu;
  path[0] = 0;
  if (ml->start == skip_start && ml->end == skip_end) return POL_SKIP;
  if (strcmp(p, "[vsyscall]") == 0) return POL_SKIP;
  if (strcmp(p, "[vdso]") == 0) {
    r->flags |= DMTCP_REGION_VDSO;
    return POL_NONE;
  }
  if (strncmp(p, "[vvar", 5) == 0) {
    r->flags |= DMTCP_REGION_VVAR;
    return POL_NONE;
  }
  if (strcmp(p, "[heap]") == 0) r->flags |= DMTCP_REGION_HEAP;
  if (strcmp(p, "[stack]") == 0 || (main_sp >= ml->start && main_sp < ml->end)) r->flags |= DMTCP_REGION_GROWSDOWN;
  if (p[0] == '[' && strncmp(p, "[anon", 5) != 0 && strcmp(p, "[heap]") != 0 && strcmp(p, "[stack]") != 0) {
    LOG_DEBUG("skipping special mapping %s", p);
    return POL_SKIP;
  }
  if (p[0] != '/') return shared ? POL_SHARED_ANON : POL_ANON;
  /* Memory the restart mapped lazily from the image it came from: it is
   * anonymous memory whose pages may not have been read in yet. */
  if (!shared && g_rt.is_restart && ml->inode == g_restart_info.image_ino && strstr(p, ".dmtcp")) {
    r->flags |= DMTCP_REGION_ALL_DATA;
    return POL_ALL;
  }

  size_t n = strlen(p);
  if (n >= cap) n = cap - 1;
  memcpy(path, p, n);
  path[n] = 0;
  int deleted = ends_with(path, " (deleted)");
  if (deleted) path[n - 10] = 0;
  struct sys_stat st;
  long fd = deleted ? -1 : sys_open(path, O_PATH | O_CLOEXEC, 0);
  int same = 0;
  if (fd >= 0) {
    same = sys_fstat((int)fd, &st) == 0 && st.ino == ml->inode;
    sys_close((int)fd);
  }
  if (!same) {
    /* The file is gone or replaced: the memory itself is the only copy. */
    if (shared) return POL_SHARED_ANON;
    r->flags |= DMTCP_REGION_ALL_DATA;
    return POL_ALL;
  }
  r->flags |= DMTCP_REGION_FILE;
  r->file_size = (uint64_t)st.size;
  r->file_mtime_ns = st.mtime_s * 1000000000ULL + st.mtime_ns;
  r->file_ino = st.ino;
  return shared ? POL_NONE : POL_FILE_PRIVATE;
}

static void json_region(struct sbuf *sb, const struct dmtcp_image_region *r, const struct builder *b) {
  sb_puts(sb, "{\"start\":\"0x");
  sb_putx(sb, r->start, 1);
  sb_puts(sb, "\",\"end\":\"0x");
  sb_putx(sb, r->end, 1);
  sb_puts(sb, "\",\"prot\":\"");
  sb_putc(sb, r->prot & PROT_READ ? 'r' : '-');
  sb_putc(sb, r->prot & PROT_WRITE ? 'w' : '-');
  sb_putc(sb, r->prot & PROT_EXEC ? 'x' : '-');
  sb_putc(sb, r->flags & DMTCP_REGION_SHARED ? 's' : 'p');
  sb_puts(sb, "\",\"path\":");
  sb_json_str(sb, r->path_offset == 0xffffffffu ? "" : b->strings + r->path_offset);
  sb_puts(sb, ",\"flags\":[");
  static const char *names[] = {"shared", "file", "growsdown", "heap", "vdso", "vvar", "all_data", "noreserve"};
  int first = 1;
  for (int i = 0; i < 8; i++) {
    if (!(r->flags & (1u << i))) continue;
    if (!first) sb_putc(sb, ',');
    first = 0;
    sb_putc(sb, '"');
    sb_puts(sb, names[i]);
    sb_putc(sb, '"');
  }
  uint64_t saved = 0;
  for (uint32_t i = 0; i < r->num_runs; i++) saved += b->runs[r->first_run + i].len;
  sb_puts(sb, "],\"saved_bytes\":");
  sb_putu(sb, saved);
  sb_putc(sb, '}');
}

static void json_meta(struct sbuf *sb, const struct builder *b, uint64_t ckpt_ns) {
  struct utsname u;
  if (sys_call1(__NR_uname, (long)&u) < 0) u.nodename[0] = 0;
  char exe[1024];
  long n = sys_call4(__NR_readlinkat, -100, (long)"/proc/thread-self/exe", (long)exe, sizeof exe - 1);
  exe[n > 0 ? n : 0] = 0;
  char cwd[1024];
  if (sys_call2(__NR_getcwd, (long)cwd, sizeof cwd) < 0) cwd[0] = 0;
  const char *prog = g_rt.argc > 0 && g_rt.argv[0] ? g_rt.argv[0] : "";
  const char *slash = strrchr(prog, '/');
  sb_puts(sb, "{\"version\":1,\"host\":");
  sb_json_str(sb, u.nodename);
  sb_puts(sb, ",\"pid\":");
  sb_putu(sb, (uint64_t)g_rt.ids.pid);
  sb_puts(sb, ",\"ppid\":");
  sb_putu(sb, (uint64_t)g_rt.ids.ppid);
  /* Real ids at checkpoint time: restart rebuilds the tree, sessions and
   * process groups from how they relate across the images. */
  sb_puts(sb, ",\"pgid\":");
  sb_putu(sb, (uint64_t)g_rt.ids.pgid);
  sb_puts(sb, ",\"sid\":");
  sb_putu(sb, (uint64_t)g_rt.ids.sid);
  sb_puts(sb, ",\"upid\":\"");
  sb_putx(sb, g_rt.upid, 16);
  sb_puts(sb, "\",\"comp_id\":\"");
  sb_putx(sb, g_rt.comp_id, 16);
  sb_puts(sb, "\",\"generation\":");
  sb_putu(sb, g_rt.generation);
  sb_puts(sb, ",\"num_peers\":");
  sb_putu(sb, g_rt.num_peers);
  sb_puts(sb, ",\"prog\":");
  sb_json_str(sb, g_rt.prog[0] ? g_rt.prog : slash ? slash + 1 : prog);
  sb_puts(sb, ",\"exe\":");
  sb_json_str(sb, exe);
  sb_puts(sb, ",\"argv\":[");
  for (int i = 0; i < g_rt.argc && g_rt.argv[i]; i++) {
    if (i) sb_putc(sb, ',');
    sb_json_str(sb, g_rt.argv[i]);
  }
  sb_puts(sb, "],\"cwd\":");
  sb_json_str(sb, cwd);
  sb_puts(sb, ",\"ckpt_time_ns\":\"");
  sb_putu(sb, ckpt_ns);
  sb_puts(sb, "\",\"clocks\":");
  clocks_json(sb);
  sb_puts(sb, ",\"itimers\":");
  procstate_itimers_json(sb);
  sb_puts(sb, ",\"pending_signals\":");
  sigpending_json(sb);
  sb_puts(sb, ",\"threads\":[");
  int first = 1;
  for (int i = 0; i < threads_used(); i++) {
    const struct thread_rec *t = &g_threads[i];
    int st = atomic_load(&t->state);
    if (st != T_SUSPENDED && !(t->kind == TK_CKPT && st == T_RUNNING)) continue;
    if (!first) sb_putc(sb, ',');
    first = 0;
    sb_puts(sb, "{\"tid\":");
    sb_putu(sb, (uint64_t)t->tid);
    sb_puts(sb, ",\"kind\":\"");
    sb_puts(sb, t->kind == TK_MAIN ? "main" : t->kind == TK_CKPT ? "ckpt" : "user");
    sb_puts(sb, "\"}");
  }
  sb_puts(sb, "],\"regions\":[");
  for (uint32_t i = 0; i < b->nregions; i++) {
    if (i) sb_putc(sb, ',');
    json_region(sb, &b->regions[i], b);
  }
  sb_puts(sb, "],\"files\":[");
  const char *last = NULL;
  first = 1;
  for (uint32_t i = 0; i < b->nregions; i++) {
    const struct dmtcp_image_region *r = &b->regions[i];
    if (!(r->flags & DMTCP_REGION_FILE)) continue;
    const char *p = b->strings + r->path_offset;
    if (last && strcmp(last, p) == 0) continue;
    last = p;
    if (!first) sb_putc(sb, ',');
    first = 0;
    sb_puts(sb, "{\"path\":");
    sb_json_str(sb, p);
    sb_puts(sb, ",\"size\":");
    sb_putu(sb, r->file_size);
    sb_puts(sb, ",\"mtime_ns\":\"");
    sb_putu(sb, r->file_mtime_ns);
    sb_puts(sb, "\",\"ino\":");
    sb_putu(sb, r->file_ino);
    sb_putc(sb, '}');
  }
  sb_puts(sb, "]}");
}

static int pwrite_all(int fd, const void *buf, uint64_t len, uint64_t off) {
  const char *p = buf;
  while (len > 0) {
    size_t chunk = len > (1u << 30) ? (1u << 30) : (size_t)len;
    long w = sys_call4(__NR_pwrite64, fd, (long)p, (long)chunk, (long)off);
    if (w == -EINTR) continue;
    if (w <= 0) return fail_with(w < 0 ? (int)-w : EIO);
    p += w;
    off += (uint64_t)w;
    len -= (uint64_t)w;
  }
  return 0;
}

/* The checkpoint thread's own state, as the restore code will need it. */
static void save_own_thread_state(void) {
  for (int i = 0; i < threads_used(); i++) {
    struct thread_rec *t = &g_threads[i];
    if (t->kind != TK_CKPT || t->tid != (pid_t)sys_gettid()) continue;
    sys_rt_sigprocmask(SIG_BLOCK, NULL, &t->sigmask);
    sys_call3(__NR_get_robust_list, 0, (long)&t->robust_head, (long)&t->robust_len);
    sys_sigaltstack(NULL, &t->altstack);
    sys_arch_prctl(0x1003 /* ARCH_GET_FS */, (uint64_t)&t->fsbase);
    sys_call2(__NR_prctl, 16 /* PR_GET_NAME */, (long)t->name);
    return;
  }
}

static struct thread_rec *own_rec(void) {
  for (int i = 0; i < threads_used(); i++)
    if (g_threads[i].kind == TK_CKPT && g_threads[i].tid == (pid_t)sys_gettid()) return &g_threads[i];
  return NULL;
}

static int write_data(int fd, const struct builder *b) {
  for (uint32_t i = 0; i < b->nregions; i++) {
    const struct dmtcp_image_region *r = &b->regions[i];
    if (!r->num_runs) continue;
    int unreadable = !(r->prot & PROT_READ);
    if (unreadable) sys_mprotect(r->start, r->end - r->start, (int)r->prot | PROT_READ);
    for (uint32_t k = 0; k < r->num_runs; k++) {
      const struct dmtcp_image_run *run = &b->runs[r->first_run + k];
      if (pwrite_all(fd, (void *)run->addr, run->len, run->data_offset) < 0) return WRITE_FAILED;
    }
    if (unreadable) sys_mprotect(r->start, r->end - r->start, (int)r->prot);
  }
  return WRITE_OK;
}

int image_write(const char *tmp_path, uint64_t *bytes_out) {
  int result = WRITE_FAILED;
  write_errno = 0;
  struct builder b;
  memset(&b, 0, sizeof b);
  b.pagemap_fd = -1;
  struct scratch maps = {0}, regions = {0}, strings = {0}, pm = {0}, meta = {0}, tables = {0};
  int fd = -1;

  /* Shared, so the kernel never merges it into a neighbouring private
   * region: it must show up alone in the maps to be left out. */
  if (scratch_map(&maps, 1 << 20, MAP_SHARED) < 0) return fail_with(ENOMEM);
  long maps_len = read_maps(&maps);
  if (maps_len < 0) goto out;
  uint32_t lines = 0;
  for (long i = 0; i < maps_len; i++) lines += ((char *)maps.addr)[i] == '\n';
  if (scratch_alloc(&regions, (size_t)lines * sizeof(struct dmtcp_image_region) + PAGE) < 0 ||
      scratch_alloc(&strings, (size_t)maps_len + PAGE) < 0 || scratch_alloc(&b.runs_mem, 1 << 20) < 0 ||
      scratch_alloc(&pm, SCAN_CHUNK * 9) < 0) {
    fail_with(ENOMEM);
    goto out;
  }
  b.regions = regions.addr;
  b.runs = b.runs_mem.addr;
  b.strings = strings.addr;
  b.pm_buf = pm.addr;
  b.mc_buf = (unsigned char *)pm.addr + SCAN_CHUNK * 8;
  b.pagemap_fd = (int)sys_open("/proc/thread-self/pagemap", O_RDONLY | O_CLOEXEC, 0);
  if (b.pagemap_fd < 0) {
    fail_with(-b.pagemap_fd);
    log_msg("checkpoint: cannot open /proc/self/pagemap: %s", errno_text(-b.pagemap_fd));
    goto out;
  }

  uint64_t main_sp = main_stack_sp();
  char path[4096];
  for (char *line = maps.addr; line && *line;) {
    struct map_line ml;
    struct smaps_info si;
    char *next = parse_smaps_keys(parse_line(line, &ml), &si);
    struct dmtcp_image_region *r = &b.regions[b.nregions];
    memset(r, 0, sizeof *r);
    enum policy pol = classify(&ml, r, path, sizeof path, (uint64_t)maps.addr, (uint64_t)maps.addr + maps.len, main_sp);
    line = next;
    if (pol == POL_SKIP) continue;
    if (path[0]) r->path_offset = add_string(&b, path);
    if (si.known && !si.accounted && !(r->flags & DMTCP_REGION_SHARED)) r->flags |= DMTCP_REGION_NORESERVE;
    /* Nothing of a private region in memory or swap: nothing to save, and
     * no page table walk over a reservation of many GiB. */
    if (si.known && si.rss_kb == 0 && si.swap_kb == 0 && (pol == POL_ANON || pol == POL_FILE_PRIVATE)) pol = POL_NONE;
    if (pol != POL_NONE && scan_region(&b, r, pol) < 0) {
      log_msg("checkpoint: cannot scan region %p-%p", (void *)r->start, (void *)r->end);
      goto out;
    }
    b.nregions++;
  }

  struct timespec now;
  sys_clock_gettime(CLOCK_REALTIME, &now);
  uint64_t ckpt_ns = (uint64_t)now.tv_sec * 1000000000ULL + (uint64_t)now.tv_nsec;
  size_t meta_cap = 65536 + (size_t)b.nregions * 512 + (size_t)MAX_THREADS * 48 + (size_t)sigpending_count() * 128;
  for (int i = 0; i < g_rt.argc && g_rt.argv[i]; i++) meta_cap += strlen(g_rt.argv[i]) * 6 + 4;
  if (scratch_alloc(&meta, meta_cap) < 0) {
    fail_with(ENOMEM);
    goto out;
  }
  struct sbuf sb;
  sb_init(&sb, meta.addr, meta.len);
  json_meta(&sb, &b, ckpt_ns);
  if (sb.overflow) {
    fail_with(EOVERFLOW);
    log_msg("checkpoint: metadata does not fit");
    goto out;
  }

  /* Layout: header, tables, metadata, then page-aligned data. */
  uint64_t regions_off = DMTCP_IMAGE_HEADER_SIZE;
  uint64_t runs_off = regions_off + (uint64_t)b.nregions * sizeof(struct dmtcp_image_region);
  uint64_t strings_off = runs_off + (uint64_t)b.nruns * sizeof(struct dmtcp_image_run);
  uint64_t meta_off = strings_off + b.strings_len;
  uint64_t data_off = (meta_off + sb.len + PAGE - 1) & ~(uint64_t)(PAGE - 1);
  uint64_t cursor = data_off;
  for (uint32_t i = 0; i < b.nruns; i++) {
    b.runs[i].data_offset = cursor;
    cursor += b.runs[i].len;
  }
  if (scratch_alloc(&tables, data_off - regions_off) < 0) {
    fail_with(ENOMEM);
    goto out;
  }
  char *t = tables.addr;
  memcpy(t, b.regions, runs_off - regions_off);
  memcpy(t + (runs_off - regions_off), b.runs, strings_off - runs_off);
  memcpy(t + (strings_off - regions_off), b.strings, b.strings_len);
  memcpy(t + (meta_off - regions_off), meta.addr, sb.len);

  static struct dmtcp_image_header h; /* 4 KiB: keep it off the stack */
  memset(&h, 0, sizeof h);
  memcpy(h.magic, DMTCP_IMAGE_MAGIC, 8);
  h.version = DMTCP_IMAGE_VERSION;
  h.header_size = DMTCP_IMAGE_HEADER_SIZE;
  h.image_size = cursor;
  h.regions_offset = regions_off;
  h.num_regions = b.nregions;
  h.region_size = sizeof(struct dmtcp_image_region);
  h.runs_offset = runs_off;
  h.num_runs = b.nruns;
  h.run_size = sizeof(struct dmtcp_image_run);
  h.strings_offset = strings_off;
  h.strings_len = b.strings_len;
  h.meta_offset = meta_off;
  h.meta_len = sb.len;
  h.data_offset = data_off;
  h.data_len = cursor - data_off;
  h.restore_entry = (uint64_t)(uintptr_t)&dmtcp_restore_entry;
  h.generation = g_rt.generation;
  h.comp_id = g_rt.comp_id;
  h.upid = g_rt.upid;
  h.num_peers = g_rt.num_peers;
  h.pid = (uint32_t)g_rt.ids.pid;
  h.ckpt_time_ns = ckpt_ns;
  h.tables_checksum = fnv1a64(FNV1A64_INIT, tables.addr, data_off - regions_off);
  h.header_checksum = fnv1a64(FNV1A64_INIT, &h, offsetof(struct dmtcp_image_header, header_checksum));

  fd = (int)sys_open(tmp_path, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600);
  if (fd < 0) {
    fail_with(-fd);
    log_msg("checkpoint: cannot create %s: %s", tmp_path, errno_text(-fd));
    fd = -1;
    goto out;
  }
  if (pwrite_all(fd, tables.addr, data_off - regions_off, regions_off) < 0) goto write_error;

  if (write_data(fd, &b) != WRITE_OK) goto write_error;
  /* The header goes last: a file cut short never looks complete. */
  if (pwrite_all(fd, &h, sizeof h, 0) < 0) goto write_error;
  long fr = sys_call1(__NR_fsync, fd);
  if (fr < 0) {
    fail_with((int)-fr);
    goto write_error;
  }
  *bytes_out = cursor;
  result = WRITE_OK;
  goto out;

write_error:
  log_msg("checkpoint: writing %s failed: %s", tmp_path, errno_text(write_errno));
out:
  if (result != WRITE_OK) fail_with(EIO); /* a failure above without its own errno */
  if (fd >= 0) sys_close(fd);
  if (b.pagemap_fd >= 0) sys_close(b.pagemap_fd);
  scratch_free(&maps);
  scratch_free(&regions);
  scratch_free(&strings);
  scratch_free(&b.runs_mem);
  scratch_free(&pm);
  scratch_free(&meta);
  scratch_free(&tables);
  return result;
}

/* Writes the image from a copy of the process: the checkpoint thread saves
 * its context, then a child made with clone (no SIGCHLD, so the application
 * never sees it) writes the image from its copy-on-write view of memory while
 * the application runs again.  Without the child (fork refused, e.g. strict
 * overcommit) the image is written here, the application still stopped. */
static long count_lines(const char *path) {
  int fd = (int)sys_open(path, O_RDONLY | O_CLOEXEC, 0);
  if (fd < 0) return -1;
  char buf[4096];
  long lines = 0, r;
  while ((r = sys_read(fd, buf, sizeof buf)) > 0)
    for (long i = 0; i < r; i++) lines += buf[i] == '\n';
  sys_close(fd);
  return lines;
}

/* Memory marked MADV_DONTFORK is missing from the child's view: then the
 * child's maps are shorter than ours and the image must be written here. */
static int child_sees_everything(long pid) {
  char path[64];
  struct sbuf sb;
  sb_init(&sb, path, sizeof path);
  sb_puts(&sb, "/proc/");
  sb_putu(&sb, (uint64_t)pid);
  sb_puts(&sb, "/maps");
  long mine = count_lines("/proc/thread-self/maps"), theirs = count_lines(path);
  return mine >= 0 && mine == theirs;
}

int image_write_begin(const char *tmp_path, struct image_writer *w) {
  w->pid = 0;
  w->result = WRITE_FAILED;
  w->bytes = 0;
  w->err = 0;
  w->signal = 0;
  /* The image describes this process, not the child that writes it. */
  g_rt.ids.pid = (int)sys_getpid();
  g_rt.ids.ppid = (int)sys_call0(__NR_getppid);
  g_rt.ids.pgid = (int)sys_call1(__NR_getpgid, 0);
  g_rt.ids.sid = (int)sys_call1(__NR_getsid, 0);
  save_own_thread_state();
  struct thread_rec *self = own_rec();
  if (self && ctx_save(&self->ctx) != 0) return WRITE_RESTARTED;
  /* The child waits for a go-ahead, so that its maps are compared with ours
   * before it creates any mapping of its own. */
  int go[2] = {-1, -1};
  long pr = sys_call2(__NR_pipe2, (long)go, O_CLOEXEC);
  long pid = pr < 0 ? -1 : sys_call5(__NR_clone, 0 /* exit signal: none */, 0, 0, 0, 0);
  if (pid == 0) {
    sys_call2(__NR_prctl, 1 /* PR_SET_PDEATHSIG */, SIGKILL);
    char c = 0;
    sys_close(go[1]);
    if (sys_read(go[0], &c, 1) != 1 || c != 'g') sys_exit_group(WRITER_NOT_STARTED);
    sys_close(go[0]);
    /* Past RLIMIT_FSIZE a write fails with EFBIG instead of killing us. */
    struct sys_kernel_sigaction ign = {(uint64_t)(uintptr_t)SIG_IGN, 0, 0, 0};
    sys_rt_sigaction(SIGXFSZ, &ign, NULL);
    uint64_t bytes = 0;
    int r = image_write(tmp_path, &bytes);
    /* The exit status carries the errno to the checkpoint thread. */
    sys_exit_group(r == WRITE_OK ? 0 : write_errno > 0 && write_errno < WRITER_NOT_STARTED ? write_errno : EIO);
  }
  int usable = pid > 0 && child_sees_everything(pid);
  if (pr == 0) {
    sys_write(go[1], usable ? "g" : "x", 1);
    sys_close(go[0]);
    sys_close(go[1]);
  }
  if (usable) {
    w->pid = (int)pid;
    return WRITE_OK;
  }
  if (pid > 0) {
    int status;
    while (sys_call4(__NR_wait4, pid, (long)&status, 0x40000000 /* __WALL */, 0) == -EINTR) {
    }
  }
  LOG_DEBUG("writing the image in place (writer child: %ld)", pid);
  /* Every other thread is stopped: ignoring SIGXFSZ for the moment is
   * invisible to the application, and a file size limit becomes EFBIG. */
  struct sys_kernel_sigaction ign = {(uint64_t)(uintptr_t)SIG_IGN, 0, 0, 0}, old;
  long saved = sys_rt_sigaction(SIGXFSZ, &ign, &old);
  w->result = image_write(tmp_path, &w->bytes);
  if (saved == 0) sys_rt_sigaction(SIGXFSZ, &old, NULL);
  w->err = w->result == WRITE_OK ? 0 : write_errno;
  return w->result == WRITE_FAILED ? WRITE_FAILED : WRITE_OK;
}

int image_write_finish(const char *tmp_path, struct image_writer *w) {
  if (w->pid > 0) {
    int status = 0;
    long r;
    do r = sys_call4(__NR_wait4, w->pid, (long)&status, 0x40000000 /* __WALL */, 0);
    while (r == -EINTR);
    w->result = r == w->pid && WIFEXITED(status) && WEXITSTATUS(status) == 0 ? WRITE_OK : WRITE_FAILED;
    if (r != w->pid) w->err = r < 0 ? (int)-r : ECHILD;
    else if (WIFSIGNALED(status)) w->signal = WTERMSIG(status);
    else if (WEXITSTATUS(status) != 0) w->err = WEXITSTATUS(status);
    w->pid = 0;
    struct stat st;
    if (w->result == WRITE_OK && sys_stat(tmp_path, &st) == 0) w->bytes = (uint64_t)st.st_size;
  }
  return w->result;
}
