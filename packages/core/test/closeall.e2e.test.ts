// A program that closes every descriptor it did not open itself (as daemons
// do) must not cut the runtime off from the coordinator.
import { afterEach, test } from 'vitest';
import { checkpointKillRestart, cleanup, compileFixture, coreFixture, launch, startCoordinator, waitForProcesses } from '../src/testing/index.ts';

afterEach(cleanup);

test('closing all descriptors leaves the process under checkpoint control', async () => {
  const exe = await compileFixture(coreFixture('closeall.c'));
  const coord = await startCoordinator();
  let proc = launch(exe, [], coord);
  await proc.waitForLine(/^count 3$/);
  await waitForProcesses(coord.port, 1);
  for (let cycle = 0; cycle < 2; cycle++) {
    proc = (await checkpointKillRestart(proc, /^count (\d+)$/, coord)).proc;
    await waitForProcesses(coord.port, 1);
  }
});
