// Every kind of memory region comes back: shared anonymous, private file
// mapping with modified pages, a region made PROT_NONE after it was filled,
// a deep stack; and the heap keeps growing with brk from where it ended
// (malloc of 1 MiB blocks kept on the heap, sbrk contiguous).
import path from 'node:path';
import { afterEach, expect, test } from 'vitest';
import {
  checkpointImages, cleanup, compileFixture, coreFixture, inspectImage, launch, makeTmpDir, restart, startCoordinator,
  waitForProcesses,
} from '../src/testing/index.ts';

afterEach(cleanup);

test('shared anonymous, private file, PROT_NONE regions, stack and heap survive 2 restarts', async () => {
  const exe = await compileFixture(coreFixture('mappings.c'));
  const scratch = path.join(await makeTmpDir('dmtcp-map-'), 'data.bin');
  const coord = await startCoordinator();
  let proc = launch(exe, [scratch], coord);
  await proc.waitForLine(/^READY$/);
  await waitForProcesses(coord.port, 1);

  for (let cycle = 1; cycle <= 2; cycle++) {
    const { images } = await checkpointImages(coord);
    const meta = (await inspectImage(images[0] as string)).meta as { regions: { path: string; flags: string[]; saved_bytes: number }[] };
    const filePriv = meta.regions.filter((r) => r.path === scratch);
    // only the 4 modified pages of the private file mapping are in the image
    expect(filePriv.reduce((n, r) => n + r.saved_bytes, 0)).toBe(4 * 4096);
    await proc.kill9();
    await waitForProcesses(coord.port, 0);
    proc = restart(images, coord);
    await waitForProcesses(coord.port, 1, { watch: proc });
    const mark = proc.lines().length;
    proc.write('check\n');
    const { line } = await proc.waitForLine(/^CHECK /, 20_000, { after: mark });
    expect(line).toBe('CHECK ok');
  }
});
