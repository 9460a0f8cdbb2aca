/* Functions plugins and applications call: publish/subscribe, the safe
 * logger, and the application API (dmtcp_checkpoint and friends). */
#include <errno.h>
#include <linux/futex.h>
#include <string.h>
#include <unistd.h>

#include "dmtcp/plugin.h"
#include "dmtcp5.h"
#include "runtime.h"

#define NS_NAMESPACE "dmtcp"

_Atomic uint32_t g_ckpt_done_seq;
_Atomic int g_round_active;
static _Atomic int last_round_ok;

EXPORT int dmtcp_is_enabled(void) { return g_rt.enabled; }
EXPORT int dmtcp_get_generation(void) { return (int)g_rt.done_generation; }
EXPORT const char *dmtcp_get_ckpt_dir(void) { return g_rt.ckpt_dir; }

EXPORT const char *dmtcp_get_uniquepid_str(void) {
  static char buf[24];
  struct sbuf sb;
  sb_init(&sb, buf, sizeof buf);
  sb_putx(&sb, g_rt.upid, 16);
  return buf;
}

EXPORT void dmtcp_log(const char *fmt, ...) {
  char buf[1024];
  struct sbuf sb;
  sb_init(&sb, buf, sizeof buf - 1);
  va_list ap;
  va_start(ap, fmt);
  sb_vformat(&sb, fmt, ap);
  va_end(ap);
  if (sb.len == 0 || buf[sb.len - 1] != '\n') buf[sb.len++] = '\n';
  sys_write(2, buf, sb.len);
}

EXPORT void dmtcp_disable_ckpt(void) {
  if (g_rt.enabled) ckpt_lock_read();
}

EXPORT void dmtcp_enable_ckpt(void) {
  if (g_rt.enabled) ckpt_unlock_read();
}

EXPORT int dmtcp_checkpoint(void) {
  if (!g_rt.enabled) return DMTCP_NOT_PRESENT;
  /* A round already under way was not requested by this call: let it end,
   * so that the round waited for below starts after the request. */
  api_wait_round_end();
  uint32_t seq = atomic_load(&g_ckpt_done_seq);
  uint64_t restarts = g_rt.restart_count;
  int fd = coord_connect();
  if (fd < 0) return DMTCP_NOT_PRESENT;
  static const char cmd[] = "{\"cmd\":\"checkpoint\"}";
  if (coord_send(fd, DMT_USER_CMD, 0, NULL, cmd, sizeof cmd - 1) < 0) {
    sys_close(fd);
    return DMTCP_NOT_PRESENT;
  }
  /* This thread is suspended like any other during the checkpoint; the
   * checkpoint thread wakes it once the round (or the restart) is over. */
  while (atomic_load(&g_ckpt_done_seq) == seq) sys_futex(&g_ckpt_done_seq, FUTEX_WAIT_PRIVATE, (int)seq, NULL);
  if (g_rt.restart_count != restarts) return DMTCP_AFTER_RESTART; /* that socket is gone with the old process */
  sys_close(fd);
  return atomic_load(&last_round_ok) ? DMTCP_AFTER_CHECKPOINT : DMTCP_CHECKPOINT_FAILED;
}

void api_wait_round_end(void) {
  for (;;) {
    uint32_t seq = atomic_load(&g_ckpt_done_seq);
    if (!atomic_load(&g_round_active)) return;
    sys_futex(&g_ckpt_done_seq, FUTEX_WAIT_PRIVATE, (int)seq, NULL);
  }
}

void api_checkpoint_done(int ok) {
  atomic_store(&last_round_ok, ok);
  atomic_store(&g_round_active, 0);
  atomic_fetch_add(&g_ckpt_done_seq, 1);
  sys_futex(&g_ckpt_done_seq, FUTEX_WAKE_PRIVATE, 0x7fffffff, NULL);
}

/* ---- publish/subscribe (REGISTER_NAME_SERVICE_DATA / SEND_QUERIES) ---- */

static int ns_allowed(void) { return g_rt.enabled && g_rt.ns_phase; }

EXPORT int dmtcp_send_key_val_pair_to_coordinator(const void *key, size_t key_len, const void *val, size_t val_len) {
  if (!ns_allowed() || key_len == 0 || key_len + val_len > DMTCP_MSG_MAX_PAYLOAD) return DMTCP_NS_ERROR;
  char small[4096];
  if (key_len + val_len > sizeof small) return DMTCP_NS_ERROR;
  memcpy(small, key, key_len);
  memcpy(small + key_len, val, val_len);
  return coord_send(DMTCP_COORD_FD, DMT_KV_PUT, (uint32_t)key_len, NS_NAMESPACE, small, key_len + val_len) < 0
             ? DMTCP_NS_ERROR
             : DMTCP_NS_OK;
}

