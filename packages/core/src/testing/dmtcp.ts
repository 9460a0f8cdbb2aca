// Driving the dmtcp CLI: coordinators, launch, restart, commands and images.
import { readdir, readFile, stat } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { cliArgv, makeTmpDir } from './paths.ts';
import { Proc, formatStatus, type ExitStatus } from './proc.ts';
import { userArgv, type RunAs } from './user.ts';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

/** Where a computation's coordinator listens and where its images go. */
export interface CoordinatorRef {
  port: number;
  ckptDir: string;
}

export interface Coordinator extends CoordinatorRef {
  proc: Proc;
  /** Stop the coordinator (SIGTERM, then SIGKILL) and wait for it. */
  stop(): Promise<void>;
}

export interface CliOptions {
  env?: NodeJS.ProcessEnv;
  user?: RunAs;
  cwd?: string;
  label?: string;
  /** A command the CLI runs under, e.g. `unshare --time ...` (it must exec the CLI in place). */
  prefix?: readonly string[];
}

export interface CliResult extends ExitStatus {
  stdout: string;
  stderr: string;
}

/**
 * The environment for children: ours without DMTCP_* variables, so that a
 * test never joins a computation by accident, plus the caller's additions.
 */
export function childEnv(extra?: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('DMTCP_') || k === 'DMTCP_DEBUG') env[k] = v;
  }
  // Tests load exactly the plugins they name; scenarios that want the
  // installed built-ins pass DMTCP_BUILTIN_PLUGINS: '1'.
  return { DMTCP_BUILTIN_PLUGINS: '0', ...env, ...extra };
}

/** Start `dmtcp ARGS...` without waiting for it. */
export function startCli(args: readonly string[], opts: CliOptions = {}): Proc {
  return new Proc([...userArgv(opts.user), ...(opts.prefix ?? []), ...cliArgv(), ...args], {
    env: childEnv(opts.env),
    cwd: opts.cwd,
    label: opts.label ?? `dmtcp ${args.join(' ')}`,
  });
}

/** Run `dmtcp ARGS...` to completion (killed after timeoutMs). */
export async function runCli(args: readonly string[], opts: CliOptions & { timeoutMs?: number } = {}): Promise<CliResult> {
  const proc = startCli(args, opts);
  let status: ExitStatus;
  try {
    status = await proc.waitForExit(opts.timeoutMs ?? 60_000);
  } catch (e) {
    proc.signalGroup('SIGKILL');
    throw e;
  }
  return { ...status, stdout: proc.lines().join('\n'), stderr: proc.stderr() };
}

/** Coordinators started by startCoordinator(), by port, so errors can show their log. */
const coordinatorsByPort = new Map<number, Proc>();

function relateToCoordinator(proc: Proc, port: number): Proc {
  const coord = coordinatorsByPort.get(port);
  if (coord) proc.relate(coord);
  return proc;
}

function cliFailure(what: string, res: CliResult, port?: number): Error {
  const coord = port === undefined ? undefined : coordinatorsByPort.get(port);
  const log = coord ? `\n=== coordinator: ${coord.describe(20, false)}` : '';
  return new Error(`${what} failed: ${formatStatus(res)}\n--- stdout ---\n${res.stdout}\n--- stderr ---\n${res.stderr}${log}`);
}

/** Parse the JSON object a command printed: the whole output, or else its last line that parses. */
export function parseJsonOutput(stdout: string, what: string): JsonObject {
  const candidates = [stdout.trim(), ...stdout.trim().split('\n').reverse()];
  for (const text of candidates) {
    if (!text.startsWith('{')) continue;
    try {
      const value: unknown = JSON.parse(text);
      if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as JsonObject;
    } catch {
      // try the next candidate
    }
  }
  throw new Error(`${what}: no JSON object in the output:\n${stdout}`);
}

async function readPort(file: string): Promise<number | undefined> {
  const text = await readFile(file, 'utf8').catch(() => '');
  const m = /^\s*(\d+)\s*$/.exec(text);
  if (!m) return undefined;
  const port = Number(m[1]);
  return port > 0 && port < 65536 ? port : undefined;
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    sock.once('connect', () => {
      sock.destroy();
      resolve(true);
    });
    sock.once('error', () => resolve(false));
  });
}

export interface StartCoordinatorOptions {
  /** Use this image dir instead of a fresh tmp dir. */
  ckptDir?: string;
  /** More coordinator options, e.g. ['--interval', '5']. */
  args?: readonly string[];
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
}

/**
 * Start `dmtcp coordinator` on a port of its choosing, with a fresh
 * world-writable image dir; resolves once it accepts connections.
 */
