/* The pid plugin's phase script: who this process is (its virtual pid),
 * which thread is which (virtual tids), and how both survive fork, exec and
 * restart.  At restart every process reports its virtual ids with its new
 * real ones at the "pid:restart" barrier and loads the table of the whole
 * host that the coordinator module merged from those reports. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "dmtcp/plugin.h"
#include "pid_internal.h"
#include "pid_wire.h"

#define LOG_PREFIX "pid: "

_Atomic int g_pid_active;
_Atomic unsigned g_pid_restarts;
pid_t g_pid_vpid;
pid_t g_pid_real;
int g_pid_orphan;
__thread int t_pid_fork_attempt __attribute__((tls_model("initial-exec")));

/* initial-exec: read from signal handlers, never allocated lazily. */
static __thread pid_t t_vtid __attribute__((tls_model("initial-exec")));
static __thread int t_slot __attribute__((tls_model("initial-exec"))); /* slot + 1; 0 for the main thread */

static pthread_key_t exit_key;
static int have_exit_key;
static atomic_flag alloc_lock = ATOMIC_FLAG_INIT;

/* Records and replies are built in static storage: the restart handler may
 * not allocate. */
static char record_buf[PID_RECORD_HEADER_SIZE + PID_TABLE_SIZE * PID_RECORD_THREAD_SIZE];
static char reply_buf[PID_REPLY_MAX + 1];

pid_t pid_self_vtid(void) { return t_vtid; }

void pid_ckpt_off(void) {
  if (dmtcp_disable_ckpt) dmtcp_disable_ckpt();
}
void pid_ckpt_on(void) {
  if (dmtcp_enable_ckpt) dmtcp_enable_ckpt();
}

/* glibc keeps each thread's tid in its descriptor and has the kernel clear
 * it at exit, so the clear-child-tid address is that field.  The core writes
 * the new real tid there when it recreates a thread at restart. */
static int *own_tid_address(pid_t real) {
  int *addr = NULL;
  if (sys_call3(SYS_prctl, PR_GET_TID_ADDRESS, (long)&addr, 0) < 0 || !addr) return NULL;
  return *addr == real ? addr : NULL;
}

static int is_process(const struct pid_entry *e, pid_t vid) { return e->owner == vid; }

static void drop_where(int (*pred)(const struct pid_entry *, pid_t)) {
  int n = pid_table_used();
  for (int i = 0; i < n; i++) {
    struct pid_entry *e = &g_pid_table[i];
    pid_t vid = atomic_load(&e->vid);
    if (vid && pred(e, vid)) pid_table_remove_slot(i);
  }
}

static int is_own_thread(const struct pid_entry *e, pid_t vid) { return e->owner == g_pid_vpid && vid != g_pid_vpid; }
static int is_foreign(const struct pid_entry *e, pid_t vid) {
  (void)vid;
  return e->owner != g_pid_vpid;
}

/* ---- exec: the new program inherits who it is ---- */

/* Writes v at p (room for 20 characters), returns the end. */
static char *put_dec(char *p, long v) {
  struct sbuf sb;
  sb_init(&sb, p, 21);
  sb_puti(&sb, v);
  return p + sb.len;
}

static char *state_string(int spawn, pid_t alt) {
  int n = pid_table_used();
  size_t cap = sizeof PID_EXEC_ENV + 48 + (size_t)(n + 1) * 24;
  char *s = malloc(cap);
  if (!s) return NULL;
  char *p = s;
  memcpy(p, PID_EXEC_ENV "=", sizeof PID_EXEC_ENV);
  p += sizeof PID_EXEC_ENV;
  if (spawn) *p++ = '^';
  pid_t real = sys_getpid();
  p = put_dec(p, real);
  *p++ = ',';
  p = put_dec(p, g_pid_vpid);
  if (spawn) {
    *p++ = ',';
    p = put_dec(p, alt);
  }
  *p++ = ';';
  /* Processes only: the threads of this one end with the exec, and those of
   * others are theirs to name. */
  for (int i = 0; i < n; i++) {
    struct pid_entry *e = &g_pid_table[i];
    pid_t vid = atomic_load(&e->vid), rid = atomic_load(&e->real);
    if (!vid || !is_process(e, vid) || rid <= 0) continue;
    if (vid == g_pid_vpid) {
      if (!spawn) continue;
      rid = real;
    }
    p = put_dec(p, vid);
    *p++ = ':';
    p = put_dec(p, rid);
    *p++ = ',';
  }
  *p = 0;
  return s;
}

