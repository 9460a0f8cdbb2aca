// After restart the program keeps its command line and environment as
// /proc shows them: `ps -o args=` and `pgrep -f` find it with its original
// arguments, and /proc/PID/environ holds its original variables. Over 3
// checkpoint / kill -9 / restart cycles, as root and as nobody.
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { afterEach, expect, test } from 'vitest';
import {
  checkpointKillRestart, cleanup, compileFixture, coreFixture, launch, startCoordinator, waitForProcesses,
  type Proc, type RunAs,
} from '../src/testing/index.ts';

const COUNT = /^count (\d+)$/;

afterEach(cleanup);

function run(cmd: string, args: readonly string[]): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, (err, stdout) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout });
    });
  });
}

async function expectCommandLine(proc: Proc, argv: readonly string[], marker: string, what: string): Promise<void> {
  const ps = await run('ps', ['-o', 'args=', '-p', String(proc.pid)]);
  expect(ps.stdout.trim(), `${what}: ps -o args= -p ${proc.pid}`).toBe(argv.join(' '));
  const pgrep = await run('pgrep', ['-f', `${argv.slice(1).join(' ')}$`]);
  expect(pgrep.stdout.trim().split('\n'), `${what}: pgrep -f`).toEqual([String(proc.pid)]);
  const raw = await readFile(`/proc/${proc.pid}/cmdline`, 'latin1');
  expect(raw.split('\0').slice(0, argv.length), `${what}: /proc/PID/cmdline`).toEqual([...argv]);
  const env = (await readFile(`/proc/${proc.pid}/environ`, 'latin1')).split('\0');
  expect(env, `${what}: /proc/PID/environ`).toContain(`CMDLINE_MARK=${marker}`);
}

async function cycles(user: RunAs | undefined): Promise<void> {
  const exe = await compileFixture(coreFixture('counter.c'));
  const marker = `m${process.pid}x${Date.now()}`;
  const args = ['1000000000', '50', `--label=${marker}`, 'two words'];
  const coord = await startCoordinator();
  let proc = launch(exe, args, { ...coord, user, env: { CMDLINE_MARK: marker } });
  await proc.waitForLine(/^count 3$/);
  // "two words" is one argument: ps shows it with its space
  await expectCommandLine(proc, [exe, ...args], marker, 'before any checkpoint');
  for (let cycle = 1; cycle <= 3; cycle++) {
    const r = await checkpointKillRestart(proc, COUNT, coord, { user });
    proc = r.proc;
    await waitForProcesses(coord.port, 1, { watch: proc });
    await expectCommandLine(proc, [exe, ...args], marker, `after restart ${cycle}`);
  }
}

test('cmdline and environ after 3 restarts as root', async () => {
  await cycles(undefined);
});

test('cmdline and environ after 3 restarts as nobody', async () => {
  await cycles('nobody');
});
