// Pids inside signals (test/fixtures/pid-signals.c). A parent with 3
// workers, over two checkpoint/kill/restart cycles: after each restart every
// signal a worker sends the parent (kill, sigqueue, and one collected with
// sigtimedwait) carries the worker's virtual pid in si_pid, although the
// kernel filled in its new real pid; sigaction still reports the program's
// own SA_SIGINFO handler. At the end the parent's SIGCHLD handler sees each
// worker's virtual pid, as do waitid's siginfo and wait(), and a child
// forked after the restart is seen by the pid fork returned.
import { afterEach, expect, test } from 'vitest';
import {
  checkpointImages, cleanup, launch, restart, startCoordinator, waitForProcesses, type Proc,
} from '@dmtcp/core/testing';
import { fixture, killStrays, realPids, strays, withPlugin } from './helpers.ts';

afterEach(async () => {
  killStrays();
  await cleanup();
});

const SI_USER = 0;
const SI_QUEUE = -1;
const CLD_EXITED = 1;

function workers(proc: Proc): number[] {
  const out: number[] = [];
  for (const l of proc.lines()) {
    const m = /^WORKER (\d) vpid=(\d+)$/.exec(l);
    if (m) out[Number(m[1])] = Number(m[2]);
  }
  return out;
}

async function round(proc: Proc, w: readonly number[], what: string): Promise<void> {
  const mark = proc.mark();
  process.kill(proc.pid, 'SIGUSR1');
  await proc.waitForLine(/^ROUND DONE$/, 30_000, { after: mark });
  const out = proc.lines().slice(mark);
  expect(out.filter((l) => l.startsWith('FAIL')), `${what}:\n${out.join('\n')}`).toEqual([]);
  const want = w.map((pid, i) => `SENT ${i} usr2=${pid} code=${SI_USER} rt=${pid} rcode=${SI_QUEUE} value=${100 + i} wait=${pid}`);
  expect(out.filter((l) => l.startsWith('SENT')), what).toEqual(want);
}

test('si_pid of SIGCHLD and of signals from the computation is the virtual pid, over two restarts', async () => {
  const exe = await fixture('pid-signals.c');
  const coord = await startCoordinator();
  let proc = launch(exe, [], { ...coord, ...withPlugin() });
  await proc.waitForLine(/^READY$/);
  await waitForProcesses(coord.port, 4);
  const w = workers(proc);
  expect(w).toHaveLength(3);
  expect(proc.lines()).toContain('HANDLER same=1 signal=1');
  await round(proc, w, 'before any restart');

  for (let cycle = 1; cycle <= 2; cycle++) {
    const { images } = await checkpointImages(coord);
    expect(images).toHaveLength(4);
    for (const pid of await realPids(coord.port)) strays.add(pid);
    killStrays();
    await proc.kill9();
    await waitForProcesses(coord.port, 0);

    proc = restart(images, coord);
    await waitForProcesses(coord.port, 4, { watch: proc });
    const real = await realPids(coord.port);
    for (const pid of real) strays.add(pid);
    // The kernel's pids changed: a pass below means translation happened.
    expect(real.filter((p) => w.includes(p)), `real ${real} vs virtual ${w}`).toEqual([]);
    await round(proc, w, `after restart ${cycle}`);
  }

  const mark = proc.mark();
  process.kill(proc.pid, 'SIGTERM');
  await proc.waitForLine(/^END$/, 30_000, { after: mark });
  const out = proc.lines().slice(mark);
  expect(out.filter((l) => l.startsWith('FAIL')), out.join('\n')).toEqual([]);
  const fresh = Number(/^FRESH vpid=(\d+)$/.exec(out.find((l) => l.startsWith('FRESH')) ?? '')?.[1]);
  expect(fresh).toBeGreaterThan(0);
  expect(out).toContain(`WAITID si_pid=${w[0]} code=${CLD_EXITED} status=30`);
  const reaped = out.filter((l) => l.startsWith('REAPED')).sort();
  expect(reaped).toEqual([`REAPED ret=${fresh} code=3`, `REAPED ret=${w[1]} code=31`, `REAPED ret=${w[2]} code=32`].sort());
  const chld = out.filter((l) => l.startsWith('CHLD')).sort();
  expect(chld, out.join('\n')).toEqual([
    `CHLD si_pid=${fresh} code=${CLD_EXITED} status=3`,
    ...w.map((pid, i) => `CHLD si_pid=${pid} code=${CLD_EXITED} status=${30 + i}`),
  ].sort());
  expect((await proc.waitForExit(10_000)).code).toBe(0);
});
