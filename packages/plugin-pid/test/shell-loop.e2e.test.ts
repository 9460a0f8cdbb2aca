// Shells that fork and exec on every turn: bash runs a loop under control,
// is checkpointed in the middle (with whatever `sleep` it is waiting for),
// killed and restarted, twice, and finishes with the right output and exit
// status. Output goes to a pipe the harness reads, so the ticks printed
// between a checkpoint and the kill are printed again by the restarted
// shell: the sequence may repeat a value but never skips one.
//  - a plain loop: `echo tick $i; sleep 0.1`;
//  - a loop with two background workers, each waited for by its pid
//    (`wait $a`, `wait $b`, whose status must be 0: bash knows the children
//    by the pids fork returned, and must still find them after a restart);
//  - a loop beside a background worker that lives through the restarts:
//    every turn `kill -0 $w` must find it and bash must find itself in
//    /proc/$$/status; at the end `kill $w` must reach it and `wait $w`
//    report its death by SIGTERM (143). (Builtins only in the turn: a
//    checkpoint inside a `$(...)` leaves a pipe, which only the file plugin
//    restores, and it is not loaded here.)
import { existsSync } from 'node:fs';
import { afterEach, expect, test } from 'vitest';
import {
  checkpointImages, cleanup, launch, restart, startCoordinator, waitForProcesses, type CheckpointResult,
  type CoordinatorRef, type Proc,
} from '@dmtcp/core/testing';
import { killStrays, realPids, strays, withPlugin } from './helpers.ts';

afterEach(async () => {
  killStrays();
  await cleanup();
});

const N = 50;
const TICK = /^tick (\d+)(?: (.*))?$/;

/**
 * A checkpoint, and the images it wrote (as the coordinator lists them).
 * Retried when a command of the loop ended at the wrong moment: a `sleep`
 * finishing while the checkpoint runs fails the round, and one finishing
 * right after its memory was captured, before its checkpoint thread put the
 * image in place, leaves a complete round with an image missing. Either way
 * the previous images stay and the next round is a good one.
 */
async function checkpointLoop(coord: CoordinatorRef): Promise<string[]> {
  for (let attempt = 1; ; attempt++) {
    let result: CheckpointResult;
    try {
      result = await checkpointImages(coord);
    } catch (e) {
      if (attempt >= 5 || !/exited during the checkpoint/.test(String(e))) throw e;
      continue;
    }
    const listed = result.reply.images;
    const images = Array.isArray(listed) ? (listed as string[]) : result.images;
    if (images.every((f) => existsSync(f)) || attempt >= 5) return images;
  }
}

/** The tick numbers printed so far; each line must carry `rest` after its number. */
function ticks(proc: Proc, rest?: string): number[] {
  const out: number[] = [];
  for (const l of proc.lines()) {
    const m = TICK.exec(l);
    if (!m) continue;
    expect(m[2], l).toBe(rest);
    out.push(Number(m[1]));
  }
  return out;
}

function expectConsecutive(seq: readonly number[], what: string): void {
  for (let k = 1; k < seq.length; k++) expect(seq[k], `${what}: ${seq.join(' ')}`).toBe(seq[k - 1]! + 1);
}

test.each([
  {
    name: 'a plain loop',
    script: `for i in $(seq 1 ${N}); do echo tick $i; sleep 0.1; done; echo END`,
    rest: undefined,
    end: 'END',
  },
  {
    name: 'a loop that waits for two background workers by pid',
    script: `for i in $(seq 1 ${N}); do sleep 0.05 & a=$!; sleep 0.1 & b=$!; wait $a; x=$?; wait $b; echo tick $i $x $?; done; echo END`,
    rest: '0 0',
    end: 'END',
  },
  {
    name: 'a loop beside a worker that lives through the restarts',
    script: [
      'sleep 1000 & w=$!',
      `for i in $(seq 1 ${N}); do`,
      '  kill -0 $w && s=alive || s=gone',
      '  read -r name rest < /proc/$$/status',
      '  echo tick $i $s $name $rest; sleep 0.1',
      'done',
      'kill $w; wait $w; echo END $?',
    ].join('\n'),
    rest: 'alive Name: bash',
    end: 'END 143',
  },
])('bash running $name survives two restarts and finishes with the right output', async ({ script, rest, end }) => {
  const coord = await startCoordinator();
  let proc = launch('/bin/bash', ['-c', script], { ...coord, ...withPlugin() });
  let last = 0;
  for (let cycle = 1; cycle <= 2; cycle++) {
    const target = last + 8;
    await proc.waitUntil(() => ((ticks(proc, rest).at(-1) ?? 0) >= target ? true : undefined), `tick ${target}`, 30_000);
    const before = ticks(proc, rest);
    expectConsecutive(before, `ticks before checkpoint ${cycle}`);
    expect(before[0], 'each life goes on from where the last one was checkpointed').toBeLessThanOrEqual(last + 1);
    const atCheckpoint = before.at(-1)!;
    const images = await checkpointLoop(coord);
    expect(images.length, 'bash and possibly the commands it waits for').toBeGreaterThanOrEqual(1);
    for (const pid of await realPids(coord.port)) strays.add(pid);
    killStrays();
    await proc.kill9();
    await waitForProcesses(coord.port, 0);
    last = ticks(proc, rest).at(-1)!;

    proc = restart(images, coord);
    const first = await proc.waitUntil(() => ticks(proc, rest)[0], 'the first tick after the restart', 30_000);
    for (const pid of await realPids(coord.port)) strays.add(pid);
    expect(first, `restart ${cycle}: no tick skipped`).toBeLessThanOrEqual(last + 1);
    expect(first, `restart ${cycle}: nothing from before the checkpoint is repeated`).toBeGreaterThan(atCheckpoint);
  }
  const st = await proc.waitForExit(60_000);
  const final = ticks(proc, rest);
  expectConsecutive(final, 'ticks after the last restart');
  expect(final.at(-1)).toBe(N);
  expect(proc.lines().at(-1)).toBe(end);
  expect(st.code, proc.stderr()).toBe(0);
});
