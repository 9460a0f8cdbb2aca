// The pid plugin's coordinator module: at "pid:restart" every process has
// reported its virtual ids with its new real ones; each gets back the table
// of its host. Only types come from the core: the module is a plain object.
import type { CoordinatorPlugin, PluginRecord } from '@dmtcp/core/plugin';
import { buildReplies, decodeReports, mergeRecords } from './policy.ts';
import { PID_BARRIER_RESTART } from './wire.ts';

function debug(line: string): void {
  if (process.env['DMTCP_DEBUG'] === '1') process.stderr.write(`pid: ${line}\n`);
}

export function restartPolicy(records: PluginRecord[]): Map<string, Buffer> {
  const reports = decodeReports(records.map((r) => ({ upid: r.upid, payload: r.payload, host: r.hello.host, prog: r.hello.prog })));
  const merged = mergeRecords(reports);
  for (const c of merged.conflicts) debug(`on ${c.host}, ${c.id} is the virtual id of ${c.virtualOf} and the real id of ${c.realOf}`);
  const { replies, withoutForeignThreads } = buildReplies(reports, merged);
  if (withoutForeignThreads.length > 0) {
    process.stderr.write(`pid: the table is too large for one reply; ${withoutForeignThreads.length} processes get no tids of other processes\n`);
  }
  return replies;
}

const plugin = {
  name: 'pid',
  policies: { [PID_BARRIER_RESTART]: restartPolicy },
} satisfies CoordinatorPlugin;

export default plugin;
