// Pieces shared by several commands: output, host resolution, finding or
// starting the coordinator, and handing the process over with execve.
import { spawn } from 'node:child_process';
import { lookup } from 'node:dns/promises';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { isIPv4 } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { CliError, formatAddress } from './args.ts';
import { paths } from '../paths.ts';
import { probeCoordinator } from '../protocol/client.ts';

export interface CliIO {
  out(line: string): void;
  err(line: string): void;
  env: NodeJS.ProcessEnv;
  cwd: string;
}

/** A command: gets the arguments after its name, returns the exit status. */
export type CommandMain = (argv: string[], io: CliIO) => Promise<number>;

export function errorMessage(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.split('\n')[0] ?? msg;
}

/** Numeric IPv4 for a host name: the runtime is handed an address, never a name. */
export async function resolveIPv4(host: string): Promise<string> {
  if (host === 'localhost') return '127.0.0.1';
  if (isIPv4(host)) return host;
  try {
    const { address } = await lookup(host, { family: 4 });
    return address;
  } catch {
    throw new CliError(`cannot resolve coordinator host ${host}`);
  }
}

/** Whether a coordinator listening on `ip` could be started on this machine. */
export function isLocalAddress(ip: string): boolean {
  if (ip.startsWith('127.') || ip === '0.0.0.0') return true;
  for (const addrs of Object.values(os.networkInterfaces())) {
    for (const a of addrs ?? []) if (a.address === ip) return true;
  }
  return false;
}

/** Absolute checkpoint directory, created when missing. */
export function prepareCkptDir(dir: string, cwd: string): string {
  const abs = path.resolve(cwd, dir);
  try {
    mkdirSync(abs, { recursive: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new CliError(`cannot create checkpoint directory ${abs} (${code ?? errorMessage(err)})`);
  }
  if (!statSync(abs).isDirectory()) throw new CliError(`checkpoint directory ${abs} is not a directory`);
  return abs;
}

export type CoordinatorMode = 'join' | 'new' | 'auto';

export interface CoordinatorTarget {
  /** as the user named it, for messages */
  host: string;
  /** numeric IPv4 */
  ip: string;
  port: number;
}

export interface EnsureOptions {
  mode: CoordinatorMode;
  interval?: number;
  ckptDir?: string;
}

export interface EnsuredCoordinator {
  /** true when this call started it (it exits with the last process) */
  started: boolean;
}

/**
 * Makes sure a coordinator answers at target: joins a running one, or starts
 * one that exits with the computation, as `mode` allows.
 */
export async function ensureCoordinator(target: CoordinatorTarget, opts: EnsureOptions): Promise<EnsuredCoordinator> {
  const where = formatAddress(target.host, target.port);
  const state = await probeCoordinator(target.ip, target.port);
  if (state === 'other') throw new CliError(`something else is listening on ${where}`);
  if (state === 'coordinator') {
    if (opts.mode === 'new') throw new CliError(`port ${target.port} is already in use (a coordinator is running at ${where})`);
    return { started: false };
  }
  if (opts.mode === 'join') throw new CliError(`no coordinator running at ${where}`);
  if (!isLocalAddress(target.ip)) {
    throw new CliError(`no coordinator running at ${where}, and one cannot be started here for another host`);
  }
  try {
    await startDaemonCoordinator({ ip: target.ip, port: target.port, exitOnLast: true, ...opts });
    return { started: true };
  } catch (err) {
    // Another launch may have started one between our probe and our bind.
    if (opts.mode === 'auto' && (await probeCoordinator(target.ip, target.port)) === 'coordinator') {
      return { started: false };
    }
    throw err;
  }
}

export interface DaemonOptions {
  ip: string;
  port: number;
  exitOnLast?: boolean;
  interval?: number;
  ckptDir?: string;
}

/**
 * Starts `dmtcp coordinator --daemon` and waits for it to report. That
 * intermediate process exits once the real coordinator listens, so the
 * coordinator is never a child of the program we are about to exec (a program
 * that waits for all its children would otherwise wait for it).
 */
export async function startDaemonCoordinator(opts: DaemonOptions): Promise<number> {
  if (!existsSync(paths.cli)) throw new CliError(`CLI bundle ${paths.cli} is missing; run the build`);
  const args = [paths.cli, 'coordinator', '--daemon', '--no-log-file', '--coord-host', opts.ip, '--coord-port', String(opts.port)];
  if (opts.exitOnLast) args.push('--exit-on-last');
  if (opts.interval !== undefined) args.push('--interval', String(opts.interval));
  if (opts.ckptDir !== undefined) args.push('--ckptdir', opts.ckptDir);

  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const status = await new Promise<number>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
  if (status !== 0) {
    const line = stderr.trim().split('\n').pop() ?? '';
    const why = line.replace(/^dmtcp coordinator: /, '') || `exited with status ${status}`;
    throw new CliError(`cannot start a coordinator: ${why}`);
  }
  const port = Number(stdout.trim());
  if (!Number.isInteger(port) || port <= 0) throw new CliError('cannot start a coordinator: it reported no port');
  return port;
}

/** Environment as a list for execve, in a stable order. */
export function envList(env: NodeJS.ProcessEnv): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(env)) if (v !== undefined) out.push(`${k}=${v}`);
  return out;
}
