// Checkpoint/restart cost next to a baseline measured in the same run.
//
// For each memory size and content, a bench-mem process is launched and:
//   checkpoint   wall time of `dmtcp command -c` (returns when images are on disk)
//   frozen       largest gap seen by the target's 1 ms heartbeat around the checkpoint
//   image        size of the image file
//   restart      from spawning `dmtcp restart` until the target prints again
//   raw write    write + fsync of as many bytes as the image, into the same
//                directory, with large writes: what the disk allows
//   raw mem      the same for as many bytes as the process's memory: what a
//                dump that saved every page would cost at best
// Prints a table, then one JSON line with every number.
//
// Needs the core built (node scripts/build.mjs); run with `pnpm bench`.
import { existsSync, closeSync, fsyncSync, openSync, writeSync } from 'node:fs';
import { randomFillSync } from 'node:crypto';
import { stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const testingBundle = path.join(root, 'dist', 'testing.js');
if (!existsSync(testingBundle)) {
  console.error(`bench: ${testingBundle} is missing; build first (node scripts/build.mjs)`);
  process.exit(1);
}
const t = await import(testingBundle);
// Time checkpoints with the client library, not the CLI: Node's start-up
// would otherwise dominate a small checkpoint.
const { sendUserCommand } = await import(path.join(root, 'dist', 'index.js'));

const MiB = 1024 * 1024;
const CASES = [
  { name: '64 MiB random', mib: 64, mode: 'random' },
  { name: '1 GiB random', mib: 1024, mode: 'random' },
  { name: '1 GiB zero pages', mib: 1024, mode: 'zero' },
];

/** write + fsync `bytes` bytes to a new file in `dir`; milliseconds. */
function rawWrite(dir, bytes) {
  const file = path.join(dir, `raw-write-baseline-${process.pid}.bin`);
  const chunk = Buffer.alloc(8 * MiB);
  randomFillSync(chunk);
  const start = performance.now();
  const fd = openSync(file, 'w', 0o600);
  try {
    for (let left = bytes; left > 0; ) {
      const n = Math.min(left, chunk.length);
      let off = 0;
      while (off < n) off += writeSync(fd, chunk, off, n - off);
      left -= n;
    }
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  const ms = performance.now() - start;
  return { ms, file };
}

async function runCase(exe, c) {
  const coord = await t.startCoordinator();
  try {
    const proc = t.launch(exe, [String(c.mib), c.mode], coord);
    await proc.waitForLine(/^READY /, 120_000);
    proc.write('reset\n');
    await proc.waitForLine(/^RESET$/, 10_000);

    const c0 = performance.now();
    const reply = await sendUserCommand('127.0.0.1', coord.port, { cmd: 'checkpoint' }, 300_000);
    const checkpointMs = performance.now() - c0;
    if (!reply.ok) throw new Error(`checkpoint failed: ${JSON.stringify(reply)}`);
    const images = reply.images;
    if (images.length !== 1) throw new Error(`expected one image, got ${images.join(' ')}`);
    const image = images[0];

    // let a few heartbeats pass so the gap that ended with the resume is counted
    await new Promise((r) => setTimeout(r, 20));
    const mark = proc.mark();
    proc.write('report\n');
    const gap = await proc.waitForLine(/^GAP max_us=(\d+)$/, 10_000, { after: mark });
    const frozenMs = Number(gap.match[1]) / 1000;
    const imageBytes = (await stat(image)).size;

    await t.kill9(proc);
    const r0 = performance.now();
    const restarted = t.restart(images, coord);
    await restarted.waitForLine(/^WAKE /, 120_000);
    const restartMs = performance.now() - r0;
    await t.kill9(restarted);

    const memBytes = c.mib * MiB;
    const raw = rawWrite(coord.ckptDir, imageBytes);
    await unlink(raw.file);
    const rawMem = rawWrite(coord.ckptDir, memBytes);
    await unlink(rawMem.file);
    return {
      name: c.name,
      memory_bytes: memBytes,
      image_bytes: imageBytes,
      checkpoint_ms: checkpointMs,
      frozen_ms: frozenMs,
      restart_ms: restartMs,
      raw_write_ms: raw.ms,
      raw_write_memory_ms: rawMem.ms,
      checkpoint_over_raw_write: checkpointMs / raw.ms,
      checkpoint_over_raw_write_memory: checkpointMs / rawMem.ms,
      image_over_memory: imageBytes / memBytes,
    };
  } finally {
    await t.cleanup();
  }
}

function table(rows) {
  const cols = [
    ['case', (r) => r.name],
    ['memory', (r) => `${(r.memory_bytes / MiB).toFixed(0)} MiB`],
    ['image', (r) => `${(r.image_bytes / MiB).toFixed(1)} MiB`],
    ['image/mem', (r) => r.image_over_memory.toFixed(3)],
    ['ckpt ms', (r) => r.checkpoint_ms.toFixed(0)],
    ['raw write ms', (r) => r.raw_write_ms.toFixed(0)],
    ['ckpt/raw', (r) => r.checkpoint_over_raw_write.toFixed(2)],
    ['raw mem ms', (r) => r.raw_write_memory_ms.toFixed(0)],
    ['ckpt/raw mem', (r) => r.checkpoint_over_raw_write_memory.toFixed(2)],
    ['frozen ms', (r) => r.frozen_ms.toFixed(0)],
    ['restart ms', (r) => r.restart_ms.toFixed(0)],
  ];
  const cells = rows.map((r) => cols.map(([, f]) => f(r)));
  const widths = cols.map(([h], i) => Math.max(h.length, ...cells.map((row) => row[i].length)));
  const line = (vals) => vals.map((v, i) => (i === 0 ? v.padEnd(widths[i]) : v.padStart(widths[i]))).join('  ');
  return [line(cols.map(([h]) => h)), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n');
}

const exe = await t.compileFixture(path.join(root, 'test', 'fixtures', 'bench-mem.c'));
const results = [];
let failed = false;
for (const c of CASES) {
  process.stderr.write(`bench: ${c.name}...\n`);
  try {
    results.push(await runCase(exe, c));
  } catch (e) {
    failed = true;
    console.error(`bench: ${c.name} failed: ${e instanceof Error ? e.message : String(e)}`);
  }
}
if (results.length) console.log(table(results));
const round = (x) => (typeof x === 'number' && !Number.isInteger(x) ? Number(x.toFixed(3)) : x);
console.log(JSON.stringify({
  bench: 'dmtcp-core-checkpoint',
  ok: !failed,
  cases: results.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, round(v)]))),
}));
process.exit(failed ? 1 : 0);
