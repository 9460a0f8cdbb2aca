// Checking that a program printing an increasing counter (one value per line)
// continues exactly where its checkpoint left it: no reset, no gap, no repeat.
import type { Proc } from './proc.ts';
import { checkpointImages, kill9, restart, type CoordinatorRef, type RestartOptions } from './dmtcp.ts';

/** The values of the lines matching `re` (first capture group), from line `after` on. */
export function sequenceValues(proc: Proc, re: RegExp, after = 0): number[] {
  const values: number[] = [];
  for (const line of proc.lines().slice(after)) {
    const m = re.exec(line);
    if (m?.[1] !== undefined) values.push(Number(m[1]));
  }
  return values;
}

/** Throws unless every value is the previous one plus 1. */
export function assertConsecutive(values: readonly number[], what: string): void {
  for (let i = 1; i < values.length; i++) {
    const prev = values[i - 1] as number;
    if (values[i] !== prev + 1) {
      throw new Error(`${what}: ${values[i]} follows ${prev} (expected ${prev + 1}); values: ${values.slice(Math.max(0, i - 5), i + 5).join(' ')}`);
    }
  }
}

function lastValue(proc: Proc, re: RegExp): number | undefined {
  const v = sequenceValues(proc, re);
  return v.length ? v[v.length - 1] : undefined;
}

/** Wait until a value greater than `than` has been printed; returns it. */
export async function waitForValueAbove(proc: Proc, re: RegExp, than: number, timeoutMs = 20_000): Promise<number> {
  return proc.waitUntil(
    () => {
      const v = lastValue(proc, re);
      return v !== undefined && v > than ? v : undefined;
    },
    `waiting for a value above ${than} (${re})`,
    timeoutMs,
  );
}

export interface CycleResult {
  /** The restarted process. */
  proc: Proc;
  /** Last value seen before the checkpoint was requested. */
  beforeCheckpoint: number;
  /** Last value seen before the kill. */
  beforeKill: number;
  /** First value printed after restart. */
  firstAfterRestart: number;
  images: string[];
}

export interface CycleOptions extends Partial<Omit<RestartOptions, 'port'>> {
  /** Lines the restarted process must print, consecutively, before the cycle counts as good. */
  linesAfterRestart?: number;
  timeoutMs?: number;
  /** Expected number of images per checkpoint (default 1). */
  expectImages?: number;
}

/**
 * One cycle: checkpoint, check that the output goes on, kill -9, restart from
 * the images just written, and check that the restarted counter resumes at
 * k+1 for a k it had printed between the checkpoint request and the kill.
 */
export async function checkpointKillRestart(proc: Proc, re: RegExp, coord: CoordinatorRef, opts: CycleOptions = {}): Promise<CycleResult> {
  const timeoutMs = opts.timeoutMs ?? 20_000;
  const seen = sequenceValues(proc, re);
  assertConsecutive(seen, `${proc.label} before the checkpoint`);
  const beforeCheckpoint = seen[seen.length - 1];
  if (beforeCheckpoint === undefined) throw new Error(`${proc.label} printed no line matching ${re} before the checkpoint\n${proc.describe()}`);

  const { images, reply } = await checkpointImages(coord);
  const expected = opts.expectImages ?? 1;
  if (images.length !== expected) {
    throw new Error(`checkpoint wrote ${images.length} images, expected ${expected}: ${images.join(' ')}; reply ${JSON.stringify(reply)}`);
  }
  const atReturn = lastValue(proc, re) ?? beforeCheckpoint;
  await waitForValueAbove(proc, re, atReturn, timeoutMs);

  const status = await kill9(proc);
  if (status.signal !== 'SIGKILL') throw new Error(`${proc.label} was expected to die of SIGKILL, but it ${JSON.stringify(status)}\n${proc.describe()}`);
  const all = sequenceValues(proc, re);
  assertConsecutive(all, `${proc.label} up to the kill`);
  const beforeKill = all[all.length - 1] as number;

  const next = restart(images, { ...opts, port: coord.port });
  const want = opts.linesAfterRestart ?? 3;
  await next.waitUntil(() => (sequenceValues(next, re).length >= want ? true : undefined), `waiting for ${want} lines matching ${re} after restart`, timeoutMs);
  const resumed = sequenceValues(next, re);
  const firstAfterRestart = resumed[0] as number;
  if (firstAfterRestart < beforeCheckpoint + 1 || firstAfterRestart > beforeKill + 1) {
    throw new Error(
      `${next.label}: the restarted counter starts at ${firstAfterRestart}, but the checkpoint was taken after ${beforeCheckpoint} ` +
      `and before ${beforeKill + 1} was printed, so it must start in [${beforeCheckpoint + 1}, ${beforeKill + 1}]\n${next.describe()}`,
    );
  }
  assertConsecutive(resumed, `${next.label} after restart`);
  return { proc: next, beforeCheckpoint, beforeKill, firstAfterRestart, images };
}
