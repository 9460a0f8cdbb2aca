// `dmtcp plugin new`: the package it creates builds with make, typechecks,
// and passes its own unit tests and end-to-end check (three checkpoints,
// kills and restarts through a barrier its policy answers) as created.
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, expect, test } from 'vitest';
import { paths } from '../src/paths.ts';
import { childEnv, cleanup, makeTmpDir, parseJsonOutput, runCli } from '../src/testing/index.ts';

const run = promisify(execFile);

afterEach(cleanup);

/** This repository's vitest; the scaffold has no node_modules of its own. */
function vitestBin(): string {
  const req = createRequire(import.meta.url);
  return path.join(path.dirname(req.resolve('vitest/package.json')), 'vitest.mjs');
}

/** Our environment minus what would make the inner vitest think it runs
 *  inside this one. */
function innerEnv(): NodeJS.ProcessEnv {
  const env = childEnv();
  for (const k of Object.keys(env)) if (k.startsWith('VITEST') || k === 'TEST' || k === 'NODE_ENV') delete env[k];
  return env;
}

/** Runs the scaffold's vitest (this repository's) on one project or file;
 *  returns its output without colours. */
async function vitest(pkg: string, args: string[], timeout: number): Promise<string> {
  try {
    const res = await run(process.execPath, [vitestBin(), 'run', '--root', pkg, ...args], { env: innerEnv(), cwd: pkg, timeout });
    return (res.stdout + res.stderr).replace(/\x1b\[[0-9;]*m/g, '');
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`vitest ${args.join(' ')} in the scaffold failed: ${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`);
  }
}

test('plugin new: the scaffold builds, typechecks, and its unit tests and e2e check pass', async () => {
  const dir = await makeTmpDir('dmtcp-plugin-new-');
  const created = await runCli(['plugin', 'new', 'hello', '--dir', dir]);
  expect(created.code, created.stderr).toBe(0);
  const pkg = path.join(dir, 'hello');
  expect(created.stdout).toContain(`created plugin hello in ${pkg}`);

  const manifest = JSON.parse(readFileSync(path.join(pkg, 'package.json'), 'utf8')) as Record<string, unknown>;
  expect(manifest).toMatchObject({
    name: 'dmtcp-plugin-hello',
    scripts: { build: 'make -s', typecheck: 'make -s typecheck', test: 'vitest run --project unit', check: 'vitest run --project e2e' },
    dmtcp: { plugin: 'hello', lib: 'build/libdmtcp_hello.so', coordinator: 'dist/coordinator.js', builtin: false },
  });
  expect(readFileSync(path.join(pkg, 'Makefile'), 'utf8')).toContain(`DMTCP_INCLUDE ?= ${paths.includeDir}`);
  expect(readFileSync(path.join(pkg, 'test', 'helpers.ts'), 'utf8')).toContain(JSON.stringify(paths.cli));

  await run('make', ['-s', '-C', pkg], { env: innerEnv() });
  const listed = await runCli(['plugins', '--json', '--with-plugin', pkg]);
  expect(listed.code, listed.stderr).toBe(0);
  const first = (parseJsonOutput(listed.stdout, 'dmtcp plugins')['plugins'] as unknown as { name: string; coordinator: string }[])[0];
  expect(first).toMatchObject({ name: 'hello', coordinator: path.join(pkg, 'dist', 'coordinator.js') });
  // The bundle stands alone: the constants are in it, nothing is imported.
  const bundle = readFileSync(path.join(pkg, 'dist', 'coordinator.js'), 'utf8');
  expect(bundle).toContain('"hello:count"');
  expect(bundle).not.toMatch(/^import /m);

  await run('make', ['-s', '-C', pkg, 'typecheck'], { env: innerEnv(), timeout: 120_000 });
  expect(await vitest(pkg, ['--project', 'unit'], 60_000)).toMatch(/Test Files\s+2 passed \(2\)/);
  expect(await vitest(pkg, ['--project', 'e2e'], 150_000)).toMatch(/Tests\s+1 passed \(1\)/);

  // The wire header is the one source: a change to it makes the wire check
  // fail until the build regenerates src/generated/wire.ts, and the bundle.
  const header = path.join(pkg, 'native', 'hello_wire.h');
  const generated = path.join(pkg, 'src', 'generated', 'wire.ts');
  expect(readFileSync(generated, 'utf8')).toContain('export const HELLO_BARRIER_COUNT = "hello:count";');
  writeFileSync(header, readFileSync(header, 'utf8').replace('#endif', '#define HELLO_MAGIC 0x4c4c4548u\n\n#endif'));
  const wireCheck = () => vitest(pkg, ['--project', 'unit', 'test/wire.test.ts'], 60_000);
  await expect(wireCheck()).rejects.toThrow(/src\/generated\/wire\.ts is stale/);
  await run('make', ['-s', '-C', pkg], { env: innerEnv() });
  expect(readFileSync(generated, 'utf8')).toContain('export const HELLO_MAGIC = 0x4c4c4548;');
  await wireCheck();
}, 300_000);

test('plugin new: bad names and occupied directories are one-line errors', async () => {
  const dir = await makeTmpDir('dmtcp-plugin-new-');
  const bad = await runCli(['plugin', 'new', 'Bad Name', '--dir', dir]);
  expect([bad.code, bad.stderr]).toEqual([
    2, 'dmtcp plugin: plugin name "Bad Name" must be lowercase letters, digits, "-" or "_", starting with a letter (see dmtcp plugin --help)\n',
  ]);
  expect((await runCli(['plugin', 'new', 'twice', '--dir', dir])).code).toBe(0);
  const again = await runCli(['plugin', 'new', 'twice', '--dir', dir]);
  expect([again.code, again.stderr]).toEqual([1, `dmtcp plugin: ${path.join(dir, 'twice')} already exists and is not empty\n`]);
  const none = await runCli(['plugin']);
  expect([none.code, none.stderr]).toEqual([2, 'dmtcp plugin: missing subcommand (expected: new) (see dmtcp plugin --help)\n']);
});
