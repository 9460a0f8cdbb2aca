// Bad input gets one clear line on stderr and a non-zero exit, and loses
// nothing: the images involved are left as they were, and a target killed
// while writing its image leaves the previous image good.
import { createHash } from 'node:crypto';
import { watch } from 'node:fs';
import { copyFile, mkdtemp, open, readdir, readFile, rm, stat, truncate } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import {
  checkpointImages, cleanup, compileFixture, coreFixture, kill9, launch, makeTmpDir, restart, runCli, startCli,
  startCoordinator, status, type CliResult,
} from '../src/testing/index.ts';

afterEach(cleanup);

function expectOneLineError(res: CliResult, cmd: string, mentions: readonly string[] = []): void {
  const context = `exit ${res.code} signal ${res.signal}\nstdout:\n${res.stdout}\nstderr:\n${res.stderr}`;
  expect(res.signal, context).toBeNull();
  expect(res.code, context).not.toBe(0);
  const lines = res.stderr.trim().split('\n');
  expect(lines, context).toHaveLength(1);
  const line = lines[0] as string;
  expect(line, context).toMatch(new RegExp(`^dmtcp ${cmd}: \\S`));
  for (const m of mentions) expect(line, context).toContain(m);
}

async function sha256(file: string): Promise<string> {
  return createHash('sha256').update(await readFile(file)).digest('hex');
}

async function flipByte(file: string, offset: number): Promise<void> {
  const fh = await open(file, 'r+');
  try {
    const b = Buffer.alloc(1);
    await fh.read(b, 0, 1, offset);
    b[0] = (b[0] as number) ^ 0x5a;
    await fh.write(b, 0, 1, offset);
  } finally {
    await fh.close();
  }
}

async function readU64(file: string, offset: number): Promise<number> {
  const fh = await open(file, 'r');
  try {
    const b = Buffer.alloc(8);
    await fh.read(b, 0, 8, offset);
    return Number(b.readBigUInt64LE(0));
  } finally {
    await fh.close();
  }
}

/** A TCP port that nothing listens on (taken and released). */
async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

/** Restart `image` into a fresh coordinator; expect a one-line refusal naming the image (and `mentions`), image untouched. */
async function expectRestartRefused(image: string, mentions: readonly string[] = [image]): Promise<void> {
  const coord = await startCoordinator();
  const before = await sha256(image);
  const res = await runCli(['restart', '--join-coordinator', '--coord-port', String(coord.port), image], { timeoutMs: 30_000 });
  expectOneLineError(res, 'restart', mentions);
  expect(await sha256(image), 'the image must not be modified').toBe(before);
  expect((await status(coord.port)).num_processes).toBe(0);
}

describe('restart refuses bad images', () => {
  let keep: string;
  let good: string;

  beforeAll(async () => {
    // images live in a dir of their own: cleanup() after each test removes the harness's dirs
    keep = await mkdtemp(path.join(os.tmpdir(), 'dmtcp-errors-'));
    const exe = await compileFixture(coreFixture('counter.c'));
    const coord = await startCoordinator();
    const proc = launch(exe, [], coord);
    await proc.waitForLine(/^count 3$/);
    const { images } = await checkpointImages(coord);
    expect(images).toHaveLength(1);
    good = path.join(keep, path.basename(images[0] as string));
    await copyFile(images[0] as string, good);
    await cleanup();
  });

  afterAll(async () => {
    await rm(keep, { recursive: true, force: true });
  });

  async function copyOfGood(name: string): Promise<string> {
    const dir = await makeTmpDir('dmtcp-bad-');
    const file = path.join(dir, name);
    await copyFile(good, file);
    return file;
  }

  test('the untouched image restarts (so the refusals below are about the damage)', async () => {
    const coord = await startCoordinator();
    const proc = restart([await copyOfGood('ckpt_counter_ok.dmtcp')], coord);
    const first = await proc.waitForLine(/^count (\d+)$/, 30_000);
    expect(Number(first.match[1])).toBeGreaterThan(3);
  });

  test('truncated image', async () => {
    const file = await copyOfGood('ckpt_counter_truncated.dmtcp');
    await truncate(file, Math.floor((await stat(file)).size / 2));
    await expectRestartRefused(file);
  });

  test('image truncated inside its header', async () => {
    const file = await copyOfGood('ckpt_counter_short.dmtcp');
    await truncate(file, 100);
    await expectRestartRefused(file);
  });

  test('byte flipped in the header', async () => {
    const file = await copyOfGood('ckpt_counter_hdr.dmtcp');
    await flipByte(file, 112); // generation, covered by the header checksum
    await expectRestartRefused(file);
  });

  test('byte flipped in the region table', async () => {
    const file = await copyOfGood('ckpt_counter_tables.dmtcp');
    const regionsOffset = await readU64(file, 24);
    expect(regionsOffset).toBeGreaterThanOrEqual(4096);
    await flipByte(file, regionsOffset + 9); // the first region's end address
    await expectRestartRefused(file);
  });

  test('a file that is not an image (/bin/ls)', async () => {
    await expectRestartRefused('/bin/ls');
  });

  test('missing image path', async () => {
    const coord = await startCoordinator();
    const missing = path.join(await makeTmpDir(), 'ckpt_nothing_here.dmtcp');
    const res = await runCli(['restart', '--join-coordinator', '--coord-port', String(coord.port), missing], { timeoutMs: 30_000 });
    expectOneLineError(res, 'restart', [missing]);
  });
});

