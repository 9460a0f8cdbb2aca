// The pure helpers behind keeping unreaped children across a restart
// (native/pid_zombie.h), driven through test/fixtures/zombie-logic.c: wait
// statuses to and from waitid's (si_code, si_status), checked against what
// the kernel reports for real children; which recorded death a recreated
// child may stand for; and the pid lists of /proc/.../children read in
// pieces of any size.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { compileFixture } from '@dmtcp/core/testing';
import { pkgRoot } from './helpers.ts';

const CLD_EXITED = 1;
const CLD_KILLED = 2;
const CLD_DUMPED = 3;
const CLD_STOPPED = 5;
const CLD_CONTINUED = 6;

let exe = '';
beforeAll(async () => {
  const native = path.join(pkgRoot, 'native');
  // compileFixture rebuilds when the driver or its flags change, not the
  // header: its digest goes into the flags.
  const header = readFileSync(path.join(native, 'pid_zombie.h'));
  const digest = createHash('sha256').update(header).digest('hex').slice(0, 12);
  exe = await compileFixture(path.join(pkgRoot, 'test', 'fixtures', 'zombie-logic.c'), undefined, [
    '-I', native, `-DPID_ZOMBIE_H_DIGEST=${digest}`,
  ]);
});

function ask(lines: string[]): string[] {
  const out = execFileSync(exe, [], { input: lines.map((l) => `${l}\n`).join(''), encoding: 'utf8' });
  return out.split('\n').slice(0, -1);
}

describe('wait statuses', () => {
  test('from waitid', () => {
    expect(ask([
      `status ${CLD_EXITED} 0`, `status ${CLD_EXITED} 3`, `status ${CLD_EXITED} 255`,
      `status ${CLD_KILLED} 15`, `status ${CLD_DUMPED} 6`, `status ${CLD_KILLED} 34`,
      `status ${CLD_STOPPED} 19`, `status ${CLD_CONTINUED} 18`, 'status 0 0',
    ])).toEqual(['0', String(3 << 8), String(255 << 8), '15', String(0x80 | 6), '34', '0', '0', '0']);
  });

  test('back to waitid', () => {
    expect(ask(['siginfo 0', `siginfo ${42 << 8}`, 'siginfo 9', `siginfo ${0x80 | 11}`, `siginfo ${(19 << 8) | 0x7f}`]))
      .toEqual([`1 ${CLD_EXITED} 0`, `1 ${CLD_EXITED} 42`, `1 ${CLD_KILLED} 9`, `1 ${CLD_DUMPED} 11`, '0 0 0']);
  });

  test('a recreated child stands for the recorded death, core bit aside, and for nothing else', () => {
    expect(ask([
      `same ${3 << 8} ${3 << 8}`, // exit 3
      `same ${0x80 | 6} 6`, // dumped, recreated without a core
      'same 6 6',
      `same ${3 << 8} ${4 << 8}`, // another exit code
      `same 10 ${10 << 8}`, // signal 10 vs exit 10
      `same 9 ${(9 << 8) | 0x7f}`, // stopped
      'same 0 65535', // continued
      `same ${0x80} ${0x80}`, // not a status the kernel makes
      'same 0 0',
    ])).toEqual(['1', '1', '1', '0', '0', '0', '0', '0', '1']);
  });

  test('agree with the kernel', () => {
    const lines = ask(['kernel']);
    expect(lines.at(-1)).toBe('done');
    const cases = lines.slice(0, -1);
    expect(cases.map((l) => l.split(' ')[0])).toEqual([
      'exit0', 'exit3', 'exit255', 'term', 'usr1', 'quit', 'rtmin', 'kill', 'stopped',
    ]);
    for (const l of cases) {
      const m = /^(\w+) peek=(\d+) wait=(\d+) back=(\d+),(\d+) si=(\d+),(\d+) ok=(\d) same=(\d)$/.exec(l);
      expect(m, l).not.toBeNull();
      const [, name, peek, wait, backCode, backValue, siCode, siValue, ok, same] = m!;
      if (name === 'stopped') {
        // Not an end: neither direction makes one of it.
        expect([peek, ok, same], l).toEqual(['0', '0', '0']);
        expect(Number(siCode), l).toBe(CLD_STOPPED);
        continue;
      }
      expect(peek, `${l}: the status waitid WNOWAIT gives is what waitpid then returns`).toBe(wait);
      expect(`${backCode},${backValue}`, `${l}: and back`).toBe(`${siCode},${siValue}`);
      expect([ok, same], l).toEqual(['1', '1']);
    }
  });
});

describe('pid lists', () => {
  const text = '12 345 6789 4194304 ';
  test.each([1, 2, 3, 5, 7, 64])('read %i bytes at a time', (piece) => {
    expect(ask([`parse ${piece} ${text}`])).toEqual(['12 345 6789 4194304 .']);
  });

  test('a last number without a separator, empty lists, and garbage', () => {
    expect(ask(['parse 4 77 88', 'parse 4 ', 'parse 1 0 99999999999999 5'])).toEqual(['77 88 .', '.', '5 .']);
  });
});
