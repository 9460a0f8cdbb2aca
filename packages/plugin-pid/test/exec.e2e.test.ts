// exec after a restart: the new program has the same virtual pid as the
// one it replaced (not the kernel's new pid) and can still reach and reap
// the child forked before the checkpoint by its virtual pid; a second
// checkpoint/kill/restart of the new program keeps that pid again.
import { afterEach, expect, test } from 'vitest';
import { checkpointImages, cleanup, launch, restart, startCoordinator, waitForProcesses } from '@dmtcp/core/testing';
import { fixture, killStrays, withPlugin, realPids, strays } from './helpers.ts';

afterEach(async () => {
  killStrays();
  await cleanup();
});

test('exec keeps the virtual pid and the children it knows, across two restarts', async () => {
  const exe = await fixture('pid-exec.c');
  const coord = await startCoordinator();
  let proc = launch(exe, [], { ...coord, ...withPlugin() });
  const { match } = await proc.waitForLine(/^BEFORE pid=(\d+) child=(\d+)$/);
  const [vpid, child] = match.slice(1).map(Number);
  expect(vpid).toBe(proc.pid);
  await waitForProcesses(coord.port, 2);

  // Restart, then exec in the restarted process.
  let { images } = await checkpointImages(coord);
  expect(images).toHaveLength(2);
  for (const pid of await realPids(coord.port)) strays.add(pid);
  for (const pid of strays) process.kill(pid, 'SIGKILL');
  await proc.kill9();
  await waitForProcesses(coord.port, 0);
  proc = restart(images, coord);
  await waitForProcesses(coord.port, 2, { watch: proc });
  for (const pid of await realPids(coord.port)) strays.add(pid);
  expect(proc.pid).not.toBe(vpid);
  let mark = proc.mark();
  process.kill(proc.pid, 'SIGUSR1');
  const after = await proc.waitForLine(/^AFTER pid=(\d+) ppid=(\d+)$/, 20_000, { after: mark });
  expect(Number(after.match[1]), 'getpid() after exec').toBe(vpid);
  const waited = await proc.waitForLine(/^AFTER_WAITED ret=(-?\d+) code=(-?\d+)$/, 20_000, { after: mark });
  expect(waited.match.slice(1).map(Number), 'waitpid(child vpid) after exec').toEqual([child, 5]);
  await waitForProcesses(coord.port, 1);

  // The exec'd program through another cycle.
  ({ images } = await checkpointImages(coord));
  expect(images).toHaveLength(1);
  await proc.kill9();
  await waitForProcesses(coord.port, 0);
  proc = restart(images, coord);
  await waitForProcesses(coord.port, 1, { watch: proc });
  mark = proc.mark();
  process.kill(proc.pid, 'SIGUSR1');
  const again = await proc.waitForLine(/^AGAIN pid=(\d+)$/, 20_000, { after: mark });
  expect(Number(again.match[1])).toBe(vpid);
  expect(proc.lines().filter((l) => l.startsWith('FAIL'))).toEqual([]);
});
