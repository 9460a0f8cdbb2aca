// Mutex owners after restart. glibc names a mutex's owner by tid, and a
// restarted thread has a new tid: the fixture holds recursive (locked twice),
// error-checking, PI, robust and robust PI mutexes in the main thread and in
// a worker across each checkpoint, with two threads blocked contending and
// one about to exit holding robust mutexes. After each of 3 checkpoint /
// kill -9 / restart cycles it checks that owners re-lock and unlock, others
// get EBUSY/EPERM, the contenders get their mutexes once released, the exit
// hands the robust ones over with EOWNERDEAD, and raise and pthread_kill
// reach the thread meant. As root, as user nobody, and with
// `restart --restore-pids` (same tids: the restart has nothing to fix).
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, expect, test } from 'vitest';
import {
  checkpointImages, cleanup, compileFixture, coreFixture, kill9, launch, makeTmpDir, restart, startCoordinator,
  type Proc, type RunAs,
} from '../src/testing/index.ts';

afterEach(cleanup);

const CHECKS = [
  'recursive', 'recursive-contender', 'errorcheck', 'pi', 'robust', 'robust-pi-contender', 'robust-owner-exit',
  'raise', 'pthread_kill',
];

/** Waits for the verdict of `cycle` and returns its CHECK lines, in order, without the cycle number. */
async function verdict(proc: Proc, cycle: number, after: number): Promise<string[]> {
  await proc.waitForLine(new RegExp(`^CYCLE ${cycle} (PASS|FAIL)$`), 90_000, { after });
  const prefix = `CHECK ${cycle} `;
  return proc.lines().slice(after).filter((l) => l.startsWith(prefix)).map((l) => l.slice(prefix.length));
}

const allOk = CHECKS.map((c) => `${c} ok`);

/** The tids the program saw (main, worker H) in `cycle`. */
function tids(proc: Proc, cycle: number): string {
  const line = proc.lines().find((l) => l.startsWith(`TIDS ${cycle} `));
  if (!line) throw new Error(`no TIDS line for cycle ${cycle}`);
  return line.slice(`TIDS ${cycle} `.length);
}

test.each([
  { as: 'root', user: undefined as RunAs | undefined, restoreArgs: [] as string[] },
  { as: 'user nobody', user: 'nobody' as RunAs, restoreArgs: [] as string[] },
  { as: 'root, restart --restore-pids', user: undefined as RunAs | undefined, restoreArgs: ['--restore-pids'] },
])('mutex owners, contenders and robust lists survive 3 restarts ($as)', async ({ user, restoreArgs }) => {
  const exe = await compileFixture(coreFixture('mutex.c'));
  const ctl = await makeTmpDir('dmtcp-mutex-ctl-');
  const coord = await startCoordinator();
  let proc = launch(exe, [ctl], { ...coord, user });
  expect(await verdict(proc, 0, 0), 'the checks without a checkpoint').toEqual(allOk);
  let before = tids(proc, 0);

  for (let cycle = 1; cycle <= 3; cycle++) {
    await proc.waitForLine(new RegExp(`^ARMED ${cycle}$`), 30_000);
    const { images } = await checkpointImages(coord);
    expect(images).toHaveLength(1);
    await kill9(proc);

    proc = restart(images, { ...coord, user, args: restoreArgs });
    await writeFile(path.join(ctl, `go${cycle}`), '');
    expect(await verdict(proc, cycle, 0), `after restart ${cycle}\n${proc.stderr()}`).toEqual(allOk);
    // Without --restore-pids the kernel gave new tids: the owners had to be rewritten.
    if (restoreArgs.length) {
      expect(proc.stderr()).toContain('dmtcp restart: restoring the checkpointed pids in a new pid namespace');
      expect(tids(proc, cycle)).toBe(before);
    } else {
      expect(tids(proc, cycle)).not.toBe(before);
    }
    before = tids(proc, cycle);
  }
  await proc.waitForLine(/^ARMED 4$/, 30_000);
  await writeFile(path.join(ctl, 'stop'), '');
  expect(await proc.waitForExit(30_000), proc.describe()).toEqual({ code: 0, signal: null });
});
