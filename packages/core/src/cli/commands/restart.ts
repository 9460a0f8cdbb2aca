// `dmtcp restart [options] IMAGE...`: checks every image and the files they
// mapped, makes sure a coordinator is there, then becomes the restart program
// (execve), which maps the images back and resumes the processes.
import { readFileSync } from 'node:fs';
import path from 'node:path';
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

const OPTIONS = {
  ckptdir: { type: 'string', arg: 'D', help: 'write later checkpoints here (default: where they were written)' },
  'join-coordinator': { type: 'boolean', short: 'j', help: 'use the running coordinator; fail if there is none' },
  'new-coordinator': { type: 'boolean', help: 'start a coordinator; fail if one is running' },
  'path-map': { type: 'string', multiple: true, arg: 'OLD=NEW', help: 'reopen files under OLD from NEW (migration; file plugin)' },
  'restore-open-files': {
    type: 'boolean', help: 'write back the contents saved by launch --ckpt-open-files to files opened for writing',
  },
  'missing-files': {
    type: 'string', arg: 'auto|error|create',
    help: 'what to do with open files that vanished: auto (default) recreates those the program opened with O_CREAT for writing, error leaves them all closed, create recreates them all',
  },
  'restore-pids': {
    type: 'boolean', help: 'give the processes their checkpointed pids back, in a new pid namespace (else they stay virtual)',
  },
  ...COMMON_OPTIONS,
} as const;

const USAGE = `usage: dmtcp restart [options] IMAGE...

Restarts the processes of one checkpoint (all images of one computation and
generation). Without a running coordinator, one is started that exits when
the last restarted process does.

options:
${formatOptions(OPTIONS)}`;

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
  const { values, positionals } = parseArgs(argv, OPTIONS);
  const fileEnv = fileOptionsEnv(values, io.cwd);
  if (values.help) {
    io.out(USAGE);
    return 0;
  }
  const mode = coordinatorMode(values);
  const coord = coordAddress(values, io.env);
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
  Object.assign(env, fileEnv);

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
    native.execve(paths.restartImage, [...args, ...images.map((i) => i.path)], envList(env));
  } catch (err) {
    if (ensured.started) await sendUserCommand(ip, coord.port, { cmd: 'quit' }, 2000).catch(() => undefined);
    const why = isExecError(err) ? err.code : errorMessage(err);
    throw new CliError(`cannot execute ${paths.restartImage} (${why})`, 126);
  }
  throw new CliError('execve returned');
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

/** The file plugin's restart settings, as environment for the restarted processes. */
function fileOptionsEnv(
  values: { 'path-map'?: string[]; 'restore-open-files'?: boolean; 'missing-files'?: string },
  cwd: string,
): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  const maps = values['path-map'] ?? [];
  if (maps.length > 0) {
    env['DMTCP_PATH_MAP'] = maps
      .map((m) => {
        const eq = m.indexOf('=');
        if (eq <= 0 || eq === m.length - 1) throw new UsageError(`--path-map ${m}: expected OLD=NEW`);
        const [from, to] = [path.resolve(cwd, m.slice(0, eq)), path.resolve(cwd, m.slice(eq + 1))];
        if (/[:=]/.test(from + to)) throw new UsageError(`--path-map ${m}: paths with ':' or '=' cannot be mapped`);
        return `${from}=${to}`;
      })
      .join(':');
  }
  if (values['restore-open-files'] === true) env['DMTCP_RESTORE_FILE_CONTENTS'] = '1';
  const missing = values['missing-files'];
  if (missing !== undefined) {
    if (missing !== 'auto' && missing !== 'error' && missing !== 'create') {
      throw new UsageError(`--missing-files must be auto, error or create, not ${missing}`);
    }
    env['DMTCP_FILE_MISSING'] = missing;
  }
  return env;
}
