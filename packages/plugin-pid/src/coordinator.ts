// The pid plugin's coordinator module: it hands out virtual ids (claims),
// and at "pid:restart", where every process has reported its virtual ids
// with its new real ones, gives each process the table of its host. Only
// types come from the core: the module is a plain object.
import type { CoordinatorPlugin, PluginCall, PluginRecord } from '@dmtcp/core/plugin';
import { VidRegistry } from './claims.ts';
import { buildReplies, decodeReports, mergeRecords } from './policy.ts';
import { decodeClaim, encodeGrant, PID_BARRIER_RESTART, PID_CALL_CLAIM } from './wire.ts';

function debug(line: string): void {
  if (process.env['DMTCP_DEBUG'] === '1') process.stderr.write(`pid: ${line}\n`);
}

/** One per coordinator: the computation's virtual ids, every host. */
const registry = new VidRegistry();

export function restartPolicy(records: PluginRecord[]): Map<string, Buffer> {
  const reports = decodeReports(records.map((r) => ({ upid: r.upid, payload: r.payload, host: r.hello.host, prog: r.hello.prog })));
  const merged = mergeRecords(reports);
  for (const c of merged.conflicts) debug(`on ${c.host}, ${c.id} is the virtual id of ${c.virtualOf} and the real id of ${c.realOf}`);
  for (const r of reports) registry.restored(r.upid, [r.record.vpid, ...r.record.threads.map((t) => t.vtid)]);
  const { replies, withoutForeignThreads } = buildReplies(reports, merged);
  if (withoutForeignThreads.length > 0) {
    process.stderr.write(`pid: the table is too large for one reply; ${withoutForeignThreads.length} processes get no tids of other processes\n`);
  }
  return replies;
}

export function claimCall(call: PluginCall): Buffer {
  const req = decodeClaim(call.payload);
  const got = registry.claim(call.upid, req);
  if (got !== req.wanted) debug(`${call.hello?.prog ?? '?'} (upid ${call.upid ?? '?'}) on ${call.hello?.host ?? '?'} wanted ${req.wanted}: ${got || 'refused'}`);
  return encodeGrant(got);
}

const plugin = {
  name: 'pid',
  policies: { [PID_BARRIER_RESTART]: restartPolicy },
  calls: { [PID_CALL_CLAIM]: claimCall },
  processLeft: (upid: string) => registry.release(upid),
  reset: (scope) => {
    if (scope === 'computation') registry.clear();
  },
} satisfies CoordinatorPlugin;

export default plugin;
