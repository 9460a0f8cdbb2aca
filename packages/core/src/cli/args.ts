// Command-line parsing for the dmtcp CLI: GNU-style long options
// (--name value, --name=value), short options (-c, -i 5, -i5, -ck), `--`,
// and for `launch` stopping at the first non-option so that the target
// program's own options are left alone.
import { DMTCP_DEFAULT_COORD_PORT } from '../generated/constants.ts';

/** Wrong command line: reported as one line, exit status 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** Anything else that stops a command: one line, its own exit status. */
export class CliError extends Error {
  override name = 'CliError';
  readonly exitCode: number;
  constructor(message: string, exitCode = 1) {
    super(message);
    this.exitCode = exitCode;
  }
}

export interface OptionDef {
  readonly type: 'boolean' | 'string';
  readonly short?: string;
  /** string options: collect every occurrence instead of keeping the last */
  readonly multiple?: boolean;
  /** not shown in help (internal plumbing between our own processes) */
  readonly hidden?: boolean;
  readonly arg?: string;
  readonly help?: string;
}

export type OptionDefs = Readonly<Record<string, OptionDef>>;

type ValueOf<D extends OptionDef> = D['type'] extends 'boolean'
  ? boolean
  : D['multiple'] extends true
    ? string[]
    : string;

export type OptionValues<D extends OptionDefs> = { -readonly [K in keyof D]?: ValueOf<D[K]> };

export interface ParsedArgs<D extends OptionDefs> {
  values: OptionValues<D>;
  positionals: string[];
}

export interface ParseOptions {
  /** everything from the first non-option on is positional */
  stopAtPositional?: boolean;
  /** an unknown option ends the parse instead of failing it (a first look
   *  at the command line, before the plugins and their options are known) */
  stopAtUnknown?: boolean;
  /** says more about an unknown long option (which plugin offers it) */
  describeUnknown?: (name: string) => string | null;
}

export function parseArgs<D extends OptionDefs>(
  argv: readonly string[],
  defs: D,
  opts: ParseOptions = {},
): ParsedArgs<D> {
  const values: Record<string, boolean | string | string[]> = {};
  const positionals: string[] = [];
  const byShort = new Map<string, string>();
  for (const [name, def] of Object.entries(defs)) if (def.short) byShort.set(def.short, name);

  const set = (name: string, def: OptionDef, value: string | true): void => {
    if (def.type === 'boolean') {
      values[name] = true;
    } else if (def.multiple) {
      const prev = values[name];
      values[name] = [...(Array.isArray(prev) ? prev : []), value as string];
    } else {
      values[name] = value as string;
    }
  };

  let i = 0;
  while (i < argv.length) {
    const arg = argv[i] as string;
    i++;
    if (arg === '--') {
      positionals.push(...argv.slice(i));
      break;
    }
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      const name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
      const def = Object.hasOwn(defs, name) ? defs[name] : undefined;
      if (!def) {
        if (opts.stopAtUnknown) break;
        throw new UsageError(opts.describeUnknown?.(name) ?? `unknown option --${name}`);
      }
      if (def.type === 'boolean') {
        if (eq >= 0) throw new UsageError(`option --${name} takes no value`);
        set(name, def, true);
      } else if (eq >= 0) {
        set(name, def, arg.slice(eq + 1));
      } else {
        if (i >= argv.length) throw new UsageError(`option --${name} needs a value`);
        set(name, def, argv[i] as string);
        i++;
      }
      continue;
    }
    if (arg.startsWith('-') && arg.length > 1) {
      // -abc: booleans in a row; a string option takes the rest or the next word
      for (let j = 1; j < arg.length; j++) {
        const ch = arg[j] as string;
        const name = byShort.get(ch);
        const def = name === undefined ? undefined : defs[name];
        if (name === undefined || !def) {
          if (opts.stopAtUnknown) return { values: values as OptionValues<D>, positionals };
          throw new UsageError(`unknown option -${ch}`);
        }
        if (def.type === 'boolean') {
          set(name, def, true);
          continue;
        }
        const rest = arg.slice(j + 1);
        if (rest) {
          set(name, def, rest.startsWith('=') ? rest.slice(1) : rest);
        } else {
          if (i >= argv.length) throw new UsageError(`option -${ch} needs a value`);
          set(name, def, argv[i] as string);
          i++;
        }
        break;
      }
      continue;
    }
    positionals.push(arg);
    if (opts.stopAtPositional) {
      positionals.push(...argv.slice(i));
      break;
    }
  }
  return { values: values as OptionValues<D>, positionals };
}

