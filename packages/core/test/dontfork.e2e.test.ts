// Memory marked MADV_DONTFORK does not exist in the copy-on-write writer
// child; the runtime notices and writes that image in place instead.
import { afterEach, expect, test } from 'vitest';
import { checkpointKillRestart, cleanup, compileFixture, coreFixture, launch, startCoordinator, waitForProcesses } from '../src/testing/index.ts';

afterEach(cleanup);

test('MADV_DONTFORK memory survives restart', async () => {
  const exe = await compileFixture(coreFixture('dontfork.c'));
  const coord = await startCoordinator();
  let proc = launch(exe, [], coord);
  await proc.waitForLine(/^count 2 ok$/);
  await waitForProcesses(coord.port, 1);
  for (let cycle = 0; cycle < 2; cycle++) {
    proc = (await checkpointKillRestart(proc, /^count (\d+) /, coord)).proc;
    await waitForProcesses(coord.port, 1);
    expect(proc.lines().filter((l) => l.includes('LOST'))).toEqual([]);
  }
});
