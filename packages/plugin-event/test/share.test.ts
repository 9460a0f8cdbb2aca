import { expect, test } from 'vitest';
import { RecordError, decodeShareRecord, sharePolicy } from '../src/share.ts';

const P = '0000000000000001';
const C = '0000000000000002';
const G = '0000000000000003';

const rec = (upid: string, text: string) => ({ upid, payload: Buffer.from(text, 'latin1') });
const replies = (m: Map<string, Buffer>) => Object.fromEntries([...m].map(([k, v]) => [k, v.toString('latin1')]));

test('parent and child holding one eventfd and one epoll set: the parent makes both and sends them', () => {
  const out = sharePolicy([
    rec(P, 'h 100\ns ep:p\nd e 3 0 -1\nd p 4 0 -1\nd s 5 0 -1\n'),
    rec(C, 'h 101\ns ep:c\nd e 3 100 3\nd p 4 100 4\n'),
  ]);
  expect(replies(out)).toEqual({
    [P]: 'L 0\nL 1\n=\nx ep:c 0 1\n',
    [C]: '< 0\n< 1\n',
  });
});

test('the lowest upid makes it even when it is the child', () => {
  const out = sharePolicy([rec(C, 'h 100\ns ep:p\nd e 7 0 -1\n'), rec(P, 'h 101\ns ep:c\nd e 7 100 7\n')]);
  expect(replies(out)).toEqual({ [P]: 'L 0\nx ep:p 0\n', [C]: '< 0\n' });
});

test('a grandchild naming its parent joins the grandparent\'s object; numbers moved after the fork still match', () => {
  const out = sharePolicy([
    rec(P, 'h 100\ns a\nd e 3 0 -1\n'),
    rec(C, 'h 101\ns b\nd e 9 100 3\n'),
    rec(G, 'h 102\ns c\nd e 12 101 9\n'),
  ]);
  expect(replies(out)).toEqual({ [P]: 'L 0\nx b 0\nx c 0\n', [C]: '< 0\n', [G]: '< 0\n' });
});

test('a link to a process outside the computation, or of another kind, shares nothing', () => {
  const out = sharePolicy([rec(P, 'h 100\ns a\nd e 3 0 -1\n'), rec(C, 'h 101\ns b\nd s 3 100 3\nd e 4 55 4\n')]);
  expect(replies(out)).toEqual({ [P]: '=\n', [C]: '=\n=\n' });
});

test('a process with nothing to report gets no reply', () => {
  expect(sharePolicy([rec(P, ''), rec(C, '')]).size).toBe(0);
});

test('malformed records fail with a line naming the process', () => {
  expect(() => decodeShareRecord(Buffer.from('h 1\ns a\nd x 3 0 -1\n'), P)).toThrow(RecordError);
  expect(() => decodeShareRecord(Buffer.from('h 1\ns a\nd e 3 0\n'), P)).toThrow(/0000000000000001.*malformed/);
  expect(() => decodeShareRecord(Buffer.from('d e 3 0 -1\n'), P)).toThrow(/no socket/);
  expect(() => decodeShareRecord(Buffer.from('h 1\ns a\nd e 3 0 -1'), P)).toThrow(/newline/);
});

test('a dup links to its own leader, so a child that found the description under the dup\'s number still joins it', () => {
  const out = sharePolicy([
    rec(P, 'h 100\ns a\nd e 3 0 -1\nd e 5 100 3\n'),
    rec(C, 'h 101\ns b\nd e 3 100 5\n'),
  ]);
  expect(replies(out)).toEqual({ [P]: 'L 0\nL 0\nx b 0\n', [C]: '< 0\n' });
});
