// The files of a new plugin package, in the shape of the in-tree plugins
// (packages/plugin-pid, packages/plugin-file): native/NAME_*.c built by a
// Makefile with the toolkit headers, the coordinator module in src/ (policy
// as pure functions, constants generated from native/NAME_wire.h, bundled
// to dist/coordinator.js), unit and e2e tests as two vitest projects.
// Pure: `dmtcp plugin new` resolves the tools and writes the files;
// test/plugin-scaffold.test.ts compares this shape with the in-tree plugins.
import { generateFrom } from '../../../scripts/gen-constants.mjs';

/** A tool of this installation a new package uses until it has its own
 *  node_modules (npm install): its version for package.json, and where it
 *  is here, or null when this installation has none. */
export interface Tool {
  version: string;
  /** What to run (an executable or a .js file), or for type-only packages
   *  the file that declares the types. */
  path: string | null;
}

export interface ScaffoldOptions {
  name: string;
  /** Absolute directory of dmtcp/plugin.h's parent. */
  includeDir: string;
  /** Absolute path of the dmtcp CLI the tests drive and make runs. */
  cli: string;
  /** Absolute path of @dmtcp/core/plugin's types (src/plugin/index.ts). */
  pluginTypes: string;
  /** vitest.mjs; typesPath: its index.d.ts; configTypesPath: config.d.ts. */
  vitest: Tool & { typesPath: string | null; configTypesPath: string | null };
  /** The esbuild executable. */
  esbuild: Tool;
  /** typescript's bin/tsc. */
  typescript: Tool;
  /** The directory holding @types/node (a typeRoot). */
  typesNode: Tool;
}

/** Path in the package -> contents. */
export type Scaffold = Record<string, string>;

/** The C macro prefix of a plugin name: "my-plugin" -> MY_PLUGIN. */
export function macroPrefix(name: string): string {
  return name.toUpperCase().replace(/-/g, '_');
}

/** The C identifier prefix of a plugin name: "my-plugin" -> my_plugin. */
function cPrefix(name: string): string {
  return name.replace(/-/g, '_');
}

function packageJson(o: ScaffoldOptions): string {
  const pkg = {
    name: `dmtcp-plugin-${o.name}`,
    version: '0.1.0',
    private: true,
    type: 'module',
    description: `The ${o.name} plugin for dmtcp`,
    dmtcp: { plugin: o.name, lib: `build/libdmtcp_${o.name}.so`, coordinator: 'dist/coordinator.js', builtin: false },
    files: [`build/libdmtcp_${o.name}.so`, 'dist', 'README.md'],
    scripts: {
      // The Makefile does what the in-tree plugins' build script does (make,
      // dmtcp gen-constants, esbuild), with the tools of the dmtcp that
      // created the package as defaults that the environment can override.
      build: 'make -s',
      typecheck: 'make -s typecheck',
      test: 'vitest run --project unit',
      check: 'vitest run --project e2e',
    },
    devDependencies: {
      '@types/node': o.typesNode.version,
      esbuild: o.esbuild.version,
      typescript: o.typescript.version,
      vitest: o.vitest.version,
    },
  };
  return JSON.stringify(pkg, null, 2) + '\n';
}

