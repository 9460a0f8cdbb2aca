// Which descriptors of a checkpoint no loaded plugin will restore. Each
// process lists its descriptors with their kind at ckpt:suspended (record
// format in protocol.h); the coordinator compares them with the kinds the
// process's plugins declare ("fds" in their package.json) and decides, per
// process, the warning it prints, the note the process prints after a
// restart, and whether a strict computation refuses the checkpoint. Pure.
import { DMTCP_FD_KINDS, parseDmtcpSuspendedRecord } from '../generated/constants.ts';

export const FD_KINDS: readonly string[] = DMTCP_FD_KINDS.split(' ');

/** The project's plugin meant to restore each kind. */
export const KIND_PLUGIN: Readonly<Record<string, string>> = {
  file: 'plugin-file',
  directory: 'plugin-file',
  chr: 'plugin-file',
  block: 'plugin-file',
  fifo: 'plugin-file',
  pipe: 'plugin-file',
  memfd: 'plugin-file',
  epoll: 'plugin-event',
  eventfd: 'plugin-event',
  signalfd: 'plugin-event',
  inotify: 'plugin-event',
  socket: 'plugin-socket',
  timerfd: 'plugin-timer',
};

/** On 0-2 these are whatever `dmtcp restart` itself is given: the core
 *  provides them, nothing is lost. */
const STDIO_KINDS = new Set(['file', 'chr', 'fifo', 'pipe', 'socket', 'directory', 'block']);

export interface FdEntry {
  fd: number;
  kind: string;
}

export interface FdReport {
  image: string;
  strict: boolean;
  fds: FdEntry[];
  truncated: boolean;
}

/** The ckpt:suspended record (DMTCP_SUSPENDED_RECORD in dmtcp/records.h); null when there is none (a runtime
 *  that does not report) or it is malformed. */
export function parseFdReport(payload: Buffer): FdReport | null {
  if (payload.length === 0) return null;
  const p = parseDmtcpSuspendedRecord(payload);
  if (!p.ok) return null;
  const { image, strict, fds, truncated } = p.value;
  return { image, strict, fds: fds.map(([fd, kind]) => ({ fd, kind })).sort((a, b) => a.fd - b.fd), truncated: truncated === true };
}

export function unhandledFds(report: FdReport, handled: ReadonlySet<string>): FdEntry[] {
  return report.fds.filter((e) => !handled.has(e.kind) && !(e.fd <= 2 && STDIO_KINDS.has(e.kind)));
}

/** "fd 3 (epoll), fd 10-12 (socket)": runs of one kind on consecutive
 *  numbers are one item; past `max` items the rest are counted. */
export function formatFds(fds: readonly FdEntry[], max = 12): string {
  const items: string[] = [];
  let hidden = 0;
  for (let i = 0; i < fds.length; ) {
    const first = fds[i] as FdEntry;
    let j = i + 1;
    while (j < fds.length && (fds[j] as FdEntry).kind === first.kind && (fds[j] as FdEntry).fd === (fds[j - 1] as FdEntry).fd + 1) j++;
    const last = fds[j - 1] as FdEntry;
    if (items.length < max) items.push(first.fd === last.fd ? `fd ${first.fd} (${first.kind})` : `fd ${first.fd}-${last.fd} (${first.kind})`);
    else hidden += j - i;
    i = j;
  }
  if (hidden > 0) items.push(`${hidden} more`);
  return items.join(', ');
}

/** "need plugin-event, plugin-socket", "no plugin restores io_uring", or both. */
export function formatNeeds(fds: readonly FdEntry[]): string {
  const plugins = [...new Set(fds.map((e) => KIND_PLUGIN[e.kind]).filter((p): p is string => p !== undefined))].sort();
  const orphans = [...new Set(fds.filter((e) => KIND_PLUGIN[e.kind] === undefined).map((e) => e.kind))].sort();
  const parts: string[] = [];
  if (plugins.length > 0) parts.push(`need ${plugins.join(', ')}`);
  if (orphans.length > 0) parts.push(`no plugin restores ${orphans.join(', ')}`);
  return parts.join('; ');
}

export interface FdProcess {
  upid: string;
  /** What the process is called when there is no image name. */
  label: string;
  payload: Buffer;
  /** Kinds the plugins loaded in this process restore. */
  handled: ReadonlySet<string>;
}

export interface FdDecision {
  /** One line per process with descriptors that will not be restored. */
  warnings: { upid: string; line: string }[];
  /** What each such process prints after a restart of this image. */
  notes: Map<string, string>;
  /** Set when a strict process has such descriptors: the round must fail. */
  refusal: string | null;
}

/** Room the runtime keeps for the note (log line of 1024 bytes with its prefix). */
export const NOTE_MAX = 900;

function clip(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 3)}...`;
}

export function decideFds(procs: readonly FdProcess[]): FdDecision {
  const warnings: FdDecision['warnings'] = [];
  const notes = new Map<string, string>();
  const refused: string[] = [];
  for (const p of procs) {
    const report = parseFdReport(p.payload);
    if (!report) continue;
    const lost = unhandledFds(report, p.handled);
    if (lost.length === 0) continue;
    const name = report.image || p.label;
    const list = formatFds(lost) + (report.truncated ? ' (list cut short)' : '');
    const needs = formatNeeds(lost);
    const line = `${name}: ${list} will not be restored: ${needs}`;
    warnings.push({ upid: p.upid, line });
    notes.set(p.upid, clip(`${name}: ${list} ${lost.length === 1 ? 'was' : 'were'} not restored (${needs}); the program fails if it uses ${lost.length === 1 ? 'it' : 'them'}`, NOTE_MAX));
    if (report.strict) refused.push(line);
  }
  return { warnings, notes, refusal: refused.length > 0 ? `--strict: ${refused.join('; ')}` : null };
}
