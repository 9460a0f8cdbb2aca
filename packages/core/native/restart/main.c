/* dmtcp-restart-image IMAGE...: turns this process into the checkpointed
 * one.  Freestanding (no libc): it unmaps everything it did not bring itself,
 * moves the kernel's vDSO to where the image expects it, maps the image's
 * regions back at their addresses and jumps into the restored runtime.
 * With several images it forks one process per extra image first. */
#include <stddef.h>
#include <stdint.h>

#include "dmtcp/image.h"
#include "dmtcp/protocol.h"
#include "pidns.h"
#include "timens.h"
#include "dmtcp/debug.h"
#include "dmtcp/fmt.h"
#include "dmtcp/hash.h"
#include "dmtcp/sys.h"

#define PROT_READ 1
#define PROT_WRITE 2
#define MAP_SHARED 0x01
#define MAP_PRIVATE 0x02
#define MAP_FIXED 0x10
#define MAP_ANONYMOUS 0x20
#define MAP_GROWSDOWN 0x100
#define MAP_NORESERVE 0x4000
#define MAP_FIXED_NOREPLACE 0x100000
#define MREMAP_MAYMOVE 1
#define MREMAP_FIXED 2
#define O_RDONLY 0
#define O_RDWR 2
#define O_CLOEXEC 02000000
#define PAGE 4096ULL
/* Runs at least this long are mapped straight from the image and paged in
 * on demand, so restart time does not grow with the image; shorter ones are
 * read, to keep the number of mappings small. */
#define LAZY_MIN (256 * 1024ULL)

/* Where this program keeps what it needs while the old address space goes
 * away: right after its own image (linked at 0x100000000000). */
#define TABLES_ADDR 0x100100000000ULL
#define VDSO_PARK_ADDR 0x100200000000ULL
#define OWN_END 0x100300000000ULL

extern char __executable_start[];

static struct dmtcp_image_header header;
static struct dmtcp_restart_info info;
static char maps_buf[512 * 1024];
static char env_block[256 * 1024];
static char stack_area[256 * 1024] __attribute__((aligned(16)));
static int image_fd;
static const char *image_name;
static struct dmtcp_image_region *regions;
static struct dmtcp_image_run *runs;
static const char *strings;

void run_on_stack(void *top, void (*fn)(void)) __attribute__((noreturn));

/* ---- tiny helpers ---- */

static void put(const char *s) { sys_write(2, s, fmt_strlen(s)); }

static void put_num(long v) {
  char out[24];
  struct sbuf sb;
  sb_init(&sb, out, sizeof out);
  sb_puti(&sb, v);
  sys_write(2, out, sb.len);
}

static void put_hex(uint64_t v) {
  char out[24];
  struct sbuf sb;
  sb_init(&sb, out, sizeof out);
  sb_format(&sb, "%p", (void *)(uintptr_t)v);
  sys_write(2, out, sb.len);
}

static __attribute__((noreturn)) void die(const char *what, const char *detail, long err) {
  put("dmtcp restart: ");
  if (image_name) {
    put(image_name);
    put(": ");
  }
  put(what);
  if (detail) {
    put(" ");
    put(detail);
  }
  if (err) {
    put(" (errno ");
    put_num(-err);
    put(")");
  }
  put("\n");
  sys_exit_group(1);
}

static int streq(const char *a, const char *b) {
  while (*a && *a == *b) a++, b++;
  return *a == *b;
}

static int starts_with(const char *s, const char *prefix) {
  while (*prefix)
    if (*s++ != *prefix++) return 0;
  return 1;
}

static void copy_str(char *dst, size_t cap, const char *src) {
  size_t i = 0;
  for (; src && src[i] && i + 1 < cap; i++) dst[i] = src[i];
  dst[i] = 0;
}

static const char *env_get(char **envp, const char *name) { return dmtcp_env_lookup(envp, name); }

static long parse_dec(const char *s) {
  uint64_t v = 0;
  if (s) fmt_parse_dec(s, (size_t)-1, &v);
  return (long)v;
}

static int read_full(int fd, void *buf, uint64_t len, uint64_t off) {
  char *p = buf;
  while (len > 0) {
    long chunk = len > (1ULL << 30) ? (1L << 30) : (long)len;
    long r = sys_pread(fd, p, (size_t)chunk, off);
    if (r == -4 /* EINTR */) continue;
    if (r <= 0) return r < 0 ? (int)r : -5;
    p += r;
    off += (uint64_t)r;
    len -= (uint64_t)r;
  }
  return 0;
}

