// sleep2 and sleep1 loaded together: the wrappers nest in load order, and
// keep nesting the same way in the process restarted after kill -9.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, expect, test } from 'vitest';
import { checkpointKillRestart, cleanup, launch, startCoordinator } from '@dmtcp/core/testing';
import { rhythm, waitForCycles } from '../../sleep1/test/wrapper-lines.ts';

const pkgRoot = fileURLToPath(new URL('..', import.meta.url));
const sleep1Root = path.join(pkgRoot, '..', 'sleep1');
const SLEEP2 = path.join(pkgRoot, 'build', 'lib', 'libsleep2.so');
const SLEEP1 = path.join(sleep1Root, 'build', 'lib', 'libsleep1.so');
const SLEEPER = path.join(sleep1Root, 'build', 'bin', 'sleeper');
const TICK = /^tick (\d+)$/;

afterEach(cleanup);

test('sleep2:sleep1 nest (sleep2 outside) before and after checkpoint, kill -9 and restart', async () => {
  const nested = ['tick', 'sleep2: before', 'sleep1: before', 'sleep1: after', 'sleep2: after'];
  const coord = await startCoordinator();
  const proc = launch(SLEEPER, [], { ...coord, args: ['--with-plugin', `${SLEEP2}:${SLEEP1}`] });
  await waitForCycles(proc, nested, 2);

  const cycle = await checkpointKillRestart(proc, TICK, coord, { linesAfterRestart: 3 });
  expect(rhythm(proc, nested).complete).toBeGreaterThanOrEqual(2);

  const back = cycle.proc;
  const after = await waitForCycles(back, nested, 2);
  // Caught inside both wrappers (the sleeper is nearly always in sleep), the
  // restarted process unwinds them innermost first.
  expect(after.lead, back.describe()).toEqual(['sleep1: after', 'sleep2: after']);
});

test('the other load order, sleep1:sleep2, puts sleep1 outside', async () => {
  const flipped = ['tick', 'sleep1: before', 'sleep2: before', 'sleep2: after', 'sleep1: after'];
  const coord = await startCoordinator();
  const proc = launch(SLEEPER, [], { ...coord, args: ['--with-plugin', `${SLEEP1}:${SLEEP2}`] });
  await waitForCycles(proc, flipped, 2);
});
