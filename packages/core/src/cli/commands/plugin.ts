// `dmtcp plugin new NAME [--dir D]`: creates a plugin package that builds and
// passes its own end-to-end check as created, for a plugin author to start
// from: the C half (events, a barrier), the coordinator half (one policy), a
// demo program and a test that checkpoints, kills and restarts it.
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { CliError, UsageError, formatOptions, parseArgs } from '../args.ts';
import type { CliIO } from '../common.ts';
import { pluginNameProblem } from '../../plugin/manifest.ts';
import { paths } from '../../paths.ts';
import { generateFrom } from '../../../scripts/gen-constants.mjs';

const OPTIONS = {
  dir: { type: 'string', arg: 'D', help: 'create the package in D/NAME (default: ./NAME)' },
  help: { type: 'boolean', short: 'h', help: 'show this help' },
} as const;

const USAGE = `usage: dmtcp plugin new NAME [--dir D]

Creates a plugin package in D/NAME: native/NAME.c (the plugin library),
coordinator.js (its coordinator module), native/NAME_wire.h (what the two
share, mirrored into wire.js by dmtcp gen-constants), a demo program and
tests. Build it with make (or npm run build), check it with npm run check,
use it with dmtcp launch --with-plugin D/NAME PROG.

The library is compiled against this installation's headers
(${paths.includeDir}); set DMTCP_INCLUDE to use others.

options:
${formatOptions(OPTIONS)}`;

export interface ScaffoldOptions {
  name: string;
  /** Absolute directory of dmtcp/plugin.h's parent. */
  includeDir: string;
  /** Absolute path of the dmtcp CLI the test drives and make runs. */
  cli: string;
  vitestVersion: string;
}

/** Path in the package -> contents. */
export type Scaffold = Record<string, string>;

function packageJson(o: ScaffoldOptions): string {
  const pkg = {
    name: `dmtcp-plugin-${o.name}`,
    version: '0.1.0',
    private: true,
    type: 'module',
    description: `The ${o.name} plugin for dmtcp`,
    scripts: { build: 'make', check: 'vitest run', clean: 'make clean' },
    devDependencies: { vitest: o.vitestVersion },
    dmtcp: { plugin: o.name, lib: `build/libdmtcp_${o.name}.so`, coordinator: 'coordinator.js', builtin: false },
  };
  return JSON.stringify(pkg, null, 2) + '\n';
}

function makefile(o: ScaffoldOptions): string {
  const n = o.name;
  return [
    `# Builds the ${n} plugin library and the demo program its test runs.`,
    '# DMTCP_INCLUDE: where dmtcp/plugin.h lives (the environment can override it).',
    `DMTCP_INCLUDE ?= ${o.includeDir}`,
    '# DMTCP: the dmtcp command that generates wire.js from the wire header.',
    `DMTCP ?= node ${o.cli}`,
    'CFLAGS ?= -O2 -g -Wall -Wextra',
    '',
    `all: build/libdmtcp_${n}.so build/${n}-demo wire.js`,
    '',
    `build/libdmtcp_${n}.so: native/${n}.c native/${n}_wire.h $(DMTCP_INCLUDE)/dmtcp/plugin.h | build`,
    `\t$(CC) $(CFLAGS) -shared -fPIC -I$(DMTCP_INCLUDE) -o $@ native/${n}.c`,
    '',
    `# The coordinator module's copy of the wire header (kept in the package;`,
    `# test/wire.test.ts fails when it is stale).`,
    `wire.js: native/${n}_wire.h`,
    `\t$(DMTCP) gen-constants native/${n}_wire.h -o wire.js`,
    '',
    `build/${n}-demo: test/${n}-demo.c | build`,
    `\t$(CC) $(CFLAGS) -o $@ test/${n}-demo.c`,
    '',
    'build:',
    '\tmkdir -p build',
    '',
    'clean:',
    '\trm -rf build',
    '',
    '.PHONY: all clean',
    '',
  ].join('\n');
}

