// The runtime's own I/O never goes through another plugin's wrappers, and a
// plugin's next-function table (dmtcp/next.h) works across restarts: a spy
// plugin wraps what the runtime once called on its checkpoint and restart
// paths and counts the calls coming from libdmtcp.so, over 3 checkpoint /
// kill -9 / restart cycles and one more checkpoint, with a thread loading
// and unloading a library and a signal handler calling the spy's wrappers.
import { afterEach, expect, test } from 'vitest';
import {
  checkpoint, checkpointKillRestart, cleanup, compileFixture, coreFixture, launch, startCoordinator, waitForProcesses,
  type Proc,
} from '../src/testing/index.ts';
import { paths } from '../src/paths.ts';

const COUNT = /^count (\d+)$/;
const SPY = /^spy core=(\d+) app=(\d+)(.*)$/;

afterEach(cleanup);

/** The spy's reports so far: what the core called (must be nothing) and how
 *  many calls of the application it saw. */
function reports(proc: Proc): { core: number; app: number; names: string }[] {
  return proc.stderr().split('\n').flatMap((l) => {
    const m = SPY.exec(l);
    return m ? [{ core: Number(m[1]), app: Number(m[2]), names: (m[3] ?? '').trim() }] : [];
  });
}

/** Waits for the spy's report number n + 1 (on stderr, where dmtcp_log writes). */
async function reportAfter(proc: Proc, n: number): Promise<void> {
  await proc.waitUntil(() => (reports(proc).length > n ? true : undefined), `waiting for spy report ${n + 1}`, 20_000);
}

test('no call of the runtime reaches a plugin wrapper; the table survives 3 restarts', async () => {
  const spy = await compileFixture(coreFixture('next-spy.c'), undefined, ['-shared', '-fPIC', '-I', paths.includeDir]);
  const exe = await compileFixture(coreFixture('next-app.c'), undefined, ['-ldl', '-pthread']);
  const coord = await startCoordinator();
  let proc = launch(exe, [], { ...coord, args: ['--with-plugin', spy] });
  await proc.waitForLine(/^count 5$/);
  for (let cycle = 1; cycle <= 3; cycle++) {
    const r = await checkpointKillRestart(proc, COUNT, coord, { linesAfterRestart: 5 });
    proc = r.proc;
    await waitForProcesses(coord.port, 1, { watch: proc });
    await reportAfter(proc, 0);
  }
  const before = reports(proc).length;
  await checkpoint(coord.port);
  await reportAfter(proc, before);
  await proc.waitForLine(COUNT, 20_000, { after: proc.mark() });

  const seen = reports(proc);
  expect(seen.length).toBeGreaterThanOrEqual(2);
  for (const r of seen) expect(r, proc.describe()).toMatchObject({ core: 0, names: '' });
  expect(seen.at(-1)!.app, 'the spy saw the application calls').toBeGreaterThan(0);
  expect(proc.lines().filter((l) => l.startsWith('FAIL'))).toEqual([]);
});
