// Who is connected: every connection, the processes of the computation among
// them, the ones held back until a round ends, and the computation's identity
// (id, generation, upids handed out).
import { randomBytes } from 'node:crypto';
import type { Duplex } from 'node:stream';
import { FrameDecoder, type Frame } from '../protocol/codec.ts';
import type { HelloInfo } from './types.ts';

export type Role = 'new' | 'worker' | 'deferred' | 'command' | 'closed';

export interface Conn {
  id: number;
  socket: Duplex;
  decoder: FrameDecoder;
  role: Role;
  worker: Worker | null;
  /** The HELLO held back until the active round ends. */
  deferredHello: Frame | null;
}

export interface Worker {
  upid: bigint;
  key: string;
  info: HelloInfo;
  conn: Conn;
}

function randomCompId(): bigint {
  for (;;) {
    const v = randomBytes(8).readBigUInt64LE(0);
    if (v !== 0n) return v;
  }
}

export class ProcessRegistry {
  readonly conns = new Set<Conn>();
  readonly workers = new Map<string, Worker>();
  /** Connections whose HELLO waits for the active round to end, or that were
   *  sent KILL instead of ACCEPT. */
  deferred: Conn[] = [];
  compId: bigint | null = null;
  generation = 0n;
  private maxUpid = 0n;
  everConnected = false;
  private nextConnId = 1;

  /** compId as it goes on the wire. */
  get wireCompId(): bigint {
    return this.compId ?? 0n;
  }

  /** Processes still counted: registered or held back. */
  get remaining(): number {
    return this.workers.size + this.deferred.length;
  }

  open(socket: Duplex): Conn {
    return { id: this.nextConnId++, socket, decoder: new FrameDecoder(), role: 'new', worker: null, deferredHello: null };
  }

  send(conn: Conn, frame: Buffer): void {
    if (conn.role === 'closed' || conn.socket.destroyed || !conn.socket.writable) return;
    conn.socket.write(frame);
  }

  defer(conn: Conn, hello: Frame | null): void {
    conn.role = 'deferred';
    conn.deferredHello = hello;
    this.deferred.push(conn);
  }

  /** Takes the held-back connections, for the end of a round to admit. */
  takeDeferred(): Conn[] {
    const held = this.deferred;
    this.deferred = [];
    return held;
  }

  /** Adopts the identity of the computation the first process brings (a
   *  restarted one knows it) and hands out its upid. */
  assign(f: Frame, isRestart: boolean): bigint {
    if (this.workers.size === 0 && (f.compId !== 0n || this.compId === null)) {
      this.compId = f.compId !== 0n ? f.compId : randomCompId();
      if (isRestart) this.generation = f.generation;
    }
    let upid = f.upid;
    if (upid === 0n) upid = ++this.maxUpid;
    else if (upid > this.maxUpid) this.maxUpid = upid;
    if (isRestart && f.generation > this.generation) this.generation = f.generation;
    return upid;
  }

  register(conn: Conn, upid: bigint, key: string, info: HelloInfo): Worker {
    const w: Worker = { upid, key, info, conn };
    conn.role = 'worker';
    conn.worker = w;
    this.workers.set(key, w);
    this.everConnected = true;
    return w;
  }

  /** Forgets a connection. Returns its role before and the process that
   *  left with it, or null when it was already closed. */
  forget(conn: Conn): { wasRole: Role; left: Worker | null } | null {
    if (conn.role === 'closed') return null;
    const wasRole = conn.role;
    conn.role = 'closed';
    this.conns.delete(conn);
    if (wasRole === 'deferred') this.deferred = this.deferred.filter((c) => c !== conn);
    const w = conn.worker;
    if (w && this.workers.get(w.key) === w) {
      this.workers.delete(w.key);
      return { wasRole, left: w };
    }
    return { wasRole, left: null };
  }

  /** The computation is over; the next process starts a new one. */
  endComputation(): void {
    this.compId = null;
    this.generation = 0n;
    this.maxUpid = 0n;
  }

  /** Connections of processes: admitted or held back. */
  processConns(): Conn[] {
    return [...this.conns].filter((c) => c.role === 'worker' || c.role === 'deferred');
  }
}
