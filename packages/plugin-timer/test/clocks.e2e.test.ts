// CLOCK_MONOTONIC and CLOCK_BOOTTIME across checkpoint / kill -9 / restart
// cycles (fixtures/clocks.c reads them every 100 ms). The checkpoint is
// taken in a time namespace whose clocks run 100000 s ahead of this host's,
// which is what another boot looks like to the restart: the clocks must not
// jump back. `--clocks elapsed` (the default) must make them count the time
// the checkpoint was down, `--clocks frozen` must make them go on from where
// they stopped; both as root and as nobody (through a user namespace), and
// with `--no-time-ns` (plugin-timer's wrappers shift them).
import path from 'node:path';
import { afterEach, expect, test } from 'vitest';
import {
  checkpointImages, cleanup, compileFixture, kill9, launch, restart, startCoordinator, type Proc, type RunAs,
} from '@dmtcp/core/testing';
import { ENV, pkgRoot, pluginArgs } from './helpers.ts';

afterEach(cleanup);

const CLK = /^CLK mono=(\d+) boot=(\d+) real=(\d+) back=(\d+) fired=(\d+)$/;
const AHEAD_S = 100_000;
const DOWN_MS = 1500;

interface Clk { mono: number; boot: number; real: number; back: number; fired: number }

function clkLines(proc: Proc): Clk[] {
  return proc.lines().flatMap((line) => {
    const m = CLK.exec(line);
    // ms keep the sums exact in a double
    return m ? [{ mono: Number(m[1]) / 1e6, boot: Number(m[2]) / 1e6, real: Number(m[3]) / 1e6, back: Number(m[4]), fired: Number(m[5]) }] : [];
  });
}

async function lines(proc: Proc, count: number): Promise<Clk[]> {
  return proc.waitUntil(() => (clkLines(proc).length >= count ? clkLines(proc) : undefined), `${count} CLK lines`, 30_000);
}

type Rule = 'elapsed' | 'frozen';

async function scenario(user: RunAs | undefined, inAheadNamespace: boolean, cycles: { rule: Rule; args: string[] }[]): Promise<void> {
  const exe = await compileFixture(path.join(pkgRoot, 'test', 'fixtures', 'clocks.c'));
  const coord = await startCoordinator();
  const prefix = inAheadNamespace
    ? ['unshare', '--time', '--monotonic', String(AHEAD_S), '--boottime', String(AHEAD_S)]
    : undefined;
  let proc = launch(exe, [], { ...coord, user, env: ENV, prefix, args: await pluginArgs() });
  await proc.waitForLine(/^READY$/);
  // Past the timerfd's first expiration (1 s after the start).
  let life = await lines(proc, 15);
  const uptime = life[0]!.boot / 1000;
  if (inAheadNamespace) expect(uptime, 'BOOTTIME in the namespace (s)').toBeGreaterThan(AHEAD_S);
  for (const [i, { rule, args }] of cycles.entries()) {
    const what = `restart ${i + 1} (${rule}${args.length ? ' ' + args.join(' ') : ''})`;
    const { images } = await checkpointImages(coord);
    await kill9(proc);
    const before = clkLines(proc).at(-1)!;
    await new Promise((r) => setTimeout(r, DOWN_MS));
    proc = restart(images, { ...coord, user, env: ENV, args: ['--clocks', rule, ...args] });
    life = await lines(proc, 12);
    const after = life[0]!;
    const wall = after.real - before.real;
    expect(wall, `${what}: wall-clock ms between the readings`).toBeGreaterThan(DOWN_MS);
    for (const [name, d] of [['MONOTONIC', after.mono - before.mono], ['BOOTTIME', after.boot - before.boot]] as const) {
      if (rule === 'elapsed') {
        // They counted the time down, as if the program had kept running.
        expect(Math.abs(d - wall), `${what}: ${name} advance (ms) against the wall clock's ${wall} ms`).toBeLessThan(300);
      } else {
        // They stood still: only the moments between the readings and the
        // checkpoint and restart count.
        expect(d, `${what}: ${name} advance (ms), ${wall} ms on the wall clock`).toBeGreaterThanOrEqual(0);
        expect(d, `${what}: ${name} advance (ms), ${wall} ms on the wall clock`).toBeLessThan(wall - 1000);
      }
    }
    for (const x of life) expect(x.back, `${what}: reads that went back`).toBe(0);
    // Deadlines the program gives on MONOTONIC (clock_nanosleep every 100 ms,
    // a timerfd every 50 ms) mean what they meant: the pace of the wall clock.
    const last = life.at(-1)!;
    const span = last.real - after.real;
    expect(span, `${what}: wall ms for ${life.length - 1} sleeps of 100 ms`).toBeGreaterThan((life.length - 1) * 90);
    expect(span, `${what}: wall ms for ${life.length - 1} sleeps of 100 ms`).toBeLessThan((life.length - 1) * 100 + 1500);
    expect(last.fired - after.fired, `${what}: timerfd expirations in ${span} ms`).toBeGreaterThan(span / 50 - 4);
    expect(last.fired - after.fired, `${what}: timerfd expirations in ${span} ms`).toBeLessThan(span / 50 + 4 + (rule === 'elapsed' ? wall / 50 : 0));
    const mode = args.includes('--no-time-ns') ? /through plugin-timer's wrappers/ : /in a time namespace/;
    expect(proc.stderr(), `${what}: which mode ran`).toMatch(mode);
  }
}

test('checkpointed 100000 s ahead (another boot, as the restart sees it): elapsed, frozen by the wrappers, elapsed, as root', async () => {
  await scenario(undefined, true, [
    { rule: 'elapsed', args: [] },
    { rule: 'frozen', args: ['--no-time-ns'] },
    { rule: 'elapsed', args: [] },
  ]);
}, 120_000);

test('frozen clocks as nobody: in a user and time namespace, and shifted by the wrappers', async () => {
  await scenario('nobody', false, [
    { rule: 'frozen', args: [] },
    { rule: 'frozen', args: ['--no-time-ns'] },
    { rule: 'frozen', args: [] },
  ]);
}, 120_000);
