// SIGEV_THREAD timers (fixtures/sigev-thread.c says what each count is) and
// CLOCK_PROCESS_CPUTIME_ID / CLOCK_THREAD_CPUTIME_ID themselves, through
// three checkpoint / kill -9 / restart cycles, as root and as nobody: the
// periodic and the one-shot timer keep calling their functions (with their
// values, on detached threads, the one-shot with its stack size) in every
// life, a deleted timer never calls again, a fork child has no timers but
// can make its own, a timer made after the last restart fires, and the CPU
// clocks never go back and count the CPU burnt in each life.
import path from 'node:path';
import { afterEach, expect, test } from 'vitest';
import {
  checkpointImages, cleanup, compileFixture, kill9, launch, restart, startCoordinator, type Proc, type RunAs,
} from '@dmtcp/core/testing';
import { ENV, pkgRoot, pluginArgs } from './helpers.ts';

afterEach(cleanup);

const SEV = /^SEV per=(\d+) once=(\d+) bad=(\d+) del=(\d+) get=(\d+) ovr=(-?\d+) pcpu=(\d+) tcpu=(\d+) ms=(\d+)$/;

interface Sev { per: number; once: number; bad: number; del: number; get: number; ovr: number; pcpu: number; tcpu: number; ms: number }

function sevLines(proc: Proc): Sev[] {
  const out: Sev[] = [];
  for (const line of proc.lines()) {
    const m = SEV.exec(line);
    if (!m) continue;
    const [per, once, bad, del, get, ovr, pcpu, tcpu, ms] = m.slice(1).map(Number) as [
      number, number, number, number, number, number, number, number, number,
    ];
    out.push({ per, once, bad, del, get, ovr, pcpu, tcpu, ms });
  }
  return out;
}

async function nextLines(proc: Proc, count: number): Promise<Sev[]> {
  return proc.waitUntil(() => (sevLines(proc).length >= count ? sevLines(proc) : undefined), `${count} SEV lines`, 30_000);
}

function checkLife(s: Sev[], what: string): void {
  const a = s[0]!;
  const b = s[s.length - 1]!;
  const sec = (b.ms - a.ms) / 1000;
  const perRate = (b.per - a.per) / sec;
  // 20/s; loose bounds for a loaded machine, but a timer that is gone gives 0.
  expect(perRate, `${what}: periodic SIGEV_THREAD calls per second`).toBeGreaterThan(12);
  expect(perRate, `${what}: periodic SIGEV_THREAD calls per second`).toBeLessThan(25);
  // Armed again for 300 ms after each line: one call per line.
  expect(b.once - a.once, `${what}: one-shot SIGEV_THREAD calls`).toBeGreaterThanOrEqual(s.length - 2);
  expect(b.once - a.once, `${what}: one-shot SIGEV_THREAD calls`).toBeLessThanOrEqual(s.length);
  for (let i = 0; i < s.length; i++) {
    const x = s[i]!;
    expect(x.bad, `${what}: calls with a wrong value, attached, or without the stack size`).toBe(0);
    expect(x.del, `${what}: calls of the deleted timer`).toBe(0);
    expect(x.get, `${what}: timer_gettime / timer_getoverrun on both ids`).toBe(4);
    if (i > 0) {
      const p = s[i - 1]!;
      // The main thread spins 100 ms of its CPU time per line.
      expect(x.tcpu - p.tcpu, `${what}: CLOCK_THREAD_CPUTIME_ID grows by the CPU burnt`).toBeGreaterThanOrEqual(95);
      expect(x.pcpu - p.pcpu, `${what}: CLOCK_PROCESS_CPUTIME_ID grows by the CPU burnt`).toBeGreaterThanOrEqual(95);
    }
  }
}

async function scenario(user?: RunAs): Promise<void> {
  const exe = await compileFixture(path.join(pkgRoot, 'test', 'fixtures', 'sigev-thread.c'));
  const coord = await startCoordinator();
  let proc = launch(exe, [], { ...coord, user, env: ENV, args: await pluginArgs() });
  await proc.waitForLine(/^FORK ok=1$/, 20_000);
  let life = await nextLines(proc, 4);
  checkLife(life, 'before any checkpoint');
  for (let cycle = 1; cycle <= 3; cycle++) {
    const before = life[life.length - 1]!;
    const { images } = await checkpointImages(coord);
    expect(images).toHaveLength(1);
    await kill9(proc);
    proc = restart(images, { ...coord, user, env: ENV });
    life = await nextLines(proc, 5);
    const what = `after restart ${cycle}`;
    const first = life[0]!;
    expect(first.per, `${what}: periodic count went on`).toBeGreaterThanOrEqual(before.per);
    // CPU time never goes back, and goes on from what it was.
    expect(first.pcpu, `${what}: CLOCK_PROCESS_CPUTIME_ID went back`).toBeGreaterThanOrEqual(before.pcpu);
    expect(first.tcpu, `${what}: CLOCK_THREAD_CPUTIME_ID went back`).toBeGreaterThanOrEqual(before.tcpu);
    expect(first.tcpu - before.tcpu, `${what}: thread CPU time across the restart`).toBeLessThan(1000);
    checkLife(life.slice(1), what);
  }
  const mark = proc.mark();
  proc.signal('SIGUSR1');
  const m = (await proc.waitForLine(/^AFTER fresh=(\d+) deleted=(\d+) quiet=(\d+)$/, 20_000, { after: mark })).match;
  expect(m.slice(1).map(Number), 'made after the restart fires once; both deleted; no call after timer_delete').toEqual([1, 2, 1]);
}

test('SIGEV_THREAD timers and the CPU clocks: 3 cycles of checkpoint, kill -9, restart', async () => {
  await scenario();
});

test('SIGEV_THREAD timers and the CPU clocks as user nobody: 3 cycles', async () => {
  await scenario('nobody');
});
