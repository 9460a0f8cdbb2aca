// `dmtcp restart [options] IMAGE...`: checks every image and the files they
// mapped, makes sure a coordinator is there, then becomes the restart program
// (execve), which maps the images back and resumes the processes.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { CLOCK_RULES, clockPlanImage, clockSpec, type ClockRule } from '../../image/clock-plan.ts';
import { choosePidMode } from '../../image/pid-mode.ts';
import { planRestartTree, treeSpec } from '../../image/restart-plan.ts';
import { COMMON_OPTIONS, CliError, UsageError, coordAddress, formatOptions, parseArgs } from '../args.ts';
import { ensureCoordinator, envList, errorMessage, prepareCkptDir, resolveIPv4 } from '../common.ts';
import type { CliIO } from '../common.ts';
import { coordinatorMode, requireFile } from './launch.ts';
import {
  DMTCP_ENV_CKPT_DIR,
  DMTCP_ENV_COORD_FD,
  DMTCP_ENV_COORD_HOST,
  DMTCP_ENV_COORD_PORT,
  DMTCP_ENV_UPID,
} from '../../generated/constants.ts';
import { ImageError, checkImageFiles, readImage } from '../../image/reader.ts';
import type { CheckpointImage } from '../../image/reader.ts';
import { isExecError, loadNative } from '../../native.ts';
import { paths } from '../../paths.ts';
import { sendUserCommand } from '../../protocol/client.ts';
import { discoverInstalled } from '../../plugin/discover.ts';
import { PluginError } from '../../plugin/manifest.ts';
import {
  describeUnknownOption,
  everyOptionDef,
  formatPluginOptions,
  knownManifests,
  manifestsOfLibs,
  pluginOptionSet,
  pluginOptionsEnv,
  sourcesOf,
  type OptionSource,
  type PluginOptionSet,
} from '../plugin-options.ts';

const OPTIONS = {
  ckptdir: { type: 'string', arg: 'D', help: 'write later checkpoints here (default: where they were written)' },
  'join-coordinator': { type: 'boolean', short: 'j', help: 'use the running coordinator; fail if there is none' },
  'new-coordinator': { type: 'boolean', help: 'start a coordinator; fail if one is running' },
  'restore-pids': {
    type: 'boolean', help: 'give the processes their checkpointed pids back, in a new pid namespace (else they stay virtual)',
  },
  clocks: {
    type: 'string', arg: 'RULE',
    help: 'CLOCK_MONOTONIC/BOOTTIME across the restart: elapsed (default: they count the time the checkpoint was down) or frozen (they go on from their checkpoint values)',
  },
  'no-time-ns': {
    type: 'boolean', help: 'never move the clocks with a time namespace (plugin-timer\'s wrappers shift them instead)',
  },
  ...COMMON_OPTIONS,
} as const;

const usage = (plugins: PluginOptionSet | null): string => `usage: dmtcp restart [options] IMAGE...

Restarts the processes of one checkpoint (all images of one computation and
generation). Without a running coordinator, one is started that exits when
the last restarted process does.

options:
${formatOptions(OPTIONS)}${plugins ? formatPluginOptions(plugins) : ''}`;

/** The options of the installed plugins, for help: which plugins a restart
 *  uses is only known from its images. */
function installedOptions(env: NodeJS.ProcessEnv): { set: PluginOptionSet; sources: OptionSource[] } {
  let manifests;
  try {
    manifests = discoverInstalled({ coreRoot: paths.packageRoot, env });
  } catch (err) {
    if (err instanceof PluginError) throw new CliError(err.message);
    throw err;
  }
  const sources = sourcesOf(manifests);
  return { set: pluginOptionSet(sources, 'restart', OPTIONS), sources };
}

/** Reasons the images cannot be restarted together; empty when they can. */
export function checkImageSet(images: readonly CheckpointImage[]): string[] {
  const problems: string[] = [];
  const [first] = images;
  if (!first) return problems;
  for (const img of images.slice(1)) {
    if (img.header.comp_id !== first.header.comp_id) {
      problems.push(
        `images belong to different computations (${first.path}: ${first.header.comp_id}, ${img.path}: ${img.header.comp_id})`,
      );
    } else if (img.header.generation !== first.header.generation) {
      problems.push(
        `images come from different checkpoints (${first.path}: generation ${first.header.generation}, ` +
          `${img.path}: generation ${img.header.generation})`,
      );
    }
  }
  const byUpid = new Map<string, string>();
  for (const img of images) {
    const other = byUpid.get(img.header.upid);
    if (other !== undefined) problems.push(`${other} and ${img.path} are the same process (upid ${img.header.upid})`);
    else byUpid.set(img.header.upid, img.path);
  }
  if (problems.length === 0 && first.header.num_peers > 0 && first.header.num_peers !== images.length) {
    problems.push(
      `the checkpoint has ${first.header.num_peers} process${first.header.num_peers === 1 ? '' : 'es'} ` +
        `but ${images.length} image${images.length === 1 ? ' was' : 's were'} given`,
    );
  }
  return problems;
}

