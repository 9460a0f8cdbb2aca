// `dmtcp coordinator`: runs the coordinator in the foreground, or with
// --daemon starts it in its own session and returns once it listens.
import { spawn } from 'node:child_process';
import { closeSync, openSync, renameSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import {
  COMMON_OPTIONS,
  CliError,
  UsageError,
  coordAddress,
  formatAddress,
  formatOptions,
  parseArgs,
  parseInterval,
} from '../args.ts';
import { errorMessage, prepareCkptDir, resolveIPv4 } from '../common.ts';
import type { CliIO } from '../common.ts';
import { startCoordinator } from '../../coordinator/index.ts';
import { paths } from '../../paths.ts';

const OPTIONS = {
  ckptdir: { type: 'string', arg: 'D', help: 'also write dmtcp_restart_script.sh here (images go where each process was launched with --ckptdir)' },
  daemon: { type: 'boolean', help: 'run in the background; print the port once it listens' },
  'exit-on-last': { type: 'boolean', help: 'exit when the last process of the computation exits' },
  interval: { type: 'string', short: 'i', arg: 'S', help: 'checkpoint every S seconds (0: only on request)' },
  'port-file': { type: 'string', arg: 'F', help: 'write the port it listens on to F (useful with --coord-port 0)' },
  // The --daemon parent hands this to its child to learn when it listens.
  'ready-fd': { type: 'string', hidden: true },
  // Coordinators started by launch/restart keep the checkpoint directory
  // free of anything but images (unless DMTCP_DEBUG=1).
  'no-log-file': { type: 'boolean', hidden: true },
  ...COMMON_OPTIONS,
} as const;

const USAGE = `usage: dmtcp coordinator [options]

Runs the coordinator of a computation: the processes of the computation
connect to it, and dmtcp command talks to it. It listens on 127.0.0.1 unless
--coord-host says otherwise.

options:
${formatOptions(OPTIONS)}`;

/** How long --daemon waits for its child to listen before giving up. */
const DAEMON_READY_TIMEOUT_MS = 10_000;

interface Readiness {
  port?: number;
  error?: string;
}

function listenError(err: unknown, host: string, port: number): CliError {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const where = formatAddress(host, port);
  switch (code) {
    case 'EADDRINUSE':
      return new CliError(`port ${port} is already in use`);
    case 'EACCES':
      return new CliError(`cannot listen on ${where} (permission denied)`);
    case 'EADDRNOTAVAIL':
      return new CliError(`cannot listen on ${where} (not an address of this host)`);
    default:
      return new CliError(`cannot listen on ${where} (${errorMessage(err)})`);
  }
}

/** Written whole or not at all, so a reader polling for it never sees half a port. */
function writePortFile(file: string, port: number): void {
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, `${port}\n`);
    renameSync(tmp, file);
  } catch (err) {
    throw new CliError(`cannot write port file ${file} (${(err as NodeJS.ErrnoException).code ?? errorMessage(err)})`);
  }
}

function tellParent(fd: number | undefined, msg: Readiness): void {
  if (fd === undefined) return;
  try {
    writeSync(fd, JSON.stringify(msg) + '\n');
    closeSync(fd);
  } catch {
    // the parent gave up waiting; nothing to tell
  }
}

async function runForeground(
  host: string,
  port: number,
  opts: { ckptDir?: string; exitOnLast: boolean; interval?: number; portFile?: string; readyFd?: number },
  io: CliIO,
): Promise<number> {
  let handle: Awaited<ReturnType<typeof startCoordinator>>;
  try {
    handle = await startCoordinator({
      host,
      port,
      ckptDir: opts.ckptDir,
      exitOnLast: opts.exitOnLast,
      interval: opts.interval,
      log: (line) => io.out(line),
    });
  } catch (err) {
    const e = listenError(err, host, port);
    tellParent(opts.readyFd, { error: e.message });
    throw e;
  }
  try {
    if (opts.portFile) writePortFile(opts.portFile, handle.port);
  } catch (err) {
    tellParent(opts.readyFd, { error: errorMessage(err) });
    await handle.close();
    throw err;
  }
  io.out(`dmtcp coordinator listening on ${formatAddress(host, handle.port)} (pid ${process.pid})`);
  tellParent(opts.readyFd, { port: handle.port });

  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    void handle.close();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  // A daemon has no terminal; a foreground one stops with its terminal.
  process.on('SIGHUP', stop);
  await handle.closed;
  return 0;
}

