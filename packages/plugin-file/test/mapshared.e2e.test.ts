// A MAP_SHARED mapping of a file comes back over the same file: after restart
// the mapping and the file agree, and the counter goes on from the value in
// the file (the image holds no stale copy of a shared file's pages).
import path from 'node:path';
import { readFile } from 'node:fs/promises';
import { afterEach, expect, test } from 'vitest';
import { cleanup, launch, makeTmpDir, startCoordinator, waitForProcesses, waitForValueAbove } from '@dmtcp/core/testing';
import { cycle, fixture, pluginArgs } from './helpers.ts';

afterEach(cleanup);

const COUNT = /^count (\d+) /;

test('a MAP_SHARED file mapping and its file agree after restart, twice', async () => {
  const exe = await fixture('mapshared.c');
  const file = path.join(await makeTmpDir('dmtcp-mapshared-'), 'counter.bin');
  const coord = await startCoordinator();
  let proc = launch(exe, [file], { ...coord, args: await pluginArgs() });
  await proc.waitForLine(/^count 5 agree$/);
  await waitForProcesses(coord.port, 1);
  for (let i = 0; i < 2; i++) {
    proc = (await cycle(proc, COUNT, coord)).proc;
    const now = await waitForValueAbove(proc, COUNT, 0);
    await waitForValueAbove(proc, COUNT, now + 3);
    expect(proc.lines().filter((l) => l.includes('DIFFER'))).toEqual([]);
    const onDisk = (await readFile(file)).readBigInt64LE(0);
    expect(Number(onDisk)).toBeGreaterThanOrEqual(now);
  }
});
