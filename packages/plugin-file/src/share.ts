// Policies for kernel objects that several processes of a computation hold:
// pipes, FIFOs, pseudo-terminals, and open file descriptions shared since a
// fork. Two barriers, both with text records (one item per line, fields
// separated by one space). The names and sizes come from native/file_wire.h
// (src/generated/wire.ts); native/file_share.c writes and reads the records.
//
// "file:drain", at DRAIN of every checkpoint. Record:
//   h PID                                  the process's kernel pid
//   o OBJ KIND MODE FD FLAGS POS           one per open file description
// Reply: one line per "o" line, in order:
//   D N [UPID PID FD]...
// D is 1 for the one description in the computation that drains the
// object's buffered bytes (see chooseDrainers), else 0; the triples are descriptions of the same
// object in processes with a lower upid, with the same flags and offset,
// lowest upid first: the process compares its description with each (kcmp)
// and takes the first that is the same as its owner.
//
// "file:share", at RESTART. Record:
//   s SOCKET                               where this process receives descriptors
//   d OBJ KIND MODE OWNER OWNERFD FLAGS POS STD   one per description; STD is
//                                          the lowest of 0-2 this process
//                                          holds it at, or -1 (absent: -1)
// Reply: one line per "d" line, in order: "=" (restore it alone), "L" (this
// process recreates the object and this description with it), "<" (another
// process sends it), "0"/"1"/"2" (a pipe or socket to outside that another
// process held on that number: it becomes the restart's descriptor of that
// number, see stdFromOthers); then, for the process that recreates an
// object, what to send to whom:
//   x SOCKET N                             followed by N lines
//   c OBJ KIND MODE OWNER OWNERFD FLAGS POS
import { FILE_BARRIER_DRAIN, FILE_BARRIER_SHARE, FILE_MAX_CANDIDATES } from './generated/wire.ts';
import type { BarrierRecord } from './types.ts';

/** FILE_BARRIER_DRAIN in native/file_wire.h. */
export const DRAIN_BARRIER = FILE_BARRIER_DRAIN;
/** FILE_BARRIER_SHARE in native/file_wire.h. */
export const SHARE_BARRIER = FILE_BARRIER_SHARE;
/**
 * At most this many descriptions of other processes are offered to a
 * process for comparison with one of its own: enough for a description
 * inherited through any realistic fork tree (the owner is the lowest upid,
 * listed first), and it keeps a reply small when a thousand processes write
 * to one log.
 */
export const MAX_CANDIDATES = FILE_MAX_CANDIDATES;

/** p pipe, f FIFO, m pty master, s pty slave, S socket, F anything else with a file behind it. */
export type Kind = 'p' | 'f' | 'm' | 's' | 'S' | 'F';
/** r readable, w writable, b both, - neither (O_PATH). */
export type Mode = 'r' | 'w' | 'b' | '-';

const KINDS = new Set<string>(['p', 'f', 'm', 's', 'S', 'F']);
const MODES = new Set<string>(['r', 'w', 'b', '-']);
const HEX16 = /^[0-9a-f]{16}$/;
const DEC = /^-?\d+$/;
const HEX = /^[0-9a-f]+$/;
const TOKEN = /^[!-~]+$/;

export class RecordError extends Error {
  override readonly name = 'RecordError';
}

function compareUpid(a: string, b: string): number {
  const x = a.padStart(16, '0');
  const y = b.padStart(16, '0');
  return x < y ? -1 : x > y ? 1 : 0;
}

function lines(payload: Buffer, barrier: string, upid: string): string[] {
  const text = payload.toString('latin1');
  if (text === '') return [];
  if (!text.endsWith('\n')) throw new RecordError(`${barrier}: the record of ${upid} does not end with a newline`);
  return text.slice(0, -1).split('\n');
}

function bad(barrier: string, upid: string, line: string, why: string): RecordError {
  return new RecordError(`${barrier}: the record of ${upid} has a malformed line ${JSON.stringify(line.slice(0, 80))}: ${why}`);
}

