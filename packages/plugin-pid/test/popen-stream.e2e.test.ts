// A popen stream read line by line while the computation is checkpointed,
// killed and restarted twice (test/fixtures/pid-popen.c). The pipe between
// parent and child is the file plugin's to restore, so this check loads
// plugin-file's library beside this one (skipped, saying so, when it is not
// built). Every line arrives (a line may come twice after a restart, as the
// parent's output between the checkpoint and the kill is printed again, but
// none is lost), the child keeps its pid and names the parent by its
// virtual pid throughout, and pclose and SIGCHLD report the child by the
// same pid with its exit status.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterEach, expect, test } from 'vitest';
import { checkpointImages, cleanup, launch, restart, startCoordinator, waitForProcesses, type Proc } from '@dmtcp/core/testing';
import { PLUGIN_LIB, fixture, killStrays, pkgRoot, realPids, strays } from './helpers.ts';

const FILE_LIB = path.join(pkgRoot, '..', 'plugin-file', 'build', 'libdmtcp_file.so');

afterEach(async () => {
  killStrays();
  await cleanup();
});

const GOT = /^GOT line (\d+) pid=(\d+) ppid=(\d+)$/;

function got(proc: Proc): { n: number; pid: number; ppid: number }[] {
  return proc.lines().map((l) => GOT.exec(l)).filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ n: Number(m[1]), pid: Number(m[2]), ppid: Number(m[3]) }));
}

test('a popen stream read line by line survives two restarts (with the file plugin)', async (ctx) => {
  if (!existsSync(FILE_LIB)) ctx.skip(`${FILE_LIB} is not built (pnpm --filter @dmtcp/plugin-file build)`);
  const exe = await fixture('pid-popen.c');
  const coord = await startCoordinator();
  const plugins = { args: ['--with-plugin', `${PLUGIN_LIB}:${FILE_LIB}`], env: { DMTCP_BUILTIN_PLUGINS: '0' } };
  let proc = launch(exe, [], { ...coord, ...plugins });
  const parent = Number((await proc.waitForLine(/^READY pid=(\d+)$/)).match[1]);
  await waitForProcesses(coord.port, 2);
  const seen: { n: number; pid: number; ppid: number }[] = [];
  let last = 0;
  for (let cycle = 1; cycle <= 2; cycle++) {
    await proc.waitUntil(() => ((got(proc).at(-1)?.n ?? 0) >= last + 8 ? true : undefined), `line ${last + 8}`, 20_000);
    const { images } = await checkpointImages(coord);
    expect(images).toHaveLength(2);
    for (const pid of await realPids(coord.port)) strays.add(pid);
    killStrays();
    await proc.kill9();
    await waitForProcesses(coord.port, 0);
    seen.push(...got(proc));
    last = seen.at(-1)!.n;
    proc = restart(images, { ...coord, env: plugins.env });
    await waitForProcesses(coord.port, 2, { watch: proc });
    for (const pid of await realPids(coord.port)) strays.add(pid);
  }
  const { match } = await proc.waitForLine(/^STREAM status=(-?\d+) sigchld=(-?\d+)$/, 30_000);
  seen.push(...got(proc));
  const child = seen[0]!.pid;
  for (const s of seen) expect(s, 'the child keeps its pid and its parent').toEqual({ n: s.n, pid: child, ppid: parent });
  const numbers = [...new Set(seen.map((s) => s.n))].sort((a, b) => a - b);
  expect(numbers, 'every line arrived').toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
  expect(match.slice(1).map(Number), 'pclose status and SIGCHLD si_pid').toEqual([5, child]);
  expect(proc.lines().filter((l) => l.startsWith('FAIL'))).toEqual([]);
  expect((await proc.waitForExit(10_000)).code).toBe(0);
});
