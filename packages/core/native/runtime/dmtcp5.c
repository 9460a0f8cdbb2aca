/* The runtime side of DMTCP's plugin API (include/dmtcp/dmtcp.h): plugin
 * registration through descriptors, dmtcp_dlsym for NEXT_FNC, DMTCP's event
 * numbers, barriers by name and the key/value database.  Our own events are
 * translated in dmtcp5_map.c; this file never sees plugin.h. */
#include <link.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dmtcp/dmtcp.h"
#include "dmtcp5.h"
#include "runtime.h"

#define D5_SAME(name) _Static_assert((int)D5_##name == (int)DMTCP_EVENT_##name, "D5_" #name);
D5_SAME(INIT) D5_SAME(EXIT) D5_SAME(PRE_EXEC) D5_SAME(POST_EXEC) D5_SAME(ATFORK_PREPARE) D5_SAME(ATFORK_PARENT)
D5_SAME(ATFORK_CHILD) D5_SAME(PTHREAD_START) D5_SAME(PTHREAD_EXIT) D5_SAME(PTHREAD_RETURN) D5_SAME(PRESUSPEND)
D5_SAME(PRECHECKPOINT) D5_SAME(RESUME) D5_SAME(RESTART) D5_SAME(RUNNING) D5_SAME(THREAD_RESUME)

/* From plugin.h, which this file cannot include. */
int dmtcp_coordinator_call(const char *name, const void *request, size_t request_len, void *reply, size_t *reply_len);
const char *dmtcp_restart_getenv(const char *name);

#define D5_MAX_PLUGINS 32
#define D5_KVDB_CALL "dmtcp5:kvdb"

struct d5_plugin {
  DmtcpPluginDescriptor_t descr;
  uintptr_t lo, hi; /* the library that registered it */
};

static struct d5_plugin d5_plugins[D5_MAX_PLUGINS];
int g_d5_count;
static char exe_path[1024];

/* ---- loaded objects ---- */

static void object_span(const struct dl_phdr_info *info, uintptr_t *lo, uintptr_t *hi) {
  *lo = UINTPTR_MAX;
  *hi = 0;
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    if (ph->p_type != PT_LOAD) continue;
    uintptr_t a = info->dlpi_addr + ph->p_vaddr;
    if (a < *lo) *lo = a;
    if (a + ph->p_memsz > *hi) *hi = a + ph->p_memsz;
  }
}

struct span_find {
  uintptr_t addr, lo, hi;
};

static int find_span(struct dl_phdr_info *info, size_t size, void *arg) {
  (void)size;
  struct span_find *f = arg;
  uintptr_t lo, hi;
  object_span(info, &lo, &hi);
  if (f->addr < lo || f->addr >= hi) return 0;
  f->lo = lo;
  f->hi = hi;
  return 1;
}

/* The symbol as defined by the object itself (dlsym on a handle also
 * searches the object's dependencies). */
static void *own_symbol(const struct dl_phdr_info *info, const char *sym, const char *ver) {
  if (!info->dlpi_name || !info->dlpi_name[0]) return NULL;
  void *h = dlopen(info->dlpi_name, RTLD_NOLOAD | RTLD_LAZY);
  if (!h) return NULL;
  void *fn = ver ? dlvsym(h, sym, ver) : dlsym(h, sym);
  dlclose(h);
  uintptr_t lo, hi;
  object_span(info, &lo, &hi);
  return fn && (uintptr_t)fn >= lo && (uintptr_t)fn < hi ? fn : NULL;
}

/* RTLD_NEXT from the object holding `after`: the first object after it in
 * load order (the order symbols are looked up in) that defines `sym`;
 * after == 0: the first object, libdmtcp.so excepted. */
struct next_find {
  uintptr_t after, self;
  int past;
  const char *sym, *ver;
  void *found;
};

static int find_next(struct dl_phdr_info *info, size_t size, void *arg) {
  (void)size;
  struct next_find *f = arg;
  uintptr_t lo, hi;
  object_span(info, &lo, &hi);
  if (!f->past) {
    if (f->after >= lo && f->after < hi) f->past = 1;
    return 0;
  }
  if (f->self >= lo && f->self < hi) return 0;
  f->found = own_symbol(info, f->sym, f->ver);
  return f->found != NULL;
}

static void *next_symbol(const void *caller, const char *sym, const char *ver) {
  struct next_find f = {(uintptr_t)caller, (uintptr_t)&next_symbol, caller == NULL, sym, ver, NULL};
  dl_iterate_phdr(find_next, &f);
  return f.found;
}

/* ---- registration ---- */

EXPORT void dmtcp_initialize(void) {}

