// Bookkeeping of one checkpoint or restart round: who takes part, who has
// reached which barrier, which barriers were released. Pure: no I/O, so the
// rules can be tested without sockets. Every operation is O(1) per process
// except a release, which is O(participants).
import {
  DMTCP_BARRIER_RESTART_CONNECTED,
  DMTCP_BARRIER_RESTART_DONE,
  DMTCP_BARRIER_RESUMED,
  DMTCP_BARRIER_SUSPENDED,
  DMTCP_BARRIER_WRITTEN,
  parseDmtcpWrittenRecord,
  type DmtcpWrittenRecord,
} from '../generated/constants.ts';
import type { BarrierPolicy, BarrierRecord, HelloInfo } from './types.ts';

export const BARRIER_SUSPENDED = DMTCP_BARRIER_SUSPENDED;
export const BARRIER_WRITTEN = DMTCP_BARRIER_WRITTEN;
export const BARRIER_RESUMED = DMTCP_BARRIER_RESUMED;
export const BARRIER_RESTART_CONNECTED = DMTCP_BARRIER_RESTART_CONNECTED;
export const BARRIER_RESTART_DONE = DMTCP_BARRIER_RESTART_DONE;

export type RoundKind = 'checkpoint' | 'restart';

export type ArriveResult =
  | { ok: true; ready: boolean }
  | { ok: false; error: string };

export class Round {
  readonly participants = new Map<string, HelloInfo>();
  readonly released: string[] = [];
  private readonly releasedSet = new Set<string>();
  /** barrier name -> upid -> record payload, in arrival order. */
  private readonly arrivals = new Map<string, Map<string, Buffer>>();
  /** Participants that ever joined, including those that left since. */
  joinedCount = 0;
  /** Restart rounds: the largest num_peers any participant reported. */
  expectedPeers = 0;

  constructor(readonly kind: RoundKind, readonly generation: bigint) {}

  get anyReleased(): boolean {
    return this.released.length > 0;
  }

  hasReleased(name: string): boolean {
    return this.releasedSet.has(name);
  }

  /** The final barrier: its release ends the round. */
  get lastBarrier(): string {
    return this.kind === 'checkpoint' ? BARRIER_RESUMED : BARRIER_RESTART_DONE;
  }

  /** Joining is only safe while nobody has passed a barrier: a late process
   *  would otherwise miss a release the others depend on. */
  get joinable(): boolean {
    return !this.anyReleased;
  }

  /** A process leaving before its image is on disk makes the checkpoint
   *  incomplete, so the whole round has to be abandoned. */
  get leaveIsFatal(): boolean {
    return this.kind === 'checkpoint' && !this.hasReleased(BARRIER_WRITTEN);
  }

  has(upid: string): boolean {
    return this.participants.has(upid);
  }

  /** True if the participant has sent any barrier of this round yet. */
  hasArrivedAnywhere(upid: string): boolean {
    if (this.anyReleased) return true;
    for (const m of this.arrivals.values()) if (m.has(upid)) return true;
    return false;
  }

  add(upid: string, hello: HelloInfo): void {
    if (this.participants.has(upid)) throw new Error(`upid ${upid} already takes part in this round`);
    this.participants.set(upid, hello);
    this.joinedCount++;
    if (this.kind === 'restart' && hello.numPeers > this.expectedPeers) this.expectedPeers = hello.numPeers;
  }

  /** Removes a participant; returns the barriers that its absence completes. */
  remove(upid: string): string[] {
    if (!this.participants.delete(upid)) return [];
    const ready: string[] = [];
    for (const [name, m] of this.arrivals) {
      m.delete(upid);
      if (this.isReady(name)) ready.push(name);
    }
    return ready;
  }

