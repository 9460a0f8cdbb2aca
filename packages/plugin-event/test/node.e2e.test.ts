// node's event loop (libuv: epoll sets, and eventfds that wake it from its
// thread pool and other threads) with a timer, through 3
// checkpoint / kill -9 / restart cycles: without this plugin it aborts on
// the first epoll_wait after a restart (packages/core/test/fd-kinds.e2e.test.ts).
import { afterEach, expect, test } from 'vitest';
import { checkpointKillRestart, cleanup, launch, startCoordinator } from '@dmtcp/core/testing';
import { BUILTINS, warnings } from './helpers.ts';

afterEach(cleanup);

const COUNT = /^count (\d+)$/;
const PROGRAM = 'let n = 0; setInterval(() => console.log(`count ${++n}`), 50)';

test('node with a timer goes on counting after 3 restarts, and the checkpoint warns about nothing', async () => {
  const coord = await startCoordinator();
  let proc = launch(process.execPath, ['-e', PROGRAM], { ...coord, env: BUILTINS });
  await proc.waitForLine(/^count 3$/);
  for (let cycle = 1; cycle <= 3; cycle++) {
    proc = (await checkpointKillRestart(proc, COUNT, coord, { env: BUILTINS, linesAfterRestart: 10 })).proc;
    expect(proc.running, proc.describe()).toBe(true);
  }
  expect(warnings(coord)).toEqual([]);
});
