/* The restart exchange.  Every process reports its virtual pid and the
 * virtual tids of its threads, each with its real id in the new life, at
 * the "pid:restart" barrier; the coordinator module merges the reports per
 * host and answers each process with its host's table, which replaces what
 * this process knew of the others.
 *
 * Runs in the checkpoint thread while every user thread waits: records and
 * replies are built in static storage, nothing is allocated. */
#include <stdint.h>
#include <string.h>

#include "dmtcp/plugin.h"
#include "pid_internal.h"
#include "pid_wire.h"

#define LOG_PREFIX "pid: "

static char record_buf[PID_RECORD_HEADER_SIZE + PID_TABLE_SIZE * PID_RECORD_THREAD_SIZE];
static char reply_buf[PID_REPLY_MAX + 1];

static size_t build_record(pid_t real) {
  struct pid_record_header h = {PID_RECORD_MAGIC, PID_WIRE_VERSION, 0, g_pid_vpid, real, 0};
  size_t off = sizeof h;
  int n = pid_table_used();
  for (int i = 0; i < n; i++) {
    struct pid_entry *e = &g_pid_table[i];
    pid_t vid = atomic_load(&e->vid);
    if (!vid || e->owner != g_pid_vpid || vid == g_pid_vpid) continue;
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
  pid_table_drop_others(g_pid_vpid);
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

void pid_restart_exchange(pid_t real) {
  int knew_others = pid_table_count_others(g_pid_vpid) > 0;
  size_t len = build_record(real);
  size_t reply_len = sizeof reply_buf;
  int rc = dmtcp_global_barrier(PID_BARRIER_RESTART, record_buf, len, reply_buf, &reply_len);
  if (rc != DMTCP_NS_OK || load_table(reply_buf, reply_len) < 0) {
    /* Stale real ids of other processes would send signals to strangers:
     * better to know only our own. */
    pid_table_drop_others(g_pid_vpid);
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
