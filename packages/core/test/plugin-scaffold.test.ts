// `dmtcp plugin new` writes a package in the shape of the in-tree plugins
// (packages/plugin-pid, packages/plugin-file): this compares the two, so that
// a change to either side that the other does not follow fails here. The
// scaffold itself builds and passes its checks in plugin-new.e2e.test.ts.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { scaffold, type Scaffold, type ScaffoldOptions } from '../src/cli/commands/plugin-scaffold.ts';
import { parseManifest } from '../src/plugin/manifest.ts';
import { paths } from '../src/paths.ts';
import { runGenerator } from '../scripts/gen-constants.mjs';
import { cleanup, makeTmpDir } from '../src/testing/index.ts';

afterEach(cleanup);

const repoPackages = path.resolve(paths.packageRoot, '..');
const IN_TREE = ['plugin-pid', 'plugin-file'] as const;
/** What a package has that the repository, not its author, puts there. */
const NOT_SOURCE = new Set(['build', 'dist', 'node_modules', '.turbo', 'turbo.json']);

function options(name: string): ScaffoldOptions {
  const tool = (p: string) => ({ version: '^1.0.0', path: p });
  return {
    name,
    includeDir: paths.includeDir,
    cli: paths.cli,
    pluginTypes: '/opt/dmtcp/src/plugin/index.ts',
    vitest: { ...tool('/opt/vitest/vitest.mjs'), typesPath: '/opt/vitest/dist/index.d.ts', configTypesPath: '/opt/vitest/config.d.ts' },
    esbuild: tool('/opt/esbuild/bin/esbuild'),
    typescript: tool('/opt/typescript/bin/tsc'),
    typesNode: tool('/opt/types'),
  };
}

interface Shape {
  /** Relative paths of the files, '/'-separated. */
  files: string[];
  read: (rel: string) => string;
  /** The plugin name: the prefix of the native files. */
  name: string;
}

function fromScaffold(name: string): Shape {
  const files: Scaffold = scaffold(options(name));
  return {
    name,
    files: Object.keys(files).sort(),
    read: (rel) => {
      const text = files[rel];
      if (text === undefined) throw new Error(`the scaffold has no ${rel}`);
      return text;
    },
  };
}

function walk(dir: string, rel = ''): string[] {
  const out: string[] = [];
  for (const e of readdirSync(path.join(dir, rel))) {
    if (rel === '' && NOT_SOURCE.has(e)) continue;
    const r = rel ? `${rel}/${e}` : e;
    if (statSync(path.join(dir, r)).isDirectory()) out.push(...walk(dir, r));
    else out.push(r);
  }
  return out;
}

function fromTree(pkg: string): Shape {
  const dir = path.join(repoPackages, pkg);
  const manifest = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { dmtcp: { plugin: string } };
  return { name: manifest.dmtcp.plugin, files: walk(dir).sort(), read: (rel) => readFileSync(path.join(dir, rel), 'utf8') };
}

interface PackageJson {
  scripts: Record<string, string>;
  dmtcp: Record<string, unknown>;
}

const pkgJson = (s: Shape): PackageJson => JSON.parse(s.read('package.json')) as PackageJson;
const topLevel = (s: Shape): string[] => [...new Set(s.files.map((f) => f.split('/')[0]!).filter((f) => !f.startsWith('.')))].sort();
const nativeFiles = (s: Shape): string[] => s.files.filter((f) => f.startsWith('native/')).map((f) => f.slice('native/'.length));
/** The vitest projects of a vitest.config.ts: name, include and exclude, as written. */
function projects(s: Shape): string[] {
  const text = s.read('vitest.config.ts');
  return [...text.matchAll(/name: '([^']+)'[\s\S]*?include: \[([^\]]*)\](?:, exclude: \[([^\]]*)\])?/g)].map((m) => `${m[1]} ${m[2]} ${m[3] ?? ''}`);
}
/** The compiler flags of a Makefile's CFLAGS (continuation lines joined). */
function cflags(s: Shape): Set<string> {
  const m = s.read('Makefile').replace(/\\\n/g, ' ').match(/^CFLAGS\s*[:?]?=(.*)$/m);
  return new Set((m?.[1] ?? '').split(/\s+/).filter((f) => f.startsWith('-') && !f.startsWith('-I')));
}
/** The options an esbuild command line passes (in a package.json script or a Makefile). */
function esbuildFlags(text: string): string[] {
  const line = text.split('\n').find((l) => /esbuild\)? src\/coordinator\.ts/i.test(l));
  const cmd = line?.slice(line.indexOf('src/coordinator.ts')).split('&&')[0] ?? '';
  return cmd.split(/\s+/).filter((t) => t.startsWith('--') && !t.startsWith('--outfile')).sort();
}

