// `dmtcp plugins [--with-plugin ...] [--disable-plugin ...] [--json]`: what
// `dmtcp launch` with the same options would preload, in order, after the
// same checks.
import { UsageError, formatOptions, parseArgs } from '../args.ts';
import type { CliIO } from '../common.ts';
import { resolvePlugins } from './launch.ts';

const OPTIONS = {
  'with-plugin': {
    type: 'string', multiple: true, arg: 'A.so:B.so',
    help: 'as for launch: plugins (libraries or package directories) loaded first',
  },
  'disable-plugin': { type: 'string', multiple: true, arg: 'NAME', help: 'as for launch: leave out the built-in plugin NAME' },
  json: { type: 'boolean', help: 'print one JSON object: {"plugins":[{name, lib, source, coordinator, package}]}' },
  help: { type: 'boolean', short: 'h', help: 'show this help' },
} as const;

const USAGE = `usage: dmtcp plugins [--with-plugin A.so:B.so] [--disable-plugin NAME] [--json]

Lists the plugins dmtcp launch would load with these options, in load order:
the user's plugins as given, then the installed built-in plugins, then the
core. Fails as launch would on a missing or broken plugin.

options:
${formatOptions(OPTIONS)}`;

export async function main(argv: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseArgs(argv, OPTIONS);
  if (values.help) {
    io.out(USAGE);
    return 0;
  }
  if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
  const entries = await resolvePlugins(values, io);
  if (values.json) {
    const plugins = entries.map((e) => ({
      name: e.name,
      lib: e.lib,
      source: e.source,
      coordinator: e.coordinator,
      package: e.packageDir,
    }));
    io.out(JSON.stringify({ plugins }));
    return 0;
  }
  const rows = entries.map((e, i) => [String(i + 1), e.name, e.source, e.lib, e.coordinator ?? '-']);
  const header = ['#', 'NAME', 'SOURCE', 'LIBRARY', 'COORDINATOR MODULE'];
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  for (const r of [header, ...rows]) io.out(r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]!))).join('  '));
  return 0;
}
