// POSIX timers and timerfds across three checkpoint / kill -9 / restart
// cycles (fixtures/timers.c says what each count is): every timer keeps
// firing at its rate after each restart, on the same ids and descriptor
// numbers, SIGEV_THREAD_ID still reaches the worker, the absolute deadlines
// stay where they were, expirations pending at a checkpoint are readable
// after the restart, and timer_delete works on the restored ids.
import path from 'node:path';
import { afterEach, expect, test } from 'vitest';
import {
  checkpointImages, cleanup, compileFixture, kill9, launch, restart, startCoordinator, type Proc, type RunAs,
} from '@dmtcp/core/testing';
import { ENV, pkgRoot, pluginArgs } from './helpers.ts';

afterEach(cleanup);

const STATE =
  /^STATE sig=(\d+) thr=(\d+) abs=(\d+) absexp=(\d+) once=(\d+) noneleft=(-?\d+) abserr=(-?\d+) fd1=(\d+) bad=(\d+) get=(\d+) fdbad=(\d+) fdabserr=(-?\d+) ms=(\d+)$/;
const PENDING = /^PENDING fd2=(\d+) fd3=(\d+) fd1=(\d+) fresh=(\d+) deleted=(\d+) einval=(\d+)$/;

interface State {
  sig: number; thr: number; abs: number; absexp: number; once: number; noneleft: number; abserr: number;
  fd1: number; bad: number; get: number; fdbad: number; fdabserr: number; ms: number;
}

function parse(line: string): State | undefined {
  const m = STATE.exec(line);
  if (!m) return undefined;
  const n = m.slice(1).map(Number);
  const [sig, thr, abs, absexp, once, noneleft, abserr, fd1, bad, get, fdbad, fdabserr, ms] = n as [
    number, number, number, number, number, number, number, number, number, number, number, number, number,
  ];
  return { sig, thr, abs, absexp, once, noneleft, abserr, fd1, bad, get, fdbad, fdabserr, ms };
}

function states(proc: Proc, from: number): State[] {
  return proc.lines().slice(from).map(parse).filter((s): s is State => s !== undefined);
}

/** Waits for `count` STATE lines printed from line `from` on. */
async function nextStates(proc: Proc, from: number, count: number): Promise<State[]> {
  return proc.waitUntil(() => {
    const s = states(proc, from);
    return s.length >= count ? s : undefined;
  }, `waiting for ${count} state lines`, 30_000);
}

/** Per-second rates between two lines of one life. */
function rates(a: State, b: State): { sig: number; thr: number; fd1: number; once: number } {
  const sec = (b.ms - a.ms) / 1000;
  return { sig: (b.sig - a.sig) / sec, thr: (b.thr - a.thr) / sec, fd1: (b.fd1 - a.fd1) / sec, once: (b.once - a.once) / sec };
}

/** A life is right: every timer fires at its rate, all ids answer. */
function checkLife(s: State[], what: string): void {
  const first = s[0]!;
  const last = s[s.length - 1]!;
  const r = rates(first, last);
  // 10/s, 5/s, 10/s, ~4/s (250 ms plus the main loop's 20 ms poll): loose
  // bounds for a loaded machine, but a timer that is gone gives 0.
  expect(r.sig, `${what}: SIGEV_SIGNAL rate`).toBeGreaterThan(6);
  expect(r.sig, `${what}: SIGEV_SIGNAL rate`).toBeLessThan(13);
  expect(r.thr, `${what}: SIGEV_THREAD_ID rate`).toBeGreaterThan(3);
  expect(r.thr, `${what}: SIGEV_THREAD_ID rate`).toBeLessThan(7);
  expect(r.fd1, `${what}: timerfd rate`).toBeGreaterThan(6);
  expect(r.fd1, `${what}: timerfd rate`).toBeLessThan(13);
  expect(r.once, `${what}: one-shot re-armed`).toBeGreaterThan(2);
  for (const x of s) {
    expect(x.get, `${what}: timer_gettime on every id`).toBe(6);
    expect(x.bad, `${what}: SIGEV_THREAD_ID delivered elsewhere`).toBe(0);
    // The absolute CLOCK_REALTIME deadline is the one set at the start.
    expect(Math.abs(x.abserr), `${what}: TIMER_ABSTIME deadline moved`).toBeLessThan(100);
    // The absolute MONOTONIC schedule (same boot) counts every period,
    // the ones spent checkpointed and restarting included (as overruns).
    expect(Math.abs(x.abs - x.absexp), `${what}: TIMER_ABSTIME periodic count ${x.abs} vs ${x.absexp}`).toBeLessThanOrEqual(3);
    expect(x.noneleft, `${what}: SIGEV_NONE time left`).toBeGreaterThan(99_000_000);
    expect(x.fdbad, `${what}: timerfd flags, clock, settime flags, dup (bits: see fixtures/timers.c)`).toBe(0);
    expect(Math.abs(x.fdabserr), `${what}: timerfd TFD_TIMER_ABSTIME deadline moved`).toBeLessThan(100);
  }
}

