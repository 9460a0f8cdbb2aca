/* The file plugin's event handler: the phase script, top to bottom.
 *
 *   INIT           read the launch settings (they stay in the image)
 *   DRAIN          describe every descriptor into memory the image
 *                  captures (with the bytes of deleted files, or of every
 *                  open file with DMTCP_CKPT_OPEN_FILES=1); agree with the
 *                  other processes on shared descriptions and drain the
 *                  pipes, FIFOs and pseudo-terminals this process was chosen
 *                  for
 *   RESTART        once the plugins after this one have run, put the
 *                  descriptors back, together with the other processes for
 *                  what they share
 *   REFILL         put the drained bytes back, on resume as on restart
 *   THREADS_RESUME the memory has served: give it back (and refill first if
 *                  the round was abandoned before REFILL) */
#include <stdlib.h>
#include <sys/stat.h>

#include "dmtcp/plugin.h"
#include "file_plugin.h"
#include "dmtcp/sys.h"

static const char *launch_env(const char *name, void *ctx) {
  (void)ctx;
  return getenv(name);
}

/* Descriptors present when RESTART arrives, before any plugin restores its
 * own: what `dmtcp restart` inherited.  Static: the checkpoint thread's
 * stack is not ours to grow. */
#define MAX_INHERITED 1024
static int inherited_fds[MAX_INHERITED];
static struct file_inherited inherited[MAX_INHERITED];
static size_t ninherited;

static void note_inherited(void) {
  size_t n = file_list_fds(inherited_fds, MAX_INHERITED);
  ninherited = 0;
  for (size_t i = 0; i < n; i++) {
    struct stat st;
    if (sys_fstat(inherited_fds[i], &st) < 0) continue;
    inherited[ninherited].fd = inherited_fds[i];
    inherited[ninherited].dev = st.st_dev;
    inherited[ninherited].ino = st.st_ino;
    ninherited++;
  }
}

static void on_restart(void) {
  /* Restart-time settings apply to this restart; the persistent ones
   * (saving contents, debug) also to the checkpoints that follow. */
  struct file_settings eff = g_file_settings;
  if (file_restart_env_load()) file_settings_apply(&eff, file_restart_env_get, NULL);
  else file_debug("the environment of the restart is not visible; using the settings of the launch");
  g_file_settings.debug = eff.debug;
  dmtcp_debug_set(eff.debug);
  g_file_settings.ckpt_open_files = eff.ckpt_open_files;
  g_file_settings.no_kcmp = eff.no_kcmp;
  file_restore(&g_file_table, &eff, inherited, ninherited);
  /* Paths are now the mapped ones: applying the map again at a later
   * restart would map them twice. */
  g_file_settings.path_map[0] = 0;
}

/* The library is built with hidden visibility; the runtime finds this one
 * symbol with dlsym. */
DMTCP_EXPORT void dmtcp_process_event(DmtcpEvent_t event, DmtcpEventData_t *data) {
  switch (event) {
    case DMTCP_EVENT_INIT:
      file_settings_defaults(&g_file_settings);
      file_settings_apply(&g_file_settings, launch_env, NULL);
      dmtcp_debug_set(g_file_settings.debug);
      NEXT_DMTCP_PROCESS_EVENT(event, data);
      return;
    case DMTCP_EVENT_DRAIN:
      file_scan(&g_file_table, &g_file_settings);
      file_drain(&g_file_table);
      NEXT_DMTCP_PROCESS_EVENT(event, data);
      return;
    case DMTCP_EVENT_WRITE_CKPT:
      if (!g_file_table.valid) file_scan(&g_file_table, &g_file_settings);
      NEXT_DMTCP_PROCESS_EVENT(event, data);
      return;
    case DMTCP_EVENT_REFILL:
      file_refill(&g_file_table);
      NEXT_DMTCP_PROCESS_EVENT(event, data);
      return;
    case DMTCP_EVENT_THREADS_RESUME:
      file_refill(&g_file_table);
      file_table_release(&g_file_table);
      NEXT_DMTCP_PROCESS_EVENT(event, data);
      return;
    case DMTCP_EVENT_RESTART:
      note_inherited();
      NEXT_DMTCP_PROCESS_EVENT(event, data);
      on_restart();
      return;
    default:
      NEXT_DMTCP_PROCESS_EVENT(event, data);
      return;
  }
}
