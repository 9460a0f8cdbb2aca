// Pending signals are state: blocked signals sent to the process and to each
// of its two threads (standard ones, and several queued instances of RT
// signals with values) are pending again, in the same queues with the same
// siginfo and order, after a checkpoint and a plain resume, and after a
// checkpoint, kill -9 and restart, over 3 cycles, as root and as nobody.
import { afterEach, expect, test } from 'vitest';
import {
  checkpointImages, cleanup, compileFixture, coreFixture, descendants, effectiveUid, inspectImage, kill9, launch,
  restart, startCoordinator,
  type Coordinator, type Proc, type RunAs,
} from '../src/testing/index.ts';

afterEach(cleanup);

const SIGUSR1 = 10;
const SIGUSR2 = 12;
const SI_USER = 0;
const SI_QUEUE = -1;
/** First signal number of the kernel's RT range; glibc's SIGRTMIN is above it. */
const KERNEL_SIGRTMIN = 32;

type Queue = 'worker' | 'main' | 'process';

interface Sent {
  sig: number;
  code: number;
  value: number;
  pid: number;
  uid: number;
}

/** What the kernel keeps pending, queue by queue, modelled from what was sent. */
class Pending {
  readonly queues: Record<Queue, Sent[]> = { worker: [], main: [], process: [] };

  add(queue: Queue, s: Sent): void {
    const q = this.queues[queue];
    // A standard signal pends at most once per queue; the later one is dropped.
    if (s.sig < KERNEL_SIGRTMIN && q.some((p) => p.sig === s.sig)) return;
    q.push(s);
  }

  /** Lowest signal number first, queued instances of one signal in order. */
  private static ordered(q: readonly Sent[]): Sent[] {
    return [...q].sort((a, b) => a.sig - b.sig);
  }

  /** The worker takes its own, then the process's; main takes its own. */
  expectedTakes(): Record<'worker' | 'main', string> {
    const fmt = (list: Sent[]): string =>
      list.length ? list.map((s) => `${s.sig}:${s.code}:${s.value}:${s.pid}:${s.uid}`).join(' ') : '-';
    return {
      worker: fmt([...Pending.ordered(this.queues.worker), ...Pending.ordered(this.queues.process)]),
      main: fmt(Pending.ordered(this.queues.main)),
    };
  }

  masks(): Record<Queue, string> {
    const mask = (q: readonly Sent[]): string => q.reduce((m, s) => m | (1n << BigInt(s.sig - 1)), 0n).toString(16);
    return { worker: mask(this.queues.worker), main: mask(this.queues.main), process: mask(this.queues.process) };
  }

  size(): number {
    return Object.values(this.queues).reduce((n, q) => n + q.length, 0);
  }

  clear(): void {
    for (const q of Object.values(this.queues)) q.length = 0;
  }
}

class Target {
  rtmin = 0;
  pid = 0;
  /** si_code of pthread_kill: SI_TKILL (-6), or SI_USER on kernels that report that. */
  tkillCode = 0;
  /** Restarted with --restore-pids: its pid is the namespace's, not ours. */
  inNamespace = false;
  constructor(public proc: Proc, private readonly uid: number) {}

  async ready(): Promise<void> {
    const m = (await this.proc.waitForLine(/^READY pid=(\d+) rtmin=(\d+) tkill_code=(-?\d+)$/)).match;
    this.pid = Number(m[1]);
    this.rtmin = Number(m[2]);
    this.tkillCode = Number(m[3]);
  }

  /** Sends one command, waits for its acknowledgement; returns the lines it printed before it. */
  async send(cmd: string): Promise<string[]> {
    const after = this.proc.mark();
    this.proc.write(cmd + '\n');
    const done = await this.proc.waitForLine(/^(DONE|FAIL) (.*) pid=(\d+)$/, 20_000, { after });
    expect(done.line, `ack of "${cmd}"`).toBe(`DONE ${cmd} pid=${done.match[3]}`);
    this.pid = Number(done.match[3]);
    return this.proc.lines().slice(after, done.index);
  }

  /** Sends `sig` from this process; returns the si_pid the target sees. */
  private async killFromHere(sig: number): Promise<number> {
    if (!this.inNamespace) {
      process.kill(this.pid, sig);
      return process.pid;
    }
    const hits = [...(await descendants(this.proc.pid))].filter(([, t]) => t.comm === 'pending-signals' && t.state !== 'Z');
    expect(hits, 'the restarted target below the restart').toHaveLength(1);
    process.kill((hits[0] as [number, unknown])[0], sig);
    return 0; // the kernel hides a sender outside the target's pid namespace
  }