function pluginC(o: ScaffoldOptions): string {
  const n = o.name;
  return `/* The ${n} plugin: the half of it that runs inside every process of the
 * computation.  dmtcp calls dmtcp_process_event for each event, in plugin load
 * order; pass every event on with NEXT_DMTCP_PROCESS_EVENT.
 *
 * In event handlers, log with dmtcp_log rather than printf: at checkpoint
 * time a suspended thread may hold the stdio or malloc lock. */
#include <stddef.h>

#include "dmtcp/plugin.h"
#include "${n}_wire.h"

static int checkpoints;

void dmtcp_process_event(DmtcpEvent_t event, DmtcpEventData_t *data) {
  switch (event) {
    case DMTCP_EVENT_INIT:
      dmtcp_log("[${n}] init");
      break;
    case DMTCP_EVENT_DRAIN: {
      /* Every process of the computation reaches this barrier; its policy
       * in coordinator.js sees all records and replies. */
      char reply[64];
      size_t len = sizeof reply - 1;
      if (dmtcp_global_barrier(${macroPrefix(n)}_BARRIER_COUNT, "", 0, reply, &len) == DMTCP_NS_OK) {
        reply[len] = 0;
        dmtcp_log("[${n}] processes at drain: %s", reply);
      }
      break;
    }
    case DMTCP_EVENT_WRITE_CKPT:
      checkpoints++;
      dmtcp_log("[${n}] writing checkpoint %d", checkpoints);
      break;
    case DMTCP_EVENT_RESUME:
      dmtcp_log("[${n}] resume");
      break;
    case DMTCP_EVENT_RESTART:
      dmtcp_log("[${n}] restart");
      break;
    default:
      break;
  }
  NEXT_DMTCP_PROCESS_EVENT(event, data);
}
`;
}

/** The C macro prefix of a plugin name: "my-plugin" -> MY_PLUGIN. */
function macroPrefix(name: string): string {
  return name.toUpperCase().replace(/-/g, '_');
}

function wireH(o: ScaffoldOptions): string {
  const n = o.name;
  const guard = `${macroPrefix(n)}_WIRE_H`;
  return `/* What the ${n} plugin's library and its coordinator module share: barrier
 * and call names, magic numbers, sizes, JSON record lists (see
 * dmtcp/records.h).  The one source of these facts: make generates wire.js
 * from this header (dmtcp gen-constants), and test/wire.test.ts fails when
 * wire.js is stale. */
#ifndef ${guard}
#define ${guard}

/* At DMTCP_EVENT_DRAIN; the reply is the number of processes. */
#define ${macroPrefix(n)}_BARRIER_COUNT "${n}:count"

#endif
`;
}

function coordinatorJs(o: ScaffoldOptions): string {
  const n = o.name;
  return `// The ${n} plugin's coordinator module: runs in the coordinator, which
// imports it when a process reports the plugin's library. A policy gets the
// records of every process at a barrier (in upid order) and returns one
// Buffer for all of them, or a Map from upid to Buffer.
import { ${macroPrefix(n)}_BARRIER_COUNT } from './wire.js';

export default {
  name: '${n}',
  policies: {
    [${macroPrefix(n)}_BARRIER_COUNT]: (records) => Buffer.from(String(records.length)),
  },
};
`;
}

function wireTest(o: ScaffoldOptions): string {
  const n = o.name;
  return `// wire.js is what native/${n}_wire.h says: run make after changing the header.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';

const DMTCP_CLI = process.env.DMTCP_CLI ?? ${JSON.stringify(o.cli)};
const pkgDir = fileURLToPath(new URL('..', import.meta.url));

test('wire.js is up to date with native/${n}_wire.h', () => {
  const r = spawnSync(process.execPath, [DMTCP_CLI, 'gen-constants', 'native/${n}_wire.h', '-o', 'wire.js', '--check'], { cwd: pkgDir, encoding: 'utf8' });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
});
`;
}

function demoC(): string {
  return `/* The program the end-to-end test runs under dmtcp: counts forever. */
#include <stdio.h>
#include <unistd.h>

int main(void) {
  for (unsigned long i = 1;; i++) {
    printf("count %lu\\n", i);
    fflush(stdout);
    usleep(100 * 1000);
  }
}
`;
}

