// The fdinfo parsers of native/event_common.c and native/event_epoll.c on
// texts as Linux writes them (eventfd, signalfd, epoll), compiled with the
// plugin's own flags and run on each text.
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { pkgRoot } from './helpers.ts';

let exe = '';

beforeAll(() => {
  exe = path.join(mkdtempSync(path.join(os.tmpdir(), 'event-fdinfo-')), 'fdinfo_main');
  execFileSync('cc', [
    '-std=gnu11', '-O1', '-Wall', '-Wextra', '-Werror', '-D_GNU_SOURCE', '-fno-strict-aliasing',
    `-I${path.join(pkgRoot, '..', 'core', 'include')}`, `-I${path.join(pkgRoot, 'native')}`,
    '-o', exe, path.join(pkgRoot, 'test', 'unit', 'fdinfo_main.c'),
    path.join(pkgRoot, 'native', 'event_common.c'), path.join(pkgRoot, 'native', 'event_epoll.c'),
  ]);
});

function run(args: string[], input: string): string {
  return execFileSync(exe, args, { input, encoding: 'utf8' }).trim();
}

const EVENTFD = 'pos:\t0\nflags:\t02004002\nmnt_id:\t17\nino:\t21\neventfd-count:        100000005\neventfd-id: 12\neventfd-semaphore: 1\n';
const SIGNALFD = 'pos:\t0\nflags:\t04002\nmnt_id:\t17\nino:\t21\nsigmask:\t0000000800000200\n';
const EPOLL = [
  'pos:\t0', 'flags:\t02000002', 'mnt_id:\t17', 'ino:\t21',
  'tfd:        5 events: 40000000 data:                7  pos:0 ino:2cb21b sdev:f',
  'tfd:        4 events: 10000019 data:                9  pos:0 ino:15 sdev:10',
  'tfd:        3 events: 80000019 data: 1122334455667788  pos:0 ino:15 sdev:10',
  'tfd:      123 events:       19 data: ffffffffffffffff  pos:0 ino:2cb21c sdev:f', '',
].join('\n');

describe('fdinfo fields', () => {
  it('reads the eventfd counter in hex, all 64 bits', () => {
    expect(run(['eventfd-count', '16'], EVENTFD)).toBe(String(0x100000005));
  });
  it('reads flags in octal and ids in decimal', () => {
    expect(Number(run(['flags', '8'], EVENTFD))).toBe(0o2004002);
    expect(run(['eventfd-id', '10'], EVENTFD)).toBe('12');
    expect(run(['eventfd-semaphore', '10'], EVENTFD)).toBe('1');
  });
  it('reads the signalfd mask', () => {
    expect(BigInt(run(['sigmask', '16'], SIGNALFD))).toBe(0x0000000800000200n);
  });
  it('tells an absent key, and a key that is only a prefix of another, from a present one', () => {
    expect(run(['eventfd-semaphore', '10'], 'eventfd-count: 5\n')).toBe('absent');
    expect(run(['eventfd', '10'], EVENTFD)).toBe('absent');
    expect(run(['sigmask', '16'], 'sigmask:\t\n')).toBe('absent');
  });
});

describe('epoll interest lines', () => {
  it('keeps every interest with its flags and 64-bit data, in the kernel order', () => {
    expect(run(['epoll'], EPOLL).split('\n')).toEqual([
      '5 40000000 7', '4 10000019 9', '3 80000019 1122334455667788', '123 19 ffffffffffffffff',
    ]);
  });
  it('a set with no interest has none', () => {
    expect(run(['epoll'], 'pos:\t0\nflags:\t02\nmnt_id:\t17\nino:\t21\n')).toBe('');
  });
});
