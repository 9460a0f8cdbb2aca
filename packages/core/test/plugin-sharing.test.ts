import { expect, test } from 'vitest';
import { assignCreators, compareUpid } from '../src/plugin/sharing.ts';

const A = '0000000000000001';
const B = '00000000000000a0';
const C = '0000000000000100';

test('upids order as numbers, whatever their length or case', () => {
  expect(compareUpid('a0', '100')).toBeLessThan(0);
  expect(compareUpid('00000000000000A0', 'a0')).toBe(0);
  expect(compareUpid(C, B)).toBeGreaterThan(0);
});

test('the lowest holder creates, the others receive in upid order', () => {
  const got = assignCreators([
    { upid: C, object: 'x' },
    { upid: A, object: 'x' },
    { upid: B, object: 'x' },
    { upid: B, object: 'y' },
    { upid: C, object: 'y' },
  ]);
  expect(got.get('x')).toEqual({ creator: A, receivers: [B, C] });
  expect(got.get('y')).toEqual({ creator: B, receivers: [C] });
});

test('an object held by one process (even on several lines) is left to it', () => {
  const got = assignCreators([
    { upid: A, object: 'x' },
    { upid: A, object: 'x' },
    { upid: B, object: 'z' },
  ]);
  expect(got.size).toBe(0);
});

test('a process listed twice for a shared object receives once', () => {
  const got = assignCreators([
    { upid: B, object: 'x' },
    { upid: B, object: 'x' },
    { upid: A, object: 'x' },
  ]);
  expect(got.get('x')).toEqual({ creator: A, receivers: [B] });
});
