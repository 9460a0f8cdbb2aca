// A process tree restarts as the same tree: parent, 3 children, 3
// grandchildren in their own sessions; parent/child links, process groups
// and sessions relate as before, and the parent reaps exactly its children
// with their exit codes after restart.
import { afterEach, expect, test } from 'vitest';
import {
  checkpointImages, cleanup, compileFixture, coreFixture, launch, restart, startCoordinator, waitForProcesses,
  type Proc,
} from '../src/testing/index.ts';

// Grandchildren run in sessions of their own, out of reach of the harness's
// process-group cleanup: kill every pid this test saw.
const seen = new Set<number>();
afterEach(async () => {
  for (const pid of seen) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  seen.clear();
  await cleanup();
});

const REL = /^REL (\w+) pid=(\d+) ppid=(\d+) pgid=(\d+) sid=(\d+)$/;

interface Rel { pid: number; ppid: number; pgid: number; sid: number }

async function relations(proc: Proc, pids: number[]): Promise<Map<string, Rel>> {
  const mark = proc.lines().length;
  for (const pid of pids) process.kill(pid, 'SIGUSR1');
  for (const pid of pids) seen.add(pid);
  const found = new Map<string, Rel>();
  await proc.waitUntil(() => {
    for (const line of proc.lines().slice(mark)) {
      const m = REL.exec(line);
      if (m) found.set(m[1] as string, { pid: +m[2]!, ppid: +m[3]!, pgid: +m[4]!, sid: +m[5]! });
    }
    return found.size === pids.length ? true : undefined;
  }, `waiting for ${pids.length} REL lines`, 15_000);
  return found;
}

/** Who is whose parent, group leader and session leader, by name (outside: "-"). */
function shape(rels: Map<string, Rel>): Record<string, string> {
  const byPid = new Map([...rels].map(([name, r]) => [r.pid, name]));
  const out: Record<string, string> = {};
  for (const [name, r] of rels) {
    out[name] = `parent=${byPid.get(r.ppid) ?? '-'} group=${byPid.get(r.pgid) ?? '-'} session=${byPid.get(r.sid) ?? '-'}`;
  }
  return out;
}

test('a parent, 3 children and 3 grandchildren restart as the same tree, twice', async () => {
  const exe = await compileFixture(coreFixture('tree.c'));
  const coord = await startCoordinator();
  let proc = launch(exe, [], coord);
  await proc.waitForLine(/^READY$/);
  let pids = ((await waitForProcesses(coord.port, 7)).processes as { pid: number }[]).map((p) => p.pid);
  const before = shape(await relations(proc, pids));
  expect(before.child0).toBe('parent=parent group=parent session=parent'); // the harness starts each target in its own session
  expect(before.grand0).toBe('parent=child0 group=grand0 session=grand0');

  for (let cycle = 1; cycle <= 2; cycle++) {
    const { images } = await checkpointImages(coord);
    expect(images).toHaveLength(7);
    for (const pid of pids) process.kill(pid, 'SIGKILL');
    await proc.kill9();
    await waitForProcesses(coord.port, 0);
    proc = restart(images, coord);
    pids = ((await waitForProcesses(coord.port, 7, { watch: proc })).processes as { pid: number }[]).map((p) => p.pid);
    const after = await relations(proc, pids);
    expect(shape(after)).toEqual(before);
  }

  const rels = await relations(proc, pids);
  const mark = proc.lines().length;
  for (const name of ['child0', 'child1', 'child2']) process.kill(rels.get(name)!.pid, 'SIGUSR2');
  process.kill(rels.get('parent')!.pid, 'SIGUSR2');
  await proc.waitForLine(/^DONE /, 15_000, { after: mark });
  const reaped = proc.lines().slice(mark).filter((l) => l.startsWith('REAPED')).sort();
  expect(reaped).toEqual(['REAPED code=10', 'REAPED code=11', 'REAPED code=12']);
  expect(proc.lines().slice(mark)).toContain('DONE sum=33');
});
