// Files the program opened with O_CREAT for writing that were renamed or
// removed after the checkpoint: by default (--missing-files auto) they are
// made again at their path, as large as they were (holes where the bytes
// are not known), with their mode, and the program goes on writing at its
// offsets; files it only reads or opened without O_CREAT stay closed, as
// before. --missing-files error and create do what they always did.
import { chmod, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, expect, test } from 'vitest';
import { cleanup, launch, makeTmpDir, startCoordinator, type Proc, type RunAs } from '@dmtcp/core/testing';
import { cycle, failures, fileMessages, fixture, pluginArgs } from './helpers.ts';

afterEach(cleanup);

const TICK = /^tick (\d+) /;

function lastState(proc: Proc): string {
  const ticks = proc.lines().filter((l) => TICK.test(l));
  return ticks[ticks.length - 1]?.replace(TICK, '') ?? '';
}

async function setup(): Promise<string> {
  const dir = await makeTmpDir('file-created-');
  for (const [name, text] of [['ro', 'read only\n'], ['plain', '']] as const) {
    await writeFile(path.join(dir, name), text);
    await chmod(path.join(dir, name), 0o666);
  }
  return dir;
}

const lines = (name: string, from: number, to: number): string => {
  let s = '';
  for (let n = from; n <= to; n++) s += `${name} ${n}\n`;
  return s;
};

/**
 * A file recreated as large as it was: `hole` NUL bytes, then "NAME m",
 * "NAME m+1"... where the hole is exactly as long as lines 1..m-1 were, so
 * every line landed at the offset it would have had. Returns the hole size.
 */
function assertContinuesAfterHole(text: string, name: string, what: string): number {
  const hole = text.length - text.replace(/^\0+/, '').length;
  const rest = text.slice(hole);
  const m = /^(\S+) (\d+)\n/.exec(rest);
  if (!m || m[1] !== name) throw new Error(`${what}: after ${hole} NUL bytes comes ${JSON.stringify(rest.slice(0, 40))}`);
  const first = Number(m[2]);
  expect(hole, `${what}: the hole is as long as lines 1..${first - 1}`).toBe(lines(name, 1, first - 1).length);
  const body = rest.split('\n');
  body.pop();
  body.forEach((l, i) => {
    if (l !== `${name} ${first + i}`) throw new Error(`${what}: line ${i + 1} after the hole is ${JSON.stringify(l)}, expected "${name} ${first + i}"`);
  });
  expect(body.length).toBeGreaterThan(5);
  return hole;
}

test.each([
  ['as root', undefined],
  ['as an unprivileged user', 'nobody' as const],
])('default: files the program created come back at their path and offset, the others stay closed: %s', async (_what, user?: RunAs) => {
  const exe = await fixture('created.c');
  const coord = await startCoordinator();
  const dir = await setup();
  const [a, b, c, ro, plain, d] = ['a.log', 'b.log', 'c.log', 'ro', 'plain', 'd.log'].map((f) => path.join(dir, f)) as [string, string, string, string, string, string];
  let proc = launch(exe, [dir, 'umask'], { ...coord, args: await pluginArgs(), user });
  await proc.waitForLine(/^tick 10 /);
  for (let round = 1; round <= 3; round++) {
    const res = await cycle(proc, TICK, coord, {
      user,
      linesAfterRestart: 15,
      beforeRestart: async () => {
        await rename(a, `${a}.moved${round}`);
        await rm(b);
        await rm(d);
        if (round === 1) await Promise.all([rm(ro), rm(plain)]);
      },
    });
    proc = res.proc;
    expect(failures(proc)).toEqual([]);
    expect(lastState(proc)).toMatch(/^a=open:\d+ b=open:\d+ c=open:\d+ ro=closed:- plain=closed:- d=open:\d+$/);
    const msgs = fileMessages(proc);
    const recreated = (fd: number, file: string): RegExp =>
      new RegExp(`^dmtcp file: fd ${fd}: ${file} no longer existed; the program created it \\(O_CREAT\\): recreated, (\\d+) bytes of holes, offset \\1 \\(--missing-files error leaves it closed\\)$`);
    expect(msgs).toEqual([
      expect.stringMatching(recreated(3, a)),
      expect.stringMatching(recreated(4, b)),
      expect.stringMatching(new RegExp(`^dmtcp file: fd 5: ${c} changed since the checkpoint `)),
      ...(round === 1
        ? [
            `dmtcp file: fd 6: ${ro} no longer exists; fd 6 stays closed (DMTCP_FILE_MISSING=create recreates missing files)`,
            `dmtcp file: fd 7: ${plain} no longer exists; fd 7 stays closed (DMTCP_FILE_MISSING=create recreates missing files)`,
          ]
        : []),
      expect.stringMatching(recreated(8, d)),
    ]);
    // The holes are exactly as long as the lines written before the
    // checkpoint, both for the writer at its own offset and for the
    // appending one; and the program's offsets say the same.
    const holeA = assertContinuesAfterHole(await readFile(a, 'latin1'), 'a', a);
    const holeB = assertContinuesAfterHole(await readFile(b, 'latin1'), 'b', b);
    assertContinuesAfterHole(await readFile(d, 'latin1'), 'd', d);
    expect(msgs[0]).toContain(` ${holeA} bytes of holes`);
    expect(msgs[1]).toContain(` ${holeB} bytes of holes`);
    // Modes as the program created them (0640, 0604), though it now runs
    // under umask 077.
    expect((await stat(a)).mode & 0o777).toBe(0o640);
    expect((await stat(b)).mode & 0o777).toBe(0o604);
    // The renamed file is left as it was at the kill.
    const moved = await readFile(`${a}.moved${round}`, 'latin1');
    expect(moved.replace(/^\0+/, '')).toMatch(/^a \d+\n/);
  }
  // The file the test never touched holds every line once.
  expect((await readFile(c, 'latin1')).startsWith(lines('c', 1, 30))).toBe(true);
});

