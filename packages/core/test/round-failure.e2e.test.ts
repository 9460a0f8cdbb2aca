// A checkpoint whose image write fails while the processes live on: the
// whole round fails with the writer's errno text, no process renames its
// temporary image (the previous complete set stays, byte for byte), every
// temporary file is gone, the program keeps running, and once the cause is
// fixed the next checkpoint succeeds and restarts. Full disk (tmpfs, root),
// read-only directory (user nobody), and one process of two over its file
// size limit (root and nobody).
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, chown, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import {
  assertConsecutive, checkpointImages, cleanup, compileFixture, coreFixture, kill9, launch, makeTmpDir, resolveUser, restart,
  runCli, sequenceValues, startCoordinator, status, waitForProcesses, waitForValueAbove, type Coordinator, type Proc, type RunAs,
} from '../src/testing/index.ts';

const IS_ROOT = process.geteuid?.() === 0;
const mounts: string[] = [];

afterEach(async () => {
  // Lazily, before the harness removes the directories under the mount.
  for (const m of mounts.splice(0)) {
    try {
      execFileSync('umount', ['-l', m]);
    } catch {
      // already gone
    }
  }
  await cleanup();
});

async function digest(files: readonly string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const f of files) out.set(path.basename(f), createHash('sha256').update(await readFile(f)).digest('hex'));
  return out;
}

async function dirDigest(dir: string): Promise<Map<string, string>> {
  const names = (await readdir(dir)).filter((n) => /^ckpt_.*\.dmtcp$/.test(n)).sort();
  return digest(names.map((n) => path.join(dir, n)));
}

/** A checkpoint that must fail: the CLI's exit status and one line, within seconds. */
async function failingCheckpoint(coord: Coordinator, reason: RegExp): Promise<{ line: string; ms: number }> {
  const t0 = Date.now();
  const res = await runCli(['command', '--coord-port', String(coord.port), '--checkpoint'], { timeoutMs: 20_000 });
  const ms = Date.now() - t0;
  expect(res.code, res.stderr).not.toBe(0);
  const lines = res.stderr.trim().split('\n').filter((l) => !l.startsWith('warning: '));
  expect(lines, res.stderr).toHaveLength(1);
  const line = lines[0] as string;
  expect(line).toMatch(/^dmtcp command: checkpoint \d+ failed: /);
  expect(line.replace(/^dmtcp command: checkpoint \d+ failed: /, '')).toMatch(reason);
  return { line, ms };
}

const tmpLeft = async (dir: string): Promise<string[]> => (await readdir(dir)).filter((n) => n.endsWith('.tmp'));

/**
 * The common scenario: a first good checkpoint, `attempts` failing ones
 * while `breakIt` holds, then `fixIt`, a good checkpoint, kill -9 and a
 * restart from it. `tags` are the counters' line prefixes, one per process.
 */
async function scenario(opts: {
  coord: Coordinator; proc: Proc; dir: string; tags: string[]; reason: RegExp; user?: RunAs;
  breakIt: () => Promise<void>; fixIt: () => Promise<void>;
}): Promise<void> {
  const { coord, dir, tags } = opts;
  let proc = opts.proc;
  const re = (t: string) => new RegExp(`^${t} (\\d+)$`);
  for (const t of tags) await waitForValueAbove(proc, re(t), 2);
  const first = await checkpointImages(coord);
  expect(first.images).toHaveLength(tags.length);
  const good = await digest(first.images);

  await opts.breakIt();
  for (let attempt = 1; attempt <= 3; attempt++) {
    const before = tags.map((t) => sequenceValues(proc, re(t)).at(-1) as number);
    const { ms } = await failingCheckpoint(coord, opts.reason);
    expect(ms).toBeLessThan(10_000);
    // The previous set, untouched; nothing half-written left behind.
    expect(await dirDigest(dir)).toEqual(good);
    expect(await tmpLeft(dir)).toEqual([]);
    // The program goes on, and the coordinator still answers.
    for (const [i, t] of tags.entries()) await waitForValueAbove(proc, re(t), before[i] as number);
    expect((await status(coord.port)).num_processes).toBe(tags.length);
  }
  const log = coord.proc.lines().filter((l) => / failed after .* ms: /.test(l));
  expect(log.length).toBeGreaterThanOrEqual(3);
  // The runtime's records, good and failed, all parse (dmtcp/records.h).
  expect(coord.proc.lines().filter((l) => /malformed/.test(l))).toEqual([]);

  await opts.fixIt();
  const beforeRequest = tags.map((t) => sequenceValues(proc, re(t)).at(-1) as number);
  const next = await checkpointImages(coord);
  expect(next.images.map((f) => path.basename(f))).toEqual(first.images.map((f) => path.basename(f)));
  expect(await dirDigest(dir)).not.toEqual(good);
  const atCheckpoint = tags.map((t) => sequenceValues(proc, re(t)).at(-1) as number);
  for (const [i, t] of tags.entries()) await waitForValueAbove(proc, re(t), (atCheckpoint[i] as number) + 2);
  await kill9(proc);
  await waitForProcesses(coord.port, 0);
  const beforeKill = tags.map((t) => sequenceValues(proc, re(t)).at(-1) as number);
  proc = restart(next.images, { port: coord.port, user: opts.user });
  for (const [i, t] of tags.entries()) {
    await proc.waitUntil(() => (sequenceValues(proc, re(t)).length >= 3 ? true : undefined), `3 "${t} N" lines after restart`, 20_000);
    const after = sequenceValues(proc, re(t));
    assertConsecutive(after, `${t} after restart`);
    expect(after[0]).toBeGreaterThan(beforeRequest[i] as number);
    expect(after[0]).toBeLessThanOrEqual((beforeKill[i] as number) + 1);
  }
}

