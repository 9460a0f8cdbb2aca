// Loading a plugin's coordinator module, given only the path of its library
// as a process reported it in HELLO.
//
// The coordinator imports code named by whoever connects to it, so it only
// imports files its own user (or root) owns and nobody else can rewrite:
// another local user must not get code run in the coordinator by reporting a
// library next to a package.json of their making.
import { statSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { findPluginPackage } from './discover.ts';
import { coordinatorPluginProblem, type CoordinatorPlugin } from './index.ts';
import { PluginError, type PluginManifest } from './manifest.ts';

export interface LoadedModule {
  plugin: CoordinatorPlugin;
  file: string;
  manifest: PluginManifest;
}

/** Longer than any sane module takes, short enough that a barrier waiting
 *  for it is not mistaken for a hang. */
export const MODULE_LOAD_TIMEOUT_MS = 10_000;

function trustProblem(file: string): string | null {
  let st;
  try {
    st = statSync(file);
  } catch (err) {
    return `${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : String(err)}`;
  }
  const uid = typeof process.geteuid === 'function' ? process.geteuid() : undefined;
  if (uid !== undefined && st.uid !== uid && st.uid !== 0) return `${file} belongs to uid ${st.uid}, neither the coordinator's user nor root`;
  if ((st.mode & 0o002) !== 0) return `${file} is writable by everyone`;
  return null;
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} did not finish loading within ${ms / 1000} s`)), ms);
    timer.unref();
    p.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(timer);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}

/**
 * The coordinator module of the package that `lib` belongs to, imported
 * and checked; null when the library has no package or the package no
 * module. Throws an Error with a one-line message when the module cannot
 * be used.
 */
export async function loadCoordinatorModule(lib: string, timeoutMs = MODULE_LOAD_TIMEOUT_MS): Promise<LoadedModule | null> {
  const found = findPluginPackage(lib);
  if (!found || found.manifest.coordinator === null) return null;
  const { manifest } = found;
  const file = manifest.coordinator!;
  for (const f of [`${manifest.packageDir}/package.json`, file]) {
    const problem = trustProblem(f);
    if (problem) throw new PluginError(`not loading the coordinator module of plugin ${manifest.name}: ${problem}`);
  }
  const mod: unknown = await withTimeout(import(pathToFileURL(file).href) as Promise<unknown>, timeoutMs, file);
  const plugin = (mod as { default?: unknown }).default;
  const problem = coordinatorPluginProblem(plugin);
  if (problem) throw new PluginError(`${file}: ${problem}`);
  const p = plugin as CoordinatorPlugin;
  if (p.name !== manifest.name) {
    throw new PluginError(`${file}: the module says it is plugin "${p.name}", its package.json says "${manifest.name}"`);
  }
  for (const name of Object.keys(p.policies ?? {})) {
    if (!name.startsWith(`${manifest.name}:`)) {
      throw new PluginError(`${file}: policy "${name}" must be named "${manifest.name}:<phase>"`);
    }
  }
  return { plugin: p, file, manifest };
}
