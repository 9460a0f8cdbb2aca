// A program whose stdout goes to a file (`prog > file`): after restart it
// writes to that file again, from where it was at the checkpoint, and not
// to the stdout of `dmtcp restart`.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, expect, test } from 'vitest';
import { checkpointImages, cleanup, kill9, launch, makeTmpDir, restart, startCoordinator, type Proc } from '@dmtcp/core/testing';
import { assertNumberedLines, fileMessages, fixture, pluginArgs, waitFor } from './helpers.ts';

afterEach(cleanup);

async function countLines(file: string): Promise<number> {
  const text = await readFile(file, 'latin1').catch(() => '');
  return assertNumberedLines(text, 'count', file);
}

function waitForCount(file: string, above: number, proc: Proc): Promise<number> {
  return waitFor(async () => {
    const n = await countLines(file);
    return n > above ? n : undefined;
  }, `waiting for more than ${above} lines in ${file}`, () => proc.describe());
}

test('stdout redirected to a file keeps going to the file, with no line lost or repeated', async () => {
  const exe = await fixture('counter-stdout.c');
  const coord = await startCoordinator();
  const dir = await makeTmpDir('file-stdout-');
  const out = path.join(dir, 'out.txt');
  // sh opens the file and execs the program: the program starts with the
  // file as its stdout, as in any shell redirection.
  let proc = launch('/bin/sh', ['-c', `exec '${exe}' > '${out}'`], { ...coord, args: await pluginArgs() });
  await waitForCount(out, 20, proc);
  for (let i = 0; i < 2; i++) {
    const { images } = await checkpointImages(coord);
    expect(images).toHaveLength(1);
    const atCheckpoint = await countLines(out);
    await waitForCount(out, atCheckpoint + 10, proc);
    await kill9(proc);
    const atKill = await countLines(out);
    proc = restart(images, { port: coord.port });
    await waitForCount(out, atKill + 30, proc);
    expect(proc.lines().filter((l) => l.startsWith('count'))).toEqual([]);
    expect(proc.stderr()).not.toMatch(/FAIL/);
    // It had grown since the checkpoint: said once, then rewritten in place.
    expect(fileMessages(proc)).toEqual([
      expect.stringMatching(new RegExp(`^dmtcp file: fd 1: ${out} changed since the checkpoint \\(size \\d+ -> \\d+, modified\\); reopened as it is now$`)),
    ]);
  }
});
