// The path map: the native rules agree with src/policy.ts, and a restart
// finds a file whose directory moved when OLD=NEW names the move.
import { execFile } from 'node:child_process';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, expect, test } from 'vitest';
import { cleanup, corePackageRoot, launch, makeTmpDir, startCoordinator, type Proc } from '@dmtcp/core/testing';
import { applyPathMap, parsePathMap } from '../src/policy.ts';
import { cycle, failures, fileMessages, fixture, pkgRoot, pluginArgs } from './helpers.ts';

afterEach(cleanup);

function runDriver(exe: string, input: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(exe, [], { maxBuffer: 64 * 1024 * 1024 }, (err, stdout) => (err ? reject(err) : resolve(stdout)));
    child.stdin?.end(input);
  });
}

function expected(spec: string, p: string): string {
  try {
    return `ok\t${applyPathMap(parsePathMap(spec), p)}`;
  } catch {
    return 'bad';
  }
}

test('native and TypeScript path maps agree', async () => {
  const exe = await fixture('pathmap-driver.c', ['-I', path.join(pkgRoot, 'native'), '-I', path.join(corePackageRoot, 'include')]);
  const cases: Array<[string, string]> = [
    ['/old=/new', '/old/f'], ['/old=/new', '/old'], ['/old=/new', '/older/f'], ['/old/=/new/', '/old/a/b'],
    ['/=/r', '/a/b'], ['/a=/', '/a'], ['/a=/', '/a/b'], ['/a=/b:/a/c=/d', '/a/c/e'], ['/a=/x:/a=/y', '/a/f'],
    ['', '/a'], ['::/a=/b::', '/a/1'], ['/a', '/a'], ['a=/b', '/a'], ['/a=b', '/a'], ['/a=/b=/c', '/a'],
    ['/a=/b', 'pipe:[12]'], ['/a=/b', 'anon_inode:[eventpoll]'], ['//=/x', '/y'], ['/a//=/b', '/a/z'],
  ];
  // And many generated ones, from fragments that collide often; one entry
  // in twenty is malformed.
  const good = ['/', '/a', '/a/', '/a/b', '/ab', '/a/b/c', '/x', '//'];
  const junk = ['', 'a', '/a=', '=/b', 'a/b'];
  let seed = 12345;
  const pick = <T,>(xs: readonly T[]): T => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return xs[(seed >> 8) % xs.length] as T;
  };
  for (let i = 0; i < 3000; i++) {
    const entries = Array.from({ length: 1 + (i % 3) }, (_, k) =>
      (i * 3 + k) % 20 === 0 ? `${pick(junk)}=${pick(good)}` : `${pick(good)}=${pick(good)}`);
    cases.push([entries.join(pick([':', ':', '::'])), `${pick(['/a', '/ab', '/a/b', '/x', '/'])}${pick(['', '/f', '/b/c', '/'])}`]);
  }
  const usable = cases.filter(([s, p]) => !s.includes('\t') && !s.includes('\n') && !p.includes('\n'));
  const out = (await runDriver(exe, usable.map(([s, p]) => `${s}\t${p}\n`).join(''))).split('\n');
  usable.forEach(([s, p], i) => {
    expect(out[i], `spec ${JSON.stringify(s)} path ${JSON.stringify(p)}`).toBe(expected(s, p));
  });
  // The generated cases exercise both answers, and mapping that changes the path.
  const mapped = usable.filter(([s, p], i) => out[i] !== 'bad' && out[i] !== `ok\t${p}` && s !== '');
  expect(out.filter((o) => o === 'bad').length).toBeGreaterThan(100);
  expect(mapped.length).toBeGreaterThan(500);
});

function lastPath(proc: Proc): string | undefined {
  const lines = proc.lines().filter((l) => l.startsWith('at '));
  return lines[lines.length - 1]?.replace(/^at \d+ path=/, '');
}

test('a restart follows a moved directory through the path map, once', async () => {
  const exe = await fixture('pathmap.c');
  const coord = await startCoordinator();
  const base = await makeTmpDir('file-pathmap-');
  const oldDir = path.join(base, 'proj');
  const newDir = path.join(base, 'proj', 'moved');
  await mkdir(path.join(oldDir, 'sub'), { recursive: true });
  await writeFile(path.join(oldDir, 'sub', 'data'), 'some bytes to read slowly\n');
  // NEW lies inside OLD: a map applied twice would look in proj/moved/moved.
  // The map belongs to the restart; until the core shows plugins that
  // environment, the launch's value stands in (and applies to the first
  // restart only).
  const map = `${oldDir}=${newDir}`;
  let proc = launch(exe, [path.join(oldDir, 'sub', 'data')], { ...coord, args: await pluginArgs(), env: { DMTCP_PATH_MAP: map } });
  await proc.waitForLine(/^at 10 /);
  expect(lastPath(proc)).toBe(path.join(oldDir, 'sub', 'data'));

  proc = (await cycle(proc, /^at (\d+) /, coord, {
    restartEnv: { DMTCP_PATH_MAP: map },
    beforeRestart: async () => {
      const aside = path.join(base, 'aside');
      await rename(oldDir, aside);
      await mkdir(oldDir);
      await rename(aside, newDir);
    },
  })).proc;
  expect(lastPath(proc)).toBe(path.join(newDir, 'sub', 'data'));
  expect(fileMessages(proc)).toEqual([]);

  proc = (await cycle(proc, /^at (\d+) /, coord)).proc;
  expect(lastPath(proc)).toBe(path.join(newDir, 'sub', 'data'));
  expect(fileMessages(proc)).toEqual([]);
  expect(failures(proc)).toEqual([]);
});
