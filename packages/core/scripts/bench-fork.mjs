// What a fork costs under checkpoint control, next to the same program run
// plainly in the same run: fork + _exit + waitpid, 300 rounds, median of 5
// runs each. Extra rows load plugin libraries given on the command line
// (`node scripts/bench-fork.mjs NAME=LIB.so ...`), so a plugin package can
// show what it adds. Prints a table, then one JSON line.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const testingBundle = path.join(root, 'dist', 'testing.js');
if (!existsSync(testingBundle)) {
  console.error(`bench-fork: ${testingBundle} is missing; build first (node scripts/build.mjs)`);
  process.exit(1);
}
const t = await import(testingBundle);
const ROUNDS = 300;
const RUNS = 5;

const exe = await t.compileFixture(path.join(root, 'test', 'fixtures', 'fork-bench.c'));

function once(argv, env) {
  const r = spawnSync(argv[0], argv.slice(1), { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 120_000 });
  const m = /^FORK us=([\d.]+)$/m.exec(r.stdout ?? '');
  if (r.status !== 0 || !m) throw new Error(`${argv.join(' ')}: exit ${r.status}: ${r.stderr}`);
  return Number(m[1]);
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function measure(argv, env = {}) {
  return median(Array.from({ length: RUNS }, () => once(argv, env)));
}

const coord = await t.startCoordinator();
const launch = (extra) => [...t.cliArgv(), 'launch', '--join-coordinator', '--coord-port', String(coord.port), ...extra, exe, String(ROUNDS)];
const env = { DMTCP_BUILTIN_PLUGINS: '0' };
const rows = [{ name: 'plain', us: measure([exe, String(ROUNDS)]) }];
rows.push({ name: 'dmtcp launch (core)', us: measure(launch([]), env) });
for (const arg of process.argv.slice(2)) {
  const [name, lib] = arg.split('=');
  rows.push({ name: `dmtcp launch + ${name}`, us: measure(launch(['--with-plugin', lib]), env) });
}
const base = rows[0].us;
const w = Math.max(...rows.map((r) => r.name.length));
console.log(`${'case'.padEnd(w)}  us/fork  vs plain`);
for (const r of rows) console.log(`${r.name.padEnd(w)}  ${r.us.toFixed(0).padStart(7)}  ${(r.us / base).toFixed(1).padStart(8)}`);
console.log(JSON.stringify({ bench: 'dmtcp-fork', rounds: ROUNDS, runs: RUNS, cases: rows.map((r) => ({ name: r.name, us_per_fork: r.us, over_plain: Number((r.us / base).toFixed(2)) })) }));
await t.cleanup();
