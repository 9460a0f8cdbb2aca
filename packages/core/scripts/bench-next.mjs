// What a wrapper costs through the next-function table (dmtcp/next.h)
// next to NEXT_FNC: a program calls labs and llabs, plainly and with a
// library preloaded that wraps labs through the table and llabs through
// NEXT_FNC.  Plain and preloaded runs alternate, median of 7 each; prints a
// table, then one JSON line.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const testingBundle = path.join(root, 'dist', 'testing.js');
if (!existsSync(testingBundle)) {
  console.error(`bench-next: ${testingBundle} is missing; build first (node scripts/build.mjs)`);
  process.exit(1);
}
const t = await import(testingBundle);
const ROUNDS = 20_000_000;
const RUNS = 7;
const fixtures = path.join(root, 'test', 'fixtures');
const exe = await t.compileFixture(path.join(fixtures, 'next-bench.c'), undefined, ['-O2', '-fno-builtin']);
const lib = await t.compileFixture(path.join(fixtures, 'next-bench-plugin.c'), undefined, [
  '-O2', '-shared', '-fPIC', '-I', path.join(root, 'include'), '-ldl',
]);

function once(env) {
  const r = spawnSync(exe, [String(ROUNDS)], { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 120_000 });
  const ns = Object.fromEntries([...(r.stdout ?? '').matchAll(/^CALL (\w+) ns=([\d.]+)$/gm)].map((m) => [m[1], Number(m[2])]));
  if (r.status !== 0 || !('labs' in ns) || !('llabs' in ns)) throw new Error(`${exe}: exit ${r.status}: ${r.stderr}`);
  return ns;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const plain = [];
const wrapped = [];
for (let i = 0; i < RUNS; i++) {
  plain.push(once({}));
  wrapped.push(once({ LD_PRELOAD: lib }));
}
const row = (name, fn) => {
  const p = median(plain.map((r) => r[fn]));
  const w = median(wrapped.map((r) => r[fn]));
  return { name, plain_ns: p, wrapped_ns: w, added_ns: Number((w - p).toFixed(2)) };
};
const rows = [row('table (DMTCP_NEXT)', 'labs'), row('NEXT_FNC', 'llabs')];
console.log('wrapper of a trivial libc function, ns per call (median of 7):');
for (const r of rows) console.log(`  ${r.name.padEnd(20)} plain ${r.plain_ns.toFixed(2)}  wrapped ${r.wrapped_ns.toFixed(2)}  added ${r.added_ns.toFixed(2)}`);
console.log(JSON.stringify({ bench: 'next-table', rows }));
