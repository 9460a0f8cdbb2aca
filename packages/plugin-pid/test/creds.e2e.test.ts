// Pids inside data (test/fixtures/pid-creds.c): unix socket credentials,
// signalfd records, and the siginfo of a handler installed with a raw
// rt_sigaction system call. A parent and its child run one round before any
// checkpoint and one after each of two checkpoint/kill/restart cycles; the
// sockets and signalfds of a round are made in it and closed at its end, so
// only this plugin is needed. In every round each pid the kernel reports
// (SO_PEERCRED, SCM_CREDENTIALS received, ssi_pid, si_pid) is the sender's
// virtual pid, although the kernel filled in its new real one; credentials
// sent with the sender's getpid() go through (the kernel would refuse a pid
// that is not the sender's real one, or name another process); and a pipe
// that took the number of a closed signalfd reads back untouched. As root
// and as user nobody. Last, a signalfd handed over by exec.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  checkpointImages, cleanup, launch, restart, startCoordinator, waitForProcesses, type Proc,
} from '@dmtcp/core/testing';
import { fixture, killStrays, realPids, strays, withPlugin } from './helpers.ts';

interface Round {
  what: string;
  lines: string[];
  /** Real pids of the computation during the round. */
  real: number[];
}

interface Run {
  parent: number;
  child: number;
  start: string[];
  rounds: Round[];
  end: string[];
  exitCode: number | null;
}

async function round(proc: Proc, what: string, real: number[], into: Round[]): Promise<void> {
  const mark = proc.mark();
  process.kill(proc.pid, 'SIGUSR1');
  await proc.waitForLine(/^ROUND DONE$/, 60_000, { after: mark });
  into.push({ what, lines: proc.lines().slice(mark), real });
}

async function scenario(user: 'nobody' | undefined, run: Run): Promise<void> {
  const exe = await fixture('pid-creds.c');
  const coord = await startCoordinator();
  let proc = launch(exe, [], { ...coord, ...withPlugin(), user });
  await proc.waitForLine(/^READY$/);
  await waitForProcesses(coord.port, 2);
  run.start = proc.lines();
  run.parent = Number(/^PARENT vpid=(\d+)$/.exec(run.start.find((l) => l.startsWith('PARENT')) ?? '')?.[1]);
  run.child = Number(/^CHILD vpid=(\d+)$/.exec(run.start.find((l) => l.startsWith('CHILD')) ?? '')?.[1]);
  await round(proc, 'before any restart', await realPids(coord.port), run.rounds);

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
    await round(proc, `after restart ${cycle}`, real, run.rounds);
  }

  const mark = proc.mark();
  process.kill(proc.pid, 'SIGTERM');
  await proc.waitForLine(/^END$/, 30_000, { after: mark });
  run.end = proc.lines().slice(mark);
  run.exitCode = (await proc.waitForExit(10_000)).code;
}

/** The "GOT <what> pid=<n>" lines of a round for the given names, in order. */
function got(lines: readonly string[], names: readonly string[]): string[] {
  return lines.filter((l) => {
    const m = /^GOT (\S+) pid=/.exec(l);
    return m !== null && names.includes(m[1]!);
  });
}

function want(names: readonly string[], pid: number): string[] {
  return names.map((n) => `GOT ${n} pid=${pid}`);
}

