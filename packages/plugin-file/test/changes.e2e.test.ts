// Files that changed or vanished between checkpoint and restart: the
// default policy reopens what exists, says what changed, and leaves the
// descriptor of a vanished file closed with an error;
// DMTCP_FILE_MISSING=create recreates it.
import { appendFile, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, expect, test } from 'vitest';
import {
  Proc, checkpointImages, childEnv, cleanup, cliArgv, kill9, launch, makeTmpDir, startCoordinator,
} from '@dmtcp/core/testing';
import { cycle, failures, fileMessages, fixture, pluginArgs } from './helpers.ts';

afterEach(cleanup);

const TICK = /^tick (\d+) /;

async function setup(): Promise<string> {
  const dir = await makeTmpDir('file-changes-');
  await writeFile(path.join(dir, 'gone'), '0123456789\n');
  await writeFile(path.join(dir, 'grow'), 'abcdefghij\n');
  return dir;
}

function lastState(proc: Proc): string | undefined {
  const ticks = proc.lines().filter((l) => TICK.test(l));
  return ticks[ticks.length - 1]?.replace(TICK, '');
}

test('default: a vanished file stays closed with an error, a changed one is reopened with a warning', async () => {
  const exe = await fixture('changes.c');
  const coord = await startCoordinator();
  const dir = await setup();
  const gone = path.join(dir, 'gone');
  const grow = path.join(dir, 'grow');
  let proc = launch(exe, [dir], { ...coord, args: await pluginArgs() });
  await proc.waitForLine(/^tick 10 /);
  expect(lastState(proc)).toBe('gone=open:3 grow=open:5 stdin=closed extra=-');

  let c = await cycle(proc, TICK, coord, {
    beforeRestart: async () => {
      await rm(gone);
      await appendFile(grow, 'more\n');
    },
  });
  proc = c.proc;
  expect(lastState(proc)).toBe('gone=closed:- grow=open:5 stdin=closed extra=-');
  expect(fileMessages(proc)).toEqual([
    `dmtcp file: fd 3: ${gone} no longer exists; fd 3 stays closed (DMTCP_FILE_MISSING=create recreates missing files)`,
    `dmtcp file: fd 4: ${grow} changed since the checkpoint (size 11 -> 16, modified); reopened as it is now`,
  ]);

  // 2: shrunk below the offset: the offset stays where the program had it.
  c = await cycle(proc, TICK, coord, { beforeRestart: () => truncate(grow, 2) });
  proc = c.proc;
  expect(lastState(proc)).toBe('gone=closed:- grow=open:5 stdin=closed extra=-');
  expect(fileMessages(proc)).toEqual([
    `dmtcp file: fd 4: ${grow} changed since the checkpoint (size 16 -> 2, modified); reopened as it is now`,
  ]);
  expect(failures(proc)).toEqual([]);
});

test('an unchanged file is reopened without a word; what the restart command inherited stays out', async () => {
  const exe = await fixture('changes.c');
  const coord = await startCoordinator();
  const dir = await setup();
  let proc = launch(exe, [dir], { ...coord, args: await pluginArgs() });
  await proc.waitForLine(/^tick 10 /);
  for (let i = 0; i < 2; i++) {
    const { images } = await checkpointImages(coord);
    await kill9(proc);
    // `dmtcp restart` started with an open stdin and two more descriptors,
    // as from a shell or a build tool: the program had closed its stdin and
    // never had the others.
    proc = new Proc(['/bin/sh', '-c', 'exec 7</dev/null 9<"$0"; exec "$@"', path.join(dir, 'grow'), ...cliArgv(), 'restart', '--join-coordinator', '--coord-port', String(coord.port), ...images], {
      env: childEnv(), label: 'restart changes (with inherited descriptors)',
    });
    await proc.waitForLine(TICK);
    expect(lastState(proc)).toBe('gone=open:3 grow=open:5 stdin=closed extra=-');
    expect(fileMessages(proc)).toEqual([]);
  }
});

test('DMTCP_FILE_MISSING=create: recreated empty, or with its contents when DMTCP_CKPT_OPEN_FILES=1 saved them', async () => {
  const exe = await fixture('changes.c');
  for (const saveContents of [false, true]) {
    const coord = await startCoordinator();
    const dir = await setup();
    const gone = path.join(dir, 'gone');
    // The policy belongs to the restart; until the core shows plugins that
    // environment, the launch's value stands in.
    const env = { DMTCP_FILE_MISSING: 'create', ...(saveContents ? { DMTCP_CKPT_OPEN_FILES: '1' } : {}) };
    let proc = launch(exe, [dir], { ...coord, args: await pluginArgs(), env });
    await proc.waitForLine(/^tick 10 /);
    for (let i = 0; i < 2; i++) {
      proc = (await cycle(proc, TICK, coord, { beforeRestart: () => rm(gone), restartEnv: { DMTCP_FILE_MISSING: 'create' } })).proc;
      expect(lastState(proc)).toBe('gone=open:3 grow=open:5 stdin=closed extra=-');
      expect(fileMessages(proc)).toEqual([
        `dmtcp file: fd 3: ${gone} no longer existed; recreated ${saveContents ? 'with its checkpointed contents' : 'empty'} (DMTCP_FILE_MISSING=create)`,
      ]);
      expect(await readFile(gone, 'latin1')).toBe(saveContents ? '0123456789\n' : '');
    }
    await cleanup();
  }
});

test('DMTCP_RESTORE_FILE_CONTENTS=1 never rolls back a file the program only reads', async () => {
  const exe = await fixture('changes.c');
  const coord = await startCoordinator();
  const dir = await setup();
  const grow = path.join(dir, 'grow');
  const env = { DMTCP_CKPT_OPEN_FILES: '1', DMTCP_RESTORE_FILE_CONTENTS: '1' };
  let proc = launch(exe, [dir], { ...coord, args: await pluginArgs(), env });
  await proc.waitForLine(/^tick 10 /);
  for (let i = 0; i < 2; i++) {
    const before = await readFile(grow, 'latin1');
    proc = (await cycle(proc, TICK, coord, { restartEnv: env, beforeRestart: () => appendFile(grow, 'more\n') })).proc;
    expect(lastState(proc)).toBe('gone=open:3 grow=open:5 stdin=closed extra=-');
    expect(fileMessages(proc)).toEqual([
      `dmtcp file: fd 4: ${grow} changed since the checkpoint (size ${before.length} -> ${before.length + 5}, modified); reopened as it is now`,
    ]);
    expect(await readFile(grow, 'latin1')).toBe(`${before}more\n`);
  }
});
