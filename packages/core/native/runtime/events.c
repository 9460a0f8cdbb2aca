/* Plugin event dispatch.  Plugins are the preloaded libraries that define
 * dmtcp_process_event, in load order; the runtime calls the first, and each
 * passes the event on with NEXT_DMTCP_PROCESS_EVENT.  Lookups happen once at
 * start-up: at checkpoint time another thread may hold the dynamic linker's
 * lock, so dispatch only compares addresses. */
#include <link.h>
#include <string.h>

#include "dmtcp/plugin.h"
#include "dmtcp5.h"
#include "runtime.h"

#define MAX_PLUGINS 32

struct plugin {
  uintptr_t start, end; /* the library's loaded range */
  void (*handler)(DmtcpEvent_t, DmtcpEventData_t *);
};

static struct plugin plugins[MAX_PLUGINS];
static int nplugins;

struct scan {
  uintptr_t self;
};

static int add_object(struct dl_phdr_info *info, size_t size, void *arg) {
  (void)size;
  struct scan *sc = arg;
  if (!info->dlpi_name || !info->dlpi_name[0] || nplugins >= MAX_PLUGINS) return 0;
  uintptr_t lo = UINTPTR_MAX, hi = 0;
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    if (ph->p_type != PT_LOAD) continue;
    uintptr_t a = info->dlpi_addr + ph->p_vaddr;
    if (a < lo) lo = a;
    if (a + ph->p_memsz > hi) hi = a + ph->p_memsz;
  }
  if (sc->self >= lo && sc->self < hi) return 0; /* the runtime itself */
  void *h = dlopen(info->dlpi_name, RTLD_NOLOAD | RTLD_LAZY);
  if (!h) return 0;
  void *fn = dlsym(h, "dmtcp_process_event");
  dlclose(h);
  /* dlsym also searches the library's dependencies: keep only its own. */
  if (!fn || (uintptr_t)fn < lo || (uintptr_t)fn >= hi) return 0;
  struct plugin *p = &plugins[nplugins++];
  p->start = lo;
  p->end = hi;
  p->handler = (void (*)(DmtcpEvent_t, DmtcpEventData_t *))fn;
  return 0;
}

void events_init(void) {
  struct scan sc = {(uintptr_t)&events_init};
  nplugins = 0;
  dl_iterate_phdr(add_object, &sc);
  dmtcp5_init();
}


/* Plugins written for DMTCP's API (dmtcp5_map.c) get theirs around the chain. */
void events_dispatch(int event, union DmtcpEventData *data) {
  if (nplugins == 0 && g_d5_count == 0) return;
  DmtcpEventData_t empty;
  if (!data) {
    memset(&empty, 0, sizeof empty);
    data = &empty;
  }
  dmtcp5_before(event, data);
  if (nplugins) plugins[0].handler(event, data);
  dmtcp5_after(event, data);
}

EXPORT void dmtcp_plugin_next_event(DmtcpEvent_t event, DmtcpEventData_t *data, const void *self) {
  uintptr_t a = (uintptr_t)self;
  for (int i = 0; i < nplugins; i++) {
    if (a >= plugins[i].start && a < plugins[i].end) {
      if (i + 1 < nplugins) plugins[i + 1].handler(event, data);
      return;
    }
  }
}

/* A plugin library may be loaded without being first in the chain, or the
 * application may define the symbol itself: the runtime's own definition
 * ends any chain that reaches it. */
EXPORT void dmtcp_process_event(DmtcpEvent_t event, DmtcpEventData_t *data) {
  (void)event;
  (void)data;
}

void event_simple(int event) { events_dispatch(event, NULL); }

void event_restart_flag(int event, int is_restart) {
  DmtcpEventData_t d;
  memset(&d, 0, sizeof d);
  d.resumeInfo.isRestart = is_restart;
  events_dispatch(event, &d);
}
