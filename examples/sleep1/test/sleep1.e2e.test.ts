// sleep1 loaded alone: its wrapper runs around every sleep(1) of the
// sleeper, before a checkpoint, after it, and in the process restarted from
// that checkpoint after kill -9.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, expect, test } from 'vitest';
import { checkpointKillRestart, cleanup, launch, startCoordinator } from '@dmtcp/core/testing';
import { rhythm, waitForCycles } from './wrapper-lines.ts';

const pkgRoot = fileURLToPath(new URL('..', import.meta.url));
const PLUGIN = path.join(pkgRoot, 'build', 'lib', 'libsleep1.so');
const SLEEPER = path.join(pkgRoot, 'build', 'bin', 'sleeper');
const CYCLE = ['tick', 'sleep1: before', 'sleep1: after'];
const TICK = /^tick (\d+)$/;

afterEach(cleanup);

test('sleep1: the wrapper runs around sleep(1) before and after checkpoint, kill -9 and restart', async () => {
  const coord = await startCoordinator();
  const proc = launch(SLEEPER, [], { ...coord, args: ['--with-plugin', PLUGIN] });
  await waitForCycles(proc, CYCLE, 2);

  const cycle = await checkpointKillRestart(proc, TICK, coord, { linesAfterRestart: 3 });
  // the launched process kept the rhythm up to the kill, the checkpoint included
  expect(rhythm(proc, CYCLE).complete).toBeGreaterThanOrEqual(2);

  const back = cycle.proc;
  const after = await waitForCycles(back, CYCLE, 2);
  // The sleeper spends nearly all its time inside sleep(1), so the checkpoint
  // caught it inside the wrapper: the restarted process first finishes that
  // call, and the wrapper's "after" line comes from the restarted process.
  expect(after.lead.length, back.describe()).toBeGreaterThan(0);
  expect(after.lead.at(-1)).toBe('sleep1: after');
  expect(back.lines()[0]).toMatch(/^sleep1: after sleep\(1\) = \d+, \d+\.\d{3} s elapsed$/);
});
