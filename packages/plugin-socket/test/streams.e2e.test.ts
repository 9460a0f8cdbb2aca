// Connected stream sockets with both ends in the computation, full of
// in-flight data in both directions at every checkpoint
// (test/fixtures/streams.c writes until EAGAIN and reads one 4 KiB bite per
// tick, checking every byte against its position): a socketpair in one
// process, TCP and Unix between a parent and its forked child, TCP and Unix
// between two separately launched processes. Over 3 checkpoint / kill -9 /
// restart cycles, as root and as nobody, no byte may be lost, doubled or
// reordered (a BAD line), every byte in flight at the kill must arrive
// after the restart, and the plugin says nothing.
import path from 'node:path';
import { afterEach, expect, test } from 'vitest';
import {
  checkpointImages,
  cleanup,
  launch,
  makeTmpDir,
  restart,
  startCoordinator,
  status,
  waitForProcesses,
  type Coordinator,
  type Proc,
  type RunAs,
} from '@dmtcp/core/testing';
import { BUILTINS, fixture, socketMessages, warnings } from './helpers.ts';

afterEach(cleanup);

interface Counts {
  sent: number;
  recv: number;
}

/** The last "<name> sent S recv R" of every end in the output of procs. */
function counts(procs: readonly Proc[]): Map<string, Counts> {
  const out = new Map<string, Counts>();
  for (const p of procs)
    for (const l of p.lines())
      for (const m of l.matchAll(/ (\w+) sent (\d+) recv (\d+)/g)) out.set(m[1]!, { sent: Number(m[2]), recv: Number(m[3]) });
  return out;
}

function bad(procs: readonly Proc[]): string[] {
  return procs.flatMap((p) => p.lines().filter((l) => l.startsWith('BAD')));
}

async function killAllOf(procs: readonly Proc[], coord: Coordinator): Promise<void> {
  const st = await status(coord.port);
  // All stopped before any dies: a process that outlived its peer by a
  // moment would see the connection reset and say BAD about the kill.
  const pids = (st.processes as { pid: number }[]).map((p) => p.pid);
  for (const sig of ['SIGSTOP', 'SIGKILL'] as const)
    for (const pid of pids) {
      try {
        process.kill(pid, sig);
      } catch {
        // already gone
      }
    }
  for (const p of procs) await p.kill9();
  await waitForProcesses(coord.port, 0);
}

/**
 * 3 cycles over the processes of one computation; peers maps each end to
 * the one it reads from.
 */
async function cycles(first: Proc[], coord: Coordinator, nproc: number, peers: Record<string, string>, as: { user?: RunAs }): Promise<void> {
  let procs = first;
  await waitForProcesses(coord.port, nproc);
  const allEnds = Object.keys(peers);
  const seen = (): boolean => allEnds.every((e) => (counts(procs).get(e)?.recv ?? 0) > 0);
  await procs[0]!.waitUntil(() => (seen() ? true : undefined), 'every end receiving');
  for (let cycle = 1; cycle <= 3; cycle++) {
    const ckpt = await checkpointImages(coord);
    expect(ckpt.images).toHaveLength(nproc);
    // Going on after the checkpoint (resume drained and refilled the pairs).
    const atCkpt = counts(procs);
    await procs[0]!.waitUntil(() => (allEnds.every((e) => counts(procs).get(e)!.recv > atCkpt.get(peers[e]!)!.sent) ? true : undefined),
      'each end receiving past what its peer had sent at the checkpoint, before the kill');
    await killAllOf(procs, coord);
    expect(bad(procs), procs.map((p) => p.describe()).join('\n')).toEqual([]);
    const atKill = counts(procs);
    const next = restart(ckpt.images, { ...coord, env: BUILTINS, ...as });
    procs = [next];
    // Every byte the peer had sent by the checkpoint was in the image
    // (drained) or written again: all of them arrive, checked one by one.
    await next.waitUntil(
      () => (allEnds.every((e) => (counts([next]).get(e)?.recv ?? 0) > atCkpt.get(peers[e]!)!.sent) ? true : undefined),
      `each end receiving past what its peer had sent at checkpoint ${cycle} (${JSON.stringify([...atCkpt])}; at the kill ${JSON.stringify([...atKill])})`,
    );
    expect(bad([next]), next.describe()).toEqual([]);
    expect(socketMessages(next), next.describe()).toEqual([]);
  }
  expect(warnings(coord)).toEqual([]);
}

for (const user of [undefined, 'nobody'] as const) {
  const as: { user?: RunAs } = user ? { user } : {};
  const who = user ? ' as nobody' : '';

  test(`a full socketpair in one process: both streams exact over 3 restarts${who}`, async () => {
    const exe = await fixture('streams.c');
    const coord = await startCoordinator();
    const proc = launch(exe, ['pair'], { ...coord, env: BUILTINS, ...as });
    await cycles([proc], coord, 1, { a: 'b', b: 'a' }, as);
  });

  for (const kind of ['unix', 'tcp', 'tcp6'] as const) {
    test(`a full ${kind} connection between a parent and its forked child: both streams exact over 3 restarts${who}`, async () => {
      const exe = await fixture('streams.c');
      const coord = await startCoordinator();
      const proc = launch(exe, ['fork', kind], { ...coord, env: BUILTINS, ...as });
      await cycles([proc], coord, 2, { parent: 'child', child: 'parent' }, as);
    });

    test(`a full ${kind} connection between two launched processes: both streams exact over 3 restarts${who}`, async () => {
      const exe = await fixture('streams.c');
      const dir = await makeTmpDir('dmtcp-socket-');
      const addr = path.join(dir, kind === 'unix' ? 'server.sock' : 'server.port');
      const coord = await startCoordinator();
      const server = launch(exe, ['server', kind, addr], { ...coord, env: BUILTINS, ...as });
      await server.waitForLine(/^listening$/);
      const client = launch(exe, ['client', kind, addr], { ...coord, env: BUILTINS, ...as });
      await cycles([server, client], coord, 2, { server: 'client', client: 'server' }, as);
    });
  }
}
