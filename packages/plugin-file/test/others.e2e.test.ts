// Sockets, epoll, eventfd, signalfd, inotify and timerfd belong to other
// plugins: the file plugin leaves them alone and says nothing about them
// at checkpoint or restart, unless asked with DMTCP_DEBUG=1, where each gets
// one line. (Until those plugins exist nobody restores them: after the
// first restart they are gone, which is why each check starts afresh.)
import { afterEach, expect, test } from 'vitest';
import { cleanup, launch, runCli, startCoordinator, type Proc } from '@dmtcp/core/testing';
import { cycle, failures, fileMessages, fixture, pluginArgs } from './helpers.ts';

afterEach(cleanup);

const OK = /^ok (\d+)$/;

async function start(): Promise<{ proc: Proc; fds: number[]; coord: Awaited<ReturnType<typeof startCoordinator>> }> {
  const exe = await fixture('others.c');
  const coord = await startCoordinator();
  const proc = launch(exe, [], { ...coord, args: await pluginArgs() });
  await proc.waitForLine(/^ok 5$/);
  const fds = (proc.lines().find((l) => l.startsWith('fds ')) ?? '').split(' ').slice(1).map(Number);
  expect(fds).toHaveLength(8);
  return { proc, fds, coord };
}

test('descriptors of other plugins: not a word about them at checkpoint or restart', async () => {
  let { proc, coord } = await start();
  for (let i = 0; i < 2; i++) {
    proc = (await cycle(proc, OK, coord)).proc;
    expect(failures(proc)).toEqual([]);
    expect(fileMessages(proc)).toEqual([]);
  }
});

test('descriptors of other plugins: one line each with DMTCP_DEBUG=1', async () => {
  let { proc, fds, coord } = await start();
  proc = (await cycle(proc, OK, coord, { restartEnv: { DMTCP_DEBUG: '1' } })).proc;
  const left = fileMessages(proc).filter((l) => l.endsWith(': left to the plugin that handles it'));
  expect(left.map((l) => Number(/^dmtcp file: fd (\d+) /.exec(l)?.[1])).sort((a, b) => a - b)).toEqual([...fds].sort((a, b) => a - b));
  expect(fileMessages(proc).filter((l) => /cannot|lost|stays closed|not restored/.test(l))).toEqual([]);
});

test('the checkpoint warns about exactly those descriptors: the kinds this plugin declares are not listed', async () => {
  const { proc, fds, coord } = await start();
  const res = await runCli(['command', '--coord-port', String(coord.port), '--checkpoint'], { timeoutMs: 30_000 });
  expect(res.code, res.stderr).toBe(0);
  const warnings = res.stderr.trim().split('\n');
  expect(warnings).toHaveLength(1);
  // "fd 3-5 (socket)" stands for 3, 4 and 5.
  const listed = [...(warnings[0] ?? '').matchAll(/fd (\d+)(?:-(\d+))? \([a-z_]+\)/g)].flatMap((m) => {
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    return Array.from({ length: hi - lo + 1 }, (_, i) => lo + i);
  });
  expect(listed.sort((a, b) => a - b)).toEqual([...fds].sort((a, b) => a - b));
  expect(warnings[0]).toMatch(/will not be restored: need plugin-event, plugin-socket, plugin-timer$/);
  expect(failures(proc)).toEqual([]);
});
