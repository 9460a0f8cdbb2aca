// The coordinator over in-memory connections: what the C runtime and the CLI
// will see on the wire, without ports or processes.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Coordinator, type CoordinatorOptions } from '../src/coordinator/coordinator.ts';
import { memoryPair } from '../src/coordinator/memory-pair.ts';
import { RESTART_SCRIPT_NAME } from '../src/coordinator/restart-script.ts';
import type { CheckpointReply, ErrorReply, StatusReply, UserCommand, UserReply } from '../src/coordinator/types.ts';
import {
  DMT_ACCEPT,
  DMT_BARRIER,
  DMT_BARRIER_RELEASED,
  DMT_DO_CHECKPOINT,
  DMT_HELLO,
  DMT_KILL,
  DMT_KV_GET,
  DMT_KV_PUT,
  DMT_KV_VALUE,
  DMT_REJECT,
  DMT_ROUND_FAILED,
  DMT_UPDATE,
  DMT_USER_CMD,
  DMT_USER_REPLY,
  DMTCP_HELLO_EXEC,
  DMTCP_HELLO_FORK,
  DMTCP_HELLO_LAUNCH,
  DMTCP_HELLO_RESTART,
  DMTCP_KV_MISSING,
  DMTCP_KV_OK,
} from '../src/generated/constants.ts';
import { encodeFrame, FrameDecoder, type Frame, hex64, jsonPayload, parseJsonPayload } from '../src/protocol/codec.ts';

/** One end of a connection as a process or the CLI sees it. */
class Peer {
  readonly frames: Frame[] = [];
  private waiters: (() => void)[] = [];
  private readonly decoder = new FrameDecoder();
  closed = false;
  private closeWaiters: (() => void)[] = [];

  constructor(readonly socket: Duplex) {
    socket.on('data', (c: Buffer) => {
      this.frames.push(...this.decoder.push(c));
      for (const w of this.waiters.splice(0)) w();
    });
    const onClose = () => {
      this.closed = true;
      for (const w of this.closeWaiters.splice(0)) w();
      for (const w of this.waiters.splice(0)) w();
    };
    socket.on('end', onClose);
    socket.on('close', onClose);
    socket.on('error', () => {});
  }

  send(f: Partial<Frame> & { type: number }): void {
    this.socket.write(encodeFrame(f));
  }

  /** The next frame (of a type, if given), skipping nothing. */
  async next(type?: number): Promise<Frame> {
    for (;;) {
      const f = this.frames.shift();
      if (f) {
        if (type !== undefined && f.type !== type) throw new Error(`expected frame type ${type}, got ${f.type} (${f.name} ${f.payload.toString()})`);
        return f;
      }
      if (this.closed) throw new Error('connection closed while waiting for a frame');
      await new Promise<void>((r) => this.waiters.push(r));
    }
  }

  /** Lets every in-flight delivery happen, then says whether anything came. */
  async idle(): Promise<number> {
    await new Promise((r) => setImmediate(r));
    return this.frames.length;
  }

  untilClosed(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((r) => this.closeWaiters.push(r));
  }

  close(): void {
    this.socket.destroy();
  }
}

class Worker extends Peer {
  upid = 0n;
  compId = 0n;
  generation = 0n;

  async hello(kind: number, fields: Record<string, unknown>, hdr: Partial<Frame> = {}): Promise<Frame> {
    this.send({ type: DMT_HELLO, extra: kind, payload: jsonPayload(fields), ...hdr });
    const f = await this.next();
    if (f.type === DMT_ACCEPT) {
      this.upid = f.upid;
      this.compId = f.compId;
      this.generation = f.generation;
    }
    return f;
  }

  barrier(name: string, payload: string | Buffer = '', generation = this.generation): void {
    this.send({ type: DMT_BARRIER, name, upid: this.upid, compId: this.compId, generation, payload: Buffer.from(payload) });
  }

  async doCheckpoint(): Promise<Frame> {
    const f = await this.next(DMT_DO_CHECKPOINT);
    this.generation = f.generation;
    return f;
  }

  async released(name: string): Promise<Frame> {
    const f = await this.next(DMT_BARRIER_RELEASED);
    expect(f.name).toBe(name);
    return f;
  }
}

let dir = '';
let coord: Coordinator;
let logs: string[];
const peers: Peer[] = [];

