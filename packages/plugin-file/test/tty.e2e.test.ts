// A program on a terminal, restarted on another terminal: it uses the new
// one (fd 0-2, and its own /dev/tty descriptor at fd 5), in the mode (termios)
// it had put the old one in.  The terminals are pseudo-terminals made by
// script(1).
import { existsSync } from 'node:fs';
import { afterEach, expect, test } from 'vitest';
import {
  Proc, checkpointImages, childEnv, cleanup, cliArgv, kill9, sequenceValues, startCoordinator, waitForValueAbove,
} from '@dmtcp/core/testing';
import { fileMessages, fixture, pluginArgs } from './helpers.ts';

afterEach(cleanup);

const OK = /^ok (\d+) /;
const SCRIPT = '/usr/bin/script';

const quote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/** `dmtcp ARGS` on a fresh pseudo-terminal; its output comes back through script. */
function onTerminal(args: string[], label: string): Proc {
  const cmd = [...cliArgv(), ...args].map(quote).join(' ');
  return new Proc([SCRIPT, '-qfec', cmd, '/dev/null'], { env: childEnv(), label });
}

function last(proc: Proc): string {
  return proc.lines().filter((l) => OK.test(l)).at(-1) ?? '';
}

test.skipIf(!existsSync(SCRIPT))('restarted on a new terminal, the program uses it, in the mode it had set', async () => {
  const exe = await fixture('tty.c');
  const coord = await startCoordinator();
  const common = ['--join-coordinator', '--coord-port', String(coord.port)];
  let proc = onTerminal(['launch', ...common, '--ckptdir', coord.ckptDir, ...(await pluginArgs()), exe], 'launch tty');
  await proc.waitForLine(/^ok 5 /);
  const first = /tty=(\S+)/.exec(last(proc))?.[1];
  expect(last(proc)).toMatch(/^ok \d+ tty=\/dev\/pts\/\d+ echo=off icanon=off fd5=same fd6=tty$/);
  for (let i = 0; i < 2; i++) {
    const { images } = await checkpointImages(coord);
    expect(images).toHaveLength(1);
    await waitForValueAbove(proc, OK, sequenceValues(proc, OK).at(-1) ?? 0);
    await kill9(proc);
    proc = onTerminal(['restart', ...common, ...images], 'restart tty');
    await proc.waitUntil(() => (sequenceValues(proc, OK).length >= 5 ? true : undefined), 'waiting for the restarted program');
    expect(last(proc)).toMatch(/^ok \d+ tty=\/dev\/pts\/\d+ echo=off icanon=off fd5=same fd6=tty$/);
    expect(proc.lines().filter((l) => l.startsWith('FAIL'))).toEqual([]);
    expect(fileMessages(proc)).toEqual([]);
  }
  expect(first).toBeDefined();
});
