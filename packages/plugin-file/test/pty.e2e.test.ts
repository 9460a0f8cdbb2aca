// A program that made a pseudo-terminal and talks to itself through it:
// the parent on the master, a child in a session of its own on the slave
// (its controlling terminal), echo on, lines in flight both ways. After each
// restart the pair is a new one, with the child's settings (interrupt
// character, echo), the window size, the child's controlling terminal, and
// every byte that was in flight: each line is echoed once and answered
// once, in order.
import { afterEach, expect, test } from 'vitest';
import {
  assertConsecutive, checkpointImages, cleanup, kill9, launch, restart, sequenceValues, startCoordinator, waitForValueAbove,
  type Proc,
} from '@dmtcp/core/testing';
import { failures, fileMessages, fixture, pluginArgs, problems } from './helpers.ts';

afterEach(cleanup);

const OK = /^ok (\d+) /;
const STATE = /^ok \d+ vintr=07 echo=on rows=33 cols=111 ctty=yes$/;

function drainedInput(proc: Proc): number[] {
  return fileMessages(proc).flatMap((l) => {
    const m = /^dmtcp file: fd \d+ \(pty \d+\): drained (\d+) bytes of input and (\d+) of output$/.exec(l);
    return m ? [Number(m[1])] : [];
  });
}

test('a pseudo-terminal pair the program talks through comes back paired, set up, with its bytes in flight', async () => {
  const exe = await fixture('pty.c');
  const coord = await startCoordinator();
  const env = { DMTCP_DEBUG: '1' };
  let proc = launch(exe, [], { ...coord, args: await pluginArgs(), env });
  await waitForValueAbove(proc, OK, 10);
  expect(proc.lines().filter((l) => OK.test(l)).at(-1)).toMatch(STATE);
  for (let cycle = 1; cycle <= 2; cycle++) {
    const beforeCheckpoint = sequenceValues(proc, OK).at(-1) ?? 0;
    const { images } = await checkpointImages(coord);
    expect(images).toHaveLength(2);
    // The child reads slower than the parent writes: lines were waiting.
    expect(drainedInput(proc).at(-1), proc.describe()).toBeGreaterThan(0);
    const atCheckpoint = sequenceValues(proc, OK).at(-1) ?? 0;
    await waitForValueAbove(proc, OK, atCheckpoint + 5);
    const beforeKill = sequenceValues(proc, OK).at(-1) ?? 0;
    assertConsecutive(sequenceValues(proc, OK), `cycle ${cycle} before the kill`);
    expect(failures(proc)).toEqual([]);
    await kill9(proc);
    proc = restart(images, { port: coord.port, env });
    await proc.waitUntil(() => (sequenceValues(proc, OK).length >= 10 ? true : undefined), 'waiting for replies after restart');
    const resumed = sequenceValues(proc, OK);
    assertConsecutive(resumed, `cycle ${cycle} after restart`);
    expect(resumed[0]).toBeGreaterThanOrEqual(beforeCheckpoint + 1);
    expect(resumed[0]).toBeLessThanOrEqual(beforeKill + 1);
    for (const l of proc.lines().filter((x) => OK.test(x))) expect(l).toMatch(STATE);
    expect(failures(proc)).toEqual([]);
    expect(problems(proc)).toEqual([]);
  }
});
