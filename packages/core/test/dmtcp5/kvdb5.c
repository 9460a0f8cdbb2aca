/* The key/value database of include/dmtcp/dmtcp.h between the processes of
 * a computation: at each checkpoint every process adds 1 to one counter and
 * records its pid under its own key; after a barrier each reads the counter
 * and the key of the process that published the other pid. */
#include <stdlib.h>
#include <string.h>

#include "dmtcp.h"
#include "say.h"

static void hook(const DmtcpEvent_t event, DmtcpEventData_t *data) {
  (void)data;
  if (event != DMTCP_EVENT_PRECHECKPOINT) return;
  char pid[16], key[64];
  snprintf(pid, sizeof pid, "%d", (int)getpid());
  snprintf(key, sizeof key, "pid-%s", dmtcp_get_uniquepid_str());
  int64_t before = -1;
  int r1 = dmtcp_kvdb_request64(DMTCP_KVDB_INCRBY, "kvdb5", "checkpoints", 1, &before);
  int r2 = dmtcp_kvdb_set("kvdb5", key, pid);
  dmtcp_global_barrier("kvdb5:published");
  int64_t total = -1;
  int r3 = dmtcp_kvdb_request64(DMTCP_KVDB_GET, "kvdb5", "checkpoints", 0, &total);
  char back[16] = "";
  int r4 = dmtcp_kvdb_get("kvdb5", key, back, sizeof back);
  char none[16] = "x";
  int r5 = dmtcp_kvdb_get("kvdb5", "no-such-key", none, sizeof none);
  int r6 = dmtcp_kvdb_get("no-such-db", "k", none, sizeof none);
  say("d5[kvdb] pid=%d incr=%d get=%d set=%d getkey=%d missing=%d nodb=%d total=%lld own=%s", (int)getpid(), r1, r3,
      r2, r4, r5, r6, (long long)total, back);
}

static DmtcpPluginDescriptor_t kvdb_plugin = {DMTCP_PLUGIN_API_VERSION, DMTCP_PACKAGE_VERSION, "kvdb5", "DMTCP",
                                              "dmtcp@example.invalid", "kvdb between processes", hook};

DMTCP_DECL_PLUGIN(kvdb_plugin);
