// Every code block of docs/plugin-tutorial.md, compiled and run for real.
//
// The tutorial marks each fenced block with an HTML comment just before it:
//   <!-- snippet: NAME kind=plugin|wrapper|app|decl|shell|ts|json -->  code
//   <!-- output: NAME [ordered] -->                                    what NAME prints
//   <!-- diagram: checkpoint|restart -->                               event order
// Plugins (and wrappers) are built as shared libraries, programs as
// executables, both with -std=gnu11 -Wall -Wextra -Werror against the public
// header; decl blocks must agree with the header; shell blocks run in bash
// with `dmtcp` on the PATH; the TypeScript block is type-checked against the
// plugin SDK and then runs inside a real coordinator. Each scenario launches
// programs with the plugins through the dmtcp CLI, checkpoints them, kills
// them with SIGKILL, restarts them, and checks that the output the tutorial
// shows (its `output` blocks, its diagrams, the claims of its text) is what
// the processes print.
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ts from 'typescript';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { startCoordinator as startCoordinatorInProcess } from '@dmtcp/core';
import {
  Proc,
  checkpointImages,
  childEnv,
  cleanup,
  cliPath,
  corePackageRoot,
  images as imagesIn,
  kill9,
  launch,
  restart,
  runCli,
  startCoordinator,
  waitForProcesses,
  type CoordinatorRef,
} from '@dmtcp/core/testing';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const tutorialPath = path.join(repoRoot, 'docs', 'plugin-tutorial.md');
const includeDir = path.join(corePackageRoot, 'include');

// ---------------------------------------------------------------------------
// Reading the tutorial

type SnippetKind = 'plugin' | 'wrapper' | 'app' | 'decl' | 'shell' | 'ts' | 'json';
const SNIPPET_KINDS: readonly string[] = ['plugin', 'wrapper', 'app', 'decl', 'shell', 'ts', 'json'];

interface Block {
  marker: 'snippet' | 'output' | 'diagram';
  name: string;
  attrs: Map<string, string>;
  lang: string;
  code: string;
  /** 1-based line of the opening fence. */
  line: number;
}

interface Tutorial {
  blocks: Block[];
  problems: string[];
}

function parseTutorial(text: string): Tutorial {
  const lines = text.split('\n');
  const blocks: Block[] = [];
  const problems: string[] = [];
  let pending: { marker: Block['marker']; name: string; attrs: Map<string, string>; line: number } | null = null;
  let prevBlank = true;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    const marker = /^<!--\s*(snippet|output|diagram):\s*(\S+)((?:\s+[\w-]+(?:=\S+)?)*)\s*-->\s*$/.exec(line);
    if (marker) {
      if (pending) problems.push(`line ${pending.line}: marker without a code block after it`);
      const attrs = new Map<string, string>();
      for (const a of (marker[3] ?? '').trim().split(/\s+/).filter(Boolean)) {
        const [k, v] = a.split('=');
        attrs.set(k as string, v ?? 'true');
      }
      pending = { marker: marker[1] as Block['marker'], name: marker[2] as string, attrs, line: i + 1 };
      prevBlank = false;
      continue;
    }
    const fence = /^```(\S*)\s*$/.exec(line);
    if (fence) {
      const start = i;
      const body: string[] = [];
      for (i++; i < lines.length && !/^```\s*$/.test(lines[i] as string); i++) body.push(lines[i] as string);
      if (i >= lines.length) problems.push(`line ${start + 1}: code block never closed`);
      if (!pending) {
        problems.push(`line ${start + 1}: code block without a snippet/output/diagram marker (nothing would test it)`);
      } else {
        blocks.push({ ...pending, lang: fence[1] ?? '', code: body.join('\n') + '\n', line: start + 1 });
      }
      pending = null;
      prevBlank = false;
      continue;
    }
    if (pending && line.trim() !== '') {
      problems.push(`line ${pending.line}: marker not directly followed by a code block`);
      pending = null;
    }
    // An indented code block (four spaces after a blank line) would escape the markers.
    if (prevBlank && /^ {4,}\S/.test(line)) problems.push(`line ${i + 1}: indented code block; use a marked fence`);
    prevBlank = line.trim() === '';
  }
  if (pending) problems.push(`line ${pending.line}: marker at the end of the file`);
  return { blocks, problems };
}

const tutorial = parseTutorial(readFileSync(tutorialPath, 'utf8'));

function blocksOf(marker: Block['marker']): Block[] {
  return tutorial.blocks.filter((b) => b.marker === marker);
}

function snippet(name: string): Block {
  const b = tutorial.blocks.find((x) => x.marker === 'snippet' && x.name === name);
  if (!b) throw new Error(`the tutorial has no snippet ${name}`);
  return b;
}

function outputBlock(name: string): Block {
  const b = tutorial.blocks.find((x) => x.marker === 'output' && x.name === name);
  if (!b) throw new Error(`the tutorial has no output block for ${name}`);
  return b;
}

function diagram(name: string): Block {
  const b = tutorial.blocks.find((x) => x.marker === 'diagram' && x.name === name);
  if (!b) throw new Error(`the tutorial has no diagram ${name}`);
  return b;
}

/** Snippets some scenario exercised; the last test checks that none was left out. */
const exercised = new Set<string>();
function use(...names: string[]): void {
  for (const n of names) {
    snippet(n);
    exercised.add(n);
  }
}

// ---------------------------------------------------------------------------
// Matching documented output

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** A documented output line as a pattern: absolute paths and numbers of
 *  four digits or more (pids, unique pids, times) vary; small numbers
 *  (return codes, sizes, counts) must be exactly as documented. */
