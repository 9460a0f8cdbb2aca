// The restart's mutex owner fix-up steps over what it cannot use: a robust
// list that loops without coming back to its head, a pending robust entry
// and a held mutex in unmapped memory, a held mutex in read-only memory. The
// program goes on counting after each of 3 restarts, as root and as nobody,
// and the restart says what it left alone (the read-only mutex's owner
// stays stale: a limit, not a fault).
import { afterEach, expect, test } from 'vitest';
import {
  checkpointKillRestart, cleanup, compileFixture, coreFixture, launch, startCoordinator, type RunAs,
} from '../src/testing/index.ts';

afterEach(cleanup);

const COUNT = /^count (\d+)$/;

test.each([
  { as: 'root', user: undefined as RunAs | undefined },
  { as: 'user nobody', user: 'nobody' as RunAs },
])('a looping robust list and stale mutex addresses do not stop a restart ($as)', async ({ user }) => {
  const exe = await compileFixture(coreFixture('mutex-stale.c'));
  const coord = await startCoordinator();
  let proc = launch(exe, [], { ...coord, user });
  await proc.waitForLine(/^count 3$/);
  for (let cycle = 1; cycle <= 3; cycle++) {
    const r = await checkpointKillRestart(proc, COUNT, coord, { user });
    proc = r.proc;
    await proc.waitUntil(() => (/robust mutex list of thread \d+ is longer/.test(proc.stderr()) ? true : undefined),
      'waiting for the report of the looping robust list', 10_000);
    expect(proc.stderr()).toMatch(/restart: robust mutex list of thread \d+ is longer than 2048 entries; the rest is left alone/);
    // The read-only mutex keeps its first owner: only the first restart finds
    // it naming a thread's previous tid, and cannot write it.
    const readOnly = 'restart: 1 mutex owner updates not made (0 over the limit of 4096, 1 not writable)';
    if (cycle === 1) expect(proc.stderr()).toContain(readOnly);
    else expect(proc.stderr()).not.toContain('mutex owner updates not made');
  }
});
