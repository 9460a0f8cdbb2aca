// An inotify instance watching directories the program writes into
// (test/fixtures/inotify_loop.c), through 3 checkpoint / kill -9 / restart
// cycles, as root and as nobody.  The events of each tick are read at the
// next one, so they are queued in the kernel at every checkpoint; each line
// must still count exactly one IN_CREATE and one IN_MODIFY per earlier tick
// in both directories, so none is lost or doubled.  The watch numbers have a
// gap (wd 2 removed) that must be kept; before the second restart the
// watched directory gone/ is removed, and the program must get IN_IGNORED
// for its wd exactly once.
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, expect, test } from 'vitest';
import {
  assertConsecutive, checkpointImages, checkpointKillRestart, cleanup, kill9, launch, restart, sequenceValues, startCoordinator,
  type Proc, type RunAs,
} from '@dmtcp/core/testing';
import { BUILTINS, eventMessages, fixture, warnings } from './helpers.ts';

afterEach(cleanup);

const TICK = /^tick (\d+) /;
const LINE = /^tick (\d+) a (\d+)\/(\d+) c (\d+)\/(\d+) gone (\d+) other (\d+)$/;

function counts(proc: Proc): { n: number; gone: number } {
  expect(proc.lines().filter((l) => l.startsWith('BAD')), proc.describe()).toEqual([]);
  let n = 0;
  let gone = 0;
  for (const l of proc.lines()) {
    const m = LINE.exec(l);
    if (!m) continue;
    const [tick, ac, am, cc, cm, g, other] = m.slice(1).map(Number) as [number, number, number, number, number, number, number];
    const want = tick - 1;
    expect({ ac, am, cc, cm, other }, `${l}\n${proc.describe()}`).toEqual({ ac: want, am: want, cc: want, cm: want, other: 0 });
    gone = g;
    n++;
  }
  return { n, gone };
}

for (const user of [undefined, 'nobody'] as const) {
  test(`inotify: queued events, a wd gap and a vanished watch over 3 restarts${user ? ' as nobody' : ''}`, async () => {
    const exe = await fixture('inotify_loop.c');
    const dir = await mkdtemp(path.join(os.tmpdir(), 'dmtcp-inotify-'));
    await chmod(dir, 0o777);
    const coord = await startCoordinator();
    const as: { user?: RunAs } = user ? { user } : {};
    let proc = launch(exe, [dir], { ...coord, env: BUILTINS, ...as });
    await proc.waitForLine(/^tick 4 /);
    expect(proc.lines()).toContain('wds 1 2 3 4');
    for (let cycle = 1; cycle <= 3; cycle++) {
      if (cycle !== 2) {
        const before = proc;
        proc = (await checkpointKillRestart(proc, TICK, coord, { env: BUILTINS, ...as, linesAfterRestart: 5 })).proc;
        // The original went on after the checkpoint drained its queue: the read() wrapper served it too.
        counts(before);
        const { n, gone } = counts(proc);
        expect(n).toBeGreaterThanOrEqual(5);
        expect(gone, proc.describe()).toBe(cycle === 1 ? 0 : 1);
        expect(eventMessages(proc), proc.describe()).toEqual([]);
        continue;
      }
      const { images } = await checkpointImages(coord);
      const last = sequenceValues(proc, TICK).at(-1) ?? 0;
      await proc.waitUntil(() => ((sequenceValues(proc, TICK).at(-1) ?? 0) > last + 1 ? true : undefined), 'ticks after the checkpoint', 20_000);
      counts(proc);
      await kill9(proc);
      await rm(path.join(dir, 'gone'), { recursive: true });
      proc = restart(images, { port: coord.port, env: BUILTINS, ...as });
      await proc.waitUntil(() => (sequenceValues(proc, TICK).length >= 5 ? true : undefined), 'ticks after restart', 20_000);
      assertConsecutive(sequenceValues(proc, TICK), 'after restart');
      const { gone } = counts(proc);
      expect(gone, proc.describe()).toBe(1);
      const msgs = eventMessages(proc);
      expect(msgs, proc.describe()).toHaveLength(1);
      expect(msgs[0]).toMatch(/^dmtcp event: fd \d+ \(inotify\): watch 4 on .*\/gone cannot be made again \(no such entry\); the program gets IN_IGNORED for it$/);
    }
    expect(warnings(coord)).toEqual([]);
    await rm(dir, { recursive: true, force: true });
  });
}

// A program that waits for the descriptor to be readable (epoll_wait with an
// edge-triggered interest, or poll) before it reads: the events queued at
// each checkpoint are drained from the kernel, so unless the kernel object
// is made readable again the wait sleeps through them (a lost wakeup, which
// the fixture reports as BAD after 3 s).  On resume and after each restart
// every tick must count exactly its own create and modify.
const WAIT_LINE = /^tick (\d+) create (\d+) modify (\d+)$/;

function waitCounts(proc: Proc): number {
  expect(proc.lines().filter((l) => l.startsWith('BAD')), proc.describe()).toEqual([]);
  let n = 0;
  for (const l of proc.lines()) {
    const m = WAIT_LINE.exec(l);
    if (!m) continue;
    const [tick, creates, modifies] = m.slice(1).map(Number) as [number, number, number];
    expect({ creates, modifies }, `${l}\n${proc.describe()}`).toEqual({ creates: tick, modifies: tick });
    n++;
  }
  return n;
}

for (const mode of ['epoll', 'poll'] as const) {
  for (const user of [undefined, 'nobody'] as const) {
    test(`inotify: a program waiting in ${mode} is woken for the events drained at checkpoint, on resume and over 3 restarts${user ? ' as nobody' : ''}`, async () => {
      const exe = await fixture('inotify_wait.c');
      const dir = await mkdtemp(path.join(os.tmpdir(), 'dmtcp-inotify-wait-'));
      await chmod(dir, 0o777);
      const coord = await startCoordinator();
      const as: { user?: RunAs } = user ? { user } : {};
      let proc = launch(exe, [mode, dir], { ...coord, env: BUILTINS, ...as });
      await proc.waitForLine(/^tick 3 /);
      for (let cycle = 1; cycle <= 3; cycle++) {
        const before = proc;
        proc = (await checkpointKillRestart(proc, TICK, coord, { env: BUILTINS, ...as, linesAfterRestart: 4 })).proc;
        waitCounts(before);
        expect(waitCounts(proc)).toBeGreaterThanOrEqual(4);
        expect(eventMessages(proc), proc.describe()).toEqual([]);
      }
      expect(warnings(coord)).toEqual([]);
      await rm(dir, { recursive: true, force: true });
    });
  }
}
