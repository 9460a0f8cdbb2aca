// Entry point of the `dmtcp` command. Commands are loaded on demand so that
// `dmtcp command --status` does not pay for what `launch` needs.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { CliError, UsageError } from './args.ts';
import { errorMessage } from './common.ts';
import type { CliIO, CommandMain } from './common.ts';
import { paths } from '../paths.ts';

interface CommandEntry {
  summary: string;
  load: () => Promise<CommandMain>;
}

const COMMANDS: Record<string, CommandEntry> = {
  coordinator: {
    summary: 'run a coordinator (foreground, or --daemon)',
    load: async () => (await import('./commands/coordinator.ts')).main,
  },
  launch: {
    summary: 'run a program under checkpoint control',
    load: async () => (await import('./commands/launch.ts')).main,
  },
  command: {
    summary: 'ask the coordinator to checkpoint, report status, kill or quit',
    load: async () => (await import('./commands/command.ts')).main,
  },
  restart: {
    summary: 'restart a computation from its checkpoint images',
    load: async () => (await import('./commands/restart.ts')).main,
  },
  image: {
    summary: 'look into checkpoint images (image inspect IMAGE)',
    load: async () => (await import('./commands/image.ts')).main,
  },
  plugins: {
    summary: 'list the plugins launch would load, in order',
    load: async () => (await import('./commands/plugins.ts')).main,
  },
  plugin: {
    summary: 'create a plugin package (plugin new NAME)',
    load: async () => (await import('./commands/plugin.ts')).main,
  },
  'gen-constants': {
    summary: 'write the TypeScript mirror of C headers (gen-constants IN.h... -o OUT [--check])',
    load: async () => (await import('./commands/gen-constants.ts')).main,
  },
};

function version(): string {
  try {
    const pkg: unknown = JSON.parse(readFileSync(path.join(paths.packageRoot, 'package.json'), 'utf8'));
    const v = (pkg as { version?: unknown }).version;
    return typeof v === 'string' ? v : 'unknown';
  } catch {
    return 'unknown';
  }
}

function overview(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  return [
    'usage: dmtcp <command> [options]',
    '',
    'Transparent checkpoint/restart for Linux programs.',
    '',
    'commands:',
    ...Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`),
    `  ${'help'.padEnd(width)}  this text; dmtcp help <command> for a command's options`,
    '',
    'Commands that reach a coordinator take --coord-host H and --coord-port P',
    '(env DMTCP_COORD_HOST, DMTCP_COORD_PORT; default localhost:7779).',
    '',
    'example:',
    '  dmtcp launch ./my-simulation --steps 1e9',
    '  dmtcp command --checkpoint',
    '  dmtcp restart ckpt_*.dmtcp',
  ].join('\n');
}

const stdoutIO: CliIO = {
  out: (line) => process.stdout.write(line + '\n'),
  err: (line) => process.stderr.write(line + '\n'),
  env: process.env,
  cwd: process.cwd(),
};

export async function run(argv: string[], io: CliIO): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined) {
    io.err('dmtcp: missing command (try dmtcp help)');
    return 2;
  }
  if (first === 'help' || first === '--help' || first === '-h') {
    const topic = first === 'help' ? rest[0] : undefined;
    if (topic !== undefined) {
      const entry = COMMANDS[topic];
      if (!entry) {
        io.err(`dmtcp help: unknown command ${JSON.stringify(topic)} (try dmtcp help)`);
        return 2;
      }
      return runCommand(topic, entry, ['--help'], io);
    }
    io.out(overview());
    return 0;
  }
  if (first === '--version' || first === '-V' || first === 'version') {
    io.out(`dmtcp ${version()}`);
    return 0;
  }
  const entry = COMMANDS[first];
  if (!entry) {
    io.err(`dmtcp: unknown command ${JSON.stringify(first)} (try dmtcp help)`);
    return 2;
  }
  return runCommand(first, entry, rest, io);
}

async function runCommand(name: string, entry: CommandEntry, argv: string[], io: CliIO): Promise<number> {
  try {
    const main = await entry.load();
    return await main(argv, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`dmtcp ${name}: ${err.message} (see dmtcp ${name} --help)`);
      return 2;
    }
    if (err instanceof CliError) {
      io.err(`dmtcp ${name}: ${err.message}`);
      return err.exitCode;
    }
    io.err(`dmtcp ${name}: ${errorMessage(err)}`);
    if (process.env['DMTCP_DEBUG'] === '1' && err instanceof Error && err.stack) io.err(err.stack);
    return 1;
  }
}

// Flush before exiting: stdout may be a pipe that another process reads.
function exit(code: number): void {
  process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
}

process.on('uncaughtException', (err) => {
  process.stderr.write(`dmtcp: ${errorMessage(err)}\n`);
  exit(1);
});

run(process.argv.slice(2), stdoutIO).then(
  (code) => exit(code),
  (err: unknown) => {
    process.stderr.write(`dmtcp: ${errorMessage(err)}\n`);
    exit(1);
  },
);
