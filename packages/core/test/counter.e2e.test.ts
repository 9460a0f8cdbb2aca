// A counting program goes through three checkpoint / kill -9 / restart cycles
// and must continue each time exactly after a value it had printed.
import { afterEach, expect, test } from 'vitest';
import {
  checkpointKillRestart, cleanup, compileFixture, coreFixture, launch, startCoordinator, waitForProcesses,
} from '../src/testing/index.ts';

const COUNT = /^count (\d+)$/;

afterEach(cleanup);

test('counter: 3 cycles of checkpoint, keep running, kill -9, restart', async () => {
  const exe = await compileFixture(coreFixture('counter.c'));
  const coord = await startCoordinator();
  let proc = launch(exe, [], coord);
  await proc.waitForLine(/^count 5$/);
  await waitForProcesses(coord.port, 1);

  let previousStart = 0;
  for (let cycle = 1; cycle <= 3; cycle++) {
    const r = await checkpointKillRestart(proc, COUNT, coord);
    expect(r.firstAfterRestart).toBeGreaterThan(r.beforeCheckpoint);
    expect(r.firstAfterRestart).toBeLessThanOrEqual(r.beforeKill + 1);
    // each cycle resumes later than the previous one: no cycle fell back to an old image
    expect(r.firstAfterRestart).toBeGreaterThan(previousStart);
    previousStart = r.firstAfterRestart;
    proc = r.proc;
    await waitForProcesses(coord.port, 1);
  }
});

test('counter: launch passes the exit status through', async () => {
  const exe = await compileFixture(coreFixture('counter.c'));
  const coord = await startCoordinator();
  const proc = launch(exe, ['3', '10'], coord);
  const st = await proc.waitForExit();
  expect(st, proc.describe()).toEqual({ code: 0, signal: null });
  expect(proc.lines().filter((l) => COUNT.test(l))).toEqual(['count 1', 'count 2', 'count 3']);
});
