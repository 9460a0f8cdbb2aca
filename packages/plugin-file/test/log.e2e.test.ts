// A writer and a reader of one log file, through separate descriptors and
// offsets, across two checkpoint/restart cycles: the reader (in the
// fixture) sees every line once and in order, and the file on disk holds
// each line once.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, expect, test } from 'vitest';
import { cleanup, launch, makeTmpDir, startCoordinator } from '@dmtcp/core/testing';
import { assertNumberedLines, cycle, failures, fileMessages, fixture, pluginArgs } from './helpers.ts';

afterEach(cleanup);

const READ = /^read (\d+)$/;

test('writer at its own offset: after restart it rewrites from the checkpoint, nothing lost or repeated', async () => {
  const exe = await fixture('log-rw.c');
  const coord = await startCoordinator();
  const dir = await makeTmpDir('file-log-');
  const log = path.join(dir, 'app.log');
  let proc = launch(exe, [log], { ...coord, args: await pluginArgs() });
  await proc.waitForLine(/^read 20$/);
  for (let i = 0; i < 2; i++) {
    const c = await cycle(proc, READ, coord, { linesAfterRestart: 30 });
    proc = c.proc;
    expect(failures(proc)).toEqual([]);
    // The log grew after the checkpoint; the default policy says so and
    // leaves the file alone.
    expect(fileMessages(proc)).toContainEqual(
      expect.stringMatching(new RegExp(`^dmtcp file: fd 3: ${log} changed since the checkpoint \\(size \\d+ -> \\d+, modified\\); reopened as it is now$`)),
    );
  }
  const count = assertNumberedLines(await readFile(log, 'latin1'), 'line', log);
  expect(count).toBeGreaterThan(60);
});

test('appending writer with DMTCP_CKPT_OPEN_FILES=1 and DMTCP_RESTORE_FILE_CONTENTS=1: the log is rolled back to the checkpoint', async () => {
  const exe = await fixture('log-rw.c');
  const coord = await startCoordinator();
  const dir = await makeTmpDir('file-log-');
  const log = path.join(dir, 'app.log');
  // With O_APPEND every write goes to the end of the file: only putting the
  // checkpointed contents back keeps the lines written after the checkpoint
  // from coming twice. The restore setting belongs to the restart; until the
  // core shows plugins that environment, the launch's value stands in.
  const env = { DMTCP_CKPT_OPEN_FILES: '1', DMTCP_RESTORE_FILE_CONTENTS: '1' };
  let proc = launch(exe, [log, 'append'], { ...coord, args: await pluginArgs(), env });
  await proc.waitForLine(/^read 20$/);
  for (let i = 0; i < 2; i++) {
    const c = await cycle(proc, READ, coord, { linesAfterRestart: 30, restartEnv: { DMTCP_RESTORE_FILE_CONTENTS: '1' } });
    proc = c.proc;
    expect(failures(proc)).toEqual([]);
    expect(fileMessages(proc)).toContainEqual(
      `dmtcp file: fd 3: ${log} had changed since the checkpoint; its checkpointed contents are back (DMTCP_RESTORE_FILE_CONTENTS=1)`,
    );
  }
  assertNumberedLines(await readFile(log, 'latin1'), 'line', log);
});
