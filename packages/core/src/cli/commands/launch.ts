// `dmtcp launch [options] [--] PROG ARGS...`: becomes PROG (same pid, via
// execve) with the runtime preloaded and pointed at a coordinator, starting
// one that exits with the computation when none is running.
import { accessSync, constants as fsConstants, statSync } from 'node:fs';
import path from 'node:path';
import {
  COMMON_OPTIONS,
  CliError,
  UsageError,
  coordAddress,
  formatOptions,
  parseArgs,
  parseInterval,
} from '../args.ts';
import { ensureCoordinator, envList, errorMessage, prepareCkptDir, resolveIPv4 } from '../common.ts';
import type { CliIO, CoordinatorMode } from '../common.ts';
import {
  DMTCP_ENV_CKPT_DIR,
  DMTCP_ENV_COORD_FD,
  DMTCP_ENV_COORD_HOST,
  DMTCP_ENV_COORD_PORT,
  DMTCP_ENV_PRELOAD,
  DMTCP_ENV_STRICT,
  DMTCP_ENV_UPID,
} from '../../generated/constants.ts';
import { isExecError, loadNative } from '../../native.ts';
import { paths } from '../../paths.ts';
import { PluginError } from '../../plugin/manifest.ts';
import { planPlugins } from '../../plugin/plan.ts';
import type { PluginEntry } from '../../plugin/registry.ts';
import { sendUserCommand } from '../../protocol/client.ts';
import {
  describeUnknownOption,
  everyOptionDef,
  formatPluginOptions,
  knownManifests,
  manifestsOf,
  pluginOptionSet,
  pluginOptionsEnv,
  sourcesOf,
  type PluginOptionSet,
} from '../plugin-options.ts';

const OPTIONS = {
  ckptdir: { type: 'string', arg: 'D', help: 'directory for checkpoint images (default: current directory)' },
  interval: { type: 'string', short: 'i', arg: 'S', help: 'checkpoint every S seconds (0: only on request)' },
  'join-coordinator': { type: 'boolean', short: 'j', help: 'use the running coordinator; fail if there is none' },
  'new-coordinator': { type: 'boolean', help: 'start a coordinator; fail if one is running' },
  'with-plugin': {
    type: 'string', multiple: true, arg: 'A.so:B.so',
    help: 'load these plugins (libraries or plugin package directories) first, in this order',
  },
  'disable-plugin': { type: 'string', multiple: true, arg: 'NAME', help: 'do not load the built-in plugin NAME' },
  strict: {
    type: 'boolean',
    help: 'fail a checkpoint (keeping the previous images) when a descriptor would not be restored; also DMTCP_STRICT=1',
  },
  ...COMMON_OPTIONS,
} as const;

const usage = (plugins: PluginOptionSet | null): string => `usage: dmtcp launch [options] [--] PROG [ARGS...]

Runs PROG under checkpoint control. Options end at PROG; what follows is
PROG's own command line. Without a running coordinator, one is started that
exits when the last process of the computation does.

options:
${formatOptions(OPTIONS)}${plugins ? formatPluginOptions(plugins) : ''}`;

/** The plugins the command line selects and the options they offer. The
 *  plugin selection must be read before those options are known, so the
 *  command line is read leniently until the selection stops changing. */
async function pluginsAndOptions(argv: readonly string[], io: Pick<CliIO, 'cwd' | 'env'>): Promise<{ plugins: PluginEntry[]; set: PluginOptionSet }> {
  const known = sourcesOf(knownManifests(paths.packageRoot, io.env));
  // Every option anyone declares, so the first look knows which take values.
  const everything = { ...OPTIONS, ...everyOptionDef(known, 'launch', OPTIONS) };
  let defs: typeof OPTIONS = everything as typeof OPTIONS;
  let last = '';
  for (let round = 0; ; round++) {
    const { values } = parseArgs(argv, defs, { stopAtPositional: true, stopAtUnknown: true });
    const selection = { 'with-plugin': values['with-plugin'] ?? [], 'disable-plugin': values['disable-plugin'] ?? [] };
    const key = JSON.stringify(selection);
    const plugins = await resolvePlugins(selection, io);
    const set = pluginOptionSet(sourcesOf(manifestsOf(plugins)), 'launch', OPTIONS);
    // Another look only when the plugins' own options may hide more of the selection.
    if (key === last || round >= 4 || Object.keys(set.defs).every((k) => Object.hasOwn(everything, k))) return { plugins, set };
    last = key;
    defs = { ...everything, ...set.defs } as typeof OPTIONS;
  }
}

/** Finds PROG as execvp would; exit statuses as a shell's (127 missing, 126 not executable). */
export function resolveProgram(prog: string, env: NodeJS.ProcessEnv, cwd: string): string {
  const check = (file: string): 'ok' | 'missing' | 'dir' | 'noexec' => {
    let st;
    try {
      st = statSync(file);
    } catch {
      return 'missing';
    }
    if (st.isDirectory()) return 'dir';
    try {
      accessSync(file, fsConstants.X_OK);
    } catch {
      return 'noexec';
    }
    return st.isFile() ? 'ok' : 'noexec';
  };

  if (prog === '') throw new CliError('empty program name', 127);
  if (prog.includes('/')) {
    const file = path.resolve(cwd, prog);
    const state = check(file);
    if (state === 'missing') throw new CliError(`${prog}: no such program`, 127);
    if (state === 'dir') throw new CliError(`${prog}: is a directory`, 126);
    if (state === 'noexec') throw new CliError(`${prog}: permission denied (not executable)`, 126);
    return file;
  }
  const search = env['PATH'] ?? '/usr/local/bin:/usr/bin:/bin';
  let denied = false;
  for (const dir of search.split(':')) {
    const file = path.resolve(cwd, dir || '.', prog);
    const state = check(file);
    if (state === 'ok') return file;
    if (state === 'noexec') denied = true;
  }
  if (denied) throw new CliError(`${prog}: permission denied (not executable)`, 126);
  throw new CliError(`${prog}: no such program`, 127);
}