// ---------------------------------------------------------------------------
// Options every command shares, and how they combine with the environment.

export const COMMON_OPTIONS = {
  'coord-host': { type: 'string', arg: 'H', help: 'coordinator host (env DMTCP_COORD_HOST; default localhost)' },
  'coord-port': { type: 'string', arg: 'P', help: `coordinator port (env DMTCP_COORD_PORT; default ${DMTCP_DEFAULT_COORD_PORT})` },
  help: { type: 'boolean', short: 'h', help: 'show this help' },
} as const satisfies OptionDefs;

export const DEFAULT_COORD_HOST = 'localhost';
export const DEFAULT_COORD_PORT: number = DMTCP_DEFAULT_COORD_PORT;

export function parsePort(text: string, source: string, allowZero = false): number {
  const t = text.trim();
  const n = /^\d+$/.test(t) ? Number(t) : NaN;
  if (!Number.isInteger(n) || n > 65535 || (n === 0 && !allowZero)) {
    throw new UsageError(`invalid port ${JSON.stringify(text)} (${source}): expected ${allowZero ? '0' : '1'}-65535`);
  }
  return n;
}

/** Seconds between automatic checkpoints; 0 turns them off. */
export function parseInterval(text: string, source: string): number {
  const t = text.trim();
  const n = /^\d+(\.\d+)?$/.test(t) ? Number(t) : NaN;
  if (!Number.isFinite(n) || n < 0) {
    throw new UsageError(`invalid interval ${JSON.stringify(text)} (${source}): expected seconds >= 0`);
  }
  return n;
}

export interface CoordAddress {
  host: string;
  port: number;
  /** host came from --coord-host or DMTCP_COORD_HOST */
  hostGiven: boolean;
  /** host came from --coord-host */
  hostFromFlag: boolean;
}

export function coordAddress(
  values: { 'coord-host'?: string; 'coord-port'?: string },
  env: NodeJS.ProcessEnv,
  opts: { allowPortZero?: boolean } = {},
): CoordAddress {
  const flagHost = values['coord-host'];
  if (flagHost !== undefined && flagHost.trim() === '') throw new UsageError('empty --coord-host');
  const envHost = env['DMTCP_COORD_HOST']?.trim() || undefined;
  const host = flagHost?.trim() ?? envHost ?? DEFAULT_COORD_HOST;

  let port = DEFAULT_COORD_PORT;
  const flagPort = values['coord-port'];
  const envPort = env['DMTCP_COORD_PORT']?.trim() || undefined;
  if (flagPort !== undefined) port = parsePort(flagPort, '--coord-port', opts.allowPortZero);
  else if (envPort !== undefined) port = parsePort(envPort, 'DMTCP_COORD_PORT', opts.allowPortZero);

  return { host, port, hostGiven: flagHost !== undefined || envHost !== undefined, hostFromFlag: flagHost !== undefined };
}

/** "host:port", bracketing IPv6 literals. */
export function formatAddress(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Option list for --help, from the definitions. */
export function formatOptions(defs: OptionDefs): string {
  const rows: Array<[string, string]> = [];
  for (const [name, def] of Object.entries(defs)) {
    if (def.hidden) continue;
    const flag = (def.short ? `-${def.short}, ` : '    ') + `--${name}` + (def.type === 'string' ? ` ${def.arg ?? 'VALUE'}` : '');
    rows.push([flag, def.help ?? '']);
  }
  const width = Math.max(...rows.map(([f]) => f.length));
  return rows.map(([f, h]) => `  ${f.padEnd(width)}  ${h}`.trimEnd()).join('\n');
}
