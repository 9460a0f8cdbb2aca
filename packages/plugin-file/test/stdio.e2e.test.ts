// stdin and stdout on pipes or sockets to processes outside the
// computation (`cat | dmtcp launch prog | cat`, a log collector's socket):
// after a restart from a new pipeline, every process of the computation
// writes to the new stdout and the parent reads the new stdin, the numbering
// going on from the checkpoint. One child holds the stdout pipe at fd 10
// only (its fd 1 on /dev/null, as a shell leaves things around a
// redirection): it writes to the new stdout too, since its parent had that
// description on fd 1.
import { once } from 'node:events';
import { chmod } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { afterEach, expect, test } from 'vitest';
import {
  Proc, checkpointImages, childEnv, cleanup, cliArgv, kill9, makeTmpDir, startCoordinator, userArgv, type CoordinatorRef,
  type RunAs,
} from '@dmtcp/core/testing';
import { fixture, pluginArgs, problems, waitFor } from './helpers.ts';

const servers: net.Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) s.close();
  await cleanup();
});

const ROLES = ['parent', 'child', 'saved'] as const;

/** Accepts connections on a Unix socket and splits what arrives into lines. */
async function lineServer(file: string): Promise<{ lines: () => string[] }> {
  const got: string[] = [];
  let partial = '';
  const server = net.createServer((sock) => {
    sock.setEncoding('latin1');
    sock.on('data', (chunk: string) => {
      const parts = (partial + chunk).split('\n');
      partial = parts.pop() ?? '';
      got.push(...parts);
    });
    sock.on('error', () => {
      // the writer is killed -9 mid-line: what arrived is what counts
    });
  });
  servers.push(server);
  server.listen(file);
  await once(server, 'listening');
  await chmod(file, 0o777); // the unprivileged run connects too
  return { lines: () => [...got] };
}

interface Run {
  proc: Proc;
  lines: () => string[];
}

type Outlet = 'pipe' | 'socket';

/** `dmtcp ARGS` with stdin a pipe from `cat` and stdout a pipe to `cat`, or stdout a socket to a server of the test. */
async function start(outlet: Outlet, dmtcpArgs: readonly string[], dir: string, n: number, user?: RunAs): Promise<Run> {
  const dmtcp = [...cliArgv(), ...dmtcpArgs];
  if (outlet === 'pipe') {
    const proc = new Proc([...userArgv(user), '/bin/sh', '-c', 'cat | "$@" | cat', 'sh', ...dmtcp], {
      env: childEnv(), label: `cat | dmtcp ${dmtcpArgs[0]} | cat`,
    });
    return { proc, lines: () => proc.lines() };
  }
  const sock = path.join(dir, `out${n}.sock`);
  const server = await lineServer(sock);
  const connect = await fixture('connect-stdout.c');
  const proc = new Proc([...userArgv(user), connect, sock, ...dmtcp], { env: childEnv(), label: `dmtcp ${dmtcpArgs[0]} >socket` });
  return { proc, lines: server.lines };
}

function values(lines: readonly string[], role: string): number[] {
  const re = new RegExp(`^${role} (\\d+)$`);
  return lines.flatMap((l) => {
    const m = re.exec(l);
    return m ? [Number(m[1])] : [];
  });
}

const last = (run: Run, role: string): number => values(run.lines(), role).at(-1) ?? 0;

function describe(run: Run): string {
  return `${run.proc.describe()}\n--- stdout (last 10 lines) ---\n${run.lines().slice(-10).join('\n')}`;
}

function waitForAll(run: Run, what: string, ok: (role: string, vals: number[]) => boolean): Promise<true> {
  return waitFor(() => (ROLES.every((r) => ok(r, values(run.lines(), r))) ? true : undefined), what, () => describe(run));
}

async function ping(run: Run, text: string): Promise<void> {
  run.proc.child.stdin?.write(`${text}\n`);
  await waitFor(() => (run.lines().includes(`got ${text}`) ? true : undefined), `waiting for "got ${text}"`, () => describe(run));
}

async function scenario(outlet: Outlet, user: RunAs | undefined): Promise<void> {
  const exe = await fixture('stdio-pipes.c');
  const coord: CoordinatorRef = await startCoordinator();
  const dir = await makeTmpDir('file-stdio-');
  const launchArgs = ['launch', '--join-coordinator', '--coord-port', String(coord.port), '--ckptdir', coord.ckptDir, ...(await pluginArgs()), exe];
  let run = await start(outlet, launchArgs, dir, 0, user);
  await waitForAll(run, 'waiting for 20 lines of each process', (_r, v) => v.length >= 20);
  await ping(run, 'ping 0');
  for (let round = 1; round <= 3; round++) {
    const atCheckpoint = Object.fromEntries(ROLES.map((r) => [r, last(run, r)]));
    const { images } = await checkpointImages(coord);
    expect(images).toHaveLength(3);
    await waitForAll(run, 'waiting for 5 more lines of each after the checkpoint', (r, v) => (v.at(-1) ?? 0) >= (atCheckpoint[r] ?? 0) + 5);
    await kill9(run.proc);
    const atKill = Object.fromEntries(ROLES.map((r) => [r, last(run, r)]));
    run = await start(outlet, ['restart', '--join-coordinator', '--coord-port', String(coord.port), ...images], dir, round, user);
    await waitForAll(run, 'waiting for 15 lines of each after restart', (_r, v) => v.length >= 15);
    for (const role of ROLES) {
      const v = values(run.lines(), role);
      const first = v[0] as number;
      // Where the checkpoint found it: after what it had written when the
      // checkpoint was asked for, at most one past what it wrote before the kill.
      expect(first, `${role}: first line after restart ${round}`).toBeGreaterThan(atCheckpoint[role] ?? 0);
      expect(first, `${role}: first line after restart ${round}`).toBeLessThanOrEqual((atKill[role] ?? 0) + 1);
      expect(v, `${role}: consecutive after restart ${round}`).toEqual(v.map((_, i) => first + i));
    }
    await ping(run, `ping ${round}`);
    expect(run.proc.stderr()).not.toMatch(/FAIL/);
    expect(problems(run.proc)).toEqual([]);
  }
}

test.each([
  ['as root', undefined],
  ['as an unprivileged user', 'nobody' as const],
])('cat | dmtcp launch prog | cat, restarted from a new pipeline, three times: %s', async (_what, user) => {
  await scenario('pipe', user);
});

test.each([
  ['as root', undefined],
  ['as an unprivileged user', 'nobody' as const],
])('stdout a Unix socket to a server outside, restarted on a new connection, three times: %s', async (_what, user) => {
  await scenario('socket', user);
});
