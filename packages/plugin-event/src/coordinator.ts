// The event plugin's coordinator module: bundled to dist/coordinator.js and
// loaded by the coordinator when a process reports libdmtcp_event.so.
import { definePlugin } from '@dmtcp/core/plugin';
import { SHARE_BARRIER, sharePolicy } from './share.ts';

export default definePlugin({
  name: 'event',
  policies: {
    [SHARE_BARRIER]: (records) => sharePolicy(records),
  },
});