function field(ok: boolean, barrier: string, upid: string, line: string, why: string): void {
  if (!ok) throw bad(barrier, upid, line, why);
}

// ---- file:drain ----

export interface DrainLine {
  obj: string;
  kind: Kind;
  mode: Mode;
  fd: number;
  flags: string;
  pos: string;
}

export interface DrainReport {
  upid: string;
  pid: number;
  lines: DrainLine[];
}

export function decodeDrainRecord(payload: Buffer, upid: string): DrainReport {
  const out: DrainReport = { upid, pid: 0, lines: [] };
  for (const line of lines(payload, DRAIN_BARRIER, upid)) {
    const f = line.split(' ');
    if (f[0] === 'h') {
      field(f.length === 2 && DEC.test(f[1] ?? ''), DRAIN_BARRIER, upid, line, 'expected "h PID"');
      out.pid = Number(f[1]);
    } else if (f[0] === 'o') {
      field(f.length === 7, DRAIN_BARRIER, upid, line, 'expected "o OBJ KIND MODE FD FLAGS POS"');
      const [, obj = '', kind = '', mode = '', fd = '', flags = '', pos = ''] = f;
      field(HEX16.test(obj), DRAIN_BARRIER, upid, line, 'OBJ is not 16 hex digits');
      field(KINDS.has(kind) && MODES.has(mode), DRAIN_BARRIER, upid, line, 'unknown KIND or MODE');
      field(DEC.test(fd) && HEX.test(flags) && DEC.test(pos), DRAIN_BARRIER, upid, line, 'FD, FLAGS or POS is not a number');
      out.lines.push({ obj, kind: kind as Kind, mode: mode as Mode, fd: Number(fd), flags, pos });
    } else {
      throw bad(DRAIN_BARRIER, upid, line, 'unknown line type');
    }
  }
  return out;
}

const readable = (m: Mode): boolean => m === 'r' || m === 'b';
const writable = (m: Mode): boolean => m === 'w' || m === 'b';

/**
 * Which one description drains each object (report index, line index): for
 * a pipe or FIFO, the first readable description of the lowest upid, when
 * the computation also holds a writable one; for a pseudo-terminal, the
 * first master of the lowest upid. A pipe with a reader or a writer outside
 * is left alone: a writer outside goes on writing while the computation is
 * stopped (bytes put back would come after its new ones), a reader outside
 * owns what is buffered for it.
 */
export function chooseDrainers(reports: readonly DrainReport[]): Set<string> {
  const order = reports.map((_, i) => i).sort((a, b) => compareUpid(reports[a]!.upid, reports[b]!.upid));
  const reads = new Set<string>();
  const writes = new Set<string>();
  for (const r of reports) {
    for (const l of r.lines) {
      if (readable(l.mode)) reads.add(l.obj);
      if (writable(l.mode)) writes.add(l.obj);
    }
  }
  const taken = new Set<string>();
  const chosen = new Set<string>();
  for (const i of order) {
    reports[i]!.lines.forEach((l, j) => {
      if (taken.has(l.obj)) return;
      const pipe = (l.kind === 'p' || l.kind === 'f') && readable(l.mode) && writes.has(l.obj);
      if (!pipe && l.kind !== 'm') return;
      taken.add(l.obj);
      chosen.add(`${i}:${j}`);
    });
  }
  return chosen;
}

