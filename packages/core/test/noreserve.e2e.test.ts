// Reservations the kernel allowed without charging them come back: a
// 64 GiB MAP_NORESERVE region touched sparsely and a 1 TiB PROT_NONE
// reservation with a read-write window, over 3 checkpoint / kill -9 /
// restart cycles, as root and as nobody. Touched pages keep their content,
// untouched ones read zero, and the image holds only what was touched.
import { stat } from 'node:fs/promises';
import { afterEach, expect, test } from 'vitest';
import {
  checkpointKillRestart, cleanup, compileFixture, coreFixture, inspectImage, launch, startCoordinator, waitForProcesses,
  type Proc, type RunAs,
} from '../src/testing/index.ts';

const COUNT = /^count (\d+)$/;
const GIB = 2 ** 30;

afterEach(cleanup);

async function check(proc: Proc, what: string): Promise<number> {
  const mark = proc.mark();
  proc.write('check\n');
  const { line } = await proc.waitForLine(/^CHECK /, 20_000, { after: mark });
  const m = /^CHECK ok touched=(\d+)$/.exec(line);
  expect(m, `${what}: ${line}\n${proc.describe()}`).not.toBeNull();
  return Number(m?.[1]);
}

interface RegionMeta { start: string; end: string; prot: string; flags: string[]; saved_bytes: number }

async function cycles(user: RunAs | undefined): Promise<void> {
  const exe = await compileFixture(coreFixture('noreserve.c'));
  const coord = await startCoordinator();
  let proc = launch(exe, [], { ...coord, user });
  await proc.waitForLine(/^count 3$/);
  let touched = await check(proc, 'before any checkpoint');
  for (let cycle = 1; cycle <= 3; cycle++) {
    const r = await checkpointKillRestart(proc, COUNT, coord, { user, linesAfterRestart: 3 });
    proc = r.proc;
    const image = r.images[0] as string;
    // only the touched pages are in the image: 64 per touch plus the window
    expect((await stat(image)).size, image).toBeLessThan(8 * 2 ** 20);
    const regions = ((await inspectImage(image)).meta as unknown as { regions: RegionMeta[] }).regions;
    const size = (g: RegionMeta): number => Number(BigInt(g.end) - BigInt(g.start));
    const big = regions.filter((g) => g.prot === 'rw-p' && size(g) >= 60 * GIB);
    expect(big.length, JSON.stringify(regions.filter((g) => size(g) > GIB))).toBeGreaterThan(0);
    for (const g of big) expect(g.flags, `${g.start}-${g.end}`).toContain('noreserve');
    const reserved = regions.filter((g) => g.prot === '---p' && size(g) >= 1000 * GIB);
    expect(reserved).toHaveLength(1);
    expect(reserved[0]?.flags).toContain('noreserve');
    expect(reserved[0]?.saved_bytes).toBe(0);
    await waitForProcesses(coord.port, 1, { watch: proc });
    const now = await check(proc, `after restart ${cycle}`);
    expect(now).toBe(touched + 1);
    touched = now;
  }
}

test('NORESERVE and PROT_NONE reservations: 3 restarts as root', async () => {
  await cycles(undefined);
});

test('NORESERVE and PROT_NONE reservations: 3 restarts as nobody', async () => {
  await cycles('nobody');
});
