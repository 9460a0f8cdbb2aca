// Driving test/fixtures/pid-tree.c: a parent, 3 children, 3 grandchildren.
import { expect } from 'vitest';
import type { Proc } from '@dmtcp/core/testing';
import { collect, strays } from './helpers.ts';

const ID = /^ID (\w+) pid=(\d+) ppid=(\d+) pgid=(\d+) sid=(\d+) tid=(\d+) pgrp=(\d+)$/;

export interface Ids { pid: number; ppid: number; pgid: number; sid: number; tid: number; pgrp: number }

/** Asks every process (by real pid) how it sees itself. */
export async function reportIds(proc: Proc, pids: readonly number[]): Promise<Map<string, Ids>> {
  const mark = proc.mark();
  for (const pid of pids) {
    strays.add(pid);
    process.kill(pid, 'SIGUSR1');
  }
  const lines = await collect(proc, ID, pids.length, mark, 'ID');
  const out = new Map<string, Ids>();
  for (const m of lines) {
    const [pid, ppid, pgid, sid, tid, pgrp] = m.slice(2).map(Number) as [number, number, number, number, number, number];
    out.set(m[1]!, { pid, ppid, pgid, sid, tid, pgrp });
  }
  expect(out.size, `one ID line per process:\n${proc.lines().slice(mark).join('\n')}`).toBe(pids.length);
  return out;
}

/** Forks as the program saw them: name -> the pid fork() returned. */
export function forked(proc: Proc): Map<string, number> {
  const out = new Map<string, number>();
  for (const l of proc.lines()) {
    const m = /^FORKED (\w+) vpid=(\d+)$/.exec(l);
    if (m) out.set(m[1]!, Number(m[2]));
  }
  return out;
}

/** The final exchange: PING/PONG by virtual pid, then kill + waitpid(vpid). */
export async function finish(proc: Proc, ids: Map<string, Ids>): Promise<void> {
  const mark = proc.mark();
  process.kill(proc.pid, 'SIGUSR2');
  await proc.waitForLine(/^DONE$/, 20_000, { after: mark });
  const out = proc.lines().slice(mark);
  for (let i = 0; i < 3; i++) {
    const child = ids.get(`child${i}`)!.pid;
    const grand = ids.get(`grand${i}`)!.pid;
    expect(out).toContain(`PING child${i} ${child}`);
    expect(out).toContain(`PONG child${i} pid=${child}`);
    expect(out).toContain(`WAITED child${i} vpid=${child} ret=${child} code=${10 + i}`);
    expect(out).toContain(`WAITED grand${i} vpid=${grand} ret=${grand} code=${20 + i}`);
  }
  expect(out.filter((l) => l.startsWith('PONG')), out.join('\n')).toHaveLength(3);
  expect(out.filter((l) => l.startsWith('FAIL')), out.join('\n')).toEqual([]);
}

/** How the processes relate, checked once on the launched tree. */
export function expectShape(ids: Map<string, Ids>): void {
  const p = ids.get('parent')!;
  for (let i = 0; i < 3; i++) {
    const c = ids.get(`child${i}`)!;
    const g = ids.get(`grand${i}`)!;
    expect(c.ppid).toBe(p.pid);
    expect(g.ppid).toBe(c.pid);
    expect(c.sid).toBe(p.sid);
  }
  expect(ids.get('child0')!.pgid).toBe(p.pgid);
  expect(ids.get('child1')!.pgid).toBe(ids.get('child1')!.pid);
  expect(ids.get('grand0')!.sid).toBe(ids.get('grand0')!.pid);
  expect(ids.get('grand1')!.pgid).toBe(ids.get('grand1')!.pid);
  expect(ids.get('grand2')!.pgid).toBe(p.pgid);
  for (const v of ids.values()) {
    expect(v.tid).toBe(v.pid);
    expect(v.pgrp).toBe(v.pgid);
  }
}
