// The load order of a computation's plugins, from what the user asked for and
// what is installed. Pure: the callers read package.json files and check
// libraries; this only decides.
//
// Order: user plugins as given (they see events first and wrap libc
// outermost), then the built-in plugins, each after those it names in
// "after", ties broken by name so that the order never depends on the file
// system, then the core.
import path from 'node:path';
import { PluginError, type PluginManifest } from './manifest.ts';

export type PluginSource = 'user' | 'builtin' | 'core';

export interface PluginEntry {
  name: string;
  /** Absolute path of the library that goes on LD_PRELOAD. */
  lib: string;
  source: PluginSource;
  /** Absolute path of the coordinator module, or null. */
  coordinator: string | null;
  /** The declaring package, or null for a bare library. */
  packageDir: string | null;
  /** How messages name it: as the user wrote it, or by plugin name. */
  label: string;
}

/** One --with-plugin entry, already looked at on disk. */
export type UserPlugin =
  | { kind: 'lib'; spec: string; lib: string }
  | { kind: 'package'; spec: string; manifest: PluginManifest };

export interface ComposeInput {
  user: readonly UserPlugin[];
  installed: readonly PluginManifest[];
  disabled?: readonly string[];
  coreLib: string;
}

/** --with-plugin values in order, each a colon-separated list. */
export function splitPluginSpecs(specs: readonly string[]): string[] {
  return specs.flatMap((s) => s.split(':')).filter((e) => e !== '');
}

/** A bare library's plugin name, from its file name: libdmtcp_x.so,
 *  libx.so.1 and x.so are all "x". */
export function libPluginName(lib: string): string {
  let base = path.basename(lib).replace(/\.so(\.\d+)*$/, '');
  if (base.startsWith('libdmtcp_')) base = base.slice('libdmtcp_'.length);
  else if (base.startsWith('lib') && base.length > 3) base = base.slice(3);
  return base;
}

function entryOf(m: PluginManifest, source: PluginSource, label: string): PluginEntry {
  return { name: m.name, lib: m.lib, source, coordinator: m.coordinator, packageDir: m.packageDir, label };
}

/** Built-in plugins ordered by their "after" lists (names not present are
 *  ignored: "after" orders, it does not require), ties by name. */
export function orderBuiltins(manifests: readonly PluginManifest[]): PluginManifest[] {
  const byName = new Map<string, PluginManifest>();
  for (const m of manifests) {
    const prev = byName.get(m.name);
    if (prev) throw new PluginError(`two installed packages declare plugin ${m.name}: ${prev.packageDir} and ${m.packageDir}`);
    byName.set(m.name, m);
  }
  const deps = new Map<string, string[]>();
  for (const m of byName.values()) deps.set(m.name, m.after.filter((a) => byName.has(a)));

  const done = new Set<string>();
  const out: PluginManifest[] = [];
  const names = [...byName.keys()].sort();
  while (out.length < names.length) {
    const next = names.find((n) => !done.has(n) && (deps.get(n) ?? []).every((d) => done.has(d)));
    if (next === undefined) throw new PluginError(describeCycle(names.filter((n) => !done.has(n)), deps));
    done.add(next);
    out.push(byName.get(next)!);
  }
  return out;
}

function describeCycle(left: string[], deps: Map<string, string[]>): string {
  const remaining = new Set(left);
  // Every remaining plugin waits for another remaining one, so following
  // those waits must come back to a plugin already on the path.
  const trail: string[] = [];
  let cur = left[0]!;
  while (!trail.includes(cur)) {
    trail.push(cur);
    cur = (deps.get(cur) ?? []).find((d) => remaining.has(d)) ?? cur;
  }
  const cycle = [...trail.slice(trail.indexOf(cur)), cur];
  return `the "after" lists of plugins ${[...new Set(cycle)].sort().join(', ')} form a cycle (${cycle.join(' after ')})`;
}

/** The plugins launch loads, in LD_PRELOAD order, the core last. */
export function composePlugins(input: ComposeInput): PluginEntry[] {
  const installed = input.installed.filter((m) => m.builtin);
  const builtinNames = new Set(installed.map((m) => m.name));
  const disabled = new Set<string>();
  for (const name of input.disabled ?? []) {
    if (!builtinNames.has(name)) {
      const known = [...builtinNames].sort();
      throw new PluginError(`--disable-plugin ${name}: no built-in plugin of that name (installed: ${known.length ? known.join(', ') : 'none'})`);
    }
    disabled.add(name);
  }

  const user: PluginEntry[] = input.user.map((u) => {
    if (u.kind === 'package') return entryOf(u.manifest, 'user', u.spec);
    return { name: libPluginName(u.lib), lib: u.lib, source: 'user', coordinator: null, packageDir: null, label: u.spec };
  });
  const builtins = orderBuiltins(installed.filter((m) => !disabled.has(m.name))).map((m) => entryOf(m, 'builtin', m.name));
  const core: PluginEntry = { name: 'core', lib: input.coreLib, source: 'core', coordinator: null, packageDir: null, label: 'core' };
  const all = [...user, ...builtins, core];

  const libs = new Map<string, PluginEntry>();
  const names = new Map<string, PluginEntry>();
  for (const e of all) {
    const sameLib = libs.get(e.lib);
    if (sameLib) {
      if (e.source === 'core') throw new PluginError(`plugin ${sameLib.label}: this is the core runtime, which is always loaded last`);
      // Blame what the user typed: built-ins come after user plugins.
      if (e.source === 'builtin') {
        throw new PluginError(`plugin ${sameLib.label}: this is the built-in plugin ${e.name}, loaded anyway (--disable-plugin ${e.name} to load it earlier)`);
      }
      throw new PluginError(`plugin ${e.label}: given twice`);
    }
    libs.set(e.lib, e);
    if (e.source === 'core') continue;
    const sameName = names.get(e.name);
    if (sameName) {
      if (e.source === 'builtin') {
        throw new PluginError(`plugin ${sameName.label}: a built-in plugin is also named ${e.name} (--disable-plugin ${e.name} to replace it)`);
      }
      throw new PluginError(`plugin ${e.label}: another plugin is also named ${e.name} (${sameName.label})`);
    }
    names.set(e.name, e);
  }
  return all;
}