// As root the kernel takes any existing pid in sent credentials (a process
// of the previous life not yet reaped may still hold the virtual one); as
// an unprivileged user it refuses every pid but the sender's real one.
describe.each([
  { as: 'the current user', user: undefined },
  { as: 'user nobody', user: 'nobody' as const },
])('pids inside data, over two restarts ($as)', ({ user }) => {
  const run: Run = { parent: 0, child: 0, start: [], rounds: [], end: [], exitCode: null };

  beforeAll(() => scenario(user, run), 170_000);

  afterAll(async () => {
    killStrays();
    await cleanup();
  });

  test('the scenario ran: two processes, new real pids after each restart, no failure reported', () => {
    const { parent, child, rounds, end } = run;
    expect(parent).toBeGreaterThan(0);
    expect(child).toBeGreaterThan(0);
    expect(rounds.map((r) => r.what)).toEqual(['before any restart', 'after restart 1', 'after restart 2']);
    for (const r of rounds) {
      expect(r.lines.filter((l) => l.startsWith('FAIL')), `${r.what}:\n${r.lines.join('\n')}`).toEqual([]);
      expect(r.lines, r.what).toContain(`CHILD self=${child}`);
    }
    // The kernel's pids changed: a pass below means translation happened.
    for (const r of rounds.slice(1)) expect(r.real.filter((p) => p === parent || p === child), r.what).toEqual([]);
    expect(end.filter((l) => l.startsWith('FAIL')), end.join('\n')).toEqual([]);
    expect(run.exitCode).toBe(0);
  });

  test('SO_PEERCRED and SCM_CREDENTIALS name the peer by its virtual pid; credentials sent with getpid() go through', () => {
    // What the parent got from the child, then what the child got from the parent.
    const fromChild = ['peercred', 'peercred-syscall', 'recvmsg', 'recvmmsg', 'recvmmsg', 'recvmsg-syscall', 'implicit'];
    const fromParent = [
      'child-peercred', 'child-peercred-syscall', 'child-recvmsg', 'child-recvmmsg', 'child-recvmmsg',
      'child-recvmsg-syscall', 'child-recvmmsg-syscall', 'child-implicit',
    ];
    expect(run.rounds).toHaveLength(3);
    for (const r of run.rounds) {
      const all = r.lines.join('\n');
      expect(got(r.lines, fromChild), `${r.what}:\n${all}`).toEqual(want(fromChild, run.child));
      expect(got(r.lines, fromParent), `${r.what}:\n${all}`).toEqual(want(fromParent, run.parent));
    }
  });

  test('signalfd records carry the sender\'s or the child\'s virtual pid; a reused number is read untouched', () => {
    const { child, rounds, end } = run;
    const sfd = ['sfd-kill', 'sfd-queue', 'sfd-stopped', 'sfd-continued'];
    expect(rounds).toHaveLength(3);
    for (const r of rounds) {
      expect(got(r.lines, sfd), `${r.what}:\n${r.lines.join('\n')}`).toEqual(want(sfd, child));
      // A pipe on the number of a signalfd closed behind the wrappers' back:
      // its bytes, a record naming the child's real pid, stay as written.
      const pipe = /^PIPE pid=(\d+) real=(\d+)$/.exec(r.lines.find((l) => l.startsWith('PIPE')) ?? '');
      expect(pipe, r.what).not.toBeNull();
      const [, seen, real] = pipe!.map(Number);
      expect(seen, r.what).toBe(real);
      if (r !== rounds[0]) expect(real, `${r.what}: the child's real pid`).not.toBe(child);
    }
    // Reaped before its SIGCHLD was read: still its virtual pid.
    expect(end).toContain(`REAPED ret=${child}`);
    expect(got(end, ['exit'])).toEqual([`GOT exit pid=${child}`]);
  });

  test('a handler installed with syscall(SYS_rt_sigaction) sees virtual pids and is reported back', () => {
    expect(run.start).toContain('RAW same=1');
    expect(run.rounds).toHaveLength(3);
    for (const r of run.rounds) expect(got(r.lines, ['raw-handler']), r.what).toEqual([`GOT raw-handler pid=${run.child}`]);
  });
});

// A signalfd made before an exec and read by the new program, after a
// restart (test/fixtures/pid-sfd-exec.c): the program finds it open at
// start-up and its records are translated like those of its own signalfds.
test('a signalfd handed over by exec carries the sender\'s virtual pid after a restart', async () => {
  try {
    const exe = await fixture('pid-sfd-exec.c');
    const coord = await startCoordinator();
    let proc = launch(exe, [], { ...coord, ...withPlugin() });
    const child = Number((await proc.waitForLine(/^CHILD vpid=(\d+)$/)).match[1]);
    await proc.waitForLine(/^READY$/);
    await waitForProcesses(coord.port, 2);
    const { images } = await checkpointImages(coord);
    for (const pid of await realPids(coord.port)) strays.add(pid);
    killStrays();
    await proc.kill9();
    await waitForProcesses(coord.port, 0);
    proc = restart(images, coord);
    await waitForProcesses(coord.port, 2, { watch: proc });
    const real = await realPids(coord.port);
    for (const pid of real) strays.add(pid);
    expect(real, 'the child has a new real pid').not.toContain(child);
    process.kill(proc.pid, 'SIGUSR1');
    const { match } = await proc.waitForLine(/^INH signo=(\d+) pid=(\d+)$/, 30_000);
    expect(proc.lines().filter((l) => l.startsWith('FAIL'))).toEqual([]);
    expect(match.slice(1).map(Number)).toEqual([12, child]);
    expect((await proc.waitForExit(10_000)).code).toBe(0);
  } finally {
    killStrays();
    await cleanup();
  }
});