  /** One batch: to the process (kill from here, sigqueue from the target), to each thread, tagged with `tag`. */
  async sendBatch(model: Pending, tag: number): Promise<void> {
    const R = this.rtmin;
    const own = (sig: number, code: number, value = 0): Sent => ({ sig, code, value, pid: this.pid, uid: this.uid });
    await this.send('pending'); // learns the current pid
    const uid = process.getuid?.() ?? 0;
    for (const sig of [SIGUSR1, R + 2]) {
      const pid = await this.killFromHere(sig);
      model.add('process', { sig, code: SI_USER, value: 0, pid, uid });
    }
    for (const v of [1, 2, 3]) {
      await this.send(`queue ${R} ${tag + v}`);
      model.add('process', own(R, SI_QUEUE, tag + v));
    }
    await this.send(`queue ${SIGUSR2} ${tag + 4}`);
    model.add('process', own(SIGUSR2, SI_QUEUE, tag + 4));
    await this.send(`tkill worker ${SIGUSR1}`);
    model.add('worker', own(SIGUSR1, this.tkillCode));
    for (const v of [5, 6]) {
      await this.send(`tqueue worker ${R + 1} ${tag + v}`);
      model.add('worker', own(R + 1, SI_QUEUE, tag + v));
    }
    await this.send(`tqueue worker ${R} ${tag + 7}`);
    model.add('worker', own(R, SI_QUEUE, tag + 7));
    await this.send(`tkill main ${SIGUSR2}`);
    model.add('main', own(SIGUSR2, this.tkillCode));
    await this.send(`tqueue main ${R + 2} ${tag + 8}`);
    model.add('main', own(R + 2, SI_QUEUE, tag + 8));
  }

  async pendingMasks(): Promise<Record<Queue, string>> {
    const lines = await this.send('pending');
    const m = lines.map((l) => /^PENDING worker=(\w+) main=(\w+) process=(\w+)$/.exec(l)).find((x) => x);
    if (!m) throw new Error(`no PENDING line in ${JSON.stringify(lines)}`);
    return { worker: m[1] as string, main: m[2] as string, process: m[3] as string };
  }

  async takes(): Promise<Record<'worker' | 'main', string>> {
    const lines = await this.send('check');
    const took = (who: string): string => {
      const line = lines.find((l) => l.startsWith(`TOOK ${who} `));
      if (line === undefined) throw new Error(`no TOOK ${who} line in ${JSON.stringify(lines)}`);
      return line.slice(`TOOK ${who} `.length);
    };
    return { worker: took('worker'), main: took('main') };
  }
}

async function start(user?: RunAs): Promise<{ coord: Coordinator; target: Target }> {
  const exe = await compileFixture(coreFixture('pending-signals.c'));
  const coord = await startCoordinator();
  const target = new Target(launch(exe, [], { ...coord, user }), effectiveUid(user));
  await target.ready();
  return { coord, target };
}

/** Every signal the model says is pending is taken, in order, in the right thread, once. */
async function expectTakes(target: Target, model: Pending, what: string): Promise<void> {
  expect(await target.pendingMasks(), `pending masks ${what}`).toEqual(model.masks());
  expect(await target.takes(), `signals taken ${what}`).toEqual(model.expectedTakes());
  model.clear();
  // nothing left, nothing taken twice
  expect(await target.takes(), `signals left ${what}`).toEqual({ worker: '-', main: '-' });
}

const variants = [
  { user: undefined, args: [] },
  { user: 'nobody', args: [] },
  // threads keep their tids; /proc is the pid namespace's own at the next checkpoint
  { user: undefined, args: ['--restore-pids'] },
] as const;

for (const { user, args } of variants) {
  test(`pending signals survive 3 restarts${user ? ` as ${user}` : ''}${args.length ? ` with ${args.join(' ')}` : ''}`, async () => {
    const { coord, target } = await start(user);
    const model = new Pending();
    for (let cycle = 1; cycle <= 3; cycle++) {
      await target.sendBatch(model, cycle * 100);
      expect(await target.pendingMasks(), `pending masks before checkpoint ${cycle}`).toEqual(model.masks());
      const { images } = await checkpointImages(coord);
      expect(images).toHaveLength(1);
      const meta = (await inspectImage(images[0] as string)).meta as { pending_signals: { tid: number }[] };
      expect(meta.pending_signals, 'pending signals listed in the image').toHaveLength(model.size());
      expect(meta.pending_signals.filter((p) => p.tid === 0)).toHaveLength(model.queues.process.length);
      await kill9(target.proc);
      target.proc = restart(images, { ...coord, user, args });
      target.inNamespace = args.length > 0;
      // Cycle 2 leaves its signals pending: they must survive a second restart.
      if (cycle === 2) expect(await target.pendingMasks(), 'pending masks after restart 2').toEqual(model.masks());
      else await expectTakes(target, model, `after restart ${cycle}`);
    }
  });
}

test('pending signals are neither lost nor duplicated by 3 checkpoints with a plain resume', async () => {
  const { coord, target } = await start();
  const model = new Pending();
  for (let cycle = 1; cycle <= 3; cycle++) {
    await target.sendBatch(model, cycle * 100);
    await checkpointImages(coord);
    await expectTakes(target, model, `after checkpoint ${cycle}`);
  }
  expect(target.proc.running).toBe(true);
});

test('3000 queued instances of one RT signal survive a restart, in order', async () => {
  const { coord, target } = await start();
  const R = target.rtmin;
  await target.send(`queue-many ${R} 3000`);
  const { images } = await checkpointImages(coord);
  const meta = (await inspectImage(images[0] as string)).meta as { pending_signals: unknown[] };
  expect(meta.pending_signals).toHaveLength(3000);
  await kill9(target.proc);
  target.proc = restart(images, coord);
  const lines = await target.send(`take-many ${R}`);
  expect(lines).toContain('TOOK-MANY n=3000 in_order=1');
});
