/* Clocks that go on from the checkpoint's: a time namespace with offsets for
 * CLOCK_MONOTONIC and CLOCK_BOOTTIME, entered before any restored process is
 * made, or (where none can be made) a shift for plugin-timer's wrappers. */
#ifndef DMTCP_RESTART_TIMENS_H
#define DMTCP_RESTART_TIMENS_H

#include "dmtcp/image.h"

/* `spec` is --clocks RULE,MONO,BOOT,REAL,NS (decided by dmtcp restart):
 *   o  the clocks read with offsets MONO, BOOT (ns, against the host's);
 *   f  they read MONO, BOOT now (frozen while checkpointed);
 *   e  they read MONO, BOOT plus the CLOCK_REALTIME time since REAL;
 * NS 1 allows a time namespace (and, unprivileged, a user namespace).
 * Sets info->flags / clock_shift_ns; returns 0, or -1 on a bad spec. */
int timens_apply(const char *spec, struct dmtcp_restart_info *info);

#endif