char *pid_exec_state(void) { return state_string(0, 0); }
char *pid_spawn_state(pid_t alt) { return state_string(1, alt); }

/* -1 when p does not start with a number that fits. */
static const char *get_dec(const char *p, long *out) {
  uint64_t v = 0;
  long n = fmt_parse_dec(p, (size_t)-1, &v);
  *out = n > 0 && v <= (uint64_t)INT64_MAX ? (long)v : -1;
  return n > 0 ? p + n : p;
}

static const char *load_list(const char *s) {
  while (*s) {
    long vid, rid;
    s = get_dec(s, &vid);
    if (*s++ != ':') break;
    s = get_dec(s, &rid);
    if (vid > 0 && rid > 0) pid_table_put((pid_t)vid, (pid_t)rid, (pid_t)vid, NULL);
    if (*s == ',') s++;
  }
  return s;
}

/* The spawn form's header: parent real, parent vpid, alt; NULL if malformed. */
static const char *spawn_header(const char *s, long *preal, long *pvpid, long *alt) {
  if (strncmp(s, PID_EXEC_ENV "=", sizeof PID_EXEC_ENV) == 0) s += sizeof PID_EXEC_ENV;
  if (*s++ != '^') return NULL;
  s = get_dec(s, preal);
  if (*s++ != ',') return NULL;
  s = get_dec(s, pvpid);
  if (*s++ != ',') return NULL;
  s = get_dec(s, alt);
  if (*s++ != ';') return NULL;
  return s;
}

pid_t pid_state_spawn_vpid(const char *state, pid_t real) {
  long preal, pvpid, alt;
  const char *s = spawn_header(state, &preal, &pvpid, &alt);
  if (!s) return real;
  while (*s) {
    long vid, rid;
    s = get_dec(s, &vid);
    if (*s++ != ':') break;
    s = get_dec(s, &rid);
    if (vid == real && rid != real) return alt > 0 ? (pid_t)alt : real;
    if (*s == ',') s++;
  }
  return real;
}

/* Adopts the state the exec'ing image left, provided it was left for this
 * very process (a child started by other means inherits the environment). */
static pid_t adopt_exec_state(const char *s, pid_t real) {
  long r, v;
  s = get_dec(s, &r);
  if (*s++ != ',') return real;
  s = get_dec(s, &v);
  if (*s++ != ';' || r != real || v <= 0) return real;
  load_list(s);
  return (pid_t)v;
}

/* A posix_spawn child: the state is meant for it when its parent left it. */
static pid_t adopt_spawn_state(const char *state, pid_t real) {
  long preal, pvpid, alt;
  const char *s = spawn_header(state, &preal, &pvpid, &alt);
  if (!s || preal != sys_call3(SYS_getppid, 0, 0, 0)) return real;
  load_list(s);
  pid_t vpid = pid_state_spawn_vpid(state, real);
  if (vpid != real) PID_LOG(LOG_PREFIX "spawned as %d, the virtual pid of another process: virtual pid %d", (int)real, (int)vpid);
  return vpid;
}

/* ---- life of a process ---- */

static void thread_gone(void *value) {
  int slot = (int)(intptr_t)value - 1;
  if (slot >= 0 && slot < PID_TABLE_SIZE && atomic_load(&g_pid_table[slot].vid) == t_vtid &&
      g_pid_table[slot].owner == g_pid_vpid)
    pid_table_remove_slot(slot);
  t_slot = 0;
}

