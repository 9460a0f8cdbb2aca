// No root needed: the counter is launched, checkpointed and restarted as the
// unprivileged user nobody, writing its images into a directory it may write.
import { stat } from 'node:fs/promises';
import { afterEach, expect, test } from 'vitest';
import {
  checkpointKillRestart, cleanup, compileFixture, coreFixture, effectiveUid, launch, startCoordinator,
} from '../src/testing/index.ts';

const COUNT = /^count (\d+)$/;

afterEach(cleanup);

test('counter as user nobody: 2 cycles of checkpoint, kill -9, restart', async () => {
  const exe = await compileFixture(coreFixture('counter.c'));
  const coord = await startCoordinator();
  const user = 'nobody' as const;
  let proc = launch(exe, [], { ...coord, user });
  await proc.waitForLine(/^count 3$/);
  for (let cycle = 1; cycle <= 2; cycle++) {
    const r = await checkpointKillRestart(proc, COUNT, coord, { user });
    for (const img of r.images) expect((await stat(img)).uid, img).toBe(effectiveUid(user));
    proc = r.proc;
  }
});
