// What the runtime's wrappers add to calls that every program makes often
// (read, write, poll), next to the same program run plainly in the same run:
// median of 5 runs of 200000 calls each. Prints a table, then one JSON line.
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
const RUNS = 5;
const exe = await t.compileFixture(path.join(root, 'test', 'fixtures', 'call-bench.c'));

function once(argv, env) {
  const r = spawnSync(argv[0], argv.slice(1), { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) throw new Error(`${argv.join(' ')}: exit ${r.status}: ${r.stderr}`);
  return Object.fromEntries([...r.stdout.matchAll(/^CALL (\w+) ns=([\d.]+)$/gm)].map((m) => [m[1], Number(m[2])]));
}

function medians(argv, env = {}) {
  const runs = Array.from({ length: RUNS }, () => once(argv, env));
  const out = {};
  for (const k of Object.keys(runs[0])) {
    const s = runs.map((r) => r[k]).sort((a, b) => a - b);
    out[k] = s[Math.floor(s.length / 2)];
  }
  return out;
}

const coord = await t.startCoordinator();
const plain = medians([exe, String(ROUNDS)]);
const under = medians([...t.cliArgv(), 'launch', '--join-coordinator', '--coord-port', String(coord.port), exe, String(ROUNDS)],
  { DMTCP_BUILTIN_PLUGINS: '0' });
console.log('call   plain ns  launch ns  ratio');
const cases = Object.keys(plain).map((k) => ({ call: k, plain_ns: plain[k], launch_ns: under[k], ratio: Number((under[k] / plain[k]).toFixed(3)) }));
for (const c of cases) console.log(`${c.call.padEnd(5)}  ${c.plain_ns.toFixed(1).padStart(8)}  ${c.launch_ns.toFixed(1).padStart(9)}  ${c.ratio.toFixed(3)}`);
console.log(JSON.stringify({ bench: 'dmtcp-calls', rounds: ROUNDS, runs: RUNS, cases }));
await t.cleanup();