function e2eTest(o: ScaffoldOptions): string {
  const n = o.name;
  // Plugin names hold nothing a regular expression treats specially.
  const tag = n;
  return `// End-to-end check of the ${n} plugin: run the demo program under dmtcp
// with the plugin, checkpoint it, kill it, restart it from its image, and
// look for the plugin's log lines along the way.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, test } from 'vitest';

// The dmtcp this package was created with; DMTCP_CLI chooses another.
const DMTCP_CLI = process.env.DMTCP_CLI ?? ${JSON.stringify(o.cli)};
const pkgDir = path.resolve(fileURLToPath(new URL('..', import.meta.url)));
const demo = path.join(pkgDir, 'build', '${n}-demo');
const WAIT_MS = 30_000;

/** Our environment without DMTCP_* settings, so that the test never joins
 *  a computation it did not start. */
function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('DMTCP_') || k === 'DMTCP_DEBUG' || k === 'DMTCP_BUILTIN_PLUGINS') env[k] = v;
  }
  return env;
}

/** A dmtcp command that keeps running; its output is collected. */
class Run {
  readonly child: ChildProcess;
  stdout = '';
  stderr = '';
  closed = false;
  readonly exited: Promise<void>;
  private readonly wake = new Set<() => void>();

  constructor(args: string[]) {
    this.child = spawn(process.execPath, [DMTCP_CLI, ...args], { env: childEnv(), detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout!.setEncoding('utf8').on('data', (d: string) => { this.stdout += d; this.notify(); });
    this.child.stderr!.setEncoding('utf8').on('data', (d: string) => { this.stderr += d; this.notify(); });
    this.exited = new Promise((resolve) => this.child.on('close', () => { this.closed = true; this.notify(); resolve(); }));
    runs.push(this);
  }

  private notify(): void {
    for (const w of [...this.wake]) w();
  }

  /** Resolves with the first match of re in the stream's output so far. */
  waitFor(re: RegExp, stream: 'stdout' | 'stderr' = 'stdout'): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      const finish = (): void => {
        clearTimeout(timer);
        this.wake.delete(check);
      };
      const check = (): void => {
        const m = this[stream].match(re);
        if (m) {
          finish();
          resolve(m);
        } else if (this.closed) {
          finish();
          reject(new Error('dmtcp exited before printing ' + re + '\\n--- stdout ---\\n' + this.stdout + '\\n--- stderr ---\\n' + this.stderr));
        }
      };
      const timer = setTimeout(() => {
        finish();
        reject(new Error('no ' + re + ' on ' + stream + ' within ' + WAIT_MS + ' ms\\n--- stdout ---\\n' + this.stdout + '\\n--- stderr ---\\n' + this.stderr));
      }, WAIT_MS);
      this.wake.add(check);
      check();
    });
  }

  kill(): void {
    if (this.closed || this.child.pid === undefined) return;
    try {
      process.kill(-this.child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

const runs: Run[] = [];
let tmp = '';
let ckptDir = '';
let port = 0;

/** Runs a dmtcp command to completion and returns its stdout. */
function dmtcp(args: string[]): string {
  return execFileSync(process.execPath, [DMTCP_CLI, ...args], { env: childEnv(), encoding: 'utf8', timeout: 120_000 });
}

beforeAll(async () => {
  // Building here makes \`npm run check\` enough on a fresh checkout.
  execFileSync('make', ['-C', pkgDir], { stdio: 'pipe' });
  tmp = mkdtempSync(path.join(os.tmpdir(), 'dmtcp-${n}-'));
  ckptDir = path.join(tmp, 'ckpt');
  const portFile = path.join(tmp, 'port');
  new Run(['coordinator', '--coord-port', '0', '--port-file', portFile, '--ckptdir', ckptDir]);
  const deadline = Date.now() + WAIT_MS;
  while (!existsSync(portFile)) {
    if (Date.now() > deadline) throw new Error('the coordinator did not start');
    await new Promise((r) => setTimeout(r, 20));
  }
  port = Number(readFileSync(portFile, 'utf8').trim());
}, 120_000);

afterAll(async () => {
  for (const r of runs) r.kill();
  await Promise.all(runs.map((r) => r.exited));
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

test('${n}: the plugin sees checkpoint, resume and restart', async () => {
  const app = new Run(['launch', '--join-coordinator', '--coord-port', String(port), '--ckptdir', ckptDir, '--with-plugin', pkgDir, demo]);
  await app.waitFor(/^count 3$/m);

  const out = dmtcp(['command', '--coord-port', String(port), '--checkpoint', '--json']).trim().split('\\n');
  const reply = JSON.parse(out[out.length - 1]!) as { ok: boolean; images: string[] };
  expect(reply.ok).toBe(true);
  expect(reply.images).toHaveLength(1);
  // The coordinator module counted the processes at the plugin's barrier.
  await app.waitFor(/\\[${tag}\\] processes at drain: 1$/m, 'stderr');
  await app.waitFor(/\\[${tag}\\] writing checkpoint 1$/m, 'stderr');
  await app.waitFor(/\\[${tag}\\] resume$/m, 'stderr');

  app.kill();
  await app.exited;
  const restarted = new Run(['restart', '--join-coordinator', '--coord-port', String(port), ...reply.images]);
  await restarted.waitFor(/\\[${tag}\\] restart$/m, 'stderr');
  // The demo goes on counting from where its image was taken.
  const m = await restarted.waitFor(/^count (\\d+)$/m);
  expect(Number(m[1])).toBeGreaterThan(3);
}, 120_000);
`;
}

