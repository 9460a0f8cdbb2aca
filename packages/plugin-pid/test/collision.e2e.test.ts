// Real pids that equal virtual ones. Translation is by table, never by
// guessing, so it must hold when
//  - an unrelated process holds, as its real pid, the virtual pid of a
//    process of the computation (sleepers steered onto child1's and
//    grand2's virtual pids after the first kill);
//  - a restarted process gets, as its real pid, the virtual pid of another
//    (the second restart is steered so that the parent's new real pid is
//    child0's virtual pid);
//  - a new child's real pid is already some restarted process's virtual
//    pid (the fork is steered onto grand0's virtual pid: the plugin must
//    fork again rather than hand out a pid that names two processes).
// Steering uses /proc/sys/kernel/ns_last_pid, which needs root; without it
// the check is skipped, saying why.
import { afterEach, expect, test } from 'vitest';
import {
  checkpointImages, cleanup, launch, restart, startCoordinator, waitForProcesses, type CoordinatorRef, type Proc,
} from '@dmtcp/core/testing';
import {
  alive, fixture, killStrays, withPlugin, realPids, sleeperOn, steerNextPid, steeringUnavailable, waitGone,
} from './helpers.ts';
import { expectShape, finish, reportIds } from './tree-fixture.ts';

afterEach(async () => {
  killStrays();
  await cleanup();
});

async function killComputation(proc: Proc, port: number): Promise<void> {
  for (const pid of await realPids(port)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  await proc.kill9();
  await waitForProcesses(port, 0);
}

/** Restarts so that the root process (the restart command, which becomes
 *  the parent) gets real pid `pid`; retried when another process takes it. */
async function restartOnPid(images: string[], coord: CoordinatorRef, pid: number): Promise<Proc> {
  for (let attempt = 0; attempt < 10; attempt++) {
    await waitGone(pid);
    steerNextPid(pid);
    const proc = restart(images, coord);
    if (proc.pid === pid) return proc;
    await waitForProcesses(coord.port, 7, { watch: proc });
    await killComputation(proc, coord.port);
  }
  throw new Error(`could not restart with pid ${pid}`);
}

test('translation holds when real pids equal virtual ones: unrelated processes, restarted processes, new children', async (ctx) => {
  const why = steeringUnavailable();
  if (why) ctx.skip(`pid steering unavailable: ${why}`);
  const exe = await fixture('pid-tree.c');
  const coord = await startCoordinator();
  // DMTCP_DEBUG: the plugin logs the forks it refuses.
  let proc = launch(exe, [], { ...coord, ...withPlugin({ DMTCP_DEBUG: '1' }) });
  await proc.waitForLine(/^READY$/);
  await waitForProcesses(coord.port, 7);
  const before = await reportIds(proc, await realPids(coord.port));
  expectShape(before);
  const vpid = (name: string): number => before.get(name)!.pid;

  const sleepers: number[] = [];
  for (let cycle = 1; cycle <= 2; cycle++) {
    const { images } = await checkpointImages(coord);
    expect(images).toHaveLength(7);
    await killComputation(proc, coord.port);
    if (cycle === 1) {
      for (const name of ['child1', 'grand2']) sleepers.push(await sleeperOn(vpid(name)));
      proc = restart(images, coord);
    } else {
      proc = await restartOnPid(images, coord, vpid('child0'));
    }
    await waitForProcesses(coord.port, 7);
    const after = await reportIds(proc, await realPids(coord.port));
    expect(Object.fromEntries(after), `cycle ${cycle}`).toEqual(Object.fromEntries(before));
    expect(sleepers.every(alive), 'the sleepers were left alone').toBe(true);
  }
  // The parent's real pid is child0's virtual pid: kill(child0) from the
  // parent must not reach the parent itself.
  expect(proc.pid).toBe(vpid('child0'));

  // A new child whose real pid would be grand0's virtual pid. The plugin
  // says so in its debug log; another process may take the pid first, so
  // the steering is repeated until the fork did land on it.
  const g0 = vpid('grand0');
  const refusals = (): number => proc.stderr().split(`fork: child pid ${g0} is a virtual pid in use`).length - 1;
  let landed = false;
  for (let attempt = 0; attempt < 5 && !landed; attempt++) {
    const seen = refusals();
    const mark = proc.mark();
    await waitGone(g0);
    steerNextPid(g0);
    process.kill(proc.pid, 'SIGWINCH');
    const { match } = await proc.waitForLine(/^EXTRA_WAITED vpid=(\d+) ret=(\d+) code=(\d+)$/, 20_000, { after: mark });
    const [extra, ret, code] = match.slice(1).map(Number);
    const line = proc.lines().slice(mark).find((l) => l.startsWith('EXTRA '));
    expect(line, 'the new child printed its ids').toBe(`EXTRA vpid=${extra} real=${extra}`);
    expect(extra, 'no new child answers to a virtual pid in use').not.toBe(g0);
    expect(ret).toBe(extra);
    expect(code).toBe(7);
    landed = refusals() > seen;
  }
  expect(landed, `a fork landed on grand0's virtual pid ${g0}`).toBe(true);

  await finish(proc, before);
  expect(sleepers.every(alive), 'no signal meant for child1 or grand2 reached the sleepers').toBe(true);
});
