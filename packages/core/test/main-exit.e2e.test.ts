// A process whose main thread left with pthread_exit: its leader is a zombie
// that takes signals and never handles them, so a checkpoint must not wait
// for it.
import { afterEach, test } from 'vitest';
import { checkpointKillRestart, cleanup, compileFixture, coreFixture, launch, startCoordinator } from '../src/testing/index.ts';

const COUNT = /^count (\d+)$/;

afterEach(cleanup);

test('main thread gone with pthread_exit: 3 cycles of checkpoint, kill -9, restart', async () => {
  const exe = await compileFixture(coreFixture('main-exit.c'));
  const coord = await startCoordinator();
  let proc = launch(exe, [], coord);
  await proc.waitForLine(/^count 3$/);
  for (let cycle = 1; cycle <= 3; cycle++) proc = (await checkpointKillRestart(proc, COUNT, coord)).proc;
});