function makefile(o: ScaffoldOptions): string {
  const n = o.name;
  const lib = `build/libdmtcp_${n}.so`;
  return [
    `# ${lib}: the ${n} plugin's native half, preloaded into every process of`,
    `# a computation; dist/coordinator.js: its coordinator module, bundled from`,
    `# src/ with the constants generated from native/${n}_wire.h; and the demo`,
    '# program the end-to-end test runs.  Each setting below can be overridden',
    '# from the environment or the command line (make DMTCP_INCLUDE=...).',
    '#',
    '# DMTCP_INCLUDE: where dmtcp/plugin.h and the toolkit headers live.',
    `DMTCP_INCLUDE ?= ${o.includeDir}`,
    '# DMTCP: the dmtcp command that generates src/generated/wire.ts.',
    `DMTCP ?= node ${o.cli}`,
    '# ESBUILD, TSC: those of the dmtcp that created this package, or this',
    "# package's own once `npm install` has run.",
    `ESBUILD ?= ${o.esbuild.path ?? 'node_modules/.bin/esbuild'}`,
    `TSC ?= ${o.typescript.path ? `node ${o.typescript.path}` : 'node_modules/.bin/tsc'}`,
    'CC ?= cc',
    'CFLAGS := -std=gnu11 -O2 -g -Wall -Wextra -Werror -fPIC -fvisibility=hidden -D_GNU_SOURCE \\',
    '          -I$(DMTCP_INCLUDE) -Inative',
    'DEMO_CFLAGS := -std=gnu11 -O2 -g -Wall -Wextra -Werror',
    'SRC := $(wildcard native/*.c)',
    'HDR := $(wildcard native/*.h) $(wildcard $(DMTCP_INCLUDE)/dmtcp/*.h)',
    'TS := $(wildcard src/*.ts)',
    '',
    `all: ${lib} src/generated/wire.ts dist/coordinator.js build/${n}-demo`,
    '',
    `${lib}: $(SRC) $(HDR) Makefile`,
    '\t@mkdir -p $(@D)',
    '\t$(CC) $(CFLAGS) -shared -o $@.tmp $(SRC) -ldl',
    '\tmv -f $@.tmp $@',
    '',
    `# Kept with the sources (test/wire.test.ts fails when it is stale).`,
    `src/generated/wire.ts: native/${n}_wire.h`,
    '\t@mkdir -p $(@D)',
    `\t$(DMTCP) gen-constants native/${n}_wire.h -o $@`,
    '',
    'dist/coordinator.js: $(TS) src/generated/wire.ts',
    '\t$(ESBUILD) src/coordinator.ts --bundle --platform=node --format=esm --target=node20 --log-level=warning --outfile=$@',
    '',
    `build/${n}-demo: test/fixtures/${n}-demo.c`,
    '\t@mkdir -p $(@D)',
    `\t$(CC) $(DEMO_CFLAGS) -o $@ test/fixtures/${n}-demo.c`,
    '',
    'typecheck: src/generated/wire.ts',
    '\t$(TSC) -p tsconfig.json',
    '',
    'clean:',
    '\trm -rf build dist',
    '',
    '.PHONY: all typecheck clean',
    '',
  ].join('\n');
}

function tsconfig(o: ScaffoldOptions): string {
  // The compiler options of the repository's tsconfig.base.json, spelled out:
  // the package stands alone. The paths point at the dmtcp that created it,
  // so that the package typechecks before (or without) npm install.
  const paths: Record<string, string[]> = { '@dmtcp/core/plugin': [o.pluginTypes] };
  if (o.vitest.typesPath) paths['vitest'] = [o.vitest.typesPath];
  if (o.vitest.configTypesPath) paths['vitest/config'] = [o.vitest.configTypesPath];
  const compilerOptions: Record<string, unknown> = {
    target: 'ES2022',
    module: 'NodeNext',
    moduleResolution: 'NodeNext',
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    isolatedModules: true,
    verbatimModuleSyntax: true,
    allowImportingTsExtensions: true,
    noUncheckedIndexedAccess: true,
    types: ['node'],
    ...(o.typesNode.path ? { typeRoots: ['./node_modules/@types', o.typesNode.path] } : {}),
    paths,
  };
  return JSON.stringify({ compilerOptions, include: ['src', 'test', 'vitest.config.ts'] }, null, 2) + '\n';
}

