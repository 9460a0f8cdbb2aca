// dmtcp_restart_script.sh: written beside the images after every successful
// checkpoint so that a user can restart without remembering the image list
// or where the coordinator was.
import { chmod, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';

export const RESTART_SCRIPT_NAME = 'dmtcp_restart_script.sh';

export interface RestartScriptInfo {
  /** argv prefix that runs the dmtcp CLI, e.g. [node, /abs/bin/dmtcp.js]. */
  command: string[];
  host: string;
  port: number;
  images: string[];
  generation: number;
  compId: string;
}

/** How this process's own CLI can be run again from a shell script. */
export function defaultDmtcpCommand(argv1: string | undefined = process.argv[1], execPath = process.execPath): string[] {
  if (argv1 && /\.[cm]?js$/.test(argv1)) return [execPath, path.resolve(argv1)];
  return ['dmtcp'];
}

export function shellQuote(s: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(s)) return s;
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

export function renderRestartScript(info: RestartScriptInfo): string {
  const q = shellQuote;
  const cmd = info.command.map(q).join(' ');
  const images = info.images.map((i) => `  ${q(i)}`).join('\n');
  return `#!/usr/bin/env bash
# Restarts computation ${info.compId} from its checkpoint of generation ${info.generation}.
# Usage: ${RESTART_SCRIPT_NAME} [--coord-host HOST] [--coord-port PORT] [other dmtcp restart options]
# DMTCP_COORD_HOST / DMTCP_COORD_PORT override the coordinator this checkpoint
# was taken with; the options override both.
set -euo pipefail

coord_host="\${DMTCP_COORD_HOST:-${q(info.host)}}"
coord_port="\${DMTCP_COORD_PORT:-${info.port}}"
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --coord-host) coord_host="\${2:?--coord-host needs a value}"; shift 2 ;;
    --coord-host=*) coord_host="\${1#*=}"; shift ;;
    --coord-port) coord_port="\${2:?--coord-port needs a value}"; shift 2 ;;
    --coord-port=*) coord_port="\${1#*=}"; shift ;;
    *) extra+=("$1"); shift ;;
  esac
done

images=(
${images}
)

exec ${cmd} restart --coord-host "$coord_host" --coord-port "$coord_port" \${extra[@]+"\${extra[@]}"} "\${images[@]}"
`;
}

let tmpCounter = 0;

/** Writes the script into each directory, atomically (tmp + rename), so a
 *  reader never sees half a script. Returns the paths written and the
 *  directories that failed. */
export async function writeRestartScripts(dirs: Iterable<string>, text: string): Promise<{ written: string[]; errors: string[] }> {
  const written: string[] = [];
  const errors: string[] = [];
  for (const dir of new Set(dirs)) {
    const dest = path.join(dir, RESTART_SCRIPT_NAME);
    const tmp = path.join(dir, `.${RESTART_SCRIPT_NAME}.${process.pid}.${++tmpCounter}.tmp`);
    try {
      await writeFile(tmp, text, { mode: 0o755 });
      // The umask may have stripped the execute bits.
      await chmod(tmp, 0o755);
      await rename(tmp, dest);
      written.push(dest);
    } catch (e) {
      errors.push(`cannot write ${dest}: ${(e as Error).message}`);
      await rm(tmp, { force: true }).catch(() => {});
    }
  }
  return { written, errors };
}
