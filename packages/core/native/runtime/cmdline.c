/* /proc/PID/cmdline and /proc/PID/environ after restart, and the rest of
 * the kernel's description of the address space: where code, data, the
 * stack and the heap are.  The heap matters most: after restart the
 * kernel's program break is the restart program's, so the first brk() that
 * malloc makes to grow the restored heap would move another break, and
 * malloc, finding its heap not where it left it, crashes.
 *
 * The kernel shows the memory between the arg_start/arg_end (env_start/
 * env_end) addresses of the process; after restart those are the restart
 * program's, whose stack is gone, so ps, pgrep -f and monitoring tools would
 * see nothing.  The original argument and environment strings came back
 * with the main stack at their old addresses: pointing the kernel at them
 * again with PR_SET_MM_MAP needs no privilege (only a kernel built with
 * CONFIG_CHECKPOINT_RESTORE); the older single-field PR_SET_MM calls, tried
 * next, need CAP_SYS_RESOURCE.  With CAP_CHECKPOINT_RESTORE (or
 * CAP_SYS_ADMIN) /proc/PID/exe is given back too. */
#include <fcntl.h>
#include <linux/prctl.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "runtime.h"

/* Fields of /proc/self/stat (1-based, as proc(5) numbers them). */
enum {
  F_START_CODE = 26, F_END_CODE = 27, F_START_STACK = 28, F_START_DATA = 45, F_END_DATA = 46, F_START_BRK = 47,
  F_ARG_START = 48, F_ARG_END = 49, F_ENV_START = 50, F_ENV_END = 51, F_LAST = 51
};

static uint64_t saved_args[4]; /* arg_start, arg_end, env_start, env_end at exec */
static uint64_t saved_mm[F_LAST + 1]; /* /proc/self/stat at the checkpoint; [0]: the break then */
static char saved_exe[4096];

/* Reads /proc/self/stat into v[1..F_LAST]; returns 0 on success. */
static int read_stat(uint64_t *v) {
  static char buf[2048];
  long fd = sys_open("/proc/thread-self/stat", O_RDONLY | O_CLOEXEC, 0);
  if (fd < 0) return -1;
  long n = sys_read((int)fd, buf, sizeof buf - 1);
  sys_close((int)fd);
  if (n <= 0) return -1;
  buf[n] = 0;
  const char *p = strrchr(buf, ')'); /* the name may hold spaces */
  if (!p) return -1;
  int field = 2;
  for (p++; *p && field < F_LAST;) {
    while (*p == ' ') p++;
    field++;
    uint64_t x = 0;
    int neg = *p == '-';
    if (neg) p++;
    fmt_parse_dec(p, (size_t)-1, &x);
    while (*p && *p != ' ') p++;
    v[field] = neg ? 0 : x;
  }
  return field == F_LAST ? 0 : -1;
}

void cmdline_note(void) {
  uint64_t v[F_LAST + 1];
  memset(v, 0, sizeof v);
  if (read_stat(v) == 0) {
    saved_args[0] = v[F_ARG_START];
    saved_args[1] = v[F_ARG_END];
    saved_args[2] = v[F_ENV_START];
    saved_args[3] = v[F_ENV_END];
  }
  long n = sys_call4(__NR_readlinkat, AT_FDCWD, (long)"/proc/thread-self/exe", (long)saved_exe, sizeof saved_exe - 1);
  saved_exe[n > 0 ? n : 0] = 0;
}

static void say(const char *what, long err) {
  char line[1400];
  struct sbuf sb;
  sb_init(&sb, line, sizeof line - 1);
  sb_puts(&sb, "dmtcp restart: ");
  sb_puts(&sb, g_restart_info.image_path);
  sb_puts(&sb, ": ");
  sb_puts(&sb, what);
  sb_puts(&sb, " (errno ");
  sb_putu(&sb, (uint64_t)-err);
  sb_puts(&sb, ")\n");
  sys_write(2, sb.buf, sb.len);
}

void cmdline_note_mm(void) {
  uint64_t v[F_LAST + 1];
  memset(v, 0, sizeof v);
  if (read_stat(v) < 0) return;
  v[0] = (uint64_t)sys_call1(__NR_brk, 0);
  memcpy(saved_mm, v, sizeof saved_mm);
}

static long set_mm_map(const uint64_t *v, int exe_fd) {
  struct prctl_mm_map m;
  memset(&m, 0, sizeof m);
  m.start_code = v[F_START_CODE];
  m.end_code = v[F_END_CODE];
  m.start_data = v[F_START_DATA];
  m.end_data = v[F_END_DATA];
  m.start_brk = v[F_START_BRK];
  m.brk = v[0];
  m.start_stack = v[F_START_STACK];
  m.arg_start = saved_args[0];
  m.arg_end = saved_args[1];
  m.env_start = saved_args[2];
  m.env_end = saved_args[3];
  m.exe_fd = (uint32_t)exe_fd;
  return sys_call5(__NR_prctl, PR_SET_MM, PR_SET_MM_MAP, (long)&m, sizeof m, 0);
}

/* One field at a time (CAP_SYS_RESOURCE): the kernel checks start <= end
 * against the other field's current value, so the order depends on where
 * the old range lies. */
static long set_pair(int start_op, int end_op, uint64_t start, uint64_t end, uint64_t cur_end) {
  int first = start > cur_end ? end_op : start_op, second = first == start_op ? end_op : start_op;
  long r = sys_call5(__NR_prctl, PR_SET_MM, first, (long)(first == start_op ? start : end), 0, 0);
  if (r == 0) r = sys_call5(__NR_prctl, PR_SET_MM, second, (long)(second == start_op ? start : end), 0, 0);
  return r;
}

/* After restart, once the restart program is unmapped. */
void cmdline_restore(void) {
  if (saved_args[0] == 0 || saved_args[1] <= saved_args[0]) return;
  uint64_t v[F_LAST + 1];
  memset(v, 0, sizeof v);
  if (read_stat(v) < 0) return;
  v[0] = (uint64_t)sys_call1(__NR_brk, 0);
  /* The checkpoint's layout where it was noted (an image from before it was
   * keeps the restart's). */
  const uint64_t *mm = saved_mm[F_START_BRK] ? saved_mm : v;
  long exe = saved_exe[0] ? sys_open(saved_exe, O_RDONLY | O_CLOEXEC, 0) : -1;
  long r = exe >= 0 ? set_mm_map(mm, (int)exe) : -1;
  int exe_done = r == 0;
  if (exe >= 0) sys_close((int)exe);
  if (r != 0) r = set_mm_map(mm, -1);
  if (r != 0) {
    long e = r;
    r = set_pair(PR_SET_MM_ARG_START, PR_SET_MM_ARG_END, saved_args[0], saved_args[1], v[F_ARG_END]);
    if (r == 0) set_pair(PR_SET_MM_ENV_START, PR_SET_MM_ENV_END, saved_args[2], saved_args[3], v[F_ENV_END]);
    if (r != 0) {
      say("/proc/PID/cmdline stays empty: the kernel refused PR_SET_MM_MAP (needs CONFIG_CHECKPOINT_RESTORE) "
          "and PR_SET_MM (needs CAP_SYS_RESOURCE)", e);
      return;
    }
  }
  if (!exe_done && saved_exe[0]) {
    static const char note[] =
        "dmtcp restart: note: /proc/PID/exe names the restart program (giving it back needs CAP_CHECKPOINT_RESTORE)\n";
    sys_write(2, note, sizeof note - 1);
  }
}
