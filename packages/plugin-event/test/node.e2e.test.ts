// node's event loop (libuv: epoll sets, and eventfds that wake it from its
// thread pool and other threads) through 3 checkpoint / kill -9 / restart
// cycles: without this plugin it aborts on the first epoll_wait after a
// restart (packages/core/test/fd-kinds.e2e.test.ts).
//
// The full check: a timer, fs.watch on a directory this test writes into
// (libuv's inotify descriptor, in the loop's epoll set), a worker thread
// answering the main thread's messages (its own loop and the async
// eventfds between them), and a SIGUSR2 handler (libuv's signal pipe).
// After each restart the test writes new files and sends SIGUSR2: the
// process must report every file exactly once, every signal, and the
// worker must go on answering.
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, expect, test } from 'vitest';
import { checkpointKillRestart, cleanup, launch, startCoordinator, type Proc } from '@dmtcp/core/testing';
import { BUILTINS, eventMessages, warnings } from './helpers.ts';

afterEach(cleanup);

const COUNT = /^count (\d+)/;
const TIMER_ONLY = 'let n = 0; setInterval(() => console.log(`count ${++n}`), 50)';

test('node with a timer goes on counting after 3 restarts, and the checkpoint warns about nothing', async () => {
  const coord = await startCoordinator();
  let proc = launch(process.execPath, ['-e', TIMER_ONLY], { ...coord, env: BUILTINS });
  await proc.waitForLine(/^count 3$/);
  for (let cycle = 1; cycle <= 3; cycle++) {
    proc = (await checkpointKillRestart(proc, COUNT, coord, { env: BUILTINS, linesAfterRestart: 10 })).proc;
    expect(proc.running, proc.describe()).toBe(true);
  }
  expect(warnings(coord)).toEqual([]);
});

const FULL = `
const fs = require('node:fs');
const { Worker } = require('node:worker_threads');
const dir = process.argv[1];
const files = new Set();
fs.watch(dir, (kind, name) => { if (name && name.startsWith('f')) files.add(name); });
let usr2 = 0;
process.on('SIGUSR2', () => { usr2++; });
const worker = new Worker("const { parentPort } = require('node:worker_threads'); parentPort.on('message', (m) => parentPort.postMessage(m * 2));", { eval: true });
let sent = 0, answered = 0;
worker.on('message', (m) => { answered++; if (m !== answered * 2) console.log('BAD answer ' + m + ' to ' + answered); });
let n = 0;
setInterval(() => {
  worker.postMessage(++sent);
  console.log('count ' + ++n + ' files ' + files.size + ' usr2 ' + usr2 + ' sent ' + sent + ' answered ' + answered);
}, 50);
`;
const LINE = /^count (\d+) files (\d+) usr2 (\d+) sent (\d+) answered (\d+)$/;

interface Report { files: number; usr2: number; sent: number; answered: number }

function last(proc: Proc): Report | undefined {
  expect(proc.lines().filter((l) => l.startsWith('BAD')), proc.describe()).toEqual([]);
  const m = proc.lines().map((l) => LINE.exec(l)).filter((x) => x !== null).at(-1);
  if (!m) return undefined;
  const [files, usr2, sent, answered] = m.slice(2).map(Number) as [number, number, number, number];
  return { files, usr2, sent, answered };
}

/** Writes `count` new files into dir, sends SIGUSR2, and waits until the process has seen them all and the worker answers. */
async function poke(proc: Proc, dir: string, tag: string, count: number, want: { files: number; usr2: number }): Promise<void> {
  for (let i = 0; i < count; i++) await writeFile(path.join(dir, `f${tag}-${i}`), 'x');
  proc.signal('SIGUSR2');
  const start = last(proc)?.answered ?? 0;
  await proc.waitUntil(() => {
    const r = last(proc);
    return r && r.files >= want.files && r.usr2 >= want.usr2 && r.answered > start + 3 ? true : undefined;
  }, `files ${want.files}, SIGUSR2 ${want.usr2} and the worker answering`, 20_000);
  const r = last(proc) as Report;
  // Exactly: no file event or signal is doubled, and the worker is at most a few messages behind.
  expect({ files: r.files, usr2: r.usr2 }, proc.describe()).toEqual(want);
  expect(r.sent - r.answered, proc.describe()).toBeLessThanOrEqual(3);
}

test('node with a timer, fs.watch, a worker thread and a SIGUSR2 handler: every event after each of 3 restarts arrives', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'dmtcp-node-watch-'));
  await chmod(dir, 0o777);
  const coord = await startCoordinator();
  let proc = launch(process.execPath, ['-e', FULL, dir], { ...coord, env: BUILTINS });
  await proc.waitForLine(/^count 3 /);
  await poke(proc, dir, '0', 3, { files: 3, usr2: 1 });
  for (let cycle = 1; cycle <= 3; cycle++) {
    proc = (await checkpointKillRestart(proc, COUNT, coord, { env: BUILTINS, linesAfterRestart: 10 })).proc;
    await poke(proc, dir, String(cycle), 3, { files: 3 * (cycle + 1), usr2: cycle + 1 });
    expect(eventMessages(proc), proc.describe()).toEqual([]);
  }
  expect(warnings(coord)).toEqual([]);
  await rm(dir, { recursive: true, force: true });
});
