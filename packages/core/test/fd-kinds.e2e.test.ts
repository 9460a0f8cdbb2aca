// Descriptors no loaded plugin restores: one warning per process at the
// checkpoint (the CLI's output and the coordinator's log), a line naming
// them when the image is restarted, and with --strict (or DMTCP_STRICT=1)
// a refused checkpoint that keeps the previous images. Also `node`, whose
// event loop is made of such descriptors.
import { createHash } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, expect, test } from 'vitest';
import {
  checkpointImages, cleanup, compileFixture, coreFixture, kill9, launch, makeTmpDir, restart, runCli, sequenceValues,
  startCoordinator, waitForProcesses, waitForValueAbove, type Coordinator, type Proc,
} from '../src/testing/index.ts';

afterEach(cleanup);

const COUNT = /^count (\d+)$/;

function openedFds(proc: Proc): number[] {
  const line = proc.lines().find((l) => l.startsWith('fds ')) ?? '';
  return line.split(' ').slice(1).map(Number);
}

/** The core is loaded alone here (no built-in plugins): the regular file
 *  is not restored either. */
function expectedList(proc: Proc, fds: number[]): string {
  const file = Number(/^file (\d+)$/m.exec(proc.lines().join('\n'))?.[1]);
  const kinds = ['epoll', 'eventfd', 'signalfd', 'inotify', 'timerfd', 'socket'];
  return [`fd ${file} (file)`, ...fds.map((fd, i) => `fd ${fd} (${kinds[i]})`)].join(', ');
}

const NEEDS = 'need plugin-event, plugin-file, plugin-socket, plugin-timer';

async function cliCheckpoint(coord: Coordinator): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return runCli(['command', '--coord-port', String(coord.port), '--checkpoint'], { timeoutMs: 30_000 });
}

async function imageDigests(dir: string): Promise<string[]> {
  const names = (await readdir(dir)).filter((n) => /\.dmtcp(\.tmp)?$/.test(n)).sort();
  return Promise.all(names.map(async (n) => `${n} ${createHash('sha256').update(await readFile(path.join(dir, n))).digest('hex')}`));
}

test('a warning at checkpoint, a line at restart, and the program goes on without them', async () => {
  const coord = await startCoordinator();
  const exe = await compileFixture(coreFixture('fdkinds.c'));
  let proc = launch(exe, [], coord);
  await proc.waitForLine(/^count 3$/);
  const fds = openedFds(proc);
  expect(fds).toHaveLength(6);

  const res = await cliCheckpoint(coord);
  expect(res.code, res.stderr).toBe(0);
  const image = /(\/\S+\.dmtcp)$/m.exec(res.stdout)?.[1] as string;
  expect(image, res.stdout).toBeTruthy();
  const name = path.basename(image);
  const list = expectedList(proc, fds);
  const line = `${name}: ${list} will not be restored: ${NEEDS}`;
  expect(res.stderr.trim().split('\n')).toEqual([`warning: ${line}`]);
  await coord.proc.waitUntil(() => (coord.proc.lines().includes(`warning: ${line}`) ? true : undefined), 'the warning in the log');
  expect(coord.proc.lines().filter((l) => l.startsWith('warning:'))).toEqual([`warning: ${line}`]);

  const before = sequenceValues(proc, COUNT).at(-1) as number;
  await kill9(proc);
  await waitForProcesses(coord.port, 0);
  proc = restart([image], { port: coord.port });
  await waitForValueAbove(proc, COUNT, before + 2);
  const note = proc.stderr().split('\n').filter((l) => l.includes('were not restored'));
  expect(note.map((l) => l.replace(/^dmtcp\[\d+\]: /, ''))).toEqual([`${name}: ${list} were not restored (${NEEDS}); the program fails if it uses them`]);

  // Gone after the restart: nothing to warn about any more, and the next
  // cycles go as usual.
  for (let cycle = 2; cycle <= 3; cycle++) {
    const again = await cliCheckpoint(coord);
    expect(again.code, again.stderr).toBe(0);
    // (What the restart command itself inherited may be listed: the core
    // alone does not close it.)
    expect(again.stderr).not.toMatch(/\((file|epoll|eventfd|signalfd|inotify|timerfd|socket)\)/);
    const at = sequenceValues(proc, COUNT).at(-1) as number;
    await waitForValueAbove(proc, COUNT, at + 2);
    await kill9(proc);
    await waitForProcesses(coord.port, 0);
    proc = restart([image], { port: coord.port });
    await waitForValueAbove(proc, COUNT, at + 3);
    expect(proc.stderr()).not.toMatch(/were not restored/);
  }
});

