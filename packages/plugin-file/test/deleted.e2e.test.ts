// A program that creates a scratch file, unlinks it at once and keeps
// using it.  The bytes live only in the kernel, so the checkpoint saves
// them; at restart the file is recreated, reopened as the program had it
// and unlinked again.
import { chmod, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, expect, test } from 'vitest';
import { cleanup, launch, makeTmpDir, startCoordinator, type Proc, type RunAs } from '@dmtcp/core/testing';
import { cycle, failures, fileMessages, fixture, pluginArgs } from './helpers.ts';

afterEach(cleanup);

const OK = /^ok (\d+) /;

function lastPath(proc: Proc): string | undefined {
  const lines = proc.lines().filter((l) => OK.test(l));
  return lines[lines.length - 1]?.replace(/^ok \d+ /, '');
}

test.each<[string, RunAs | undefined]>([['as root', undefined], ['as an unprivileged user', 'nobody']])('a deleted file comes back with its contents, deleted, after its directory was emptied and then removed (%s)', async (_what, user) => {
  const exe = await fixture('deleted.c');
  const coord = await startCoordinator();
  const base = await makeTmpDir('file-deleted-');
  const dir = path.join(base, 'work');
  await mkdir(dir, { mode: 0o777 });
  await chmod(dir, 0o777);
  let proc = launch(exe, [dir], { ...coord, args: await pluginArgs(), user });
  await proc.waitForLine(/^ok 20 /);
  expect(lastPath(proc)).toBe(`${dir}/scratch (deleted)`);

  // 1: the directory is cleaned (other files in it too) before the restart.
  let c = await cycle(proc, OK, coord, {
    linesAfterRestart: 20,
    user,
    beforeRestart: async () => {
      await writeFile(path.join(dir, 'other'), 'x');
      for (const name of await readdir(dir)) await rm(path.join(dir, name), { recursive: true });
    },
  });
  proc = c.proc;
  expect(failures(proc)).toEqual([]);
  expect(lastPath(proc)).toBe(`${dir}/scratch (deleted)`);
  expect(await readdir(dir)).toEqual([]);
  expect(fileMessages(proc)).toEqual([]);

  // 2: the directory itself is gone: the file comes back in /tmp.
  c = await cycle(proc, OK, coord, { linesAfterRestart: 20, user, beforeRestart: () => rm(dir, { recursive: true }) });
  proc = c.proc;
  expect(failures(proc)).toEqual([]);
  expect(lastPath(proc)).toMatch(/^\/tmp\/scratch(\.dmtcp-\d+-\d+)? \(deleted\)$/);
  expect(fileMessages(proc)).toEqual([
    `dmtcp file: fd 3: the deleted file ${dir}/scratch cannot come back in its directory (the directory is gone); recreated in /tmp and deleted again`,
  ]);
});
