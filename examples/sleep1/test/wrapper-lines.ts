// The output of the sleeper under sleep wrappers: each "tick N" is followed
// by the wrappers' lines around its sleep(1), e.g. for sleep1 alone
//   tick 5 / sleep1: before ... / sleep1: after ...
// and this checks that the lines come in exactly that rhythm.
import type { Proc } from '@dmtcp/core/testing';

/** A line's part in the rhythm: "tick", or "sleepN: before" / "sleepN: after". */
function token(line: string): string | undefined {
  if (/^tick \d+$/.test(line)) return 'tick';
  const m = /^(sleep\d): (before|after) sleep\(1\)/.exec(line);
  return m ? `${m[1]}: ${m[2]}` : undefined;
}

export interface Rhythm {
  /** Lines before the first tick: the end of a cycle begun before a checkpoint. */
  lead: string[];
  /** Complete cycles from the first tick on. */
  complete: number;
}

/**
 * Checks `proc`'s lines from index `after` against repetitions of `cycle`
 * (which starts with "tick"): before the first tick only the end of a cycle
 * may appear, and the last cycle may be cut short (the process was killed or
 * is still running). Every other line is an error.
 */
export function rhythm(proc: Proc, cycle: readonly string[], after = 0): Rhythm {
  const lines = proc.lines().slice(after);
  const tokens = lines.map((l) => token(l));
  const stray = lines.filter((_, i) => tokens[i] === undefined);
  if (stray.length > 0) throw new Error(`${proc.label}: unexpected lines ${JSON.stringify(stray)}\n${proc.describe()}`);
  const toks = tokens as string[];
  const first = toks.indexOf('tick');
  const lead = first < 0 ? toks : toks.slice(0, first);
  const tail = cycle.slice(cycle.length - lead.length);
  if (lead.length >= cycle.length || lead.some((t, i) => t !== tail[i])) {
    throw new Error(`${proc.label}: ${JSON.stringify(lead)} before the first tick is not the end of ${JSON.stringify(cycle)}\n${proc.describe(30)}`);
  }
  let complete = 0;
  if (first >= 0) {
    const rest = toks.slice(first);
    for (let i = 0; i < rest.length; i++) {
      if (rest[i] !== cycle[i % cycle.length]) {
        const at = first + i;
        throw new Error(
          `${proc.label}: line ${after + at} is ${JSON.stringify(lines[at])}, expected a "${cycle[i % cycle.length]}" line; ` +
            `around it:\n${lines.slice(Math.max(0, at - cycle.length), at + 2).join('\n')}`,
        );
      }
    }
    complete = Math.floor(rest.length / cycle.length);
  }
  return { lead: lead, complete };
}

/** Wait until at least `n` complete cycles have been printed since line `after`. */
export function waitForCycles(proc: Proc, cycle: readonly string[], n: number, after = 0, timeoutMs = 20_000): Promise<Rhythm> {
  return proc.waitUntil(() => {
    const r = rhythm(proc, cycle, after);
    return r.complete >= n ? r : undefined;
  }, `waiting for ${n} complete cycles of ${JSON.stringify(cycle)}`, timeoutMs);
}