function linePattern(docLine: string): RegExp {
  const parts = docLine.trim().split(/(\/\S+|\d{4,})/);
  const re = parts.map((p, i) => (i % 2 === 1 ? (p.startsWith('/') ? '\\S+' : '\\d+') : escapeRe(p))).join('');
  return new RegExp(`^${re}$`);
}

function outputLines(block: Block): string[] {
  return block.code.split('\n').map((l) => l.trim()).filter((l) => l !== '');
}

/** Throws unless the documented lines of `name` appear in `text` (in order if the block says so). */
function expectDocumentedOutput(name: string, text: string): void {
  const block = outputBlock(name);
  const ordered = block.attrs.has('ordered');
  const got = text.split('\n').map((l) => l.trim());
  let from = 0;
  for (const want of outputLines(block)) {
    const re = linePattern(want);
    const at = got.findIndex((l, i) => i >= from && re.test(l));
    if (at < 0) {
      throw new Error(
        `output of ${name} (tutorial line ${block.line}): no line matching ${re}${ordered ? ` after line ${from}` : ''}\n` +
          `--- got ---\n${got.join('\n')}`,
      );
    }
    if (ordered) from = at + 1;
  }
}

// ---------------------------------------------------------------------------
// Building

let buildDir = '';

function run(cmd: string, args: readonly string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, [...args], { cwd: opts.cwd, env: opts.env, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr: err && !stderr ? err.message : stderr });
    });
  });
}

const CFLAGS = ['-std=gnu11', '-Wall', '-Wextra', '-Werror', '-I', includeDir];

function sourcePath(name: string): string {
  return path.join(buildDir, 'src', name);
}

/** Builds a snippet: a shared library for plugins, an executable for programs. */
async function build(name: string, opts: { out?: string; defines?: string[] } = {}): Promise<string> {
  const b = snippet(name);
  const kind = b.attrs.get('kind');
  const base = name.replace(/\.c$/, '');
  let args: string[];
  let out: string;
  if (kind === 'plugin' || kind === 'wrapper') {
    out = opts.out ?? path.join(buildDir, `lib${base}.so`);
    args = ['-shared', '-fPIC', ...CFLAGS, ...(opts.defines ?? []), sourcePath(name), '-o', out];
  } else if (kind === 'app') {
    out = opts.out ?? path.join(buildDir, base);
    args = [...CFLAGS, '-pthread', ...(opts.defines ?? []), sourcePath(name), '-o', out];
  } else {
    throw new Error(`snippet ${name} (kind ${kind}) is not built by cc`);
  }
  const res = await run(process.env.CC ?? 'cc', args);
  if (res.code !== 0) throw new Error(`cc failed for snippet ${name} (tutorial line ${b.line}):\ncc ${args.join(' ')}\n${res.stderr}`);
  return out;
}

/** A `decl` block must compile after the header: same prototypes, no conflict. */
async function checkDecl(name: string): Promise<void> {
  const b = snippet(name);
  const file = path.join(buildDir, 'src', `${name}.check.c`);
  writeFileSync(file, `#include "dmtcp/plugin.h"\n${b.code}`);
  const res = await run(process.env.CC ?? 'cc', [...CFLAGS, '-fsyntax-only', file]);
  if (res.code !== 0) throw new Error(`declarations of ${name} (tutorial line ${b.line}) disagree with plugin.h:\n${res.stderr}`);
}

/** Type-checks the coordinator module against the plugin SDK, strictly. */
function typecheckTs(name: string, dir: string): void {
  const file = path.join(dir, name);
  writeFileSync(file, snippet(name).code);
  writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
  const options: ts.CompilerOptions = {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    isolatedModules: true,
    verbatimModuleSyntax: true,
    allowImportingTsExtensions: true,
    noUncheckedIndexedAccess: true,
    types: ['node'],
    typeRoots: [path.join(repoRoot, 'test', 'node_modules', '@types')],
    paths: { '@dmtcp/core/plugin': [path.join(corePackageRoot, 'src', 'plugin', 'index.ts')] },
  };
  const program = ts.createProgram([file], options);
  const diags = ts.getPreEmitDiagnostics(program);
  if (diags.length > 0) {
    const host: ts.FormatDiagnosticsHost = {
      getCanonicalFileName: (f) => f,
      getCurrentDirectory: () => dir,
      getNewLine: () => '\n',
    };
    throw new Error(`${name} does not type-check:\n${ts.formatDiagnostics(diags, host)}`);
  }
}

beforeAll(async () => {
  buildDir = mkdtempSync(path.join(os.tmpdir(), 'dmtcp-tutorial-'));
  mkdirSync(path.join(buildDir, 'src'));
  for (const b of blocksOf('snippet')) writeFileSync(sourcePath(b.name), b.code);
}, 120_000);

