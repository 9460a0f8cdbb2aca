// `dmtcp plugin new NAME [--dir D]`: creates a plugin package that builds and
// passes its own end-to-end check as created, for a plugin author to start
// from, in the shape of the in-tree plugins (plugin-scaffold.ts has the
// files). This file resolves what the package is to use from this
// installation (headers, CLI, vitest, esbuild, tsc) and writes it.
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { CliError, UsageError, formatOptions, parseArgs } from '../args.ts';
import type { CliIO } from '../common.ts';
import { pluginNameProblem } from '../../plugin/manifest.ts';
import { paths } from '../../paths.ts';
import { scaffold, type ScaffoldOptions, type Tool } from './plugin-scaffold.ts';

export { scaffold, type Scaffold, type ScaffoldOptions } from './plugin-scaffold.ts';

const OPTIONS = {
  dir: { type: 'string', arg: 'D', help: 'create the package in D/NAME (default: ./NAME)' },
  help: { type: 'boolean', short: 'h', help: 'show this help' },
} as const;

const USAGE = `usage: dmtcp plugin new NAME [--dir D]

Creates a plugin package in D/NAME, laid out like the plugins that come with
dmtcp: native/NAME_plugin.c (the event handler), NAME_wrappers.c (wrappers
through dmtcp/next.h), NAME_ckpt.c (the checkpoint/restart mechanism),
NAME_wire.h (what the library and the coordinator module share, generated
into src/generated/wire.ts), src/coordinator.ts and src/policy.ts (bundled
to dist/coordinator.js), a demo program, unit tests and an end-to-end check.
Build it with make (or npm run build), test it with npm test and npm run
check, use it with dmtcp launch --with-plugin D/NAME PROG.

The library is compiled against this installation's headers
(${paths.includeDir}); set DMTCP_INCLUDE to use others.

options:
${formatOptions(OPTIONS)}`;

const fromCore = createRequire(path.join(paths.packageRoot, 'package.json'));

/** The directory of a package installed next to this core, or null (a
 *  published install without its development dependencies). */
function packageDir(name: string): { dir: string; version: string } | null {
  try {
    const file = fromCore.resolve(`${name}/package.json`);
    const pkg: unknown = JSON.parse(readFileSync(file, 'utf8'));
    const v = (pkg as { version?: unknown }).version;
    if (typeof v !== 'string' || !/^\d+\.\d+\.\d+$/.test(v)) return null;
    // The core's own node_modules link when there is one: a shorter path
    // than the store's, and one that follows an upgrade.
    const linked = path.join(paths.packageRoot, 'node_modules', name);
    return { dir: existsSync(path.join(linked, 'package.json')) ? linked : path.dirname(file), version: v };
  } catch {
    return null;
  }
}

/** A tool of this installation: `rel` inside its package, and `^version`
 *  (or `fallback` when it is not installed here). */
function tool(name: string, rel: string, fallback: string): Tool {
  const found = packageDir(name);
  return found ? { version: `^${found.version}`, path: path.join(found.dir, rel) } : { version: fallback, path: null };
}

function tools(): Pick<ScaffoldOptions, 'vitest' | 'esbuild' | 'typescript' | 'typesNode'> {
  const vitest = tool('vitest', 'vitest.mjs', '^4.1.0');
  const vdir = vitest.path && path.dirname(vitest.path);
  const typesNode = tool('@types/node', '.', '^24.0.0');
  return {
    vitest: { ...vitest, typesPath: vdir && path.join(vdir, 'dist', 'index.d.ts'), configTypesPath: vdir && path.join(vdir, 'config.d.ts') },
    esbuild: tool('esbuild', path.join('bin', 'esbuild'), '^0.28.0'),
    typescript: tool('typescript', path.join('bin', 'tsc'), '^5.9.0'),
    // A typeRoot is the directory above the package.
    typesNode: { ...typesNode, path: typesNode.path && path.dirname(typesNode.path) },
  };
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
  const pluginTypes = path.join(paths.packageRoot, 'src', 'plugin', 'index.ts');
  const files = scaffold({ name, includeDir, cli: paths.cli, pluginTypes, ...tools() });
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
  io.out(`test it:   cd ${shown} && npm install && npm test && npm run check`);
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
