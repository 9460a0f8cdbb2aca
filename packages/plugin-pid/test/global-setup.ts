// Builds the plugin (library and coordinator module) before the end-to-end
// checks run, so that `pnpm --filter @dmtcp/plugin-pid check` works on a
// fresh checkout; both steps do nothing when up to date.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const pkgRoot = fileURLToPath(new URL('..', import.meta.url));

export default function setup(): void {
  const core = path.join(pkgRoot, 'node_modules', '@dmtcp', 'core');
  for (const f of ['dist/testing.js', 'dist/cli.js', 'build/lib/libdmtcp.so']) {
    if (!existsSync(path.join(core, f))) {
      throw new Error(`${path.join(core, f)} is missing: build the core first (pnpm --filter @dmtcp/core build)`);
    }
  }
  execFileSync('pnpm', ['run', '-s', 'build'], { cwd: pkgRoot, stdio: 'inherit' });
}
