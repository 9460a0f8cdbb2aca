// `dmtcp restart --restore-pids`: the processes come back with the pids they
// had, in a pid namespace of the restart's own (and a user namespace, for a
// user without root), with no pid virtualization loaded at all: a parent, 3
// children and 3 grandchildren in sessions of their own report exactly the
// same pid, ppid, pgid and sid after each of two restarts (the parent's
// parent, outside the computation, becomes the namespace's init), as root and as
// user nobody, and the parent reaps its children with their exit codes.
import { readFileSync } from 'node:fs';
import { afterEach, expect, test } from 'vitest';
import {
  checkpointImages, cleanup, compileFixture, coreFixture, descendants, launch, restart, startCoordinator, waitForProcesses, type Proc, type RunAs,
} from '../src/testing/index.ts';

afterEach(cleanup);

const REL = /^REL (\w+) pid=\d+ ppid=\d+ pgid=\d+ sid=\d+$/;

/** The REL line of each of the 7 processes (signalled by their host pids). */
async function relations(proc: Proc, hostPids: number[]): Promise<string[]> {
  const mark = proc.mark();
  for (const pid of hostPids) process.kill(pid, 'SIGUSR1');
  return proc.waitUntil(() => {
    const lines = proc.lines().slice(mark).filter((l) => REL.test(l));
    return lines.length >= 7 ? lines.sort() : undefined;
  }, 'waiting for 7 REL lines', 15_000);
}

test.each([
  { as: 'root', user: undefined as RunAs | undefined },
  { as: 'user nobody', user: 'nobody' as RunAs },
])('restart --restore-pids gives a process tree its pids back, twice ($as)', async ({ user }) => {
  const exe = await compileFixture(coreFixture('tree.c'));
  const coord = await startCoordinator();
  let proc = launch(exe, [], { ...coord, user });
  await proc.waitForLine(/^READY$/);
  let hostPids = ((await waitForProcesses(coord.port, 7)).processes as { pid: number }[]).map((p) => p.pid);
  const before = await relations(proc, hostPids);

  for (let cycle = 1; cycle <= 2; cycle++) {
    const { images } = await checkpointImages(coord);
    expect(images).toHaveLength(7);
    for (const pid of hostPids) process.kill(pid, 'SIGKILL');
    await proc.kill9(); // after a restored restart: the namespace goes with it
    await waitForProcesses(coord.port, 0);

    proc = restart(images, { ...coord, user, args: ['--restore-pids'] });
    await waitForProcesses(coord.port, 7, { watch: proc });
    expect(proc.stderr()).toContain('dmtcp restart: restoring the checkpointed pids in a new pid namespace');
    hostPids = [...(await descendants(proc.pid))].filter(([, s]) => s.comm === 'tree').map(([p]) => p);
    expect(hostPids).toHaveLength(7);
    // The parent's own parent was outside the computation: the namespace's init stands in for it.
    const expected = before.map((l) => l.replace(/^(REL parent pid=\d+) ppid=\d+/, '$1 ppid=1'));
    expect(await relations(proc, hostPids), `cycle ${cycle}`).toEqual(expected);
  }

  // Name each host pid by its pid inside the namespace, then let the
  // children go and the parent reap them with waitpid(-1).
  const nameOf = new Map<number, string>();
  for (const l of before) {
    const m = /^REL (\w+) pid=(\d+)/.exec(l)!;
    nameOf.set(Number(m[2]), m[1]!);
  }
  const hostOf = new Map(hostPids.map((h) => [nameOf.get(innerPid(h)) ?? '?', h]));
  const mark = proc.mark();
  for (const name of ['child0', 'child1', 'child2', 'parent']) process.kill(hostOf.get(name)!, 'SIGUSR2');
  await proc.waitForLine(/^DONE /, 15_000, { after: mark });
  const out = proc.lines().slice(mark);
  expect(out.filter((l) => l.startsWith('REAPED')).sort()).toEqual(['REAPED code=10', 'REAPED code=11', 'REAPED code=12']);
  expect(out).toContain('DONE sum=33');
});

/** A host pid's number in the innermost pid namespace it is in. */
function innerPid(hostPid: number): number {
  const line = readFileSync(`/proc/${hostPid}/status`, 'utf8').split('\n').find((l) => l.startsWith('NSpid:')) ?? '';
  return Number(line.trim().split(/\s+/).pop());
}