describe.skipIf(!IS_ROOT)('as root', () => {
  test('a full disk (tmpfs): every attempt fails with ENOSPC, the old image stays, then it works again', async () => {
    const dir = await makeTmpDir('dmtcp-full-');
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', dir]);
    mounts.push(dir);
    const coord = await startCoordinator({ ckptDir: dir });
    const exe = await compileFixture(coreFixture('counter.c'));
    const proc = launch(exe, [], coord);
    const filler = path.join(dir, 'filler');
    await scenario({
      coord, proc, dir, tags: ['count'], reason: /^ckpt_counter_[0-9a-f]{16}\.dmtcp\.tmp: No space left on device$/,
      breakIt: async () => {
        // Fill what is left of the file system.
        try {
          execFileSync('dd', ['if=/dev/zero', `of=${filler}`, 'bs=64k'], { stdio: 'ignore' });
        } catch {
          // dd stops at ENOSPC, as intended
        }
      },
      fixIt: () => rm(filler),
    });
  });

  test('two processes, the child over its file size limit: neither renames its image', async () => {
    const dir = await makeTmpDir('dmtcp-fsize-');
    const coord = await startCoordinator({ ckptDir: dir });
    const exe = await compileFixture(coreFixture('roundfail.c'));
    const limit = path.join(dir, 'limit');
    const proc = launch(exe, [limit, 'child'], coord);
    await waitForProcesses(coord.port, 2);
    await scenario({
      coord, proc, dir, tags: ['p', 'c'], reason: /^ckpt_roundfail_0{15}2\.dmtcp\.tmp: File too large$/,
      breakIt: async () => {
        await writeFile(limit, '');
        await new Promise((r) => setTimeout(r, 200));
      },
      fixIt: () => rm(limit),
    });
  });
});

describe.skipIf(!IS_ROOT)('as user nobody', () => {
  const user = 'nobody' as const;

  async function nobodyDir(): Promise<string> {
    const base = await makeTmpDir('dmtcp-ro-');
    const dir = path.join(base, 'images');
    await mkdir(dir);
    const ids = resolveUser(user);
    await chown(dir, ids.uid, ids.gid);
    return dir;
  }

  test('a read-only directory: every attempt fails with EACCES, the old image stays, then it works again', async () => {
    const dir = await nobodyDir();
    const coord = await startCoordinator({ ckptDir: dir });
    const exe = await compileFixture(coreFixture('counter.c'));
    const proc = launch(exe, [], { ...coord, user });
    await scenario({
      coord, proc, dir, tags: ['count'], user, reason: /^ckpt_counter_[0-9a-f]{16}\.dmtcp\.tmp: Permission denied$/,
      breakIt: () => chmod(dir, 0o555),
      fixIt: () => chmod(dir, 0o755),
    });
  });

  test('two processes, the parent over its file size limit: neither renames its image', async () => {
    const dir = await nobodyDir();
    const coord = await startCoordinator({ ckptDir: dir });
    const exe = await compileFixture(coreFixture('roundfail.c'));
    const limitDir = await makeTmpDir('dmtcp-limit-');
    const limit = path.join(limitDir, 'limit');
    const proc = launch(exe, [limit, 'parent'], { ...coord, user });
    await waitForProcesses(coord.port, 2);
    await scenario({
      coord, proc, dir, tags: ['p', 'c'], user, reason: /^ckpt_roundfail_0{15}1\.dmtcp\.tmp: File too large$/,
      breakIt: async () => {
        await writeFile(limit, '');
        await new Promise((r) => setTimeout(r, 200));
      },
      fixIt: () => rm(limit),
    });
  });
});
