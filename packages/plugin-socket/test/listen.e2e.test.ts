// Four listening sockets (TCP on 127.0.0.1 and ::1, Unix on a path and an
// abstract name, test/fixtures/listeners.c) through 3 checkpoint / kill -9 /
// restart cycles, as root and as nobody.  After each restart a client from
// outside the computation (this test) connects to every one of them and is
// answered; the fixture checks every tick that addresses and options
// (REUSEADDR, REUSEPORT, KEEPALIVE, NODELAY, V6ONLY, buffer sizes, timeouts,
// O_NONBLOCK, close-on-exec) are as it set them, and ss shows the backlog.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { afterEach, expect, test } from 'vitest';
import { checkpointKillRestart, cleanup, launch, makeTmpDir, startCoordinator, type Proc, type RunAs } from '@dmtcp/core/testing';
import { BUILTINS, ask, fixture, socketMessages, warnings } from './helpers.ts';

afterEach(cleanup);

const TICK = /^tick (\d+)/;

/** Send-Q of a listening TCP socket is its backlog. */
function tcpBacklog(port: number): number | null {
  const out = execFileSync('ss', ['-ltnH', `sport = :${port}`], { encoding: 'utf8' });
  const f = out.trim().split(/\s+/);
  return f.length >= 3 ? Number(f[2]) : null;
}

async function askAll(proc: Proc, addrs: RegExpExecArray, round: number, client: string): Promise<void> {
  const [, tcp4, tcp6, unixPath, abstract] = addrs;
  expect(await ask({ host: '127.0.0.1', port: Number(tcp4) })).toBe(`hello tcp4 ${round}\n`);
  expect(await ask({ host: '::1', port: Number(tcp6) })).toBe(`hello tcp6 ${round}\n`);
  expect(await ask({ path: unixPath! })).toBe(`hello unix ${round}\n`);
  expect(execFileSync(client, [abstract!], { encoding: 'utf8', timeout: 10_000 })).toBe(`hello abstract ${round}\n`);
  await proc.waitForLine(new RegExp(`^answered abstract ${round}$`));
}

function assertGood(proc: Proc): void {
  expect(proc.lines().filter((l) => l.startsWith('BAD') || / bad$/.test(l)), proc.describe()).toEqual([]);
}

for (const user of [undefined, 'nobody'] as const) {
  test(`listening TCP (v4, v6) and Unix (path, abstract) sockets keep accepting over 3 restarts${user ? ' as nobody' : ''}`, async () => {
    const exe = await fixture('listeners.c');
    const client = await fixture('abstract_client.c');
    const dir = await makeTmpDir('dmtcp-socket-');
    const coord = await startCoordinator();
    const as: { user?: RunAs } = user ? { user } : {};
    let proc = launch(exe, [path.join(dir, 'listen.sock')], { ...coord, env: BUILTINS, ...as });
    const line = await proc.waitForLine(/^addrs tcp4 (\d+) tcp6 (\d+) unix (\S+) abstract (\S+)$/);
    const addrs = /^addrs tcp4 (\d+) tcp6 (\d+) unix (\S+) abstract (\S+)$/.exec(line.line)!;
    await proc.waitForLine(/^tick 3/);
    await askAll(proc, addrs, 1, client);
    for (let cycle = 1; cycle <= 3; cycle++) {
      const r = await checkpointKillRestart(proc, TICK, coord, { env: BUILTINS, ...as, linesAfterRestart: 5 });
      proc = r.proc;
      await askAll(proc, addrs, cycle + 1, client);
      assertGood(proc);
      expect(tcpBacklog(Number(addrs[1]))).toBe(7);
      expect(tcpBacklog(Number(addrs[2]))).toBe(3);
      expect(socketMessages(proc), proc.describe()).toEqual([]);
    }
    expect(warnings(coord)).toEqual([]);
  });
}

test('without plugin-socket the listeners are named in the checkpoint warning and gone after restart (what the test above relies on)', async () => {
  const exe = await fixture('listeners.c');
  const dir = await makeTmpDir('dmtcp-socket-');
  const coord = await startCoordinator();
  let proc = launch(exe, [path.join(dir, 'listen.sock')], { ...coord, env: BUILTINS, args: ['--disable-plugin', 'socket'] });
  const addrs = (await proc.waitForLine(/^addrs tcp4 (\d+) tcp6 (\d+) unix (\S+) abstract (\S+)$/)).match;
  const fds = (await proc.waitForLine(/^fds (\d+) (\d+) (\d+) (\d+)$/)).match;
  await proc.waitForLine(/^tick 3/);
  const r = await checkpointKillRestart(proc, TICK, coord, { env: BUILTINS, linesAfterRestart: 3 });
  proc = r.proc;
  const w = warnings(coord);
  expect(w).toHaveLength(1);
  expect(w[0]).toMatch(new RegExp(`fd ${fds[1]}-${fds[4]} \\(socket\\) will not be restored: need plugin-socket$`));
  await expect(ask({ host: '127.0.0.1', port: Number(addrs[1]) }, 3_000)).rejects.toThrow(/ECONNREFUSED/);
});
