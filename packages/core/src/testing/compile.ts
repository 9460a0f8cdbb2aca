// Compiling the C fixtures of e2e tests. Binaries are cached in a per-user
// tmp dir and rebuilt only when the source is newer or the flags changed;
// concurrent test files (several packages in parallel) may build the same
// fixture, so each build goes to a private name and is renamed into place.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, chmodSync } from 'node:fs';
import { readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

const BASE_FLAGS = ['-O1', '-g', '-pthread', '-Wall'];

function uid(): number {
  return typeof process.getuid === 'function' ? process.getuid() : 0;
}

/** The shared build dir; readable by everyone so unprivileged targets can run the binaries. */
export function fixtureBuildDir(): string {
  const dir = path.join(os.tmpdir(), `dmtcp-fixtures-${uid()}`);
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  chmodSync(dir, 0o755);
  return dir;
}

function shortHash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 10);
}

async function mtimeMs(file: string): Promise<number | undefined> {
  try {
    return (await stat(file)).mtimeMs;
  } catch {
    return undefined;
  }
}

function run(cmd: string, args: string[]): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { maxBuffer: 16 * 1024 * 1024 }, (err, _stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stderr: err && !stderr ? err.message : stderr });
    });
  });
}

/**
 * Build `src` with gcc -O1 -g -pthread and return the binary's absolute path.
 * `out` defaults to a cached path derived from the source path and flags.
 */
export async function compileFixture(src: string, out?: string, extraFlags: readonly string[] = []): Promise<string> {
  const source = path.resolve(src);
  const srcTime = await mtimeMs(source);
  if (srcTime === undefined) throw new Error(`compileFixture: no such source file ${source}`);
  const flags = [...BASE_FLAGS, ...extraFlags];
  const name = path.basename(source).replace(/\.c$/, '');
  // The binary keeps the fixture's name (images are named after the program);
  // the source path and flags pick the directory.
  let target: string;
  if (out) target = path.resolve(out);
  else {
    const dir = path.join(fixtureBuildDir(), shortHash(`${source}\0${flags.join('\0')}`));
    mkdirSync(dir, { recursive: true, mode: 0o755 });
    chmodSync(dir, 0o755);
    target = path.join(dir, name);
  }
  const recipe = JSON.stringify({ source, flags });
  const recipeFile = `${target}.recipe`;

  const outTime = await mtimeMs(target);
  if (outTime !== undefined && outTime >= srcTime) {
    const previous = await readFile(recipeFile, 'utf8').catch(() => '');
    if (previous === recipe) return target;
  }

  const scratch = `${target}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  const cc = process.env.CC ?? 'gcc';
  const res = await run(cc, [...flags, '-o', scratch, source, '-lm']);
  if (res.code !== 0) {
    await rm(scratch, { force: true });
    throw new Error(`compileFixture: ${cc} failed for ${source} (exit ${res.code})\n${res.stderr}`);
  }
  chmodSync(scratch, 0o755);
  await rename(scratch, target);
  await writeFile(recipeFile, recipe);
  return target;
}
