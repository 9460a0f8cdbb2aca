// A checkpoint must be invisible to blocking calls: one thread blocked in each
// call the kernel would end with EINTR (or a short count) when the checkpoint
// signal arrives. Timed calls must end with their timeout, not before and not
// a whole timeout later; woken calls must return what woke them.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, expect, test } from 'vitest';
import {
  checkpoint, checkpointImages, cleanup, compileFixture, coreFixture, kill9, launch, makeTmpDir, restart,
  startCoordinator, waitForProcesses, type Proc, type RunAs,
} from '../src/testing/index.ts';

const RESULT = /^RESULT (\S+) (ok|FAIL.*)$/;
const DONE = /^DONE ok=(\d+) fail=(\d+)$/;

afterEach(cleanup);

/** Every RESULT line the processes printed, by call name. */
function results(proc: Proc, before: Map<string, string> = new Map()): Map<string, string> {
  const out = new Map(before);
  for (const line of proc.lines()) {
    const m = RESULT.exec(line);
    if (m) out.set(m[1] as string, m[2] as string);
  }
  return out;
}

async function finish(proc: Proc, ctl: string, threads: number, before?: Map<string, string>): Promise<void> {
  await writeFile(path.join(ctl, 'go'), '');
  await proc.waitForLine(DONE, 30_000);
  const got = results(proc, before);
  const failed = [...got].filter(([, v]) => v !== 'ok').map(([k, v]) => `${k}: ${v}`);
  expect(failed, 'calls cut short by a checkpoint').toEqual([]);
  expect(got.size, 'every blocked call reported').toBe(threads);
  expect(await proc.waitForExit(10_000)).toEqual({ code: 0, signal: null });
}

async function fiveCheckpoints(user?: RunAs): Promise<void> {
  const exe = await compileFixture(coreFixture('blocking.c'));
  const ctl = await makeTmpDir('dmtcp-blocking-');
  const coord = await startCoordinator();
  const proc = launch(exe, [ctl, 'resume'], { ...coord, user });
  const ready = await proc.waitForLine(/^READY threads=(\d+)$/);
  const threads = Number(ready.match[1]);
  expect(threads).toBeGreaterThan(40);
  for (let i = 0; i < 5; i++) await checkpoint(coord.port);
  // Nothing may have come back while the checkpoints ran.
  const early = [...results(proc)].filter(([name]) => !name.endsWith('-timeout') && !name.includes('sleep'));
  expect(early, 'calls that returned before they were woken').toEqual([]);
  await finish(proc, ctl, threads);
}

test('blocking calls: 42 threads blocked across 5 checkpoints see no EINTR, short count or early timeout', async () => {
  await fiveCheckpoints();
});

test('blocking calls as user nobody, 5 checkpoints', async () => {
  await fiveCheckpoints('nobody');
});

test('blocking calls: blocked across 3 checkpoint / kill -9 / restart cycles', async () => {
  const exe = await compileFixture(coreFixture('blocking.c'));
  const ctl = await makeTmpDir('dmtcp-blocking-');
  const coord = await startCoordinator();
  let proc = launch(exe, [ctl, 'restart'], coord);
  const ready = await proc.waitForLine(/^READY threads=(\d+)$/);
  const threads = Number(ready.match[1]);
  // Results printed by earlier lives (timed calls may end between cycles).
  let seen = new Map<string, string>();
  for (let cycle = 1; cycle <= 3; cycle++) {
    const { images } = await checkpointImages(coord);
    seen = results(proc, seen);
    await kill9(proc);
    proc = restart(images, coord);
    await waitForProcesses(coord.port, 1, { watch: proc });
  }
  await finish(proc, ctl, threads, seen);
});
