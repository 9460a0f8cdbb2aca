// The file plugin's coordinator module: bundled to dist/coordinator.js and
// loaded by the coordinator when a process reports libdmtcp_file.so.
import { MISSING_CALL, missingCall } from './missing.ts';
import { RESTORE_CONTENTS_BARRIER, restoreContentsPolicy } from './policy.ts';
import { DRAIN_BARRIER, SHARE_BARRIER, drainPolicy, sharePolicy } from './share.ts';
import { definePlugin } from './types.ts';

export default definePlugin({
  name: 'file',
  policies: {
    [RESTORE_CONTENTS_BARRIER]: (records) => restoreContentsPolicy(records),
    [DRAIN_BARRIER]: (records) => drainPolicy(records),
    [SHARE_BARRIER]: (records) => sharePolicy(records),
  },
  calls: {
    [MISSING_CALL]: (call) => missingCall(call.payload),
  },
});
