// What the timer plugin's clock wrappers cost: clock_gettime ns/call of the
// same program run plainly, under `dmtcp launch` with no plugin, and under
// `dmtcp launch` with this package's plugin alone. Runs alternate (a change
// in machine load hits all three), median of 7 each. Prints a table (ratios
// against plain and against dmtcp without the plugin), then one JSON line.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const pkgRoot = fileURLToPath(new URL('..', import.meta.url));
const lib = path.join(pkgRoot, 'build', 'libdmtcp_timer.so');
if (!existsSync(lib)) {
  console.error(`bench-clock: ${lib} is missing; build first (pnpm --filter @dmtcp/plugin-timer build)`);
  process.exit(1);
}
const t = await import('@dmtcp/core/testing');
const ROUNDS = 2000000;
const RUNS = 7;
const exe = await t.compileFixture(path.join(pkgRoot, 'scripts', 'clock-bench.c'), undefined, ['-O2']);

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
const launch = (extra) => [...t.cliArgv(), 'launch', '--join-coordinator', '--coord-port', String(coord.port), ...extra, exe, String(ROUNDS)];
const env = { DMTCP_BUILTIN_PLUGINS: '0' };
const plain = [];
const bare = [];
const timer = [];
for (let i = 0; i < RUNS; i++) {
  plain.push(once([exe, String(ROUNDS)], {}));
  bare.push(once(launch([]), env));
  timer.push(once(launch(['--with-plugin', lib]), env));
}
const cases = Object.keys(plain[0]).map((call) => {
  const p = median(plain.map((r) => r[call]));
  const b = median(bare.map((r) => r[call]));
  const d = median(timer.map((r) => r[call]));
  return {
    call, plain_ns: p, dmtcp_ns: b, timer_ns: d,
    timer_over_plain: Number((d / p).toFixed(2)), timer_over_dmtcp: Number((d / b).toFixed(2)),
  };
});
const w = Math.max(...cases.map((c) => c.call.length));
console.log(`${'call'.padEnd(w)}  plain ns  dmtcp ns  +timer ns  vs plain  vs dmtcp`);
for (const c of cases) {
  console.log(
    `${c.call.padEnd(w)}  ${c.plain_ns.toFixed(1).padStart(8)}  ${c.dmtcp_ns.toFixed(1).padStart(8)}  ${c.timer_ns.toFixed(1).padStart(9)}  ${c.timer_over_plain.toFixed(2).padStart(8)}  ${c.timer_over_dmtcp.toFixed(2).padStart(8)}`,
  );
}
console.log(JSON.stringify({ bench: 'timer-clock', rounds: ROUNDS, runs: RUNS, cases }));
await t.cleanup();
