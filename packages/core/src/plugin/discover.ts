// Finding plugin packages on disk: the installed built-in ones, the ones the
// user names with --with-plugin, and the package a preloaded library came
// from (for the coordinator, which only learns library paths).
import { readdirSync, realpathSync, statSync } from 'node:fs';
import path from 'node:path';
import { hasDeclaration, parseManifest, PluginError, readManifest, readPackageJson, type PluginManifest } from './manifest.ts';
import type { UserPlugin } from './registry.ts';

export const PLUGIN_PATH_ENV = 'DMTCP_PLUGIN_PATH';
/** "0": ignore the installed built-in plugins (a package's own checks run the
 *  core plus exactly the plugins they name). */
export const BUILTIN_PLUGINS_ENV = 'DMTCP_BUILTIN_PLUGINS';
const SCOPE = '@dmtcp';
const PREFIX = 'plugin-';

function realOrSelf(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return p;
  }
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

function isFile(p: string): boolean {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

function listDir(dir: string): string[] {
  try {
    return readdirSync(dir).sort();
  } catch {
    return [];
  }
}

/**
 * Directories where @dmtcp/plugin-* packages resolvable from the core live:
 * the core's own scope directory (node_modules/@dmtcp when installed; the
 * workspace's packages/ in this repository, where the directories are named
 * plugin-* as well) and node_modules/@dmtcp of every directory above it, as
 * Node's resolution would search.
 */
function candidateDirs(coreRoot: string): string[] {
  const out: string[] = [];
  const scopes = [path.dirname(coreRoot)];
  for (let dir = coreRoot; ; ) {
    scopes.push(path.join(dir, 'node_modules', SCOPE));
    const parent = path.dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  for (const scope of scopes) {
    for (const name of listDir(scope)) {
      if (name.startsWith(PREFIX)) out.push(path.join(scope, name));
    }
  }
  return out;
}

export interface DiscoverOptions {
  /** The core package's root directory. */
  coreRoot: string;
  env: NodeJS.ProcessEnv;
}

/**
 * Every installed plugin package: @dmtcp/plugin-* packages resolvable from
 * the core, then the package directories in DMTCP_PLUGIN_PATH. A package
 * without a "dmtcp" declaration is not a plugin and is skipped; a broken
 * declaration is an error, since launch would otherwise silently run
 * without a subsystem the user installed.
 */
export function discoverInstalled(opts: DiscoverOptions): PluginManifest[] {
  const seen = new Set<string>();
  const out: PluginManifest[] = [];
  const coreReal = realOrSelf(opts.coreRoot);
  const builtins = opts.env[BUILTIN_PLUGINS_ENV] === '0' ? [] : candidateDirs(opts.coreRoot);
  for (const dir of builtins) {
    const real = realOrSelf(dir);
    if (seen.has(real) || real === coreReal || !isDir(real)) continue;
    seen.add(real);
    let pkg: unknown;
    try {
      pkg = readPackageJson(dir);
    } catch {
      continue; // a directory that is not a package
    }
    const name = (pkg as { name?: unknown }).name;
    if (typeof name !== 'string' || !name.startsWith(`${SCOPE}/${PREFIX}`) || !hasDeclaration(pkg)) continue;
    out.push(parseManifest(pkg, path.resolve(dir)));
  }
  for (const entry of (opts.env[PLUGIN_PATH_ENV] ?? '').split(':')) {
    if (entry === '') continue;
    const dir = path.resolve(entry);
    if (!isDir(dir)) throw new PluginError(`${PLUGIN_PATH_ENV}: ${entry} is not a directory`);
    const real = realOrSelf(dir);
    if (seen.has(real)) continue;
    seen.add(real);
    out.push(readManifest(dir));
  }
  return out;
}

/** Looks at one --with-plugin entry: a library file or a package directory. */
export function resolveUserPlugin(spec: string, cwd: string): UserPlugin {
  const abs = path.resolve(cwd, spec);
  let st;
  try {
    st = statSync(abs);
  } catch {
    throw new PluginError(`plugin ${spec}: no such file`);
  }
  if (st.isDirectory()) {
    if (!isFile(path.join(abs, 'package.json'))) {
      throw new PluginError(`plugin ${spec}: a directory without package.json (give a library or a plugin package directory)`);
    }
    try {
      return { kind: 'package', spec, manifest: readManifest(abs) };
    } catch (err) {
      if (err instanceof PluginError) throw new PluginError(`plugin ${spec}: ${err.message}`);
      throw err;
    }
  }
  if (!st.isFile()) throw new PluginError(`plugin ${spec}: not a regular file`);
  return { kind: 'lib', spec, lib: abs };
}

export interface FoundPackage {
  manifest: PluginManifest;
}

/**
 * The package a preloaded library belongs to: the nearest directory above
 * it whose package.json has a "dmtcp" declaration, provided that the
 * declaration names this very library. Null when there is none (a bare
 * library, or one built elsewhere); throws when a declaration is broken or
 * names another library.
 */
export function findPluginPackage(lib: string): FoundPackage | null {
  const real = realOrSelf(lib);
  for (let dir = path.dirname(real); ; ) {
    let pkg: unknown;
    try {
      pkg = readPackageJson(dir);
    } catch {
      pkg = undefined;
    }
    if (pkg !== undefined && hasDeclaration(pkg)) {
      const manifest = parseManifest(pkg, dir);
      if (realOrSelf(manifest.lib) !== real) {
        throw new PluginError(`${lib} lies in package ${dir}, whose declaration names another library (${manifest.lib})`);
      }
      return { manifest };
    }
    const parent = path.dirname(dir);
    if (parent === dir) return null;
    dir = parent;
  }
}