test('--missing-files error leaves them closed; --missing-files create recreates every one empty; a bad value is refused', async () => {
  const exe = await fixture('created.c');
  const coord = await startCoordinator();
  const dir = await setup();
  const [a, b, , ro, plain] = ['a.log', 'b.log', 'c.log', 'ro', 'plain'].map((f) => path.join(dir, f)) as [string, string, string, string, string];
  let proc = launch(exe, [dir], { ...coord, args: await pluginArgs() });
  await proc.waitForLine(/^tick 10 /);

  proc = (await cycle(proc, TICK, coord, { restartArgs: ['--missing-files', 'error'], beforeRestart: async () => { await Promise.all([rm(a), rm(b)]); } })).proc;
  expect(lastState(proc)).toMatch(/^a=closed:- b=closed:- c=open:\d+ ro=open:0 plain=open:\d+ d=open:\d+$/);
  expect(fileMessages(proc).filter((m) => !m.includes('changed since'))).toEqual([
    `dmtcp file: fd 3: ${a} no longer exists; fd 3 stays closed (DMTCP_FILE_MISSING=create recreates missing files)`,
    `dmtcp file: fd 4: ${b} no longer exists; fd 4 stays closed (DMTCP_FILE_MISSING=create recreates missing files)`,
  ]);
  await expect(stat(a)).rejects.toThrow();

  // a and b are closed now; create applies to the files the program did not create.
  proc = (await cycle(proc, TICK, coord, {
    restartArgs: ['--missing-files', 'create'],
    beforeRestart: async () => { await Promise.all([rm(ro), rm(plain)]); },
  })).proc;
  expect(lastState(proc)).toMatch(/^a=closed:- b=closed:- c=open:\d+ ro=open:0 plain=open:\d+ d=open:\d+$/);
  expect(fileMessages(proc).filter((m) => !m.includes('changed since'))).toEqual([
    `dmtcp file: fd 6: ${ro} no longer existed; recreated empty (DMTCP_FILE_MISSING=create)`,
    `dmtcp file: fd 7: ${plain} no longer existed; recreated empty (DMTCP_FILE_MISSING=create)`,
  ]);
  expect(await readFile(ro, 'latin1')).toBe('');
  expect(failures(proc)).toEqual([]);

  // An unknown value: one line saying so, then the default.
  proc = (await cycle(proc, TICK, coord, { restartEnv: { DMTCP_FILE_MISSING: 'sometimes' }, beforeRestart: () => rm(ro) })).proc;
  expect(fileMessages(proc).filter((m) => !m.includes('changed since'))).toEqual([
    'dmtcp file: DMTCP_FILE_MISSING=sometimes: expected auto, error, create (default auto); using auto',
    `dmtcp file: fd 6: ${ro} no longer exists; fd 6 stays closed (DMTCP_FILE_MISSING=create recreates missing files)`,
  ]);
});
