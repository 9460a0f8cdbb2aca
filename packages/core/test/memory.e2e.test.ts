// 512 MiB of random data and a sparse 4 GiB mapping with a handful of
// written pages: the checksum must be the same after each restart, and the
// image must hold the sparse mapping's written pages only.
import { stat } from 'node:fs/promises';
import { afterEach, expect, test } from 'vitest';
import {
  checkpointImages, cleanup, compileFixture, coreFixture, inspectImage, kill9, launch, restart, startCoordinator,
  type Json, type JsonObject,
} from '../src/testing/index.ts';

const MiB = 1024 * 1024;
const PAGE = 4096;
/** Written pages plus pages read as zero by the checksum, with room to spare. */
const SPARSE_SAVED_LIMIT = 64 * PAGE;

afterEach(cleanup);

function toNumber(v: Json | undefined): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && /^(0x[0-9a-f]+|\d+)$/i.test(v)) return Number(v.startsWith('0x') || v.startsWith('0X') ? BigInt(v) : v);
  return undefined;
}

interface Region {
  start: number;
  end: number;
  saved: number;
}

function regionsOf(info: JsonObject): Region[] {
  const meta = info.meta;
  if (typeof meta !== 'object' || meta === null || Array.isArray(meta) || !Array.isArray(meta.regions)) {
    throw new Error(`image inspect: no meta.regions in ${JSON.stringify(info).slice(0, 500)}`);
  }
  return meta.regions.map((r) => {
    if (typeof r !== 'object' || r === null || Array.isArray(r)) throw new Error(`bad region ${JSON.stringify(r)}`);
    const start = toNumber(r.start);
    const end = toNumber(r.end);
    const saved = toNumber(r.saved_bytes);
    if (start === undefined || end === undefined || saved === undefined) throw new Error(`region without start/end/saved_bytes: ${JSON.stringify(r)}`);
    return { start, end, saved };
  });
}

const overlaps = (r: Region, start: number, len: number): boolean => r.start < start + len && start < r.end;

test('memory: 512 MiB random + sparse 4 GiB survive 2 restarts; sparse pages cost only what was written', async () => {
  const exe = await compileFixture(coreFixture('memory.c'));
  const coord = await startCoordinator();
  let proc = launch(exe, ['512', '4', '500'], coord);
  const ready = await proc.waitForLine(/^(READY ([0-9a-f]{16})|FAIL.*)$/, 60_000);
  expect(ready.line).toMatch(/^READY/);
  const sum = ready.match[2] as string;
  const bigLine = (await proc.waitForLine(/^BIG 0x([0-9a-f]+) (\d+)$/)).match;
  const sparseLine = (await proc.waitForLine(/^SPARSE 0x([0-9a-f]+) (\d+)/)).match;
  const big = { start: Number(BigInt(`0x${bigLine[1]}`)), len: Number(bigLine[2]) };
  const sparse = { start: Number(BigInt(`0x${sparseLine[1]}`)), len: Number(sparseLine[2]) };
  expect(sparse.len).toBe(4 * 1024 * MiB);

  for (let cycle = 1; cycle <= 2; cycle++) {
    const { images } = await checkpointImages(coord);
    expect(images).toHaveLength(1);
    const image = images[0] as string;

    // the checkpointed process goes on with its memory intact
    const resumed = await proc.waitForLine(/^(SUM|FAIL)/, 20_000, { after: proc.mark() });
    expect(resumed.line).toBe(`SUM ${sum}`);

    const size = (await stat(image)).size;
    expect(size, `image size of ${image}`).toBeGreaterThanOrEqual(512 * MiB);
    expect(size, `image size of ${image}`).toBeLessThan(600 * MiB);

    const regions = regionsOf(await inspectImage(image));
    const sparseRegions = regions.filter((r) => overlaps(r, sparse.start, sparse.len));
    expect(sparseRegions.length, `regions over the sparse mapping in ${JSON.stringify(regions)}`).toBeGreaterThan(0);
    // a restored mapping may have been merged with its anonymous neighbour
    let sparseSaved = 0;
    for (const r of sparseRegions) sparseSaved += overlaps(r, big.start, big.len) ? r.saved - big.len : r.saved;
    expect(sparseSaved, 'bytes saved for the sparse 4 GiB mapping').toBeLessThanOrEqual(SPARSE_SAVED_LIMIT);
    expect(sparseSaved, 'bytes saved for the sparse 4 GiB mapping').toBeGreaterThanOrEqual(8 * PAGE);

    await kill9(proc);
    proc = restart(images, coord);
    const after = await proc.waitForLine(/^(SUM|FAIL)/, 30_000);
    expect(after.line).toBe(`SUM ${sum}`);
  }
});
