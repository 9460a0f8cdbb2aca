// Policy of the "event:share" barrier, at REFILL of a restart: which process
// makes again each eventfd, signalfd and epoll set that several processes
// held as one open file description (since a fork), and whom it sends it
// to. native/event_share.c writes the records and reads the replies; the
// barrier's name comes from native/event_wire.h (src/generated/wire.ts).
//
// Record (text, one item per line, fields separated by one space):
//   h PID                  the process's kernel pid at checkpoint
//   s SOCKET               where it receives descriptors
//   d KIND FD LPID LFD     one per descriptor: KIND e eventfd, s signalfd,
//                          p epoll; FD its number here; LPID LFD the
//                          ancestor's pid and fd the checkpoint found it
//                          shared with (0 -1: none), or, for a dup, this
//                          process's pid and the number it is a dup of
// Reply: one line per "d" line, in order (a dup's line is the same as its
// leader's and is not acted on): "=" (restore it alone), "L K"
// (make it, it is object K), "< K" (object K comes from another process);
// then, for a process that makes objects, one line per receiver:
//   x SOCKET K...          send objects K... there
import { assignCreators } from '@dmtcp/core/plugin';
import { EVENT_BARRIER_SHARE } from './generated/wire.ts';
import type { BarrierRecord } from './types.ts';

/** EVENT_BARRIER_SHARE in native/event_wire.h. */
export const SHARE_BARRIER = EVENT_BARRIER_SHARE;

export type Kind = 'e' | 's' | 'p';

export interface ShareLine {
  kind: Kind;
  fd: number;
  /** The ancestor's pid and fd this description was shared with, or 0 and -1. */
  linkPid: number;
  linkFd: number;
}

export interface ShareReport {
  upid: string;
  pid: number;
  socket: string;
  lines: ShareLine[];
}

export class RecordError extends Error {
  override readonly name = 'RecordError';
}

const KINDS = new Set<string>(['e', 's', 'p']);
const NAT = /^\d+$/;
const FD = /^(-1|\d+)$/;
const TOKEN = /^[!-~]+$/;

function bad(upid: string, line: string, why: string): RecordError {
  return new RecordError(`${SHARE_BARRIER}: the record of ${upid} has a malformed line ${JSON.stringify(line.slice(0, 80))}: ${why}`);
}

export function decodeShareRecord(payload: Buffer, upid: string): ShareReport {
  const out: ShareReport = { upid, pid: 0, socket: '', lines: [] };
  const text = payload.toString('latin1');
  if (text === '') return out;
  if (!text.endsWith('\n')) throw new RecordError(`${SHARE_BARRIER}: the record of ${upid} does not end with a newline`);
  for (const line of text.slice(0, -1).split('\n')) {
    const f = line.split(' ');
    if (f[0] === 'h') {
      if (f.length !== 2 || !NAT.test(f[1] ?? '')) throw bad(upid, line, 'expected "h PID"');
      out.pid = Number(f[1]);
    } else if (f[0] === 's') {
      if (f.length !== 2 || !TOKEN.test(f[1] ?? '')) throw bad(upid, line, 'expected "s SOCKET"');
      out.socket = f[1]!;
    } else if (f[0] === 'd') {
      const [, kind = '', fd = '', lpid = '', lfd = ''] = f;
      if (f.length !== 5) throw bad(upid, line, 'expected "d KIND FD LPID LFD"');
      if (!KINDS.has(kind)) throw bad(upid, line, 'unknown KIND');
      if (!NAT.test(fd) || !NAT.test(lpid) || !FD.test(lfd)) throw bad(upid, line, 'FD, LPID or LFD is not a number');
      out.lines.push({ kind: kind as Kind, fd: Number(fd), linkPid: Number(lpid), linkFd: Number(lfd) });
    } else {
      throw bad(upid, line, 'unknown line type');
    }
  }
  if (out.lines.length > 0 && (out.socket === '' || out.pid === 0))
    throw new RecordError(`${SHARE_BARRIER}: the record of ${upid} names no socket or no pid`);
  return out;
}

/** Union-find over descriptions named "KIND PID FD". */
class Joined {
  private readonly up = new Map<string, string>();
  root(k: string): string {
    let r = k;
    for (let p = this.up.get(r); p !== undefined && p !== r; p = this.up.get(r)) r = p;
    for (let c = k; c !== r; ) {
      const n = this.up.get(c)!;
      this.up.set(c, r);
      c = n;
    }
    if (!this.up.has(r)) this.up.set(r, r);
    return r;
  }
  join(a: string, b: string): void {
    const x = this.root(a);
    const y = this.root(b);
    if (x !== y) this.up.set(y, x);
  }
}

const self = (r: ShareReport, l: ShareLine): string => `${l.kind} ${r.pid} ${l.fd}`;

/**
 * The objects several processes hold: each line's description joined with
 * the ancestor's it was shared with (a grandchild names its parent, which
 * names its own parent: one object). Each object's lowest upid makes it
 * (assignCreators), numbered for the replies; a description only one
 * process holds is restored by it alone.
 */
export function sharePolicy(records: readonly BarrierRecord[]): Map<string, Buffer> {
  const reports = records.map((r) => decodeShareRecord(r.payload, r.upid));
  const joined = new Joined();
  for (const r of reports)
    for (const l of r.lines) {
      joined.root(self(r, l));
      if (l.linkPid > 0 && l.linkFd >= 0) joined.join(self(r, l), `${l.kind} ${l.linkPid} ${l.linkFd}`);
    }
  const objectOf = reports.map((r) => r.lines.map((l) => joined.root(self(r, l))));
  const assigned = assignCreators(reports.flatMap((r, i) => objectOf[i]!.map((object) => ({ upid: r.upid, object }))));
  const number = new Map<string, number>();
  for (const object of assigned.keys()) number.set(object, number.size);
  const socketOf = new Map(reports.map((r) => [r.upid, r.socket]));
  const replies = new Map<string, Buffer>();
  reports.forEach((r, i) => {
    if (r.lines.length === 0) return;
    const out: string[] = [];
    // Receiver socket -> objects this process sends there, in order.
    const sends = new Map<string, number[]>();
    const made = new Set<string>();
    objectOf[i]!.forEach((object) => {
      const a = assigned.get(object);
      const k = number.get(object);
      if (!a || k === undefined) return void out.push('=');
      if (a.creator !== r.upid) return void out.push(`< ${k}`);
      out.push(`L ${k}`);
      if (made.has(object)) return;
      made.add(object);
      for (const to of a.receivers) {
        const socket = socketOf.get(to)!;
        let list = sends.get(socket);
        if (!list) sends.set(socket, (list = []));
        list.push(k);
      }
    });
    for (const [socket, list] of sends) out.push(`x ${socket} ${list.join(' ')}`);
    replies.set(r.upid, Buffer.from(`${out.join('\n')}\n`, 'latin1'));
  });
  return replies;
}