EXPORT int dmtcp_send_query_to_coordinator(const void *key, size_t key_len, void *val, size_t *val_len) {
  if (!ns_allowed() || key_len == 0 || !val_len) return DMTCP_NS_ERROR;
  if (coord_send(DMTCP_COORD_FD, DMT_KV_GET, (uint32_t)key_len, NS_NAMESPACE, key, key_len) < 0) return DMTCP_NS_ERROR;
  char buf[4096];
  for (;;) {
    struct msg m;
    if (coord_recv(DMTCP_COORD_FD, &m, buf, sizeof buf) < 0) return DMTCP_NS_ERROR;
    if (m.hdr.type != DMT_KV_VALUE) continue;
    if (m.hdr.extra != DMTCP_KV_OK) return DMTCP_NS_NOT_FOUND;
    size_t cap = *val_len;
    *val_len = m.hdr.payload_len;
    if (m.hdr.payload_len > cap || m.hdr.payload_len > m.payload_len) return DMTCP_NS_BUFFER_TOO_SMALL;
    memcpy(val, m.payload, m.payload_len);
    return DMTCP_NS_OK;
  }
}

EXPORT int dmtcp_global_barrier(const char *name, const void *record, size_t record_len, void *reply, size_t *reply_len) {
  /* DMTCP's dmtcp_global_barrier(name) has the same symbol: its callers are
   * the libraries that registered through dmtcp_register_plugin. */
  if (dmtcp5_owns(__builtin_return_address(0))) {
    dmtcp5_global_barrier(name);
    return DMTCP_NS_OK;
  }
  if (!g_rt.enabled || !name || strlen(name) >= DMTCP_MSG_NAME_LEN) return DMTCP_NS_ERROR;
  size_t cap = reply && reply_len ? *reply_len : 0;
  if (coord_barrier(name, record, record_len, cap ? reply : NULL, cap) < 0) return DMTCP_NS_ERROR;
  if (!reply_len) return DMTCP_NS_OK;
  *reply_len = g_last_release_len;
  return g_last_release_len > cap ? DMTCP_NS_BUFFER_TOO_SMALL : DMTCP_NS_OK;
}

/* A connection of its own per call: the process's coordinator socket
 * belongs to the checkpoint thread, and a call may come from any thread. */
EXPORT int dmtcp_coordinator_call(const char *name, const void *request, size_t request_len, void *reply,
                                  size_t *reply_len) {
  if (!g_rt.enabled || !name || !*name || strlen(name) >= DMTCP_MSG_NAME_LEN ||
      request_len > DMTCP_MSG_MAX_PAYLOAD || (request_len && !request))
    return DMTCP_NS_ERROR;
  int fd = coord_connect();
  if (fd < 0) return DMTCP_NS_ERROR;
  size_t cap = reply && reply_len ? *reply_len : 0;
  struct msg m;
  int r = DMTCP_NS_ERROR;
  if (coord_send(fd, DMT_PLUGIN_CALL, 0, name, request, request_len) == 0 &&
      coord_recv(fd, &m, cap ? reply : NULL, cap) == 0 && m.hdr.type == DMT_PLUGIN_RESULT) {
    if (m.hdr.extra == DMTCP_CALL_UNKNOWN) {
      r = DMTCP_NS_NOT_FOUND;
    } else if (m.hdr.extra == DMTCP_CALL_OK) {
      if (reply_len) *reply_len = m.hdr.payload_len;
      r = m.hdr.payload_len > cap && reply_len ? DMTCP_NS_BUFFER_TOO_SMALL : DMTCP_NS_OK;
    }
  }
  sys_close(fd);
  return r;
}

EXPORT const char *dmtcp_restart_getenv(const char *name) {
  if (!name || !g_rt.restart_env) return NULL;
  size_t n = strlen(name);
  for (const char *p = g_rt.restart_env; p < g_rt.restart_env + g_rt.restart_env_len; p += strlen(p) + 1)
    if (strncmp(p, name, n) == 0 && p[n] == '=') return p + n + 1;
  return NULL;
}
