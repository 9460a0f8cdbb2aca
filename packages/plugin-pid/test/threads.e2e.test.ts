// Threads keep their tids: a program with 3 threads besides main reports
// gettid() (and syscall(SYS_gettid)) in each; after each of two
// checkpoint/kill/restart cycles the values are the same although the
// kernel's tids changed, and tgkill(getpid(), vtid), syscall(SYS_tgkill),
// pthread_kill and a tgkill from one thread to another all reach the
// thread that was meant. A thread created after a restart whose real tid
// is a virtual tid in use gets another virtual tid (root only: the tid is
// steered through /proc/sys/kernel/ns_last_pid).
import { afterEach, expect, test } from 'vitest';
import {
  checkpointImages, cleanup, launch, restart, startCoordinator, waitForProcesses, type Proc,
} from '@dmtcp/core/testing';
import { collect, fixture, realTids, steerNextPid, steeringUnavailable, waitGone, withPlugin } from './helpers.ts';

afterEach(cleanup);

const TID = /^TID (\d) gettid=(\d+) sys=(\d+)$/;
const MAIN = /^MAIN pid=(\d+) tid=(\d+) sys=(\d+)$/;

interface Seen { pid: number; tids: number[] }

async function report(proc: Proc, first: boolean): Promise<Seen> {
  const mark = first ? 0 : proc.mark();
  if (!first) process.kill(proc.pid, 'SIGUSR1');
  const [main] = await collect(proc, MAIN, 1, mark, 'MAIN');
  const lines = await collect(proc, TID, 3, mark, 'TID');
  const tids: number[] = [];
  for (const m of lines) {
    const [i, tid, sys] = m.slice(1).map(Number) as [number, number, number];
    expect(sys, `syscall(SYS_gettid) in thread ${i}`).toBe(tid);
    tids[i] = tid;
  }
  const [pid, tid, sys] = main!.slice(1).map(Number) as [number, number, number];
  expect(tid, 'main thread: gettid() == getpid()').toBe(pid);
  expect(sys, 'syscall(SYS_getpid)').toBe(pid);
  return { pid, tids };
}

async function signalThreads(proc: Proc): Promise<void> {
  const mark = proc.mark();
  process.kill(proc.pid, 'SIGHUP');
  await proc.waitForLine(/^SIGNALS DONE/, 30_000, { after: mark });
  const lines = proc.lines().slice(mark).filter((l) => l.startsWith('SIG'));
  const want = [0, 1, 2].flatMap((i) => [`SIG tgkill ${i} ok`, `SIG sys_tgkill ${i} ok`, `SIG pthread_kill ${i} ok`]);
  expect(lines).toEqual([...want, 'SIG relay 1 ok', 'SIGNALS DONE strays=0']);
}

test('threads keep their tids over two restarts and signals by tid reach them', async () => {
  const exe = await fixture('pid-threads.c');
  const coord = await startCoordinator();
  let proc = launch(exe, [], { ...coord, ...withPlugin() });
  await proc.waitForLine(/^READY$/);
  const before = await report(proc, true);
  expect(before.pid).toBe(proc.pid);
  await signalThreads(proc);

  for (let cycle = 1; cycle <= 2; cycle++) {
    const { images } = await checkpointImages(coord);
    expect(images).toHaveLength(1);
    await proc.kill9();
    await waitForProcesses(coord.port, 0);

    proc = restart(images, coord);
    await waitForProcesses(coord.port, 1, { watch: proc });
    const after = await report(proc, false);
    expect(after, `cycle ${cycle}`).toEqual(before);
    // The program sees its old ids; the kernel knows the threads by new ones.
    const real = await realTids(proc.pid);
    const virtual = [before.pid, ...before.tids].sort((a, b) => a - b);
    expect(real, 'the kernel gave the threads new tids').not.toEqual(virtual);
    await signalThreads(proc);
  }
});

test('a thread created after restart on a real tid that is a virtual tid in use gets another one', async (ctx) => {
  const why = steeringUnavailable();
  if (why) ctx.skip(`pid steering unavailable: ${why}`);
  const exe = await fixture('pid-threads.c');
  const coord = await startCoordinator();
  let proc = launch(exe, [], { ...coord, ...withPlugin() });
  await proc.waitForLine(/^READY$/);
  const before = await report(proc, true);
  const { images } = await checkpointImages(coord);
  await proc.kill9();
  await waitForProcesses(coord.port, 0);
  proc = restart(images, coord);
  await waitForProcesses(coord.port, 1, { watch: proc });
  expect(await report(proc, false)).toEqual(before);

  // Thread 2's virtual tid is free as a real tid now; steer the new thread onto it.
  const taken = before.tids[2]!;
  let landed = false;
  for (let attempt = 0; attempt < 5 && !landed; attempt++) {
    const mark = proc.mark();
    await waitGone(taken);
    steerNextPid(taken);
    process.kill(proc.pid, 'SIGWINCH');
    const { match } = await proc.waitForLine(/^NEWTHREAD gettid=(\d+) real=(\d+)$/, 20_000, { after: mark });
    const [vtid, real] = match.slice(1).map(Number);
    expect(vtid, 'a new thread never answers to a virtual tid in use').not.toBe(taken);
    expect([before.pid, ...before.tids]).not.toContain(vtid);
    landed = real === taken;
  }
  expect(landed, `a new thread's real tid was ${taken}`).toBe(true);
  await signalThreads(proc);
  expect(await report(proc, false)).toEqual(before);
});