export function drainPolicy(records: readonly BarrierRecord[]): Map<string, Buffer> {
  const reports = records.map((r) => decodeDrainRecord(r.payload, r.upid));
  const drainers = chooseDrainers(reports);
  // Descriptions that can be one: same object, kind, flags and offset (all
  // processes are stopped, so a shared description shows the same values
  // everywhere), in upid order.
  const groups = new Map<string, { upid: string; pid: number; fd: number }[]>();
  const order = reports.map((_, i) => i).sort((a, b) => compareUpid(reports[a]!.upid, reports[b]!.upid));
  for (const i of order) {
    const r = reports[i]!;
    for (const l of r.lines) {
      const k = `${l.obj} ${l.kind} ${l.flags} ${l.pos}`;
      let g = groups.get(k);
      if (!g) groups.set(k, (g = []));
      g.push({ upid: r.upid, pid: r.pid, fd: l.fd });
    }
  }
  const replies = new Map<string, Buffer>();
  reports.forEach((r, i) => {
    if (r.lines.length === 0) return;
    const out = r.lines.map((l, j) => {
      const g = groups.get(`${l.obj} ${l.kind} ${l.flags} ${l.pos}`) ?? [];
      const lower = [];
      for (const c of g) {
        if (compareUpid(c.upid, r.upid) >= 0) break;
        lower.push(`${c.upid} ${c.pid} ${c.fd}`);
        if (lower.length === MAX_CANDIDATES) break;
      }
      return [drainers.has(`${i}:${j}`) ? '1' : '0', String(lower.length), ...lower].join(' ');
    });
    replies.set(r.upid, Buffer.from(`${out.join('\n')}\n`, 'latin1'));
  });
  return replies;
}

// ---- file:share ----

export interface ShareLine {
  obj: string;
  kind: Kind;
  mode: Mode;
  owner: string;
  ownerFd: number;
  flags: string;
  pos: string;
  /** The lowest of 0-2 the process holds this description at, or -1. */
  std: number;
}

export interface ShareReport {
  upid: string;
  socket: string;
  lines: ShareLine[];
}

export function decodeShareRecord(payload: Buffer, upid: string): ShareReport {
  const out: ShareReport = { upid, socket: '', lines: [] };
  for (const line of lines(payload, SHARE_BARRIER, upid)) {
    const f = line.split(' ');
    if (f[0] === 's') {
      field(f.length === 2 && TOKEN.test(f[1] ?? ''), SHARE_BARRIER, upid, line, 'expected "s SOCKET"');
      out.socket = f[1] as string;
    } else if (f[0] === 'd') {
      field(f.length === 8 || f.length === 9, SHARE_BARRIER, upid, line, 'expected "d OBJ KIND MODE OWNER OWNERFD FLAGS POS STD"');
      const [, obj = '', kind = '', mode = '', owner = '', ownerFd = '', flags = '', pos = '', std = '-1'] = f;
      field(/^(-1|[012])$/.test(std), SHARE_BARRIER, upid, line, 'STD is not -1, 0, 1 or 2');
      field(HEX16.test(obj) && HEX16.test(owner), SHARE_BARRIER, upid, line, 'OBJ or OWNER is not 16 hex digits');
      field(KINDS.has(kind) && MODES.has(mode), SHARE_BARRIER, upid, line, 'unknown KIND or MODE');
      field(DEC.test(ownerFd) && HEX.test(flags) && DEC.test(pos), SHARE_BARRIER, upid, line, 'OWNERFD, FLAGS or POS is not a number');
      out.lines.push({ obj, kind: kind as Kind, mode: mode as Mode, owner, ownerFd: Number(ownerFd), flags, pos, std: Number(std) });
    } else {
      throw bad(SHARE_BARRIER, upid, line, 'unknown line type');
    }
  }
  if (out.lines.length > 0 && out.socket === '') throw new RecordError(`${SHARE_BARRIER}: the record of ${upid} names no socket`);
  return out;
}

/**
 * Whether the processes holding an object need one process to recreate it
 * for all of them: a pipe with both ends in the computation (a pipe whose
 * other end is outside cannot be rejoined, and on 0-2 the restart's own
 * descriptor stands in), any FIFO (reopened by path), a pseudo-terminal
 * whose master is in the computation (a terminal whose master is elsewhere
 * is the restart's terminal), and a file held by more than one process.
 */
