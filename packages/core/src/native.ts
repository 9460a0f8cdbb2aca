// The node addon, loaded on first use so that commands which never exec (and
// the unit tests) work without a native build.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { paths } from './paths.ts';

export interface NativeAddon {
  /** Replaces the current process image; returns only by throwing. */
  execve(path: string, argv: readonly string[], env: readonly string[]): never;
}

/** An execve failure; `code` is the errno name (ENOENT, EACCES...). */
export interface ExecError extends Error {
  code: string;
  errno?: number;
  path?: string;
}

export class AddonMissingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AddonMissingError';
  }
}

let cached: NativeAddon | undefined;

export function loadNative(): NativeAddon {
  if (cached) return cached;
  if (!existsSync(paths.addon)) {
    throw new AddonMissingError(
      `native addon not built (${paths.addon} is missing); run \`pnpm --filter @dmtcp/core build\``,
    );
  }
  const req = createRequire(import.meta.url);
  try {
    cached = req(paths.addon) as NativeAddon;
  } catch (err) {
    const why = err instanceof Error ? err.message.split('\n')[0] : String(err);
    throw new AddonMissingError(`cannot load native addon ${paths.addon} (${why}); rebuild with \`pnpm --filter @dmtcp/core build\``);
  }
  return cached;
}

export function isExecError(err: unknown): err is ExecError {
  return err instanceof Error && typeof (err as { code?: unknown }).code === 'string';
}
