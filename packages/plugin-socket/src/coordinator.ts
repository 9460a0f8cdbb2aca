// The socket plugin's coordinator module, bundled to dist/coordinator.js:
// the coordinator imports it when a process reports libdmtcp_socket.so.
// The decisions are in policy.ts; this file gives them names and the one
// thing a pure function cannot make, the round's random token.
import { randomBytes } from 'node:crypto';
import { SOCKET_BARRIER_ADDRS, SOCKET_BARRIER_PEERS } from './generated/wire.ts';
import { addrsPolicy, peersPolicy } from './policy.ts';
import { definePlugin } from './types.ts';

export default definePlugin({
  name: 'socket',
  policies: {
    [SOCKET_BARRIER_PEERS]: (records) => peersPolicy(records, randomBytes(8).toString('hex')),
    [SOCKET_BARRIER_ADDRS]: (records) => addrsPolicy(records),
  },
});
