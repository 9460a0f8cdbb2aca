// Children started without fork (test/fixtures/pid-spawn.c): popen (read
// and write), system, posix_spawn and posix_spawnp, before any checkpoint
// and after each of two checkpoint/kill/restart cycles. Each child sees the
// parent's virtual pid as its parent; the pid posix_spawn returns, the pid
// waitpid returns, the si_pid of the parent's SIGCHLD and the child's own
// getpid() are one number; exit statuses come through.
//
// Only this plugin is loaded, and pipes are the file plugin's to restore,
// so each popen round opens and closes its own stream (a stream open across
// restarts: popen-stream.e2e.test.ts). A posix_spawn child
// does live through both restarts: it still names the parent by its virtual
// pid, and the parent ends it and reaps it by the pid posix_spawn returned.
//
// As root, a spawned child is also steered onto a virtual pid in use (the
// parent's, free as a real pid after the restart): it must take another
// virtual pid, and parent and child must agree on it.
import { afterEach, expect, test } from 'vitest';
import {
  checkpointImages, cleanup, launch, restart, startCoordinator, waitForProcesses, type Proc,
} from '@dmtcp/core/testing';
import {
  fixture, killStrays, realPids, steerNextPid, steeringUnavailable, strays, waitGone, withPlugin,
} from './helpers.ts';

afterEach(async () => {
  killStrays();
  await cleanup();
});

interface Child { pid: number; ppid: number; real: number; got?: string }

const CHILD = /^(?:POPEN_READ )?CHILD ([\w-]+) pid=(\d+) ppid=(\d+) real=(\d+)(?: got=(\w+))?$/;

function children(lines: readonly string[]): Map<string, Child> {
  const out = new Map<string, Child>();
  for (const l of lines) {
    const m = CHILD.exec(l);
    if (m) out.set(m[1]!, { pid: Number(m[2]), ppid: Number(m[3]), real: Number(m[4]), got: m[5] });
  }
  return out;
}

type Kind = 'popen' | 'system' | 'spawn' | 'spawnp';
const SIGNAL: Record<Kind, NodeJS.Signals> = { popen: 'SIGUSR1', system: 'SIGUSR2', spawn: 'SIGWINCH', spawnp: 'SIGHUP' };
const DONE: Record<Kind, string> = { popen: 'POPEN DONE', system: 'SYSTEM DONE', spawn: 'SPAWN DONE', spawnp: 'SPAWNP DONE' };

/** Runs one kind of child; returns the children it reported. */
async function run(proc: Proc, kind: Kind, parent: number, what: string): Promise<Map<string, Child>> {
  const mark = proc.mark();
  process.kill(proc.pid, SIGNAL[kind]);
  await proc.waitForLine(new RegExp(`^${DONE[kind]}$`), 30_000, { after: mark });
  const out = proc.lines().slice(mark);
  const ctx = `${what}, ${kind}:\n${out.join('\n')}`;
  expect(out.filter((l) => l.startsWith('FAIL')), ctx).toEqual([]);
  const kids = children(out);
  for (const [tag, c] of kids) expect(c.ppid, `${ctx}\n${tag}: getppid() is the parent's virtual pid`).toBe(parent);
  const kid = (tag: string): Child => {
    const c = kids.get(tag);
    expect(c, `${ctx}\nno CHILD ${tag} line`).toBeDefined();
    return c!;
  };
  switch (kind) {
    case 'popen': {
      const r = kid('popen');
      const w = kid('popen-w');
      expect(out, ctx).toContain(`POPEN status=0 sigchld=${r.pid}`);
      expect(w.got, ctx).toBe('hello');
      expect(out, ctx).toContain(`POPEN_W status=4 sigchld=${w.pid}`);
      break;
    }
    case 'system':
      expect(out, ctx).toContain(`SYSTEM status=7 sigchld=${kid('system').pid}`);
      expect(out, ctx).toContain('SYSTEM_NULL 1');
      break;
    case 'spawn': {
      const c = kid('spawn');
      expect(out, ctx).toContain(`SPAWN pid=${c.pid} ret=${c.pid} status=9 sigchld=${c.pid}`);
      break;
    }
    case 'spawnp': {
      const c = kid('spawnp');
      expect(out, ctx).toContain(`SPAWNP pid=${c.pid} ret=${c.pid} status=11 sigchld=${c.pid}`);
      break;
    }
  }
  return kids;
}

async function allKinds(proc: Proc, parent: number, what: string, port: number): Promise<void> {
  for (const kind of ['popen', 'system', 'spawn', 'spawnp'] as const) {
    await run(proc, kind, parent, what);
    // The children have left: the next checkpoint sees the parent alone.
    await waitForProcesses(port, 1);
  }
}

