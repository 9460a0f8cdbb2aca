// An orphan (its parent exited before the checkpoint) keeps its virtual pid
// over two restarts, and getppid() keeps saying 1, as it did before: after
// a restart its real parent is whoever ran the restart, outside the
// computation, and programs test getppid() == 1 to learn that their parent
// is gone.
import { afterEach, expect, test } from 'vitest';
import { checkpointImages, cleanup, launch, restart, startCoordinator, waitForProcesses, type Proc } from '@dmtcp/core/testing';
import { fixture, killStrays, strays, withPlugin } from './helpers.ts';

afterEach(async () => {
  killStrays();
  await cleanup();
});

const LINE = /^ORPHAN (\d+) vpid=(\d+) ppid=(\d+)$/;

async function latest(proc: Proc, mark: number): Promise<{ vpid: number; ppid: number }> {
  const m = await proc.waitUntil(() => {
    const lines = proc.lines().slice(mark).map((l) => LINE.exec(l)).filter((x): x is RegExpExecArray => x !== null);
    return lines.length >= 2 ? lines[lines.length - 1] : undefined;
  }, 'waiting for ORPHAN lines', 15_000);
  return { vpid: Number(m[2]), ppid: Number(m[3]) };
}

test('an orphan keeps its pid and getppid() == 1 over two restarts', async (ctx) => {
  const exe = await fixture('pid-orphan.c');
  const coord = await startCoordinator();
  const launched = launch(exe, [], { ...coord, ...withPlugin() });
  expect((await launched.waitForExit()).code).toBe(0);
  let st = await waitForProcesses(coord.port, 1);
  const before = await latest(launched, 0);
  if (before.ppid !== 1) ctx.skip(`orphans are adopted by a subreaper here (getppid() is ${before.ppid}), not by init`);

  let proc = launched;
  for (let cycle = 1; cycle <= 2; cycle++) {
    const real = (st.processes as { pid: number }[])[0]!.pid;
    strays.add(real);
    const { images } = await checkpointImages(coord);
    process.kill(real, 'SIGKILL');
    await waitForProcesses(coord.port, 0);
    proc = restart(images, { ...coord, env: withPlugin().env });
    st = await waitForProcesses(coord.port, 1, { watch: proc });
    expect(await latest(proc, 0), `cycle ${cycle}`).toEqual(before);
  }
});
