// An interactive program launched in a tmux pane, checkpointed, killed and
// restarted in another pane, twice: it answers what is typed in the new
// pane, from the state of the checkpoint, with the terminal settings it had
// made. tmux is not installed by the tests: without it the check is skipped.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { afterEach, expect, test } from 'vitest';
import { checkpointImages, childEnv, cleanup, cliArgv, makeTmpDir, startCoordinator } from '@dmtcp/core/testing';
import { fixture, pluginArgs, waitFor } from './helpers.ts';

afterEach(cleanup);

function hasTmux(): boolean {
  try {
    execFileSync('sh', ['-c', 'command -v tmux'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const TMUX = hasTmux();
if (!TMUX) console.warn('tmux.e2e: skipped: tmux is not installed (command -v tmux found nothing)');

const quote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

test.skipIf(!TMUX)('an interactive program in tmux, restarted in another pane, goes on answering there', async () => {
  const exe = await fixture('repl.c');
  const coord = await startCoordinator();
  const dir = await makeTmpDir('file-tmux-');
  const sock = path.join(dir, 'tmux.sock');
  const env = childEnv();
  const tmux = (...args: string[]): string =>
    execFileSync('tmux', ['-S', sock, '-f', '/dev/null', ...args], { env, encoding: 'utf8' }).trim();
  const screen = (pane: string): string => tmux('capture-pane', '-p', '-t', pane);
  const waitScreen = (pane: string, re: RegExp, what: string): Promise<string> =>
    waitFor(() => (re.test(screen(pane)) ? screen(pane) : undefined), what, () => `pane ${pane}:\n${screen(pane)}`);
  const dmtcp = (args: string[]): string => [...cliArgv(), ...args].map(quote).join(' ');
  const common = ['--join-coordinator', '--coord-port', String(coord.port)];
  let pane = '';
  const killPane = (): void => {
    // The pane's process group: the program (its pid changes at each restart).
    process.kill(-Number(tmux('display-message', '-p', '-t', pane, '#{pane_pid}')), 'SIGKILL');
  };
  try {
    // A session that outlives the program's panes, for the restarts to open theirs in.
    tmux('new-session', '-d', '-s', 'keep', '-x', '120', '-y', '30', 'cat');
    pane = tmux('new-window', '-d', '-t', 'keep', '-P', '-F', '#{pane_id}',
      dmtcp(['launch', ...common, '--ckptdir', coord.ckptDir, ...(await pluginArgs()), exe]));
    await waitScreen(pane, /^ready 1>$/m, 'waiting for the first prompt');
    tmux('send-keys', '-t', pane, 'abc', 'Enter');
    await waitScreen(pane, /^answer 1: cba \(termios ok\)$/m, 'waiting for answer 1');
    let answered = 1;
    for (let cycle = 1; cycle <= 2; cycle++) {
      const { images } = await checkpointImages(coord);
      expect(images).toHaveLength(1);
      // Typed after the checkpoint: forgotten by the restart.
      tmux('send-keys', '-t', pane, 'lost', 'Enter');
      await waitScreen(pane, new RegExp(`^answer ${answered + 1}: tsol`, 'm'), 'waiting for the answer after the checkpoint');
      killPane();
      pane = tmux('new-window', '-d', '-t', 'keep', '-P', '-F', '#{pane_id}', dmtcp(['restart', ...common, ...images]));
      const word = `cycle${cycle}`;
      // The program comes back inside its read, with no new prompt; what is
      // typed meanwhile waits in the new terminal.
      tmux('send-keys', '-t', pane, word, 'Enter');
      const reversed = [...word].reverse().join('');
      const shown = await waitScreen(pane, new RegExp(`^answer ${answered + 1}: ${reversed} \\(termios ok\\)$`, 'm'), `waiting for answer ${answered + 1} in the new pane`);
      expect(shown).not.toMatch(/FAIL|dmtcp file:/);
      answered++;
      await waitScreen(pane, new RegExp(`^ready ${answered + 1}>$`, "m"), 'waiting for the next prompt');
    }
  } finally {
    try {
      if (pane) killPane();
    } catch {
      // gone already
    }
    try {
      tmux('kill-server');
    } catch {
      // the server may have exited with its last session
    }
  }
});
