// What the end-to-end tests of the event plugin share: its fixtures and the
// environment that loads the installed built-in plugins (pid, file and this
// one, in their real order) instead of the core alone.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileFixture, type Proc } from '@dmtcp/core/testing';

export const pkgRoot = fileURLToPath(new URL('..', import.meta.url));

export function fixture(name: string): Promise<string> {
  return compileFixture(path.join(pkgRoot, 'test', 'fixtures', name));
}

/** Launch and restart with the built-in plugins, this one among them. */
export const BUILTINS = { DMTCP_BUILTIN_PLUGINS: '1' } as const;

/** The plugin's own messages ("dmtcp event: ...") on a process's stderr. */
export function eventMessages(proc: Proc): string[] {
  return proc.stderr().split('\n').filter((l) => l.startsWith('dmtcp event: '));
}

/** The checkpoint warnings in the coordinator's log. */
export function warnings(coord: { proc: Proc }): string[] {
  return coord.proc.lines().filter((l) => l.startsWith('warning:'));
}