const ours = fromScaffold('hello');
const theirs = IN_TREE.map(fromTree);

describe.each(theirs.map((t, i) => [IN_TREE[i], t] as const))('the scaffold is shaped like %s', (_pkg, tree) => {
  test('the same top-level entries', () => {
    expect(topLevel(ours)).toEqual(topLevel(tree));
  });

  test('the coordinator module in src/: coordinator.ts, policy.ts, generated/wire.ts', () => {
    for (const f of ['src/coordinator.ts', 'src/policy.ts', 'src/generated/wire.ts']) {
      expect(ours.files).toContain(f);
      expect(tree.files).toContain(f);
    }
  });

  test('native files are NAME_*.c and NAME_*.h; the event handler is in NAME_plugin.c, the facts in NAME_wire.h', () => {
    for (const s of [ours, tree]) {
      const native = nativeFiles(s);
      for (const f of native) expect(f).toMatch(new RegExp(`^${s.name}_[a-z0-9_]+\\.[ch]$`));
      expect(native).toContain(`${s.name}_plugin.c`);
      expect(native).toContain(`${s.name}_wire.h`);
      expect(s.read(`native/${s.name}_plugin.c`)).toMatch(/\bvoid dmtcp_process_event\(/);
      // One event handler, one file.
      const handlers = native.filter((f) => f.endsWith('.c') && /\bvoid dmtcp_process_event\(/.test(s.read(`native/${f}`)));
      expect(handlers).toEqual([`${s.name}_plugin.c`]);
    }
  });

  test('tests: unit (*.test.ts) and e2e (*.e2e.test.ts), with the wire and policy tests, helpers, fixtures and a global setup', () => {
    for (const s of [ours, tree]) {
      for (const f of ['test/wire.test.ts', 'test/policy.test.ts', 'test/helpers.ts', 'test/global-setup.ts']) expect(s.files).toContain(f);
      expect(s.files.some((f) => /^test\/[^/]+\.e2e\.test\.ts$/.test(f))).toBe(true);
      expect(s.files.some((f) => f.startsWith('test/fixtures/') && f.endsWith('.c'))).toBe(true);
    }
  });

  test('the same vitest projects', () => {
    expect(projects(ours)).toEqual(projects(tree));
    expect(projects(ours).map((p) => p.split(' ')[0])).toEqual(['unit', 'e2e']);
  });

  test('the same script names, and the same test and check scripts', () => {
    const a = pkgJson(ours).scripts;
    const b = pkgJson(tree).scripts;
    const common = Object.keys(b).filter((k) => theirs.every((t) => k in pkgJson(t).scripts));
    expect(Object.keys(a).sort()).toEqual(common.sort());
    expect(a['test']).toBe(b['test']);
    expect(a['check']).toBe(b['check']);
  });

  test('the build does what the in-tree build script does: make, gen-constants, esbuild with the same options', () => {
    const build = pkgJson(tree).scripts['build']!;
    const n = tree.name;
    expect(build).toContain(`gen-constants native/${n}_wire.h -o src/generated/wire.ts`);
    expect(build).toContain('--outfile=dist/coordinator.js');
    const make = ours.read('Makefile');
    expect(make).toMatch(/^src\/generated\/wire\.ts: native\/hello_wire\.h\n(\t.*\n)*\t\$\(DMTCP\) gen-constants native\/hello_wire\.h -o \$@$/m);
    expect(make).toMatch(/^dist\/coordinator\.js: .*src\/generated\/wire\.ts\n\t\$\(ESBUILD\) src\/coordinator\.ts .*--outfile=\$@$/m);
    expect(esbuildFlags(make)).toEqual(esbuildFlags(build));
    expect(esbuildFlags(make).length).toBeGreaterThan(3);
  });

  test('the manifest: the keys every in-tree plugin has, the same lib and coordinator paths', () => {
    const a = pkgJson(ours).dmtcp;
    const b = pkgJson(tree).dmtcp;
    const common = Object.keys(b).filter((k) => theirs.every((t) => k in pkgJson(t).dmtcp));
    expect(Object.keys(a).sort()).toEqual(common.sort());
    expect(b['lib']).toBe(`build/libdmtcp_${tree.name}.so`);
    expect(a['lib']).toBe('build/libdmtcp_hello.so');
    expect(a['coordinator']).toBe(b['coordinator']);
    expect(a['builtin']).toBe(false);
    expect(parseManifest(pkgJson(ours), '/opt/hello')).toMatchObject({ name: 'hello', coordinator: '/opt/hello/dist/coordinator.js' });
  });

  test('the C flags of the in-tree Makefile, and the required ones', () => {
    const mine = cflags(ours);
    const common = [...cflags(tree)].filter((f) => theirs.every((t) => cflags(t).has(f)));
    for (const f of common) expect(mine).toContain(f);
    for (const f of ['-std=gnu11', '-Wall', '-Wextra', '-Werror', '-fvisibility=hidden', '-D_GNU_SOURCE', '-fPIC']) expect(mine).toContain(f);
  });

  test('the same tsconfig include', () => {
    const inc = (s: Shape) => (JSON.parse(s.read('tsconfig.json')) as { include: string[] }).include;
    expect(inc(ours)).toEqual(inc(tree));
  });
});

describe('the scaffold', () => {
  test('wrappers go through the next-function table, mechanism and wrappers in files of their own', () => {
    const native = nativeFiles(ours);
    expect(native.sort()).toEqual(['hello_ckpt.c', 'hello_plugin.c', 'hello_plugin.h', 'hello_wire.h', 'hello_wrappers.c']);
    const wrappers = ours.read('native/hello_wrappers.c');
    expect(wrappers).toContain('#include "dmtcp/next.h"');
    expect(wrappers).toMatch(/^DMTCP_NEXT_TABLE\(HELLO_WRAPPED\)$/m);
    expect(wrappers).toMatch(/DMTCP_NEXT\(usleep\)\(/);
    const code = (f: string) => ours.read(`native/${f}`).replace(/\/\*[\s\S]*?\*\//g, '');
    for (const f of native) expect(code(f)).not.toMatch(/NEXT_FNC|dlsym\(/);
    const ckpt = ours.read('native/hello_ckpt.c');
    for (const h of ['dmtcp/sys.h', 'dmtcp/fmt.h', 'dmtcp/debug.h']) expect(ckpt).toContain(`#include "${h}"`);
    expect(code('hello_ckpt.c')).not.toMatch(/<stdio\.h>|malloc|printf\(/);
  });

  test('the README has What it does, Commands and Limits', () => {
    const headings = [...ours.read('README.md').matchAll(/^## (.*)$/gm)].map((m) => m[1]);
    expect(headings).toEqual(['What it does', 'Commands', 'Limits']);
  });

  test('names with "-" give C identifiers with "_" and barrier names with "-"', () => {
    const s = fromScaffold('my-plugin');
    expect(nativeFiles(s)).toContain('my-plugin_plugin.c');
    expect(s.read('native/my-plugin_wire.h')).toContain('#define MY_PLUGIN_BARRIER_COUNT "my-plugin:count"');
    expect(s.read('native/my-plugin_ckpt.c')).toMatch(/^void my_plugin_ckpt_save\(void\)/m);
  });

  test.each(['hello', 'my-plugin'])('%s: the library compiles with the Makefile and src/generated/wire.ts is current', async (name) => {
    const dir = await makeTmpDir('dmtcp-scaffold-');
    for (const [rel, text] of Object.entries(scaffold(options(name)))) {
      mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
      writeFileSync(path.join(dir, rel), text);
    }
    execFileSync('make', ['-s', '-C', dir, `build/libdmtcp_${name}.so`], { stdio: 'pipe' });
    const symbols = execFileSync('nm', ['-D', '--defined-only', path.join(dir, 'build', `libdmtcp_${name}.so`)], { encoding: 'utf8' });
    const exported = symbols.split('\n').map((l) => l.split(' ')[2]).filter((s) => s && !s.startsWith('_')).sort();
    // Hidden visibility: the event handler and the wrapper, nothing else.
    expect(exported).toEqual(['dmtcp_process_event', 'usleep']);
    const errors: string[] = [];
    const status = runGenerator([`native/${name}_wire.h`, '-o', 'src/generated/wire.ts', '--check'], { cwd: dir, err: (l) => errors.push(l) });
    expect([status, errors]).toEqual([0, []]);
  });
});