function start(opts: CoordinatorOptions = {}): Coordinator {
  logs = [];
  coord = new Coordinator({ host: '127.0.0.1', port: 7779, log: (l) => { logs.push(l); if (process.env.COORD_DEBUG) console.log(l); }, dmtcpCommand: ['/bin/echo'], ...opts });
  return coord;
}

function connect<T extends Peer>(Kind: new (s: Duplex) => T): T {
  const [a, b] = memoryPair();
  coord.handle(a);
  const p = new Kind(b);
  peers.push(p);
  return p;
}

async function launch(prog: string, pid: number, extra: Record<string, unknown> = {}): Promise<Worker> {
  const w = connect(Worker);
  const f = await w.hello(DMTCP_HELLO_LAUNCH, { kind: 'launch', pid, prog, argv: [`./${prog}`], ckptdir: dir, host: 'h', ...extra });
  expect(f.type).toBe(DMT_ACCEPT);
  return w;
}

function command<R extends UserReply = UserReply>(cmd: UserCommand | Record<string, unknown>): Promise<R> {
  const cli = connect(Peer);
  cli.send({ type: DMT_USER_CMD, payload: jsonPayload(cmd) });
  return cli.next(DMT_USER_REPLY).then((f) => parseJsonPayload(f) as R);
}

/** A command whose reply the test does not wait for. */
function fire(cmd: UserCommand): void {
  command(cmd).catch(() => {});
}

function image(w: Worker, prog: string): string {
  return path.join(dir, `ckpt_${prog}_${hex64(w.upid)}.dmtcp`);
}

/** Drives every worker through the core barriers of one checkpoint. */
async function runCheckpoint(ws: [Worker, string][], plugin: string[] = []): Promise<void> {
  for (const [w] of ws) await w.doCheckpoint();
  for (const name of ['ckpt:suspended', ...plugin, 'ckpt:written', 'ckpt:resumed']) {
    for (const [w, prog] of ws) {
      w.barrier(name, name === 'ckpt:written' ? JSON.stringify({ frozen_ms: 1, image: image(w, prog), bytes: 4096 }) : '');
    }
    for (const [w] of ws) await w.released(name);
  }
}

beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'dmtcp-coord-'));
});

