// Reading the example plugin's lines ("example: NAME pid=P tid=T ...") from
// a process's stderr, where dmtcp_log writes them.
import type { Proc } from '@dmtcp/core/testing';

export interface Ev {
  name: string;
  pid: number;
  tid: number;
  isRestart?: number;
  /** What follows the ids: isRestart=, child=, file=, image=, status=. */
  detail: string;
}

const LINE = /^example: (\w+) pid=(\d+) tid=(\d+)(.*)$/;

export function events(proc: Proc): Ev[] {
  const out: Ev[] = [];
  for (const line of proc.stderr().split('\n')) {
    const m = LINE.exec(line);
    if (!m) continue;
    const detail = (m[4] ?? '').trim();
    const r = /isRestart=(\d+)/.exec(detail);
    out.push({
      name: m[1] as string,
      pid: Number(m[2]),
      tid: Number(m[3]),
      ...(r ? { isRestart: Number(r[1]) } : {}),
      detail,
    });
  }
  return out;
}

/** "NAME" or "NAME isRestart=N": what the sequences below compare. */
export function label(e: Ev): string {
  return e.isRestart === undefined ? e.name : `${e.name} isRestart=${e.isRestart}`;
}

/** The labels of the events one thread received, in order. */
export function threadSeq(evs: readonly Ev[], tid: number): string[] {
  return evs.filter((e) => e.tid === tid).map(label);
}

export function show(evs: readonly Ev[]): string {
  return evs.map((e) => `  ${label(e)} pid=${e.pid} tid=${e.tid}`).join('\n');
}

/** Index of the first event matching, or -1. */
export function indexOf(evs: readonly Ev[], name: string, tid?: number): number {
  return evs.findIndex((e) => e.name === name && (tid === undefined || e.tid === tid));
}

/**
 * Stderr is not split into lines by the harness, and its waiters only wake on
 * stdout, so this polls: resolves with the first value `check` returns for the
 * events from index `after` on.
 */
export async function waitForEvents<T>(
  proc: Proc,
  after: number,
  check: (evs: Ev[]) => T | undefined,
  what: string,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const evs = events(proc).slice(after);
    const v = check(evs);
    if (v !== undefined) return v;
    if (!proc.running) throw new Error(`${what}: the process ended first\n${show(evs)}\n${proc.describe()}`);
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms ${what}; events so far:\n${show(evs)}\n${proc.describe()}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
