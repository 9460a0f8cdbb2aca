// One eventfd, one epoll set, one signalfd and one pipe held by a parent and
// its child (made before the fork, test/fixtures/fork.c): after each
// restart they are one description again, so what the child writes to the
// eventfd the parent reads, the interest the child adds to the set the
// parent finds in its own, and the O_NONBLOCK the child sets and clears on
// the signalfd the parent sees change. As root and as an unprivileged user.
import { afterEach, expect, test } from 'vitest';
import { checkpointKillRestart, cleanup, launch, startCoordinator, type Proc } from '@dmtcp/core/testing';
import { BUILTINS, eventMessages, fixture } from './helpers.ts';

afterEach(cleanup);

const TICK = /^tick (\d+) wrote \d+$/;
const PARENT = /^parent sum (\d+) seen (\d+) nb ([01])$/;

function lastTick(proc: Proc): number {
  let last = 0;
  for (const l of proc.lines()) {
    const m = /^tick (\d+) wrote (\d+)$/.exec(l);
    if (m) last = Number(m[1]);
  }
  return last;
}

function parentLines(proc: Proc): { sum: number; seen: number; nb: number }[] {
  return proc.lines().flatMap((l) => {
    const m = PARENT.exec(l);
    return m ? [{ sum: Number(m[1]), seen: Number(m[2]), nb: Number(m[3]) }] : [];
  });
}

/** Waits until the parent has read more than `sum` from the eventfd, has
 *  seen an interest the child added after tick `tick`, and has seen the
 *  signalfd's O_NONBLOCK both set and cleared. */
async function parentFollows(proc: Proc, sum: number, tick: number): Promise<void> {
  await proc.waitUntil(() => {
    const lines = parentLines(proc);
    const toggled = lines.some((l) => l.nb === 1) && lines.some((l) => l.nb === 0);
    return lines.some((l) => l.sum > sum) && lines.some((l) => l.seen > tick) && toggled ? true : undefined;
  }, `waiting for the parent to read past ${sum}, to see an interest added after tick ${tick} and the signalfd's O_NONBLOCK change`, 10_000);
  const lines = parentLines(proc);
  const wrote = lastTick(proc);
  for (let i = 1; i < lines.length; i++) expect(lines[i]!.sum, proc.describe()).toBeGreaterThanOrEqual(lines[i - 1]!.sum);
  // Never more than the child wrote: one eventfd, every unit read once.
  expect(lines[lines.length - 1]!.sum, proc.describe()).toBeLessThanOrEqual(wrote);
  for (const l of lines) expect(l.seen % 2 === 1 || l.seen === 0, proc.describe()).toBe(true);
}

test.each([
  ['as root', undefined],
  ['as an unprivileged user', 'nobody' as const],
])('fork: eventfd, epoll set and signalfd stay shared between parent and child over 3 restarts: %s', async (_what, user) => {
  const exe = await fixture('fork.c');
  const coord = await startCoordinator();
  let proc = launch(exe, [], { ...coord, env: BUILTINS, user });
  await proc.waitForLine(/^tick 3 /);
  await parentFollows(proc, 0, 0);
  for (let cycle = 1; cycle <= 3; cycle++) {
    const before = proc;
    const result = await checkpointKillRestart(proc, TICK, coord, { env: BUILTINS, user, expectImages: 2, linesAfterRestart: 3 });
    proc = result.proc;
    const sums = parentLines(before);
    // What the parent had read when it was killed: the restarted one reads
    // on from its checkpointed sum, and only sharing makes it grow.
    const sumAtKill = sums[sums.length - 1]!.sum;
    await parentFollows(proc, sumAtKill, result.beforeKill);
    expect(eventMessages(proc), proc.describe()).toEqual([]);
  }
});
