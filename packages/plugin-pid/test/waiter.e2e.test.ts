// A program that forks workers and waits for them by pid
// (test/fixtures/pid-waiter.c), checkpointed while main is blocked in
// waitpid(a) and a thread in waitid(P_PID, b). After a restart the kernel
// re-issues those calls with the real pids of the old life; over two
// restarts they must still return each worker, by its virtual pid, with
// its exit status, once the workers end.
import { afterEach, expect, test } from 'vitest';
import { checkpointImages, cleanup, launch, restart, startCoordinator, waitForProcesses } from '@dmtcp/core/testing';
import { fixture, killStrays, realPids, strays, withPlugin } from './helpers.ts';

afterEach(async () => {
  killStrays();
  await cleanup();
});

test('waitpid and waitid blocked at checkpoint time return the right worker after two restarts', async () => {
  const exe = await fixture('pid-waiter.c');
  const coord = await startCoordinator();
  let proc = launch(exe, [], { ...coord, ...withPlugin() });
  const [a, b] = (await proc.waitForLine(/^WORKERS a=(\d+) b=(\d+)$/)).match.slice(1).map(Number);
  await proc.waitForLine(/^READY$/);
  await waitForProcesses(coord.port, 3);
  // Let both waits block before the first checkpoint.
  await new Promise((r) => setTimeout(r, 200));

  for (let cycle = 1; cycle <= 2; cycle++) {
    const { images } = await checkpointImages(coord);
    expect(images).toHaveLength(3);
    for (const pid of await realPids(coord.port)) strays.add(pid);
    killStrays();
    await proc.kill9();
    await waitForProcesses(coord.port, 0);
    proc = restart(images, coord);
    await waitForProcesses(coord.port, 3, { watch: proc });
    for (const pid of await realPids(coord.port)) strays.add(pid);
    await new Promise((r) => setTimeout(r, 200));
    expect(proc.lines().filter((l) => l.startsWith('WAIT')), 'nothing returned early').toEqual([]);
  }

  const real = await realPids(coord.port);
  expect(real).not.toContain(a);
  expect(real).not.toContain(b);
  for (const pid of real) if (pid !== proc.pid) process.kill(pid, 'SIGTERM');
  await proc.waitForLine(/^DONE$/, 20_000);
  expect(proc.lines()).toContain(`WAITPID ret=${a} code=5`);
  expect(proc.lines()).toContain(`WAITID ret=0 si_pid=${b} status=6`);
  expect((await proc.waitForExit(10_000)).code).toBe(0);
});
