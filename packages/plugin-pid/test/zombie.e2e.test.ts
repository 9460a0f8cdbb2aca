// Children that had ended but were not reaped when the checkpoint came
// (test/fixtures/pid-zombie.c): a exits 3, b exits 42, c is killed by
// SIGUSR1 (a signal its parent handles), d by SIGQUIT, dumping core into a
// scratch directory where the kernel's core_pattern is a plain file name
// (elsewhere d dumps none, so as to leave no core file behind). No image holds them; after each of two checkpoint/kill/restart
// cycles the parent still finds each one, without reaping it, by its
// virtual pid with its status (core bit included), as do kill(pid, 0) and
// /proc/<pid>/stat, although the kernel now knows them by other pids. Then waitpid(a), waitid(P_PID, b), wait4(d) and
// wait() reap each once, by virtual pid and with its status, and a second
// wait finds nothing. Any SIGCHLD the parent saw (the recreated children
// send one at restart) names one of them by its virtual pid. Once more with
// SIGCHLD ignored after the children ended: the zombies were there at
// checkpoint time, so they must be after the restart too, although the
// kernel reaps children that end while SIGCHLD is ignored.
import { readdirSync, readFileSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, expect, test } from 'vitest';
import {
  checkpointImages, cleanup, launch, restart, startCoordinator, waitForProcesses, type Proc,
} from '@dmtcp/core/testing';
import { fixture, killStrays, realPids, strays, withPlugin } from './helpers.ts';

let tmp: string | undefined;
afterEach(async () => {
  killStrays();
  await cleanup();
  if (tmp) await rm(tmp, { recursive: true, force: true });
  tmp = undefined;
});

/** How each child ends; whether d dumps core depends on the host's
 *  core_pattern and limits. */
const HOW: Record<string, RegExp> = { a: /^exit=3$/, b: /^exit=42$/, c: /^signal=10$/, d: /^signal=3( core)?$/ };

/** A core file named by core_pattern lands in the dumping process's
 *  working directory: the scratch directory. */
function coreInWorkingDir(): boolean {
  try {
    const pattern = readFileSync('/proc/sys/kernel/core_pattern', 'utf8').trim();
    return pattern !== '' && !pattern.startsWith('|') && !pattern.includes('/');
  } catch {
    return false;
  }
}

/** Real pids of the children of `pid`, all its threads. */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    const text = readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8');
    out.push(...text.split(/\s+/).filter(Boolean).map(Number));
  }
  return out.sort((x, y) => x - y);
}

async function peek(proc: Proc, kids: Map<string, number>, how: Map<string, string>, what: string): Promise<void> {
  const mark = proc.mark();
  process.kill(proc.pid, 'SIGUSR2');
  await proc.waitForLine(/^PEEK DONE$/, 20_000, { after: mark });
  const out = proc.lines().slice(mark);
  expect(out.filter((l) => l.startsWith('PEEK ') && l !== 'PEEK DONE'), `${what}:\n${out.join('\n')}`).toEqual(
    [...kids].map(([name, pid]) => `PEEK ${name} pid=${pid} ${how.get(name)} kill0=0 state=Z`),
  );
}

test.each([
  { as: 'the current user', user: undefined, ignore: false },
  { as: 'user nobody', user: 'nobody' as const, ignore: false },
  { as: 'SIGCHLD ignored after they ended', user: undefined, ignore: true },
])('unreaped children keep their virtual pids and statuses over two restarts and are reaped once ($as)', async ({ user, ignore }) => {
  const exe = await fixture('pid-zombie.c');
  tmp = await mkdtemp(path.join(os.tmpdir(), 'pidzombie-'));
  await chmod(tmp, 0o777);
  const coord = await startCoordinator();
  const coreDir = coreInWorkingDir() ? tmp : '-';
  let proc = launch(exe, ignore ? [coreDir, 'ignore'] : [coreDir], { ...coord, ...withPlugin(), user });
  await proc.waitForLine(/^READY$/);
  const kids = new Map<string, number>();
  const how = new Map<string, string>();
  for (const l of proc.lines()) {
    const m = /^CHILD (\w) pid=(\d+) (.+)$/.exec(l);
    if (!m) continue;
    kids.set(m[1]!, Number(m[2]));
    how.set(m[1]!, m[3]!);
    expect(m[3], l).toMatch(HOW[m[1]!]!);
  }
  expect([...kids.keys()]).toEqual(['a', 'b', 'c', 'd']);
  const vpids = [...kids.values()];
  await waitForProcesses(coord.port, 1);
  expect(childrenOf(proc.pid), 'the four zombies before any checkpoint').toEqual([...vpids].sort((x, y) => x - y));

  for (let cycle = 1; cycle <= 2; cycle++) {
    const { images } = await checkpointImages(coord);
    expect(images, 'the zombies are in no image').toHaveLength(1);
    await proc.kill9();
    await waitForProcesses(coord.port, 0);
    proc = restart(images, { ...coord, user });
    await waitForProcesses(coord.port, 1, { watch: proc });
    for (const pid of await realPids(coord.port)) strays.add(pid);
    await peek(proc, kids, how, `after restart ${cycle}`);
    const real = childrenOf(proc.pid);
    expect(real, `after restart ${cycle}: four children again`).toHaveLength(4);
    for (const pid of real) expect(vpids, 'the kernel gave each recreated child a new pid').not.toContain(pid);
  }

  const mark = proc.mark();
  process.kill(proc.pid, 'SIGUSR1');
  await proc.waitForLine(/^DONE$/, 20_000, { after: mark });
  const out = proc.lines().slice(mark);
  const ctx = out.join('\n');
  expect(out.filter((l) => l.startsWith('REAP') || l.startsWith('AGAIN')), ctx).toEqual([
    `REAP waitpid ret=${kids.get('a')} ${how.get('a')}`,
    `REAP waitid ret=0 si_pid=${kids.get('b')} ${how.get('b')}`,
    `REAP wait4 ret=${kids.get('d')} ${how.get('d')}`,
    `REAP wait ret=${kids.get('c')} ${how.get('c')}`,
    'AGAIN waitpid ret=-1 errno=ECHILD',
    'AGAIN waitid ret=-1 errno=ECHILD',
    'AGAIN wait ret=-1 errno=ECHILD',
  ]);
  const sigchld = /^SIGCHLD pids=(.*)$/.exec(out.find((l) => l.startsWith('SIGCHLD')) ?? '');
  expect(sigchld, ctx).not.toBeNull();
  for (const pid of sigchld![1]!.split(',').filter(Boolean).map(Number)) expect(vpids, ctx).toContain(pid);
  expect((await proc.waitForExit(10_000)).code).toBe(0);
});
