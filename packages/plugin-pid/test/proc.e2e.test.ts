// Ids inside paths, descriptor state and scheduling calls
// (test/fixtures/pid-proc.c): after each of two checkpoint/kill/restart
// cycles the program opens /proc/<getpid()>/status (and reads, stats,
// lists and follows links under /proc/<its pid>, /proc/<pid>/task/<its
// thread's tid>, /proc/<its child's pid>) and finds itself, its thread and
// its child although the kernel knows them by new pids; F_SETOWN with its
// virtual pid, its process group, its thread's tid and its child's pid
// reads back the same with F_GETOWN(_EX) and SIGIO reaches each; F_GETLK
// names the child holding a lock by its virtual pid; setpriority,
// sched_setaffinity and prlimit on the child's virtual pid reach the child.
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, expect, test } from 'vitest';
import {
  checkpointImages, cleanup, launch, restart, startCoordinator, waitForProcesses, type Proc,
} from '@dmtcp/core/testing';
import { fixture, killStrays, realPids, strays, withPlugin } from './helpers.ts';

const CHECKS = [
  'stat', 'lstat', 'access', 'open-status', 'fopen-status', 'openat-relative', 'openat', 'readlink-exe',
  'opendir-task', 'task-comm', 'self-task-comm', 'kid-comm', 'kid-ppid',
  'setown-self', 'sigio-self', 'setown-group', 'setown-ex-thread', 'sigio-thread', 'setown-kid',
  'getlk-kid', 'priority', 'affinity', 'prlimit', 'sched-get',
];

let tmp: string | undefined;
afterEach(async () => {
  killStrays();
  await cleanup();
  if (tmp) await rm(tmp, { recursive: true, force: true });
  tmp = undefined;
});

async function round(proc: Proc, n: number, what: string): Promise<void> {
  const mark = proc.mark();
  process.kill(proc.pid, 'SIGUSR1');
  await proc.waitForLine(new RegExp(`^ROUND ${n} DONE$`), 30_000, { after: mark });
  const set = await proc.waitForLine(/^SET nice=(-?\d+) cpu=(\d+) nofile=(\d+)$/, 5_000, { after: mark });
  // The child's own view of what the parent changed by its virtual pid.
  const [nice, cpu, nofile] = set.match.slice(1);
  await proc.waitForLine(new RegExp(`^KID nice=${nice} cpu=${cpu} nofile=${nofile}$`), 10_000, { after: mark });
  await proc.waitForLine(/^KID SIGIO \d+$/, 10_000, { after: mark });
  const out = proc.lines().slice(mark);
  const checks = out.filter((l) => l.startsWith('CHECK') || l.startsWith('FAIL'));
  expect(checks, `${what}:\n${out.join('\n')}`).toEqual(CHECKS.map((c) => `CHECK ${c} ok`));
}

// Nothing here needs privilege: the child's priority and limits are only
// ever lowered.
test.each([
  { as: 'the current user', user: undefined },
  { as: 'user nobody', user: 'nobody' as const },
])('/proc/<vpid> paths, F_SETOWN/F_GETOWN, F_GETLK and scheduling calls by virtual id work over two restarts ($as)', async ({ user }) => {
  const exe = await fixture('pid-proc.c');
  tmp = await mkdtemp(path.join(os.tmpdir(), 'pidproc-'));
  await chmod(tmp, 0o777);
  const coord = await startCoordinator();
  let proc = launch(exe, [path.join(tmp, 'lock')], { ...coord, ...withPlugin(), user });
  await proc.waitForLine(/^READY$/);
  await waitForProcesses(coord.port, 2);
  const kid = Number((await proc.waitForLine(/^KID vpid=(\d+)$/)).match[1]);
  const vpid = proc.pid;
  await round(proc, 1, 'before any restart');

  for (let cycle = 1; cycle <= 2; cycle++) {
    const { images } = await checkpointImages(coord);
    expect(images).toHaveLength(2);
    for (const pid of await realPids(coord.port)) strays.add(pid);
    killStrays();
    await proc.kill9();
    await waitForProcesses(coord.port, 0);

    proc = restart(images, { ...coord, user });
    await waitForProcesses(coord.port, 2, { watch: proc });
    const real = await realPids(coord.port);
    for (const pid of real) strays.add(pid);
    expect(real, 'the kernel gave both processes new pids').not.toContain(vpid);
    expect(real).not.toContain(kid);
    await round(proc, cycle + 1, `after restart ${cycle}`);
  }
});
