// What pthread_mutex_lock + unlock costs under checkpoint control, next to
// the same program run plainly in the same run: NORMAL mutexes go straight to
// glibc, RECURSIVE and ERRORCHECK ones are recorded per thread so that a
// restart can fix their owners. Uncontended, one thread, 2,000,000 pairs,
// median of 7 runs each. Prints a table, then one JSON line.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const testingBundle = path.join(root, 'dist', 'testing.js');
if (!existsSync(testingBundle)) {
  console.error(`bench-mutex: ${testingBundle} is missing; build first (node scripts/build.mjs)`);
  process.exit(1);
}
const t = await import(testingBundle);
const PAIRS = 2_000_000;
const RUNS = 7;
const KINDS = ['normal', 'recursive', 'errorcheck'];

const exe = await t.compileFixture(path.join(root, 'test', 'fixtures', 'mutex-bench.c'), undefined, ['-O2']);

function once(argv, env) {
  const r = spawnSync(argv[0], argv.slice(1), { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 120_000 });
  const ns = {};
  for (const m of (r.stdout ?? '').matchAll(/^MUTEX kind=(\w+) ns=([\d.]+)$/gm)) ns[m[1]] = Number(m[2]);
  if (r.status !== 0 || KINDS.some((k) => ns[k] === undefined)) throw new Error(`${argv.join(' ')}: exit ${r.status}: ${r.stderr}`);
  return ns;
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

// Plain and launched runs alternate, so that a change in machine load hits both.
const coord = await t.startCoordinator();
const launched = [...t.cliArgv(), 'launch', '--join-coordinator', '--coord-port', String(coord.port), exe, String(PAIRS)];
const env = { DMTCP_BUILTIN_PLUGINS: '0' };
const plain = [];
const under = [];
for (let i = 0; i < RUNS; i++) {
  plain.push(once([exe, String(PAIRS)], {}));
  under.push(once(launched, env));
}
const rows = KINDS.map((kind) => {
  const p = median(plain.map((r) => r[kind]));
  const d = median(under.map((r) => r[kind]));
  return { kind, plain_ns: p, dmtcp_ns: d, over_plain: Number((d / p).toFixed(2)) };
});
console.log('kind        plain ns/pair  dmtcp ns/pair  vs plain');
for (const r of rows) {
  console.log(`${r.kind.padEnd(10)}  ${r.plain_ns.toFixed(2).padStart(13)}  ${r.dmtcp_ns.toFixed(2).padStart(13)}  ${r.over_plain.toFixed(2).padStart(8)}`);
}
console.log(JSON.stringify({ bench: 'dmtcp-mutex', pairs: PAIRS, runs: RUNS, cases: rows }));
await t.cleanup();
