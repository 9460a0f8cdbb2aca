// The pid table of a restarted computation, merged from what each process
// reported at the "pid:restart" barrier. Pure: no I/O, no clock.
//
// Translation in the processes is by this table alone, so the table must be
// exact: every virtual id on a host names one task, and every real id
// belongs to one task. Two tasks claiming one virtual id cannot be repaired
// here (the application has seen both), so that fails the restart with the
// culprits named. A virtual id that happens to be the real id of another
// task is normal after a restart (pids are reused) and only reported.
import {
  PID_REPLY_MAX, PID_TABLE_ENTRY_SIZE, PID_TABLE_HEADER_SIZE, decodeRecord, encodeTable, tableSize,
  type PidRecord, type TableEntry,
} from './wire.ts';

/** One process's report, with where it runs. */
export interface ProcessReport {
  upid: string;
  host: string;
  prog: string;
  record: PidRecord;
}

/** A virtual id that is also the real id of another task on the same host. */
export interface Conflict {
  host: string;
  id: number;
  /** The task that answers to `id` virtually. */
  virtualOf: string;
  /** The task the kernel knows as `id`. */
  realOf: string;
}

export interface MergedTable {
  /** Host to its table, sorted by virtual id. */
  hosts: Map<string, TableEntry[]>;
  conflicts: Conflict[];
}

export class PidTableError extends Error {
  override name = 'PidTableError';
}

interface Task {
  report: ProcessReport;
  entry: TableEntry;
}

function describe(t: Task): string {
  const { report, entry } = t;
  const proc = `process ${report.prog} (upid ${report.upid}, vpid ${report.record.vpid})`;
  return entry.owner === entry.vid ? proc : `thread ${entry.vid} of ${proc}`;
}

function tasksOf(report: ProcessReport): Task[] {
  const { vpid, real, threads } = report.record;
  return [
    { report, entry: { vid: vpid, real, owner: vpid } },
    ...threads.map((t) => ({ report, entry: { vid: t.vtid, real: t.real, owner: vpid } })),
  ];
}

/** Merges the reports of one restart; throws PidTableError when two tasks
 *  claim one virtual id, or two report one real id, on the same host. */
export function mergeRecords(reports: readonly ProcessReport[]): MergedTable {
  const byHost = new Map<string, Task[]>();
  for (const r of reports) {
    const list = byHost.get(r.host) ?? [];
    list.push(...tasksOf(r));
    byHost.set(r.host, list);
  }
  const hosts = new Map<string, TableEntry[]>();
  const conflicts: Conflict[] = [];
  for (const [host, tasks] of [...byHost].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const byVid = new Map<number, Task>();
    const byReal = new Map<number, Task>();
    for (const t of tasks) {
      const other = byVid.get(t.entry.vid);
      if (other) {
        throw new PidTableError(`virtual id ${t.entry.vid} on host ${host} is claimed by ${describe(other)} and by ${describe(t)}`);
      }
      byVid.set(t.entry.vid, t);
      if (t.entry.real === 0) continue; // not known yet: the thread fixes its own entry
      const same = byReal.get(t.entry.real);
      if (same) {
        throw new PidTableError(`real id ${t.entry.real} on host ${host} is reported by ${describe(same)} and by ${describe(t)}: one of the records is stale`);
      }
      byReal.set(t.entry.real, t);
    }
    for (const t of tasks) {
      const holder = byReal.get(t.entry.vid);
      if (holder && holder !== t) {
        conflicts.push({ host, id: t.entry.vid, virtualOf: describe(t), realOf: describe(holder) });
      }
    }
    hosts.set(host, tasks.map((t) => t.entry).sort((a, b) => a.vid - b.vid));
  }
  conflicts.sort((a, b) => (a.host < b.host ? -1 : a.host > b.host ? 1 : a.id - b.id));
  return { hosts, conflicts };
}

/** Most entries a reply can carry. */
export const MAX_REPLY_ENTRIES = Math.floor((PID_REPLY_MAX - PID_TABLE_HEADER_SIZE) / PID_TABLE_ENTRY_SIZE);

export interface Replies {
  replies: Map<string, Buffer>;
  /** Upids whose reply left out the threads of other processes to fit. */
  withoutForeignThreads: string[];
}

/**
 * The reply to each process: its host's table without its own entries
 * (it knows those). When that does not fit a barrier reply, the threads of
 * other processes are left out (they are only needed to signal one thread
 * of another process by its tid); when even the processes do not fit, the
 * restart fails with the limit named.
 */
export function buildReplies(reports: readonly ProcessReport[], merged: MergedTable, limit = PID_REPLY_MAX): Replies {
  const replies = new Map<string, Buffer>();
  const withoutForeignThreads: string[] = [];
  for (const r of reports) {
    const all = (merged.hosts.get(r.host) ?? []).filter((e) => e.owner !== r.record.vpid);
    let entries = all;
    if (tableSize(entries.length) > limit) {
      entries = all.filter((e) => e.owner === e.vid);
      withoutForeignThreads.push(r.upid);
    }
    if (tableSize(entries.length) > limit) {
      const max = Math.floor((limit - PID_TABLE_HEADER_SIZE) / PID_TABLE_ENTRY_SIZE);
      throw new PidTableError(
        `host ${r.host} has ${entries.length + 1} processes: their pid table does not fit a barrier reply (${limit} bytes, at most ${max} entries)`,
      );
    }
    replies.set(r.upid, encodeTable(entries));
  }
  return { replies, withoutForeignThreads };
}

export interface RawRecord {
  upid: string;
  payload: Buffer;
  host: string;
  prog: string;
}

/** Decodes every record, naming the process whose record is unusable. */
export function decodeReports(records: readonly RawRecord[]): ProcessReport[] {
  return records.map((r) => {
    try {
      return { upid: r.upid, host: r.host, prog: r.prog, record: decodeRecord(r.payload) };
    } catch (e) {
      throw new PidTableError(`process ${r.prog} (upid ${r.upid}) sent an unusable pid record: ${(e as Error).message}`);
    }
  });
}
