// What a process says about itself: its HELLO when it connects, the UPDATEs
// after, and whether what it claims can be admitted at all. Pure functions:
// the coordinator decides what to do with the answers.
import { DMTCP_HELLO_EXEC, DMTCP_HELLO_FORK, DMTCP_HELLO_LAUNCH, DMTCP_HELLO_RESTART } from '../generated/constants.ts';
import { type Frame, hex64, parseHex64, parseJsonPayload } from '../protocol/codec.ts';
import type { HelloInfo, HelloKind } from './types.ts';

const KIND_NAMES: Record<number, HelloKind> = {
  [DMTCP_HELLO_LAUNCH]: 'launch',
  [DMTCP_HELLO_FORK]: 'fork',
  [DMTCP_HELLO_EXEC]: 'exec',
  [DMTCP_HELLO_RESTART]: 'restart',
};

/** Thrown for HELLOs that cannot be admitted; the message goes into REJECT. */
export class Rejection extends Error {}

function str(v: unknown, fallback = ''): string {
  return typeof v === 'string' ? v : fallback;
}

function int(v: unknown, fallback = 0): number {
  return typeof v === 'number' && Number.isFinite(v) ? Math.trunc(v) : fallback;
}

function strList(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

export function describe(info: HelloInfo): string {
  return `${info.prog} (pid ${info.pid})`;
}

export function parseHello(frame: Frame): HelloInfo {
  const kind = KIND_NAMES[frame.extra];
  if (!kind) throw new Rejection(`unknown hello kind ${frame.extra}`);
  let obj: unknown;
  try {
    obj = parseJsonPayload(frame);
  } catch (e) {
    throw new Rejection((e as Error).message);
  }
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) throw new Rejection('hello payload is not a JSON object');
  const f = obj as Record<string, unknown>;
  if (typeof f.pid !== 'number') throw new Rejection('hello payload lacks "pid"');
  if (typeof f.prog !== 'string') throw new Rejection('hello payload lacks "prog"');
  const parent = parseHex64(f.parent_upid);
  return {
    kind,
    upid: hex64(frame.upid),
    pid: int(f.pid),
    ppid: int(f.ppid),
    host: str(f.host),
    prog: f.prog,
    argv: strList(f.argv),
    ckptdir: str(f.ckptdir),
    plugins: strList(f.plugins),
    parentUpid: parent === null ? null : hex64(parent),
    numPeers: Math.max(0, int(f.num_peers)),
    image: typeof f.image === 'string' ? f.image : null,
    interval: Math.max(0, int(f.interval)),
    fields: f,
  };
}

/** What a process that exec'ed is now: the new HELLO over the old record,
 *  keeping its upid, the plugin fields it published and, unless the new
 *  HELLO says otherwise, its parent. */
export function afterExec(old: HelloInfo, info: HelloInfo, key: string): HelloInfo {
  const fields = { ...old.fields, ...info.fields };
  const next: HelloInfo = { ...old, ...info, kind: 'exec', upid: key, fields };
  if (!('parent_upid' in info.fields)) next.parentUpid = old.parentUpid;
  return next;
}

/** Merges an UPDATE into what is known of a process. Throws on a payload
 *  that is not JSON; ignores one that is not an object. */
export function applyUpdate(info: HelloInfo, f: Frame): void {
  const obj = parseJsonPayload(f);
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) return;
  const u = obj as Record<string, unknown>;
  info.fields = { ...info.fields, ...u };
  if (typeof u.pid === 'number') info.pid = int(u.pid);
  if (typeof u.ppid === 'number') info.ppid = int(u.ppid);
  if (typeof u.host === 'string') info.host = u.host;
  if (typeof u.prog === 'string') info.prog = u.prog;
  if (Array.isArray(u.argv)) info.argv = strList(u.argv);
  if (typeof u.ckptdir === 'string') info.ckptdir = u.ckptdir;
}

export interface AdmissionState {
  /** The computation being served, if any. */
  compId: bigint | null;
  /** Any process connected or waiting to be admitted. */
  hasProcesses: boolean;
  /** The process already registered under a upid. */
  registered(key: string): HelloInfo | undefined;
}

/** Throws a Rejection when a new process's HELLO cannot be admitted. */
export function checkAdmission(f: Frame, info: HelloInfo, s: AdmissionState): void {
  if (info.kind === 'restart') {
    if (f.compId === 0n) throw new Rejection('restart hello without a computation id');
    if (f.upid === 0n) throw new Rejection('restart hello without a upid');
  }
  if (f.compId !== 0n && s.compId !== null && f.compId !== s.compId && s.hasProcesses) {
    throw new Rejection(`coordinator is busy with computation ${hex64(s.compId)}`);
  }
  const other = f.upid !== 0n ? s.registered(hex64(f.upid)) : undefined;
  if (other) throw new Rejection(`upid ${hex64(f.upid)} is already connected as ${describe(other)}`);
}
