import { describe, expect, test } from 'vitest';
import {
  PathMapError, applyPathMap, decodeKeys, electLowest, formatPathMap, parsePathMap, restoreContentsPolicy,
} from '../src/policy.ts';
import plugin from '../src/coordinator.ts';

const upid = (n: number): string => n.toString(16).padStart(16, '0');
const rec = (u: number, keys: string[]) => ({ upid: upid(u), payload: Buffer.from(keys.map((k) => `${k}\n`).join(''), 'latin1') });
const key = (n: number): string => n.toString(16).padStart(16, '0');

describe('parsePathMap', () => {
  test('entries, empty ones skipped, trailing slashes dropped', () => {
    expect(parsePathMap('/old=/new::/a/b/=/c/')).toEqual([
      { from: '/old', to: '/new' },
      { from: '/a/b', to: '/c' },
    ]);
    expect(parsePathMap('')).toEqual([]);
    expect(parsePathMap('/=/mnt/root')).toEqual([{ from: '', to: '/mnt/root' }]);
  });

  test.each([
    ['no equals sign', '/old'],
    ['relative OLD', 'old=/new'],
    ['relative NEW', '/old=new'],
    ['empty OLD', '=/new'],
    ['empty NEW', '/old='],
    ['two equals signs', '/a=/b=/c'],
    ['one bad entry among good ones', '/a=/b:oops'],
  ])('rejects %s', (_what, spec) => {
    expect(() => parsePathMap(spec)).toThrow(PathMapError);
    expect(() => parsePathMap(spec)).toThrow(/OLD=NEW/);
  });

  test('round-trips through formatPathMap', () => {
    const spec = '/a=/b:/=/r:/x/y=/';
    expect(formatPathMap(parsePathMap(spec))).toBe(spec);
  });
});

describe('applyPathMap', () => {
  const map = parsePathMap('/home/u=/scratch/u:/home/u/proj=/data/proj:/home/u/x=/tmp/first:/home/u/x=/tmp/second');

  test('maps the path itself and what lies below it', () => {
    expect(applyPathMap(map, '/home/u')).toBe('/scratch/u');
    expect(applyPathMap(map, '/home/u/notes.txt')).toBe('/scratch/u/notes.txt');
  });

  test('a prefix must end at a path component', () => {
    expect(applyPathMap(map, '/home/user2/f')).toBe('/home/user2/f');
  });

  test('the longest matching OLD wins, the first of equal ones', () => {
    expect(applyPathMap(map, '/home/u/proj/run.log')).toBe('/data/proj/run.log');
    expect(applyPathMap(map, '/home/u/x/f')).toBe('/tmp/first/f');
  });

  test('unmapped and non-absolute paths are left alone', () => {
    expect(applyPathMap(map, '/etc/passwd')).toBe('/etc/passwd');
    expect(applyPathMap(map, 'pipe:[1234]')).toBe('pipe:[1234]');
  });

  test('root on either side', () => {
    expect(applyPathMap(parsePathMap('/=/chroot'), '/etc/hosts')).toBe('/chroot/etc/hosts');
    expect(applyPathMap(parsePathMap('/jail=/'), '/jail/etc/hosts')).toBe('/etc/hosts');
    expect(applyPathMap(parsePathMap('/jail=/'), '/jail')).toBe('/');
    // A specific entry beats the root one.
    expect(applyPathMap(parsePathMap('/=/r:/a=/b'), '/a/f')).toBe('/b/f');
  });
});

describe('electLowest', () => {
  test('each key goes to the lowest upid that claims it', () => {
    const leaders = electLowest([
      { upid: upid(3), keys: ['k1', 'k2'] },
      { upid: upid(1), keys: ['k2'] },
      { upid: upid(2), keys: ['k1', 'k3'] },
    ]);
    expect(leaders).toEqual(new Map([['k1', upid(2)], ['k2', upid(1)], ['k3', upid(2)]]));
  });

  test('compares upids as numbers, whatever their width', () => {
    expect(electLowest([{ upid: 'ff', keys: ['k'] }, { upid: '0000000000000100', keys: ['k'] }]).get('k')).toBe('ff');
  });

  test('no claims, no leaders', () => {
    expect(electLowest([]).size).toBe(0);
  });
});

describe('restore-contents barrier', () => {
  test('one character per claimed key, 1 where the process writes', () => {
    const replies = restoreContentsPolicy([rec(2, [key(10), key(11)]), rec(1, [key(11)]), rec(3, [])]);
    expect(replies.get(upid(2))?.toString()).toBe('10');
    expect(replies.get(upid(1))?.toString()).toBe('1');
    expect(replies.has(upid(3))).toBe(false);
  });

  test('a process alone writes everything it claims', () => {
    expect(restoreContentsPolicy([rec(7, [key(1), key(2), key(1)])]).get(upid(7))?.toString()).toBe('111');
  });

  test('malformed records fail loudly', () => {
    expect(() => decodeKeys(Buffer.from('abc\n'), upid(1))).toThrow(/malformed key/);
    expect(() => decodeKeys(Buffer.from(key(1)), upid(1))).toThrow(/newline/);
    expect(() => decodeKeys(Buffer.from(`${key(0xabc).toUpperCase()}\n`), upid(1))).toThrow(/malformed/);
    expect(decodeKeys(Buffer.alloc(0), upid(1))).toEqual([]);
  });

  test('the coordinator module names its policies after the plugin', () => {
    expect(plugin.name).toBe('file');
    expect(Object.keys(plugin.policies).every((k) => k.startsWith('file:'))).toBe(true);
    expect(Object.keys(plugin.policies)).toContain('file:restore-contents');
    const reply = plugin.policies['file:restore-contents']([rec(1, [key(5)])]);
    expect(reply).toBeInstanceOf(Map);
  });
});
