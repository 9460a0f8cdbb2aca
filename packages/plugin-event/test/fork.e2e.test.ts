// One eventfd and one epoll set held by a parent and its child (made
// before the fork, test/fixtures/fork.c): a restart cannot share them
// again yet, so each process gets its own copy with the checkpointed
// state, and the restart says so in one line per object, from the child.
import { afterEach, expect, test } from 'vitest';
import { checkpointKillRestart, cleanup, launch, startCoordinator, type Proc } from '@dmtcp/core/testing';
import { BUILTINS, eventMessages, fixture } from './helpers.ts';

afterEach(cleanup);

const TICK = /^tick (\d+) count \d+ ready \d$/;

function assertCounting(proc: Proc): void {
  for (const l of proc.lines()) {
    const m = /^tick (\d+) count (\d+) ready (\d)$/.exec(l);
    if (!m) continue;
    const tick = Number(m[1]);
    expect({ count: Number(m[2]), ready: Number(m[3]) }, `${l}\n${proc.describe()}`).toEqual({ count: tick - 1, ready: tick > 1 ? 1 : 0 });
  }
}

test('fork: shared eventfd and epoll set come back as copies, with one notice each, over 3 restarts', async () => {
  const exe = await fixture('fork.c');
  const coord = await startCoordinator();
  let proc = launch(exe, [], { ...coord, env: BUILTINS });
  await proc.waitForLine(/^tick 3 /);
  const m = /^fds (\d+) (\d+)$/m.exec(proc.lines().join('\n'));
  expect(m, proc.describe()).not.toBeNull();
  const [e, p] = [m![1], m![2]];
  for (let cycle = 1; cycle <= 3; cycle++) {
    proc = (await checkpointKillRestart(proc, TICK, coord, { env: BUILTINS, expectImages: 2, linesAfterRestart: 3 })).proc;
    assertCounting(proc);
    const restarted = proc;
    if (cycle === 1) {
      // stderr is another pipe than stdout: its lines may come later.
      const notices = await proc.waitUntil(() => {
        const n = eventMessages(restarted);
        return n.length >= 2 ? n.sort() : undefined;
      }, 'waiting for the two notices');
      expect(notices, proc.describe()).toHaveLength(2);
      expect(notices[0]).toMatch(new RegExp(`^dmtcp event: fd ${e} \\(eventfd\\) was one object with fd ${e} of pid \\d+ at checkpoint; after restart each process has its own$`));
      expect(notices[1]).toMatch(new RegExp(`^dmtcp event: fd ${p} \\(epoll\\) was one object with fd ${p} of pid \\d+ at checkpoint; after restart each process has its own$`));
    } else {
      // Copies since the first restart: nothing is shared any more, and
      // nothing is said.
      const seen = proc.lines().length;
      await proc.waitUntil(() => (proc.lines().length >= seen + 10 ? true : undefined), 'waiting for 10 more ticks');
      assertCounting(proc);
      expect(eventMessages(proc), proc.describe()).toEqual([]);
    }
  }
});
