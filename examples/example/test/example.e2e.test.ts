// The example plugin under a real computation: which events arrive, in what
// order and in which thread, at launch, at a checkpoint the process resumes
// from, and in the process restarted from that image after kill -9.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, expect, test } from 'vitest';
import {
  checkpointImages, cleanup, launch, makeTmpDir, restart, startCoordinator, waitForProcesses, type Proc,
} from '@dmtcp/core/testing';
import { events, indexOf, show, threadSeq, waitForEvents, type Ev } from './events.ts';

const pkgRoot = fileURLToPath(new URL('..', import.meta.url));
const PLUGIN = path.join(pkgRoot, 'build', 'lib', 'libexample.so');
const APP = path.join(pkgRoot, 'build', 'bin', 'example-app');

afterEach(cleanup);

async function tidOf(proc: Proc, re: RegExp, after = 0): Promise<number> {
  const { match } = await proc.waitForLine(re, 20_000, { after });
  return Number(match[1]);
}

/** Only these threads (and no other process) received events. */
function expectOnlyThreads(evs: readonly Ev[], pid: number, tids: readonly number[]): void {
  const strangers = evs.filter((e) => e.pid !== pid || !tids.includes(e.tid));
  expect(strangers, `events from unexpected threads:\n${show(strangers)}\nall:\n${show(evs)}`).toEqual([]);
}

/**
 * One checkpoint round as seen from inside: the checkpoint thread runs the
 * phases, each user thread stops before THREADS_SUSPEND and runs again after
 * THREADS_RESUME.
 */
function expectRound(evs: readonly Ev[], pid: number, ckpt: number, users: readonly number[], isRestart: 0 | 1): void {
  const r = `isRestart=${isRestart}`;
  const ckptSeq = isRestart
    ? []
    : ['THREADS_SUSPEND', 'SUSPENDED', 'LEADER_ELECTION', 'DRAIN', 'WRITE_CKPT'];
  expect(threadSeq(evs, ckpt), show(evs)).toEqual([
    ...ckptSeq,
    `${isRestart ? 'RESTART' : 'RESUME'} ${r}`,
    `REFILL ${r}`,
    `REGISTER_NAME_SERVICE_DATA ${r}`,
    `SEND_QUERIES ${r}`,
    `THREADS_RESUME ${r}`,
    'WAIT_FOR_SUSPEND_MSG',
  ]);
  const suspended = indexOf(evs, 'THREADS_SUSPEND', ckpt);
  const resumed = indexOf(evs, 'THREADS_RESUME', ckpt);
  for (const tid of users) {
    expect(threadSeq(evs, tid), `user thread ${tid}\n${show(evs)}`).toEqual([
      ...(isRestart ? [] : ['PRE_SUSPEND_USER_THREAD']),
      `RESUME_USER_THREAD ${r}`,
    ]);
    if (!isRestart) expect(indexOf(evs, 'PRE_SUSPEND_USER_THREAD', tid)).toBeLessThan(suspended);
    expect(indexOf(evs, 'RESUME_USER_THREAD', tid)).toBeGreaterThan(resumed);
  }
  expectOnlyThreads(evs, pid, [ckpt, ...users]);
}

/** Waits for the end of a round: the checkpoint thread waits again and every user thread has run. */
function roundDone(ckpt: number | undefined, users: readonly number[]) {
  return (evs: Ev[]): Ev[] | undefined => {
    const waiting = evs.some((e) => e.name === 'WAIT_FOR_SUSPEND_MSG' && (ckpt === undefined || e.tid === ckpt));
    const ran = users.every((tid) => evs.some((e) => e.name === 'RESUME_USER_THREAD' && e.tid === tid));
    return waiting && ran ? evs : undefined;
  };
}