async function scenario(user?: RunAs): Promise<void> {
  const exe = await compileFixture(path.join(pkgRoot, 'test', 'fixtures', 'timers.c'));
  const coord = await startCoordinator();
  let proc = launch(exe, [], { ...coord, user, env: ENV, args: await pluginArgs() });
  const fds = (await proc.waitForLine(/^FDS (\d+) (\d+) (\d+) (\d+) (\d+)$/)).match;
  let from = proc.mark();
  let life = await nextStates(proc, from, 3);
  checkLife(life, 'before any checkpoint');

  for (let cycle = 1; cycle <= 3; cycle++) {
    const before = life[life.length - 1]!;
    const { images } = await checkpointImages(coord);
    expect(images).toHaveLength(1);
    await kill9(proc);

    proc = restart(images, { ...coord, user, env: ENV });
    from = 0;
    life = await nextStates(proc, from, 4);
    const what = `after restart ${cycle}`;
    // Memory came back: the counts go on from the checkpoint's.
    expect(life[0]!.sig, what).toBeGreaterThanOrEqual(before.sig);
    expect(life[0]!.fd1, what).toBeGreaterThanOrEqual(before.fd1);
    // The relative SIGEV_NONE one-shot went on from what it had left.
    expect(life[0]!.noneleft, what).toBeLessThanOrEqual(before.noneleft);
    // Rates measured from the second line on, once the restart is over.
    checkLife(life.slice(1), what);
  }

  const mark = proc.mark();
  proc.signal('SIGUSR1');
  const m = (await proc.waitForLine(PENDING, 20_000, { after: mark })).match;
  const [fd2, fd3, fd1, fresh, deleted, einval] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  // fd2 (1 s, never read) holds every second the program ran, all lives
  // together: what was pending at each checkpoint came back.
  expect(Math.abs(fd2 - Math.floor(fd1 / 10)), `fd2=${fd2} against fd1=${fd1}`).toBeLessThanOrEqual(2);
  expect(fd2).toBeGreaterThan(10);
  expect(fd3, 'the one-shot timerfd that expired before the first checkpoint').toBe(1);
  // Its kernel id is one a restored timer's id already holds, and the worker's
  // id (the pid plugin's) is not its kernel tid any more.
  expect(fresh, 'a SIGEV_THREAD_ID timer made after the restart: an id of its own, fires in the worker').toBe(1);
  expect(deleted, 'timer_delete on every restored id').toBe(6);
  expect(einval, 'deleted ids are gone').toBe(6);
  expect(fds.slice(1).map(Number)).toEqual([3, 4, 5, 6, 7]);
}

const CPU = /^CPU proc=(\d+) pms=(\d+) thr=(\d+) tms=(\d+) dflt=(\d+) dfltbad=(\d+) get=(\d+)$/;

interface Cpu { proc: number; pms: number; thr: number; tms: number; dflt: number; dfltbad: number; get: number }

function cpuLines(proc: Proc): Cpu[] {
  const out: Cpu[] = [];
  for (const line of proc.lines()) {
    const m = CPU.exec(line);
    if (!m) continue;
    const [p, pms, thr, tms, dflt, dfltbad, get] = m.slice(1).map(Number) as [number, number, number, number, number, number, number];
    out.push({ proc: p, pms, thr, tms, dflt, dfltbad, get });
  }
  return out;
}

/** CPU-time timers fire once per 20 ms of the CPU time they count. */
function checkCpuLife(s: Cpu[], what: string): void {
  const a = s[0]!;
  const b = s[s.length - 1]!;
  const procRatio = (b.proc - a.proc) / ((b.pms - a.pms) / 20);
  const thrRatio = (b.thr - a.thr) / ((b.tms - a.tms) / 20);
  expect(procRatio, `${what}: CLOCK_PROCESS_CPUTIME_ID expirations per 20 ms of process CPU`).toBeGreaterThan(0.6);
  expect(procRatio, what).toBeLessThan(1.4);
  expect(thrRatio, `${what}: CLOCK_THREAD_CPUTIME_ID expirations per 20 ms of the worker's CPU`).toBeGreaterThan(0.6);
  expect(thrRatio, what).toBeLessThan(1.4);
  const dfltRate = (b.dflt - a.dflt) / (s.length - 1);
  expect(dfltRate, `${what}: no-sigevent timer, per second`).toBeGreaterThan(6);
  for (const x of s) {
    expect(x.get, `${what}: timer_gettime on every id`).toBe(3);
    expect(x.dfltbad, `${what}: SIGALRM value of the no-sigevent timer`).toBe(0);
  }
}

test('CPU-time clocks, no sigevent, SIGEV_THREAD made: 3 cycles', async () => {
  const exe = await compileFixture(path.join(pkgRoot, 'test', 'fixtures', 'cpu-timers.c'));
  const coord = await startCoordinator();
  let proc = launch(exe, [], { ...coord, env: ENV, args: await pluginArgs() });
  await proc.waitForLine(/^THREAD made=1$/);
  let life = await proc.waitUntil(() => (cpuLines(proc).length >= 3 ? cpuLines(proc) : undefined), 'CPU lines', 30_000);
  checkCpuLife(life, 'before any checkpoint');
  for (let cycle = 1; cycle <= 3; cycle++) {
    const before = life[life.length - 1]!;
    const { images } = await checkpointImages(coord);
    await kill9(proc);
    proc = restart(images, { ...coord, env: ENV });
    life = await proc.waitUntil(() => (cpuLines(proc).length >= 4 ? cpuLines(proc) : undefined), 'CPU lines', 30_000);
    expect(life[0]!.thr, `after restart ${cycle}`).toBeGreaterThanOrEqual(before.thr);
    checkCpuLife(life.slice(1), `after restart ${cycle}`);
  }
});

test('POSIX timers and timerfds: 3 cycles of checkpoint, kill -9, restart', async () => {
  await scenario();
});

test('POSIX timers and timerfds as user nobody: 3 cycles', async () => {
  await scenario('nobody');
});