function vitestConfig(): string {
  // A plain object rather than defineConfig: the package may have no
  // node_modules of its own, and a type-only import needs none at run time.
  return `import type { ViteUserConfig } from 'vitest/config';

const config: ViteUserConfig = {
  test: {
    projects: [
      { extends: true, test: { name: 'unit', include: ['test/**/*.test.ts'], exclude: ['test/**/*.e2e.test.ts'] } },
      {
        extends: true,
        test: {
          name: 'e2e',
          include: ['test/**/*.e2e.test.ts'],
          globalSetup: ['test/global-setup.ts'],
          testTimeout: 180_000,
          hookTimeout: 60_000,
          // Each file drives its own coordinator and processes: one at a time.
          fileParallelism: false,
        },
      },
    ],
  },
};

export default config;
`;
}

function wireH(o: ScaffoldOptions): string {
  const n = o.name;
  const M = macroPrefix(n);
  return `/* What the ${n} plugin's library and its coordinator module share: barrier
 * and call names, magic numbers, sizes, JSON record lists (see
 * dmtcp/records.h).  The one source of these facts: the build generates
 * src/generated/wire.ts from this header (dmtcp gen-constants), and
 * test/wire.test.ts fails when that file is stale. */
#ifndef ${M}_WIRE_H
#define ${M}_WIRE_H

/* At DMTCP_EVENT_DRAIN every process sends its record, and src/policy.ts
 * answers all of them with one reply. */
#define ${M}_BARRIER_COUNT "${n}:count"
/* The record: the calls of the wrapped function so far, in decimal. */
#define ${M}_RECORD_MAX 24
/* The reply: "<processes> processes, <calls> calls". */
#define ${M}_REPLY_MAX 63

#endif
`;
}

function internalH(o: ScaffoldOptions): string {
  const c = cPrefix(o.name);
  const M = macroPrefix(o.name);
  return `/* What the files of the ${o.name} plugin's library share.  The library is
 * built with -fvisibility=hidden: only what is marked DMTCP_EXPORT (the
 * wrappers, dmtcp_process_event) is seen by other libraries. */
#ifndef ${M}_PLUGIN_H
#define ${M}_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

/* ${c}_wrappers.c: calls of the wrapped function since the launch. */
uint64_t ${c}_calls(void);

/* ${c}_ckpt.c: the state a checkpoint saves and a restart finds again. */
size_t ${c}_ckpt_record(char *buf, size_t cap);
void ${c}_ckpt_save(void);
void ${c}_ckpt_restored(void);

#endif
`;
}

function pluginC(o: ScaffoldOptions): string {
  const n = o.name;
  const c = cPrefix(n);
  const M = macroPrefix(n);
  return `/* The ${n} plugin's event handler: the phase script, top to bottom.
 *
 *   INIT        read the launch settings (DMTCP_DEBUG)
 *   DRAIN       every process sends its record to the "${n}:count"
 *               barrier; the policy in src/policy.ts answers all of them
 *   WRITE_CKPT  save what the image is to keep (${c}_ckpt.c)
 *   RESUME      the checkpoint is written; the program goes on
 *   RESTART     the state is back from the image (${c}_ckpt.c)
 *
 * Each event goes on to the plugins loaded after this one with
 * NEXT_DMTCP_PROCESS_EVENT, exactly once.  At checkpoint time a stopped
 * thread may hold the malloc or stdio lock: log with dmtcp_log, format
 * with dmtcp/fmt.h, call the kernel through dmtcp/sys.h. */
#include <stdlib.h>

#include "dmtcp/debug.h"
#include "dmtcp/plugin.h"
#include "dmtcp/visibility.h"
#include "${n}_plugin.h"
#include "${n}_wire.h"

static void at_drain(void) {
  char record[${M}_RECORD_MAX];
  size_t record_len = ${c}_ckpt_record(record, sizeof record);
  char reply[${M}_REPLY_MAX + 1];
  size_t len = ${M}_REPLY_MAX;
  int rc = dmtcp_global_barrier(${M}_BARRIER_COUNT, record, record_len, reply, &len);
  if (rc != DMTCP_NS_OK) {
    dmtcp_log("[${n}] barrier %s failed (%d)", ${M}_BARRIER_COUNT, rc);
    return;
  }
  reply[len] = 0;
  dmtcp_log("[${n}] at drain: %s", reply);
}

/* The runtime finds this one symbol with dlsym. */
DMTCP_EXPORT void dmtcp_process_event(DmtcpEvent_t event, DmtcpEventData_t *data) {
  switch (event) {
    case DMTCP_EVENT_INIT:
      /* getenv is safe here, not at checkpoint time. */
      dmtcp_debug_set(dmtcp_debug_value_on(getenv(DMTCP_DEBUG_ENV)));
      dmtcp_log("[${n}] init");
      break;
    case DMTCP_EVENT_DRAIN:
      at_drain();
      break;
    case DMTCP_EVENT_WRITE_CKPT:
      ${c}_ckpt_save();
      break;
    case DMTCP_EVENT_RESUME:
      dmtcp_log("[${n}] resume");
      break;
    case DMTCP_EVENT_RESTART:
      ${c}_ckpt_restored();
      break;
    default:
      break;
  }
  NEXT_DMTCP_PROCESS_EVENT(event, data);
}
`;
}

