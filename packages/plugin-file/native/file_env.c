/* Settings, from the launch environment (read at INIT and kept in the image)
 * and, at restart, from the environment `dmtcp restart` ran with when the
 * restarted process can still see it: what the person restarting says wins. */
#include <string.h>

#include "file_plugin.h"
#include "dmtcp/sys.h"

struct file_settings g_file_settings;

/* The core's restart program knows the environment `dmtcp restart` ran
 * with; once the core hands it to plugins through this call, the plugin
 * uses it.  Weak, so that the plugin loads into a core without it. */
extern const char *dmtcp_restart_getenv(const char *name) __attribute__((weak));

void file_settings_defaults(struct file_settings *s) { memset(s, 0, sizeof *s); }

static int truthy(const char *v) { return v && v[0] && strcmp(v, "0") != 0 && strcmp(v, "no") != 0; }

void file_settings_apply(struct file_settings *s, const char *(*lookup)(const char *name, void *ctx), void *ctx) {
  const char *v;
  if ((v = lookup(DMTCP_DEBUG_ENV, ctx))) s->debug = dmtcp_debug_value_on(v);
  if ((v = lookup("DMTCP_CKPT_OPEN_FILES", ctx))) s->ckpt_open_files = truthy(v);
  if ((v = lookup("DMTCP_RESTORE_FILE_CONTENTS", ctx))) s->restore_contents = truthy(v);
  if ((v = lookup("DMTCP_FILE_NO_KCMP", ctx))) s->no_kcmp = truthy(v);
  if ((v = lookup("DMTCP_FILE_MISSING", ctx))) {
    /* Judged by the coordinator (src/missing.ts), which knows the names;
     * one too long for the buffer is cut and refused there. */
    size_t n = strlen(v);
    if (n >= sizeof s->missing_policy) n = sizeof s->missing_policy - 1;
    memcpy(s->missing_policy, v, n);
    s->missing_policy[n] = 0;
  }
  if ((v = lookup("DMTCP_PATH_MAP", ctx))) {
    const char *why = file_path_map_problem(v);
    size_t n = strlen(v);
    if (why) file_log("DMTCP_PATH_MAP=%s: %s; ignored", v, why);
    else if (n >= sizeof s->path_map) file_log("DMTCP_PATH_MAP is longer than %d bytes; ignored", (int)sizeof s->path_map - 1);
    else memcpy(s->path_map, v, n + 1);
  }
}

/* The kernel shows /proc/self/environ from the range the last exec set up.
 * After a restart that range belonged to the restart program's stack, which
 * is gone, or now holds some restored mapping: the block is only trusted
 * when it reads back as a well-formed environment with a coordinator port
 * in it, as the restart program's always has.  (Should it ever be the
 * restored process's own block, that is the launch environment, whose
 * settings are the ones already in effect.) */
static char env_block[65536];
static size_t env_len;
static int env_ok;

static int well_formed(const char *b, size_t n) {
  if (n == 0 || b[n - 1] != 0) return 0;
  int coord = 0;
  for (size_t i = 0; i < n;) {
    const char *e = b + i;
    size_t len = strlen(e);
    const char *eq = memchr(e, '=', len);
    if (!eq || eq == e) return 0;
    for (const char *c = e; c < eq; c++) {
      char ch = *c;
      if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_')) return 0;
    }
    if ((size_t)(eq - e) == 16 && memcmp(e, "DMTCP_COORD_PORT", 16) == 0) coord = 1;
    i += len + 1;
  }
  return coord;
}

static int use_core_env;

int file_restart_env_load(void) {
  env_ok = 0;
  env_len = 0;
  use_core_env = dmtcp_restart_getenv != NULL;
  if (use_core_env) return 1;
  long fd = sys_open("/proc/thread-self/environ", 0 /* O_RDONLY */ | 02000000 /* O_CLOEXEC */, 0);
  if (fd < 0) return 0;
  for (;;) {
    long r = sys_read((int)fd, env_block + env_len, sizeof env_block - 1 - env_len);
    if (r <= 0) break;
    env_len += (size_t)r;
    if (env_len == sizeof env_block - 1) break;
  }
  sys_close((int)fd);
  env_ok = well_formed(env_block, env_len);
  return env_ok;
}

const char *file_restart_env_get(const char *name, void *ctx) {
  (void)ctx;
  if (use_core_env) return dmtcp_restart_getenv(name);
  if (!env_ok) return NULL;
  size_t nl = strlen(name);
  for (size_t i = 0; i < env_len;) {
    const char *e = env_block + i;
    size_t len = strlen(e);
    if (len > nl && e[nl] == '=' && memcmp(e, name, nl) == 0) return e + nl + 1;
    i += len + 1;
  }
  return NULL;
}
