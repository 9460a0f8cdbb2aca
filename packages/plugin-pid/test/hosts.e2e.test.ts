// One computation on two hosts, played by two pid namespaces with hostnames
// of their own, in which the kernel hands out the same pids: every process
// still gets a virtual pid no other process of the computation has, and the
// images of both hosts restart together on this one (a migration that
// consolidates them), twice, each process keeping its ids; at the end each
// parent ends and reaps its children by virtual pid.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { afterEach, expect, test } from 'vitest';
import {
  checkpointImages, childEnv, cleanup, cliArgv, effectiveUid, makeTmpDir, Proc, restart, startCoordinator, waitForProcesses,
  type Coordinator,
} from '@dmtcp/core/testing';
import { collect, fixture, withPlugin } from './helpers.ts';

afterEach(cleanup);

const HOSTS = ['pidhost-a', 'pidhost-b'];
const NAMES = HOSTS.flatMap((h) => ['parent', 'child0', 'child1'].map((n) => `${h}/${n}`));
const ID = /^ID (\S+) vpid=(\d+) ppid=(\d+) real=(\d+)$/;

interface Ids { vpid: number; ppid: number; real: number }

function namespacesUnavailable(): string | null {
  if (effectiveUid(undefined) !== 0) return 'playing a second host with pid and UTS namespaces needs root';
  const probe = spawnSync('unshare', ['--uts', '--pid', '--fork', '--mount-proc', 'true'], { encoding: 'utf8' });
  return probe.status === 0 ? null : `unshare --uts --pid --mount-proc fails here: ${(probe.stderr || probe.error?.message || '').trim()}`;
}

/** `dmtcp launch` inside new pid and UTS namespaces named `host`. */
function launchOnHost(host: string, exe: string, stopFile: string, coord: Coordinator): Proc {
  const { args, env } = withPlugin();
  const launch = [...cliArgv(), 'launch', '--join-coordinator', '--coord-port', String(coord.port), '--ckptdir', coord.ckptDir, ...args, exe, stopFile];
  // sh stays pid 1 of the namespace, so the program is not its init.
  return new Proc(['unshare', '--uts', '--pid', '--fork', '--mount-proc', '--kill-child', 'sh', '-c', `hostname ${host} && "$@"; exit $?`, 'sh', ...launch], {
    env: childEnv(env),
    label: `launch on ${host}`,
  });
}

/** The latest ID line of each process, after `mark`. */
async function ids(procs: Proc[], marks: number[]): Promise<Map<string, Ids>> {
  const out = new Map<string, Ids>();
  for (const [i, proc] of procs.entries()) {
    const want = procs.length === 1 ? NAMES.length : NAMES.length / 2;
    await proc.waitUntil(() => {
      for (const l of proc.lines().slice(marks[i])) {
        const m = ID.exec(l);
        if (m) out.set(m[1]!, { vpid: +m[2]!, ppid: +m[3]!, real: +m[4]! });
      }
      return [...out.keys()].filter((k) => procs.length === 1 || k.startsWith(HOSTS[i]!)).length >= want ? true : undefined;
    }, `waiting for ID lines of ${want} processes`, 20_000);
  }
  return out;
}

const unavailable = namespacesUnavailable();

test.skipIf(unavailable !== null)(`virtual pids are unique across hosts, and two hosts restart together on one${unavailable ? ` (skipped: ${unavailable})` : ''}`, async () => {
  const exe = await fixture('pid-hosts.c');
  const stopFile = path.join(await makeTmpDir('dmtcp-hosts-'), 'stop');
  const coord = await startCoordinator();
  const launched = HOSTS.map((h) => launchOnHost(h, exe, stopFile, coord));
  await waitForProcesses(coord.port, 6);
  const before = await ids(launched, [0, 0]);
  expect([...before.keys()].sort()).toEqual([...NAMES].sort());

  // The namespaces did collide: some kernel pid is used on both hosts...
  const realOn = (h: string) => new Set(NAMES.filter((n) => n.startsWith(h)).map((n) => before.get(n)!.real));
  const [realA, realB] = HOSTS.map(realOn) as [Set<number>, Set<number>];
  expect([...realA].filter((p) => realB.has(p)), `kernel pids ${[...realA]} and ${[...realB]}`).not.toHaveLength(0);
  // ...yet no two processes share a virtual pid, and each child names its parent.
  expect(new Set(NAMES.map((n) => before.get(n)!.vpid)).size).toBe(NAMES.length);
  for (const h of HOSTS) {
    for (const c of ['child0', 'child1']) expect(before.get(`${h}/${c}`)!.ppid).toBe(before.get(`${h}/parent`)!.vpid);
  }

  let procs = launched;
  for (let cycle = 1; cycle <= 2; cycle++) {
    const { images } = await checkpointImages(coord);
    expect(images).toHaveLength(6);
    for (const p of procs) await p.kill9();
    await waitForProcesses(coord.port, 0);
    const proc = restart(images, { ...coord, env: withPlugin().env });
    await waitForProcesses(coord.port, 6, { watch: proc });
    const after = await ids([proc], [proc.mark()]);
    // (A parent's own parent was each namespace's shell: it is gone.)
    for (const n of NAMES) {
      const got = after.get(n)!;
      const want = before.get(n)!;
      expect(got.vpid, `${n}'s pid, cycle ${cycle}`).toBe(want.vpid);
      if (!n.endsWith('/parent')) expect(got.ppid, `${n}'s ppid, cycle ${cycle}`).toBe(want.ppid);
    }
    procs = [proc];
  }

  const proc = procs[0]!;
  const mark = proc.mark();
  spawnSync('touch', [stopFile]);
  const reaped = await collect(proc, /^REAPED (\S+) vpid=(\d+) ret=(-?\d+) signal=(\d+)$/, 4, mark, 'REAPED');
  for (const m of reaped) {
    expect(Number(m[2]), m[0]).toBe(before.get(m[1]!)!.vpid);
    expect(Number(m[3]), m[0]).toBe(before.get(m[1]!)!.vpid);
    expect(Number(m[4]), m[0]).toBe(15);
  }
});
