// A producer and a slow consumer joined by a pipe, or by a FIFO: at every
// checkpoint the pipe's 64 KiB buffer is full. The bytes in it are drained
// into the image, put back on resume (the consumer goes on between the
// checkpoint and the kill) and put back after restart, into a pipe both
// processes share again. The consumer's checksum of the whole stream is
// the one the records 1..N give: nothing lost, repeated or reordered, over
// two kill -9 / restart cycles.
import path from 'node:path';
import { afterEach, expect, test } from 'vitest';
import {
  checkpointImages, cleanup, kill9, launch, makeTmpDir, startCoordinator, restart, sequenceValues, waitForValueAbove, type Proc, type RunAs,
} from '@dmtcp/core/testing';
import { cycle, failures, fileMessages, fixture, pluginArgs, problems } from './helpers.ts';

afterEach(cleanup);

const CONSUMED = /^consumed (\d+) sum [0-9a-f]{8}$/;
const REC = 32;

/** The 32-byte record n, as test/fixtures/pipeline.c writes it. */
function record(n: number): string {
  const check = ((Number((BigInt(n) * 2654435761n) & 0xffffffffn) ^ 0x5a5a5a5a) >>> 0).toString(16).padStart(8, '0');
  return `rec ${String(n).padStart(12, '0')} ${check} ${String(n % 100000).padStart(5, '0')}\n`;
}

/** FNV-1a (32 bits) of records 1..n, for every n that is a multiple of 500 up to max. */
function expectedSums(max: number): Map<number, string> {
  const sums = new Map<number, string>();
  let h = 2166136261;
  for (let n = 1; n <= max; n++) {
    const r = record(n);
    if (r.length !== REC) throw new Error(`record ${n} is ${r.length} bytes`);
    for (let i = 0; i < REC; i++) h = Math.imul(h ^ r.charCodeAt(i), 16777619) >>> 0;
    if (n % 500 === 0) sums.set(n, h.toString(16).padStart(8, '0'));
  }
  return sums;
}

function consumedLines(proc: Proc): { n: number; sum: string }[] {
  return proc.lines().filter((l) => CONSUMED.test(l)).map((l) => {
    const [, n, , sum] = l.split(' ');
    return { n: Number(n), sum: sum as string };
  });
}

/** Every "consumed N sum S" line has the checksum of records 1..N, and N goes up by 500 from `from`. */
function assertStream(proc: Proc, what: string): number {
  const seen = consumedLines(proc);
  expect(seen.length, `${what}: consumed lines\n${proc.describe()}`).toBeGreaterThan(0);
  const want = expectedSums(seen.at(-1)!.n);
  seen.forEach((s, i) => {
    if (i > 0 && s.n !== seen[i - 1]!.n + 500) throw new Error(`${what}: consumed ${seen[i - 1]!.n} then ${s.n}\n${proc.describe()}`);
    if (want.get(s.n) !== s.sum) throw new Error(`${what}: checksum of records 1..${s.n} is ${s.sum}, expected ${want.get(s.n)}\n${proc.describe()}`);
  });
  return seen.at(-1)!.n;
}

function drainedBytes(proc: Proc): number[] {
  return fileMessages(proc).flatMap((l) => {
    const m = /^dmtcp file: fd \d+ \((?:pipe:\[\d+\]|\/.*)\): drained (\d+) bytes$/.exec(l);
    return m ? [Number(m[1])] : [];
  });
}

async function run(args: (dir: string, exe: string) => string[], processes = 2, user?: RunAs): Promise<void> {
  const exe = await fixture('pipeline.c');
  const coord = await startCoordinator();
  const dir = await makeTmpDir('file-pipes-');
  // DMTCP_DEBUG=1 makes the drainer say how many bytes it took out.
  const env = { DMTCP_DEBUG: '1' };
  const [prog = exe, ...rest] = args(dir, exe);
  let proc = launch(prog, rest, { ...coord, args: await pluginArgs(), env, user });
  await waitForValueAbove(proc, CONSUMED, 3000);
  for (let cycle = 1; cycle <= 2; cycle++) {
    const beforeCheckpoint = sequenceValues(proc, CONSUMED).at(-1) ?? 0;
    const { images } = await checkpointImages(coord);
    expect(images).toHaveLength(processes);
    const drained = drainedBytes(proc);
    // A full buffer: 64 KiB less at most a batch the producer had not
    // written yet.
    expect(drained.at(-1), `cycle ${cycle}: drained at the checkpoint\n${proc.describe()}`).toBeGreaterThan(60_000);
    // Resumed: the bytes went back and the consumer goes on.
    const atCheckpoint = sequenceValues(proc, CONSUMED).at(-1) ?? 0;
    await waitForValueAbove(proc, CONSUMED, atCheckpoint + 2000);
    assertStream(proc, `cycle ${cycle} before the kill`);
    expect(failures(proc)).toEqual([]);
    await kill9(proc);
    proc = restart(images, { port: coord.port, env, user });
    await proc.waitUntil(() => (consumedLines(proc).length >= 6 ? true : undefined), 'waiting for the consumer after restart');
    const last = assertStream(proc, `cycle ${cycle} after restart`);
    // It goes on from where the checkpoint found it (the first line after
    // the restart may repeat what was printed between checkpoint and kill).
    expect(consumedLines(proc)[0]!.n).toBeGreaterThan(beforeCheckpoint);
    expect(consumedLines(proc)[0]!.n).toBeLessThanOrEqual(atCheckpoint + 500);
    expect(last).toBeGreaterThan(atCheckpoint);
    expect(failures(proc)).toEqual([]);
    // Nothing lost and nothing to report, at either end.
    expect(problems(proc)).toEqual([]);
  }
}

test.each([
  ['as root', undefined],
  ['as an unprivileged user', 'nobody' as const],
])('pipe between parent and child: the bytes in flight survive checkpoint, resume and restart (%s)', async (_what, user) => {
  await run((_dir, exe) => [exe, 'pipe'], 2, user);
});

test('FIFO between two processes: reopened by path, the bytes in flight survive', async () => {
  await run((dir, exe) => [exe, 'fifo', path.join(dir, 'fifo')]);
});

test('shell pipeline: the pipe on stdout of one process and stdin of the other comes back in place of the restart\'s own', async () => {
  const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
  await run((_dir, exe) => [exe, 'sh', `${q(exe)} produce | ${q(exe)} consume`], 3);
});

test('self-pipe of one process: both ends at their numbers, non-blocking and close-on-exec, with the bytes in flight', async () => {
  const exe = await fixture('selfpipe.c');
  const coord = await startCoordinator();
  let proc = launch(exe, [], { ...coord, args: await pluginArgs() });
  await proc.waitForLine(/^ok 10$/);
  for (let i = 0; i < 2; i++) {
    proc = (await cycle(proc, /^ok (\d+)$/, coord)).proc;
    expect(failures(proc)).toEqual([]);
    expect(fileMessages(proc)).toEqual([]);
  }
});