for (const how of ['--strict', 'DMTCP_STRICT=1'] as const) {
  test(`${how}: the checkpoint is refused, the previous images stay, and the setting survives a restart`, async () => {
    const coord = await startCoordinator();
    const exe = await compileFixture(coreFixture('fdkinds.c'));
    const trigger = path.join(await makeTmpDir('dmtcp-trigger-'), 'open');
    const opts = how === '--strict' ? { args: ['--strict'] } : { env: { DMTCP_STRICT: '1' } };
    let proc = launch(exe, [trigger], { ...coord, ...opts });
    await proc.waitForLine(/^count 3$/);
    const good = await checkpointImages(coord);
    const kept = await imageDigests(coord.ckptDir);

    await writeFile(trigger, '');
    await proc.waitForLine(/^fds /);
    const fds = openedFds(proc);
    const name = path.basename(good.images[0] as string);
    const line = `${name}: ${expectedList(proc, fds)} will not be restored: ${NEEDS}`;
    for (let attempt = 1; attempt <= 3; attempt++) {
      const res = await cliCheckpoint(coord);
      expect(res.code).not.toBe(0);
      expect(res.stderr.trim().split('\n')).toEqual([`warning: ${line}`, `dmtcp command: checkpoint ${1 + attempt} failed: --strict: ${line}`]);
      expect(await imageDigests(coord.ckptDir)).toEqual(kept);
      const at = sequenceValues(proc, COUNT).at(-1) as number;
      await waitForValueAbove(proc, COUNT, at + 1);
    }

    // The restarted process (from before the descriptors) is still strict:
    // it opens them again and its checkpoint is refused again.
    await kill9(proc);
    await waitForProcesses(coord.port, 0);
    proc = restart(good.images, { port: coord.port });
    await proc.waitForLine(/^fds /);
    await waitForProcesses(coord.port, 1);
    const res = await cliCheckpoint(coord);
    expect(res.code).not.toBe(0);
    expect(res.stderr).toMatch(/failed: --strict: .* will not be restored/);
    expect(await imageDigests(coord.ckptDir)).toEqual(kept);
  });
}

test('node with a timer: its epoll sets and eventfds are named at checkpoint and at restart', async () => {
  const coord = await startCoordinator();
  const proc = launch(process.execPath, ['-e', 'let n = 0; setInterval(() => console.log(`count ${++n}`), 50)'], coord);
  await proc.waitForLine(/^count 3$/);
  const res = await cliCheckpoint(coord);
  expect(res.code, res.stderr).toBe(0);
  const warnings = res.stderr.trim().split('\n');
  expect(warnings).toHaveLength(1);
  expect(warnings[0]).toMatch(/^warning: ckpt_node_[0-9a-f]{16}\.dmtcp: fd \d+ \(epoll\), .*fd \d+ \(eventfd\).* will not be restored: need plugin-event/);
  const image = /(\/\S+\.dmtcp)$/m.exec(res.stdout)?.[1] as string;
  await kill9(proc);
  await waitForProcesses(coord.port, 0);
  const again = restart([image], { port: coord.port });
  // libuv aborts on the first epoll_wait of a set that is gone (today's
  // outcome without plugin-event); what it is about is said first.
  const named = /^dmtcp\[\d+\]: ckpt_node_[0-9a-f]{16}\.dmtcp: fd \d+ \(epoll\).* were not restored \(need plugin-event/m;
  for (const deadline = Date.now() + 20_000; !named.test(again.stderr()) && again.running && Date.now() < deadline;) {
    await new Promise((r) => setTimeout(r, 50));
  }
  expect(again.stderr()).toMatch(named);
});
