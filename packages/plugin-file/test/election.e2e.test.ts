// Two processes hold one log (the description they share since a fork).
// With DMTCP_RESTORE_FILE_CONTENTS=1 the checkpointed bytes go back once:
// the coordinator elects one process (the lowest upid) to write them, and
// each process's lines in the log go on without a gap or a repeat.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, expect, test } from 'vitest';
import {
  checkpointImages, cleanup, kill9, launch, makeTmpDir, restart, sequenceValues, startCoordinator, waitForValueAbove,
  type Proc,
} from '@dmtcp/core/testing';
import { fileMessages, fixture, pluginArgs } from './helpers.ts';

afterEach(cleanup);

const ROLE = { parent: /^parent (\d+)$/, child: /^child (\d+)$/ } as const;

async function bothAbove(proc: Proc, n: number): Promise<void> {
  await waitForValueAbove(proc, ROLE.parent, n);
  await waitForValueAbove(proc, ROLE.child, n);
}

function assertLogSequences(text: string, log: string): void {
  const lines = text.split('\n');
  lines.pop();
  for (const role of ['parent', 'child'] as const) {
    const values = lines.filter((l) => l.startsWith(`${role} `)).map((l) => Number(l.slice(role.length + 1)));
    values.forEach((v, i) => {
      if (v !== i + 1) throw new Error(`${log}: ${role} line ${i + 1} says ${v}: ${values.slice(Math.max(0, i - 3), i + 3).join(' ')}`);
    });
    expect(values.length).toBeGreaterThan(20);
  }
}

test('one of the processes holding a file writes its checkpointed contents back', async () => {
  const exe = await fixture('fork-log.c');
  const coord = await startCoordinator();
  const dir = await makeTmpDir('file-election-');
  const log = path.join(dir, 'shared.log');
  const env = { DMTCP_CKPT_OPEN_FILES: '1', DMTCP_RESTORE_FILE_CONTENTS: '1' };
  let proc = launch(exe, [log], { ...coord, args: await pluginArgs(), env });
  await bothAbove(proc, 15);
  for (let i = 0; i < 2; i++) {
    const { images } = await checkpointImages(coord);
    expect(images).toHaveLength(2);
    await bothAbove(proc, Math.max(...sequenceValues(proc, ROLE.parent), ...sequenceValues(proc, ROLE.child)) + 5);
    await kill9(proc);
    proc = restart(images, { port: coord.port, env: { DMTCP_RESTORE_FILE_CONTENTS: '1' } });
    await proc.waitUntil(
      () => (sequenceValues(proc, ROLE.parent).length > 10 && sequenceValues(proc, ROLE.child).length > 10 ? true : undefined),
      'waiting for both processes to go on after restart',
    );
    expect(fileMessages(proc)).toEqual([
      `dmtcp file: fd 3: ${log} had changed since the checkpoint; its checkpointed contents are back (DMTCP_RESTORE_FILE_CONTENTS=1)`,
    ]);
    assertLogSequences(await readFile(log, 'latin1'), log);
  }
});
