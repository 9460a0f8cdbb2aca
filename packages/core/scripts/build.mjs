// Builds everything the core ships: native runtime and restart program (make),
// TS constants generated from the C headers, the node addon (node-gyp), and
// the esbuild bundles (library, testing helpers, CLI).
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const require = createRequire(import.meta.url);
const jobs = String(os.availableParallelism?.() ?? os.cpus().length);
const run = (cmd, args, env = process.env) => execFileSync(cmd, args, { cwd: root, stdio: 'inherit', env });

run('make', ['-C', 'native', `-j${jobs}`]);
run(process.execPath, [path.join(root, 'scripts', 'gen-constants.mjs')]);

if (existsSync(path.join(root, 'addon', 'binding.gyp'))) {
  // node-gyp downloads headers unless told where they are; npm_config_nodedir
  // wins over its command-line flag, so set the variable.
  const prefix = path.resolve(path.dirname(process.execPath), '..');
  const nodedir = existsSync(path.join(prefix, 'include', 'node', 'node_api.h')) ? prefix : process.env.npm_config_nodedir;
  if (!nodedir) throw new Error(`no Node headers next to ${process.execPath}; set npm_config_nodedir`);
  const nodeGyp = require.resolve('node-gyp/bin/node-gyp.js');
  run(process.execPath, [nodeGyp, 'rebuild', '--directory', 'addon', '--jobs', jobs, '--loglevel', 'warn'],
    { ...process.env, npm_config_nodedir: nodedir });
}

rmSync(path.join(root, 'dist'), { recursive: true, force: true });
const common = {
  absWorkingDir: root, bundle: true, platform: 'node', target: 'node20', format: 'esm',
  sourcemap: true, logLevel: 'warning',
  banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
};
const entries = [
  ['src/index.ts', 'dist/index.js'], ['src/testing/index.ts', 'dist/testing.js'], ['src/plugin/index.ts', 'dist/plugin.js'],
];
for (const [entry, out] of entries) {
  if (existsSync(path.join(root, entry))) await build({ ...common, entryPoints: [entry], outfile: out });
}
if (existsSync(path.join(root, 'src/cli/main.ts'))) {
  await build({ ...common, entryPoints: ['src/cli/main.ts'], outfile: 'dist/cli.js',
    banner: { js: '#!/usr/bin/env node\n' + common.banner.js } });
  chmodSync(path.join(root, 'dist', 'cli.js'), 0o755);
}
