// A plugin package declares itself in its package.json:
//
//   "dmtcp": {
//     "plugin": "pid",                       name: barriers are "pid:<phase>"
//     "lib": "build/libdmtcp_pid.so",        preloaded into every process
//     "coordinator": "dist/coordinator.js",  optional TypeScript half
//     "builtin": true,                       loaded without --with-plugin
//     "after": ["file"],                     optional: load after these
//     "fds": ["file", "pipe"],               optional: descriptor kinds it restores
//                                              (names: DMTCP_FD_KINDS in protocol.h)
//     "options": [...]                       optional: its command-line options (options.ts)
//   }
//
// Every problem is reported as one line naming the package.json, because it
// ends up as the only line `dmtcp launch` prints before giving up.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { DMTCP_FD_KINDS } from '../generated/constants.ts';
import { parseOptionDecls, type PluginOption } from './options.ts';

export interface PluginManifest {
  name: string;
  /** The npm package name, when package.json has one. */
  packageName: string | null;
  /** Absolute directory holding package.json. */
  packageDir: string;
  /** Absolute path of the library to preload. */
  lib: string;
  /** Absolute path of the coordinator module, or null. */
  coordinator: string | null;
  builtin: boolean;
  after: string[];
  /** Kinds of descriptor the plugin restores after a restart. */
  fds: string[];
  /** Command-line options it offers on launch/restart. */
  options: PluginOption[];
}

/** A plugin that cannot be used; the message is one line meant for users. */
export class PluginError extends Error {
  override name = 'PluginError';
}

export const PLUGIN_NAME_RE = /^[a-z][a-z0-9_-]*$/;
/** Barrier names carry the plugin name and must fit the frame's name field
 *  (64 bytes with its NUL) with room for the phase. */
export const PLUGIN_NAME_MAX = 31;
/** Names the core itself uses as barrier prefixes or in listings. */
export const RESERVED_PLUGIN_NAMES: readonly string[] = ['core', 'ckpt', 'restart', 'dmtcp'];

const KEYS = new Set(['plugin', 'lib', 'coordinator', 'builtin', 'after', 'fds', 'options']);
const FD_KINDS: readonly string[] = DMTCP_FD_KINDS.split(' ');

/** Why `name` cannot be a plugin name, or null when it can. */
export function pluginNameProblem(name: string): string | null {
  if (!PLUGIN_NAME_RE.test(name)) return 'must be lowercase letters, digits, "-" or "_", starting with a letter';
  if (name.length > PLUGIN_NAME_MAX) return `is longer than ${PLUGIN_NAME_MAX} characters`;
  if (RESERVED_PLUGIN_NAMES.includes(name)) return 'is reserved for the core';
  return null;
}

export function hasDeclaration(pkg: unknown): boolean {
  return typeof pkg === 'object' && pkg !== null && !Array.isArray(pkg) && 'dmtcp' in pkg;
}

/** A path inside the package, or a reason why `rel` is not one. */
function insidePackage(dir: string, rel: string): string | { problem: string } {
  if (rel === '' || path.isAbsolute(rel)) return { problem: 'must be a path relative to the package' };
  const abs = path.resolve(dir, rel);
  const back = path.relative(dir, abs);
  if (back === '' || back.startsWith('..') || path.isAbsolute(back)) return { problem: 'must stay inside the package' };
  return abs;
}

/** Validates a parsed package.json (pure: no file access). */
export function parseManifest(pkg: unknown, packageDir: string): PluginManifest {
  const where = path.join(packageDir, 'package.json');
  const fail = (msg: string): never => {
    throw new PluginError(`${where}: ${msg}`);
  };
  if (typeof pkg !== 'object' || pkg === null || Array.isArray(pkg)) return fail('not a JSON object');
  const p = pkg as Record<string, unknown>;
  const d = p['dmtcp'];
  if (d === undefined) return fail('no "dmtcp" declaration (this is not a dmtcp plugin package)');
  if (typeof d !== 'object' || d === null || Array.isArray(d)) return fail('"dmtcp" must be an object');
  const decl = d as Record<string, unknown>;
  for (const k of Object.keys(decl)) {
    if (!KEYS.has(k)) fail(`unknown key "dmtcp.${k}" (expected ${[...KEYS].join(', ')})`);
  }

  const name = decl['plugin'];
  if (typeof name !== 'string') return fail('"dmtcp.plugin" must be the plugin name (a string)');
  const nameProblem = pluginNameProblem(name);
  if (nameProblem) fail(`plugin name "${name}" ${nameProblem}`);

  const libRel = decl['lib'];
  if (typeof libRel !== 'string') return fail('"dmtcp.lib" must be the path of the plugin library (a string)');
  const lib = insidePackage(packageDir, libRel);
  if (typeof lib !== 'string') return fail(`"dmtcp.lib" ${lib.problem}`);
  if (!/\.so(\.\d+)*$/.test(lib)) fail(`"dmtcp.lib" must name a shared library (.so), not "${libRel}"`);

  let coordinator: string | null = null;
  const coordRel = decl['coordinator'];
  if (coordRel !== undefined) {
    if (typeof coordRel !== 'string') return fail('"dmtcp.coordinator" must be the path of a JavaScript module (a string)');
    const c = insidePackage(packageDir, coordRel);
    if (typeof c !== 'string') return fail(`"dmtcp.coordinator" ${c.problem}`);
    if (!/\.m?js$/.test(c)) fail(`"dmtcp.coordinator" must name a JavaScript module (.js or .mjs), not "${coordRel}"`);
    coordinator = c;
  }

  const builtin = decl['builtin'] ?? false;
  if (typeof builtin !== 'boolean') return fail('"dmtcp.builtin" must be true or false');

  const afterRaw = decl['after'] ?? [];
  if (!Array.isArray(afterRaw) || !afterRaw.every((x): x is string => typeof x === 'string')) {
    return fail('"dmtcp.after" must be a list of plugin names');
  }
  const after: string[] = [];
  for (const a of afterRaw) {
    if (!PLUGIN_NAME_RE.test(a)) fail(`"dmtcp.after" names "${a}", which is not a plugin name`);
    if (a === name) fail(`plugin ${name} cannot load after itself`);
    if (!after.includes(a)) after.push(a);
  }

  const fdsRaw = decl['fds'] ?? [];
  if (!Array.isArray(fdsRaw) || !fdsRaw.every((x): x is string => typeof x === 'string')) {
    return fail('"dmtcp.fds" must be a list of descriptor kinds');
  }
  for (const k of fdsRaw) {
    if (!FD_KINDS.includes(k)) fail(`"dmtcp.fds" names "${k}", which is not a descriptor kind (${FD_KINDS.join(', ')})`);
  }
  const fds = [...new Set(fdsRaw)];

  const options = parseOptionDecls(decl['options']);
  if (!Array.isArray(options)) return fail(`plugin ${name}: "dmtcp.options"${options.problem}`);

  const packageName = typeof p['name'] === 'string' ? p['name'] : null;
  return { name, packageName, packageDir, lib, coordinator, builtin, after, fds, options };
}

/** Parsed package.json of a directory; errors name the file. */
export function readPackageJson(dir: string): unknown {
  const file = path.join(dir, 'package.json');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new PluginError(code === 'ENOENT' ? `${dir}: no package.json (a plugin directory must be a package)` : `${file}: cannot read (${code ?? String(err)})`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new PluginError(`${file}: malformed JSON (${(err as Error).message.split('\n')[0]})`);
  }
}

export function readManifest(dir: string): PluginManifest {
  const abs = path.resolve(dir);
  return parseManifest(readPackageJson(abs), abs);
}