test('example plugin: every event, in order and in the right thread, at launch, checkpoint and restart', async () => {
  const coord = await startCoordinator();
  const ctl = await makeTmpDir('dmtcp-example-ctl-');
  const proc = launch(APP, [ctl], { ...coord, args: ['--with-plugin', PLUGIN] });

  // ---- launch ----
  const main = await tidOf(proc, /^main tid=(\d+)$/);
  const short = await tidOf(proc, /^short tid=(\d+)$/);
  const child = await tidOf(proc, /^child (\d+) exited status=0$/);
  const worker = await tidOf(proc, /^worker tid=(\d+) n=1$/);
  expect(main).toBe(proc.pid);
  const launched = await waitForEvents(proc, 0, (evs) => {
    const started = evs.some((e) => e.name === 'PTHREAD_START' && e.tid === worker);
    const created = evs.filter((e) => e.name === 'THREAD_CREATED' && e.tid === main).length === 2;
    const waiting = evs.some((e) => e.name === 'WAIT_FOR_SUSPEND_MSG' && e.pid === main);
    return started && created && waiting ? evs : undefined;
  }, 'waiting for the worker thread and the checkpoint thread');
  const ckpt = launched.find((e) => e.name === 'WAIT_FOR_SUSPEND_MSG' && e.pid === main)?.tid as number;
  expect(new Set([main, short, worker, ckpt]).size, 'four distinct threads').toBe(4);

  expect(launched[0], show(launched)).toMatchObject({ name: 'INIT', pid: main, tid: main });
  expect(threadSeq(launched, main), show(launched)).toEqual([
    'INIT', 'THREAD_CREATED', 'ATFORK_PREPARE', 'ATFORK_PARENT', 'THREAD_CREATED',
  ]);
  expect(launched.find((e) => e.name === 'ATFORK_PARENT')?.detail).toBe(`child=${child}`);
  expect(threadSeq(launched, short)).toEqual(['THREAD_START', 'PTHREAD_START', 'PTHREAD_EXIT']);
  expect(threadSeq(launched, worker)).toEqual(['THREAD_START', 'PTHREAD_START']);
  expect(threadSeq(launched, ckpt)).toEqual(['WAIT_FOR_SUSPEND_MSG']);
  // The child's own thread: fork, then exec of this program, which exits.
  expect(threadSeq(launched, child)).toEqual(['ATFORK_CHILD', 'PRE_EXEC', 'POST_EXEC', 'INIT', 'EXIT']);
  expect(launched.find((e) => e.name === 'PRE_EXEC')?.detail).toBe(`file=${APP}`);
  // The child's checkpoint threads (before and after its exec) have only begun waiting.
  const childOthers = launched.filter((e) => e.pid === child && e.tid !== child);
  expect(childOthers.every((e) => e.name === 'WAIT_FOR_SUSPEND_MSG'), show(childOthers)).toBe(true);
  expect(launched.filter((e) => e.pid !== main && e.pid !== child), show(launched)).toEqual([]);
  // What the program's own order implies across threads.
  expect(indexOf(launched, 'WAIT_FOR_SUSPEND_MSG', ckpt)).toBeGreaterThan(0);
  expect(indexOf(launched, 'PTHREAD_EXIT', short)).toBeLessThan(indexOf(launched, 'ATFORK_PREPARE', main));
  expect(indexOf(launched, 'ATFORK_PREPARE', main)).toBeLessThan(indexOf(launched, 'ATFORK_CHILD', child));
  expect(indexOf(launched, 'EXIT', child)).toBeLessThan(indexOf(launched, 'THREAD_START', worker));

  // ---- checkpoint, then resume ----
  await waitForProcesses(coord.port, 1); // the exec'd child has left
  let mark = events(proc).length;
  const { images } = await checkpointImages(coord);
  expect(images).toHaveLength(1);
  const round = await waitForEvents(proc, mark, roundDone(ckpt, [main, worker]), 'waiting for the end of the checkpoint round');
  expectRound(round, main, ckpt, [main, worker], 0);
  expect(round.find((e) => e.name === 'WRITE_CKPT')?.detail).toBe(`image=${images[0]}`);
  // the user threads really run again
  await proc.waitForLine(new RegExp(`^worker tid=${worker} n=\\d+$`), 20_000, { after: proc.mark() });

  // ---- kill -9, restart from the image ----
  await proc.kill9();
  const back = restart(images, coord);
  const main2 = await tidOf(back, /^main tid=(\d+) n=\d+$/);
  const worker2 = await tidOf(back, /^worker tid=(\d+) n=\d+$/);
  const restarted = await waitForEvents(back, 0, roundDone(undefined, [main2, worker2]), 'waiting for the end of the restart');
  const pid2 = restarted[0]?.pid as number;
  const ckpt2 = restarted[0]?.tid as number;
  expect(new Set([main2, worker2, ckpt2]).size, show(restarted)).toBe(3);
  expectRound(restarted, pid2, ckpt2, [main2, worker2], 1);

  // ---- a checkpoint of the restarted process is a resume again ----
  mark = events(back).length;
  const second = await checkpointImages(coord);
  expect(second.images).toEqual(images);
  const round2 = await waitForEvents(back, mark, roundDone(ckpt2, [main2, worker2]), 'waiting for the end of the second checkpoint');
  expectRound(round2, pid2, ckpt2, [main2, worker2], 0);

  // ---- the end: the worker returns, main returns from main ----
  mark = events(back).length;
  await writeFile(path.join(ctl, 'stop'), '');
  const status = await back.waitForExit(20_000);
  expect(status).toEqual({ code: 7, signal: null });
  const end = events(back).slice(mark);
  expect(threadSeq(end, worker2), show(end)).toEqual(['PTHREAD_RETURN']);
  expect(threadSeq(end, main2), show(end)).toEqual(['EXIT']);
  expectOnlyThreads(end, pid2, [main2, worker2]);
});