function readLine(stream: Readable, timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    let buf = '';
    const done = (line: string | undefined): void => {
      clearTimeout(timer);
      stream.removeAllListeners('data');
      resolve(line);
    };
    const timer = setTimeout(() => done(undefined), timeoutMs);
    stream.setEncoding('utf8');
    stream.on('data', (d: string) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl >= 0) done(buf.slice(0, nl));
    });
    stream.on('end', () => done(buf || undefined));
    stream.on('error', () => done(undefined));
  });
}

async function runDaemon(
  host: string,
  port: number,
  opts: { ckptDir?: string; exitOnLast: boolean; interval?: number; portFile?: string; logFile: boolean },
  io: CliIO,
): Promise<number> {
  const args = [paths.cli, 'coordinator', '--coord-host', host, '--coord-port', String(port), '--ready-fd', '3'];
  if (opts.ckptDir !== undefined) args.push('--ckptdir', opts.ckptDir);
  if (opts.exitOnLast) args.push('--exit-on-last');
  if (opts.interval !== undefined) args.push('--interval', String(opts.interval));
  if (opts.portFile !== undefined) args.push('--port-file', opts.portFile);

  let log: number | 'ignore' = 'ignore';
  if (opts.ckptDir !== undefined && opts.logFile) {
    const file = path.join(opts.ckptDir, 'dmtcp-coordinator.log');
    try {
      log = openSync(file, 'a');
    } catch (err) {
      throw new CliError(`cannot open log file ${file} (${(err as NodeJS.ErrnoException).code ?? errorMessage(err)})`);
    }
  }
  const child = spawn(process.execPath, args, {
    detached: true,
    cwd: '/',
    stdio: ['ignore', log, log, 'pipe'],
  });
  if (typeof log === 'number') closeSync(log);
  const spawnFailed = new Promise<string>((resolve) => child.on('error', (err) => resolve(errorMessage(err))));
  const exited = new Promise<string>((resolve) =>
    child.on('exit', (code, signal) => resolve(`it exited during startup (${signal ?? `status ${code}`})`)),
  );
  const pipe = child.stdio[3] as Readable;
  const line = await readLine(pipe, DAEMON_READY_TIMEOUT_MS);
  pipe.destroy();

  let msg: Readiness = {};
  try {
    if (line) msg = JSON.parse(line) as Readiness;
  } catch {
    msg = {};
  }
  if (typeof msg.port === 'number') {
    child.unref();
    io.out(String(msg.port));
    return 0;
  }
  if (msg.error) throw new CliError(msg.error);
  if (line === undefined && child.exitCode === null && child.signalCode === null) {
    child.kill('SIGTERM');
    throw new CliError(`the coordinator did not start listening within ${DAEMON_READY_TIMEOUT_MS / 1000} s`);
  }
  throw new CliError(`cannot start the coordinator: ${await Promise.race([spawnFailed, exited])}`);
}

export async function main(argv: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseArgs(argv, OPTIONS);
  if (values.help) {
    io.out(USAGE);
    return 0;
  }
  if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
  const coord = coordAddress(values, io.env, { allowPortZero: true });
  // Bind to loopback unless told otherwise on this command line: a
  // DMTCP_COORD_HOST meant for clients should not open the port to the network.
  const host = coord.hostFromFlag ? await resolveIPv4(coord.host) : '127.0.0.1';
  const interval = values.interval === undefined ? undefined : parseInterval(values.interval, '--interval');
  const ckptDir = values.ckptdir === undefined ? undefined : prepareCkptDir(values.ckptdir, io.cwd);
  const portFile = values['port-file'] === undefined ? undefined : path.resolve(io.cwd, values['port-file']);
  let readyFd: number | undefined;
  if (values['ready-fd'] !== undefined) {
    readyFd = Number(values['ready-fd']);
    if (!Number.isInteger(readyFd) || readyFd < 0) throw new UsageError('invalid --ready-fd');
  }
  const opts = { ckptDir, exitOnLast: values['exit-on-last'] === true, interval, portFile };
  if (values.daemon) {
    const logFile = !values['no-log-file'] || io.env['DMTCP_DEBUG'] === '1';
    return runDaemon(host, coord.port, { ...opts, logFile }, io);
  }
  return runForeground(host, coord.port, { ...opts, readyFd }, io);
}