EXPORT void dmtcp_register_plugin(DmtcpPluginDescriptor_t descr) {
  const char *name = descr.pluginName ? descr.pluginName : "(unnamed)";
  if (!descr.pluginApiVersion || strcmp(descr.pluginApiVersion, DMTCP_PLUGIN_API_VERSION) != 0) {
    log_msg("plugin %s: plugin API version \"%s\" is not \"%s\"; not loaded", name,
            descr.pluginApiVersion ? descr.pluginApiVersion : "", DMTCP_PLUGIN_API_VERSION);
    return;
  }
  if (g_d5_count >= D5_MAX_PLUGINS) {
    log_msg("plugin %s: more than %d DMTCP-style plugins; not loaded", name, D5_MAX_PLUGINS);
    return;
  }
  struct span_find f = {(uintptr_t)__builtin_return_address(0), 0, 0};
  dl_iterate_phdr(find_span, &f);
  struct d5_plugin *p = &d5_plugins[g_d5_count++];
  p->descr = descr;
  p->lo = f.lo;
  p->hi = f.hi;
  LOG_DEBUG("DMTCP-style plugin %s registered", name);
}

void dmtcp5_init(void) {
  long n = sys_readlink("/proc/self/exe", exe_path, sizeof exe_path - 1);
  exe_path[n > 0 ? n : 0] = 0;
  g_d5_count = 0;
  void (*first)(void) = (void (*)(void))next_symbol(NULL, "dmtcp_initialize_plugin", NULL);
  if (first) first();
}

int dmtcp5_owns(const void *addr) {
  uintptr_t a = (uintptr_t)addr;
  for (int i = 0; i < g_d5_count; i++)
    if (a >= d5_plugins[i].lo && a < d5_plugins[i].hi) return 1;
  return 0;
}

EXPORT void *dmtcp_dlsym(void *handle, const char *symbol) {
  if (handle == RTLD_NEXT) return next_symbol(__builtin_return_address(0), symbol, NULL);
  return dlsym(handle, symbol);
}

EXPORT void *dmtcp_dlvsym(void *handle, char *symbol, const char *version) {
  if (handle == RTLD_NEXT) return next_symbol(__builtin_return_address(0), symbol, version);
  return dlvsym(handle, symbol, version);
}

/* ---- events ---- */

/* Barriers need the coordinator's round and the checkpoint thread's socket:
 * only the round events, in the checkpoint thread, may wait at one. */
static __thread int in_round_event;

static int is_round_event(int ev) {
  return ev == D5_PRESUSPEND || ev == D5_PRECHECKPOINT || ev == D5_RESUME || ev == D5_RESTART;
}

void dmtcp5_deliver(int ev, const struct d5_data *d, int reverse) {
  DmtcpEventData_t data;
  memset(&data, 0, sizeof data);
  const char **argv = (const char **)d->argv, **envp = (const char **)d->envp;
  switch (ev) {
    case D5_PRE_EXEC:
      data.preExec.serializationFd = -1;
      data.preExec.filename = (char *)d->filename;
      data.preExec.argv = argv;
      data.preExec.envp = envp;
      while (argv && argv[data.preExec.maxArgs]) data.preExec.maxArgs++;
      while (envp && envp[data.preExec.maxEnv]) data.preExec.maxEnv++;
      break;
    case D5_POST_EXEC:
      data.postExec.serializationFd = -1;
      break;
    default:
      data.resumeUserThreadInfo.isRestart = d->is_restart;
  }
  int round = is_round_event(ev);
  if (round) in_round_event = 1;
  for (int k = 0; k < g_d5_count; k++) {
    struct d5_plugin *p = &d5_plugins[reverse ? g_d5_count - 1 - k : k];
    if (p->descr.event_hook) p->descr.event_hook((DmtcpEvent_t)ev, &data);
  }
  if (round) in_round_event = 0;
}

/* ---- barriers ---- */

/* A name may come back in a later event of the same round (RESUME after
 * PRECHECKPOINT): each barrier of a round gets its number in that round, so
 * that processes calling the same barriers in the same order agree. */
static uint64_t barrier_round_gen, barrier_round_restarts;
static unsigned barrier_seq;

void dmtcp5_global_barrier(const char *name) {
  if (!name) name = "";
  if (!in_round_event) {
    log_msg("dmtcp_global_barrier(\"%s\") outside PRESUSPEND, PRECHECKPOINT, RESUME or RESTART: not waited for", name);
    return;
  }
  if (barrier_round_gen != g_rt.generation || barrier_round_restarts != g_rt.restart_count) {
    barrier_round_gen = g_rt.generation;
    barrier_round_restarts = g_rt.restart_count;
    barrier_seq = 0;
  }
  char full[DMTCP_MSG_NAME_LEN];
  struct sbuf sb;
  sb_init(&sb, full, sizeof full - 1);
  sb_puts(&sb, "dmtcp5:");
  sb_putu(&sb, ++barrier_seq);
  sb_putc(&sb, ':');
  sb_puts(&sb, name);
  if (coord_barrier(sb_cstr(&sb), NULL, 0, NULL, 0) < 0) log_msg("dmtcp_global_barrier(\"%s\"): the round was abandoned", name);
}

EXPORT void dmtcp_local_barrier(const char *barrier) { (void)barrier; }

/* ---- key/value database ---- */

