// What the end-to-end tests of the file plugin share: where the plugin is,
// how to load it, its fixtures, and a checkpoint/kill/restart cycle with a
// hook between the kill and the restart (where tests change the files).
import { realpathSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  checkpointImages, compileFixture, kill9, parseJsonOutput, restart, runCli, sequenceValues,
  assertConsecutive, waitForValueAbove, type CoordinatorRef, type Proc, type RunAs,
} from '@dmtcp/core/testing';

export const pkgRoot = fileURLToPath(new URL('..', import.meta.url));
export const PLUGIN_LIB = path.join(pkgRoot, 'build', 'libdmtcp_file.so');

export function fixture(name: string, extraFlags: readonly string[] = []): Promise<string> {
  return compileFixture(path.join(pkgRoot, 'test', 'fixtures', name), undefined, extraFlags);
}

function real(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return p;
  }
}

let argsOnce: Promise<string[]> | undefined;

/**
 * The launch options that load this package's library: none when the core
 * already loads it as a built-in, --with-plugin otherwise (and in place of
 * another built-in plugin named "file", should one be installed).
 */
export function pluginArgs(): Promise<string[]> {
  argsOnce ??= (async () => {
    const res = await runCli(['plugins', '--json']);
    if (res.code === 0) {
      const listed = parseJsonOutput(res.stdout, 'dmtcp plugins --json').plugins;
      const file = Array.isArray(listed) ? listed.find((p) => typeof p === 'object' && p !== null && !Array.isArray(p) && p.name === 'file') : undefined;
      if (file && typeof file === 'object' && !Array.isArray(file) && typeof file.lib === 'string') {
        if (real(file.lib) === real(PLUGIN_LIB)) return [];
        return ['--disable-plugin', 'file', '--with-plugin', PLUGIN_LIB];
      }
    }
    return ['--with-plugin', PLUGIN_LIB];
  })();
  return argsOnce;
}

/** Polls `check` (every 25 ms) until it returns a value; `describe` explains a timeout. */
export async function waitFor<T>(check: () => Promise<T | undefined> | T | undefined, what: string, describe: () => string, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms ${what}\n${describe()}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Lines the fixtures print when they find something wrong. */
export function failures(proc: Proc): string[] {
  return proc.lines().filter((l) => l.startsWith('FAIL'));
}

/** The "dmtcp file: ..." lines that report a loss or a failure (the others,
 *  with DMTCP_DEBUG=1, are detail). */
export function problems(proc: Proc): string[] {
  return fileMessages(proc).filter((l) => /cannot|could not|lost|not back|stays closed|not restored|outside the computation|did not/.test(l));
}

/** "dmtcp file: ..." lines on a process's stderr. */
export function fileMessages(proc: Proc): string[] {
  return proc.stderr().split('\n').filter((l) => l.startsWith('dmtcp file: '));
}

export interface Cycle {
  proc: Proc;
  images: string[];
  beforeCheckpoint: number;
  beforeKill: number;
}

export interface CycleOptions {
  /** Runs after the kill, before the restart: change files here. */
  beforeRestart?: () => Promise<void> | void;
  restartEnv?: NodeJS.ProcessEnv;
  /** More `dmtcp restart` options. */
  restartArgs?: readonly string[];
  /** Restart as this user (launch the program as the same one). */
  user?: RunAs;
  linesAfterRestart?: number;
}

/**
 * Checkpoint, let the program go on, kill -9, run the hook, restart from the
 * images just written, and check that the counter (first group of `re`)
 * resumes at some k+1 printed between the checkpoint and the kill, then goes
 * on by ones.
 */
export async function cycle(proc: Proc, re: RegExp, coord: CoordinatorRef, opts: CycleOptions = {}): Promise<Cycle> {
  const seen = sequenceValues(proc, re);
  assertConsecutive(seen, `${proc.label} before the checkpoint`);
  const beforeCheckpoint = seen[seen.length - 1];
  if (beforeCheckpoint === undefined) throw new Error(`${proc.label} printed nothing matching ${re}\n${proc.describe()}`);
  const { images } = await checkpointImages(coord);
  if (images.length !== 1) throw new Error(`expected one image, got ${images.join(' ')}`);
  const after = sequenceValues(proc, re);
  await waitForValueAbove(proc, re, after[after.length - 1] ?? beforeCheckpoint);
  await kill9(proc);
  const all = sequenceValues(proc, re);
  assertConsecutive(all, `${proc.label} up to the kill`);
  const beforeKill = all[all.length - 1] as number;
  await opts.beforeRestart?.();
  const next = restart(images, { port: coord.port, env: opts.restartEnv, user: opts.user, args: opts.restartArgs });
  const want = opts.linesAfterRestart ?? 10;
  await next.waitUntil(() => (sequenceValues(next, re).length >= want ? true : undefined), `waiting for ${want} lines matching ${re} after restart`);
  const resumed = sequenceValues(next, re);
  const first = resumed[0] as number;
  if (first < beforeCheckpoint + 1 || first > beforeKill + 1) {
    throw new Error(`${next.label}: resumed at ${first}, expected within [${beforeCheckpoint + 1}, ${beforeKill + 1}]\n${next.describe()}`);
  }
  assertConsecutive(resumed, `${next.label} after restart`);
  return { proc: next, images, beforeCheckpoint, beforeKill };
}

/** Throws unless `text` is "PREFIX 1", "PREFIX 2", ... one per line (a torn last line is ignored). */
export function assertNumberedLines(text: string, prefix: string, what: string): number {
  const lines = text.split('\n');
  lines.pop(); // after the last newline: empty, or a line still being written
  lines.forEach((line, i) => {
    if (line !== `${prefix} ${i + 1}`) {
      const around = lines.slice(Math.max(0, i - 3), i + 3).join(' | ');
      throw new Error(`${what}: line ${i + 1} is ${JSON.stringify(line)}, expected "${prefix} ${i + 1}" (around: ${around})`);
    }
  });
  return lines.length;
}