export function jointlyRestored(lines: readonly { upid: string; line: ShareLine }[]): boolean {
  const kinds = new Set(lines.map((l) => l.line.kind));
  // Sockets are reported only for stdFromOthers; restoring them is another plugin's work.
  if (kinds.has('S')) return false;
  if (kinds.has('p')) return lines.some((l) => readable(l.line.mode)) && lines.some((l) => writable(l.line.mode));
  if (kinds.has('f')) return true;
  if (kinds.has('m') || kinds.has('s')) return kinds.has('m');
  return new Set(lines.map((l) => l.upid)).size > 1;
}

const classKey = (l: ShareLine): string => `${l.owner}:${l.ownerFd}`;

/**
 * For the holders of an object restored by no one process (a pipe or
 * socket whose other end is outside the computation): the descriptor of the
 * restart that each line's description becomes, by line, where it is not
 * the process's own. A process that held the description on 0-2 keeps what
 * the restart gives it there (the native side does that alone); one that
 * held it only above 2 (a shell that moved its stdout away for a
 * redirection, a daemon that kept it at 10) gets the lowest of 0-2 at which
 * any process held that same description, so that every process writing to
 * `prog | tee` goes on writing to the new tee. Terminals are not in it: the
 * native side gives those the restart's terminal wherever they were.
 */
export function stdFromOthers(holders: readonly { line: ShareLine }[]): (number | undefined)[] {
  const lowest = new Map<string, number>();
  for (const h of holders) {
    if (h.line.kind !== 'p' && h.line.kind !== 'S') continue;
    if (h.line.std < 0) continue;
    const k = classKey(h.line);
    const cur = lowest.get(k);
    if (cur === undefined || h.line.std < cur) lowest.set(k, h.line.std);
  }
  return holders.map((h) => (h.line.std < 0 && (h.line.kind === 'p' || h.line.kind === 'S') ? lowest.get(classKey(h.line)) : undefined));
}

export function sharePolicy(records: readonly BarrierRecord[]): Map<string, Buffer> {
  const reports = records.map((r) => decodeShareRecord(r.payload, r.upid));
  const byObj = new Map<string, { upid: string; report: number; index: number; line: ShareLine }[]>();
  reports.forEach((r, i) => {
    r.lines.forEach((line, index) => {
      let g = byObj.get(line.obj);
      if (!g) byObj.set(line.obj, (g = []));
      g.push({ upid: r.upid, report: i, index, line });
    });
  });
  const roles = reports.map((r) => r.lines.map(() => '='));
  // For each leader: socket -> classes to send there, in first-seen order.
  const sends = reports.map(() => new Map<string, Map<string, ShareLine>>());
  for (const holders of byObj.values()) {
    if (!jointlyRestored(holders)) {
      stdFromOthers(holders).forEach((std, k) => {
        const h = holders[k]!;
        if (std !== undefined) roles[h.report]![h.index] = String(std);
      });
      continue;
    }
    let leader = holders[0]!;
    for (const h of holders) if (compareUpid(h.upid, leader.upid) < 0) leader = h;
    for (const h of holders) {
      const r = reports[h.report]!;
      if (h.report === leader.report) {
        roles[h.report]![h.index] = 'L';
        continue;
      }
      roles[h.report]![h.index] = '<';
      const to = sends[leader.report]!;
      let cls = to.get(r.socket);
      if (!cls) to.set(r.socket, (cls = new Map()));
      if (!cls.has(classKey(h.line))) cls.set(classKey(h.line), h.line);
    }
  }
  const replies = new Map<string, Buffer>();
  reports.forEach((r, i) => {
    const out = [...roles[i]!];
    for (const [socket, cls] of sends[i]!) {
      out.push(`x ${socket} ${cls.size}`);
      for (const l of cls.values()) out.push(['c', l.obj, l.kind, l.mode, l.owner, String(l.ownerFd), l.flags, l.pos].join(' '));
    }
    if (out.length > 0) replies.set(r.upid, Buffer.from(`${out.join('\n')}\n`, 'latin1'));
  });
  return replies;
}
