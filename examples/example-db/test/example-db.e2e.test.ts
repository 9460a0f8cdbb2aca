// Publish/subscribe between a parent and its forked child: at every
// checkpoint each process gets the other's current value, and again after
// both are killed and restarted together from their images.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, expect, test } from 'vitest';
import {
  checkpointImages, cleanup, corePackageRoot, launch, restart, startCoordinator, waitForProcesses, type Proc,
} from '@dmtcp/core/testing';

const pkgRoot = fileURLToPath(new URL('..', import.meta.url));
const PLUGIN = path.join(pkgRoot, 'build', 'lib', 'libexample-db.so');
const APP = path.join(pkgRoot, 'build', 'bin', 'exampledb-app');

type Role = 'parent' | 'child';
const ROLES: readonly Role[] = ['parent', 'child'];
const peerOf = (r: Role): Role => (r === 'parent' ? 'child' : 'parent');

/** A return code as plugin.h defines it, so the test follows the header. */
function headerConstant(name: string): number {
  const header = readFileSync(path.join(corePackageRoot, 'include', 'dmtcp', 'plugin.h'), 'utf8');
  const m = new RegExp(`^#define ${name} (-?\\d+)`, 'm').exec(header);
  if (!m) throw new Error(`${name} is not defined in plugin.h`);
  return Number(m[1]);
}
const NS_OK = headerConstant('DMTCP_NS_OK');
const NS_NOT_FOUND = headerConstant('DMTCP_NS_NOT_FOUND');
const NS_BUFFER_TOO_SMALL = headerConstant('DMTCP_NS_BUFFER_TOO_SMALL');
const NS_ERROR = headerConstant('DMTCP_NS_ERROR');

afterEach(cleanup);

interface DbLine {
  role: Role;
  ckpt: number;
  restart: number;
  what: string;
}

const LINE = /^example-db: role=(parent|child) ckpt=(\d+) restart=(\d+): (.*)$/;

function dbLines(proc: Proc): DbLine[] {
  const out: DbLine[] = [];
  for (const line of proc.stderr().split('\n')) {
    const m = LINE.exec(line);
    if (m) out.push({ role: m[1] as Role, ckpt: Number(m[2]), restart: Number(m[3]), what: m[4] as string });
  }
  return out;
}

/** Polls stderr (the harness only wakes waiters on stdout) until both processes finished round (ckpt, restart). */
async function waitForRound(proc: Proc, ckpt: number, restart: number): Promise<Map<Role, string[]>> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const mine = dbLines(proc).filter((l) => l.ckpt === ckpt && l.restart === restart);
    const byRole = new Map<Role, string[]>(ROLES.map((r) => [r, mine.filter((l) => l.role === r).map((l) => l.what)]));
    if (ROLES.every((r) => byRole.get(r)?.some((w) => w.startsWith('outside')))) return byRole;
    if (Date.now() > deadline || !proc.running) {
      throw new Error(`no complete name-service round ckpt=${ckpt} restart=${restart}\n${proc.describe(10)}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** The current pid of each role, from the program's own lines since `after`. */
async function pids(proc: Proc, after = 0): Promise<Record<Role, number>> {
  const parent = await proc.waitForLine(/^parent pid=(\d+) n=\d+$/, 20_000, { after });
  const child = await proc.waitForLine(/^child pid=(\d+) n=\d+$/, 20_000, { after });
  return { parent: Number(parent.match[1]), child: Number(child.match[1]) };
}

/**
 * What each process published and what it got back in one round; returns
 * each role's unique id as published.
 */
function expectRound(round: Map<Role, string[]>, ckpt: number, restart: number, pid: Record<Role, number>): Record<Role, string> {
  const published = new Map<Role, { value: string; upid: string }>();
  for (const role of ROLES) {
    const lines = round.get(role) ?? [];
    const pub = lines.map((w) => /^publish example-db:(\w+) = "(.*)" rc=(-?\d+)$/.exec(w)).find((m) => m);
    expect(pub, `${role} published nothing:\n${lines.join('\n')}`).toBeTruthy();
    const [, key, value, rc] = pub as RegExpExecArray;
    expect(key).toBe(role);
    expect(Number(rc)).toBe(NS_OK);
    const v = new RegExp(`^role=${role} upid=([0-9a-f]+) pid=(\\d+) ckpt=(\\d+) restart=(\\d+)$`).exec(value as string);
    expect(v, `published value ${value}`).toBeTruthy();
    expect(Number(v?.[2]), `${role}'s published pid is its current pid`).toBe(pid[role]);
    expect([Number(v?.[3]), Number(v?.[4])]).toEqual([ckpt, restart]);
    published.set(role, { value: value as string, upid: v?.[1] as string });
  }
  for (const role of ROLES) {
    const peer = peerOf(role);
    const theirs = published.get(peer)?.value as string;
    const bytes = Buffer.byteLength(theirs);
    expect(round.get(role), `${role} in round ckpt=${ckpt} restart=${restart}`).toEqual([
      expect.stringMatching(/^publish /),
      `query example-db:nobody rc=${NS_NOT_FOUND}`,
      `query example-db:${peer} with 4 bytes rc=${NS_BUFFER_TOO_SMALL} needed=${bytes}`,
      `query example-db:${peer} rc=${NS_OK} value="${theirs}" (${bytes} bytes)`,
      `outside the name-service events publish rc=${NS_ERROR} query rc=${NS_ERROR}`,
    ]);
  }
  return { parent: published.get('parent')?.upid as string, child: published.get('child')?.upid as string };
}

test('example-db: parent and child exchange current values at each checkpoint and after restarting both', async () => {
  const coord = await startCoordinator();
  const proc = launch(APP, [], { ...coord, args: ['--with-plugin', PLUGIN] });
  const before = await pids(proc);
  expect(before.parent).toBe(proc.pid);
  await waitForProcesses(coord.port, 2);

  // Two checkpoints, each resumed: the value changes with every image.
  let images: string[] = [];
  let upids: Record<Role, string> | undefined;
  for (const ckpt of [1, 2]) {
    ({ images } = await checkpointImages(coord));
    expect(images).toHaveLength(2);
    const ids = expectRound(await waitForRound(proc, ckpt, 0), ckpt, 0, before);
    if (upids) expect(ids).toEqual(upids);
    upids = ids;
  }
  expect(upids?.parent).not.toBe(upids?.child);

  // Both die; both come back from the second checkpoint, with new pids.
  await proc.kill9();
  await waitForProcesses(coord.port, 0);
  const back = restart(images, coord);
  const after = await pids(back);
  await waitForProcesses(coord.port, 2, { watch: back });
  const ids = expectRound(await waitForRound(back, 2, 1), 2, 1, after);
  // same processes of the same computation, as far as dmtcp is concerned
  expect(ids).toEqual(upids);
  // and the restarted processes keep exchanging at the next checkpoint
  const third = await checkpointImages(coord);
  expect(third.images).toHaveLength(2);
  expectRound(await waitForRound(back, 3, 0), 3, 0, after);
});