static void read_pid_max(void) {
  char buf[32];
  int fd = open("/proc/sys/kernel/pid_max", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return;
  buf[n] = 0;
  long v;
  get_dec(buf, &v);
  if (v > 0) pid_table_set_pid_max((int)v);
}

static void on_init(void) {
  const char *dbg = getenv(DMTCP_DEBUG_ENV);
  dmtcp_debug_set(dmtcp_debug_value_on(dbg));
  read_pid_max();
  pid_t real = sys_getpid();
  pid_t vpid = real;
  const char *state = getenv(PID_EXEC_ENV);
  if (state) {
    vpid = state[0] == '^' ? adopt_spawn_state(state, real) : adopt_exec_state(state, real);
    unsetenv(PID_EXEC_ENV);
  }
  if (!state || state[0] == '^') {
    /* A new process of the computation (an exec keeps its claim).  A
     * launched one cannot be forked again: it takes another number.  A
     * spawned one was already named by its parent. */
    pid_t got = pid_claim(vpid, state != NULL);
    if (got > 0 && got != vpid) {
      PID_LOG(LOG_PREFIX "pid %d is a virtual id elsewhere in the computation: virtual pid %d", (int)vpid, (int)got);
      vpid = got;
    } else if (got <= 0) {
      dmtcp_log(LOG_PREFIX "virtual pid %d is also used on another host of the computation", (int)vpid);
    }
  }
  g_pid_vpid = vpid;
  g_pid_real = real;
  pid_table_put(vpid, real, vpid, NULL);
  t_vtid = vpid;
  t_slot = 0;
  if (pthread_key_create(&exit_key, thread_gone) == 0) have_exit_key = 1;
  atomic_store(&g_pid_active, 1);
  PID_LOG(LOG_PREFIX "vpid %d (real %d)", (int)vpid, (int)real);
}

/* In a new thread, before it runs any user code. */
static void on_thread_start(void) {
  pid_ckpt_off();
  pid_t real = sys_gettid();
  pid_t vid = real;
  while (atomic_flag_test_and_set(&alloc_lock)) {
  }
  if (pid_table_vid_conflict(real)) {
    /* A restarted task already answers to this number. */
    pid_t alt = pid_table_free_vid();
    if (alt) alt = pid_claim(alt, 0);
    if (alt > 0) vid = alt;
    PID_LOG(LOG_PREFIX "new thread %d: that tid is a virtual id in use; virtual tid %d", (int)real, (int)vid);
  }
  int slot = pid_table_put(vid, real, g_pid_vpid, own_tid_address(real));
  atomic_flag_clear(&alloc_lock);
  if (slot < 0) dmtcp_log(LOG_PREFIX "id table full (%d entries): thread %d keeps its real tid", PID_TABLE_SIZE, (int)real);
  t_vtid = vid;
  t_slot = slot + 1;
  if (have_exit_key && slot >= 0) pthread_setspecific(exit_key, (void *)(intptr_t)(slot + 1));
  pid_ckpt_on();
}

/* In the child, in the forking thread, before the child runs user code.
 * The parent makes the same decision about a conflicting child from the
 * same table (see fork in pid_wrappers.c). */
void pid_fork_child_setup(void) {
  pid_t real = sys_getpid();
  if (g_pid_real == real) return;
  int last = t_pid_fork_attempt >= PID_FORK_ATTEMPTS - 1;
  int taken = pid_table_vid_conflict(real) || pid_claim(real, 1) != real;
  pid_fork_gate_tell(!taken || last);
  if (taken) {
    if (!last) sys_exit_group(0);
    dmtcp_log(LOG_PREFIX "pid %d is the virtual pid of another process and %d forks did no better; "
                         "the two now share it",
              (int)real, PID_FORK_ATTEMPTS);
  }
  atomic_flag_clear(&alloc_lock);
  pid_spawn_atfork_child();
  pid_table_sweep();
  drop_where(is_own_thread);
  g_pid_vpid = real;
  g_pid_real = real;
  t_vtid = real;
  t_slot = 0;
  if (have_exit_key) pthread_setspecific(exit_key, NULL);
  pid_table_put(real, real, real, NULL);
}

/* ---- restart ---- */

static size_t build_record(pid_t real) {
  struct pid_record_header h = {PID_RECORD_MAGIC, PID_WIRE_VERSION, 0, g_pid_vpid, real, 0};
  size_t off = sizeof h;
  int n = pid_table_used();
  for (int i = 0; i < n; i++) {
    struct pid_entry *e = &g_pid_table[i];
    pid_t vid = atomic_load(&e->vid);
    if (!vid || !is_own_thread(e, vid)) continue;
    /* The core rewrote glibc's cached tid with the recreated thread's tid;
     * without that address the thread fixes its entry when it resumes. */
    pid_t now = e->tid_addr ? (pid_t)*(volatile int *)e->tid_addr : 0;
    if (now <= 0) now = 0;
    atomic_store(&e->real, now);
    if (off + sizeof(struct pid_record_thread) > sizeof record_buf) break;
    struct pid_record_thread t = {vid, now};
    memcpy(record_buf + off, &t, sizeof t);
    off += sizeof t;
    h.nthreads++;
  }
  memcpy(record_buf, &h, sizeof h);
  return off;
}

/* Loads the host's table; 0 when the reply is one. */
static int load_table(const char *buf, size_t len) {
  struct pid_table_header h;
  if (len < sizeof h) return -1;
  memcpy(&h, buf, sizeof h);
  if (h.magic != PID_TABLE_MAGIC || h.version != PID_WIRE_VERSION) return -1;
  if ((size_t)h.count > (len - sizeof h) / sizeof(struct pid_table_entry)) return -1;
  drop_where(is_foreign);
  for (uint32_t i = 0; i < h.count; i++) {
    struct pid_table_entry e;
    memcpy(&e, buf + sizeof h + i * sizeof e, sizeof e);
    if (e.vid <= 0 || e.owner == g_pid_vpid) continue;
    if (pid_table_put(e.vid, e.real, e.owner, NULL) < 0) {
      dmtcp_log(LOG_PREFIX "id table full (%d entries): %u ids of other processes not loaded", PID_TABLE_SIZE,
                h.count - i);
      break;
    }
  }
  return 0;
}

static int count_foreign(void) {
  int n = 0, used = pid_table_used();
  for (int i = 0; i < used; i++) {
    pid_t vid = atomic_load(&g_pid_table[i].vid);
    if (vid && is_foreign(&g_pid_table[i], vid)) n++;
  }
  return n;
}

/* In the checkpoint thread; every user thread is recreated and waiting. */
static void on_restart(void) {
  pid_claim_forget();
  pid_t real = sys_getpid();
  g_pid_real = real;
  atomic_fetch_add(&g_pid_restarts, 1);
  pid_table_forget_reaped();
  pid_table_sweep();
  pid_table_put(g_pid_vpid, real, g_pid_vpid, NULL);
  int knew_others = count_foreign() > 0;
  size_t len = build_record(real);
  size_t reply_len = sizeof reply_buf;
  int rc = dmtcp_global_barrier(PID_BARRIER_RESTART, record_buf, len, reply_buf, &reply_len);
  if (rc != DMTCP_NS_OK || load_table(reply_buf, reply_len) < 0) {
    /* Stale real ids of other processes would send signals to strangers:
     * better to know only our own. */
    drop_where(is_foreign);
    const char *why = rc == DMTCP_NS_BUFFER_TOO_SMALL ? "reply too large"
                      : rc != DMTCP_NS_OK             ? "barrier failed"
                      : reply_len == 0                ? "empty reply: is the pid plugin's coordinator module loaded?"
                                                      : "malformed reply";
    /* A process that knows no other can do without the table. */
    if (knew_others || dmtcp_debug())
      dmtcp_log(LOG_PREFIX "restart: no id table from the coordinator (%s); ids of other processes are not translated",
                why);
    return;
  }
  PID_LOG(LOG_PREFIX "restart: vpid %d is real %d; %d slots in use", (int)g_pid_vpid, (int)real, pid_table_used());
}

/* In each user thread as it runs again after a restart. */
static void on_thread_restarted(void) {
  if (t_slot <= 0) return;
  struct pid_entry *e = &g_pid_table[t_slot - 1];
  if (atomic_load(&e->vid) == t_vtid) atomic_store(&e->real, sys_gettid());
}

PID_EXPORT void dmtcp_process_event(DmtcpEvent_t event, DmtcpEventData_t *data) {
  int active = atomic_load(&g_pid_active);
  switch (event) {
    case DMTCP_EVENT_INIT:
      on_init();
      break;
    case DMTCP_EVENT_ATFORK_CHILD:
      if (active) pid_fork_child_setup();
      break;
    case DMTCP_EVENT_THREAD_START:
      if (active) on_thread_start();
      break;
    case DMTCP_EVENT_RESTART:
      /* Before passing the event on: the core dispatches in load order, so
       * plugins loaded after this one would otherwise restore (and
       * translate ids) before the table is loaded.  Those loaded before it
       * do their restart work once NEXT_DMTCP_PROCESS_EVENT returns, also
       * after this. */
      if (active) {
        on_restart();
        pid_zombie_restart();
      }
      break;
    case DMTCP_EVENT_WRITE_CKPT:
      if (active) g_pid_orphan = getppid() == 1;
      if (active) pid_zombie_checkpoint();
      break;
    case DMTCP_EVENT_RESUME_USER_THREAD:
      if (active && data && data->resumeUserThreadInfo.isRestart) on_thread_restarted();
      break;
    default:
      break;
  }
  NEXT_DMTCP_PROCESS_EVENT(event, data);
}
