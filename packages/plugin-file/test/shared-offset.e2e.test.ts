// Parent and child write to one file through the description they share
// since the fork, taking turns. After each restart they still share it
// (one process reopens the file and passes the descriptor to the other),
// so the shared offset keeps their lines apart: the file reads parent 1,
// child 1, parent 2, child 2... with nothing written over.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, expect, test } from 'vitest';
import {
  checkpointImages, cleanup, kill9, launch, makeTmpDir, restart, sequenceValues, startCoordinator, waitForValueAbove,
  type Proc,
} from '@dmtcp/core/testing';
import { failures, fileMessages, fixture, pluginArgs } from './helpers.ts';

afterEach(cleanup);

const PARENT = /^parent (\d+)$/;
const CHILD = /^child (\d+)$/;

function assertAlternating(text: string, what: string): number {
  const lines = text.split('\n');
  lines.pop(); // after the last newline: empty, or a line being written
  lines.forEach((line, i) => {
    const want = `${i % 2 === 0 ? 'parent' : 'child'} ${Math.floor(i / 2) + 1}`;
    if (line !== want) {
      const around = lines.slice(Math.max(0, i - 3), i + 3).join(' | ');
      throw new Error(`${what}: line ${i + 1} is ${JSON.stringify(line)}, expected "${want}" (around: ${around})`);
    }
  });
  return lines.length;
}

const newest = (proc: Proc): number => Math.max(0, ...sequenceValues(proc, PARENT), ...sequenceValues(proc, CHILD));

test.each([
  ['as root', undefined],
  ['as an unprivileged user', 'nobody' as const],
])('a file description shared since fork is shared again after restart: %s', async (_what, user) => {
  const exe = await fixture('fork-offset.c');
  const coord = await startCoordinator();
  const dir = await makeTmpDir('file-offset-');
  const file = path.join(dir, 'turns.log');
  let proc = launch(exe, [file], { ...coord, args: await pluginArgs(), user });
  await waitForValueAbove(proc, CHILD, 20);
  for (let cycle = 1; cycle <= 2; cycle++) {
    const { images } = await checkpointImages(coord);
    expect(images).toHaveLength(2);
    await waitForValueAbove(proc, CHILD, newest(proc) + 10);
    await kill9(proc);
    const before = newest(proc);
    proc = restart(images, { port: coord.port, user });
    await waitForValueAbove(proc, CHILD, before + 20);
    expect(failures(proc)).toEqual([]);
    // The file grew after the checkpoint: said once, by the process that
    // reopened it for both.
    expect(fileMessages(proc)).toEqual([
      expect.stringMatching(new RegExp(`^dmtcp file: fd 3: ${file} changed since the checkpoint \\(size \\d+ -> \\d+, modified\\); reopened as it is now$`)),
    ]);
  }
  await kill9(proc);
  expect(assertAlternating(await readFile(file, 'latin1'), file)).toBeGreaterThan(100);
});
