// `dmtcp gen-constants IN.h... -o OUT [--check]`: the TypeScript (or
// JavaScript) mirror of C headers, for a plugin whose native half and
// coordinator half share constants and records. The generator itself is
// scripts/gen-constants.mjs, which the core's own build runs.
import type { CliIO } from '../common.ts';
import { runGenerator } from '../../../scripts/gen-constants.mjs';

export async function main(argv: string[], io: CliIO): Promise<number> {
  return runGenerator(argv, { cwd: io.cwd, out: (text) => io.out(text.replace(/\n$/, '')), err: (line) => io.err(line) });
}
