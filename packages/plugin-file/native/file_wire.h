/* What crosses between the file plugin's library and its coordinator module:
 * the names of its barriers and its call, and the sizes their text records
 * depend on.  The one source of these facts: the build generates
 * src/generated/wire.ts from this header (dmtcp gen-constants), and
 * test/wire.test.ts fails when that file is stale.  The record formats are
 * described in src/share.ts, src/policy.ts and src/missing.ts. */
#ifndef FILE_WIRE_H
#define FILE_WIRE_H

/* The barrier at which restarted processes agree on who writes back a
 * file's checkpointed contents (restoreContentsPolicy in src/policy.ts). */
#define FILE_BARRIER_RESTORE_CONTENTS "file:restore-contents"
#define FILE_KEY_HEX 16 /* digits of a key in its records, one key per line */

/* At DRAIN: who drains each pipe, FIFO and pseudo-terminal, and which
 * descriptions of other processes may be the same as ours.  At RESTART: who
 * recreates each object several processes hold, and what it sends to whom.
 * Both policies are in src/share.ts. */
#define FILE_BARRIER_DRAIN "file:drain"
#define FILE_BARRIER_SHARE "file:share"
#define FILE_MAX_CANDIDATES 16 /* descriptions of other processes offered for comparison with one of ours */

/* The call that decides about files that vanished before a restart
 * (src/missing.ts). */
#define FILE_CALL_MISSING "file:missing"

#endif
