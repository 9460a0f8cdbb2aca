// fork() keeps the child under checkpoint control, and exec() keeps the
// runtime in the new program even when it is given an empty environment.
import path from 'node:path';
import { afterEach, expect, test } from 'vitest';
import {
  checkpointImages, cleanup, compileFixture, coreFixture, launch, restart, startCoordinator, waitForProcesses,
  waitForValueAbove,
} from '../src/testing/index.ts';

afterEach(cleanup);

const PARENT = /^parent (\d+)$/;
const WORKER = /^worker (\d+)$/;

test('fork + exec with an empty environment: both processes checkpoint and restart, twice', async () => {
  const exe = await compileFixture(coreFixture('forkexec.c'));
  const coord = await startCoordinator();
  let proc = launch(exe, [], coord);
  await proc.waitForLine(/^worker env empty$/);
  await proc.waitForLine(/^worker 3$/);
  const pids = async (): Promise<number[]> => {
    const st = await waitForProcesses(coord.port, 2);
    const list = st.processes as { pid: number; prog: string }[];
    expect(list.map((p) => p.prog)).toEqual([path.basename(exe), path.basename(exe)]);
    return list.map((p) => p.pid);
  };
  let running = await pids();

  for (let cycle = 1; cycle <= 2; cycle++) {
    const parentBefore = await waitForValueAbove(proc, PARENT, 0);
    const workerBefore = await waitForValueAbove(proc, WORKER, 0);
    const ckpt = await checkpointImages(coord);
    expect(ckpt.images).toHaveLength(2);
    await proc.kill9();
    // the launched parent is gone; its worker child must go too
    for (const pid of running) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
    await waitForProcesses(coord.port, 0);
    proc = restart(ckpt.images, coord);
    const parentAfter = await waitForValueAbove(proc, PARENT, -1);
    const workerAfter = await waitForValueAbove(proc, WORKER, -1);
    expect(parentAfter).toBeGreaterThan(parentBefore);
    expect(workerAfter).toBeGreaterThan(workerBefore);
    running = await pids();
  }
});
