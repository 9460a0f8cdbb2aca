// The coordinator's decisions for sockets, on records as processes send them.
import { expect, test } from 'vitest';
import { PolicyError, addrsPolicy, peersPolicy } from '../src/policy.ts';

const NONCE = '0123456789abcdef';
const rec = (upid: string, text: string) => ({ upid, payload: Buffer.from(text, 'latin1') });
const text = (m: Map<string, Buffer>, upid: string) => m.get(upid)?.toString('latin1');

test('two processes holding the two ends of a connection: the lower upid listens', () => {
  const m = peersPolicy([rec('b', '4 ta ua\n5 tb tc\n'), rec('a', '7 tc tb\n')], NONCE);
  expect(text(m, 'a')).toBe(`nonce ${NONCE}\n7 pair 1 listen\n`);
  expect(text(m, 'b')).toBe(`nonce ${NONCE}\n4 ext\n5 pair 1 connect\n`);
});

test('both ends in one process are made there together', () => {
  const m = peersPolicy([rec('a', '3 u10 u11\n4 u11 u10\n')], NONCE);
  expect(text(m, 'a')).toBe(`nonce ${NONCE}\n3 pair 1 local 4\n4 pair 1 local 3\n`);
});

test('a socket several processes hold is shared: neither its holders nor its peer pair', () => {
  const m = peersPolicy([rec('a', '3 u10 u11\n'), rec('b', '3 u10 u11\n'), rec('c', '5 u11 u10\n')], NONCE);
  expect(text(m, 'a')).toBe(`nonce ${NONCE}\n3 shared\n`);
  expect(text(m, 'b')).toBe(`nonce ${NONCE}\n3 shared\n`);
  expect(text(m, 'c')).toBe(`nonce ${NONCE}\n5 ext\n`);
});

test('a key that names a peer which names another is no pair', () => {
  const m = peersPolicy([rec('a', '3 t1 t2\n'), rec('b', '4 t2 t9\n')], NONCE);
  expect(text(m, 'a')).toBe(`nonce ${NONCE}\n3 ext\n`);
  expect(text(m, 'b')).toBe(`nonce ${NONCE}\n4 ext\n`);
});

test('every process gets the nonce, even with no sockets', () => {
  expect(text(peersPolicy([rec('a', '')], NONCE), 'a')).toBe(`nonce ${NONCE}\n`);
});

test('malformed records fail the round with the process named', () => {
  expect(() => peersPolicy([rec('a', '3 t1\n')], NONCE)).toThrow(PolicyError);
  expect(() => peersPolicy([rec('a', 'x t1 t2\n')], NONCE)).toThrow(/process a sent "x t1 t2"/);
  expect(() => peersPolicy([rec('a', '3 zz t2\n')], NONCE)).toThrow(PolicyError);
  expect(() => peersPolicy([rec('a', '')], 'short')).toThrow(/nonce/);
});

test('connectors get the address their listener reported', () => {
  const m = addrsPolicy([rec('a', 'L 1 0200abcd\nC 2\n'), rec('b', 'C 1\nL 2 0100\n'), rec('c', '')]);
  expect(text(m, 'a')).toBe('2 0100\n');
  expect(text(m, 'b')).toBe('1 0200abcd\n');
  expect(text(m, 'c')).toBe('');
});

test('a connector without a listener, two listeners or bad lines fail', () => {
  expect(() => addrsPolicy([rec('a', 'C 1\n')])).toThrow(/no process listens/);
  expect(() => addrsPolicy([rec('a', 'L 1 00\n'), rec('b', 'L 1 01\n')])).toThrow(/two listeners/);
  expect(() => addrsPolicy([rec('a', 'L 1 xyz\n')])).toThrow(PolicyError);
});
