// The bytes a process sends at the "pid:restart" barrier and the table it
// gets back, and the claim call. The constants are generated from
// native/pid_wire.h (src/generated/wire.ts, by dmtcp gen-constants at build;
// test/wire.test.ts fails when it is stale); the layouts follow its structs.
import {
  PID_CLAIM_EXACT, PID_CLAIM_MAGIC, PID_CLAIM_MAX_AVOID, PID_CLAIM_SIZE, PID_RECORD_HEADER_SIZE, PID_RECORD_MAGIC,
  PID_RECORD_THREAD_SIZE, PID_TABLE_ENTRY_SIZE, PID_TABLE_HEADER_SIZE, PID_TABLE_MAGIC, PID_WIRE_VERSION,
} from './generated/wire.ts';

export * from './generated/wire.ts';

export interface ThreadIds {
  vtid: number;
  /** 0 when the process could not tell (it learns it when the thread resumes). */
  real: number;
}

/** What one process reports about itself after a restart. */
export interface PidRecord {
  vpid: number;
  real: number;
  threads: ThreadIds[];
}

/** One row of the table: owner === vid marks a process, otherwise a thread
 *  of the process whose vpid is owner. */
export interface TableEntry {
  vid: number;
  real: number;
  owner: number;
}

export class WireError extends Error {
  override name = 'WireError';
}

export function encodeRecord(r: PidRecord): Buffer {
  const buf = Buffer.alloc(PID_RECORD_HEADER_SIZE + r.threads.length * PID_RECORD_THREAD_SIZE);
  buf.writeUInt32LE(PID_RECORD_MAGIC, 0);
  buf.writeUInt16LE(PID_WIRE_VERSION, 4);
  buf.writeUInt16LE(0, 6);
  buf.writeInt32LE(r.vpid, 8);
  buf.writeInt32LE(r.real, 12);
  buf.writeUInt32LE(r.threads.length, 16);
  r.threads.forEach((t, i) => {
    const off = PID_RECORD_HEADER_SIZE + i * PID_RECORD_THREAD_SIZE;
    buf.writeInt32LE(t.vtid, off);
    buf.writeInt32LE(t.real, off + 4);
  });
  return buf;
}

/** Parses a record; the error says what is wrong with it. */
export function decodeRecord(buf: Buffer): PidRecord {
  if (buf.length === 0) throw new WireError('empty record');
  if (buf.length < PID_RECORD_HEADER_SIZE) throw new WireError(`record of ${buf.length} bytes is shorter than its ${PID_RECORD_HEADER_SIZE}-byte header`);
  const magic = buf.readUInt32LE(0);
  if (magic !== PID_RECORD_MAGIC) throw new WireError(`bad record magic 0x${magic.toString(16)}`);
  const version = buf.readUInt16LE(4);
  if (version !== PID_WIRE_VERSION) throw new WireError(`record version ${version}, expected ${PID_WIRE_VERSION}`);
  const vpid = buf.readInt32LE(8);
  const real = buf.readInt32LE(12);
  const n = buf.readUInt32LE(16);
  const want = PID_RECORD_HEADER_SIZE + n * PID_RECORD_THREAD_SIZE;
  if (buf.length !== want) throw new WireError(`record says ${n} threads (${want} bytes) but has ${buf.length} bytes`);
  if (vpid <= 0 || real <= 0) throw new WireError(`record has vpid ${vpid}, real pid ${real}`);
  const threads: ThreadIds[] = [];
  for (let i = 0; i < n; i++) {
    const off = PID_RECORD_HEADER_SIZE + i * PID_RECORD_THREAD_SIZE;
    const vtid = buf.readInt32LE(off);
    const treal = buf.readInt32LE(off + 4);
    if (vtid <= 0 || treal < 0) throw new WireError(`thread ${i} has vtid ${vtid}, real tid ${treal}`);
    threads.push({ vtid, real: treal });
  }
  return { vpid, real, threads };
}