test('restart refuses an image whose executable was rebuilt, then deleted', async () => {
  const dir = await makeTmpDir('dmtcp-exe-');
  const exe = await compileFixture(coreFixture('counter.c'), path.join(dir, 'counter-exe'));
  const coord = await startCoordinator();
  const proc = launch(exe, [], coord);
  await proc.waitForLine(/^count 3$/);
  const { images } = await checkpointImages(coord);
  expect(images).toHaveLength(1);
  await kill9(proc);
  const image = images[0] as string;

  // rebuilt with different code: a new file with the same name
  await compileFixture(coreFixture('counter.c'), exe, ['-O0']);
  await expectRestartRefused(image, [exe]);

  await rm(exe);
  await expectRestartRefused(image, [exe]);
});

test('dmtcp command --status with no coordinator', async () => {
  const port = await freePort();
  const res = await runCli(['command', '--coord-port', String(port), '--status'], { timeoutMs: 30_000 });
  expectOneLineError(res, 'command', [String(port)]);
});

test('coordinator port in use: coordinator and launch --new-coordinator fail clearly', async () => {
  const server = net.createServer((s) => s.destroy());
  await new Promise<void>((r) => server.listen(0, r));
  try {
    const port = (server.address() as net.AddressInfo).port;
    const ckptDir = await makeTmpDir();
    const coord = await runCli(['coordinator', '--coord-port', String(port), '--ckptdir', ckptDir], { timeoutMs: 30_000 });
    expectOneLineError(coord, 'coordinator', [String(port)]);

    const exe = await compileFixture(coreFixture('counter.c'));
    const res = await runCli(['launch', '--new-coordinator', '--coord-port', String(port), '--ckptdir', ckptDir, exe, '3'], { timeoutMs: 30_000 });
    expectOneLineError(res, 'launch', [String(port)]);
    expect(res.stdout, 'the program must not run without its coordinator').not.toMatch(/count/);
  } finally {
    await new Promise<void>((r) => server.close(() => r()));
  }
});

test('dmtcp launch of a program that does not exist', async () => {
  const coord = await startCoordinator();
  const res = await runCli(['launch', '--join-coordinator', '--coord-port', String(coord.port), '--ckptdir', coord.ckptDir, '/no/such/prog'], { timeoutMs: 30_000 });
  expectOneLineError(res, 'launch', ['/no/such/prog']);
});

test('target killed while writing its image: the command fails and the previous image still restarts', async () => {
  const exe = await compileFixture(coreFixture('memory.c'));
  const coord = await startCoordinator();
  const proc = launch(exe, ['512', '1', '1000'], coord);
  const ready = await proc.waitForLine(/^(READY ([0-9a-f]{16})|FAIL.*)$/, 60_000);
  expect(ready.line).toMatch(/^READY/);
  const sum = ready.match[2] as string;

  const { images } = await checkpointImages(coord);
  expect(images).toHaveLength(1);
  const good = images[0] as string;
  const goodStat = await stat(good);

  // catch the temporary image as soon as it is created
  let sawTmp: string | undefined;
  let onTmp: () => void = () => {};
  const tmpSeen = new Promise<void>((resolve) => {
    onTmp = resolve;
  });
  const look = (name: string | null): void => {
    if (sawTmp === undefined && name !== null && name.endsWith('.dmtcp.tmp')) {
      sawTmp = name;
      onTmp();
    }
  };
  const watcher = watch(coord.ckptDir, (_event, name) => look(name));
  const poller = setInterval(() => {
    readdir(coord.ckptDir).then((names) => names.forEach(look), () => {});
  }, 5);
  try {
    const ckpt = startCli(['command', '--coord-port', String(coord.port), '--checkpoint']);
    const finished = ckpt.waitForExit(60_000);
    const first = await Promise.race([tmpSeen.then(() => 'tmp' as const), finished.then(() => 'exit' as const)]);
    if (first === 'exit') throw new Error(`the checkpoint finished before a *.dmtcp.tmp file appeared in ${coord.ckptDir}\n${ckpt.describe()}`);
    await kill9(proc);

    const st = await finished;
    expect(st.code, `dmtcp command --checkpoint must fail when a target dies mid-checkpoint\n${ckpt.describe()}`).not.toBe(0);
    expect(ckpt.stderr().trim(), 'an explanation on stderr').not.toBe('');
  } finally {
    watcher.close();
    clearInterval(poller);
  }

  const after = await stat(good);
  expect({ ino: after.ino, size: after.size, mtimeMs: after.mtimeMs }, 'the previous image must be untouched')
    .toEqual({ ino: goodStat.ino, size: goodStat.size, mtimeMs: goodStat.mtimeMs });

  const again = restart([good], coord);
  const line = await again.waitForLine(/^(SUM|FAIL)/, 30_000);
  expect(line.line).toBe(`SUM ${sum}`);
});
