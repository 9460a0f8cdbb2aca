// What the timer plugin's end-to-end tests share: how to load this
// package's library, with the installed built-in plugins on.
import { realpathSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseJsonOutput, runCli } from '@dmtcp/core/testing';

export const pkgRoot = fileURLToPath(new URL('..', import.meta.url));
export const PLUGIN_LIB = path.join(pkgRoot, 'build', 'libdmtcp_timer.so');
// With the installed built-in plugins, as a program is run for real: the
// pid plugin's thread ids are what SIGEV_THREAD_ID timers are aimed by.
export const ENV = { DMTCP_BUILTIN_PLUGINS: '1' };

/** No launch option when the built-in "timer" is this package, otherwise
 *  this package's library in its place. */
export async function pluginArgs(): Promise<string[]> {
  const res = await runCli(['plugins', '--json'], { env: ENV });
  const listed = res.code === 0 ? parseJsonOutput(res.stdout, 'dmtcp plugins --json').plugins : undefined;
  const mine = Array.isArray(listed)
    ? listed.find((p) => typeof p === 'object' && p !== null && !Array.isArray(p) && p.name === 'timer')
    : undefined;
  if (mine && typeof mine === 'object' && !Array.isArray(mine) && typeof mine.lib === 'string') {
    if (realpathSync(mine.lib) === realpathSync(PLUGIN_LIB)) return [];
    return ['--disable-plugin', 'timer', '--with-plugin', PLUGIN_LIB];
  }
  return ['--with-plugin', PLUGIN_LIB];
}
