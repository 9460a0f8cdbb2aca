// Clocks naming a task (clock_getcpuclockid, pthread_getcpuclockid) across
// three checkpoint / kill -9 / restart cycles (fixtures/cpu-clocks.c says
// what each count is): the ids the program kept still read, never go back,
// keep counting while the threads burn CPU, and the timers on them keep
// firing. With the pid plugin (virtual pids), as nobody, and without it.
import path from 'node:path';
import { afterEach, expect, test } from 'vitest';
import {
  checkpointImages, cleanup, compileFixture, kill9, launch, restart, startCoordinator, type Proc, type RunAs,
} from '@dmtcp/core/testing';
import { ENV, pkgRoot, pluginArgs } from './helpers.ts';

afterEach(cleanup);

const CLK = /^CLK p0=(-?\d+) p=(-?\d+) t=(-?\d+) fresh=(-?\d+) err=(\d+) back=(\d+) fired=(\d+) tfired=(\d+) c=(-?\d+)$/;

interface Clk { p0: number; p: number; t: number; fresh: number; err: number; back: number; fired: number; tfired: number; c: number }

function clkLines(proc: Proc): Clk[] {
  const out: Clk[] = [];
  for (const line of proc.lines()) {
    const m = CLK.exec(line);
    if (!m) continue;
    const [p0, p, t, fresh, err, back, fired, tfired, c] = m.slice(1).map(Number) as [
      number, number, number, number, number, number, number, number, number,
    ];
    out.push({ p0, p, t, fresh, err, back, fired, tfired, c });
  }
  return out;
}

async function nextLines(proc: Proc, count: number): Promise<Clk[]> {
  return proc.waitUntil(() => (clkLines(proc).length >= count ? clkLines(proc) : undefined), `${count} CLK lines`, 30_000);
}

/** Every read worked and went forward; the clocks counted the CPU burnt and
 *  the timers on them fired through the life. */
function checkLife(s: Clk[], what: string): void {
  const a = s[0]!;
  const b = s[s.length - 1]!;
  for (const x of s) {
    expect(x.err, `${what}: failed clock calls`).toBe(0);
    expect(x.back, `${what}: clock reads that went back`).toBe(0);
    // The same clock asked for now reads what the kept id reads.
    expect(Math.abs(x.fresh), `${what}: clock_getcpuclockid(getpid()) now against the kept id (µs)`).toBeLessThan(50_000);
  }
  // The worker spins about half the time: >= 100 ms of CPU per second.
  const sec = (s.length - 1) * 0.2;
  expect(b.t - a.t, `${what}: worker thread CPU µs over ${sec} s`).toBeGreaterThan(sec * 100_000);
  // The process counts the worker's time too (the clocks are read one after
  // the other: a little slack).
  expect(b.p - a.p, `${what}: process CPU µs`).toBeGreaterThan((b.t - a.t) * 0.9);
  expect(b.p0 - a.p0, `${what}: clock_getcpuclockid(0) CPU µs`).toBeGreaterThan((b.t - a.t) * 0.9);
  expect(b.fired - a.fired, `${what}: process CPU clock timer expirations`).toBeGreaterThan(((b.p - a.p) / 20_000) * 0.5);
  expect(b.tfired - a.tfired, `${what}: worker CPU clock timer expirations`).toBeGreaterThan(((b.t - a.t) / 20_000) * 0.5);
  // The child spins like the worker.
  if (a.c >= 0) expect(b.c - a.c, `${what}: the child's CPU µs over ${sec} s`).toBeGreaterThan(sec * 100_000);
}

async function scenario(user: RunAs | undefined, extra: string[], child = false): Promise<void> {
  const exe = await compileFixture(path.join(pkgRoot, 'test', 'fixtures', 'cpu-clocks.c'), undefined, ['-pthread']);
  const coord = await startCoordinator();
  let proc = launch(exe, child ? ['child'] : [], { ...coord, user, env: ENV, args: [...extra, ...(await pluginArgs())] });
  await proc.waitForLine(/^READY$/);
  let life = await nextLines(proc, 6);
  checkLife(life, 'before any checkpoint');
  for (let cycle = 1; cycle <= 3; cycle++) {
    const before = life[life.length - 1]!;
    const { images } = await checkpointImages(coord);
    expect(images).toHaveLength(child ? 2 : 1);
    await kill9(proc);
    proc = restart(images, { ...coord, user, env: ENV });
    life = await nextLines(proc, 6);
    const what = `after restart ${cycle}`;
    // CPU time goes on from the checkpoint's, never back.
    expect(life[0]!.p0, what).toBeGreaterThanOrEqual(before.p0);
    expect(life[0]!.p, what).toBeGreaterThanOrEqual(before.p);
    expect(life[0]!.t, what).toBeGreaterThanOrEqual(before.t);
    expect(life[0]!.fired, what).toBeGreaterThanOrEqual(before.fired);
    expect(life[0]!.c, what).toBeGreaterThanOrEqual(before.c);
    checkLife(life, what);
  }
}

test('CPU clocks of clock_getcpuclockid / pthread_getcpuclockid, and of a child: 3 cycles', async () => {
  await scenario(undefined, [], true);
});

test('CPU clocks as user nobody, with a child\'s clock from clock_getcpuclockid(child): 3 cycles', async () => {
  await scenario('nobody', [], true);
});

test('CPU clocks without the pid plugin: 3 cycles', async () => {
  await scenario(undefined, ['--disable-plugin', 'pid']);
});
