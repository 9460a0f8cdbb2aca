// A checkpoint round that cannot complete, over in-memory connections: a
// failed image write at ckpt:written, descriptors no plugin restores at
// ckpt:suspended (warning, restart note, --strict refusal), a failed rename
// at ckpt:resumed.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { Coordinator } from '../src/coordinator/coordinator.ts';
import { memoryPair } from '../src/coordinator/memory-pair.ts';
import type { CheckpointReply, ErrorReply, StatusReply, UserReply } from '../src/coordinator/types.ts';
import {
  DMT_ACCEPT, DMT_BARRIER, DMT_BARRIER_RELEASED, DMT_DO_CHECKPOINT, DMT_HELLO, DMT_ROUND_FAILED, DMT_USER_CMD,
  DMT_USER_REPLY, DMTCP_HELLO_LAUNCH,
} from '../src/generated/constants.ts';
import { encodeFrame, FrameDecoder, type Frame, hex64, jsonPayload, parseJsonPayload } from '../src/protocol/codec.ts';

class Peer {
  readonly frames: Frame[] = [];
  private waiters: (() => void)[] = [];
  private readonly decoder = new FrameDecoder();
  upid = 0n;
  compId = 0n;
  generation = 0n;

  constructor(readonly socket: Duplex) {
    socket.on('data', (c: Buffer) => {
      this.frames.push(...this.decoder.push(c));
      for (const w of this.waiters.splice(0)) w();
    });
    socket.on('error', () => {});
  }

  send(f: Partial<Frame> & { type: number }): void {
    this.socket.write(encodeFrame(f));
  }

  async next(): Promise<Frame> {
    for (;;) {
      const f = this.frames.shift();
      if (f) return f;
      await new Promise<void>((r) => this.waiters.push(r));
    }
  }

  async idle(): Promise<number> {
    await new Promise((r) => setImmediate(r));
    return this.frames.length;
  }

  barrier(name: string, record: unknown = ''): void {
    const payload = Buffer.from(typeof record === 'string' ? record : JSON.stringify(record));
    this.send({ type: DMT_BARRIER, name, upid: this.upid, compId: this.compId, generation: this.generation, payload });
  }
}

let dir = '';
let coord: Coordinator;
let logs: string[] = [];
const peers: Peer[] = [];

/** Plugin libraries of the tests: "file" restores files and pipes. */
const KINDS: Record<string, string[]> = { '/p/libdmtcp_file.so': ['file', 'pipe', 'chr'] };

function start(): void {
  logs = [];
  coord = new Coordinator({ log: (l) => logs.push(l), dmtcpCommand: ['/bin/echo'], moduleLoader: null, fdKinds: (lib) => KINDS[lib] ?? [] });
}

function connect(): Peer {
  const [a, b] = memoryPair();
  coord.handle(a);
  const p = new Peer(b);
  peers.push(p);
  return p;
}

async function launch(prog: string, pid: number): Promise<Peer> {
  const w = connect();
  w.send({ type: DMT_HELLO, extra: DMTCP_HELLO_LAUNCH, payload: jsonPayload({ pid, prog, ckptdir: dir, plugins: ['/p/libdmtcp_file.so'] }) });
  const f = await w.next();
  expect(f.type).toBe(DMT_ACCEPT);
  w.upid = f.upid;
  w.compId = f.compId;
  return w;
}

function command<R extends UserReply>(cmd: Record<string, unknown>): Promise<R> {
  const cli = connect();
  cli.send({ type: DMT_USER_CMD, payload: jsonPayload(cmd) });
  return cli.next().then((f) => {
    expect(f.type).toBe(DMT_USER_REPLY);
    return parseJsonPayload(f) as R;
  });
}

async function doCheckpoint(w: Peer): Promise<void> {
  const f = await w.next();
  expect(f.type).toBe(DMT_DO_CHECKPOINT);
  w.generation = f.generation;
}

async function released(w: Peer, name: string): Promise<Frame> {
  const f = await w.next();
  expect([f.type, f.name]).toEqual([DMT_BARRIER_RELEASED, name]);
  return f;
}

function image(w: Peer, prog: string): string {
  return path.join(dir, `ckpt_${prog}_${hex64(w.upid)}.dmtcp`);
}

/** Both processes through ckpt:suspended, with their descriptor records. */
async function suspend(ws: [Peer, unknown][]): Promise<Frame[]> {
  for (const [w] of ws) await doCheckpoint(w);
  for (const [w, rec] of ws) w.barrier('ckpt:suspended', rec);
  const out: Frame[] = [];
  for (const [w] of ws) out.push(await released(w, 'ckpt:suspended'));
  return out;
}

beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'dmtcp-round-'));
});

afterEach(async () => {
  for (const p of peers.splice(0)) p.socket.destroy();
  await coord.stop();
  rmSync(dir, { recursive: true, force: true });
});

