// process_vm_readv/process_vm_writev and pidfd_open between the processes
// of a computation (test/fixtures/pid-vmem.c): a parent and its forked
// child read and write each other's memory by the pids their program saw
// (fork()'s result, getppid()), through the libc functions and through
// syscall(2), before any checkpoint and after each of three
// checkpoint/kill -9/restart cycles, when the kernel knows both by new
// pids; the parent wakes the child through a pidfd of it, and a pidfd from
// syscall(SYS_pidfd_open) names the same task. As root and as user nobody
// (the kernel's ptrace access check: same user; under Yama the fixture asks
// for PR_SET_PTRACER every round).
import { afterEach, expect, test } from 'vitest';
import { checkpointImages, cleanup, launch, restart, startCoordinator, waitForProcesses, type Proc } from '@dmtcp/core/testing';
import { fixture, killStrays, realPids, strays, withPlugin } from './helpers.ts';

const TRANSFERS = ['readv-libc', 'writev-libc', 'readv-sys', 'writev-sys'];
const CHECKS = [
  ...TRANSFERS.map((t) => `CHECK parent-${t} ok`),
  'CHECK pidfd-open-libc ok', 'CHECK pidfd-open-sys ok', 'CHECK answered-by-kid ok',
  'CHECK parent-got-libc ok', 'CHECK parent-got-sys ok',
  'KID CHECK woken-by-parent ok', 'KID CHECK kid-got-libc ok', 'KID CHECK kid-got-sys ok',
  ...TRANSFERS.map((t) => `KID CHECK kid-${t} ok`),
].sort();

afterEach(async () => {
  killStrays();
  await cleanup();
});

async function round(proc: Proc, n: number, what: string): Promise<void> {
  const mark = proc.mark();
  process.kill(proc.pid, 'SIGUSR1');
  await proc.waitForLine(new RegExp(`^ROUND ${n} DONE$`), 30_000, { after: mark });
  const out = proc.lines().slice(mark);
  const checks = out.filter((l) => /CHECK|FAIL/.test(l)).sort();
  expect(checks, `${what}:\n${out.join('\n')}`).toEqual(CHECKS);
}

test.each([
  { as: 'the current user', user: undefined },
  { as: 'user nobody', user: 'nobody' as const },
])('parent and child reach each other with process_vm_readv/writev and pidfd_open by virtual pid over three restarts ($as)', async ({ user }) => {
  const exe = await fixture('pid-vmem.c');
  const coord = await startCoordinator();
  let proc = launch(exe, [], { ...coord, ...withPlugin(), user });
  await proc.waitForLine(/^READY$/);
  await waitForProcesses(coord.port, 2);
  const kid = Number((await proc.waitForLine(/^KID vpid=(\d+)$/)).match[1]);
  const vpid = proc.pid;
  await round(proc, 1, 'before any restart');

  for (let cycle = 1; cycle <= 3; cycle++) {
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