function wrappersC(o: ScaffoldOptions): string {
  const n = o.name;
  const c = cPrefix(n);
  const M = macroPrefix(n);
  return `/* The functions the ${n} plugin wraps.  Each wrapper reaches the next
 * definition through the table of dmtcp/next.h, filled when the library
 * loads: a lookup (dlsym, NEXT_FNC) from a wrapper can deadlock at
 * checkpoint time.  List in ${M}_WRAPPED every function this file wraps.
 *
 * This one counts the program's usleep calls. */
#include <unistd.h>

#include "dmtcp/next.h"
#include "dmtcp/visibility.h"
#include "${n}_plugin.h"

#define ${M}_WRAPPED(X) X(usleep)
DMTCP_NEXT_TABLE(${M}_WRAPPED)

static uint64_t calls;

uint64_t ${c}_calls(void) { return __atomic_load_n(&calls, __ATOMIC_RELAXED); }

DMTCP_EXPORT int usleep(useconds_t usec) {
  __atomic_add_fetch(&calls, 1, __ATOMIC_RELAXED);
  return DMTCP_NEXT(usleep)(usec);
}
`;
}

function ckptC(o: ScaffoldOptions): string {
  const n = o.name;
  const c = cPrefix(n);
  return `/* The ${n} plugin's checkpoint and restart mechanism: what a checkpoint
 * saves and how a restart finds it again.  This runs on the checkpoint
 * thread while the program's threads are stopped (perhaps inside malloc or
 * printf): no malloc, no stdio; the toolkit's formatter (dmtcp/fmt.h), raw
 * system calls (dmtcp/sys.h) and dmtcp_log only.
 *
 * The state lives in this library's data, which the image captures, so a
 * restart finds it as the last checkpoint left it.  What the kernel holds
 * outside the process (a connection, a device's setting) would be described
 * here at WRITE_CKPT and made again at RESTART. */
#include "dmtcp/debug.h"
#include "dmtcp/fmt.h"
#include "dmtcp/plugin.h"
#include "dmtcp/sys.h"
#include "${n}_plugin.h"

static struct {
  unsigned generation; /* checkpoints written, the last one included */
  uint64_t calls;      /* ${c}_calls() when it was written */
} saved;

size_t ${c}_ckpt_record(char *buf, size_t cap) {
  struct sbuf sb;
  sb_init(&sb, buf, cap);
  sb_putu(&sb, ${c}_calls());
  return sb.overflow ? 0 : sb.len;
}

void ${c}_ckpt_save(void) {
  saved.generation++;
  saved.calls = ${c}_calls();
  dmtcp_log("[${n}] writing checkpoint %u", saved.generation);
}

void ${c}_ckpt_restored(void) {
  dmtcp_log("[${n}] restart from checkpoint %u (%lu calls before it)", saved.generation, (unsigned long)saved.calls);
  if (dmtcp_debug()) dmtcp_log("[${n}] restarted as pid %ld", sys_getpid());
}
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

function policyTs(o: ScaffoldOptions): string {
  const n = o.name;
  const M = macroPrefix(n);
  return `// The ${n} plugin's decisions, as pure functions (no I/O, no clock): what
// the coordinator answers at the "${n}:count" barrier. src/coordinator.ts
// only connects them to barrier names; test/policy.test.ts tests them.
import { ${M}_RECORD_MAX, ${M}_REPLY_MAX } from './generated/wire.ts';

export class PolicyError extends Error {
  override name = 'PolicyError';
}

/** The calls one process reported (decimal digits); \`index\` names it in errors. */
export function parseRecord(payload: Buffer, index: number): number {
  if (payload.length === 0) throw new PolicyError(\`process \${index} sent an empty record\`);
  if (payload.length > ${M}_RECORD_MAX) throw new PolicyError(\`process \${index} sent \${payload.length} bytes, at most \${${M}_RECORD_MAX}\`);
  const text = payload.toString('latin1');
  const value = Number(text);
  if (!/^[0-9]+$/.test(text) || !Number.isSafeInteger(value)) throw new PolicyError(\`process \${index} sent \${JSON.stringify(text)}, not a count\`);
  return value;
}

/** One reply for every process: how many reached the barrier and their calls in all. */
export function countReply(payloads: readonly Buffer[]): Buffer {
  const calls = payloads.reduce((sum, p, i) => sum + parseRecord(p, i), 0);
  if (!Number.isSafeInteger(calls)) throw new PolicyError(\`\${payloads.length} processes made more calls than a count holds\`);
  const reply = Buffer.from(\`\${payloads.length} processes, \${calls} calls\`, 'latin1');
  if (reply.length > ${M}_REPLY_MAX) throw new PolicyError(\`reply of \${reply.length} bytes, at most \${${M}_REPLY_MAX}\`);
  return reply;
}
`;
}

function coordinatorTs(o: ScaffoldOptions): string {
  const n = o.name;
  const M = macroPrefix(n);
  return `// The ${n} plugin's coordinator module, bundled to dist/coordinator.js:
// the coordinator imports it when a process reports libdmtcp_${n}.so. A
// policy gets the records of every process at a barrier (in upid order)
// and returns one Buffer for all of them, or a Map from upid to Buffer; a
// policy that throws fails the checkpoint. Only types come from the core.
import type { CoordinatorPlugin } from '@dmtcp/core/plugin';
import { ${M}_BARRIER_COUNT } from './generated/wire.ts';
import { countReply } from './policy.ts';

const plugin = {
  name: '${n}',
  policies: {
    [${M}_BARRIER_COUNT]: (records) => countReply(records.map((r) => r.payload)),
  },
} satisfies CoordinatorPlugin;

export default plugin;
`;
}

function policyTest(o: ScaffoldOptions): string {
  const n = o.name;
  const M = macroPrefix(n);
  return `// The ${n} plugin's policy: the reply at "${n}:count", and records it refuses.
import { describe, expect, test } from 'vitest';
import plugin from '../src/coordinator.ts';
import { ${M}_BARRIER_COUNT, ${M}_REPLY_MAX } from '../src/generated/wire.ts';
import { PolicyError, countReply, parseRecord } from '../src/policy.ts';

const rec = (s: string): Buffer => Buffer.from(s, 'latin1');

describe('countReply', () => {
  test('counts the processes and adds up their calls', () => {
    expect(countReply([rec('7')]).toString()).toBe('1 processes, 7 calls');
    expect(countReply([rec('1'), rec('20'), rec('300')]).toString()).toBe('3 processes, 321 calls');
    expect(countReply([]).toString()).toBe('0 processes, 0 calls');
  });

  test('the largest reply fits what the library reads', () => {
    const big = Array.from({ length: 1000 }, () => rec(String(2 ** 40)));
    expect(countReply(big).length).toBeLessThanOrEqual(${M}_REPLY_MAX);
  });

  test.each([
    ['an empty record', rec(''), /process 0 sent an empty record/],
    ['a long record', rec('1'.repeat(25)), /sent 25 bytes, at most 24/],
    ['a negative count', rec('-1'), /sent "-1", not a count/],
    ['a fraction', rec('1.5'), /not a count/],
    ['a count past 2^53', rec('9007199254740993'), /not a count/],
  ])('refuses %s', (_what, payload, re) => {
    expect(() => countReply([payload])).toThrow(re);
    expect(() => parseRecord(payload, 0)).toThrow(PolicyError);
  });
});

test('the coordinator module answers the barrier with the policy', () => {
  expect(plugin.name).toBe('${n}');
  expect(Object.keys(plugin.policies)).toEqual([${M}_BARRIER_COUNT]);
});
`;
}

function wireTest(o: ScaffoldOptions): string {
  const n = o.name;
  const M = macroPrefix(n);
  return `// src/generated/wire.ts is what native/${n}_wire.h says: run the build
// after changing the header.
import { spawnSync } from 'node:child_process';
import { expect, test } from 'vitest';
import * as wire from '../src/generated/wire.ts';
import { DMTCP_CLI, pkgDir } from './helpers.ts';

test('src/generated/wire.ts is up to date with native/${n}_wire.h', () => {
  const args = [DMTCP_CLI, 'gen-constants', 'native/${n}_wire.h', '-o', 'src/generated/wire.ts', '--check'];
  const r = spawnSync(process.execPath, args, { cwd: pkgDir, encoding: 'utf8' });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
});

test('barrier names carry the plugin name', () => {
  expect(wire.${M}_BARRIER_COUNT).toBe('${n}:count');
});
`;
}

function helpersTs(o: ScaffoldOptions): string {
  return `// What the tests share: the dmtcp they drive, and dmtcp commands as child
// processes whose output they can wait for.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The dmtcp this package was created with; DMTCP_CLI chooses another. */
export const DMTCP_CLI = process.env['DMTCP_CLI'] ?? ${JSON.stringify(o.cli)};
export const pkgDir = path.resolve(fileURLToPath(new URL('..', import.meta.url)));
export const WAIT_MS = 30_000;

/** Our environment without DMTCP_* settings, so that a test never joins a
 *  computation it did not start. */
export function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('DMTCP_') || k === 'DMTCP_DEBUG' || k === 'DMTCP_BUILTIN_PLUGINS') env[k] = v;
  }
  return env;
}

/** Runs a dmtcp command to completion and returns its stdout. */
export function dmtcp(args: string[]): string {
  return execFileSync(process.execPath, [DMTCP_CLI, ...args], { env: childEnv(), encoding: 'utf8', timeout: 120_000 });
}

const runs: Run[] = [];

/** Kills every command still running (afterAll). */
export async function killAll(): Promise<void> {
  for (const r of runs) r.kill();
  await Promise.all(runs.map((r) => r.exited));
}

/** A dmtcp command that keeps running; its output is collected. */
export class Run {
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
      const both = (): string => '\\n--- stdout ---\\n' + this.stdout + '\\n--- stderr ---\\n' + this.stderr;
      const check = (): void => {
        const m = this[stream].match(re);
        if (m) {
          finish();
          resolve(m);
        } else if (this.closed) {
          finish();
          reject(new Error('dmtcp exited before printing ' + String(re) + both()));
        }
      };
      const timer = setTimeout(() => {
        finish();
        reject(new Error('no ' + String(re) + ' on ' + stream + ' within ' + WAIT_MS + ' ms' + both()));
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
`;
}

function globalSetup(): string {
  return `// Builds the plugin (library, coordinator module, demo) before the
// end-to-end checks run, so that \`npm run check\` works on a fresh copy;
// make does nothing when everything is up to date.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const pkgRoot = fileURLToPath(new URL('..', import.meta.url));

export default function setup(): void {
  execFileSync('make', ['-s', '-C', pkgRoot], { stdio: 'inherit' });
}
`;
}

function e2eTest(o: ScaffoldOptions): string {
  const n = o.name;
  // Plugin names hold nothing a regular expression treats specially but "-",
  // which is literal outside brackets.
  return `// End-to-end check of the ${n} plugin: run the demo program under dmtcp
// with the plugin, then three times: checkpoint it (through the barrier
// src/policy.ts answers), kill it, restart it from its image.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { Run, WAIT_MS, dmtcp, killAll, pkgDir } from './helpers.ts';

const demo = path.join(pkgDir, 'build', '${n}-demo');
let tmp = '';
let ckptDir = '';
let port = 0;

beforeAll(async () => {
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
});

afterAll(async () => {
  await killAll();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

/** The last count the demo printed. */
function lastCount(run: Run): number {
  const all = [...run.stdout.matchAll(/^count (\\d+)$/gm)];
  return Number(all[all.length - 1]?.[1] ?? 0);
}

test('${n}: three checkpoints, kills and restarts, answered by the policy', async () => {
  let app = new Run(['launch', '--join-coordinator', '--coord-port', String(port), '--ckptdir', ckptDir, '--with-plugin', pkgDir, demo]);
  await app.waitFor(/^count 3$/m);
  let callsBefore = 0;
  for (let generation = 1; generation <= 3; generation++) {
    const counted = lastCount(app);
    const out = dmtcp(['command', '--coord-port', String(port), '--checkpoint', '--json']).trim().split('\\n');
    const reply = JSON.parse(out[out.length - 1]!) as { ok: boolean; images: string[] };
    expect(reply.ok).toBe(true);
    expect(reply.images).toHaveLength(1);

    // The coordinator module's policy answered the barrier: one process,
    // and more calls than at the last checkpoint (the count survived).
    const drain = await app.waitFor(/\\[${n}\\] at drain: 1 processes, (\\d+) calls$/m, 'stderr');
    const calls = Number(drain[1]);
    expect(calls).toBeGreaterThan(callsBefore);
    await app.waitFor(new RegExp('\\\\[${n}\\\\] writing checkpoint ' + generation + '$', 'm'), 'stderr');
    await app.waitFor(/\\[${n}\\] resume$/m, 'stderr');

    app.kill();
    await app.exited;
    app = new Run(['restart', '--join-coordinator', '--coord-port', String(port), ...reply.images]);
    // The state the checkpoint saved is back, and the demo counts on from
    // where its image was taken.
    await app.waitFor(new RegExp('\\\\[${n}\\\\] restart from checkpoint ' + generation + ' \\\\(' + calls + ' calls before it\\\\)$', 'm'), 'stderr');
    const m = await app.waitFor(/^count (\\d+)$/m);
    expect(Number(m[1])).toBeGreaterThan(counted);
    await app.waitFor(new RegExp('^count ' + (Number(m[1]) + 2) + '$', 'm'));
    callsBefore = calls;
  }
});
`;
}

function readme(o: ScaffoldOptions): string {
  const n = o.name;
  return `# dmtcp-plugin-${n}

A dmtcp plugin, laid out like the plugins that come with dmtcp
(\`@dmtcp/plugin-pid\`, \`@dmtcp/plugin-file\`).

## What it does

As created, it counts the program's \`usleep\` calls, gathers every
process's count at a barrier before each checkpoint, and finds its own
state again after a restart. Replace that with what your plugin is for:

- \`native/${n}_plugin.c\`: the event handler, the phase script of the
  plugin (what it does at INIT, DRAIN, WRITE_CKPT, RESUME, RESTART).
- \`native/${n}_wrappers.c\`: the libc functions it wraps, each calling the
  next definition through the table of \`dmtcp/next.h\`
  (\`DMTCP_NEXT_TABLE(LIST)\`, \`DMTCP_NEXT(f)\`).
- \`native/${n}_ckpt.c\`: the checkpoint/restart mechanism, what a
  checkpoint saves and how a restart makes it again. It runs while the
  program is stopped: no malloc or stdio there, only the toolkit headers
  (\`dmtcp/sys.h\` raw system calls, \`dmtcp/fmt.h\` formatting,
  \`dmtcp/debug.h\`, \`dmtcp/visibility.h\`) and \`dmtcp_log\`.
- \`native/${n}_wire.h\`: what the library and the coordinator module share
  (barrier names, sizes, magic numbers, JSON record lists), defined once;
  the build generates \`src/generated/wire.ts\` from it.
- \`src/policy.ts\`: the decisions of the coordinator module as pure
  functions (here: the reply at \`${n}:count\`), unit-tested;
  \`src/coordinator.ts\` connects them to barrier names and is bundled to
  \`dist/coordinator.js\`.
- \`test/\`: unit tests (\`*.test.ts\`: the policy, the generated constants)
  and an end-to-end check (\`*.e2e.test.ts\`: the demo program in
  \`test/fixtures\` checkpointed, killed with SIGKILL and restarted, three
  times).

The declaration in \`package.json\` ("dmtcp") tells dmtcp where the library
and the coordinator module are. Add \`"fds": [...]\` there if the plugin
restores kinds of descriptor, \`"after": [...]\` to load after other plugins.

## Commands

    npm run build       # make: the library, src/generated/wire.ts, dist/coordinator.js, the demo
    npm test            # unit tests (vitest project "unit")
    npm run check       # end-to-end: checkpoint, kill, restart the demo, three times
    npm run typecheck   # tsc
    dmtcp launch --with-plugin ${'$'}PWD ./my-program

The Makefile uses the headers, the dmtcp command, esbuild and tsc of the
dmtcp that created the package (\`DMTCP_INCLUDE\`, \`DMTCP\`, \`ESBUILD\`,
\`TSC\`; override any of them with \`make VAR=...\` or the environment).
Run \`npm install\` for a vitest of the package's own; \`tsconfig.json\` points
\`@dmtcp/core/plugin\` (types only) at the same dmtcp.

## Limits

- The example state (a count) lives in the library's memory, which the
  image keeps; state the kernel holds outside the process (connections,
  device settings) is not saved until \`native/${n}_ckpt.c\` describes it
  at WRITE_CKPT and makes it again at RESTART.
- Calls to \`usleep\` from inside libc, or made with a raw system call, do
  not reach the wrapper.
`;
}

/** The files of a new plugin package (pure). */
export function scaffold(o: ScaffoldOptions): Scaffold {
  const n = o.name;
  return {
    'package.json': packageJson(o),
    Makefile: makefile(o),
    'README.md': readme(o),
    'tsconfig.json': tsconfig(o),
    'vitest.config.ts': vitestConfig(),
    '.gitignore': 'build/\ndist/\nnode_modules/\n',
    [`native/${n}_plugin.c`]: pluginC(o),
    [`native/${n}_plugin.h`]: internalH(o),
    [`native/${n}_wrappers.c`]: wrappersC(o),
    [`native/${n}_ckpt.c`]: ckptC(o),
    [`native/${n}_wire.h`]: wireH(o),
    'src/coordinator.ts': coordinatorTs(o),
    'src/policy.ts': policyTs(o),
    'src/generated/wire.ts': generateFrom([{ label: `../../native/${n}_wire.h`, text: wireH(o) }]),
    'test/helpers.ts': helpersTs(o),
    'test/global-setup.ts': globalSetup(),
    'test/policy.test.ts': policyTest(o),
    'test/wire.test.ts': wireTest(o),
    [`test/${n}.e2e.test.ts`]: e2eTest(o),
    [`test/fixtures/${n}-demo.c`]: demoC(),
  };
}
