// Plugins written for DMTCP's own plugin API (descriptors, DMTCP_DECL_PLUGIN,
// NEXT_FNC through dmtcp_dlsym, DMTCP's event numbers, barriers by name, the
// key/value database) under our runtime. Each plugin is built twice: against
// include/dmtcp/dmtcp.h, and against test/dmtcp5/fixture/dmtcp.h, which
// reproduces the binary interface of DMTCP's header without anything of ours.
// Both builds go through three checkpoint, kill -9, restart cycles of a
// program of two processes and must see the same events in the same order.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, expect, test } from 'vitest';
import { paths } from '../src/paths.ts';
import {
  checkpointImages, cleanup, launch, makeTmpDir, restart, startCoordinator, waitForProcesses, type Proc,
} from '../src/testing/index.ts';

const run = promisify(execFile);
const here = path.join(fileURLToPath(new URL('.', import.meta.url)), 'dmtcp5');
const CC = process.env.CC ?? 'gcc';
const FLAGS = ['-std=gnu11', '-Wall', '-Wextra', '-Werror', '-O1', '-fPIC'];

afterEach(cleanup);

type Variant = 'ours' | 'fixture';

async function buildPlugin(dir: string, name: string, variant: Variant): Promise<string> {
  const include = variant === 'ours' ? path.join(paths.includeDir, 'dmtcp') : path.join(here, 'fixture');
  const lib = path.join(dir, `lib${name}-${variant}.so`);
  await run(CC, [...FLAGS, '-shared', `-DVARIANT="${variant}"`, '-I', include, '-I', here, '-o', lib, path.join(here, `${name}.c`), '-ldl']);
  return lib;
}

interface Line {
  who: string; // "example NAME" or "sleep NAME"
  pid: number;
  text: string;
}

/** The plugins' lines of one build, in the order they were written. */
function lines(proc: Proc, variant: string): Line[] {
  const out: Line[] = [];
  const re = new RegExp(`^d5\\[${variant}\\] (\\w+) (.*?) ?pid=(\\d+)(.*)$`);
  for (const l of proc.stderr().split('\n')) {
    const m = re.exec(l);
    if (m) out.push({ who: `${m[1]} ${m[2]}`.trim(), pid: Number(m[3]), text: l });
  }
  return out;
}

/**
 * The events one process saw, wrapper lines left out. THREAD_RESUME runs in
 * the user thread and RUNNING in the checkpoint thread, at about the same
 * time: their relative order is not defined, so a THREAD_RESUME is moved
 * after a RUNNING that directly follows it.
 */
function roundSeq(ls: readonly Line[], pid: number): string[] {
  const seq = ls.filter((l) => l.pid === pid && !l.who.startsWith('sleep before') && !l.who.startsWith('sleep after')).map((l) => l.who);
  for (let i = 0; i + 1 < seq.length; i++) {
    if (seq[i] === 'example THREAD_RESUME' && seq[i + 1] === 'example RUNNING') [seq[i], seq[i + 1]] = [seq[i + 1] as string, seq[i] as string];
  }
  return seq;
}

