// A descriptor in flight (SCM_RIGHTS) in a Unix datagram queue at the
// checkpoint: the checkpoint says, in one line naming the socket, that it
// will not be restored; after a kill -9 and restart the message's bytes
// are read back, without the descriptor.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, expect, test } from 'vitest';
import { checkpointImages, cleanup, launch, makeTmpDir, restart, startCoordinator, waitForProcesses } from '@dmtcp/core/testing';
import { BUILTINS, fixture, socketMessages } from './helpers.ts';

afterEach(cleanup);

test('a descriptor queued in a Unix socket is refused by name; the bytes come back', async () => {
  const exe = await fixture('scm_rights.c');
  const dir = await makeTmpDir('dmtcp-scm-');
  const coord = await startCoordinator();
  const proc = launch(exe, [dir], { ...coord, env: BUILTINS });
  const fd = (await proc.waitForLine(/^queued on fd (\d+)$/)).match[1];
  await waitForProcesses(coord.port, 1);
  const ckpt = await checkpointImages(coord);
  expect(socketMessages(proc)).toEqual([
    `dmtcp socket: fd ${fd} (unix dgram): a queued message carries descriptors (SCM_RIGHTS); they will not be restored, its bytes will`,
  ]);
  await proc.kill9();
  await waitForProcesses(coord.port, 0);
  const next = restart(ckpt.images, { ...coord, env: BUILTINS });
  await waitForProcesses(coord.port, 1);
  await writeFile(path.join(dir, 'go'), '');
  await next.waitForLine(/^got hello fds 0$/);
});
