// Decisions of the file plugin that are pure functions: the path map
// (--path-map OLD=NEW, DMTCP_PATH_MAP) and the election of the process that
// restores something several processes hold. The native side applies the
// same path-map rules in native/file_pathmap.c; test/pathmap.e2e.test.ts
// checks that the two agree.
import { FILE_BARRIER_RESTORE_CONTENTS, FILE_KEY_HEX } from './generated/wire.ts';
import type { BarrierRecord } from './types.ts';

/** Barrier at which restarted processes agree who writes back a file's
 *  checkpointed contents (native/file_wire.h). */
export const RESTORE_CONTENTS_BARRIER = FILE_BARRIER_RESTORE_CONTENTS;

/** Length of a key in that barrier's records. */
export const KEY_HEX = FILE_KEY_HEX;

export interface PathMapEntry {
  /** Absolute, without trailing slashes; '' stands for the root "/". */
  readonly from: string;
  readonly to: string;
}

export class PathMapError extends Error {
  override readonly name = 'PathMapError';
}

function trimSlashes(p: string): string {
  return p.replace(/\/+$/, '');
}

/**
 * Parses "OLD=NEW[:OLD2=NEW2...]". Empty entries are ignored; every other
 * entry must be OLD=NEW with both sides absolute and no second '='.
 */
export function parsePathMap(spec: string): PathMapEntry[] {
  const out: PathMapEntry[] = [];
  for (const entry of spec.split(':')) {
    if (entry === '') continue;
    const eq = entry.indexOf('=');
    const from = eq < 0 ? '' : entry.slice(0, eq);
    const to = eq < 0 ? '' : entry.slice(eq + 1);
    if (eq < 0 || !from.startsWith('/') || !to.startsWith('/') || to.includes('=')) {
      throw new PathMapError(
        `path map entry ${JSON.stringify(entry)}: each entry must be OLD=NEW with both absolute paths (OLD=NEW[:OLD2=NEW2...])`,
      );
    }
    out.push({ from: trimSlashes(from), to: trimSlashes(to) });
  }
  return out;
}

/**
 * Where `path` lives after the map: the longest OLD that is the path itself
 * or one of its parent directories is replaced by its NEW (the first of
 * equally long ones). Paths no entry covers are returned unchanged.
 */
export function applyPathMap(map: readonly PathMapEntry[], path: string): string {
  if (!path.startsWith('/')) return path;
  let best: PathMapEntry | undefined;
  for (const e of map) {
    const covers = e.from === '' || path === e.from || path.startsWith(`${e.from}/`);
    if (covers && (best === undefined || e.from.length > best.from.length)) best = e;
  }
  if (!best) return path;
  const mapped = best.to + path.slice(best.from.length);
  return mapped === '' ? '/' : mapped;
}

/** The map as DMTCP_PATH_MAP carries it. */
export function formatPathMap(map: readonly PathMapEntry[]): string {
  return map.map((e) => `${e.from || '/'}=${e.to || '/'}`).join(':');
}

export interface Claim {
  upid: string;
  keys: readonly string[];
}

/** For every key, the lowest upid that claims it (upids are fixed-width hex, so string order is numeric order). */
export function electLowest(claims: readonly Claim[]): Map<string, string> {
  const leader = new Map<string, string>();
  for (const c of claims) {
    for (const k of c.keys) {
      const cur = leader.get(k);
      if (cur === undefined || compareUpid(c.upid, cur) < 0) leader.set(k, c.upid);
    }
  }
  return leader;
}

function compareUpid(a: string, b: string): number {
  const x = a.padStart(KEY_HEX, '0');
  const y = b.padStart(KEY_HEX, '0');
  return x < y ? -1 : x > y ? 1 : 0;
}

/** The keys of one record: lines of KEY_HEX lowercase hex digits. */
export function decodeKeys(payload: Buffer, upid: string): string[] {
  const text = payload.toString('latin1');
  if (text === '') return [];
  if (!text.endsWith('\n')) throw new Error(`${RESTORE_CONTENTS_BARRIER}: the record of ${upid} does not end with a newline`);
  const keys = text.slice(0, -1).split('\n');
  const re = new RegExp(`^[0-9a-f]{${KEY_HEX}}$`);
  for (const k of keys) {
    if (!re.test(k)) throw new Error(`${RESTORE_CONTENTS_BARRIER}: the record of ${upid} has a malformed key ${JSON.stringify(k.slice(0, 40))}`);
  }
  return keys;
}

/**
 * Policy of the restore-contents barrier: each process lists (one key per
 * line) the files it would write back; each gets back one character per
 * line, '1' where it is the one to write and '0' where another process does.
 */
export function restoreContentsPolicy(records: readonly BarrierRecord[]): Map<string, Buffer> {
  const claims = records.map((r) => ({ upid: r.upid, keys: decodeKeys(r.payload, r.upid) }));
  const leader = electLowest(claims);
  const replies = new Map<string, Buffer>();
  for (const c of claims) {
    if (c.keys.length === 0) continue;
    replies.set(c.upid, Buffer.from(c.keys.map((k) => (leader.get(k) === c.upid ? '1' : '0')).join(''), 'latin1'));
  }
  return replies;
}