export function tableSize(entries: number): number {
  return PID_TABLE_HEADER_SIZE + entries * PID_TABLE_ENTRY_SIZE;
}

export function encodeTable(entries: readonly TableEntry[]): Buffer {
  const buf = Buffer.alloc(tableSize(entries.length));
  buf.writeUInt32LE(PID_TABLE_MAGIC, 0);
  buf.writeUInt16LE(PID_WIRE_VERSION, 4);
  buf.writeUInt16LE(0, 6);
  buf.writeUInt32LE(entries.length, 8);
  entries.forEach((e, i) => {
    const off = PID_TABLE_HEADER_SIZE + i * PID_TABLE_ENTRY_SIZE;
    buf.writeInt32LE(e.vid, off);
    buf.writeInt32LE(e.real, off + 4);
    buf.writeInt32LE(e.owner, off + 8);
  });
  return buf;
}

export function decodeTable(buf: Buffer): TableEntry[] {
  if (buf.length < PID_TABLE_HEADER_SIZE || buf.readUInt32LE(0) !== PID_TABLE_MAGIC) throw new WireError('not a pid table');
  const n = buf.readUInt32LE(8);
  if (buf.length !== tableSize(n)) throw new WireError(`table says ${n} entries but has ${buf.length} bytes`);
  const out: TableEntry[] = [];
  for (let i = 0; i < n; i++) {
    const off = PID_TABLE_HEADER_SIZE + i * PID_TABLE_ENTRY_SIZE;
    out.push({ vid: buf.readInt32LE(off), real: buf.readInt32LE(off + 4), owner: buf.readInt32LE(off + 8) });
  }
  return out;
}

/** A claim as the native side sends it (struct pid_claim). */
export interface ClaimWire {
  wanted: number;
  exact: boolean;
  pidMax: number;
  avoid: number[];
}

export function encodeClaim(c: ClaimWire): Buffer {
  if (c.avoid.length > PID_CLAIM_MAX_AVOID) throw new WireError(`a claim avoids at most ${PID_CLAIM_MAX_AVOID} ids`);
  const buf = Buffer.alloc(PID_CLAIM_SIZE);
  buf.writeUInt32LE(PID_CLAIM_MAGIC, 0);
  buf.writeUInt16LE(PID_WIRE_VERSION, 4);
  buf.writeUInt16LE(c.exact ? PID_CLAIM_EXACT : 0, 6);
  buf.writeInt32LE(c.wanted, 8);
  buf.writeInt32LE(c.pidMax, 12);
  buf.writeUInt32LE(c.avoid.length, 16);
  c.avoid.forEach((v, i) => buf.writeInt32LE(v, 20 + 4 * i));
  return buf;
}

export function decodeClaim(buf: Buffer): ClaimWire {
  if (buf.length !== PID_CLAIM_SIZE) throw new WireError(`claim of ${buf.length} bytes, expected ${PID_CLAIM_SIZE}`);
  const magic = buf.readUInt32LE(0);
  if (magic !== PID_CLAIM_MAGIC) throw new WireError(`bad claim magic 0x${magic.toString(16)}`);
  const version = buf.readUInt16LE(4);
  if (version !== PID_WIRE_VERSION) throw new WireError(`claim version ${version}, expected ${PID_WIRE_VERSION}`);
  const n = buf.readUInt32LE(16);
  if (n > PID_CLAIM_MAX_AVOID) throw new WireError(`claim avoids ${n} ids, at most ${PID_CLAIM_MAX_AVOID}`);
  const avoid: number[] = [];
  for (let i = 0; i < n; i++) avoid.push(buf.readInt32LE(20 + 4 * i));
  return { wanted: buf.readInt32LE(8), exact: (buf.readUInt16LE(6) & PID_CLAIM_EXACT) !== 0, pidMax: buf.readInt32LE(12), avoid };
}

/** The answer to a claim: the id granted, 0 for none. */
export function encodeGrant(vid: number): Buffer {
  const buf = Buffer.alloc(4);
  buf.writeInt32LE(vid, 0);
  return buf;
}
