// What `dmtcp launch` will preload, worked out and checked: the same answer
// for launch itself and for `dmtcp plugins`, which shows it.
import { existsSync } from 'node:fs';
import { checkLibrary } from './check.ts';
import { discoverInstalled, resolveUserPlugin } from './discover.ts';
import { PluginError } from './manifest.ts';
import { composePlugins, splitPluginSpecs, type PluginEntry } from './registry.ts';

export interface PlanOptions {
  /** --with-plugin values, each a colon-separated list. */
  withPlugin: readonly string[];
  /** --disable-plugin values. */
  disable: readonly string[];
  cwd: string;
  /** The environment the program will run with (LD_LIBRARY_PATH matters). */
  env: NodeJS.ProcessEnv;
  coreRoot: string;
  coreLib: string;
}

function checkLabel(e: PluginEntry): string {
  return e.packageDir === null ? e.label : `${e.label}: ${e.lib}`;
}

async function checkEntry(e: PluginEntry, env: NodeJS.ProcessEnv): Promise<void> {
  try {
    await checkLibrary(e.lib, checkLabel(e), env);
  } catch (err) {
    if (err instanceof PluginError && e.packageDir !== null && /: no such file$/.test(err.message)) {
      throw new PluginError(`${err.message} (build the plugin package in ${e.packageDir} first)`);
    }
    throw err;
  }
  if (e.coordinator !== null && !existsSync(e.coordinator)) {
    throw new PluginError(`plugin ${e.label}: coordinator module ${e.coordinator}: no such file (build the plugin package in ${e.packageDir} first)`);
  }
}

/** The load order, every library checked; throws a PluginError naming the
 *  first plugin (in load order) that cannot be used. */
export async function planPlugins(opts: PlanOptions): Promise<PluginEntry[]> {
  const user = splitPluginSpecs(opts.withPlugin).map((spec) => resolveUserPlugin(spec, opts.cwd));
  const installed = discoverInstalled({ coreRoot: opts.coreRoot, env: opts.env });
  const entries = composePlugins({ user, installed, disabled: opts.disable, coreLib: opts.coreLib });
  const checks = await Promise.allSettled(entries.filter((e) => e.source !== 'core').map((e) => checkEntry(e, opts.env)));
  for (const c of checks) if (c.status === 'rejected') throw c.reason;
  return entries;
}
