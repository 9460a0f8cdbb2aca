// What the end-to-end tests of the socket plugin share: its fixtures, the
// environment that loads the installed built-in plugins (pid, file, this
// one and event, in their real order), and a client outside the
// computation.
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileFixture, type Proc } from '@dmtcp/core/testing';

export const pkgRoot = fileURLToPath(new URL('..', import.meta.url));

export function fixture(name: string): Promise<string> {
  return compileFixture(path.join(pkgRoot, 'test', 'fixtures', name));
}

/** Launch and restart with the built-in plugins, this one among them. */
export const BUILTINS = { DMTCP_BUILTIN_PLUGINS: '1' } as const;

/** The plugin's own messages ("dmtcp socket: ...") on a process's stderr. */
export function socketMessages(proc: Proc): string[] {
  return proc.stderr().split('\n').filter((l) => l.startsWith('dmtcp socket: '));
}

/** The checkpoint warnings in the coordinator's log. */
export function warnings(coord: { proc: Proc }): string[] {
  return coord.proc.lines().filter((l) => l.startsWith('warning:'));
}

/** Connects (TCP port on host, or a Unix path; a leading NUL is an
 *  abstract name), writes one line and resolves with what the server
 *  answered before it closed. */
export function ask(to: { host: string; port: number } | { path: string }, timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(to);
    let got = '';
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`no answer from ${JSON.stringify(to)} within ${timeoutMs} ms (got ${JSON.stringify(got)})`));
    }, timeoutMs);
    s.setEncoding('utf8');
    s.on('connect', () => s.write('hi\n'));
    s.on('data', (d: string) => (got += d));
    s.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    s.on('close', () => {
      clearTimeout(timer);
      resolve(got);
    });
  });
}