afterAll(() => {
  if (buildDir && process.env.DMTCP_TEST_KEEP !== '1') rmSync(buildDir, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------
// Running

/** In-process coordinators, closed after each test. */
const inProcess: Array<{ close(): Promise<void> }> = [];

afterEach(async () => {
  await cleanup();
  for (const c of inProcess.splice(0)) await c.close().catch(() => undefined);
});

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `check` (e.g. on a process's stderr, which Proc does not wait on). */
async function waitFor<T>(check: () => T | undefined | false, what: string, timeoutMs = 20_000, context?: () => string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${context ? `\n${context()}` : ''}`);
    await sleep(50);
  }
}

function waitForStderr(proc: Proc, re: RegExp, timeoutMs = 20_000): Promise<RegExpExecArray> {
  return waitFor(() => re.exec(proc.stderr()) ?? undefined, `${re} on the stderr of ${proc.label}`, timeoutMs, () => proc.describe());
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/** A directory with a `dmtcp` command that runs the CLI under test. */
function dmtcpBinDir(): string {
  const dir = path.join(buildDir, 'bin');
  mkdirSync(dir, { recursive: true });
  const shim = path.join(dir, 'dmtcp');
  writeFileSync(shim, `#!/bin/sh\nexec '${process.execPath}' '${cliPath()}' "$@"\n`, { mode: 0o755 });
  return dir;
}

/** Runs a shell snippet in `cwd` (the snippet files it names are copied there). */
async function runShell(name: string, cwd: string, files: readonly string[], extraEnv: NodeJS.ProcessEnv = {}, timeoutMs = 90_000): Promise<{ proc: Proc; code: number | null }> {
  mkdirSync(cwd, { recursive: true });
  for (const f of files) copyFileSync(sourcePath(f), path.join(cwd, f));
  const script = path.join(cwd, name);
  writeFileSync(script, snippet(name).code);
  const env = childEnv({
    ...extraEnv,
    PATH: `${dmtcpBinDir()}:${process.env.PATH ?? '/usr/bin:/bin'}`,
    DMTCP_INCLUDE: includeDir,
  });
  const proc = new Proc(['bash', '-e', script], { env, cwd, label: `bash ${name}` });
  const st = await proc.waitForExit(timeoutMs);
  return { proc, code: st.code };
}

function pluginArgs(...libs: string[]): string[] {
  return ['--with-plugin', libs.join(':')];
}

function ticks(proc: Proc): number[] {
  return proc.lines().flatMap((l) => {
    const m = /^tick (\d+)$/.exec(l);
    return m ? [Number(m[1])] : [];
  });
}

async function waitForTick(proc: Proc, atLeast: number): Promise<number> {
  const m = await proc.waitUntil(() => {
    const t = ticks(proc);
    const last = t[t.length - 1];
    return last !== undefined && last >= atLeast ? last : undefined;
  }, `waiting for tick ${atLeast}`);
  return m;
}

// ---------------------------------------------------------------------------
// The trace plugin's lines and the diagrams

interface TraceLine {
  upid: string;
  event: string;
  thread: 'main' | 'ckpt' | 'user';
  /** CLOCK_MONOTONIC, microseconds. */
  t: number;
}

function traceLines(text: string): TraceLine[] {
  const out: TraceLine[] = [];
  for (const line of text.split('\n')) {
    const m = /^trace ([0-9a-f]{16}) ([A-Z_]+) (main|ckpt|user) (\d+)$/.exec(line.trim());
    if (m) out.push({ upid: m[1] as string, event: m[2] as string, thread: m[3] as TraceLine['thread'], t: Number(m[4]) });
  }
  return out;
}

const EVENT_NAMES = [
  'INIT', 'EXIT', 'PRE_EXEC', 'POST_EXEC', 'ATFORK_PREPARE', 'ATFORK_PARENT', 'ATFORK_CHILD',
  'WAIT_FOR_SUSPEND_MSG', 'PRE_SUSPEND_USER_THREAD', 'THREADS_SUSPEND', 'SUSPENDED', 'LEADER_ELECTION',
  'DRAIN', 'WRITE_CKPT', 'RESUME', 'RESTART', 'REFILL', 'REGISTER_NAME_SERVICE_DATA', 'SEND_QUERIES',
  'THREADS_RESUME', 'RESUME_USER_THREAD', 'THREAD_START', 'THREAD_CREATED', 'PTHREAD_START',
  'PTHREAD_EXIT', 'PTHREAD_RETURN',
];

type Step = { kind: 'event'; name: string; column: 'ckpt' | 'user' } | { kind: 'barrier'; name: string };

/** The steps of a diagram, top to bottom: events (by column) and barriers. */
function diagramSteps(block: Block): Step[] {
  const steps: Step[] = [];
  for (const line of block.code.split('\n')) {
    const barrier = /barrier ([a-z]+:[a-z-]+)/.exec(line);
    if (barrier) {
      steps.push({ kind: 'barrier', name: barrier[1] as string });
      continue;
    }
    for (const m of line.matchAll(/\b[A-Z][A-Z_]+\b/g)) {
      if (!EVENT_NAMES.includes(m[0])) continue;
      steps.push({ kind: 'event', name: m[0], column: (m.index ?? 0) >= 30 ? 'user' : 'ckpt' });
    }
  }
  return steps;
}

interface RoundCheck {
  steps: Step[];
  /** Trace lines of the round, all processes. */
  lines: TraceLine[];
  upids: string[];
  /** Barrier name -> release time (µs, CLOCK_MONOTONIC), from the coordinator. */
  releases: Map<string, number>;
  /** The process that lingered `stallMs` in each event, and the others. */
  stalled: string;
  stallMs: number;
  userThreads: number;
}

/**
 * Checks a round against a diagram: the checkpoint-thread events in order and
 * in the checkpoint thread, the per-thread events once in each user thread,
 * each named barrier released between the events the diagram puts it
 * between (in every process), and no process waiting for the stalled one
 * where the diagram has no barrier.
 */
function checkRound(c: RoundCheck): void {
  const ckptSteps = c.steps.filter((s): s is Extract<Step, { kind: 'event' }> => s.kind === 'event' && s.column === 'ckpt');
  // A leading WAIT_FOR_SUSPEND_MSG happened before the round began.
  const startsWithWait = ckptSteps[0]?.name === 'WAIT_FOR_SUSPEND_MSG';
  const expectedCkpt = ckptSteps.slice(startsWithWait ? 1 : 0).map((s) => s.name);
  const describeLines = (ls: TraceLine[]): string => ls.map((l) => `${l.upid} ${l.event} ${l.thread} ${l.t}`).join('\n');

  for (const upid of c.upids) {
    const mine = c.lines.filter((l) => l.upid === upid);
    const inCkpt = mine.filter((l) => l.thread === 'ckpt');
    expect(inCkpt.map((l) => l.event), `checkpoint-thread events of ${upid}\n${describeLines(mine)}`).toEqual(expectedCkpt);
    for (const l of mine.filter((x) => x.thread !== 'ckpt')) {
      const step = c.steps.find((s) => s.kind === 'event' && s.name === l.event);
      expect(step && step.kind === 'event' ? step.column : 'none', `${l.event} ran in a ${l.thread} thread of ${upid}`).toBe('user');
    }
    const at = (name: string): number => {
      const l = inCkpt.find((x) => x.event === name);
      if (!l) throw new Error(`${upid}: no ${name}\n${describeLines(mine)}`);
      return l.t;
    };
    // Per-thread events: once in every user thread (one of them the main
    // thread), after the checkpoint-thread event above them, and before the
    // one below them when no barrier lies in between.
    c.steps.forEach((s, i) => {
      if (s.kind !== 'event' || s.column !== 'user') return;
      const seen = mine.filter((l) => l.event === s.name);
      expect(seen.map((l) => l.thread).sort(), `${s.name} in ${upid}`).toEqual(
        ['main', ...Array.from({ length: c.userThreads - 1 }, () => 'user')].sort(),
      );
      const before = c.steps.slice(0, i).reverse().find((x) => x.kind === 'event' && x.column === 'ckpt');
      if (before && !(startsWithWait && before === ckptSteps[0])) {
        for (const l of seen) expect(l.t, `${s.name} after ${before.name} in ${upid}`).toBeGreaterThan(at(before.name));
      }
      const rest = c.steps.slice(i + 1);
      const nextCkpt = rest.findIndex((x) => x.kind === 'event' && x.column === 'ckpt');
      const barrierFirst = rest.findIndex((x) => x.kind === 'barrier');
      if (nextCkpt >= 0 && (barrierFirst < 0 || barrierFirst > nextCkpt)) {
        const next = rest[nextCkpt] as Extract<Step, { kind: 'event' }>;
        for (const l of seen) expect(l.t, `${s.name} before ${next.name} in ${upid}`).toBeLessThan(at(next.name));
      }
    });
  }

  // Barriers: between the checkpoint-thread events around them, in order.
  const stallUs = c.stallMs * 1000;
  let lastRelease = 0;
  c.steps.forEach((s, i) => {
    if (s.kind !== 'barrier') return;
    const r = c.releases.get(s.name);
    if (r === undefined) throw new Error(`barrier ${s.name} of the diagram was never released (released: ${[...c.releases.keys()].join(', ')})`);
    expect(r, `barrier ${s.name} released after the barrier above it`).toBeGreaterThan(lastRelease);
    lastRelease = r;
    const before = c.steps.slice(0, i).reverse().find((x) => x.kind === 'event' && x.column === 'ckpt');
    const after = c.steps.slice(i + 1).find((x) => x.kind === 'event' && x.column === 'ckpt');
    for (const upid of c.upids) {
      const mine = c.lines.filter((l) => l.upid === upid && l.thread === 'ckpt');
      const tOf = (name: string): number | undefined => mine.find((l) => l.event === name)?.t;
      if (before && !(startsWithWait && before === ckptSteps[0])) {
        const tb = tOf(before.name)!;
        const lingered = upid === c.stalled ? stallUs - 1000 : 0;
        expect(r, `${s.name} released after ${upid} finished ${before.name}`).toBeGreaterThan(tb + lingered);
      }
      if (after) expect(r, `${s.name} released before ${upid} began ${after.name}`).toBeLessThan(tOf(after.name)!);
    }
  });

  // No barrier where the diagram shows none: the processes that did not
  // linger went on without waiting for the one that did.
  for (let i = 0; i + 1 < ckptSteps.length; i++) {
    const e = ckptSteps[i]!;
    const f = ckptSteps[i + 1]!;
    if (startsWithWait && i === 0) continue;
    const between = c.steps.slice(c.steps.indexOf(e) + 1, c.steps.indexOf(f));
    if (between.some((x) => x.kind === 'barrier')) continue;
    const stalledE = c.lines.find((l) => l.upid === c.stalled && l.thread === 'ckpt' && l.event === e.name)!;
    for (const upid of c.upids.filter((u) => u !== c.stalled)) {
      const otherF = c.lines.find((l) => l.upid === upid && l.thread === 'ckpt' && l.event === f.name)!;
      expect(otherF.t, `${upid} went from ${e.name} to ${f.name} without waiting for ${c.stalled}`).toBeLessThan(stalledE.t + stallUs);
    }
  }
}

function nowUs(): number {
  return Number(process.hrtime.bigint() / 1000n); // CLOCK_MONOTONIC, as the trace plugin reads it
}

// ---------------------------------------------------------------------------

describe('docs/plugin-tutorial.md', () => {
  test('every code block is marked, and every snippet compiles', async () => {
    expect(tutorial.problems, tutorial.problems.join('\n')).toEqual([]);
    const snippets = blocksOf('snippet');
    expect(snippets.length).toBeGreaterThan(10);
    const names = snippets.map((s) => s.name);
    expect(new Set(names).size, `duplicate snippet names: ${names.join(' ')}`).toBe(names.length);
    for (const s of snippets) {
      const kind = s.attrs.get('kind') ?? '';
      expect(SNIPPET_KINDS, `snippet ${s.name} (line ${s.line}) has kind "${kind}"`).toContain(kind);
      const lang = { plugin: 'c', wrapper: 'c', app: 'c', decl: 'c', shell: 'sh', ts: 'ts', json: 'json' }[kind as SnippetKind];
      expect(s.lang, `fence language of ${s.name}`).toBe(lang);
    }
    for (const o of blocksOf('output')) {
      expect(names, `output block of line ${o.line} names no snippet`).toContain(o.name);
    }
    await Promise.all(
      snippets.map(async (s) => {
        const kind = s.attrs.get('kind');
        if (kind === 'plugin' || kind === 'wrapper' || kind === 'app') await build(s.name);
        else if (kind === 'decl') await checkDecl(s.name);
        else if (kind === 'shell') {
          const res = await run('bash', ['-n', sourcePath(s.name)]);
          if (res.code !== 0) throw new Error(`${s.name}: bash -n: ${res.stderr}`);
        } else if (kind === 'json') JSON.parse(s.code);
      }),
    );
    for (const s of snippets) if (s.attrs.get('kind') === 'decl') exercised.add(s.name);
  });

  test('the first plugin: the walkthrough in the shell, checkpoint, kill -9, restart', async () => {
    use('first-run.sh', 'hello.c', 'tick.c');
    const port = await freePort();
    const cwd = path.join(buildDir, 'first-run');
    try {
      const { proc, code } = await runShell('first-run.sh', cwd, ['hello.c', 'tick.c'], { DMTCP_COORD_PORT: String(port) });
      expect(code, proc.describe()).toBe(0);
      const t = ticks(proc);
      // launched: 1.. up to the kill; restarted: on from a value it had printed, up to 40
      expect(t[0]).toBe(1);
      expect(t[t.length - 1], proc.describe()).toBe(40);
      // the restarted process goes on from the checkpoint: it may repeat ticks
      // printed after the checkpoint, but never skips one
      for (let i = 1; i < t.length; i++) {
        expect(t[i], `tick ${i} skipped ahead\n${t.join(' ')}`).toBeLessThanOrEqual((t[i - 1] as number) + 1);
      }
      expect(new Set(t).size).toBe(40);
      expectDocumentedOutput('first-run.sh', proc.stderr());
      expect(proc.stderr()).toMatch(new RegExp(`hello: the image goes to ${escapeRe(cwd)}/ckpt_tick_[0-9a-f]{16}\\.dmtcp`));
    } finally {
      await runCli(['command', '--quit', '--coord-port', String(port)], { timeoutMs: 10_000 }).catch(() => undefined);
    }
  });

  test('load order: dmtcp plugins lists the user plugins as given, the core last', async () => {
    use('plugins.sh', 'order.c');
    const cwd = path.join(buildDir, 'plugins');
    const { proc, code } = await runShell('plugins.sh', cwd, ['order.c']);
    expect(code, proc.describe()).toBe(0);
    const rows = proc.lines().slice(1).map((l) => l.trim().split(/\s+/));
    expect(rows.length, proc.describe()).toBeGreaterThanOrEqual(4);
    expect(rows.slice(0, 3).map((r) => [r[1], r[2], r[3]])).toEqual([
      ['a', 'user', path.join(cwd, 'liba.so')],
      ['b', 'user', path.join(cwd, 'libb.so')],
      ['c', 'user', path.join(cwd, 'libc.so')],
    ]);
    for (const r of rows.slice(3, -1)) expect(r[2]).toBe('builtin');
    const last = rows[rows.length - 1]!;
    expect([last[1], last[2], path.basename(last[3] ?? '')]).toEqual(['core', 'core', 'libdmtcp.so']);
  });

  test('events nest in load order; a plugin that does not call NEXT hides the event', async () => {
    use('order.c', 'tick.c');
    const libs = await Promise.all([
      build('order.c', { out: path.join(buildDir, 'order-a.so'), defines: ['-DTAG="a"'] }),
      build('order.c', { out: path.join(buildDir, 'order-b.so'), defines: ['-DTAG="b"', '-DSWALLOW'] }),
      build('order.c', { out: path.join(buildDir, 'order-c.so'), defines: ['-DTAG="c"'] }),
    ]);
    const tick = await build('tick.c');
    const coord = await startCoordinator();
    const proc = launch(tick, [], { ...coord, args: pluginArgs(...libs) });
    await waitForTick(proc, 3);
    const { images } = await checkpointImages(coord);
    expect(images).toHaveLength(1);
    await waitForStderr(proc, /a: WRITE_CKPT, after NEXT/);
    await kill9(proc);
    const back = restart(images, coord);
    await waitForStderr(back, /a: RESTART, after NEXT/);
    expectDocumentedOutput('order.c', proc.stderr() + back.stderr());
    expect(proc.stderr()).not.toMatch(/c: WRITE_CKPT/);
  });

  test('the checkpoint and restart diagrams: event order, threads, and where the barriers are', async () => {
    use('trace.c', 'tick.c');
    const lib = await build('trace.c');
    const tick = await build('tick.c');
    const ckptSteps = diagramSteps(diagram('checkpoint'));
    const restartSteps = diagramSteps(diagram('restart'));
    const barrierNames = [...ckptSteps, ...restartSteps].filter((s) => s.kind === 'barrier').map((s) => s.name);
    expect(barrierNames.length).toBeGreaterThan(5);

    // The coordinator runs in this process, with a policy on each barrier of
    // the diagrams that notes when the barrier is released.
    let releases = new Map<string, number>();
    const running = await startCoordinatorInProcess({
      port: 0,
      policies: barrierNames.map((name) => [name, () => void releases.set(name, nowUs())] as const),
    });
    inProcess.push(running);
    const ckptDir = mkdtempSync(path.join(buildDir, 'ckpt-'));
    const coord: CoordinatorRef = { port: running.port, ckptDir };

    const STALL_MS = 200;
    const a = launch(tick, [], { ...coord, args: pluginArgs(lib), env: { TRACE_STALL_MS: String(STALL_MS) } });
    const b = launch(tick, [], { ...coord, args: pluginArgs(lib) });
    await waitForTick(a, 3);
    await waitForTick(b, 3);
    await waitForProcesses(coord.port, 2);
    const upidOf = async (p: Proc): Promise<string> => (await waitForStderr(p, /trace ([0-9a-f]{16}) INIT main/))[1] as string;
    const upidA = await upidOf(a);
    const upidB = await upidOf(b);

    // A checkpoint.
    const t0 = nowUs();
    releases = new Map();
    const { images } = await checkpointImages(coord);
    expect(images).toHaveLength(2);
    const roundEnded = (p: Proc, upid: string) => () =>
      traceLines(p.stderr()).some((l) => l.upid === upid && l.event === 'WAIT_FOR_SUSPEND_MSG' && l.t > t0);
    await waitFor(roundEnded(a, upidA), 'the end of the checkpoint in a', 20_000, () => a.describe());
    await waitFor(roundEnded(b, upidB), 'the end of the checkpoint in b', 20_000, () => b.describe());
    const ckptLines = traceLines(a.stderr() + b.stderr()).filter((l) => l.t > t0);
    checkRound({
      steps: ckptSteps, lines: ckptLines, upids: [upidA, upidB], releases: new Map(releases),
      stalled: upidA, stallMs: STALL_MS, userThreads: 2,
    });
    expectDocumentedOutput('trace.c', b.stderr());

    // The restart of both.
    await kill9(a);
    await kill9(b);
    const t1 = nowUs();
    releases = new Map();
    const back = restart(images, coord);
    const restartEnded = (upid: string) => () =>
      traceLines(back.stderr()).some((l) => l.upid === upid && l.event === 'WAIT_FOR_SUSPEND_MSG' && l.t > t1);
    await waitFor(restartEnded(upidA), 'the end of the restart of a', 30_000, () => back.describe());
    await waitFor(restartEnded(upidB), 'the end of the restart of b', 30_000, () => back.describe());
    const restartLines = traceLines(back.stderr());
    expect(restartLines.filter((l) => l.event === 'INIT'), 'no INIT at restart').toEqual([]);
    checkRound({
      steps: restartSteps, lines: restartLines, upids: [upidA, upidB], releases: new Map(releases),
      stalled: upidA, stallMs: STALL_MS, userThreads: 2,
    });
    // and the program runs on
    const before = Math.max(...ticks(b));
    await back.waitUntil(() => (ticks(back).some((v) => v > before) ? true : undefined), 'ticks after the restart');
  });

  test('the other events: process and thread life, in the threads the table says', async () => {
    use('life.c', 'trace.c');
    const lib = await build('trace.c');
    const life = await build('life.c');
    const coord = await startCoordinator();
    const proc = launch(life, [], { ...coord, args: pluginArgs(lib) });
    const st = await proc.waitForExit(30_000);
    expect(st.code, proc.describe()).toBe(0);
    expect(proc.lines()).toContain('child: running the new program');
    const lines = traceLines(proc.stderr());
    const parent = lines[0]!.upid;
    const of = (upid: string, pred: (l: TraceLine) => boolean) =>
      lines.filter((l) => l.upid === upid && pred(l)).map((l) => `${l.event} ${l.thread}`);
    const notCkpt = (l: TraceLine) => l.thread !== 'ckpt';
    expect(of(parent, (l) => l.thread === 'main'), proc.stderr()).toEqual([
      'INIT main', 'THREAD_CREATED main', 'THREAD_CREATED main', 'ATFORK_PREPARE main', 'ATFORK_PARENT main', 'EXIT main',
    ]);
    expect(of(parent, (l) => l.thread === 'user'), proc.stderr()).toEqual([
      'THREAD_START user', 'PTHREAD_START user', 'PTHREAD_RETURN user',
      'THREAD_START user', 'PTHREAD_START user', 'PTHREAD_EXIT user',
    ]);
    const children = [...new Set(lines.map((l) => l.upid))].filter((u) => u !== parent);
    expect(children, proc.stderr()).toHaveLength(1);
    expect(of(children[0]!, notCkpt), proc.stderr()).toEqual([
      'ATFORK_CHILD main', 'PRE_EXEC main', 'POST_EXEC main', 'INIT main', 'EXIT main',
    ]);
  });

  test('wrappers nest in load order, before the checkpoint and after the restart', async () => {
    use('wrap.c', 'tick.c');
    const outer = await build('wrap.c', { out: path.join(buildDir, 'libouter.so'), defines: ['-DTAG="outer"'] });
    const inner = await build('wrap.c', { out: path.join(buildDir, 'libinner.so'), defines: ['-DTAG="inner"'] });
    const tick = await build('tick.c');
    const coord = await startCoordinator();
    const proc = launch(tick, [], { ...coord, args: pluginArgs(outer, inner) });
    await waitForTick(proc, 3);
    expectDocumentedOutput('wrap.c', proc.stderr());
    const { images } = await checkpointImages(coord);
    await kill9(proc);
    const back = restart(images, coord);
    await back.waitForLine(/^tick \d+$/);
    await waitFor(() => (back.stderr().match(/outer: usleep\(100000\) returns 0/g) ?? []).length >= 2, 'wrapped sleeps after the restart', 20_000, () => back.describe());
    expectDocumentedOutput('wrap.c', back.stderr());
  });

  test('a next-function table and the toolkit headers, before the checkpoint and after the restart', async () => {
    use('table.c', 'note-fd.c', 'tick.c');
    const table = await build('table.c');
    const noteFd = await build('note-fd.c');
    const tick = await build('tick.c');
    const coord = await startCoordinator();
    const proc = launch(tick, [], { ...coord, args: pluginArgs(table, noteFd), env: { DMTCP_DEBUG: '1' } });
    await waitForTick(proc, 2);
    expect(proc.stderr()).toMatch(/table: usleep\(100000\)/);
    const { images } = await checkpointImages(coord);
    await waitForStderr(proc, /dmtcp myplugin: fd 1 is /);
    await kill9(proc);
    const back = restart(images, coord);
    await back.waitForLine(/^tick \d+$/);
    await waitFor(() => (back.stderr().match(/table: usleep\(100000\)/g) ?? []).length >= 2, 'sleeps through the table after the restart', 20_000, () => back.describe());
  });

  test('publish/subscribe: two processes find each other after a checkpoint and after a restart', async () => {
    use('peers.c', 'tick.c');
    const lib = await build('peers.c');
    const tick = await build('tick.c');
    const coord = await startCoordinator();
    const p0 = launch(tick, [], { ...coord, args: pluginArgs(lib), env: { PEERS_RANK: '0' } });
    const p1 = launch(tick, [], { ...coord, args: pluginArgs(lib), env: { PEERS_RANK: '1' } });
    await waitForTick(p0, 2);
    await waitForTick(p1, 2);
    await waitForProcesses(coord.port, 2);
    const { images } = await checkpointImages(coord);
    expect(images).toHaveLength(2);
    await waitForStderr(p0, /after checkpoint/);
    await waitForStderr(p1, /after checkpoint/);
    expect(p0.stderr()).toContain(`peers: peers:rank0 is pid ${p0.pid}, peers:rank1 is pid ${p1.pid} (after checkpoint)`);
    expect(p1.stderr()).toContain(`peers: peers:rank1 is pid ${p1.pid}, peers:rank0 is pid ${p0.pid} (after checkpoint)`);
    expectDocumentedOutput('peers.c', p0.stderr());

    await kill9(p0);
    await kill9(p1);
    const back = restart(images, coord);
    await waitFor(() => (back.stderr().match(/after restart/g) ?? []).length >= 2, 'both lookups after the restart', 30_000, () => back.describe());
    const r0 = /peers: peers:rank0 is pid (\d+), peers:rank1 is pid (\d+) \(after restart\)/.exec(back.stderr());
    const r1 = /peers: peers:rank1 is pid (\d+), peers:rank0 is pid (\d+) \(after restart\)/.exec(back.stderr());
    expect(r0 && r1, back.stderr()).toBeTruthy();
    expect(r0![1]).toBe(r1![2]);
    expect(r0![2]).toBe(r1![1]);
    expect(r0![1]).not.toBe(String(p0.pid));
  });

  test('publish/subscribe return codes', async () => {
    use('nscodes.c', 'tick.c');
    const lib = await build('nscodes.c');
    const tick = await build('tick.c');
    const coord = await startCoordinator();
    const proc = launch(tick, [], { ...coord, args: pluginArgs(lib) });
    await waitForTick(proc, 2);
    const { images } = await checkpointImages(coord);
    await waitForStderr(proc, /needs \d+/);
    expectDocumentedOutput('nscodes.c', proc.stderr());
    await kill9(proc);
    const back = restart(images, coord);
    await waitForStderr(back, /needs \d+/);
    // at restart: the same answers (RESUME is replaced by RESTART)
    expect(back.stderr()).toContain('nscodes: publish: 1');
    expect(back.stderr()).toContain('nscodes: missing key: 0');
    expect(back.stderr()).toContain('nscodes: 8-byte buffer: -2, needs 10');

    // The plugin's code comes back from the library file it had mapped: a
    // rebuilt library makes restart refuse the image (section 8).
    await kill9(back);
    const later = new Date(Date.now() + 60_000);
    utimesSync(lib, later, later);
    const refused = restart(images, coord);
    const st = await refused.waitForExit();
    expect(st.code, refused.describe()).not.toBe(0);
    expect(refused.stderr()).toContain(`${lib} changed since the checkpoint`);
  });

  test('barriers with data: the coordinator module elects a leader, before and after a restart', async () => {
    use('elect.c', 'coordinator.ts', 'package.json', 'tick.c');
    // The plugin package, laid out as its package.json says.
    const pkg = path.join(buildDir, 'elect');
    const manifest = JSON.parse(snippet('package.json').code) as { dmtcp: { plugin: string; lib: string; coordinator: string } };
    expect(manifest.dmtcp.plugin).toBe('elect');
    mkdirSync(path.join(pkg, path.dirname(manifest.dmtcp.lib)), { recursive: true });
    mkdirSync(path.join(pkg, path.dirname(manifest.dmtcp.coordinator)), { recursive: true });
    writeFileSync(path.join(pkg, 'package.json'), snippet('package.json').code);
    await build('elect.c', { out: path.join(pkg, manifest.dmtcp.lib) });
    // The module: type-checked against the SDK, then compiled to JavaScript.
    const tsDir = path.join(buildDir, 'elect-ts');
    mkdirSync(tsDir, { recursive: true });
    typecheckTs('coordinator.ts', tsDir);
    const js = ts.transpileModule(snippet('coordinator.ts').code, {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
    }).outputText;
    const moduleFile = path.join(pkg, manifest.dmtcp.coordinator);
    writeFileSync(moduleFile, js);
    mkdirSync(path.join(pkg, 'node_modules', '@dmtcp'), { recursive: true });
    symlinkSync(corePackageRoot, path.join(pkg, 'node_modules', '@dmtcp', 'core'));

    // The policy alone, as a pure function.
    const mod = (await import(pathToFileURL(moduleFile).href)) as {
      default: { name: string; policies: Record<string, (records: Array<{ upid: string; payload: Buffer }>) => unknown> };
    };
    expect(mod.default.name).toBe('elect');
    const rec = (upid: string, pid: number) => {
      const payload = Buffer.alloc(4);
      payload.writeInt32LE(pid, 0);
      return { upid, payload };
    };
    const replies = mod.default.policies['elect:choose']!([rec('0000000000000001', 300), rec('0000000000000002', 200)]) as Map<string, Buffer>;
    expect([...replies].map(([u, r]) => `${u} ${r.toString()}`)).toEqual([
      '0000000000000001 a follower of 200',
      '0000000000000002 the leader of 2',
    ]);

    // dmtcp plugins shows the package with its module.
    const listed = await runCli(['plugins', '--with-plugin', pkg, '--json']);
    expect(listed.code, listed.stderr).toBe(0);
    const first = (JSON.parse(listed.stdout) as { plugins: Array<{ name: string; lib: string; coordinator: string | null }> }).plugins[0];
    expect(first).toMatchObject({ name: 'elect', lib: path.join(pkg, manifest.dmtcp.lib), coordinator: moduleFile });

    // For real: two processes, a checkpoint, kill -9, a restart, another checkpoint.
    const tick = await build('tick.c');
    const coord = await startCoordinator();
    const p = [launch(tick, [], { ...coord, args: pluginArgs(pkg) }), launch(tick, [], { ...coord, args: pluginArgs(pkg) })];
    for (const x of p) await waitForTick(x, 2);
    await waitForProcesses(coord.port, 2);
    const { images } = await checkpointImages(coord);
    const both = () => p.map((x) => x.stderr()).join('');
    await waitFor(() => (both().match(/elect: pid/g) ?? []).length >= 2, 'both election results', 20_000, () => p.map((x) => x.describe()).join('\n'));
    const leader = Math.min(p[0]!.pid, p[1]!.pid);
    const follower = Math.max(p[0]!.pid, p[1]!.pid);
    expect(both()).toContain(`elect: pid ${leader} is the leader of 2`);
    expect(both()).toContain(`elect: pid ${follower} is a follower of ${leader}`);
    expectDocumentedOutput('elect.c', both());

    for (const x of p) await kill9(x);
    const back = restart(images, coord);
    await back.waitForLine(/^tick \d+$/);
    await waitForProcesses(coord.port, 2, { watch: back });
    await checkpointImages(coord);
    await waitFor(() => (back.stderr().match(/elect: pid/g) ?? []).length >= 2, 'the election after the restart', 20_000, () => back.describe());
    expectDocumentedOutput('elect.c', back.stderr());
  });

  test('the application API: without dmtcp, self-checkpoint, restart, and critical sections', async () => {
    use('apiapp.c');
    const app = await build('apiapp.c');
    // On its own: the weak declarations resolve to nothing and it just works.
    const alone = new Proc([app, '2'], { env: childEnv(), label: 'apiapp alone' });
    expect((await alone.waitForExit()).code).toBe(0);
    expect(alone.lines()).toEqual(['running without dmtcp', 'enter 1', 'leave 1', 'enter 2', 'leave 2']);

    // Under dmtcp it checkpoints itself.
    const coord = await startCoordinator();
    const proc = launch(app, [], coord);
    await proc.waitForLine(/^checkpoint 1 taken, going on$/);
    await proc.waitForLine(/^enter 2$/);
    await kill9(proc);
    const [image] = await imagesIn(coord.ckptDir);
    expect(image).toBeDefined();

    // Restarted from that image, the same call returns DMTCP_AFTER_RESTART.
    const back = restart([image!], coord);
    await back.waitForLine(/^restarted from checkpoint 1$/);
    expect(back.lines()[0]).toBe('restarted from checkpoint 1');
    await back.waitForLine(/^leave 2$/);

    // A checkpoint from outside never lands inside enter/leave.
    let cur = back;
    for (let round = 0; round < 2; round++) {
      const { images: written } = await checkpointImages(coord);
      await kill9(cur);
      const again = restart(written, coord);
      const first = await again.waitForLine(/^(enter|leave) \d+$/);
      expect(first.line, again.describe()).toMatch(/^enter \d+$/);
      const n = first.line.split(' ')[1];
      await again.waitForLine(new RegExp(`^leave ${n}$`));
      cur = again;
    }
  });

  test('virtual pids: signals reach a process that came back under another pid', async () => {
    use('vpid.c', 'pingpong.c');
    const lib = await build('vpid.c');
    const pingpong = await build('pingpong.c');
    const coord = await startCoordinator();
    const receiver = launch(pingpong, [], { ...coord, args: pluginArgs(lib) });
    await receiver.waitForLine(new RegExp(`^pid ${receiver.pid}$`));
    const sender = launch(pingpong, [String(receiver.pid)], { ...coord, args: pluginArgs(lib) });
    await receiver.waitForLine(/^received 3$/);
    await waitForProcesses(coord.port, 2);
    const { images } = await checkpointImages(coord);
    expect(images).toHaveLength(2);
    await kill9(sender);
    await kill9(receiver);
    const last = Math.max(...receiver.lines().flatMap((l) => (/^received (\d+)$/.exec(l) ? [Number(l.split(' ')[1])] : [])));

    const back = restart(images, coord);
    const moved = await waitForStderr(back, new RegExp(`vpid: virtual pid ${receiver.pid} is now real pid (\\d+)`), 30_000);
    expect(Number(moved[1])).toBeGreaterThan(0);
    // the receiver goes on counting past what it had before the kill
    await back.waitUntil(
      () => (back.lines().some((l) => /^received (\d+)$/.test(l) && Number(l.split(' ')[1]) > last + 3) ? true : undefined),
      `received counts above ${last + 3} after the restart`,
    );
    expect(back.stderr()).not.toMatch(/kill:/);
  });

  test('every snippet was run by some scenario', () => {
    const names = blocksOf('snippet').map((s) => s.name);
    expect(names.filter((n) => !exercised.has(n))).toEqual([]);
  });
});
