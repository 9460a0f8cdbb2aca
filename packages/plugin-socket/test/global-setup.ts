// Builds this package before the end-to-end tests, so that `pnpm check`
// works on a fresh checkout too (make does nothing when the library is up
// to date).
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const pkgRoot = fileURLToPath(new URL('..', import.meta.url));

export default function setup(): void {
  const harness = path.join(pkgRoot, 'node_modules', '@dmtcp', 'core', 'dist', 'testing.js');
  if (!existsSync(harness)) {
    throw new Error(`${harness} is missing: build the core first (pnpm --filter @dmtcp/core build)`);
  }
  execFileSync('make', ['-s'], { cwd: pkgRoot, stdio: 'inherit' });
}