  arrive(upid: string, name: string, payload: Buffer): ArriveResult {
    if (!this.participants.has(upid)) return { ok: false, error: `upid ${upid} does not take part in this round` };
    if (this.releasedSet.has(name)) return { ok: false, error: `barrier "${name}" was already released` };
    let m = this.arrivals.get(name);
    if (!m) {
      m = new Map();
      this.arrivals.set(name, m);
    }
    if (m.has(upid)) return { ok: false, error: `upid ${upid} reached barrier "${name}" twice` };
    m.set(upid, payload);
    return { ok: true, ready: this.isReady(name) };
  }

  /** Every current participant has arrived (and, for the first restart
   *  barrier, every peer of the computation has shown up). */
  isReady(name: string): boolean {
    const m = this.arrivals.get(name);
    if (!m || m.size === 0 || m.size < this.participants.size) return false;
    if (this.kind === 'restart' && name === BARRIER_RESTART_CONNECTED && this.joinedCount < this.expectedPeers) return false;
    return true;
  }

  /** Marks a ready barrier released and returns its records, in the order
   *  the participants joined. */
  release(name: string): BarrierRecord[] {
    if (!this.isReady(name)) throw new Error(`barrier "${name}" is not ready`);
    const m = this.arrivals.get(name)!;
    this.arrivals.delete(name);
    this.released.push(name);
    this.releasedSet.add(name);
    const records: BarrierRecord[] = [];
    for (const [upid, hello] of this.participants) {
      records.push({ upid, payload: m.get(upid) ?? Buffer.alloc(0), hello });
    }
    return records;
  }

  /** Barrier names some participant is waiting at, with how many arrived. */
  waiting(): { name: string; arrived: number }[] {
    return [...this.arrivals].map(([name, m]) => ({ name, arrived: m.size }));
  }
}

const EMPTY = Buffer.alloc(0);

/** Runs a policy (if any) and normalises its result: one Buffer when every
 *  participant gets the same reply, else a map with an entry per upid. */
export function resolveReplies(policy: BarrierPolicy | undefined, records: BarrierRecord[]): Buffer | Map<string, Buffer> {
  if (!policy) return EMPTY;
  const result = policy(records);
  if (result === undefined) return EMPTY;
  if (Buffer.isBuffer(result)) return result;
  if (!(result instanceof Map)) throw new TypeError('a barrier policy must return a Map, a Buffer or nothing');
  const out = new Map<string, Buffer>();
  for (const r of records) {
    const v = result.get(r.upid);
    if (v !== undefined && !Buffer.isBuffer(v)) throw new TypeError(`the reply for upid ${r.upid} is not a Buffer`);
    out.set(r.upid, v ?? EMPTY);
  }
  return out;
}

export interface WrittenImage {
  upid: string;
  image: string;
  bytes: number;
}

/** One ckpt:written record read with the parser generated from DMTCP_WRITTEN_RECORD (dmtcp/records.h), or
 *  the line that reports it malformed. */
export function readWritten(r: BarrierRecord): { record: DmtcpWrittenRecord } | { problem: string } {
  const p = parseDmtcpWrittenRecord(r.payload);
  if (p.ok) return { record: p.value };
  return { problem: `upid ${r.upid} (${r.hello.prog}) sent a malformed ${BARRIER_WRITTEN} record: ${p.error}` };
}

/** Reads the records of the written barrier (DMTCP_BARRIER_WRITTEN); malformed ones are reported, not fatal,
 *  because the image may still be fine on disk. */
export function collectImages(records: BarrierRecord[], resolveDir: (r: BarrierRecord) => string): { images: WrittenImage[]; problems: string[] } {
  const images: WrittenImage[] = [];
  const problems: string[] = [];
  for (const r of records) {
    const read = readWritten(r);
    if ('problem' in read) {
      problems.push(read.problem);
      continue;
    }
    const { record } = read;
    if (record.image === '') {
      problems.push(`upid ${r.upid} (${r.hello.prog}) did not name its image`);
      continue;
    }
    const image = record.image.startsWith('/') ? record.image : `${resolveDir(r).replace(/\/+$/, '')}/${record.image}`;
    images.push({ upid: r.upid, image, bytes: record.bytes });
  }
  return { images, problems };
}
