// Coordinator modules of plugins: found from the library a process reports,
// imported once, their policies answering barriers; a module that cannot be
// loaded leaves its barriers with empty replies instead of hanging them.
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { Coordinator, type CoordinatorOptions } from '../src/coordinator/coordinator.ts';
import { memoryPair } from '../src/coordinator/memory-pair.ts';
import {
  DMT_ACCEPT,
  DMT_BARRIER,
  DMT_BARRIER_RELEASED,
  DMT_DO_CHECKPOINT,
  DMT_HELLO,
  DMT_KV_GET,
  DMT_KV_PUT,
  DMT_KV_VALUE,
  DMT_USER_CMD,
  DMTCP_HELLO_LAUNCH,
  DMTCP_KV_OK,
} from '../src/generated/constants.ts';
import { definePlugin, type CoordinatorPlugin } from '../src/plugin/index.ts';
import { loadCoordinatorModule } from '../src/plugin/modules.ts';
import { encodeFrame, FrameDecoder, type Frame, jsonPayload } from '../src/protocol/codec.ts';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'dmtcp-plugin-coord-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

let counter = 0;
/** A plugin package with an (empty) library and the given module source. */
function pluginPackage(name: string, moduleSource: string | null, decl: Record<string, unknown> = {}): string {
  const dir = path.join(tmp, `${name}-${++counter}`);
  mkdirSync(path.join(dir, 'build'), { recursive: true });
  const lib = path.join(dir, 'build', `libdmtcp_${name}.so`);
  writeFileSync(lib, '');
  const dmtcp: Record<string, unknown> = { plugin: name, lib: `build/libdmtcp_${name}.so`, ...decl };
  if (moduleSource !== null) {
    dmtcp['coordinator'] ??= 'coordinator.mjs';
    writeFileSync(path.join(dir, String(dmtcp['coordinator'])), moduleSource, { mode: 0o644 });
  }
  writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: `p-${name}`, dmtcp }), { mode: 0o644 });
  return lib;
}

class Worker {
  private readonly frames: Frame[] = [];
  private readonly waiters: (() => void)[] = [];
  private readonly decoder = new FrameDecoder();
  upid = 0n;
  generation = 0n;

  constructor(private readonly socket: Duplex) {
    socket.on('data', (c: Buffer) => {
      this.frames.push(...this.decoder.push(c));
      for (const w of this.waiters.splice(0)) w();
    });
    socket.on('error', () => {});
  }

  send(f: Partial<Frame> & { type: number }): void {
    this.socket.write(encodeFrame({ upid: this.upid, generation: this.generation, ...f }));
  }

  async next(type: number): Promise<Frame> {
    for (;;) {
      const f = this.frames.shift();
      if (f) {
        if (f.type !== type) throw new Error(`expected frame type ${type}, got ${f.type}`);
        return f;
      }
      await new Promise<void>((r) => this.waiters.push(r));
    }
  }

  async idle(): Promise<number> {
    await new Promise((r) => setImmediate(r));
    return this.frames.length;
  }

  close(): void {
    this.socket.destroy();
  }
}

let coord: Coordinator;
let logs: string[] = [];
const workers: Worker[] = [];

function start(opts: CoordinatorOptions = {}): void {
  logs = [];
  coord = new Coordinator({ log: (l) => logs.push(l), dmtcpCommand: ['/bin/echo'], ...opts });
}

async function launch(prog: string, plugins: string[]): Promise<Worker> {
  const [a, b] = memoryPair();
  coord.handle(a);
  const w = new Worker(b);
  workers.push(w);
  w.send({ type: DMT_HELLO, extra: DMTCP_HELLO_LAUNCH, payload: jsonPayload({ pid: 100 + workers.length, prog, plugins, ckptdir: tmp }) });
  const f = await w.next(DMT_ACCEPT);
  w.upid = f.upid;
  return w;
}

function fireCheckpoint(): void {
  const [a, b] = memoryPair();
  coord.handle(a);
  b.on('error', () => {});
  b.on('data', () => {});
  b.write(encodeFrame({ type: DMT_USER_CMD, payload: jsonPayload({ cmd: 'checkpoint' }) }));
}

async function barrier(ws: Worker[], name: string, payload: (w: Worker) => string): Promise<string[]> {
  for (const w of ws) w.send({ type: DMT_BARRIER, name, payload: Buffer.from(payload(w)) });
  const out: string[] = [];
  for (const w of ws) {
    const f = await w.next(DMT_BARRIER_RELEASED);
    expect(f.name).toBe(name);
    out.push(f.payload.toString());
  }
  return out;
}

async function checkpointStart(ws: Worker[]): Promise<void> {
  fireCheckpoint();
  for (const w of ws) w.generation = (await w.next(DMT_DO_CHECKPOINT)).generation;
}

