// The core's mutex check with this plugin loaded: the program sees its old
// tids (gettid is virtual) while glibc and the kernel work with the new
// real ones, and mutex owners must follow the real ones. Recursive,
// error-checking, PI, robust and robust PI mutexes held across 3 checkpoint /
// kill -9 / restart cycles, with contenders blocked and a robust owner that
// exits after the restart (see packages/core/test/fixtures/mutex.c).
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, expect, test } from 'vitest';
import {
  checkpointImages, cleanup, compileFixture, coreFixture, launch, makeTmpDir, restart, startCoordinator, type Proc,
} from '@dmtcp/core/testing';
import { realTids, withPlugin } from './helpers.ts';

afterEach(cleanup);

const CHECKS = [
  'recursive', 'recursive-contender', 'errorcheck', 'pi', 'robust', 'robust-pi-contender', 'robust-owner-exit',
  'raise', 'pthread_kill',
].map((c) => `${c} ok`);

async function verdict(proc: Proc, cycle: number): Promise<string[]> {
  await proc.waitForLine(new RegExp(`^CYCLE ${cycle} (PASS|FAIL)$`), 90_000);
  const prefix = `CHECK ${cycle} `;
  return proc.lines().filter((l) => l.startsWith(prefix)).map((l) => l.slice(prefix.length));
}

function tidsOf(proc: Proc, cycle: number): string {
  const line = proc.lines().find((l) => l.startsWith(`TIDS ${cycle} `));
  if (!line) throw new Error(`no TIDS line for cycle ${cycle}`);
  return line.slice(`TIDS ${cycle} `.length);
}

test('mutex owners follow the real tids under virtual tids, over 3 restarts', async () => {
  const exe = await compileFixture(coreFixture('mutex.c'));
  const ctl = await makeTmpDir('dmtcp-pid-mutex-ctl-');
  const coord = await startCoordinator();
  const plugin = withPlugin();
  let proc = launch(exe, [ctl], { ...coord, ...plugin });
  expect(await verdict(proc, 0)).toEqual(CHECKS);
  const seen = tidsOf(proc, 0);
  for (let cycle = 1; cycle <= 3; cycle++) {
    await proc.waitForLine(new RegExp(`^ARMED ${cycle}$`), 30_000);
    const { images } = await checkpointImages(coord);
    expect(images).toHaveLength(1);
    await proc.kill9();
    proc = restart(images, coord);
    await writeFile(path.join(ctl, `go${cycle}`), '');
    expect(await verdict(proc, cycle), `after restart ${cycle}\n${proc.stderr()}`).toEqual(CHECKS);
    // the program still sees its first tids although the kernel's are new
    expect(tidsOf(proc, cycle)).toBe(seen);
    expect(await realTids(proc.pid)).not.toContain(Number(/main=(\d+)/.exec(seen)![1]));
  }
  await proc.waitForLine(/^ARMED 4$/, 30_000);
  await writeFile(path.join(ctl, 'stop'), '');
  expect(await proc.waitForExit(30_000), proc.describe()).toEqual({ code: 0, signal: null });
});