async function waitFor<T>(proc: Proc, check: () => T | undefined, what: string, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = check();
    if (v !== undefined) return v;
    if (!proc.running) throw new Error(`${what}: the process ended first\n${proc.describe()}`);
    if (Date.now() > deadline) throw new Error(`timed out ${what}\n${proc.describe()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const CKPT_SEQ = [
  'example PRESUSPEND',
  'example PRECHECKPOINT', 'example PRECHECKPOINT-barrier', 'sleep PRECHECKPOINT',
  // the way back: the plugin registered last first
  'sleep RESUME', 'example RESUME', 'example RESUME-barrier',
  'example RUNNING',
  'example THREAD_RESUME',
];
const RESTART_SEQ = ['sleep RESTART', 'example RESTART', 'example RESTART-barrier', 'example RUNNING', 'example THREAD_RESUME'];

/** Everything one build's plugins saw over launch and three cycles, per process role, pids left out. */
async function scenario(variant: Variant, withKvdb: boolean): Promise<{ parent: string[][]; child: string[][]; kvdb: string[] }> {
  const dir = await makeTmpDir(`dmtcp5-${variant}-`);
  const libs = [await buildPlugin(dir, 'example5', variant), await buildPlugin(dir, 'sleep5', variant)];
  if (withKvdb) libs.push(await buildPlugin(dir, 'kvdb5', 'ours'));
  const app = path.join(dir, 'app5');
  await run(CC, ['-O1', '-o', app, path.join(here, 'app5.c')]);

  const coord = await startCoordinator();
  let proc = launch(app, [], { ...coord, args: ['--with-plugin', libs.join(':')] });
  const parentPid = Number((await proc.waitForLine(/^parent pid=(\d+) n=2$/, 30_000)).match[1]);
  const childPid = Number((await proc.waitForLine(/^child pid=(\d+) n=2$/, 30_000)).match[1]);
  await waitForProcesses(coord.port, 2);

  const launched = lines(proc, variant);
  const parent: string[][] = [roundSeq(launched, parentPid)];
  const child: string[][] = [roundSeq(launched, childPid)];
  // NEXT_FNC reaches libc's sleep through dmtcp_dlsym: the call really sleeps.
  const after = launched.find((l) => l.pid === parentPid && l.who.startsWith('sleep after'));
  expect(after?.text, launched.map((l) => l.text).join('\n')).toMatch(/after sleep\(1\)=0 ms=(9\d\d|1\d\d\d)/);

  const kvdb: string[] = [];
  let pids = [parentPid, childPid];
  for (let cycle = 1; cycle <= 3; cycle++) {
    const mark = lines(proc, variant).length;
    const { images } = await checkpointImages(coord);
    expect(images).toHaveLength(2);
    const round = await waitFor(proc, () => {
      const ls = lines(proc, variant).slice(mark);
      return pids.every((p) => roundSeq(ls, p).filter((w) => w === 'example RUNNING').length >= 1) ? ls : undefined;
    }, `cycle ${cycle}: the checkpoint round`);
    parent.push(roundSeq(round, pids[0] as number));
    child.push(roundSeq(round, pids[1] as number));
    if (withKvdb) {
      for (const l of proc.stderr().split('\n')) if (l.startsWith('d5[kvdb]') && !kvdb.includes(l)) kvdb.push(l);
    }

    await proc.kill9();
    const back = restart(images, coord);
    await waitForProcesses(coord.port, 2);
    const got = await waitFor(back, () => {
      const ls = lines(back, variant);
      const ps = [...new Set(ls.filter((l) => l.who === 'example RUNNING').map((l) => l.pid))];
      return ps.length === 2 ? { ls, ps } : undefined;
    }, `cycle ${cycle}: the restart`);
    // The restarted processes keep their roles: tell them apart by their program output.
    const p2 = Number((await back.waitForLine(/^parent pid=(\d+) n=\d+$/, 30_000)).match[1]);
    const c2 = Number((await back.waitForLine(/^child pid=(\d+) n=\d+$/, 30_000)).match[1]);
    expect(new Set(got.ps)).toEqual(new Set([p2, c2]));
    parent.push(roundSeq(got.ls, p2));
    child.push(roundSeq(got.ls, c2));
    // the wrapper works in the restarted process too
    await waitFor(back, () => lines(back, variant).find((l) => l.pid === p2 && l.who.startsWith('sleep after')), 'a sleep after restart');
    proc = back;
    pids = [p2, c2];
  }
  if (withKvdb) {
    for (const l of proc.stderr().split('\n')) if (l.startsWith('d5[kvdb]') && !kvdb.includes(l)) kvdb.push(l);
  }
  await proc.kill9();
  return { parent, child, kvdb };
}

test('DMTCP-style plugins built against our dmtcp.h and against DMTCP\'s interface see the same events, over 3 cycles', async () => {
  const ours = await scenario('ours', true);
  const fixture = await scenario('fixture', false);

  // ---- launch: INIT, then fork (prepare before, parent/child after), then the checkpoint thread is ready ----
  const [launchParent] = ours.parent;
  const [launchChild] = ours.child;
  const mainThread = (seq: readonly string[] | undefined): string[] => (seq ?? []).filter((w) => w !== 'example RUNNING');
  expect(launchParent?.slice(0, 1)).toEqual(['example INIT']);
  expect(launchParent).toContain('example ATFORK_PREPARE');
  expect(launchParent).toContain('example ATFORK_PARENT');
  expect(launchParent).toContain('example RUNNING');
  expect(mainThread(launchChild)).toEqual(['example ATFORK_CHILD']);
  expect(launchParent?.some((w) => w.includes('UNKNOWN') || w.includes('_FD') || w.includes('PATH'))).toBe(false);

  // ---- each checkpoint: forward order in, reverse order back; barriers complete ----
  for (const k of [1, 3, 5]) {
    expect(ours.parent[k], `checkpoint round ${k}`).toEqual(CKPT_SEQ);
    expect(ours.child[k], `checkpoint round ${k}`).toEqual(CKPT_SEQ);
  }
  for (const k of [2, 4, 6]) {
    expect(ours.parent[k], `restart ${k}`).toEqual(RESTART_SEQ);
    expect(ours.child[k], `restart ${k}`).toEqual(RESTART_SEQ);
  }

  // ---- the build against DMTCP's interface behaves the same ----
  // (at launch RUNNING comes from the checkpoint thread while main forks: compared as sets)
  expect(fixture.parent.slice(1)).toEqual(ours.parent.slice(1));
  expect(fixture.child.slice(1)).toEqual(ours.child.slice(1));
  expect([...(fixture.parent[0] ?? [])].sort()).toEqual([...(launchParent ?? [])].sort());
  expect([...(fixture.child[0] ?? [])].sort()).toEqual([...(launchChild ?? [])].sort());
  expect(mainThread(launchParent)).toEqual(['example INIT', 'example ATFORK_PREPARE', 'example ATFORK_PARENT']);
  expect(mainThread(fixture.parent[0])).toEqual(mainThread(launchParent));

  // ---- kvdb: both processes add to one counter before the barrier and read 2 after it; the database
  // goes with the computation (killed), so each restarted one starts from nothing ----
  expect(ours.kvdb).toHaveLength(6);
  const totals = ours.kvdb.map((l) => Number(/total=(-?\d+)/.exec(l)?.[1])).sort((a, b) => a - b);
  expect(totals).toEqual([2, 2, 2, 2, 2, 2]);
  for (const l of ours.kvdb) {
    expect(l).toMatch(/incr=0 get=0 set=0 getkey=0 missing=3 nodb=2 /);
    const pid = /pid=(\d+)/.exec(l)?.[1];
    expect(l).toContain(`own=${pid}`);
  }
}, 300_000);
