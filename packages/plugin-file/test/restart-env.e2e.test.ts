// Settings given to `dmtcp restart` (and not to the launch) apply to that
// restart. This needs the core to show plugins the environment of the
// restart command (dmtcp_restart_getenv); the restarted process's own
// environment is the launch's, and the restart program's is gone by then.
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, expect, test } from 'vitest';
import { cleanup, launch, makeTmpDir, startCoordinator } from '@dmtcp/core/testing';
import { coreHasRestartEnv, cycle, fileMessages, fixture, pluginArgs } from './helpers.ts';

afterEach(cleanup);

const supported = await coreHasRestartEnv();

test.skipIf(!supported)('DMTCP_FILE_MISSING and DMTCP_PATH_MAP given to dmtcp restart only', async () => {
  const exe = await fixture('changes.c');
  const coord = await startCoordinator();
  const base = await makeTmpDir('file-restart-env-');
  const dir = path.join(base, 'a');
  await mkdir(dir);
  await writeFile(path.join(dir, 'gone'), '0123456789\n');
  await writeFile(path.join(dir, 'grow'), 'abcdefghij\n');
  let proc = launch(exe, [dir], { ...coord, args: await pluginArgs() });
  await proc.waitForLine(/^tick 10 /);
  const moved = path.join(base, 'b');
  proc = (await cycle(proc, /^tick (\d+) /, coord, {
    restartEnv: { DMTCP_FILE_MISSING: 'create', DMTCP_PATH_MAP: `${dir}=${moved}` },
    beforeRestart: async () => {
      await rename(dir, moved);
      await rm(path.join(moved, 'gone'));
    },
  })).proc;
  expect(proc.lines().at(-1)).toMatch(/ gone=open:3 grow=open:5 /);
  expect(fileMessages(proc)).toEqual([
    `dmtcp file: fd 3: ${moved}/gone no longer existed; recreated empty (DMTCP_FILE_MISSING=create)`,
  ]);
  // Without the setting the next restart keeps the default policy.
  proc = (await cycle(proc, /^tick (\d+) /, coord, { beforeRestart: () => rm(path.join(moved, 'gone')) })).proc;
  expect(fileMessages(proc)).toEqual([
    `dmtcp file: fd 3: ${moved}/gone no longer exists; fd 3 stays closed (DMTCP_FILE_MISSING=create recreates missing files)`,
  ]);
});

test.skipIf(!supported)('the same through the command line: --missing-files create --path-map OLD=NEW', async () => {
  const exe = await fixture('changes.c');
  const coord = await startCoordinator();
  const base = await makeTmpDir('file-restart-flags-');
  const dir = path.join(base, 'a');
  await mkdir(dir);
  await writeFile(path.join(dir, 'gone'), '0123456789\n');
  await writeFile(path.join(dir, 'grow'), 'abcdefghij\n');
  let proc = launch(exe, [dir], { ...coord, args: await pluginArgs() });
  await proc.waitForLine(/^tick 10 /);
  const moved = path.join(base, 'b');
  proc = (await cycle(proc, /^tick (\d+) /, coord, {
    restartArgs: ['--missing-files', 'create', '--path-map', `${dir}=${moved}`],
    beforeRestart: async () => {
      await rename(dir, moved);
      await rm(path.join(moved, 'gone'));
    },
  })).proc;
  expect(proc.lines().at(-1)).toMatch(/ gone=open:3 grow=open:5 /);
  expect(fileMessages(proc)).toEqual([
    `dmtcp file: fd 3: ${moved}/gone no longer existed; recreated empty (DMTCP_FILE_MISSING=create)`,
  ]);
});
