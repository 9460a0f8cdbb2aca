// Settings given to `dmtcp restart` (and not to the launch) apply to that
// restart, whether as environment variables or as options: plugins read the
// environment of the restart command through dmtcp_restart_getenv (the
// restarted process's own environment is the launch's).
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, expect, test } from 'vitest';
import { cleanup, launch, makeTmpDir, startCoordinator, type CoordinatorRef, type Proc } from '@dmtcp/core/testing';
import { cycle, fileMessages, fixture, pluginArgs, type CycleOptions } from './helpers.ts';

afterEach(cleanup);

const TICK = /^tick (\d+) /;

/** Restarts once after the watched directory moved and one of its files
 *  vanished, with the settings `how` gives (they map a to b and recreate). */
async function moveAndRestart(how: (dir: string, moved: string) => CycleOptions): Promise<{ proc: Proc; coord: CoordinatorRef; moved: string }> {
  const exe = await fixture('changes.c');
  const coord = await startCoordinator();
  const base = await makeTmpDir('file-restart-env-');
  const dir = path.join(base, 'a');
  const moved = path.join(base, 'b');
  await mkdir(dir);
  await writeFile(path.join(dir, 'gone'), '0123456789\n');
  await writeFile(path.join(dir, 'grow'), 'abcdefghij\n');
  const launched = launch(exe, [dir], { ...coord, args: await pluginArgs() });
  await launched.waitForLine(/^tick 10 /);
  const { proc } = await cycle(launched, TICK, coord, {
    ...how(dir, moved),
    beforeRestart: async () => {
      await rename(dir, moved);
      await rm(path.join(moved, 'gone'));
    },
  });
  expect(proc.lines().at(-1)).toMatch(/ gone=open:3 grow=open:5 /);
  expect(fileMessages(proc)).toEqual([
    `dmtcp file: fd 3: ${moved}/gone no longer existed; recreated empty (DMTCP_FILE_MISSING=create)`,
  ]);
  return { proc, coord, moved };
}

test('DMTCP_FILE_MISSING and DMTCP_PATH_MAP given to dmtcp restart only', async () => {
  const { proc, coord, moved } = await moveAndRestart((dir, to) => ({
    restartEnv: { DMTCP_FILE_MISSING: 'create', DMTCP_PATH_MAP: `${dir}=${to}` },
  }));
  // Without the setting the next restart keeps the default policy.
  const next = (await cycle(proc, TICK, coord, { beforeRestart: () => rm(path.join(moved, 'gone')) })).proc;
  expect(fileMessages(next)).toEqual([
    `dmtcp file: fd 3: ${moved}/gone no longer exists; fd 3 stays closed (DMTCP_FILE_MISSING=create recreates missing files)`,
  ]);
});

test('the same through the command line: --missing-files create --path-map OLD=NEW', async () => {
  await moveAndRestart((dir, to) => ({ restartArgs: ['--missing-files', 'create', '--path-map', `${dir}=${to}`] }));
});