/* ---- reading and checking the image ---- */

static void load_image(const char *path) {
  image_name = info.image_path; /* argv goes away with the old stack */
  long fd = sys_open(path, O_RDONLY | O_CLOEXEC, 0);
  if (fd < 0) die("cannot open the image", NULL, fd);
  image_fd = (int)fd;
  struct sys_stat st;
  long sr = sys_fstat(image_fd, &st);
  uint64_t size = sr == 0 ? (uint64_t)st.size : 0;
  info.image_ino = st.ino;
  if (size < sizeof header || read_full(image_fd, &header, sizeof header, 0) < 0)
    die("not a checkpoint image (too short)", NULL, 0);
  for (int i = 0; i < 8; i++)
    if (header.magic[i] != DMTCP_IMAGE_MAGIC[i]) die("not a checkpoint image", NULL, 0);
  if (header.version != DMTCP_IMAGE_VERSION || header.header_size != DMTCP_IMAGE_HEADER_SIZE)
    die("image format version not supported", NULL, 0);
  if (fnv1a64(FNV1A64_INIT, &header, offsetof(struct dmtcp_image_header, header_checksum)) != header.header_checksum)
    die("corrupt image header (checksum mismatch)", NULL, 0);
  if (size != header.image_size) die("truncated image", NULL, 0);
  if (header.region_size != sizeof(struct dmtcp_image_region) || header.run_size != sizeof(struct dmtcp_image_run) ||
      header.data_offset < header.regions_offset || header.data_offset > size)
    die("corrupt image tables", NULL, 0);
  uint64_t tables_len = header.data_offset - header.regions_offset;
  long a = sys_mmap(TABLES_ADDR, (tables_len + PAGE - 1) & ~(PAGE - 1), PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  if (a < 0 && a > -4096) die("cannot allocate memory for the image tables", NULL, a);
  char *t = (char *)a;
  if (read_full(image_fd, t, tables_len, header.regions_offset) < 0) die("cannot read the image tables", NULL, 0);
  if (fnv1a64(FNV1A64_INIT, t, tables_len) != header.tables_checksum)
    die("corrupt image tables (checksum mismatch)", NULL, 0);
  regions = (struct dmtcp_image_region *)t;
  runs = (struct dmtcp_image_run *)(t + (header.runs_offset - header.regions_offset));
  strings = t + (header.strings_offset - header.regions_offset);
  for (uint32_t i = 0; i < header.num_regions; i++) {
    const struct dmtcp_image_region *r = &regions[i];
    if (r->start >= r->end || (r->start & (PAGE - 1)) || (r->end & (PAGE - 1)) ||
        (uint64_t)r->first_run + r->num_runs > header.num_runs)
      die("corrupt region table", NULL, 0);
    if (r->end > (uint64_t)__executable_start && r->start < OWN_END)
      die("an image region overlaps the restart program at", NULL, 0);
  }
}

/* ---- the address space switch ---- */

struct special {
  uint64_t start, end;
};

static int current_specials(struct special *out, int max) {
  long fd = sys_open("/proc/self/maps", O_RDONLY | O_CLOEXEC, 0);
  if (fd < 0) die("cannot read /proc/self/maps", NULL, fd);
  long len = 0, r;
  while ((r = sys_read((int)fd, maps_buf + len, sizeof maps_buf - 1 - (size_t)len)) > 0) len += r;
  sys_close((int)fd);
  maps_buf[len] = 0;
  int n = 0;
  for (char *line = maps_buf; *line;) {
    char *end = line;
    while (*end && *end != '\n') end++;
    char saved = *end;
    *end = 0;
    uint64_t s = 0, e = 0;
    const char *p = line;
    p += fmt_parse_hex(p, (size_t)(end - p), &s) + 1; /* and the '-' */
    fmt_parse_hex(p, (size_t)(end - p), &e);
    const char *name = end;
    while (name > line && name[-1] != ' ') name--;
    if ((streq(name, "[vdso]") || starts_with(name, "[vvar")) && n < max) out[n++] = (struct special){s, e};
    *end = saved;
    line = saved ? end + 1 : end;
  }
  return n;
}

/* Unmaps everything below and above this program except the kernel's
 * special mappings, which are moved instead. */
static void clear_address_space(const struct special *keep, int nkeep) {
  uint64_t own_start = (uint64_t)__executable_start;
  uint64_t cursor = 0x10000; /* below mmap_min_addr nothing can be mapped */
  for (int i = 0; i <= nkeep; i++) {
    uint64_t until = i < nkeep ? keep[i].start : 0x7ffffffff000ULL;
    /* Skip our own range inside this gap. */
    if (cursor < own_start && until > own_start) {
      sys_munmap(cursor, own_start - cursor);
      cursor = OWN_END;
    }
    if (until > cursor) sys_munmap(cursor, until - cursor);
    if (i < nkeep) cursor = keep[i].end;
  }
}

static void move_vdso(struct special *cur, int ncur) {
  struct special old[8];
  int nold = 0;
  for (uint32_t i = 0; i < header.num_regions && nold < 8; i++)
    if (regions[i].flags & (DMTCP_REGION_VDSO | DMTCP_REGION_VVAR)) old[nold++] = (struct special){regions[i].start, regions[i].end};
  if (nold == 0) return;
  if (nold != ncur) die("the vDSO of this kernel differs from the checkpointed one", NULL, 0);
  for (int i = 0; i < ncur; i++)
    if (cur[i].end - cur[i].start != old[i].end - old[i].start || cur[i].start - cur[0].start != old[i].start - old[0].start)
      die("the vDSO of this kernel differs from the checkpointed one", NULL, 0);
  /* Park first, so that old and new positions may overlap. */
  for (int pass = 0; pass < 2; pass++) {
    uint64_t base = cur[0].start;
    for (int i = 0; i < ncur; i++) {
      uint64_t len = cur[i].end - cur[i].start;
      uint64_t to = pass == 0 ? VDSO_PARK_ADDR + (cur[i].start - base) : old[i].start;
      long r = sys_mremap(cur[i].start, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, to);
      if (r < 0 && r > -4096) die("cannot move the vDSO", NULL, r);
      cur[i] = (struct special){to, to + len};
    }
  }
}

static void map_regions(void) {
  for (uint32_t i = 0; i < header.num_regions; i++) {
    const struct dmtcp_image_region *r = &regions[i];
    if (r->flags & (DMTCP_REGION_VDSO | DMTCP_REGION_VVAR)) continue;
    uint64_t len = r->end - r->start;
    int shared = r->flags & DMTCP_REGION_SHARED;
    int prot = (int)r->prot | (r->num_runs ? PROT_WRITE : 0);
    /* As uncharged as at checkpoint: a reservation of many GiB the kernel
     * allowed then (sparse heaps, runtimes' arenas) must map again. */
    int noreserve = r->flags & DMTCP_REGION_NORESERVE ? MAP_NORESERVE : 0;
    long a;
    if (r->flags & DMTCP_REGION_FILE) {
      const char *path = strings + r->path_offset;
      long fd = sys_open(path, (shared && (r->prot & PROT_WRITE)) ? O_RDWR : O_RDONLY, 0);
      if (fd < 0) die("cannot open mapped file", path, fd);
      a = sys_mmap(r->start, len, prot, (shared ? MAP_SHARED : MAP_PRIVATE) | MAP_FIXED | noreserve, (int)fd,
                   r->file_offset);
      sys_close((int)fd);
      if (a < 0 && a > -4096) die("cannot map file", path, a);
    } else {
      int flags = (shared ? MAP_SHARED : MAP_PRIVATE) | MAP_ANONYMOUS | MAP_FIXED | noreserve;
      if (r->flags & DMTCP_REGION_GROWSDOWN) flags |= MAP_GROWSDOWN;
      a = sys_mmap(r->start, len, prot, flags, -1, 0);
      if (a < 0 && a > -4096) {
        put("dmtcp restart: ");
        put(image_name);
        put(": cannot map region ");
        put_hex(r->start);
        put("-");
        put_hex(r->end);
        put(a == -12 ? " (out of memory: the commit limit, vm.overcommit_memory=2?)" : "");
        put(" (errno ");
        put_num(-a);
        put(")\n");
        sys_exit_group(1);
      }
    }
    for (uint32_t k = 0; k < r->num_runs; k++) {
      const struct dmtcp_image_run *run = &runs[r->first_run + k];
      if (run->addr < r->start || run->addr + run->len > r->end) die("corrupt run table", NULL, 0);
      int lazy = !shared && !(r->flags & (DMTCP_REGION_FILE | DMTCP_REGION_GROWSDOWN)) && run->len >= LAZY_MIN;
      if (lazy) {
        long m = sys_mmap(run->addr, run->len, prot, MAP_PRIVATE | MAP_FIXED, image_fd, run->data_offset);
        if (m < 0 && m > -4096) die("cannot map image data", NULL, m);
      } else if (read_full(image_fd, (void *)run->addr, run->len, run->data_offset) < 0) {
        die("cannot read image data", NULL, 0);
      }
    }
    if (prot != (int)r->prot) sys_mprotect(r->start, len, (int)r->prot);
  }
}

static void switch_address_space(void) {
  struct special cur[8];
  int ncur = current_specials(cur, 8);
  clear_address_space(cur, ncur);
  move_vdso(cur, ncur);
  map_regions();
  sys_close(image_fd);
  void (*entry)(const struct dmtcp_restart_info *) = (void (*)(const struct dmtcp_restart_info *))header.restore_entry;
  entry(&info);
  die("the restored runtime returned", NULL, 0);
}

static void make_absolute(char *dst, size_t cap, const char *path) {
  if (path[0] == '/') {
    copy_str(dst, cap, path);
    return;
  }
  long n = sys_call2(__NR_getcwd, (long)dst, (long)cap);
  if (n < 0) {
    copy_str(dst, cap, path);
    return;
  }
  size_t len = fmt_strlen(dst);
  if (len + 1 < cap) dst[len++] = '/';
  copy_str(dst + len, cap - len, path);
}

#define MAX_IMAGES 1024

/* The process tree to rebuild, one entry per image: its parent's index
 * (-1: a root), whether it led a session, and its process group (-1:
 * inherited, -2: its own, k: the one image k leads). */
static struct {
  int parent, setsid, group;
} tree[MAX_IMAGES];
static long realpid[MAX_IMAGES];

/* A number out of int's range reads as 0 (refused where 0 is). */
static const char *parse_int(const char *p, int *out) {
  int64_t v = 0;
  long n = fmt_parse_i64(p, (size_t)-1, &v);
  if (n < 0 || v < -0x7fffffff || v > 0x7fffffff) {
    *out = 0;
    while (*p == '-' || (*p >= '0' && *p <= '9')) p++;
    return p;
  }
  *out = (int)v;
  return p + n;
}

static void parse_tree(const char *spec, int n) {
  const char *p = spec;
  for (int i = 0; i < n; i++) {
    p = parse_int(p, &tree[i].parent);
    if (*p == ',') p = parse_int(p + 1, &tree[i].setsid);
    if (*p == ',') p = parse_int(p + 1, &tree[i].group);
    if (tree[i].parent < -1 || tree[i].parent >= n || tree[i].group < -2 || tree[i].group >= n) {
      put("dmtcp-restart-image: bad --tree\n");
      sys_exit_group(2);
    }
    if (*p == ';') p++;
  }
}

/* --pid-ns: the pid each image had, to be asked of the kernel again. */
static int restore_pids;
static long old_pid[MAX_IMAGES];

static void parse_pids(const char *spec, int n) {
  const char *p = spec;
  for (int i = 0; i < n; i++) {
    int v = 0;
    p = parse_int(p, &v);
    if (v <= 1 || (*p != ',' && *p != 0) || (*p == 0 && i != n - 1)) {
      put("dmtcp-restart-image: bad --pid-ns\n");
      sys_exit_group(2);
    }
    old_pid[i] = v;
    if (*p == ',') p++;
  }
}

static long fork_image(int c) { return restore_pids ? pidns_fork(old_pid[c]) : sys_fork(); }

static void join_group(int me, long pid) {
  if (tree[me].group == -2) sys_call2(__NR_setpgid, pid, pid);
  else if (tree[me].group >= 0 && realpid[tree[me].group] > 0) sys_call2(__NR_setpgid, pid, realpid[tree[me].group]);
}

/* Forks the images below `me` (for the first root, the other roots too) and
 * returns the index this process restores. Parent and child both set the
 * child's group, so that neither order of running loses it. */
static int build_tree(int me, int n) {
  /* With restored pids the namespace's init forks every root itself. */
  int root = restore_pids ? -1 : me;
  realpid[me] = sys_getpid();
  if (tree[me].setsid) sys_call0(__NR_setsid);
  join_group(me, 0);
  for (int c = 0; c < n; c++) {
    if (c == me || tree[c].parent != me) {
      if (!(me == root && c != root && tree[c].parent == -1)) continue;
    }
    long pid = fork_image(c);
    if (pid < 0) die("fork failed", NULL, pid);
    if (pid == 0) {
      me = c;
      root = -1;
      realpid[me] = sys_getpid();
      if (tree[me].setsid) sys_call0(__NR_setsid);
      else join_group(me, 0);
      c = -1; /* now fork this image's own children */
      continue;
    }
    realpid[c] = pid;
    if (!tree[c].setsid) join_group(c, pid);
  }
  return me;
}

void restart_main(uint64_t *sp) {
  int argc = (int)sp[0];
  char **argv = (char **)(sp + 1);
  char **envp = argv + argc + 1;
  int first = 1;
  const char *spec = NULL, *pids = NULL, *clocks = NULL;
  for (;;) {
    if (argc > first + 1 && streq(argv[first], "--tree")) spec = argv[first + 1];
    else if (argc > first + 1 && streq(argv[first], "--pid-ns")) pids = argv[first + 1];
    else if (argc > first + 1 && streq(argv[first], "--clocks")) clocks = argv[first + 1];
    else break;
    first += 2;
  }
  int n = argc - first;
  if (n < 1 || n > MAX_IMAGES) {
    put("usage: dmtcp-restart-image [--tree SPEC] [--pid-ns PID,...] [--clocks RULE,MONO,BOOT,REAL,NS] IMAGE...\n");
    sys_exit_group(2);
  }
  for (int i = 0; i < n; i++) tree[i] = (typeof(tree[0])){i == 0 ? -1 : 0, 0, -1};
  if (spec) parse_tree(spec, n);
  if (pids) parse_pids(pids, n);
  int start = 0;
  while (start < n && tree[start].parent != -1) start++;
  if (start == n) start = 0;
  /* Before any process is made: they are all made in the time namespace. */
  if (clocks && timens_apply(clocks, &info) < 0) {
    put("dmtcp-restart-image: bad --clocks\n");
    sys_exit_group(2);
  }
  int mine;
  if (pids && pidns_enter()) {
    restore_pids = 1;
    info.flags |= DMTCP_RESTART_PID_NS;
    long first_root = -1;
    for (int c = 0; c < n; c++) {
      if (tree[c].parent != -1 && c != start) continue;
      long pid = fork_image(c);
      if (pid < 0) die("fork failed", NULL, pid);
      if (pid == 0) {
        mine = first + build_tree(c, n);
        goto restore;
      }
      realpid[c] = pid;
      if (first_root < 0) first_root = pid;
    }
    pidns_init_loop(first_root);
  }
  mine = first + build_tree(start, n);
restore:

  info.version = 1;
  /* Plugins read the environment `dmtcp restart` ran with (the restored
   * process keeps its own): hand it over before the stack goes away. */
  size_t used = 0;
  for (char **e = envp; *e; e++) {
    size_t n = fmt_strlen(*e) + 1;
    if (used + n > sizeof env_block) break;
    for (size_t i = 0; i < n; i++) env_block[used + i] = (*e)[i];
    used += n;
  }
  info.env_addr = (uint64_t)env_block;
  info.env_len = used;
  info.coord_port = (uint32_t)parse_dec(env_get(envp, DMTCP_ENV_COORD_PORT));
  if (!info.coord_port) info.coord_port = DMTCP_DEFAULT_COORD_PORT;
  copy_str(info.coord_host, sizeof info.coord_host, env_get(envp, DMTCP_ENV_COORD_HOST));
  if (!info.coord_host[0]) copy_str(info.coord_host, sizeof info.coord_host, "127.0.0.1");
  copy_str(info.ckpt_dir, sizeof info.ckpt_dir, env_get(envp, DMTCP_ENV_CKPT_DIR));
  make_absolute(info.image_path, sizeof info.image_path, argv[mine]);
  info.unmap_start = (uint64_t)__executable_start;
  info.unmap_end = OWN_END;
  load_image(info.image_path);
  run_on_stack(stack_area + sizeof stack_area, switch_address_space);
}