export async function main(argv: string[], io: CliIO): Promise<number> {
  const installed = installedOptions(io.env);
  const known = [...installed.sources, ...sourcesOf(knownManifests(paths.packageRoot, io.env))];
  // Every option a plugin we know of declares parses here; which of them
  // apply is decided once the images say which plugins their processes use.
  const { values, positionals } = parseArgs(argv, { ...OPTIONS, ...everyOptionDef(known, 'restart', OPTIONS) } as typeof OPTIONS, {
    describeUnknown: (name) => describeUnknownOption(name, 'restart', [], known),
  });
  if (values.help) {
    io.out(usage(installed.set));
    return 0;
  }
  const mode = coordinatorMode(values);
  const coord = coordAddress(values, io.env);
  const clockRule = (values.clocks ?? 'elapsed') as ClockRule;
  if (!CLOCK_RULES.includes(clockRule)) throw new UsageError(`--clocks must be ${CLOCK_RULES.join(' or ')}, not '${values.clocks}'`);
  if (positionals.length === 0) throw new UsageError('missing IMAGE');

  const files = [...new Set(positionals.map((p) => path.resolve(io.cwd, p)))];
  const images: CheckpointImage[] = [];
  for (const file of files) {
    try {
      images.push(await readImage(file));
    } catch (err) {
      if (err instanceof ImageError) throw new CliError(err.message);
      throw err;
    }
  }

  const problems = checkImageSet(images);
  const fileProblems = new Set<string>();
  for (const img of images) for (const p of await checkImageFiles(img.meta)) fileProblems.add(p);
  problems.push(...fileProblems);
  if (problems.length > 0) {
    for (const p of problems) io.err(`dmtcp restart: ${p}`);
    return 1;
  }

  const used = manifestsOfLibs(images.flatMap((i) => i.meta.files.map((f) => f.path)));
  const set = pluginOptionSet(sourcesOf(used), 'restart', OPTIONS);
  for (const name of Object.keys(values)) {
    if (Object.hasOwn(OPTIONS, name) || set.owners.has(name)) continue;
    const why = describeUnknownOption(name, 'restart', used.map((m) => m.name), known);
    throw new UsageError(why?.replace('which is not loaded', 'which these processes do not use') ?? `unknown option --${name}`);
  }
  const pluginEnv = pluginOptionsEnv(set, values as Record<string, unknown>, io.cwd);

  requireFile(paths.restartImage, 'restart program');
  const native = loadNative();
  const ckptDir = values.ckptdir === undefined ? undefined : prepareCkptDir(values.ckptdir, io.cwd);
  const ip = await resolveIPv4(coord.host);
  const ensured = await ensureCoordinator({ host: coord.host, ip, port: coord.port }, { mode, ckptDir });

  const env: NodeJS.ProcessEnv = { ...io.env };
  // The restart program is freestanding; the runtime comes back inside the images.
  delete env['LD_PRELOAD'];
  delete env[DMTCP_ENV_COORD_FD];
  delete env[DMTCP_ENV_UPID];
  env[DMTCP_ENV_COORD_HOST] = ip;
  env[DMTCP_ENV_COORD_PORT] = String(coord.port);
  if (ckptDir !== undefined) env[DMTCP_ENV_CKPT_DIR] = ckptDir;
  Object.assign(env, pluginEnv);

  try {
    const tree = treeSpec(planRestartTree(images.map((i) => i.meta)));
    const args = [paths.restartImage, '--tree', tree];
    if (values['restore-pids'] === true) {
      const plan = choosePidMode(images.map((i) => i.meta), { euid: process.geteuid?.() ?? 0, userNamespacesOff: userNamespacesOff() });
      if (plan.mode === 'restore') {
        args.push('--pid-ns', images.map((i) => i.meta.pid).join(','));
        io.err('dmtcp restart: restoring the checkpointed pids in a new pid namespace');
      } else {
        io.err(`dmtcp restart: pids stay virtual: ${plan.reason}`);
      }
    }
    const clocks = clockSpec(images.map((i) => clockPlanImage(i.meta)), clockRule, {
      bootId: bootId(),
      timeNamespace: values['no-time-ns'] !== true && (process.geteuid?.() === 0 || userNamespacesOff() === null),
    });
    if (clocks !== null) args.push('--clocks', clocks);
    native.execve(paths.restartImage, [...args, ...images.map((i) => i.path)], envList(env));
  } catch (err) {
    if (ensured.started) await sendUserCommand(ip, coord.port, { cmd: 'quit' }, 2000).catch(() => undefined);
    const why = isExecError(err) ? err.code : errorMessage(err);
    throw new CliError(`cannot execute ${paths.restartImage} (${why})`, 126);
  }
  throw new CliError('execve returned');
}

function bootId(): string | null {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return null;
  }
}

/** Why this machine does not let an unprivileged user make user namespaces, or null. */
function userNamespacesOff(): string | null {
  for (const [file, what] of [
    ['/proc/sys/user/max_user_namespaces', 'user namespaces are disabled'],
    ['/proc/sys/kernel/unprivileged_userns_clone', 'unprivileged user namespaces are disabled'],
  ] as const) {
    try {
      if (readFileSync(file, 'utf8').trim() === '0') return `${what} (${file} is 0)`;
    } catch {
      // not there: that switch does not exist on this kernel
    }
  }
  return null;
}