static size_t put_field(char *buf, size_t at, size_t cap, const char *s) {
  size_t n = strlen(s) + 1;
  if (at + n > cap) return cap + 1;
  memcpy(buf + at, s, n);
  return at + n;
}

EXPORT DmtcpKvdbResponse_t dmtcp_kvdb_request(DmtcpKvdbRequest_t req, const char *id, const char *key,
                                              const char *val, char *old, size_t old_cap) {
  if (old && old_cap) old[0] = 0;
  if (!id || !*id || !key || !*key || (req != DMTCP_KVDB_GET && (!val || !*val)) || (int)req < 0 ||
      req > DMTCP_KVDB_GET_OR_SET)
    return DMTCP_KVDB_INVALID_REQUEST;
  char msg[4096];
  size_t at = 0;
  msg[at++] = (char)('0' + (int)req);
  msg[at++] = 0;
  at = put_field(msg, at, sizeof msg, id);
  at = put_field(msg, at, sizeof msg, key);
  at = put_field(msg, at, sizeof msg, req == DMTCP_KVDB_GET ? "" : val);
  if (at > sizeof msg) return DMTCP_KVDB_INVALID_REQUEST;
  char reply[4096];
  size_t reply_len = sizeof reply - 1;
  /* DMTCP_NS_OK is 1 (plugin.h). */
  if (dmtcp_coordinator_call(D5_KVDB_CALL, msg, at, reply, &reply_len) != 1 || reply_len < 1)
    return DMTCP_KVDB_INVALID_REQUEST;
  int r = reply[0] - '0';
  if (r < DMTCP_KVDB_SUCCESS || r > DMTCP_KVDB_KEY_NOT_FOUND) return DMTCP_KVDB_INVALID_REQUEST;
  if (old && old_cap) {
    size_t n = reply_len - 1 < old_cap - 1 ? reply_len - 1 : old_cap - 1;
    memcpy(old, reply + 1, n);
    old[n] = 0;
  }
  return (DmtcpKvdbResponse_t)r;
}

EXPORT DmtcpKvdbResponse_t dmtcp_kvdb_set(const char *id, const char *key, const char *val) {
  return dmtcp_kvdb_request(DMTCP_KVDB_SET, id, key, val, NULL, 0);
}

EXPORT DmtcpKvdbResponse_t dmtcp_kvdb_get(const char *id, const char *key, char *val, size_t cap) {
  return dmtcp_kvdb_request(DMTCP_KVDB_GET, id, key, NULL, val, cap);
}

EXPORT DmtcpKvdbResponse_t dmtcp_kvdb_request64(DmtcpKvdbRequest_t req, const char *id, const char *key, int64_t val,
                                                int64_t *old) {
  char num[32], prev[32];
  struct sbuf sb;
  sb_init(&sb, num, sizeof num - 1);
  if (val < 0) sb_putc(&sb, '-');
  sb_putu(&sb, val < 0 ? (uint64_t)0 - (uint64_t)val : (uint64_t)val);
  DmtcpKvdbResponse_t r = dmtcp_kvdb_request(req, id, key, sb_cstr(&sb), prev, sizeof prev);
  if (r == DMTCP_KVDB_SUCCESS && old) *old = prev[0] ? strtoll(prev, NULL, 10) : 0;
  return r;
}

/* ---- what a plugin can ask ---- */

EXPORT const char *dmtcp_get_computation_id_str(void) {
  static char buf[24];
  struct sbuf sb;
  sb_init(&sb, buf, sizeof buf - 1);
  sb_putx(&sb, g_rt.comp_id, 16);
  return sb_cstr(&sb);
}

EXPORT const char *(dmtcp_get_ckpt_filename)(void) {
  static char buf[1200];
  image_path(buf, sizeof buf, 0);
  return buf;
}

EXPORT const char *dmtcp_get_tmpdir(void) {
  const char *t = getenv("TMPDIR");
  return t && *t ? t : "/tmp";
}

EXPORT const char *dmtcp_get_executable_path(void) { return exe_path; }

EXPORT int dmtcp_is_running_state(void) { return !atomic_load(&g_round_active); }

EXPORT int(dmtcp_get_local_status)(int *numCheckpoints, int *numRestarts) {
  if (numCheckpoints) *numCheckpoints = (int)g_rt.done_generation;
  if (numRestarts) *numRestarts = (int)g_rt.restart_count;
  return DMTCP_IS_PRESENT;
}

EXPORT DmtcpGetRestartEnvErr_t dmtcp_get_restart_env(const char *name, char *value, size_t maxvaluelen) {
  if (!name || !value) return RESTART_ENV_NULL_PTR;
  const char *v = dmtcp_restart_getenv(name);
  if (!v) return RESTART_ENV_NOTFOUND;
  size_t n = strlen(v);
  if (n + 1 > maxvaluelen) return RESTART_ENV_TOOLONG;
  memcpy(value, v, n + 1);
  return RESTART_ENV_SUCCESS;
}