/** The plugins to preload, in order, the core last; every library checked
 *  so that a bad one stops launch before anything has started. */
export async function resolvePlugins(
  values: { 'with-plugin'?: string[]; 'disable-plugin'?: string[] },
  io: Pick<CliIO, 'cwd' | 'env'>,
): Promise<PluginEntry[]> {
  try {
    return await planPlugins({
      withPlugin: values['with-plugin'] ?? [],
      disable: values['disable-plugin'] ?? [],
      cwd: io.cwd,
      env: io.env,
      coreRoot: paths.packageRoot,
      coreLib: paths.libdmtcp,
    });
  } catch (err) {
    if (err instanceof PluginError) throw new CliError(err.message);
    throw err;
  }
}

/** Our libraries first, then whatever the user already preloads. */
export function preloadList(ours: readonly string[], existing: string | undefined): string[] {
  const list = [...ours];
  for (const lib of (existing ?? '').split(/[:\s]+/)) if (lib && !list.includes(lib)) list.push(lib);
  return list;
}

export function coordinatorMode(values: { 'join-coordinator'?: boolean; 'new-coordinator'?: boolean }): CoordinatorMode {
  if (values['join-coordinator'] && values['new-coordinator']) {
    throw new UsageError('--join-coordinator and --new-coordinator exclude each other');
  }
  return values['join-coordinator'] ? 'join' : values['new-coordinator'] ? 'new' : 'auto';
}

export function requireFile(file: string, what: string): void {
  try {
    if (statSync(file).isFile()) return;
  } catch {
    // reported below
  }
  throw new CliError(`${what} ${file} is missing; build the core first (pnpm --filter @dmtcp/core build)`);
}

export async function main(argv: string[], io: CliIO): Promise<number> {
  const first = parseArgs(argv, OPTIONS, { stopAtPositional: true, stopAtUnknown: true });
  if (first.values.help) {
    // Help must work even where a plugin is broken: then without its options.
    const set = await pluginsAndOptions(argv, io).then((r) => r.set, () => null);
    io.out(usage(set));
    return 0;
  }
  const { plugins, set } = await pluginsAndOptions(argv, io);
  const known = sourcesOf(knownManifests(paths.packageRoot, io.env));
  const loaded = manifestsOf(plugins).map((m) => m.name);
  const { values: parsed, positionals } = parseArgs(argv, { ...OPTIONS, ...set.defs } as typeof OPTIONS, {
    stopAtPositional: true,
    describeUnknown: (name) => describeUnknownOption(name, 'launch', loaded, known),
  });
  const values = parsed;
  if (values.help) {
    io.out(usage(set));
    return 0;
  }
  const pluginEnv = pluginOptionsEnv(set, parsed as Record<string, unknown>, io.cwd);
  const mode = coordinatorMode(values);
  const coord = coordAddress(values, io.env);
  const interval = values.interval === undefined ? undefined : parseInterval(values.interval, '--interval');
  const [prog, ...progArgs] = positionals;
  if (prog === undefined) throw new UsageError('missing PROG to launch');

  // Everything that can be checked is checked before a coordinator is started.
  const exe = resolveProgram(prog, io.env, io.cwd);
  requireFile(paths.libdmtcp, 'runtime library');
  const native = loadNative();
  const ckptDir = values.ckptdir === undefined ? undefined : prepareCkptDir(values.ckptdir, io.cwd);
  const ip = await resolveIPv4(coord.host);

  const ensured = await ensureCoordinator({ host: coord.host, ip, port: coord.port }, { mode, interval, ckptDir });

  const preload = preloadList(plugins.map((p) => p.lib), io.env['LD_PRELOAD']);
  const env: NodeJS.ProcessEnv = { ...io.env };
  // Left over when dmtcp itself runs inside a computation; they would make
  // the runtime adopt the parent's coordinator connection.
  delete env[DMTCP_ENV_COORD_FD];
  delete env[DMTCP_ENV_UPID];
  env['LD_PRELOAD'] = preload.join(':');
  env[DMTCP_ENV_PRELOAD] = preload.join(':');
  env[DMTCP_ENV_COORD_HOST] = ip;
  env[DMTCP_ENV_COORD_PORT] = String(coord.port);
  env[DMTCP_ENV_CKPT_DIR] = ckptDir ?? io.cwd;
  if (interval !== undefined) env['DMTCP_INTERVAL'] = String(interval);
  Object.assign(env, pluginEnv);
  // Read by the runtime at start; restarted processes keep it in their image.
  if (values.strict === true) env[DMTCP_ENV_STRICT] = '1';

  try {
    native.execve(exe, [prog, ...progArgs], envList(env));
  } catch (err) {
    if (ensured.started) {
      // Nobody will ever join the coordinator we started for this program.
      await sendUserCommand(ip, coord.port, { cmd: 'quit' }, 2000).catch(() => undefined);
    }
    if (isExecError(err)) {
      const why = err.code === 'ENOEXEC' ? 'exec format error' : err.code === 'EACCES' ? 'permission denied' : err.code;
      throw new CliError(`${prog}: cannot execute (${why})`, err.code === 'ENOENT' ? 127 : 126);
    }
    throw new CliError(`${prog}: cannot execute (${errorMessage(err)})`, 126);
  }
  throw new CliError('execve returned');
}
