// Real runtimes holding TCP connections inside the computation, through 3
// checkpoint / kill -9 / restart cycles, as root and as nobody:
// - node: an HTTP server and a keep-alive client of it in one process; the
//   client's one connection must carry on (the agent never opens another),
//   and curl from outside gets an answer after every restart;
// - python3 asyncio: an echo server and a client of it in one process, one
//   connection, every line echoed in order; an outside client is answered.
import { execFileSync } from 'node:child_process';
import { createConnection } from 'node:net';
import path from 'node:path';
import { afterEach, expect, test } from 'vitest';
import { checkpointKillRestart, cleanup, launch, startCoordinator, type Proc, type RunAs } from '@dmtcp/core/testing';
import { BUILTINS, pkgRoot } from './helpers.ts';

afterEach(cleanup);

const PROGRAMS = path.join(pkgRoot, 'test', 'programs');

function bad(proc: Proc): string[] {
  return proc.lines().filter((l) => l.startsWith('BAD'));
}

function curl(port: number, what: string): string {
  return execFileSync('curl', ['-s', '-m', '10', `http://127.0.0.1:${port}/out/${what}`], { encoding: 'utf8' });
}

function askLine(port: number, line: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = createConnection({ host: '127.0.0.1', port });
    let got = '';
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`no answer on ${port}`));
    }, 10_000);
    s.setEncoding('utf8');
    s.on('connect', () => s.write(line));
    s.on('data', (d: string) => {
      got += d;
      if (got.includes('\n')) {
        clearTimeout(timer);
        s.end();
        resolve(got);
      }
    });
    s.on('error', reject);
  });
}

const CLIENT = /^client (\d+) hit (\d+) sockets (\d+)$/;

for (const user of [undefined, 'nobody'] as const) {
  const as: { user?: RunAs } = user ? { user } : {};
  const who = user ? ' as nobody' : '';

  test(`node: an HTTP server and its keep-alive client keep one connection over 3 restarts, curl answered${who}`, async () => {
    const coord = await startCoordinator();
    let proc = launch(process.execPath, [path.join(PROGRAMS, 'http-keepalive.cjs')], { ...coord, env: BUILTINS, ...as });
    const port = Number(/^port (\d+)$/.exec((await proc.waitForLine(/^port \d+$/)).line)![1]);
    await proc.waitForLine(/^client 5 /);
    expect(curl(port, 'first')).toMatch(/^hit \d+ \/out\/first\n$/);
    for (let cycle = 1; cycle <= 3; cycle++) {
      const r = await checkpointKillRestart(proc, CLIENT, coord, { env: BUILTINS, ...as, linesAfterRestart: 5 });
      proc = r.proc;
      expect(curl(port, String(cycle))).toMatch(new RegExp(`^hit \\d+ /out/${cycle}\\n$`));
      const lines = proc.lines().map((l) => CLIENT.exec(l)).filter((m) => m !== null);
      expect(bad(proc), proc.describe()).toEqual([]);
      for (const m of lines) expect(m[3], `${m[0]}: the keep-alive connection was replaced\n${proc.describe()}`).toBe('1');
      // Requests continue in order from the checkpoint's.
      const ns = lines.map((m) => Number(m[1]));
      for (let i = 1; i < ns.length; i++) expect(ns[i]).toBe(ns[i - 1]! + 1);
    }
  }, 120_000);

  test(`python3 asyncio: an echo server and its client keep one connection over 3 restarts, outside client answered${who}`, async () => {
    const coord = await startCoordinator();
    let proc = launch('python3', [path.join(PROGRAMS, 'asyncio-echo.py')], { ...coord, env: BUILTINS, ...as });
    const port = Number(/^port (\d+)$/.exec((await proc.waitForLine(/^port \d+$/)).line)![1]);
    await proc.waitForLine(/^echo 5$/);
    for (let cycle = 1; cycle <= 3; cycle++) {
      const r = await checkpointKillRestart(proc, /^echo (\d+)$/, coord, { env: BUILTINS, ...as, linesAfterRestart: 5 });
      proc = r.proc;
      expect(await askLine(port, 'ping\n')).toMatch(/^pong \d+\n$/);
      expect(bad(proc), proc.describe()).toEqual([]);
      const ns = proc.lines().map((l) => /^echo (\d+)$/.exec(l)).filter((m) => m !== null).map((m) => Number(m[1]));
      for (let i = 1; i < ns.length; i++) expect(ns[i]).toBe(ns[i - 1]! + 1);
    }
  }, 120_000);
}