function readme(o: ScaffoldOptions): string {
  const n = o.name;
  return `# dmtcp-plugin-${n}

A dmtcp plugin.

- \`native/${n}.c\`: the plugin library, loaded into every process of the
  computation. It receives the checkpoint/restart events and may wrap libc
  functions (define the function and reach the real one with \`NEXT_FNC\`).
- \`coordinator.js\`: runs in the coordinator and answers the plugin's
  barriers (\`dmtcp_global_barrier("${n}:<phase>", ...)\`).
- \`native/${n}_wire.h\`: what the two halves share (barrier names, magic
  numbers, sizes, JSON record lists), defined once. \`make\` mirrors it into
  \`wire.js\` for the coordinator module (\`dmtcp gen-constants
  native/${n}_wire.h -o wire.js\`); keep wire.js with the package, and
  \`test/wire.test.ts\` fails when it is stale.
- \`test/\`: a demo program, an end-to-end test and the wire check.

Build with \`make\` (or \`npm run build\`); check with \`npm run check\`
(install vitest first, \`npm install\`). Use it with

    dmtcp launch --with-plugin ${'$'}PWD ./my-program

The declaration in \`package.json\` ("dmtcp") tells dmtcp where the library
and the coordinator module are.
`;
}

/** The files of a new plugin package (pure). */
export function scaffold(o: ScaffoldOptions): Scaffold {
  const n = o.name;
  return {
    'package.json': packageJson(o),
    Makefile: makefile(o),
    'README.md': readme(o),
    '.gitignore': 'build/\nnode_modules/\n',
    [`native/${n}.c`]: pluginC(o),
    'coordinator.js': coordinatorJs(o),
    [`native/${n}_wire.h`]: wireH(o),
    'wire.js': generateFrom([{ label: `native/${n}_wire.h`, text: wireH(o) }], { js: true }),
    'test/wire.test.ts': wireTest(o),
    [`test/${n}-demo.c`]: demoC(),
    [`test/${n}.e2e.test.ts`]: e2eTest(o),
  };
}

function vitestVersion(): string {
  try {
    const pkg: unknown = JSON.parse(readFileSync(path.join(paths.packageRoot, 'node_modules', 'vitest', 'package.json'), 'utf8'));
    const v = (pkg as { version?: unknown }).version;
    if (typeof v === 'string' && /^\d+\.\d+\.\d+$/.test(v)) return `^${v}`;
  } catch {
    // not installed next to this core (a published install): fall through
  }
  return '^4.1.0';
}

function isNonEmptyDir(dir: string): boolean {
  try {
    return statSync(dir).isDirectory() && readdirSync(dir).length > 0;
  } catch {
    return false;
  }
}

async function newPlugin(argv: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseArgs(argv, OPTIONS);
  if (values.help) {
    io.out(USAGE);
    return 0;
  }
  const [name, ...extra] = positionals;
  if (name === undefined) throw new UsageError('missing NAME of the plugin');
  if (extra.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(extra[0])}`);
  const problem = pluginNameProblem(name);
  if (problem) throw new UsageError(`plugin name ${JSON.stringify(name)} ${problem}`);

  const target = path.resolve(io.cwd, values.dir ?? '.', name);
  try {
    if (statSync(target).isFile()) throw new CliError(`${target} exists and is a file`);
  } catch (err) {
    if (err instanceof CliError) throw err;
  }
  if (isNonEmptyDir(target)) throw new CliError(`${target} already exists and is not empty`);
  const includeDir = path.resolve(io.env['DMTCP_INCLUDE'] || paths.includeDir);
  const files = scaffold({ name, includeDir, cli: paths.cli, vitestVersion: vitestVersion() });
  try {
    for (const [rel, text] of Object.entries(files)) {
      const file = path.join(target, rel);
      mkdirSync(path.dirname(file), { recursive: true });
      // Never world-writable, whatever the umask: the coordinator refuses to
      // import a module anyone could rewrite.
      writeFileSync(file, text, { flag: 'wx', mode: 0o644 });
    }
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new CliError(`cannot create ${e.path ?? target} (${e.code ?? e.message})`);
  }
  const shown = path.relative(io.cwd, target) || '.';
  io.out(`created plugin ${name} in ${target}`);
  io.out('');
  io.out(`build it:  make -C ${shown}`);
  io.out(`use it:    dmtcp launch --with-plugin ${shown} PROG`);
  io.out(`check it:  cd ${shown} && npm install && npm run check`);
  return 0;
}

export async function main(argv: string[], io: CliIO): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined) throw new UsageError('missing subcommand (expected: new)');
  if (sub === '--help' || sub === '-h' || sub === 'help') {
    io.out(USAGE);
    return 0;
  }
  if (sub !== 'new') throw new UsageError(`unknown subcommand ${JSON.stringify(sub)} (expected: new)`);
  return newPlugin(rest, io);
}
