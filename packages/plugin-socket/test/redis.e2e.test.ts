// redis-server (Debian's package) under dmtcp through 3 checkpoint / kill -9
// / restart cycles, as root and as nobody: clients outside the computation
// (redis-cli) write keys before and after every restart, and every key
// written before a checkpoint is read back intact after the restart from it.
// redis links jemalloc, which calls syscall() while it initialises, inside
// another library's constructor: the launch itself is a check of that path.
import { execFileSync } from 'node:child_process';
import { createServer } from 'node:net';
import path from 'node:path';
import { afterEach, expect, test } from 'vitest';
import { checkpointImages, cleanup, kill9, launch, makeTmpDir, restart, startCoordinator, type Proc, type RunAs } from '@dmtcp/core/testing';
import { BUILTINS } from './helpers.ts';

afterEach(cleanup);

function have(cmd: string): boolean {
  try {
    execFileSync(cmd, ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const REDIS = have('redis-server') && have('redis-cli');
// Off CI the check is skipped (with this reason) when redis is not installed; CI installs it.
if (!REDIS && process.env['CI']) throw new Error('redis-server and redis-cli are required in CI (apt install redis-server redis-tools)');

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => (typeof a === 'object' && a ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}

function cli(port: number, ...args: string[]): string {
  return execFileSync('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { encoding: 'utf8', timeout: 10_000 }).trim();
}

/** Writes `count` keys of generation `gen`, each value derived from its name. */
function writeKeys(port: number, gen: number, count: number): void {
  const args: string[] = [];
  for (let i = 0; i < count; i++) args.push(`g${gen}:k${i}`, `value-${gen}-${i}-${'x'.repeat(i % 50)}`);
  expect(cli(port, 'mset', ...args)).toBe('OK');
}

function checkKeys(port: number, gens: number, count: number): void {
  for (let gen = 0; gen < gens; gen++) {
    const keys = Array.from({ length: count }, (_, i) => `g${gen}:k${i}`);
    const got = cli(port, 'mget', ...keys).split('\n');
    expect(got, `generation ${gen} keys`).toEqual(keys.map((_, i) => `value-${gen}-${i}-${'x'.repeat(i % 50)}`));
  }
  expect(Number(cli(port, 'dbsize'))).toBe(gens * count);
}

async function waitForPing(port: number, proc: Proc): Promise<void> {
  for (const end = Date.now() + 20_000; Date.now() < end; await new Promise((r) => setTimeout(r, 100))) {
    try {
      if (cli(port, 'ping') === 'PONG') return;
    } catch {
      // not listening yet
    }
  }
  throw new Error(`redis not answering on ${port}\n${proc.describe()}`);
}

for (const user of [undefined, 'nobody'] as const) {
  test.skipIf(!REDIS)(`redis-server keeps every key over 3 restarts, clients outside reconnecting${user ? ' as nobody' : ''}`, async () => {
    const port = await freePort();
    const dir = await makeTmpDir('dmtcp-redis-');
    const coord = await startCoordinator();
    const as: { user?: RunAs } = user ? { user } : {};
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--daemonize', 'no'];
    let proc = launch('/usr/bin/redis-server', args, { ...coord, env: BUILTINS, ...as });
    await waitForPing(port, proc);
    const COUNT = 200;
    writeKeys(port, 0, COUNT);
    for (let cycle = 1; cycle <= 3; cycle++) {
      const { images } = await checkpointImages(coord);
      expect(images).toHaveLength(1);
      // Named after the program, not the title redis gives itself ("redis-server 127.0.0.1:PORT").
      expect(path.basename(images[0]!)).toMatch(/^ckpt_redis-server_[0-9a-f]{16}\.dmtcp$/);
      // Written after the checkpoint: gone with the process, not in the image.
      writeKeys(port, 99, 5);
      await kill9(proc);
      proc = restart(images, { ...coord, env: BUILTINS, ...as });
      await waitForPing(port, proc);
      expect(cli(port, 'exists', 'g99:k0'), 'a key written after the checkpoint').toBe('0');
      checkKeys(port, cycle, COUNT);
      writeKeys(port, cycle, COUNT);
      checkKeys(port, cycle + 1, COUNT);
    }
  }, 120_000);
}