export async function startCoordinator(opts: StartCoordinatorOptions = {}): Promise<Coordinator> {
  const ckptDir = opts.ckptDir ?? (await makeTmpDir('dmtcp-ckpt-'));
  const portFile = path.join(await makeTmpDir('dmtcp-coord-'), 'port');
  const proc = startCli(
    ['coordinator', '--coord-port', '0', '--port-file', portFile, '--ckptdir', ckptDir, ...(opts.args ?? [])],
    { env: opts.env, label: 'dmtcp coordinator' },
  );
  const timeoutMs = opts.timeoutMs ?? 15_000;
  const deadline = Date.now() + timeoutMs;
  let port: number | undefined;
  while (port === undefined) {
    const candidate = await readPort(portFile);
    if (candidate !== undefined && (await canConnect(candidate))) port = candidate;
    else {
      if (!proc.running) throw new Error(`the coordinator ended before writing ${portFile}\n${proc.describe()}`);
      if (Date.now() > deadline) {
        proc.signalGroup('SIGKILL');
        throw new Error(`timed out after ${timeoutMs} ms waiting for the coordinator's port file ${portFile}\n${proc.describe()}`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  const chosen = port;
  coordinatorsByPort.set(chosen, proc);
  void proc.done.then(() => {
    if (coordinatorsByPort.get(chosen) === proc) coordinatorsByPort.delete(chosen);
  });
  return {
    port: chosen,
    ckptDir,
    proc,
    async stop() {
      if (!proc.running) return;
      proc.signalGroup('SIGTERM');
      try {
        await proc.waitForExit(3_000);
      } catch {
        await proc.kill9();
      }
    },
  };
}

export interface LaunchOptions extends CoordinatorRef {
  env?: NodeJS.ProcessEnv;
  user?: RunAs;
  cwd?: string;
  /** More launch options, placed before the program. */
  args?: readonly string[];
  prefix?: readonly string[];
}

/** `dmtcp launch` PROG under the given coordinator; the handle's pid is the target's. */
export function launch(prog: string, args: readonly string[], opts: LaunchOptions): Proc {
  const cli = [
    'launch', '--join-coordinator', '--coord-port', String(opts.port), '--ckptdir', opts.ckptDir,
    ...(opts.args ?? []), prog, ...args,
  ];
  const proc = startCli(cli, {
    env: opts.env, user: opts.user, cwd: opts.cwd, prefix: opts.prefix, label: `launch ${path.basename(prog)}`,
  });
  return relateToCoordinator(proc, opts.port);
}

export interface RestartOptions {
  port: number;
  /** Write later images here instead of the checkpointed directory. */
  ckptDir?: string;
  env?: NodeJS.ProcessEnv;
  user?: RunAs;
  cwd?: string;
  args?: readonly string[];
}

/** `dmtcp restart` the images, joining the given coordinator; continues on the handle's stdout. */
export function restart(imageFiles: readonly string[], opts: RestartOptions): Proc {
  if (imageFiles.length === 0) throw new Error('restart: no images given');
  const cli = [
    'restart', '--join-coordinator', '--coord-port', String(opts.port),
    ...(opts.ckptDir ? ['--ckptdir', opts.ckptDir] : []), ...(opts.args ?? []), ...imageFiles,
  ];
  const proc = startCli(cli, {
    env: opts.env, user: opts.user, cwd: opts.cwd,
    label: `restart ${imageFiles.map((f) => path.basename(f)).join(' ')}`,
  });
  return relateToCoordinator(proc, opts.port);
}

/** Run a `dmtcp command` with --json and return its parsed reply; throws on a non-zero exit. */
export async function command(port: number, flags: readonly string[], opts: CliOptions & { timeoutMs?: number } = {}): Promise<JsonObject> {
  const args = ['command', '--coord-port', String(port), ...flags, '--json'];
  const res = await runCli(args, opts);
  if (res.code !== 0) throw cliFailure(`dmtcp ${args.join(' ')}`, res, port);
  return parseJsonOutput(res.stdout, `dmtcp ${args.join(' ')}`);
}

/** `dmtcp command -c --json`: returns once every image is on disk. */
export function checkpoint(port: number, opts: CliOptions & { timeoutMs?: number } = {}): Promise<JsonObject> {
  return command(port, ['--checkpoint'], { timeoutMs: 120_000, ...opts });
}

export interface StatusReply extends JsonObject {
  num_processes: number;
  running: boolean;
}

export async function status(port: number, opts: CliOptions & { timeoutMs?: number } = {}): Promise<StatusReply> {
  const reply = await command(port, ['--status'], opts);
  if (typeof reply.num_processes !== 'number' || typeof reply.running !== 'boolean') {
    throw new Error(`dmtcp command --status --json: expected num_processes (number) and running (boolean), got ${JSON.stringify(reply)}`);
  }
  return reply as StatusReply;
}

/**
 * Poll the coordinator until `num_processes` is n (processes connect and
 * leave asynchronously). `watch`: a process whose output the timeout error
 * shows (say, the restart that should bring them back).
 */
export async function waitForProcesses(
  port: number,
  n: number,
  opts: { timeoutMs?: number; watch?: Proc } = {},
): Promise<StatusReply> {
  const timeoutMs = opts.timeoutMs ?? 15_000;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = await status(port);
    if (s.num_processes === n) return s;
    if (Date.now() > deadline) {
      const watched = opts.watch ? `\n${opts.watch.describe()}\n${await describeTree(opts.watch.pid)}` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${n} processes at the coordinator on port ${port}; last status ${JSON.stringify(s)}${watched}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

interface TaskStat { ppid: number; state: string; comm: string }

async function taskStat(dir: string): Promise<TaskStat | null> {
  try {
    const text = await readFile(`${dir}/stat`, 'utf8');
    const close = text.lastIndexOf(')');
    const fields = text.slice(close + 2).split(' ');
    return { comm: text.slice(text.indexOf('(') + 1, close), state: fields[0] ?? '?', ppid: Number(fields[1]) };
  } catch {
    return null;
  }
}

/** The processes below `root` (not `root` itself), as this pid namespace
 *  numbers them, with what /proc says of each. */
export async function descendants(root: number): Promise<Map<number, TaskStat>> {
  const procs = new Map<number, TaskStat>();
  for (const name of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(name)) continue;
    const s = await taskStat(`/proc/${name}`);
    if (s) procs.set(Number(name), s);
  }
  const below = new Map<number, TaskStat>();
  for (let grew = true; grew;) {
    grew = false;
    for (const [pid, s] of procs) {
      if (!below.has(pid) && (s.ppid === root || below.has(s.ppid))) {
        below.set(pid, s);
        grew = true;
      }
    }
  }
  return below;
}

/** Every task below `root` with its state and where the kernel has it
 *  waiting: what a hung restart looks like from outside. */
async function describeTree(root: number): Promise<string> {
  const wchan = (dir: string): Promise<string> => readFile(`${dir}/wchan`, 'utf8').catch(() => '?');
  const lines = ['--- tasks below the watched process (pid ppid state wchan comm; threads indented) ---'];
  const self = await taskStat(`/proc/${root}`);
  const tasks = [...(self ? [[root, self] as const] : []), ...(await descendants(root))].sort(([a], [b]) => a - b);
  for (const [pid, s] of tasks) {
    lines.push(`${pid} ${s.ppid} ${s.state} ${await wchan(`/proc/${pid}`)} ${s.comm}`);
    for (const tid of await readdir(`/proc/${pid}/task`).catch(() => [] as string[])) {
      if (Number(tid) === pid) continue;
      const t = await taskStat(`/proc/${pid}/task/${tid}`);
      if (t) lines.push(`  ${tid} ${t.state} ${await wchan(`/proc/${pid}/task/${tid}`)} ${t.comm}`);
    }
  }
  return lines.join('\n');
}

/** SIGKILL a target (its whole process group) and wait for it to be gone. */
export function kill9(handle: Proc): Promise<ExitStatus> {
  return handle.kill9();
}

export const IMAGE_RE = /^ckpt_.+\.dmtcp$/;

/** The complete images in a directory (no temporaries), as sorted absolute paths. */
export async function images(ckptDir: string): Promise<string[]> {
  const names = await readdir(ckptDir).catch(() => [] as string[]);
  return names.filter((n) => IMAGE_RE.test(n)).sort().map((n) => path.join(ckptDir, n));
}

export interface CheckpointResult {
  reply: JsonObject;
  /** The images this checkpoint wrote, as the coordinator reports them. */
  images: string[];
}

/** Checkpoint and report which image files the checkpoint wrote. */
export async function checkpointImages(coord: CoordinatorRef, opts: CliOptions & { timeoutMs?: number } = {}): Promise<CheckpointResult> {
  const reply = await checkpoint(coord.port, opts);
  const listed = reply.images;
  if (!Array.isArray(listed) || !listed.every((f): f is string => typeof f === 'string')) {
    throw new Error(`dmtcp command -c --json: no image list in ${JSON.stringify(reply)}`);
  }
  // Every image the coordinator reports must really be there.
  for (const f of listed) await stat(f);
  return { reply, images: [...listed].sort() };
}

/** `dmtcp image inspect IMAGE --json`. */
export async function inspectImage(file: string, opts: CliOptions = {}): Promise<JsonObject> {
  const res = await runCli(['image', 'inspect', file, '--json'], opts);
  if (res.code !== 0) throw cliFailure(`dmtcp image inspect ${file}`, res);
  return parseJsonOutput(res.stdout, `dmtcp image inspect ${file}`);
}
