// What the runtime's wrappers add to calls programs make often (read, write,
// poll, mutex lock+unlock), next to the same program run plainly in the same
// run: plain and launched runs alternate (a change in machine load hits
// both), median of 7 runs each. Prints a table, then one JSON line.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const testingBundle = path.join(root, 'dist', 'testing.js');
if (!existsSync(testingBundle)) {
  console.error(`bench-calls: ${testingBundle} is missing; build first (node scripts/build.mjs)`);
  process.exit(1);
}
const t = await import(testingBundle);
const ROUNDS = 200000;
const RUNS = 7;
const exe = await t.compileFixture(path.join(root, 'test', 'fixtures', 'call-bench.c'), undefined, ['-O2']);

function once(argv, env) {
  const r = spawnSync(argv[0], argv.slice(1), { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 120_000 });
  const ns = Object.fromEntries([...(r.stdout ?? '').matchAll(/^CALL ([\w-]+) ns=([\d.]+)$/gm)].map((m) => [m[1], Number(m[2])]));
  if (r.status !== 0 || Object.keys(ns).length === 0) throw new Error(`${argv.join(' ')}: exit ${r.status}: ${r.stderr}`);
  return ns;
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

const coord = await t.startCoordinator();
const launched = [...t.cliArgv(), 'launch', '--join-coordinator', '--coord-port', String(coord.port), exe, String(ROUNDS)];
const plain = [];
const under = [];
for (let i = 0; i < RUNS; i++) {
  plain.push(once([exe, String(ROUNDS)], {}));
  under.push(once(launched, { DMTCP_BUILTIN_PLUGINS: '0' }));
}
const cases = Object.keys(plain[0]).map((call) => {
  const p = median(plain.map((r) => r[call]));
  const d = median(under.map((r) => r[call]));
  return { call, plain_ns: p, dmtcp_ns: d, over_plain: Number((d / p).toFixed(2)) };
});
const w = Math.max(...cases.map((c) => c.call.length));
console.log(`${'call'.padEnd(w)}  plain ns  dmtcp ns  vs plain`);
for (const c of cases) {
  console.log(`${c.call.padEnd(w)}  ${c.plain_ns.toFixed(1).padStart(8)}  ${c.dmtcp_ns.toFixed(1).padStart(8)}  ${c.over_plain.toFixed(2).padStart(8)}`);
}
console.log(JSON.stringify({ bench: 'dmtcp-calls', rounds: ROUNDS, runs: RUNS, cases }));
await t.cleanup();
