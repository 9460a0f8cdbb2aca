// The options plugins declare (plugin/options.ts) on the command line of
// launch and restart: their parse definitions, their help section, the
// environment their values become, and what to say about an option whose
// plugin is not loaded.
import path from 'node:path';
import { BUILTIN_PLUGINS_ENV, discoverInstalled, findPluginPackage } from '../plugin/discover.ts';
import { readManifest, type PluginManifest } from '../plugin/manifest.ts';
import type { OptionCommand, PluginOption } from '../plugin/options.ts';
import type { PluginEntry } from '../plugin/registry.ts';
import { CliError, UsageError, formatOptions, type OptionDef, type OptionDefs } from './args.ts';

/** The declared options of one plugin. */
export interface OptionSource {
  plugin: string;
  options: readonly PluginOption[];
}

export interface PluginOptionSet {
  /** Parse definitions of every option offered, keyed by name. */
  defs: OptionDefs;
  /** Who offers each option, and its declaration. */
  owners: ReadonlyMap<string, { plugin: string; option: PluginOption }>;
}

function defOf(o: PluginOption): OptionDef {
  const tail = o.default !== undefined ? ` (default ${o.default})` : '';
  const arg = o.arg ?? (o.type === 'enum' ? (o.values ?? []).join('|') : o.type === 'path-pair' ? 'OLD=NEW' : 'VALUE');
  return o.type === 'flag'
    ? { type: 'boolean', help: `${o.help}${tail}` }
    : { type: 'string', multiple: o.repeatable, arg, help: `${o.help}${tail}` };
}

/** The options the given plugins offer on one command. Throws a CliError
 *  naming the plugin when one takes a name the core or another plugin has. */
export function pluginOptionSet(sources: readonly OptionSource[], command: OptionCommand, core: OptionDefs): PluginOptionSet {
  const defs: Record<string, OptionDef> = {};
  const owners = new Map<string, { plugin: string; option: PluginOption }>();
  for (const s of sources) {
    for (const o of s.options) {
      if (!o.commands.includes(command)) continue;
      if (Object.hasOwn(core, o.name)) throw new CliError(`plugin ${s.plugin} declares option --${o.name}, which dmtcp ${command} has itself`);
      const other = owners.get(o.name);
      if (other) throw new CliError(`plugins ${other.plugin} and ${s.plugin} both declare option --${o.name}`);
      owners.set(o.name, { plugin: s.plugin, option: o });
      defs[o.name] = defOf(o);
    }
  }
  return { defs, owners };
}

/** The --help section: one block per plugin, empty when none offers anything. */
export function formatPluginOptions(set: PluginOptionSet): string {
  const byPlugin = new Map<string, Record<string, OptionDef>>();
  for (const [name, { plugin }] of set.owners) {
    const defs = byPlugin.get(plugin) ?? {};
    defs[name] = set.defs[name] as OptionDef;
    byPlugin.set(plugin, defs);
  }
  return [...byPlugin].map(([plugin, defs]) => `\n\noptions of plugin ${plugin}:\n${formatOptions(defs)}`).join("");
}

type Values = Readonly<Record<string, unknown>>;

function pathPair(flag: string, text: string, cwd: string): string {
  const eq = text.indexOf('=');
  if (eq <= 0 || eq === text.length - 1) throw new UsageError(`${flag} ${text}: expected OLD=NEW`);
  const [from, to] = [path.resolve(cwd, text.slice(0, eq)), path.resolve(cwd, text.slice(eq + 1))];
  if (/[:=]/.test(from + to)) throw new UsageError(`${flag} ${text}: paths with ':' or '=' cannot be mapped`);
  return `${from}=${to}`;
}

/** The environment the given option values become; a bad value is a UsageError. */
export function pluginOptionsEnv(set: PluginOptionSet, values: Values, cwd: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, { option: o }] of set.owners) {
    const v = values[name];
    if (v === undefined || v === false) continue;
    const flag = `--${name}`;
    const list = (Array.isArray(v) ? v : [v]).map(String);
    switch (o.type) {
      case 'flag':
        env[o.env] = '1';
        break;
      case 'enum': {
        const [value] = list;
        const allowed = o.values ?? [];
        if (value === undefined || !allowed.includes(value)) {
          throw new UsageError(`${flag} must be ${allowed.slice(0, -1).join(', ')} or ${allowed[allowed.length - 1]}, not ${value}`);
        }
        env[o.env] = value;
        break;
      }
      case 'path-pair':
        if (list.length > 0) env[o.env] = list.map((t) => pathPair(flag, t, cwd)).join(':');
        break;
      case 'string':
        if (list.length > 0) env[o.env] = list.join(':');
        break;
    }
  }
  return env;
}

/** What to say about --name when no loaded plugin offers it on this
 *  command, or null for a name nobody declares. */
export function describeUnknownOption(name: string, command: OptionCommand, loaded: readonly string[], known: readonly OptionSource[]): string | null {
  for (const s of known) {
    const o = s.options.find((x) => x.name === name);
    if (!o) continue;
    if (!o.commands.includes(command)) return `unknown option --${name} (plugin ${s.plugin} offers it on ${o.commands.map((c) => `dmtcp ${c}`).join(' and ')} only)`;
    if (!loaded.includes(s.plugin)) return `unknown option --${name}: it is an option of plugin ${s.plugin}, which is not loaded`;
  }
  return null;
}

/** The manifests of the plugins a launch preloads (a bare library counts
 *  when it lies in a plugin package that declares it). */
export function manifestsOf(entries: readonly PluginEntry[]): PluginManifest[] {
  const out: PluginManifest[] = [];
  for (const e of entries) {
    if (e.source === 'core') continue;
    // A broken declaration stops the command: its error names the package.json.
    const m = e.packageDir !== null ? readManifest(e.packageDir) : findPluginPackage(e.lib)?.manifest;
    if (m) out.push(m);
  }
  return out;
}

/** The plugin packages the given files (what a checkpointed process had
 *  mapped) are the libraries of, once each. */
export function manifestsOfLibs(files: readonly string[]): PluginManifest[] {
  const out = new Map<string, PluginManifest>();
  for (const file of new Set(files)) {
    if (!/\.so(\.\d+)*$/.test(file)) continue;
    let m: PluginManifest | undefined;
    try {
      m = findPluginPackage(file)?.manifest;
    } catch {
      continue; // launch refused broken declarations; a library of no plugin
    }
    if (m && !out.has(m.name)) out.set(m.name, m);
  }
  return [...out.values()];
}

/** Every plugin package that could be loaded, built-ins included even when
 *  turned off: only to tell which plugin offers an option. */
export function knownManifests(coreRoot: string, env: NodeJS.ProcessEnv): PluginManifest[] {
  try {
    return discoverInstalled({ coreRoot, env: { ...env, [BUILTIN_PLUGINS_ENV]: undefined } });
  } catch {
    return [];
  }
}

/** Parse definitions of every option any of the sources offers on the
 *  command, clashes ignored: for a first look at a command line only. */
export function everyOptionDef(sources: readonly OptionSource[], command: OptionCommand, core: OptionDefs): OptionDefs {
  const defs: Record<string, OptionDef> = {};
  for (const s of sources) {
    for (const o of s.options) {
      if (o.commands.includes(command) && !Object.hasOwn(core, o.name) && !Object.hasOwn(defs, o.name)) defs[o.name] = defOf(o);
    }
  }
  return defs;
}

export function sourcesOf(manifests: readonly PluginManifest[]): OptionSource[] {
  return manifests.map((m) => ({ plugin: m.name, options: m.options }));
}
