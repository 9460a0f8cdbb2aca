// Types of gen-constants.mjs for the CLI that runs it (dmtcp gen-constants).
export interface GeneratorIO {
  cwd?: string;
  out?: (text: string) => void;
  err?: (line: string) => void;
  prog?: string;
}
export function runGenerator(argv: readonly string[], io?: GeneratorIO): number;
export function generateFrom(inputs: ReadonlyArray<{ label: string; text: string }>, options?: { js?: boolean; how?: string }): string;
