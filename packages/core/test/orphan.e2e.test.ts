// An orphan whose parent exited before the checkpoint restarts too.
import { afterEach, expect, test } from 'vitest';
import { checkpointImages, cleanup, compileFixture, coreFixture, launch, restart, startCoordinator, waitForProcesses, waitForValueAbove } from '../src/testing/index.ts';

const ORPHAN = /^orphan (\d+)$/;
let orphanPid = 0;

afterEach(async () => {
  if (orphanPid > 0) {
    try {
      process.kill(orphanPid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  await cleanup();
});

test('an orphan restarts, twice', async () => {
  const exe = await compileFixture(coreFixture('orphan.c'));
  const coord = await startCoordinator();
  const launched = launch(exe, [], coord);
  expect((await launched.waitForExit()).code).toBe(0);
  let st = await waitForProcesses(coord.port, 1);
  for (let cycle = 0; cycle < 2; cycle++) {
    orphanPid = (st.processes as { pid: number }[])[0]!.pid;
    const { images } = await checkpointImages(coord);
    expect(images).toHaveLength(1);
    process.kill(orphanPid, 'SIGKILL');
    await waitForProcesses(coord.port, 0);
    const proc = restart(images, coord);
    const first = await waitForValueAbove(proc, ORPHAN, -1);
    await waitForValueAbove(proc, ORPHAN, first + 3);
    st = await waitForProcesses(coord.port, 1);
  }
});
