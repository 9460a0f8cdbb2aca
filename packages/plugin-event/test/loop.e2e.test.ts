// One epoll loop over an edge-triggered pipe, a semaphore eventfd, a
// signalfd, an epoll set inside the epoll set and an inotify watch on a
// directory a child process writes into (test/fixtures/epoll_loop.c),
// through 3 checkpoint / kill -9 / restart cycles, as root and as nobody.
// Each tick consumes what the previous one produced: at the checkpoint
// everything is pending (a byte in the pipe, the counters, a queued signal
// with its value), and every line must still show exactly one of each per
// tick, so nothing is lost, doubled or left unnoticed by epoll after a
// restart.
import { chmodSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, expect, test } from 'vitest';
import { checkpointKillRestart, cleanup, launch, startCoordinator, type Proc, type RunAs } from '@dmtcp/core/testing';
import { BUILTINS, eventMessages, fixture, warnings } from './helpers.ts';

afterEach(cleanup);

/** A fresh directory the fixture's child writes into (the user may write there). */
function scratchDir(user: RunAs | undefined): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'dmtcp-event-loop-'));
  if (user) chmodSync(dir, 0o777);
  return dir;
}

const TICK = /^tick (\d+) pipe \d+ sem \d+ sig \d+ inner \d+ created \d+$/;
const LINE = /^tick (\d+) pipe (\d+) sem (\d+) sig (\d+) inner (\d+) created (\d+)$/;

/** Every tick line of proc shows one byte, two semaphore reads, one signal and one inner event per earlier tick. */
function assertExact(proc: Proc): number {
  const bad = proc.lines().filter((l) => l.startsWith('BAD'));
  expect(bad, proc.describe()).toEqual([]);
  let n = 0;
  for (const l of proc.lines()) {
    const m = LINE.exec(l);
    if (!m) continue;
    const [tick, pipe, sem, sig, inner, created] = m.slice(1).map(Number) as [number, number, number, number, number, number];
    expect({ pipe, sem, sig, inner, created }, `${l}\n${proc.describe()}`)
      .toEqual({ pipe: tick - 1, sem: 2 * (tick - 1), sig: tick - 1, inner: tick - 1, created: tick - 1 });
    n++;
  }
  return n;
}

for (const user of [undefined, 'nobody'] as const) {
  test(`epoll loop: pipe, eventfd, signalfd, a nested set and inotify on a directory a child writes into, exact over 3 restarts${user ? ' as nobody' : ''}`, async () => {
    const exe = await fixture('epoll_loop.c');
    const coord = await startCoordinator();
    const as: { user?: RunAs } = user ? { user } : {};
    const dir = scratchDir(user);
    let proc = launch(exe, [dir], { ...coord, env: BUILTINS, ...as });
    await proc.waitForLine(/^tick 5 /);
    for (let cycle = 1; cycle <= 3; cycle++) {
      const r = await checkpointKillRestart(proc, TICK, coord, { env: BUILTINS, ...as, linesAfterRestart: 8, expectImages: 2 });
      proc = r.proc;
      expect(assertExact(proc), proc.describe()).toBeGreaterThanOrEqual(8);
      expect(eventMessages(proc), proc.describe()).toEqual([]);
    }
    expect(warnings(coord)).toEqual([]);
  });
}

test('without plugin-event the same loop is named in the checkpoint warning (what the test above relies on)', async () => {
  const exe = await fixture('epoll_loop.c');
  const coord = await startCoordinator();
  const proc = launch(exe, [scratchDir(undefined)], { ...coord, env: BUILTINS, args: ['--disable-plugin', 'event'] });
  await proc.waitForLine(/^tick 3 /);
  const fds = /^fds pipe \d+ sem (\d+) sfd (\d+) plain (\d+) inner (\d+) outer (\d+)$/m.exec(proc.lines().join('\n'));
  expect(fds, proc.describe()).not.toBeNull();
  const r = await checkpointKillRestart(proc, TICK, coord, { env: BUILTINS, timeoutMs: 5_000, expectImages: 2 }).catch((e: unknown) => e);
  expect(r).toBeInstanceOf(Error);
  const w = warnings(coord);
  expect(w).toHaveLength(1);
  expect(w[0]).toMatch(new RegExp(`fd ${fds![1]} \\(eventfd\\).*fd ${fds![2]} \\(signalfd\\).* will not be restored: need plugin-event$`));
  expect(w[0]).toMatch(/\(inotify\)/);
});
