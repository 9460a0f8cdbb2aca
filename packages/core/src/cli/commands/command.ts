// `dmtcp command ACTION`: one request to the coordinator, one reply.
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
import { resolveIPv4 } from '../common.ts';
import type { CliIO } from '../common.ts';
import type {
  CheckpointReply,
  IntervalReply,
  KillReply,
  StatusReply,
  UserCommand,
  UserReply,
} from '../../types.ts';
import { CoordinatorUnreachableError, NotACoordinatorError, sendUserCommand } from '../../protocol/client.ts';

const OPTIONS = {
  checkpoint: { type: 'boolean', short: 'c', help: 'checkpoint every process now; exit 0 once all images are written' },
  status: { type: 'boolean', short: 's', help: 'show the computation and its processes' },
  kill: { type: 'boolean', short: 'k', help: 'kill every process of the computation' },
  quit: { type: 'boolean', short: 'q', help: 'kill every process and stop the coordinator' },
  interval: { type: 'string', short: 'i', arg: 'S', help: 'checkpoint every S seconds from now on (0: off)' },
  json: { type: 'boolean', help: 'print the reply as one JSON object' },
  ...COMMON_OPTIONS,
} as const;

const USAGE = `usage: dmtcp command ACTION [--json] [--coord-host H] [--coord-port P]

Sends one command to the coordinator. ACTION is one of the options below.

options:
${formatOptions(OPTIONS)}`;

/** A checkpoint takes as long as writing the images does; the rest is quick. */
const CHECKPOINT_TIMEOUT_MS = 60 * 60 * 1000;
const DEFAULT_TIMEOUT_MS = 30 * 1000;

const plural = (n: number, word: string, many = word + 's'): string => `${n} ${n === 1 ? word : many}`;

export function formatStatus(r: StatusReply, shownAt: string): string[] {
  const lines = [
    `Coordinator: ${r.coordinator ? formatAddress(r.coordinator.host, r.coordinator.port) : shownAt}`,
    `Computation: ${r.comp_id ?? 'none'}`,
    `Generation: ${r.generation}`,
    `Processes: ${r.num_processes}`,
    `Running: ${r.running ? 'yes' : 'no'}`,
  ];
  if (r.interval) lines.push(`Interval: ${r.interval} s`);
  const procs = r.processes ?? [];
  if (procs.length > 0) {
    const cols = procs.map((p) => [p.upid, String(p.pid), p.host, p.state, p.prog]);
    const widths = [0, 1, 2, 3].map((i) => Math.max(...cols.map((c) => (c[i] as string).length)));
    for (const c of cols) {
      lines.push('  ' + c.map((v, i) => (i < 4 ? v.padEnd(widths[i] as number) : v)).join('  ').trimEnd());
    }
  }
  return lines;
}

function humanReply(cmd: UserCommand, reply: UserReply, shownAt: string): string[] {
  switch (cmd.cmd) {
    case 'status':
      return formatStatus(reply as StatusReply, shownAt);
    case 'checkpoint': {
      const r = reply as CheckpointReply;
      const images = r.images ?? [];
      return [
        `checkpoint ${r.generation}: ${plural(images.length, 'image')} written in ${Math.round(r.elapsed_ms)} ms`,
        ...images.map((i) => `  ${i}`),
        ...(r.scripts ?? []).map((s) => `restart script: ${s}`),
      ];
    }
    case 'kill':
      return [`killed ${plural((reply as KillReply).killed, 'process', 'processes')}`];
    case 'quit':
      return [`coordinator stopped (killed ${plural((reply as KillReply).killed, 'process', 'processes')})`];
    case 'interval': {
      const s = (reply as IntervalReply).interval;
      return [s > 0 ? `checkpoint interval: ${s} s` : 'automatic checkpoints off'];
    }
  }
}

export async function main(argv: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseArgs(argv, OPTIONS);
  if (values.help) {
    io.out(USAGE);
    return 0;
  }
  if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
  const coord = coordAddress(values, io.env);

  const actions: UserCommand[] = [];
  if (values.checkpoint) actions.push({ cmd: 'checkpoint' });
  if (values.status) actions.push({ cmd: 'status' });
  if (values.kill) actions.push({ cmd: 'kill' });
  if (values.quit) actions.push({ cmd: 'quit' });
  if (values.interval !== undefined) actions.push({ cmd: 'interval', seconds: parseInterval(values.interval, '--interval') });
  if (actions.length === 0) throw new UsageError('missing action (--checkpoint, --status, --kill, --quit or --interval S)');
  if (actions.length > 1) throw new UsageError('give one action at a time');
  const cmd = actions[0] as UserCommand;

  const where = formatAddress(coord.host, coord.port);
  const ip = await resolveIPv4(coord.host);
  let reply: UserReply;
  try {
    reply = await sendUserCommand(ip, coord.port, cmd, cmd.cmd === 'checkpoint' ? CHECKPOINT_TIMEOUT_MS : DEFAULT_TIMEOUT_MS);
  } catch (err) {
    if (err instanceof CoordinatorUnreachableError) throw new CliError(`no coordinator running at ${where}`);
    if (err instanceof NotACoordinatorError) throw new CliError(`something else is listening on ${where}`);
    throw err;
  }

  if (values.json) {
    io.out(JSON.stringify(reply));
    return reply.ok ? 0 : 1;
  }
  for (const w of ('warnings' in reply ? reply.warnings : undefined) ?? []) io.err(`warning: ${w}`);
  if (!reply.ok) {
    const remaining = reply.remaining ? ` (${plural(reply.remaining, 'process', 'processes')} still connected)` : '';
    const what = cmd.cmd === 'checkpoint' && reply.generation !== undefined ? `checkpoint ${reply.generation}` : cmd.cmd;
    throw new CliError(`${what} failed: ${reply.error}${remaining}`);
  }
  for (const line of humanReply(cmd, reply, where)) io.out(line);
  return 0;
}
