// Where the built pieces live, found from this module's own location so that
// it works both from src/testing/*.ts (vitest) and from the dist/testing.js
// bundle that other packages import as @dmtcp/core/testing.
import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

function findPackageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = path.join(dir, 'package.json');
    if (existsSync(manifest)) {
      try {
        const parsed: unknown = JSON.parse(readFileSync(manifest, 'utf8'));
        if (typeof parsed === 'object' && parsed !== null && (parsed as { name?: unknown }).name === '@dmtcp/core') {
          return dir;
        }
      } catch {
        // an unreadable manifest is not ours; keep walking up
      }
    }
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`cannot find the @dmtcp/core package above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
}

export const corePackageRoot: string = findPackageRoot();

/** The bundled CLI; DMTCP_TEST_CLI points the harness at another build. */
export function cliPath(): string {
  const file = process.env.DMTCP_TEST_CLI ?? path.join(corePackageRoot, 'dist', 'cli.js');
  if (!existsSync(file)) {
    throw new Error(`dmtcp CLI not built: ${file} is missing (run: cd ${corePackageRoot} && node scripts/build.mjs)`);
  }
  return file;
}

/** argv prefix that runs the dmtcp CLI with the node running the tests. */
export function cliArgv(): string[] {
  return [process.execPath, cliPath()];
}

/** A fixture source of the core package (test/fixtures/NAME). */
export function coreFixture(name: string): string {
  return path.join(corePackageRoot, 'test', 'fixtures', name);
}

const tmpDirs = new Set<string>();

/**
 * A fresh directory under the system tmp dir, world-writable so that targets
 * run as an unprivileged user can write images and control files into it.
 * It is removed by cleanup() unless DMTCP_TEST_KEEP=1.
 */
export async function makeTmpDir(prefix = 'dmtcp-test-'): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  await chmod(dir, 0o777);
  tmpDirs.add(dir);
  return dir;
}

export async function removeTmpDirs(): Promise<void> {
  if (process.env.DMTCP_TEST_KEEP === '1') {
    tmpDirs.clear();
    return;
  }
  const dirs = [...tmpDirs];
  tmpDirs.clear();
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
}
