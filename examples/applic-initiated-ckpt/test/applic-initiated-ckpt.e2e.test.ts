// An application that checkpoints itself: dmtcp_checkpoint() returns
// DMTCP_AFTER_CHECKPOINT in the running process and DMTCP_AFTER_RESTART in
// the process restarted from that image after kill -9; without dmtcp the
// same binary runs and says dmtcp is not present.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, expect, test } from 'vitest';
import { Proc, childEnv, cleanup, images, launch, restart, startCoordinator } from '@dmtcp/core/testing';

const pkgRoot = fileURLToPath(new URL('..', import.meta.url));
const APP = path.join(pkgRoot, 'build', 'bin', 'applic-ckpt');

afterEach(cleanup);

test('dmtcp_checkpoint() returns DMTCP_AFTER_CHECKPOINT, then DMTCP_AFTER_RESTART in the restarted process', async () => {
  const coord = await startCoordinator();
  const proc = launch(APP, ['10', '300'], coord);
  await proc.waitForLine(/^dmtcp is present$/);
  const asked = await proc.waitForLine(/^dmtcp_checkpoint\(\) returned/);
  expect(asked.line).toBe('dmtcp_checkpoint() returned 1 (DMTCP_AFTER_CHECKPOINT)');
  // the call returns once the image is on disk; nobody ran `dmtcp command`
  const written = await images(coord.ckptDir);
  expect(written).toHaveLength(1);
  expect(proc.lines().slice(0, asked.index)).toEqual(['dmtcp is present', 'step 1', 'step 2', 'step 3']);
  // the process goes on after its checkpoint
  await proc.waitForLine(/^step 5$/, 20_000, { after: asked.index });
  await proc.kill9();

  const back = restart(written, coord);
  const status = await back.waitForExit(30_000);
  expect(status, back.describe()).toEqual({ code: 0, signal: null });
  // The restarted process starts where the image was taken: inside the call.
  expect(back.lines()).toEqual([
    'dmtcp_checkpoint() returned 2 (DMTCP_AFTER_RESTART)',
    'restarted from the checkpoint taken after step 3',
    ...[4, 5, 6, 7, 8, 9, 10].map((i) => `step ${i}`),
    'done',
  ]);
});

test('without dmtcp the same program runs to the end and reports dmtcp as not present', async () => {
  const proc = new Proc([APP, '5', '10'], { env: childEnv(), label: 'applic-ckpt (no dmtcp)' });
  const status = await proc.waitForExit(20_000);
  expect(status, proc.describe()).toEqual({ code: 0, signal: null });
  expect(proc.lines()).toEqual([
    'dmtcp is not present: running without checkpoints',
    'step 1', 'step 2', 'step 3',
    'no checkpoint: dmtcp is not present',
    'step 4', 'step 5',
    'done',
  ]);
});
