// A parent, 3 children and 3 grandchildren (one session leader, one group
// leader): after each of two checkpoint/kill/restart cycles every process
// reports the same pid, ppid, pgid, sid and tid as before, although the
// kernel gave them new pids; then the parent signals each child by its
// virtual pid (the child answers, reporting that same pid) and reaps it
// with waitpid(vpid), getting its exit code, as each child does with its
// grandchild.
import { afterEach, expect, test } from 'vitest';
import { checkpointImages, cleanup, launch, restart, startCoordinator, waitForProcesses } from '@dmtcp/core/testing';
import { fixture, killStrays, withPlugin, realPids } from './helpers.ts';
import { expectShape, finish, forked, reportIds } from './tree-fixture.ts';

afterEach(async () => {
  killStrays();
  await cleanup();
});

// As the test's user (root here) and as an unprivileged one: nothing the
// plugin does needs privilege.
test.each([
  { as: 'the current user', user: undefined },
  { as: 'user nobody', user: 'nobody' as const },
])('a process tree keeps its pids, parents, groups and sessions over two restarts; kill and waitpid by virtual pid ($as)', async ({ user }) => {
  const exe = await fixture('pid-tree.c');
  const coord = await startCoordinator();
  let proc = launch(exe, [], { ...coord, ...withPlugin(), user });
  await proc.waitForLine(/^READY$/);
  await waitForProcesses(coord.port, 7);
  let pids = await realPids(coord.port);
  await proc.waitUntil(() => (forked(proc).size === 6 ? true : undefined), 'waiting for 6 FORKED lines');
  const before = await reportIds(proc, pids);
  expectShape(before);
  for (const [name, vpid] of forked(proc)) expect(before.get(name)!.pid, `fork() returned ${name}'s pid`).toBe(vpid);

  for (let cycle = 1; cycle <= 2; cycle++) {
    const { images } = await checkpointImages(coord);
    expect(images).toHaveLength(7);
    for (const pid of pids) process.kill(pid, 'SIGKILL');
    await proc.kill9();
    await waitForProcesses(coord.port, 0);

    proc = restart(images, { ...coord, user });
    await waitForProcesses(coord.port, 7, { watch: proc });
    pids = await realPids(coord.port);
    const after = await reportIds(proc, pids);
    expect(Object.fromEntries(after), `cycle ${cycle}`).toEqual(Object.fromEntries(before));
    // The kernel did hand out new pids: what the processes see is virtual.
    const virtual = new Set([...after.values()].map((v) => v.pid));
    expect(pids.filter((p) => !virtual.has(p)).length, `real ${pids} vs virtual ${[...virtual]}`).toBeGreaterThan(0);
  }

  await finish(proc, before);
});