afterEach(async () => {
  for (const p of peers.splice(0)) p.close();
  await coord.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('joining', () => {
  it('assigns upids from 1 and one computation id', async () => {
    start();
    const a = await launch('a', 100);
    const b = await launch('b', 101);
    expect([a.upid, b.upid]).toEqual([1n, 2n]);
    expect(a.compId).not.toBe(0n);
    expect(b.compId).toBe(a.compId);
    expect(a.generation).toBe(0n);
    const s = await command<StatusReply>({ cmd: 'status' });
    expect(s).toMatchObject({
      ok: true, num_processes: 2, running: true, generation: 0, comp_id: hex64(a.compId), interval: 0,
      coordinator: { host: '127.0.0.1', port: 7779 },
    });
    expect(s.processes).toEqual([
      { upid: '0000000000000001', pid: 100, host: 'h', prog: 'a', state: 'running' },
      { upid: '0000000000000002', pid: 101, host: 'h', prog: 'b', state: 'running' },
    ]);
    expect(logs.some((l) => l.startsWith('join upid=0000000000000001'))).toBe(true);
  });

  it('rejects a hello without pid or prog, or with a bad payload', async () => {
    start();
    const w = connect(Worker);
    const f = await w.hello(DMTCP_HELLO_LAUNCH, { prog: 'x' });
    expect(f.type).toBe(DMT_REJECT);
    expect(f.payload.toString()).toMatch(/pid/);
    await w.untilClosed();
    const v = connect(Worker);
    v.send({ type: DMT_HELLO, payload: Buffer.from('{') });
    expect((await v.next(DMT_REJECT)).payload.toString()).toMatch(/malformed JSON/);
    expect(coord.numProcesses).toBe(0);
  });

  it('registers a fork child under the parent\'s hello and learns its pid later', async () => {
    start();
    const parent = await launch('sh', 100);
    const child = connect(Worker);
    const f = await child.hello(DMTCP_HELLO_FORK, { kind: 'fork', pid: 100, prog: 'sh', parent_upid: hex64(parent.upid) });
    expect(f.type).toBe(DMT_ACCEPT);
    expect(f.extra).toBe(DMTCP_HELLO_FORK);
    expect(f.upid).toBe(2n);
    child.send({ type: DMT_UPDATE, payload: jsonPayload({ pid: 222 }) });
    await child.idle();
    const s = await command<StatusReply>({ cmd: 'status' });
    expect(s.processes.map((p) => p.pid)).toEqual([100, 222]);
  });

  it('keeps upid and state across exec on the same connection', async () => {
    start();
    const w = await launch('sh', 100);
    const f = await w.hello(DMTCP_HELLO_EXEC, { kind: 'exec', pid: 100, prog: 'python3', argv: ['python3', 'x.py'] }, { upid: 1n });
    expect(f.type).toBe(DMT_ACCEPT);
    expect(f.upid).toBe(1n);
    const s = await command<StatusReply>({ cmd: 'status' });
    expect(s.num_processes).toBe(1);
    expect(s.processes[0]?.prog).toBe('python3');
  });

  it('closes a connection that speaks another protocol', async () => {
    start();
    const a = await launch('a', 1);
    const junk = connect(Peer);
    junk.socket.write('GET / HTTP/1.1\r\n\r\n');
    await junk.untilClosed();
    expect(logs.some((l) => /bad frame magic/.test(l))).toBe(true);
    expect(coord.numProcesses).toBe(1);
    expect(await a.idle()).toBe(0);
  });

  it('sets the interval from the first hello that asks for one', async () => {
    start();
    await launch('a', 1, { interval: 30 });
    await launch('b', 2, { interval: 60 });
    expect((await command<StatusReply>({ cmd: 'status' })).interval).toBe(30);
  });
});

describe('checkpoint', () => {
  it('runs the barriers, writes the restart script and replies with the images', async () => {
    start({ ckptDir: dir });
    const a = await launch('a', 100);
    const b = await launch('b', 101);
    const reply = command<CheckpointReply>({ cmd: 'checkpoint' });
    const d = await a.doCheckpoint();
    expect(d.generation).toBe(1n);
    expect(d.extra).toBe(2);
    expect(d.payload.length).toBe(0); // images go where each process says, not to the coordinator's --ckptdir
    expect((await command<StatusReply>({ cmd: 'status' })).running).toBe(false);
    expect((await command<StatusReply>({ cmd: 'status' })).processes.map((p) => p.state)).toEqual(['checkpointing', 'checkpointing']);
    // The doCheckpoint of `a` was consumed above; put it back for the helper.
    a.frames.unshift(d);
    await runCheckpoint([[a, 'a'], [b, 'b']], ['socket:drain']);
    const r = await reply;
    expect(r).toMatchObject({ ok: true, generation: 1, images: [image(a, 'a'), image(b, 'b')] });
    expect(r.elapsed_ms).toBeGreaterThanOrEqual(0);
    const script = path.join(dir, RESTART_SCRIPT_NAME);
    expect(r.scripts).toEqual([script]);
    expect(statSync(script).mode & 0o777).toBe(0o755);
    const s = await command<StatusReply>({ cmd: 'status' });
    expect(s).toMatchObject({ running: true, generation: 1 });
    expect(logs.some((l) => /checkpoint generation 1 done in [\d.]+ ms \(2 images\)/.test(l))).toBe(true);
  });

  it('tells the barrier release the participant count and generation', async () => {
    start();
    const a = await launch('a', 100);
    fire({ cmd: 'checkpoint' });
    await a.doCheckpoint();
    a.barrier('ckpt:suspended');
    const f = await a.released('ckpt:suspended');
    expect(f.extra).toBe(1);
    expect(f.generation).toBe(1n);
    expect(f.upid).toBe(a.upid);
  });

  it('writes a runnable restart script in every image directory', async () => {
    start({ host: '10.0.0.5', port: 7000 });
    const a = await launch('a', 100);
    const b = await launch('b', 101);
    const other = mkdtempSync(path.join(os.tmpdir(), 'dmtcp-coord-other-'));
    try {
      const reply = command<CheckpointReply>({ cmd: 'checkpoint' });
      for (const w of [a, b]) await w.doCheckpoint();
      for (const name of ['ckpt:suspended', 'ckpt:written', 'ckpt:resumed']) {
        a.barrier(name, name === 'ckpt:written' ? JSON.stringify({ bytes: 0, frozen_ms: 1, image: path.join(dir, "it's a.dmtcp") }) : '');
        b.barrier(name, name === 'ckpt:written' ? JSON.stringify({ bytes: 0, frozen_ms: 1, image: path.join(other, 'b.dmtcp') }) : '');
        await a.released(name);
        await b.released(name);
      }
      const r = await reply;
      expect(r.scripts.sort()).toEqual([path.join(dir, RESTART_SCRIPT_NAME), path.join(other, RESTART_SCRIPT_NAME)].sort());
      const script = path.join(other, RESTART_SCRIPT_NAME);
      const run = (args: string[], env: Record<string, string> = {}) =>
        execFileSync('bash', [script, ...args], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env } }).trim();
      const imgs = `${path.join(dir, "it's a.dmtcp")} ${path.join(other, 'b.dmtcp')}`;
      expect(run([])).toBe(`restart --coord-host 10.0.0.5 --coord-port 7000 ${imgs}`);
      expect(run([], { DMTCP_COORD_HOST: 'h2', DMTCP_COORD_PORT: '1' })).toBe(`restart --coord-host h2 --coord-port 1 ${imgs}`);
      expect(run(['--coord-port', '9', '--coord-host=h3', '--quiet'], { DMTCP_COORD_PORT: '1' }))
        .toBe(`restart --coord-host h3 --coord-port 9 --quiet ${imgs}`);
      expect(readFileSync(script, 'utf8')).toMatch(/^#!\/usr\/bin\/env bash\n/);
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });

  it('says when there is nothing to checkpoint', async () => {
    start();
    expect(await command({ cmd: 'checkpoint' })).toEqual({ ok: false, error: 'no processes to checkpoint' });
  });

  it('leaves out a process that exits before it stopped for the round', async () => {
    start();
    const a = await launch('a', 100);
    const b = await launch('b', 101);
    const reply = command<CheckpointReply>({ cmd: 'checkpoint' });
    const d = await a.doCheckpoint();
    await b.doCheckpoint();
    b.close();
    a.frames.unshift(d);
    await runCheckpoint([[a, 'a']]);
    expect(await reply).toMatchObject({ ok: true, generation: 1, images: [image(a, 'a')] });
  });

  it('fails the round when a process exits before its image is written', async () => {
    start();
    const a = await launch('a', 100);
    const b = await launch('b', 101);
    const reply = command<ErrorReply>({ cmd: 'checkpoint' });
    await a.doCheckpoint();
    await b.doCheckpoint();
    a.barrier('ckpt:suspended');
    b.barrier('ckpt:suspended');
    expect((await a.next(DMT_BARRIER_RELEASED)).name).toBe('ckpt:suspended');
    b.close();
    const failed = await a.next(DMT_ROUND_FAILED);
    expect(failed.generation).toBe(1n);
    expect(failed.payload.toString()).toBe('b (pid 101) exited during the checkpoint');
    expect(await reply).toEqual({ ok: false, error: 'b (pid 101) exited during the checkpoint', generation: 1, warnings: [] });
    expect((await command<StatusReply>({ cmd: 'status' })).running).toBe(true);

    // The late barrier of the dead round is ignored; the next round works.
    const next = command<CheckpointReply>({ cmd: 'checkpoint' });
    const d = await a.doCheckpoint();
    expect(d.generation).toBe(2n);
    a.barrier('ckpt:suspended', '', 1n);
    expect(await a.idle()).toBe(0);
    a.frames.unshift(d);
    await runCheckpoint([[a, 'a']]);
    expect(await next).toMatchObject({ ok: true, generation: 2, images: [image(a, 'a')] });
  });

  it('finishes without a process that leaves after its image is written', async () => {
    start();
    const a = await launch('a', 100);
    const b = await launch('b', 101);
    const reply = command<CheckpointReply>({ cmd: 'checkpoint' });
    for (const w of [a, b]) await w.doCheckpoint();
    for (const name of ['ckpt:suspended', 'ckpt:written']) {
      for (const [w, p] of [[a, 'a'], [b, 'b']] as const) w.barrier(name, name === 'ckpt:written' ? JSON.stringify({ bytes: 0, frozen_ms: 1, image: image(w, p) }) : '');
      await a.released(name);
      await b.released(name);
    }
    a.barrier('ckpt:resumed');
    b.close();
    await a.released('ckpt:resumed');
    expect(await reply).toMatchObject({ ok: true, images: [image(a, 'a'), image(b, 'b')] });
  });

  it('lets a newcomer join until the first barrier is released, then holds it back', async () => {
    start();
    const a = await launch('a', 100);
    const reply = command<CheckpointReply>({ cmd: 'checkpoint' });
    expect((await a.doCheckpoint()).extra).toBe(1);
    const b = await launch('b', 101);
    const db = await b.doCheckpoint();
    expect(db.generation).toBe(1n);
    expect(db.extra).toBe(2);
    a.barrier('ckpt:suspended');
    // `a` is waiting for b now.
    expect(await a.idle()).toBe(0);
    b.barrier('ckpt:suspended');
    await a.released('ckpt:suspended');
    expect((await b.released('ckpt:suspended')).extra).toBe(2);

    const c = connect(Worker);
    const accepted = c.hello(DMTCP_HELLO_LAUNCH, { pid: 102, prog: 'c' });
    expect(await c.idle()).toBe(0);
    expect(logs.at(-1)).toMatch(/launch hello from c \(pid 102\) waits for the checkpoint round to end/);
    for (const name of ['ckpt:written', 'ckpt:resumed']) {
      for (const [w, p] of [[a, 'a'], [b, 'b']] as const) w.barrier(name, name === 'ckpt:written' ? JSON.stringify({ bytes: 0, frozen_ms: 1, image: image(w, p) }) : '');
      await a.released(name);
      await b.released(name);
    }
    expect((await accepted).type).toBe(DMT_ACCEPT);
    expect(c.upid).toBe(3n);
    expect(c.generation).toBe(1n);
    expect((await reply).images).toHaveLength(2);
    expect((await command<StatusReply>({ cmd: 'status' })).num_processes).toBe(3);
  });

  it('makes a command that comes too late wait for the next round', async () => {
    start();
    const a = await launch('a', 100);
    const first = command<CheckpointReply>({ cmd: 'checkpoint' });
    const d = await a.doCheckpoint();
    // Joins the current round: no barrier released yet.
    const joined = command<CheckpointReply>({ cmd: 'checkpoint' });
    // Separate connections have no order between them: let it arrive first.
    await a.idle();
    a.barrier('ckpt:suspended');
    await a.released('ckpt:suspended');
    const later = command<CheckpointReply>({ cmd: 'checkpoint' });
    await a.idle();
    for (const name of ['ckpt:written', 'ckpt:resumed']) {
      a.barrier(name, name === 'ckpt:written' ? JSON.stringify({ bytes: 0, frozen_ms: 1, image: image(a, 'a') }) : '');
      await a.released(name);
    }
    expect((await first).generation).toBe(1);
    expect((await joined).generation).toBe(1);
    expect(d.generation).toBe(1n);
    await runCheckpoint([[a, 'a']]);
    expect((await later).generation).toBe(2);
  });

  it('runs a registered policy and sends each process its reply', async () => {
    start();
    const a = await launch('a', 100);
    const b = await launch('b', 101);
    const seen: string[] = [];
    coord.registerPolicy('pid:table', (recs) => {
      for (const r of recs) seen.push(`${r.hello.prog}=${r.payload.toString()}`);
      return new Map(recs.map((r) => [r.upid, Buffer.from(`you are ${r.hello.prog}`)]));
    });
    coord.registerPolicy('all', () => Buffer.from('same'));
    fire({ cmd: 'checkpoint' });
    for (const w of [a, b]) await w.doCheckpoint();
    a.barrier('pid:table', '100');
    b.barrier('pid:table', '101');
    expect((await a.released('pid:table')).payload.toString()).toBe('you are a');
    expect((await b.released('pid:table')).payload.toString()).toBe('you are b');
    expect(seen).toEqual(['a=100', 'b=101']);
    a.barrier('all');
    b.barrier('all');
    expect((await a.released('all')).payload.toString()).toBe('same');
    expect((await b.released('all')).payload.toString()).toBe('same');
  });

  it('fails the round when a policy throws', async () => {
    start();
    const a = await launch('a', 100);
    coord.registerPolicy('pid:table', () => {
      throw new Error('duplicate pid 100');
    });
    const reply = command({ cmd: 'checkpoint' });
    await a.doCheckpoint();
    a.barrier('pid:table');
    const f = await a.next(DMT_ROUND_FAILED);
    expect(f.payload.toString()).toMatch(/duplicate pid 100/);
    expect(await reply).toMatchObject({ ok: false, error: expect.stringMatching(/policy of barrier "pid:table" failed: duplicate pid 100/) });
  });

  it('re-sends DO_CHECKPOINT to a participant that exec\'d before answering', async () => {
    start();
    const a = await launch('sh', 100);
    fire({ cmd: 'checkpoint' });
    await a.doCheckpoint();
    const acc = await a.hello(DMTCP_HELLO_EXEC, { pid: 100, prog: 'ls' }, { upid: a.upid });
    expect(acc.type).toBe(DMT_ACCEPT);
    expect((await a.doCheckpoint()).generation).toBe(1n);
    expect((await command<StatusReply>({ cmd: 'status' })).processes[0]).toMatchObject({ prog: 'ls', state: 'checkpointing' });
  });

  it('checkpoints on its own every interval', async () => {
    start();
    const a = await launch('a', 100);
    expect(await command({ cmd: 'interval', seconds: 0.01 })).toEqual({ ok: true, interval: 0.01 });
    await runCheckpoint([[a, 'a']]);
    expect((await a.doCheckpoint()).generation).toBe(2n);
    expect(await command({ cmd: 'interval', seconds: -1 })).toMatchObject({ ok: false });
  });
});

describe('restart', () => {
  const comp = 0xabcdef0123456789n;

  async function restarted(upid: bigint, prog: string, numPeers: number, generation = 4n): Promise<Worker> {
    const w = connect(Worker);
    const f = await w.hello(DMTCP_HELLO_RESTART, { kind: 'restart', pid: 500 + Number(upid), prog, num_peers: numPeers }, { upid, compId: comp, generation });
    expect(f.type).toBe(DMT_ACCEPT);
    return w;
  }

  it('adopts the computation, waits for every peer, then runs', async () => {
    start();
    const a = await restarted(3n, 'a', 2);
    expect(a.upid).toBe(3n);
    expect(a.compId).toBe(comp);
    expect(a.generation).toBe(4n);
    a.barrier('restart:connected');
    let s = await command<StatusReply>({ cmd: 'status' });
    expect(s).toMatchObject({ running: false, comp_id: hex64(comp), generation: 4 });
    expect(s.processes[0]?.state).toBe('restarting');
    expect(await a.idle()).toBe(0);
    const b = await restarted(7n, 'b', 2);
    b.barrier('restart:connected');
    await a.released('restart:connected');
    await b.released('restart:connected');
    for (const name of ['socket:refill', 'restart:done']) {
      a.barrier(name);
      b.barrier(name);
      await a.released(name);
      await b.released(name);
    }
    s = await command<StatusReply>({ cmd: 'status' });
    expect(s.running).toBe(true);
    expect(s.processes.map((p) => p.state)).toEqual(['running', 'running']);
    // New processes get upids after the largest one seen.
    const c = await launch('c', 600);
    expect(c.upid).toBe(8n);
    // The next checkpoint continues the generation count.
    fire({ cmd: 'checkpoint' });
    expect((await a.doCheckpoint()).generation).toBe(5n);
  });

  it('rejects processes of another computation while busy', async () => {
    start();
    const a = await launch('a', 100);
    const w = connect(Worker);
    const f = await w.hello(DMTCP_HELLO_RESTART, { pid: 1, prog: 'x', num_peers: 1 }, { upid: 1n, compId: 0x55n, generation: 1n });
    expect(f.type).toBe(DMT_REJECT);
    expect(f.payload.toString()).toBe(`coordinator is busy with computation ${hex64(a.compId)}`);
  });

  it('rejects an image of another generation and a duplicate upid', async () => {
    start();
    await restarted(1n, 'a', 3);
    const w = connect(Worker);
    const f = await w.hello(DMTCP_HELLO_RESTART, { pid: 1, prog: 'x', num_peers: 3 }, { upid: 2n, compId: comp, generation: 3n });
    expect(f.type).toBe(DMT_REJECT);
    expect(f.payload.toString()).toMatch(/generation 3 cannot join the restart of generation 4/);
    const v = connect(Worker);
    const g = await v.hello(DMTCP_HELLO_RESTART, { pid: 1, prog: 'x', num_peers: 3 }, { upid: 1n, compId: comp, generation: 4n });
    expect(g.type).toBe(DMT_REJECT);
    expect(g.payload.toString()).toMatch(/already connected/);
  });

  it('holds back launches until the restart is done', async () => {
    start();
    const a = await restarted(1n, 'a', 1);
    const l = connect(Worker);
    const acc = l.hello(DMTCP_HELLO_LAUNCH, { pid: 9, prog: 'l' });
    expect(await l.idle()).toBe(0);
    for (const name of ['restart:connected', 'restart:done']) {
      a.barrier(name);
      await a.released(name);
    }
    expect((await acc).type).toBe(DMT_ACCEPT);
    expect(l.compId).toBe(comp);
  });
});

describe('kill, quit and exit-on-last', () => {
  function dieOnKill(w: Worker): void {
    w.socket.on('data', () => {
      if (w.frames.some((f) => f.type === DMT_KILL)) w.close();
    });
  }

  it('kills every process and stays up', async () => {
    start();
    const a = await launch('a', 1);
    const b = await launch('b', 2);
    dieOnKill(a);
    dieOnKill(b);
    expect(await command({ cmd: 'kill' })).toEqual({ ok: true, killed: 2 });
    const s = await command<StatusReply>({ cmd: 'status' });
    expect(s).toMatchObject({ num_processes: 0, running: false, comp_id: null });
    const c = await launch('c', 3);
    expect(c.upid).toBe(1n);
  });

  it('says how many processes ignored the kill', async () => {
    start({ killTimeoutMs: 20 });
    await launch('a', 1);
    expect(await command({ cmd: 'kill' })).toEqual({ ok: false, error: '1 of 1 processes still connected 0.02 s after kill', remaining: 1 });
  });

  it('quits after the processes are gone', async () => {
    start();
    const a = await launch('a', 1);
    dieOnKill(a);
    let stopped = false;
    void coord.stopped.then(() => {
      stopped = true;
    });
    const cli = connect(Peer);
    cli.send({ type: DMT_USER_CMD, payload: jsonPayload({ cmd: 'quit' }) });
    expect(parseJsonPayload(await cli.next(DMT_USER_REPLY))).toEqual({ ok: true, killed: 1 });
    await coord.stopped;
    expect(stopped).toBe(true);
    await cli.untilClosed();
  });

  it('fails a waiting checkpoint when its processes are killed', async () => {
    start();
    const a = await launch('a', 1);
    const ck = command({ cmd: 'checkpoint' });
    await a.doCheckpoint();
    dieOnKill(a);
    expect(await command({ cmd: 'kill' })).toEqual({ ok: true, killed: 1 });
    expect(await ck).toMatchObject({ ok: false, error: 'a (pid 1) exited during the checkpoint' });
  });

  it('stops with exitOnLast when the last process leaves', async () => {
    start({ exitOnLast: true });
    const a = await launch('a', 1);
    const b = await launch('b', 2);
    a.close();
    await b.idle();
    expect(coord.numProcesses).toBe(1);
    b.close();
    await coord.stopped;
    expect(logs).toContain('last process left; exiting');
  });

  it('answers unknown commands with an error', async () => {
    start();
    expect(await command({ cmd: 'dance' })).toEqual({ ok: false, error: 'unknown command "dance"' });
  });
});

describe('name service', () => {
  it('stores and returns values per namespace', async () => {
    start();
    const a = await launch('a', 1);
    a.send({ type: DMT_KV_PUT, name: 'socket', payload: Buffer.from('host:1\0{"port":80}') });
    a.send({ type: DMT_KV_PUT, name: 'pid', payload: Buffer.from('42,43') });
    a.send({ type: DMT_KV_GET, name: 'socket', payload: Buffer.from('host:1\0') });
    let f = await a.next(DMT_KV_VALUE);
    expect([f.name, f.extra, f.payload.toString()]).toEqual(['socket', DMTCP_KV_OK, '{"port":80}']);
    a.send({ type: DMT_KV_GET, name: 'pid', payload: Buffer.from('42') });
    f = await a.next(DMT_KV_VALUE);
    expect(f.payload.toString()).toBe('43');
    a.send({ type: DMT_KV_GET, name: 'socket', payload: Buffer.from('42') });
    f = await a.next(DMT_KV_VALUE);
    expect([f.extra, f.payload.length]).toEqual([DMTCP_KV_MISSING, 0]);
  });
});
