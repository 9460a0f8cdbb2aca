// `dmtcp image inspect IMAGE [--json]`: what a checkpoint image holds, read
// without native code.
import path from 'node:path';
import { COMMON_OPTIONS, CliError, UsageError, formatOptions, parseArgs } from '../args.ts';
import type { CliIO } from '../common.ts';
import { ImageError, formatNs, readImage } from '../../image/reader.ts';
import type { CheckpointImage } from '../../image/reader.ts';
import { describeItimers, describePendingSignals } from '../../image/signal-state.ts';

const OPTIONS = {
  json: { type: 'boolean', help: 'print one JSON object: the header fields and the metadata' },
  ...COMMON_OPTIONS,
} as const;

const USAGE = `usage: dmtcp image inspect IMAGE [--json]

Prints the process, threads and memory regions recorded in a checkpoint image,
after checking that it is complete and intact.

options:
${formatOptions(OPTIONS)}`;

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[u]}`;
}

function protString(prot: number, flags: string[]): string {
  return (
    (prot & 1 ? 'r' : '-') + (prot & 2 ? 'w' : '-') + (prot & 4 ? 'x' : '-') + (flags.includes('shared') ? 's' : 'p')
  );
}

interface Row {
  range: string;
  prot: string;
  saved: number;
  what: string;
}

function regionRows(img: CheckpointImage): Row[] {
  const describe = (p: string, flags: string[]): string => {
    const f = flags.length ? `[${flags.join(',')}]` : '';
    return [p, f].filter(Boolean).join(' ') || '[anon]';
  };
  if (img.meta.regions.length > 0) {
    return img.meta.regions.map((r) => ({
      range: `${r.start.replace(/^0x/, '')}-${r.end.replace(/^0x/, '')}`,
      prot: r.prot,
      saved: r.saved_bytes,
      what: describe(r.path, r.flags),
    }));
  }
  return img.regions.map((r) => ({
    range: `${r.start.replace(/^0x/, '')}-${r.end.replace(/^0x/, '')}`,
    prot: protString(r.prot, r.flag_names),
    saved: r.saved_bytes,
    what: describe(r.path, r.flag_names),
  }));
}

function human(img: CheckpointImage): string[] {
  const { header: h, meta: m } = img;
  const lines: string[] = [];
  const field = (k: string, v: string): void => {
    lines.push(`${(k + ':').padEnd(13)}${v}`);
  };
  field('Image', `${img.path} (version ${h.version}, ${h.image_size} bytes)`);
  field('Program', `${m.prog || path.basename(m.exe) || '?'}${m.argv.length ? ` (${m.argv.join(' ')})` : ''}`);
  if (m.exe) field('Executable', m.exe);
  if (m.cwd) field('Directory', m.cwd);
  field('Process', `pid ${m.pid}${m.ppid ? `, ppid ${m.ppid}` : ''}, upid ${m.upid}${m.host ? `, host ${m.host}` : ''}`);
  field('Computation', `${m.comp_id}, generation ${m.generation}, ${m.num_peers} process${m.num_peers === 1 ? '' : 'es'}`);
  field('Checkpoint', formatNs(m.ckpt_time_ns));
  field('Threads', m.threads.length ? m.threads.map((t) => `${t.tid} (${t.kind})`).join(', ') : 'none recorded');
  field('Timers', describeItimers(m.itimers));
  field('Pending', describePendingSignals(m.pending_signals));

  const rows = regionRows(img);
  lines.push('');
  const rw = Math.max('RANGE'.length, ...rows.map((r) => r.range.length));
  const sw = Math.max('SAVED'.length, ...rows.map((r) => formatBytes(r.saved).length));
  lines.push(`${'RANGE'.padEnd(rw)}  PROT  ${'SAVED'.padStart(sw)}  PATH/FLAGS`);
  for (const r of rows) {
    lines.push(`${r.range.padEnd(rw)}  ${r.prot.padEnd(4)}  ${formatBytes(r.saved).padStart(sw)}  ${r.what}`);
  }
  const saved = rows.reduce((n, r) => n + r.saved, 0);
  lines.push('');
  lines.push(
    `Totals: ${rows.length} region${rows.length === 1 ? '' : 's'}, ` +
      `${formatBytes(saved)} saved data (${saved} bytes), image ${formatBytes(h.image_size)} (${h.image_size} bytes)`,
  );
  return lines;
}

export async function main(argv: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseArgs(argv, OPTIONS);
  if (values.help) {
    io.out(USAGE);
    return 0;
  }
  const [sub, file, ...extra] = positionals;
  if (sub === undefined) throw new UsageError('missing subcommand (inspect)');
  if (sub !== 'inspect') throw new UsageError(`unknown subcommand ${JSON.stringify(sub)} (expected inspect)`);
  if (file === undefined) throw new UsageError('missing IMAGE');
  if (extra.length) throw new UsageError(`one image at a time (got ${positionals.length - 1})`);

  let img: CheckpointImage;
  try {
    img = await readImage(path.isAbsolute(file) || io.cwd === process.cwd() ? file : path.resolve(io.cwd, file));
  } catch (err) {
    if (err instanceof ImageError) throw new CliError(err.message);
    throw err;
  }
  if (values.json) {
    io.out(JSON.stringify({ path: img.path, ...img.header, meta: img.meta }));
  } else {
    for (const line of human(img)) io.out(line);
  }
  return 0;
}
