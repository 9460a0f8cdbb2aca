// The coordinator's user-facing behaviour with real processes: periodic
// checkpoints, --kill and --quit, restart into another checkpoint directory,
// and the embedded coordinator that launch starts and that leaves with the
// last process.
import { existsSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterEach, expect, test } from 'vitest';
import {
  checkpointImages, cleanup, command, compileFixture, coreFixture, images, launch, makeTmpDir, restart, runCli,
  startCli, startCoordinator, status, waitForProcesses, waitForValueAbove,
} from '../src/testing/index.ts';

afterEach(cleanup);

const COUNT = /^count (\d+)$/;

async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

async function until(what: string, cond: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('--interval checkpoints on its own; --kill ends the computation and the coordinator stays', async () => {
  const exe = await compileFixture(coreFixture('counter.c'));
  const coord = await startCoordinator({ args: ['--interval', '1'] });
  const proc = launch(exe, [], coord);
  await proc.waitForLine(COUNT);
  await until('a periodic image', async () => (await images(coord.ckptDir)).length === 1);
  await until('generation 2', async () => Number((await status(coord.port)).generation) >= 2);

  expect(await command(coord.port, ['--interval', '0'])).toMatchObject({ ok: true });
  expect(await command(coord.port, ['--kill'])).toMatchObject({ ok: true });
  const st = await proc.waitForExit();
  expect(st.signal ?? st.code).not.toBe(0);
  const s = await status(coord.port);
  expect(s).toMatchObject({ num_processes: 0, running: false });
});

test('restart --ckptdir sends later checkpoints to the new directory; --quit stops the coordinator', async () => {
  const exe = await compileFixture(coreFixture('counter.c'));
  const coord = await startCoordinator();
  let proc = launch(exe, [], coord);
  await proc.waitForLine(COUNT);
  await waitForProcesses(coord.port, 1);
  const first = await checkpointImages(coord);
  await proc.kill9();
  await waitForProcesses(coord.port, 0);

  const elsewhere = await makeTmpDir('dmtcp-ckpt2-');
  proc = restart(first.images, { port: coord.port, ckptDir: elsewhere });
  const resumedAt = await waitForValueAbove(proc, COUNT, -1);
  await waitForProcesses(coord.port, 1, { watch: proc });
  const second = await checkpointImages({ port: coord.port, ckptDir: elsewhere });
  expect(second.images.map((f) => path.dirname(f))).toEqual([elsewhere]);
  expect(existsSync(path.join(elsewhere, 'dmtcp_restart_script.sh'))).toBe(true);
  await waitForValueAbove(proc, COUNT, resumedAt + 2);

  expect(await command(coord.port, ['--quit'])).toMatchObject({ ok: true });
  await proc.waitForExit();
  await coord.proc.waitForExit();
  const after = await runCli(['command', '--status', '--coord-port', String(coord.port)]);
  expect(after.code).toBe(1);
  expect(after.stderr.trim()).toBe(`dmtcp command: no coordinator running at localhost:${coord.port}`);
});

test('launch starts an embedded coordinator when none runs, and it leaves with the last process', async () => {
  const exe = await compileFixture(coreFixture('counter.c'));
  const port = await freePort();
  const ckptDir = await makeTmpDir('dmtcp-ckpt-');
  const proc = startCli(['launch', '--coord-port', String(port), '--ckptdir', ckptDir, exe], { label: 'launch counter' });
  await proc.waitForLine(COUNT);
  const s = await waitForProcesses(port, 1);
  expect(s.running).toBe(true);
  await proc.kill9();
  await until('the embedded coordinator to exit', async () => {
    const r = await runCli(['command', '--status', '--coord-port', String(port)]);
    return r.code === 1 && r.stderr.includes('no coordinator running');
  });
});