/** Lets pending imports and their log lines happen. */
async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`condition not met; log:\n${logs.join('\n')}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

afterEach(async () => {
  for (const w of workers.splice(0)) w.close();
  await coord.stop();
});

const COUNTING = `export default {
  name: 't',
  policies: {
    't:phase': (records) => Buffer.from(records.length + ':' + records.map((r) => r.hello.prog + '=' + r.payload).join(',')),
  },
};
`;

describe('coordinator modules', () => {
  it('imports the module of a reported library once and runs its policy over records in upid order', async () => {
    start();
    const lib = pluginPackage('t', COUNTING);
    const a = await launch('a', [lib]);
    const b = await launch('b', [lib, '/nowhere/libbare.so']);
    await until(() => logs.some((l) => l.includes('plugin t: coordinator module loaded (1 policy)')));
    expect(logs.filter((l) => l.includes('coordinator module')).length).toBe(1);
    await checkpointStart([a, b]);
    // b arrives first; the policy still sees a before b.
    expect(await barrier([b, a], 't:phase', (w) => (w === a ? 'ra' : 'rb'))).toEqual(['2:a=ra,b=rb', '2:a=ra,b=rb']);
  });

  it('holds a barrier until a module being loaded has installed its policy', async () => {
    let finish!: (p: CoordinatorPlugin | null) => void;
    const pending = new Promise<CoordinatorPlugin | null>((r) => (finish = r));
    start({ moduleLoader: () => pending });
    const a = await launch('a', ['/x/libslow.so']);
    await checkpointStart([a]);
    a.send({ type: DMT_BARRIER, name: 'slow:phase', payload: Buffer.from('r') });
    expect(await a.idle()).toBe(0);
    finish(definePlugin({ name: 'slow', policies: { 'slow:phase': () => Buffer.from('late but right') } }));
    expect((await a.next(DMT_BARRIER_RELEASED)).payload.toString()).toBe('late but right');
  });

  it('releases with empty replies when the module does not load', async () => {
    start();
    const broken = pluginPackage('t', 'export default {;\n');
    const a = await launch('a', [broken]);
    await until(() => logs.some((l) => l.includes('coordinator module not loaded')));
    expect(logs.find((l) => l.includes('not loaded'))).toMatch(new RegExp(`^plugin library ${broken}: coordinator module not loaded: .*; its barriers release with empty replies$`));
    await checkpointStart([a]);
    expect(await barrier([a], 't:phase', () => 'x')).toEqual(['']);
  });

  it('refuses modules that are not plugins or claim other barriers', async () => {
    const cases: [string, RegExp][] = [
      ['export default 42;', /default export is not an object/],
      ["export default { name: 'other' };", /the module says it is plugin "other", its package.json says "t"/],
      ["export default { name: 't', policies: { 'ckpt:written': () => undefined } };", /policy "ckpt:written" must be named "t:<phase>"/],
      ["export default { name: 't', policies: { 't:x': 1 } };", /policy "t:x" is not a function/],
    ];
    for (const [src, why] of cases) await expect(loadCoordinatorModule(pluginPackage('t', src))).rejects.toThrow(why);
    expect(await loadCoordinatorModule(pluginPackage('t', null))).toBeNull();
    expect(await loadCoordinatorModule(path.join(tmp, 'no-package', 'libx.so'))).toBeNull();
  });

  it('does not import a module that anyone may rewrite', async () => {
    const lib = pluginPackage('t', COUNTING);
    const module = path.join(path.dirname(path.dirname(lib)), 'coordinator.mjs');
    chmodSync(module, 0o666);
    await expect(loadCoordinatorModule(lib)).rejects.toThrow(/coordinator\.mjs is writable by everyone/);
  });

  it('gives a hung module up after the timeout', async () => {
    const lib = pluginPackage('t', 'await new Promise(() => {});\nexport default {};\n');
    await expect(loadCoordinatorModule(lib, 100)).rejects.toThrow(/did not finish loading within 0.1 s/);
  });

  it('does not let a plugin take frames the coordinator handles or another plugin owns', () => {
    start();
    expect(() => coord.use({ name: 'x', requests: { [DMT_HELLO]: () => undefined } })).toThrow(/belongs to the coordinator/);
    expect(() => coord.use({ name: 'y', requests: { [DMT_KV_PUT]: () => undefined } })).toThrow(/already handled by plugin dmtcp/);
    const remove = coord.use({ name: 'z', policies: { 'z:p': () => undefined } });
    expect(() => coord.use({ name: 'z' })).toThrow(/already installed/);
    remove();
    expect(() => coord.use({ name: 'z' })).not.toThrow();
  });
});

describe('the name service as a plugin', () => {
  it('takes the key length from extra and forgets values when a round starts', async () => {
    start({ moduleLoader: null });
    const a = await launch('a', []);
    const key = Buffer.from([0, 1, 2, 0]); // binary, with NULs
    a.send({ type: DMT_KV_PUT, name: 'dmtcp', extra: key.length, payload: Buffer.concat([key, Buffer.from('v')]) });
    a.send({ type: DMT_KV_GET, name: 'dmtcp', extra: key.length, payload: key });
    const f = await a.next(DMT_KV_VALUE);
    expect([f.extra, f.payload.toString(), f.upid]).toEqual([DMTCP_KV_OK, 'v', a.upid]);
    expect(coord.names.entries('dmtcp')).toEqual([[key.toString('latin1'), Buffer.from('v')]]);
    await checkpointStart([a]);
    expect(coord.names.entries('dmtcp')).toEqual([]);
  });
});