it('one failed write fails the round for every process: nobody is released to rename', async () => {
  start();
  const a = await launch('a', 100);
  const b = await launch('b', 101);
  const reply = command<ErrorReply>({ cmd: 'checkpoint' });
  await suspend([[a, ''], [b, '']]);
  a.barrier('ckpt:written', { frozen_ms: 1, image: image(a, 'a'), bytes: 4096 });
  expect(await a.idle()).toBe(0);
  b.barrier('ckpt:written', { frozen_ms: 1, image: image(b, 'b'), bytes: 0, tmp: `${image(b, 'b')}.tmp`, error: 'No space left on device', errno: 28 });
  const reason = `ckpt_b_${hex64(b.upid)}.dmtcp.tmp: No space left on device`;
  for (const w of [a, b]) {
    const f = await w.next();
    expect(f.type).toBe(DMT_ROUND_FAILED);
    expect(f.payload.toString()).toBe(reason);
  }
  expect(await reply).toEqual({ ok: false, error: reason, generation: 1, warnings: [] });
  expect(logs).toContain(logs.find((l) => l.startsWith('checkpoint generation 1 failed') && l.endsWith(reason)));
  expect((await command<StatusReply>({ cmd: 'status' })).running).toBe(true);

  // The next round goes through.
  const next = command<CheckpointReply>({ cmd: 'checkpoint' });
  await suspend([[a, ''], [b, '']]);
  for (const name of ['ckpt:written', 'ckpt:resumed']) {
    a.barrier(name, name === 'ckpt:written' ? { bytes: 0, frozen_ms: 1, image: image(a, 'a') } : '');
    b.barrier(name, name === 'ckpt:written' ? { bytes: 0, frozen_ms: 1, image: image(b, 'b') } : '');
    await released(a, name);
    await released(b, name);
  }
  expect(await next).toMatchObject({ ok: true, generation: 2, images: [image(a, 'a'), image(b, 'b')] });
});

it('warns once per process about descriptors no plugin restores and gives each its restart note', async () => {
  start();
  const a = await launch('a', 100);
  const b = await launch('b', 101);
  const reply = command<CheckpointReply>({ cmd: 'checkpoint' });
  const [ra, rb] = await suspend([
    [a, { image: 'ckpt_a.dmtcp', strict: false, fds: [[0, 'chr'], [1, 'socket'], [3, 'file'], [10, 'epoll'], [11, 'eventfd'], [12, 'socket']] }],
    [b, { image: 'ckpt_b.dmtcp', strict: false, fds: [[0, 'chr'], [4, 'pipe']] }],
  ]);
  expect(ra!.payload.toString()).toBe('ckpt_a.dmtcp: fd 10 (epoll), fd 11 (eventfd), fd 12 (socket) were not restored (need plugin-event, plugin-socket); the program fails if it uses them');
  expect(rb!.payload.length).toBe(0);
  for (const name of ['ckpt:written', 'ckpt:resumed']) {
    a.barrier(name, name === 'ckpt:written' ? { bytes: 0, frozen_ms: 1, image: image(a, 'a') } : '');
    b.barrier(name, name === 'ckpt:written' ? { bytes: 0, frozen_ms: 1, image: image(b, 'b') } : '');
    await released(a, name);
    await released(b, name);
  }
  const line = 'ckpt_a.dmtcp: fd 10 (epoll), fd 11 (eventfd), fd 12 (socket) will not be restored: need plugin-event, plugin-socket';
  expect((await reply).warnings).toEqual([line]);
  expect(logs.filter((l) => l.startsWith('warning:'))).toEqual([`warning: ${line}`]);
});

it('a strict process refuses the checkpoint before any image is written', async () => {
  start();
  const a = await launch('a', 100);
  const reply = command<ErrorReply>({ cmd: 'checkpoint' });
  await doCheckpoint(a);
  a.barrier('ckpt:suspended', { image: 'ckpt_a.dmtcp', strict: true, fds: [[5, 'io_uring']] });
  const f = await a.next();
  expect(f.type).toBe(DMT_ROUND_FAILED);
  const line = 'ckpt_a.dmtcp: fd 5 (io_uring) will not be restored: no plugin restores io_uring';
  expect(await reply).toEqual({ ok: false, error: `--strict: ${line}`, generation: 1, warnings: [line] });
});

it('a rename that failed after release makes the checkpoint incomplete, not done', async () => {
  start();
  const a = await launch('a', 100);
  const reply = command<ErrorReply>({ cmd: 'checkpoint' });
  await suspend([[a, '']]);
  a.barrier('ckpt:written', { bytes: 0, frozen_ms: 1, image: image(a, 'a') });
  await released(a, 'ckpt:written');
  a.barrier('ckpt:resumed', { error: 'cannot rename ckpt_a.dmtcp.tmp: No such file or directory' });
  await released(a, 'ckpt:resumed');
  const r = await reply;
  expect(r.ok).toBe(false);
  expect(r.error).toMatch(/^incomplete, the images are a mixed set: a \(upid 0+1\): cannot rename ckpt_a\.dmtcp\.tmp: No such file or directory$/);
});