async function cycle(proc: Proc, coord: { port: number; ckptDir: string }, n = 1, user?: 'nobody'): Promise<Proc> {
  const { images } = await checkpointImages(coord);
  expect(images).toHaveLength(n);
  for (const pid of await realPids(coord.port)) strays.add(pid);
  killStrays();
  await proc.kill9();
  await waitForProcesses(coord.port, 0);
  const next = restart(images, { ...coord, user });
  await waitForProcesses(coord.port, n, { watch: next });
  for (const pid of await realPids(coord.port)) strays.add(pid);
  return next;
}

test.each([
  { as: 'the current user', user: undefined },
  { as: 'user nobody', user: 'nobody' as const },
])('popen, system, posix_spawn and posix_spawnp children get consistent virtual pids, before and after two restarts ($as)', async ({ user }) => {
  const exe = await fixture('pid-spawn.c');
  const coord = await startCoordinator();
  let proc = launch(exe, [], { ...coord, ...withPlugin(), user });
  const parent = Number((await proc.waitForLine(/^READY pid=(\d+)$/)).match[1]);
  expect(parent).toBe(proc.pid);
  await waitForProcesses(coord.port, 1);
  await allKinds(proc, parent, 'before any restart', coord.port);
  for (let c = 1; c <= 2; c++) {
    proc = await cycle(proc, coord, 1, user);
    expect(proc.pid, 'the kernel gave the parent a new pid').not.toBe(parent);
    await allKinds(proc, parent, `after restart ${c}`, coord.port);
  }
});

test('a posix_spawn child lives through two restarts: both sides keep its virtual pid and its parent\'s', async () => {
  const exe = await fixture('pid-spawn.c');
  const coord = await startCoordinator();
  let proc = launch(exe, [], { ...coord, ...withPlugin() });
  const parent = Number((await proc.waitForLine(/^READY pid=(\d+)$/)).match[1]);
  process.kill(proc.pid, 'SIGURG');
  const child = Number((await proc.waitForLine(/^LONG pid=(\d+)$/)).match[1]);
  await proc.waitForLine(new RegExp(`^CHILD long pid=${child} ppid=${parent} real=${child}$`));
  await waitForProcesses(coord.port, 2);
  for (let c = 1; c <= 2; c++) {
    proc = await cycle(proc, coord, 2);
    const real = (await realPids(coord.port)).filter((p) => p !== proc.pid);
    expect(real, 'the child has a new real pid').toHaveLength(1);
    expect(real[0]).not.toBe(child);
    const mark = proc.mark();
    process.kill(real[0]!, 'SIGUSR1');
    await proc.waitForLine(new RegExp(`^CHILD long pid=${child} ppid=${parent} real=${real[0]}$`), 10_000, { after: mark });
  }
  const mark = proc.mark();
  process.kill(proc.pid, 'SIGURG');
  await proc.waitForLine(/^LONG DONE$/, 20_000, { after: mark });
  expect(proc.lines().slice(mark)).toContain(`LONG pid=${child} ret=${child} status=12 sigchld=${child}`);
});

test('a spawned child whose real pid is a virtual pid in use gets another one, agreed by parent and child', async (ctx) => {
  const why = steeringUnavailable();
  if (why) ctx.skip(`pid steering unavailable: ${why}`);
  const exe = await fixture('pid-spawn.c');
  const coord = await startCoordinator();
  let proc = launch(exe, [], { ...coord, ...withPlugin({ DMTCP_DEBUG: '1' }) });
  const parent = Number((await proc.waitForLine(/^READY pid=(\d+)$/)).match[1]);
  await waitForProcesses(coord.port, 1);
  for (let c = 1; c <= 2; c++) {
    proc = await cycle(proc, coord);
    // The parent's virtual pid is free as a real pid now: steer each kind of
    // child onto it (another process may take it first: repeated).
    for (const kind of ['popen', 'spawn', 'system'] as const) {
      let landed = false;
      for (let attempt = 0; attempt < 5 && !landed; attempt++) {
        await waitGone(parent);
        steerNextPid(parent);
        const kids = await run(proc, kind, parent, `restart ${c}, steered`);
        await waitForProcesses(coord.port, 1);
        const first = kids.get(kind)!;
        if (first.real !== parent) continue;
        landed = true;
        expect(first.pid, `${kind}: the child does not answer to the parent's virtual pid`).not.toBe(parent);
      }
      expect(landed, `a ${kind} child landed on the parent's virtual pid ${parent}`).toBe(true);
    }
  }
});
