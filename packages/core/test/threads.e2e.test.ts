// Eight consumers, a producer and a thread spawner over three checkpoint /
// kill -9 / restart cycles. Checkpoints are requested back to back while a
// ninth thread is created; at the end every thread is joined and the program
// checks its totals.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, expect, test } from 'vitest';
import {
  checkpoint, checkpointImages, cleanup, compileFixture, coreFixture, kill9, launch, makeTmpDir, restart,
  startCoordinator, type Proc,
} from '../src/testing/index.ts';

const PROGRESS = /^T(\d+) n=(\d+)$/;

afterEach(cleanup);

/** Highest progress count each thread has printed, from line `after` on. */
function progress(proc: Proc, after = 0): Map<number, number> {
  const best = new Map<number, number>();
  for (const line of proc.lines().slice(after)) {
    const m = PROGRESS.exec(line);
    if (m) best.set(Number(m[1]), Math.max(best.get(Number(m[1])) ?? 0, Number(m[2])));
  }
  return best;
}

function firstProgress(proc: Proc, thread: number): number | undefined {
  for (const line of proc.lines()) {
    const m = PROGRESS.exec(line);
    if (m && Number(m[1]) === thread) return Number(m[2]);
  }
  return undefined;
}

/** Wait until each of threads 0..n-1 has printed progress above `floor` (per thread) since `after`. */
function waitForAllThreads(proc: Proc, n: number, floor: Map<number, number>, after: number, what: string): Promise<Map<number, number>> {
  return proc.waitUntil(() => {
    const p = progress(proc, after);
    for (let i = 0; i < n; i++) if ((p.get(i) ?? 0) <= (floor.get(i) ?? 0)) return undefined;
    return p;
  }, `waiting for progress of all ${n} consumer threads ${what}`, 30_000);
}

test('threads: 8 threads with a mutex, condition variables and __thread counters over 3 cycles', async () => {
  const exe = await compileFixture(coreFixture('threads.c'));
  const ctl = await makeTmpDir('dmtcp-threads-ctl-');
  const coord = await startCoordinator();
  let proc = launch(exe, [ctl], coord);
  let threads = 8;
  await waitForAllThreads(proc, threads, new Map(), 0, 'after launch');
  await proc.waitForLine(/^SPAWN n=\d+$/);

  for (let cycle = 1; cycle <= 3; cycle++) {
    const before = progress(proc);
    if (cycle === 1) {
      // checkpoints requested back to back while the late thread comes into being
      let requesting = true;
      let rounds = 0;
      const loop = (async () => {
        while (requesting || rounds < 2) {
          await checkpoint(coord.port);
          rounds++;
        }
      })();
      loop.catch(() => {}); // reported by the await below
      await writeFile(path.join(ctl, 'late'), '');
      await proc.waitForLine(/^LATE created$/);
      requesting = false;
      await loop;
      threads = 9;
    }
    const { images } = await checkpointImages(coord);
    expect(images).toHaveLength(1);
    // the checkpointed process carries on
    await waitForAllThreads(proc, threads, progress(proc), proc.mark(), `after checkpoint ${cycle}`);
    await kill9(proc);
    const atKill = progress(proc);

    proc = restart(images, coord);
    await waitForAllThreads(proc, threads, before, 0, `after restart ${cycle}`);
    // and threads can still be created and joined
    await proc.waitForLine(/^SPAWN n=\d+$/);
    // __thread counters came back: every thread goes on from its count at the checkpoint, not from 0
    for (let i = 0; i < threads; i++) {
      const firstSeen = firstProgress(proc, i);
      expect(firstSeen, `T${i}: first count after restart ${cycle}`).toBeGreaterThan(before.get(i) ?? 0);
      expect(firstSeen, `T${i}: first count after restart ${cycle}`).toBeLessThanOrEqual((atKill.get(i) ?? 0) + 50);
    }
  }

  await writeFile(path.join(ctl, 'stop'), '');
  const verdict = await proc.waitForLine(/^(PASS|FAIL.*)$/, 30_000);
  expect(verdict.line).toBe('PASS');
  const joined = (await proc.waitForLine(/^JOINED total=(\d+) consumed=(\d+) threads=(\d+)/)).match;
  expect(Number(joined[1])).toBeGreaterThan(0);
  expect(Number(joined[2])).toBe(Number(joined[1]));
  expect(Number(joined[3])).toBe(9);
  const st = await proc.waitForExit();
  expect(st, proc.describe()).toEqual({ code: 0, signal: null });
});
