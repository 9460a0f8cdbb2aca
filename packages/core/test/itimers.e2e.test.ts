// setitimer and alarm timers keep firing after a restart: the periodic
// ITIMER_REAL, ITIMER_VIRTUAL and ITIMER_PROF timers expire at their rates
// again after each of 3 restarts, and an alarm() continues with the time it
// had left at checkpoint (the time the process did not exist does not count)
// and fires once. As root and as nobody.
import { afterEach, expect, test } from 'vitest';
import {
  checkpointImages, cleanup, compileFixture, coreFixture, inspectImage, kill9, launch, restart, startCoordinator,
  type Proc, type RunAs,
} from '../src/testing/index.ts';

afterEach(cleanup);

const TICKS = /^TICKS real=(\d+) virt=(\d+) prof=(\d+) wall_us=(\d+) user_us=(\d+) sys_us=(\d+) period_us=(\d+\/\d+\/\d+)$/;
const ALARM = /^ALARM fired=(\d+) left_ms=(\d+)$/;

interface Ticks {
  real: number;
  virt: number;
  prof: number;
  wallMs: number;
  userMs: number;
  cpuMs: number;
  periods: string;
}

function ticksOf(line: string): Ticks | undefined {
  const m = TICKS.exec(line);
  if (!m) return undefined;
  const n = (i: number): number => Number(m[i]);
  return {
    real: n(1), virt: n(2), prof: n(3), wallMs: n(4) / 1000, userMs: n(5) / 1000, cpuMs: (n(5) + n(6)) / 1000,
    periods: m[7] as string,
  };
}

function allTicks(proc: Proc, after = 0): Ticks[] {
  return proc.lines().slice(after).map(ticksOf).filter((t): t is Ticks => t !== undefined);
}

/** Expirations over a window must match the period: never more than the time allows (+ the one in flight),
 *  at least half of it (the machine is shared: a process that is not scheduled merges pending expirations). */
function expectRate(what: string, count: number, spentMs: number, periodMs: number): void {
  const expected = spentMs / periodMs;
  expect(count, `${what}: ${count} expirations in ${spentMs.toFixed(0)} ms at ${periodMs} ms`).toBeLessThanOrEqual(expected + 2);
  expect(count, `${what}: ${count} expirations in ${spentMs.toFixed(0)} ms at ${periodMs} ms`).toBeGreaterThanOrEqual(expected / 2 - 1);
}

/** Waits for a window of at least 1.5 s of wall time and 400 ms of CPU time, then checks every timer's rate in it. */
async function expectTimersRunning(proc: Proc, after: number, what: string): Promise<Ticks> {
  const [first, last] = await proc.waitUntil(() => {
    const t = allTicks(proc, after);
    const a = t[0];
    const b = t[t.length - 1];
    return a && b && b.wallMs - a.wallMs >= 1500 && b.userMs - a.userMs >= 400 ? ([a, b] as const) : undefined;
  }, `a 1.5 s window with 400 ms of CPU time ${what}`, 40_000);
  expect(last.periods, `periods getitimer reports ${what}`).toBe('100000/50000/50000');
  expectRate(`ITIMER_REAL ${what}`, last.real - first.real, last.wallMs - first.wallMs, 100);
  expectRate(`ITIMER_VIRTUAL ${what}`, last.virt - first.virt, last.userMs - first.userMs, 50);
  expectRate(`ITIMER_PROF ${what}`, last.prof - first.prof, last.cpuMs - first.cpuMs, 50);
  return last;
}

for (const user of [undefined, 'nobody'] as const satisfies readonly (RunAs | undefined)[]) {
  const as = user ? ` as ${user}` : '';

  test(`periodic ITIMER_REAL, ITIMER_VIRTUAL and ITIMER_PROF keep their rates after 3 restarts${as}`, async () => {
    const exe = await compileFixture(coreFixture('itimers.c'));
    const coord = await startCoordinator();
    let proc = launch(exe, ['periodic'], { ...coord, user });
    await proc.waitForLine(/^READY$/);
    let last = await expectTimersRunning(proc, 0, 'after launch');
    for (let cycle = 1; cycle <= 3; cycle++) {
      const { images } = await checkpointImages(coord);
      const meta = (await inspectImage(images[0] as string)).meta as {
        itimers: Record<string, { value_us: number; interval_us: number }>;
      };
      expect(meta.itimers.real?.interval_us).toBe(100000);
      expect(meta.itimers.virtual?.interval_us).toBe(50000);
      expect(meta.itimers.prof?.interval_us).toBe(50000);
      last = allTicks(proc).at(-1) ?? last;
      await kill9(proc);
      proc = restart(images, { ...coord, user });
      const now = await expectTimersRunning(proc, 0, `after restart ${cycle}`);
      // the counts are memory: they go on from where they were
      expect(now.real).toBeGreaterThan(last.real);
      expect(now.virt).toBeGreaterThan(last.virt);
      expect(now.prof).toBeGreaterThan(last.prof);
    }
  });

  test(`alarm() continues with the time it had left and fires once, across 3 restarts${as}`, async () => {
    const exe = await compileFixture(coreFixture('itimers.c'));
    const coord = await startCoordinator();
    let proc = launch(exe, ['alarm', '4'], { ...coord, user });
    const leftOf = (line: string): number => Number(ALARM.exec(line)?.[2]);
    const firedOf = (line: string): number => Number(ALARM.exec(line)?.[1]);
    await proc.waitForLine(/^ALARM fired=0 left_ms=(3[0-6]\d\d)$/);
    for (let cycle = 1; cycle <= 3; cycle++) {
      const before = proc.lines().filter((l) => ALARM.test(l)).at(-1) as string;
      const { images } = await checkpointImages(coord);
      await kill9(proc);
      // A second without the process: it must not count against the alarm.
      await new Promise((r) => setTimeout(r, 1000));
      proc = restart(images, { ...coord, user });
      const first = (await proc.waitForLine(ALARM, 30_000)).line;
      expect(firedOf(first), `not fired yet after restart ${cycle}`).toBe(0);
      expect(leftOf(first), `time left after restart ${cycle} (was ${leftOf(before)} ms)`).toBeLessThanOrEqual(leftOf(before));
      expect(leftOf(first), `time left after restart ${cycle} (was ${leftOf(before)} ms)`).toBeGreaterThan(leftOf(before) - 700);
      // run a little before the next checkpoint
      const mark = proc.mark();
      await proc.waitUntil(() => proc.lines().slice(mark).find((l) => leftOf(l) < leftOf(first) - 250), 'the alarm counting down');
    }
    const fired = await proc.waitForLine(/^ALARM fired=1 /, 10_000);
    const mark = proc.mark();
    await proc.waitUntil(() => (proc.lines().length - mark >= 8 ? true : undefined), 'lines after the alarm fired');
    const later = proc.lines().slice(fired.index).filter((l) => ALARM.test(l));
    for (const l of later) expect(l, 'fired exactly once, and nothing left').toBe('ALARM fired=1 left_ms=0');
  });
}
