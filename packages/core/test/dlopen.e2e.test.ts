// A program that loaded libraries with dlopen and unloaded some before the
// checkpoint (leaving holes in its address space), with a thread loading and
// unloading a library all the time: over 3 checkpoint / kill -9 / restart
// cycles, as root and as nobody, every loaded function keeps its answers,
// and libraries can be loaded again after restart.
import path from 'node:path';
import { afterEach, expect, test } from 'vitest';
import {
  checkpointKillRestart, cleanup, compileFixture, coreFixture, launch, makeTmpDir, startCoordinator, waitForProcesses,
  type Proc, type RunAs,
} from '../src/testing/index.ts';

const COUNT = /^count (\d+)$/;

afterEach(cleanup);

/** libdlx_a.so .. libdlx_d.so in a fresh directory (readable by nobody). */
async function buildLibraries(): Promise<string> {
  const dir = await makeTmpDir('dmtcp-dlopen-');
  const src = coreFixture('dlopen-lib.c');
  for (const [name, tag] of [['a', 1], ['b', 2], ['c', 3], ['d', 4]] as const) {
    await compileFixture(src, path.join(dir, `libdlx_${name}.so`), ['-shared', '-fPIC', `-DTAG=${tag}`]);
  }
  return dir;
}

async function check(proc: Proc, what: string): Promise<void> {
  const mark = proc.mark();
  proc.write('check\n');
  const { line } = await proc.waitForLine(/^CHECK /, 20_000, { after: mark });
  expect(line, `${what}\n${proc.describe()}`).toMatch(/^CHECK ok churns=[1-9]\d*$/);
  expect(proc.lines().filter((l) => l.startsWith('FAIL')), what).toEqual([]);
}

async function cycles(user: RunAs | undefined): Promise<void> {
  const exe = await compileFixture(coreFixture('dlopen.c'), undefined, ['-ldl']);
  const libdir = await buildLibraries();
  const coord = await startCoordinator();
  let proc = launch(exe, [libdir], { ...coord, user });
  await proc.waitForLine(/^count 3$/);
  await check(proc, 'before any checkpoint');
  for (let cycle = 1; cycle <= 3; cycle++) {
    const r = await checkpointKillRestart(proc, COUNT, coord, { user, linesAfterRestart: 5 });
    proc = r.proc;
    await waitForProcesses(coord.port, 1, { watch: proc });
    await check(proc, `after restart ${cycle}`);
  }
}

test('dlopen: loaded and unloaded libraries, 3 restarts as root', async () => {
  await cycles(undefined);
});

test('dlopen: loaded and unloaded libraries, 3 restarts as nobody', async () => {
  await cycles('nobody');
});
